/**
 * AddRegion custom resource (onEvent + isComplete) through create, update and delete, including the
 * completion polling the Provider framework does.
 *
 * aws-sdk-client-mock is used here because no local emulator implements AddRegion, DescribeRegions
 * or RemoveRegion (moto 5.2 has CreateMicrosoftAD and trusts, but not multi-Region replication). The
 * mock is a small stateful model of one directory keyed by the Region of the client that sends each
 * call, so the tests also prove which Region each call goes to.
 */
import {
  AddRegionCommand,
  DescribeDirectoriesCommand,
  DescribeRegionsCommand,
  DirectoryAlreadyInRegionException,
  DirectoryDoesNotExistException,
  DirectoryServiceClient,
  EntityDoesNotExistException,
  RemoveRegionCommand,
} from '@aws-sdk/client-directory-service';
import type { CdkCustomResourceEvent, CdkCustomResourceIsCompleteEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { isComplete, onEvent } from '../../lambda/ad-trust/add-region-handler';
import { parseAddRegionProps } from '../../lambda/ad-trust/add-region';
import { crEvent } from './cr-event';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

const DIR = 'd-1234567890';
const PROPS = { DirectoryId: DIR, PrimaryRegion: 'us-east-1', RegionName: 'us-west-2', VpcId: 'vpc-0abc', SubnetIds: ['subnet-0a', 'subnet-0b'] };

interface RegionState {
  status: string;
  vpcId: string;
  polls: number;
  launchTime?: Date;
}

/** Directory Service as far as multi-Region replication goes: Regions move through Creating → Active, Deleting → gone. */
class FakeDirectory {
  readonly regions = new Map<string, RegionState>();
  readonly calls: Array<{ command: string; region: string; input: any }> = [];
  /** Polls a Region spends in Creating/Deleting before it changes state. */
  pollsToSettle = 2;
  /** DescribeRegions calls that miss an existing Region (eventual consistency). */
  hideNext = 0;

  constructor(readonly primaryRegion: string) {
    this.regions.set(primaryRegion, { status: 'Active', vpcId: 'vpc-primary', polls: 0 });
  }

  install(mock: ReturnType<typeof mockClient>): void {
    const record = async (command: string, input: any, getClient: () => any) => {
      const region = await getClient().config.region();
      this.calls.push({ command, region, input });
      return region as string;
    };
    mock.on(AddRegionCommand).callsFake(async (input, getClient) => {
      const region = await record('AddRegion', input, getClient);
      if (region !== this.primaryRegion) throw new Error(`AddRegion sent to ${region}, must go to the primary Region`);
      if (this.regions.has(input.RegionName)) throw new DirectoryAlreadyInRegionException({ message: 'already', $metadata: {} });
      this.regions.set(input.RegionName, { status: 'Creating', vpcId: input.VPCSettings.VpcId, polls: 0, launchTime: new Date() });
      return {};
    });
    mock.on(DescribeRegionsCommand).callsFake(async (input, getClient) => {
      await record('DescribeRegions', input, getClient);
      if (input.DirectoryId !== DIR) throw new EntityDoesNotExistException({ message: 'no directory', $metadata: {} });
      const r = this.regions.get(input.RegionName);
      if (this.hideNext > 0) {
        this.hideNext -= 1;
        throw new EntityDoesNotExistException({ message: 'not listed yet', $metadata: {} });
      }
      if (!r) throw new EntityDoesNotExistException({ message: `Region ${input.RegionName} not found`, $metadata: {} });
      r.polls += 1;
      if (r.polls > this.pollsToSettle && r.status === 'Creating') r.status = 'Active';
      if (r.polls > this.pollsToSettle && r.status === 'Deleting') {
        this.regions.delete(input.RegionName);
        throw new EntityDoesNotExistException({ message: 'gone', $metadata: {} });
      }
      return {
        RegionsDescription: [
          { DirectoryId: DIR, RegionName: input.RegionName, Status: r.status as any, VpcSettings: { VpcId: r.vpcId, SubnetIds: [] }, LaunchTime: r.launchTime ?? new Date('2026-01-05T10:00:00Z') },
        ],
      };
    });
    mock.on(RemoveRegionCommand).callsFake(async (input, getClient) => {
      const region = await record('RemoveRegion', input, getClient);
      const r = this.regions.get(region);
      if (!r || region === this.primaryRegion) throw new EntityDoesNotExistException({ message: 'not replicated there', $metadata: {} });
      // Directory Service refuses to remove a Region it is still building.
      if (r.status !== 'Active') throw Object.assign(new Error(`Region is ${r.status}`), { name: 'ClientException', $metadata: { httpStatusCode: 400 } });
      r.status = 'Deleting';
      r.polls = 0;
      return {};
    });
    mock.on(DescribeDirectoriesCommand).callsFake(async (input, getClient) => {
      const region = await record('DescribeDirectories', input, getClient);
      const octet = region === this.primaryRegion ? 10 : 30;
      return { DirectoryDescriptions: [{ DirectoryId: DIR, DnsIpAddrs: [`10.${octet}.0.10`, `10.${octet}.1.10`], VpcSettings: { SecurityGroupId: `sg-${region}` } }] };
    });
  }

  count(command: string): number {
    return this.calls.filter((c) => c.command === command).length;
  }
}

const ds = mockClient(DirectoryServiceClient);
let fake: FakeDirectory;

beforeEach(() => {
  ds.reset();
  fake = new FakeDirectory('us-east-1');
  fake.install(ds);
});

function event(type: 'Create' | 'Update' | 'Delete', extra: Partial<any> = {}): CdkCustomResourceEvent {
  return crEvent(type, { logicalId: 'DirectoryRegion', resourceType: 'Custom::DirectoryRegion', stack: 'DbOpsAdTrustReplica', region: 'us-west-2' }, PROPS, extra);
}

/** Polls isComplete like the Provider framework's waiter, up to `max` times. */
async function pollUntilComplete(e: CdkCustomResourceEvent, physicalId: string, max = 10) {
  for (let i = 1; i <= max; i++) {
    const r = await isComplete({ ...e, PhysicalResourceId: physicalId } as CdkCustomResourceIsCompleteEvent);
    if (r.IsComplete) return { polls: i, data: (r as { Data?: Record<string, string> }).Data };
  }
  throw new Error(`not complete after ${max} polls`);
}

describe('create', () => {
  test('sends AddRegion to the primary Region, polls until Active, returns the replica DNS IPs and security group', async () => {
    const e = event('Create');
    const r = await onEvent(e);
    expect(r.PhysicalResourceId).toBe(`${DIR}/us-west-2`);
    expect(fake.calls.filter((c) => c.command === 'AddRegion')).toEqual([
      { command: 'AddRegion', region: 'us-east-1', input: { DirectoryId: DIR, RegionName: 'us-west-2', VPCSettings: { VpcId: 'vpc-0abc', SubnetIds: ['subnet-0a', 'subnet-0b'] } } },
    ]);
    const done = await pollUntilComplete(e, r.PhysicalResourceId!);
    expect(done.polls).toBe(3); // Creating for pollsToSettle (2) polls, then Active
    expect(done.data).toEqual({ RegionName: 'us-west-2', Status: 'Active', DnsIpAddrs: '10.30.0.10,10.30.1.10', SecurityGroupId: 'sg-us-west-2', CreatedByStack: 'true' });
    // Replica data comes from the replica Region's endpoint.
    expect(fake.calls.find((c) => c.command === 'DescribeDirectories')!.region).toBe('us-west-2');
  });

  test('DirectoryAlreadyInRegionException for a Region launched during this call (an SDK retry of an accepted AddRegion) is the stack\'s own', async () => {
    // DescribeRegions misses it once (eventual consistency), AddRegion then says it exists, launched just now.
    fake.regions.set('us-west-2', { status: 'Creating', vpcId: 'vpc-0abc', polls: 0, launchTime: new Date() });
    fake.hideNext = 1;
    const r = await onEvent(event('Create'));
    expect(r.PhysicalResourceId).toBe(`${DIR}/us-west-2`);
  });
});

describe('a Region the directory was already in (added by hand, or by an earlier stack)', () => {
  test.each(['Active', 'Creating', 'Failed'])('without AdoptExisting, an existing %s Region is refused with its status, VPC and how to adopt or remove it; nothing is called', async (status) => {
    fake.regions.set('us-west-2', { status, vpcId: 'vpc-0abc', polls: -1000 });
    const err = await onEvent(event('Create')).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toContain(`directory ${DIR} is already replicated to us-west-2 (status ${status}, VPC vpc-0abc, launched 2026-01-05T10:00:00.000Z), and this stack did not add it`);
    expect(err?.message).toContain('-c adTrust:adoptExistingRegion=true');
    expect(err?.message).toContain(`aws ds remove-region --directory-id ${DIR} --region us-west-2`);
    expect(fake.count('AddRegion')).toBe(0);
    expect(fake.count('RemoveRegion')).toBe(0);
  });

  test('an older Region that shows up only as DirectoryAlreadyInRegionException is refused too', async () => {
    fake.regions.set('us-west-2', { status: 'Active', vpcId: 'vpc-0abc', polls: 0 });
    fake.hideNext = 1;
    await expect(onEvent(event('Create'))).rejects.toThrow(/and this stack did not add it/);
  });

  test('with AdoptExisting, an Active Region in the same VPC is adopted: no AddRegion, physical ID says adopted, data as usual', async () => {
    fake.regions.set('us-west-2', { status: 'Active', vpcId: 'vpc-0abc', polls: 0 });
    const e = event('Create', { ResourceProperties: { ServiceToken: 'x', ...PROPS, AdoptExisting: 'true' } });
    const r = await onEvent(e);
    expect(r.PhysicalResourceId).toBe(`${DIR}/us-west-2/adopted`);
    expect(r.Data?.CreatedByStack).toBe('false');
    expect(fake.count('AddRegion')).toBe(0);
    const done = await pollUntilComplete(e, r.PhysicalResourceId!);
    expect(done.data).toEqual({ RegionName: 'us-west-2', Status: 'Active', DnsIpAddrs: '10.30.0.10,10.30.1.10', SecurityGroupId: 'sg-us-west-2', CreatedByStack: 'false' });
  });

  test.each([
    ['in another VPC', { status: 'Active', vpcId: 'vpc-other' }, /it is in vpc-other, not vpc-0abc/],
    ['still Creating', { status: 'Creating', vpcId: 'vpc-0abc' }, /its status is Creating, not Active/],
    ['Impaired', { status: 'Impaired', vpcId: 'vpc-0abc' }, /its status is Impaired, not Active/],
  ])('with AdoptExisting, a Region %s is still refused and nothing is changed', async (_name, state, why) => {
    fake.regions.set('us-west-2', { ...state, polls: -1000 });
    await expect(onEvent(event('Create', { ResourceProperties: { ServiceToken: 'x', ...PROPS, AdoptExisting: 'true' } }))).rejects.toThrow(why);
    expect(fake.count('AddRegion')).toBe(0);
    expect(fake.count('RemoveRegion')).toBe(0);
  });

  test('an adopted Region is left in place on delete (stack delete or rollback), by the replicate and the wait resources', async () => {
    fake.regions.set('us-west-2', { status: 'Active', vpcId: 'vpc-0abc', polls: 0 });
    const e = event('Delete', { PhysicalResourceId: `${DIR}/us-west-2/adopted` });
    await onEvent(e);
    expect(await isComplete(e as CdkCustomResourceIsCompleteEvent)).toEqual({ IsComplete: true });
    const we = event('Delete', {
      PhysicalResourceId: `${DIR}/us-west-2/active`,
      ResourceProperties: { ServiceToken: 'x', ...PROPS, Stage: 'wait', ReplicateId: `${DIR}/us-west-2/adopted` },
    });
    await onEvent(we);
    expect(await isComplete(we as CdkCustomResourceIsCompleteEvent)).toEqual({ IsComplete: true });
    expect(fake.count('RemoveRegion')).toBe(0);
    expect(fake.regions.get('us-west-2')?.status).toBe('Active');
  });
});

describe('create failures', () => {
  test('a Region that ends up Failed fails the deployment with what to do', async () => {
    const e = event('Create');
    const r = await onEvent(e);
    fake.regions.get('us-west-2')!.status = 'Failed';
    await expect(isComplete({ ...e, PhysicalResourceId: r.PhysicalResourceId } as CdkCustomResourceIsCompleteEvent)).rejects.toThrow(
      /Region us-west-2 of directory d-1234567890 is Failed; open a support case or remove the Region/,
    );
  });

  test('bad properties are rejected before any API call, naming each', async () => {
    const e = event('Create', { ResourceProperties: { ...PROPS, DirectoryId: 'dir-1', SubnetIds: ['subnet-0a'], RegionName: 'us-east-1' } });
    await expect(onEvent(e)).rejects.toThrow(/DirectoryId must match[\s\S]*SubnetIds must be exactly two[\s\S]*RegionName must differ from PrimaryRegion/);
    expect(fake.calls).toHaveLength(0);
  });
});

describe('update', () => {
  test('no relevant change: same physical ID, no AddRegion/RemoveRegion', async () => {
    await onEvent(event('Create'));
    await pollUntilComplete(event('Create'), `${DIR}/us-west-2`);
    const before = fake.calls.length;
    const e = event('Update', { PhysicalResourceId: `${DIR}/us-west-2`, OldResourceProperties: { ...PROPS } });
    const r = await onEvent(e);
    expect(r.PhysicalResourceId).toBe(`${DIR}/us-west-2`);
    const done = await pollUntilComplete(e, r.PhysicalResourceId!);
    expect(done.polls).toBe(1);
    expect(fake.calls.slice(before).map((c) => c.command)).not.toContain('AddRegion');
    expect(fake.count('RemoveRegion')).toBe(0);
  });

  test('a new VPC for the same Region is refused with instructions; the Region is not removed', async () => {
    await onEvent(event('Create'));
    const e = event('Update', { PhysicalResourceId: `${DIR}/us-west-2`, OldResourceProperties: { ...PROPS }, ResourceProperties: { ...PROPS, VpcId: 'vpc-0def' } });
    await expect(onEvent(e)).rejects.toThrow(/cannot change in place \(vpc-0abc subnet-0a,subnet-0b -> vpc-0def/);
    expect(fake.count('RemoveRegion')).toBe(0);
  });

  test('another Region replaces the resource: AddRegion for the new one, new physical ID (CloudFormation then deletes the old)', async () => {
    await onEvent(event('Create'));
    const e = event('Update', { PhysicalResourceId: `${DIR}/us-west-2`, OldResourceProperties: { ...PROPS }, ResourceProperties: { ...PROPS, RegionName: 'eu-west-1' } });
    const r = await onEvent(e);
    // The new physical ID records the one it replaces (what a rollback returns to).
    expect(r.PhysicalResourceId).toBe(`${DIR}/eu-west-1/replaces/${DIR}/us-west-2`);
    expect(fake.calls.filter((c) => c.command === 'AddRegion').map((c) => c.input.RegionName)).toEqual(['us-west-2', 'eu-west-1']);
    const done = await pollUntilComplete(e, r.PhysicalResourceId!);
    expect(done.data!.RegionName).toBe('eu-west-1');
  });
});

describe('delete', () => {
  test('sends RemoveRegion to the replica Region and polls until the Region is gone', async () => {
    await onEvent(event('Create'));
    await pollUntilComplete(event('Create'), `${DIR}/us-west-2`);
    const e = event('Delete', { PhysicalResourceId: `${DIR}/us-west-2` });
    await onEvent(e);
    const removes = fake.calls.filter((c) => c.command === 'RemoveRegion');
    expect(removes).toEqual([{ command: 'RemoveRegion', region: 'us-west-2', input: { DirectoryId: DIR } }]);
    const done = await pollUntilComplete(e, `${DIR}/us-west-2`);
    expect(done.polls).toBeGreaterThan(1);
    expect(fake.regions.has('us-west-2')).toBe(false);
    expect(fake.regions.has('us-east-1')).toBe(true);
  });

  test('is idempotent: deleting a Region that is already gone makes no RemoveRegion call', async () => {
    const e = event('Delete', { PhysicalResourceId: `${DIR}/us-west-2` });
    await onEvent(e);
    expect(fake.count('RemoveRegion')).toBe(0);
    expect((await isComplete({ ...e } as CdkCustomResourceIsCompleteEvent)).IsComplete).toBe(true);
  });

  test('a Region already Deleting is waited for, not removed twice', async () => {
    fake.regions.set('us-west-2', { status: 'Deleting', vpcId: 'vpc-0abc', polls: 0 });
    await onEvent(event('Delete', { PhysicalResourceId: `${DIR}/us-west-2` }));
    expect(fake.count('RemoveRegion')).toBe(0);
  });

  test('a rollback while the Region is still Creating waits for it to finish, then removes it (no refusal)', async () => {
    fake.regions.set('us-west-2', { status: 'Creating', vpcId: 'vpc-0abc', polls: 0 });
    fake.pollsToSettle = 3;
    const e = event('Delete', { PhysicalResourceId: `${DIR}/us-west-2` });
    const r = await onEvent(e);
    expect(fake.count('RemoveRegion')).toBe(0);
    const done = await pollUntilComplete({ ...e, Data: r.Data } as unknown as CdkCustomResourceEvent, `${DIR}/us-west-2`, 20);
    expect(done.polls).toBeGreaterThan(3);
    expect(fake.calls.filter((c) => c.command === 'RemoveRegion')).toEqual([{ command: 'RemoveRegion', region: 'us-west-2', input: { DirectoryId: DIR } }]);
    expect(fake.regions.has('us-west-2')).toBe(false);
  });

  test('while the Region is still Creating, each wait resource being deleted waits (read-only) and hands over before its own deadline', async () => {
    fake.regions.set('us-west-2', { status: 'Creating', vpcId: 'vpc-0abc', polls: -1000 });
    const props = { ServiceToken: 'x', ...PROPS, Stage: 'wait', SoftDeadlineSeconds: '0', RoundSeconds: '3300', ReplicateId: `${DIR}/us-west-2` };
    const e = event('Delete', { PhysicalResourceId: `${DIR}/us-west-2/active`, ResourceProperties: props });
    const r = await onEvent(e);
    const poll = (startedAt: number) => isComplete({ ...e, Data: { StartedAt: String(startedAt) } } as CdkCustomResourceIsCompleteEvent);
    expect(r.Data?.StartedAt).toMatch(/^\d+$/);
    expect(await poll(Date.now() - 60_000)).toEqual({ IsComplete: false });
    expect(await poll(Date.now() - 3_001_000)).toEqual({ IsComplete: true });
    fake.regions.get('us-west-2')!.status = 'Active';
    expect(await poll(Date.now())).toEqual({ IsComplete: true });
    expect(fake.count('RemoveRegion')).toBe(0);
  });

  test('a physical ID from a create that failed before AddRegion touches nothing', async () => {
    const e = event('Delete', { PhysicalResourceId: 'req-1' });
    await onEvent(e);
    expect((await isComplete(e as CdkCustomResourceIsCompleteEvent)).IsComplete).toBe(true);
    expect(fake.calls).toHaveLength(0);
  });
});

describe('chained wait (CloudFormation stops a custom resource after one hour)', () => {
  const replicate = { ...PROPS, Stage: 'replicate', SoftDeadlineSeconds: '3000' };
  const wait = { ...PROPS, Stage: 'wait', SoftDeadlineSeconds: '0' };

  test('the replicate resource hands over as Pending after its soft deadline, the wait resource then completes when Active', async () => {
    fake.pollsToSettle = 1000; // the Region stays Creating for the whole first resource
    const e = event('Create', { ResourceProperties: { ServiceToken: 'x', ...replicate } });
    const r = await onEvent(e);
    expect(r.Data?.StartedAt).toMatch(/^\d+$/);
    const poll = (startedAt: number, props = replicate, id = r.PhysicalResourceId!) =>
      isComplete({ ...e, ResourceProperties: { ServiceToken: 'x', ...props }, PhysicalResourceId: id, Data: { StartedAt: String(startedAt) } } as CdkCustomResourceIsCompleteEvent);
    // Before the deadline: keep polling.
    expect((await poll(Date.now() - 60_000)).IsComplete).toBe(false);
    // After it: complete without data a dependant could use, well before CloudFormation's 3600 s.
    const handedOver = await poll(Date.now() - 3_001_000);
    expect(handedOver).toEqual({ IsComplete: true, Data: { RegionName: 'us-west-2', Status: 'Pending', DnsIpAddrs: '', SecurityGroupId: '', CreatedByStack: 'true' } });

    // The wait resource never calls AddRegion or RemoveRegion and has no soft deadline.
    const we = event('Create', { ResourceProperties: { ServiceToken: 'x', ...wait } });
    const wr = await onEvent(we);
    expect(wr.PhysicalResourceId).toBe(`${DIR}/us-west-2/active`);
    expect(fake.count('AddRegion')).toBe(1);
    // No hand-over (no soft deadline); it fails only 5 minutes before its own round ends (see the test below).
    expect((await poll(Date.now() - 2_900_000, wait, wr.PhysicalResourceId!)).IsComplete).toBe(false);
    fake.regions.get('us-west-2')!.status = 'Active';
    const done = await poll(Date.now(), wait, wr.PhysicalResourceId!);
    expect(done).toEqual({ IsComplete: true, Data: { RegionName: 'us-west-2', Status: 'Active', DnsIpAddrs: '10.30.0.10,10.30.1.10', SecurityGroupId: 'sg-us-west-2', CreatedByStack: 'true' } });
  });

  test('deleting the wait resource removes nothing (the replicate resource owns the Region)', async () => {
    await onEvent(event('Create'));
    const e = event('Delete', { PhysicalResourceId: `${DIR}/us-west-2/active`, ResourceProperties: { ServiceToken: 'x', ...wait } });
    await onEvent(e);
    expect((await isComplete(e as CdkCustomResourceIsCompleteEvent)).IsComplete).toBe(true);
    expect(fake.count('RemoveRegion')).toBe(0);
    expect(fake.regions.has('us-west-2')).toBe(true);
  });

  test('right after AddRegion a Region that DescribeRegions does not list yet is waited for; later it is an error', async () => {
    const e = event('Create');
    const r = await onEvent(e);
    fake.regions.delete('us-west-2'); // not visible (yet)
    const poll = (startedAt: number) =>
      isComplete({ ...e, PhysicalResourceId: r.PhysicalResourceId, Data: { StartedAt: String(startedAt) } } as CdkCustomResourceIsCompleteEvent);
    expect(await poll(Date.now() - 30_000)).toEqual({ IsComplete: false });
    await expect(poll(Date.now() - 10 * 60_000)).rejects.toThrow(/has no Region us-west-2 although AddRegion was accepted/);
  });

  test('a bad Stage or deadline is rejected before any call', async () => {
    await expect(onEvent(event('Create', { ResourceProperties: { ...PROPS, Stage: 'remove' } }))).rejects.toThrow(/Stage must be replicate or wait/);
    await expect(onEvent(event('Create', { ResourceProperties: { ...PROPS, SoftDeadlineSeconds: '7200' } }))).rejects.toThrow(/SoftDeadlineSeconds must be 0..3600/);
    expect(fake.calls).toHaveLength(0);
  });
});

test('parseAddRegionProps keeps valid input unchanged', () => {
  expect(parseAddRegionProps({ ...PROPS })).toEqual({ ...PROPS, AdoptExisting: false });
});

describe('failure paths CloudFormation drives (break-it review)', () => {
  const MARKER = 'AWSCDK::CustomResourceProviderFramework::CREATE_FAILED';

  test('a redeploy after destroy finds the removed Region still listed as Deleted: it is added again, not refused as foreign', async () => {
    fake.regions.set('us-west-2', { status: 'Deleted', vpcId: 'vpc-0abc', polls: -1000 });
    fake.install(ds);
    // Directory Service lets the Region be added again once it is Deleted.
    ds.on(AddRegionCommand).callsFake(async (input, getClient) => {
      fake.calls.push({ command: 'AddRegion', region: await getClient().config.region(), input });
      fake.regions.set(input.RegionName, { status: 'Creating', vpcId: input.VPCSettings.VpcId, polls: 0, launchTime: new Date() });
      return {};
    });
    const r = await onEvent(event('Create'));
    expect(r.PhysicalResourceId).toBe(`${DIR}/us-west-2`);
    expect(fake.count('AddRegion')).toBe(1);
  });

  test('a Region that is still Deleting is refused with "wait", not with advice to remove it again', async () => {
    fake.regions.set('us-west-2', { status: 'Deleting', vpcId: 'vpc-0abc', polls: -1000 });
    await expect(onEvent(event('Create'))).rejects.toThrow(/status Deleting.*is being removed: wait until aws ds describe-regions --directory-id d-1234567890 --region-name us-west-2 no longer lists it/);
    expect(fake.count('AddRegion')).toBe(0);
  });

  test('the rollback of a replacement (another Region) returns to the stack\'s own old Region instead of refusing it', async () => {
    await onEvent(event('Create'));
    await pollUntilComplete(event('Create'), `${DIR}/us-west-2`);
    const west = { ...PROPS };
    const eu = { ...PROPS, RegionName: 'eu-west-1' };
    const fwdEvent = event('Update', { PhysicalResourceId: `${DIR}/us-west-2`, OldResourceProperties: west, ResourceProperties: eu });
    const fwd = await onEvent(fwdEvent);
    await pollUntilComplete({ ...fwdEvent, ResourceProperties: { ServiceToken: 'x', ...eu } } as CdkCustomResourceEvent, fwd.PhysicalResourceId!);
    // A later resource fails: Update with the old properties and the new physical ID (us-west-2 still exists).
    const back = await onEvent(event('Update', { PhysicalResourceId: fwd.PhysicalResourceId, OldResourceProperties: eu, ResourceProperties: west }));
    expect(back.PhysicalResourceId).toBe(`${DIR}/us-west-2`);
    // Cleanup: Delete for the replacement's ID removes eu-west-1 only.
    await onEvent(event('Delete', { PhysicalResourceId: fwd.PhysicalResourceId, ResourceProperties: eu }));
    expect(fake.calls.filter((c) => c.command === 'RemoveRegion').map((c) => c.region)).toEqual(['eu-west-1']);
    expect(fake.regions.get('us-west-2')?.status).toBe('Active');
  });

  test('the rollback of an update that failed on bad new properties (now OldResourceProperties) changes nothing and succeeds', async () => {
    await onEvent(event('Create'));
    await pollUntilComplete(event('Create'), `${DIR}/us-west-2`);
    const before = fake.calls.length;
    const e = event('Update', { PhysicalResourceId: `${DIR}/us-west-2`, OldResourceProperties: { ...PROPS, SubnetIds: ['subnet-0a'] } });
    const r = await onEvent(e);
    expect(r.PhysicalResourceId).toBe(`${DIR}/us-west-2`);
    expect(fake.calls.slice(before).map((c) => c.command)).not.toContain('AddRegion');
    expect(fake.count('RemoveRegion')).toBe(0);
  });

  test('Delete after a create that failed on bad properties (framework marker, same bad properties) touches nothing, for the replicate and the wait resources', async () => {
    for (const extra of [{}, { Stage: 'wait', RoundSeconds: '99999', ReplicateId: MARKER }]) {
      const e = event('Delete', { PhysicalResourceId: MARKER, ResourceProperties: { ServiceToken: 'x', ...PROPS, SubnetIds: ['subnet-0a'], ...extra } });
      await expect(onEvent(e)).resolves.toMatchObject({ PhysicalResourceId: MARKER });
      expect(await isComplete(e as CdkCustomResourceIsCompleteEvent)).toMatchObject({ IsComplete: true });
    }
    expect(fake.calls).toHaveLength(0);
  });

  test('Delete of the stack\'s own Region still removes it when its stored properties no longer pass today\'s validation', async () => {
    fake.regions.set('us-west-2', { status: 'Active', vpcId: 'vpc-0abc', polls: -1000 });
    const e = event('Delete', { PhysicalResourceId: `${DIR}/us-west-2`, ResourceProperties: { ServiceToken: 'x', ...PROPS, SubnetIds: ['subnet-0a', 'subnet-0b', 'subnet-0c'] } });
    await onEvent(e);
    expect(fake.calls.filter((c) => c.command === 'RemoveRegion')).toEqual([{ command: 'RemoveRegion', region: 'us-west-2', input: { DirectoryId: DIR } }]);
  });
  // The SDK model (DescribeRegionsCommand / RemoveRegionCommand @throws) lists DirectoryDoesNotExistException,
  // not EntityDoesNotExistException, for these two calls; moto implements neither call.
  test('deleting the stack\'s Region after the directory itself is gone (DirectoryDoesNotExistException) completes instead of failing forever', async () => {
    const gone = () => new DirectoryDoesNotExistException({ message: 'Directory d-1234567890 does not exist', $metadata: {} });
    ds.reset();
    ds.on(DescribeRegionsCommand).rejects(gone());
    ds.on(RemoveRegionCommand).rejects(gone());
    const e = event('Delete', { PhysicalResourceId: `${DIR}/us-west-2` });
    await expect(onEvent(e)).resolves.toMatchObject({ PhysicalResourceId: `${DIR}/us-west-2` });
    expect(await isComplete(e as CdkCustomResourceIsCompleteEvent)).toEqual({ IsComplete: true });
    const w = event('Delete', { PhysicalResourceId: `${DIR}/us-west-2/active`, ResourceProperties: { ServiceToken: 'x', ...PROPS, Stage: 'wait', SoftDeadlineSeconds: '0', RoundSeconds: '3300', ReplicateId: `${DIR}/us-west-2` } });
    expect(await isComplete({ ...w, Data: { StartedAt: String(Date.now()) } } as CdkCustomResourceIsCompleteEvent)).toEqual({ IsComplete: true });
    expect(ds.commandCalls(RemoveRegionCommand)).toHaveLength(0);
  });

  test('RemoveRegion answering DirectoryDoesNotExistException (the replica Region no longer has the directory) counts as removed', async () => {
    fake.regions.set('us-west-2', { status: 'Active', vpcId: 'vpc-0abc', polls: -1000 });
    ds.on(RemoveRegionCommand).rejects(new DirectoryDoesNotExistException({ message: 'not in this Region', $metadata: {} }));
    await expect(onEvent(event('Delete', { PhysicalResourceId: `${DIR}/us-west-2` }))).resolves.toMatchObject({ PhysicalResourceId: `${DIR}/us-west-2` });
  });

  test('creating with a directory ID that does not exist fails naming the directory and the primary Region', async () => {
    ds.reset();
    ds.on(DescribeRegionsCommand).rejects(new DirectoryDoesNotExistException({ message: 'Directory d-1234567890 does not exist', $metadata: {} }));
    await expect(onEvent(event('Create'))).rejects.toThrow(/directory d-1234567890 does not exist in us-east-1.*Nothing was changed/);
  });
});

describe('waits that cannot end well say so (break-it review)', () => {
  test('a Region that someone removes while the stack waits for it to become Active fails the wait at once with its status, instead of polling for hours', async () => {
    fake.regions.set('us-west-2', { status: 'Deleting', vpcId: 'vpc-0abc', polls: -1000 });
    const e = event('Create');
    await expect(isComplete({ ...e, PhysicalResourceId: `${DIR}/us-west-2`, Data: { StartedAt: String(Date.now() - 600_000) } } as unknown as CdkCustomResourceIsCompleteEvent)).rejects.toThrow(
      /Region us-west-2 of directory d-1234567890 is Deleting while the stack waits for it to become Active/,
    );
  });

  test('a rollback whose Region is still being built when the replicate resource\'s own deadline nears fails with the Region\'s status and the next command, not a bare timeout', async () => {
    fake.regions.set('us-west-2', { status: 'Creating', vpcId: 'vpc-0abc', polls: -1000 });
    const props = { ServiceToken: 'x', ...PROPS, Stage: 'replicate', SoftDeadlineSeconds: '3000', RoundSeconds: '3300' };
    const e = event('Delete', { PhysicalResourceId: `${DIR}/us-west-2`, ResourceProperties: props });
    const poll = (startedAt: number) => isComplete({ ...e, Data: { StartedAt: String(startedAt) } } as CdkCustomResourceIsCompleteEvent);
    expect(await poll(Date.now() - 60_000)).toEqual({ IsComplete: false });
    await expect(poll(Date.now() - 3_001_000)).rejects.toThrow(/Region us-west-2 of directory d-1234567890 is still Creating.*nothing was removed yet.*aws cloudformation/);
    expect(fake.count('RemoveRegion')).toBe(0);
  });
});

test('the last wait resource fails before the framework\'s bare timeout with the Region\'s status, what the rollback does and how to wait longer (break-it review)', async () => {
  fake.regions.set('us-west-2', { status: 'Creating', vpcId: 'vpc-0abc', polls: -1000 });
  const props = { ServiceToken: 'x', ...PROPS, Stage: 'wait', WaitName: 'active', SoftDeadlineSeconds: '0', RoundSeconds: '3300', ReplicateId: `${DIR}/us-west-2` };
  const e = event('Create', { PhysicalResourceId: `${DIR}/us-west-2/active`, ResourceProperties: props });
  const poll = (startedAt: number) => isComplete({ ...e, Data: { StartedAt: String(startedAt) } } as unknown as CdkCustomResourceIsCompleteEvent);
  expect(await poll(Date.now() - 600_000)).toEqual({ IsComplete: false });
  await expect(poll(Date.now() - 3_001_000)).rejects.toThrow(/still Creating at the end of the stack's wait for Active.*removed once it is Active.*totalTimeout \(up to 300 minutes\) and deploy DbOpsAdTrustReplica again/);
});

test('Directory Service throttling on DescribeRegions and AddRegion is retried; AddRegion is sent once more, not refused (aws-sdk-client-mock: moto has no AddRegion)', async () => {
  const throttle = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
  let addCalls = 0;
  ds.on(DescribeRegionsCommand).rejectsOnce(throttle()).rejects(new EntityDoesNotExistException({ message: 'no region', $metadata: {} }));
  ds.on(AddRegionCommand).callsFake(async () => {
    addCalls += 1;
    if (addCalls === 1) throw throttle();
    return {};
  });
  await expect(onEvent(event('Create'))).resolves.toMatchObject({ PhysicalResourceId: `${DIR}/us-west-2`, Data: { CreatedByStack: 'true' } });
  expect(addCalls).toBe(2);
});

test('a Region being restored (Restoring) is waited for on delete, not sent a RemoveRegion that Directory Service refuses (break-it review)', async () => {
  fake.regions.set('us-west-2', { status: 'Restoring', vpcId: 'vpc-0abc', polls: -1000 });
  const e = event('Delete', { PhysicalResourceId: `${DIR}/us-west-2` });
  const r = await onEvent(e);
  expect(fake.count('RemoveRegion')).toBe(0);
  expect(await isComplete({ ...e, Data: r.Data } as unknown as CdkCustomResourceIsCompleteEvent)).toEqual({ IsComplete: false });
  expect(fake.count('RemoveRegion')).toBe(0);
});

test('the rollback of a replacement that failed in onEvent (the physical ID never changed) keeps the stack\'s own Region instead of refusing it (break-it review)', async () => {
  await onEvent(event('Create'));
  await pollUntilComplete(event('Create'), `${DIR}/us-west-2`);
  fake.regions.set('eu-west-1', { status: 'Active', vpcId: 'vpc-other', polls: -1000 });
  const eu = { ...PROPS, RegionName: 'eu-west-1' };
  await expect(onEvent(event('Update', { PhysicalResourceId: `${DIR}/us-west-2`, OldResourceProperties: { ...PROPS }, ResourceProperties: eu }))).rejects.toThrow(/already replicated to eu-west-1/);
  const back = await onEvent(event('Update', { PhysicalResourceId: `${DIR}/us-west-2`, OldResourceProperties: eu, ResourceProperties: { ...PROPS } }));
  expect(back.PhysicalResourceId).toBe(`${DIR}/us-west-2`);
  expect(fake.count('AddRegion')).toBe(1);
});
