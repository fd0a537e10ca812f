/**
 * The DirectoryRegion custom-resource handler (lambda/ad-trust/add-region-handler.ts) on the paths CloudFormation
 * drives that add-region.test.ts does not: wait-resource names, rollbacks of replacements, where the owner of the
 * Region comes from in each poll, the deadlines of the last wait and of a delete, and the log line an operator
 * finds in CloudWatch when the stack leaves a Region in place.
 *
 * aws-sdk-client-mock is used because no local emulator implements AddRegion, DescribeRegions or RemoveRegion
 * (moto 5.2 has no multi-Region replication). Each test sets up its own answers.
 */
import {
  AddRegionCommand,
  DescribeDirectoriesCommand,
  DescribeRegionsCommand,
  DirectoryServiceClient,
  EntityDoesNotExistException,
  RegionDescription,
  RemoveRegionCommand,
} from '@aws-sdk/client-directory-service';
import type { CdkCustomResourceEvent, CdkCustomResourceIsCompleteEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { crEvent } from './cr-event';

process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { dsClient, isComplete, onEvent } = require('../../lambda/ad-trust/add-region-handler') as typeof import('../../lambda/ad-trust/add-region-handler');

const DIR = 'd-1234567890';
const PROPS = { DirectoryId: DIR, PrimaryRegion: 'us-east-1', RegionName: 'us-west-2', VpcId: 'vpc-0abc', SubnetIds: ['subnet-0a', 'subnet-0b'] };
const ds = mockClient(DirectoryServiceClient);
let logs: Array<Record<string, unknown>>;
let spy: jest.SpyInstance;

beforeEach(() => {
  ds.reset();
  logs = [];
  spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: any) => {
    for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line));
    return true;
  });
});
afterEach(() => spy.mockRestore());

function event(type: 'Create' | 'Update' | 'Delete', props: Record<string, unknown> = {}, extra: Partial<any> = {}): CdkCustomResourceEvent {
  return crEvent(type, { logicalId: 'DirectoryRegion', resourceType: 'Custom::DirectoryRegion', stack: 'DbOpsAdTrustReplica', region: 'us-west-2' }, { ...PROPS, ...props }, extra);
}
function poll(e: CdkCustomResourceEvent, physicalId: string, startedAt?: number) {
  return isComplete({ ...e, PhysicalResourceId: physicalId, ...(startedAt === undefined ? {} : { Data: { StartedAt: String(startedAt) } }) } as CdkCustomResourceIsCompleteEvent);
}
/** DescribeRegions answers this Region status for every Region (undefined: not listed). */
function regionIs(status: string | undefined, extra: Partial<RegionDescription> = {}) {
  if (status === undefined) ds.on(DescribeRegionsCommand).rejects(new EntityDoesNotExistException({ message: 'no region', $metadata: {} }));
  else ds.on(DescribeRegionsCommand).callsFake(async (input) => ({ RegionsDescription: [{ DirectoryId: DIR, RegionName: input.RegionName, Status: status, VpcSettings: { VpcId: 'vpc-0abc' }, ...extra }] }));
}
const messages = () => logs.map((l) => l.message);

test('one Directory Service client per Region, reused by warm invocations', async () => {
  const a = dsClient('eu-central-1');
  expect(dsClient('eu-central-1')).toBe(a);
  expect(await a.config.region()).toBe('eu-central-1');
  const b = dsClient('eu-north-1');
  expect(b).not.toBe(a);
  expect(await b.config.region()).toBe('eu-north-1');
});

describe('create', () => {
  test('an adopted Region: physical ID and log say so (left in place on delete)', async () => {
    regionIs('Active');
    const r = await onEvent(event('Create', { AdoptExisting: 'true' }));
    expect(r).toEqual({ PhysicalResourceId: `${DIR}/us-west-2/adopted`, Data: { StartedAt: expect.stringMatching(/^\d+$/), CreatedByStack: 'false' } });
    expect(logs).toEqual([expect.objectContaining({ message: 'Adopted a Region the directory was already in (left in place on delete)', directoryId: DIR, region: 'us-west-2', result: 'adopted' })]);
  });

  test('a started Region is logged as AddRegion', async () => {
    regionIs(undefined);
    ds.on(AddRegionCommand).resolves({});
    const before = Date.now();
    const r = await onEvent(event('Create'));
    expect(Number(r.Data!.StartedAt)).toBeGreaterThanOrEqual(before);
    expect(Number(r.Data!.StartedAt)).toBeLessThanOrEqual(Date.now());
    expect(logs).toEqual([expect.objectContaining({ message: 'AddRegion', directoryId: DIR, region: 'us-west-2', result: 'started' })]);
  });

  test('a wait resource gets the replicate ID plus its WaitName (default "active") and calls nothing, on create and update', async () => {
    expect(await onEvent(event('Create', { Stage: 'wait', WaitName: 'active-2' }))).toEqual({ PhysicalResourceId: `${DIR}/us-west-2/active-2`, Data: { StartedAt: expect.stringMatching(/^\d+$/) } });
    expect((await onEvent(event('Create', { Stage: 'wait', WaitName: 7 }))).PhysicalResourceId).toBe(`${DIR}/us-west-2/active`);
    expect((await onEvent(event('Update', { Stage: 'wait' }, { PhysicalResourceId: `${DIR}/us-west-2/active`, OldResourceProperties: { ...PROPS, Stage: 'wait' } }))).PhysicalResourceId).toBe(
      `${DIR}/us-west-2/active`,
    );
    expect(ds.calls()).toHaveLength(0);
  });
});

describe('update', () => {
  test('unchanged properties keep the owner the physical ID records: adopted stays adopted, created stays created', async () => {
    const upd = (id: string) => onEvent(event('Update', {}, { PhysicalResourceId: id, OldResourceProperties: { ...PROPS } }));
    expect(await upd(`${DIR}/us-west-2/adopted`)).toEqual({ PhysicalResourceId: `${DIR}/us-west-2/adopted`, Data: { StartedAt: expect.stringMatching(/^\d+$/), CreatedByStack: 'false' } });
    expect(await upd(`${DIR}/us-west-2`)).toEqual({ PhysicalResourceId: `${DIR}/us-west-2`, Data: { StartedAt: expect.stringMatching(/^\d+$/), CreatedByStack: 'true' } });
    // A physical ID from an older kit that names no Region: the stack created it.
    expect((await upd('legacy-id')).Data).toEqual({ StartedAt: expect.stringMatching(/^\d+$/), CreatedByStack: 'true' });
    expect(ds.calls()).toHaveLength(0);
  });

  test('old properties that fail validation with a physical ID of another Region: the new Region is added (a replacement)', async () => {
    regionIs(undefined);
    ds.on(AddRegionCommand).resolves({});
    const r = await onEvent(event('Update', { RegionName: 'eu-west-1' }, { PhysicalResourceId: `${DIR}/us-west-2`, OldResourceProperties: { ...PROPS, SubnetIds: ['subnet-0a'] } }));
    expect(r.PhysicalResourceId).toBe(`${DIR}/eu-west-1/replaces/${DIR}/us-west-2`);
    expect(ds.commandCalls(AddRegionCommand).map((c) => c.args[0].input.RegionName)).toEqual(['eu-west-1']);
  });

  test('old invalid properties with an adopted physical ID of the same Region keep it adopted', async () => {
    const r = await onEvent(event('Update', {}, { PhysicalResourceId: `${DIR}/us-west-2/adopted`, OldResourceProperties: { ...PROPS, VpcId: 'bad' } }));
    expect(r).toEqual({ PhysicalResourceId: `${DIR}/us-west-2/adopted`, Data: { StartedAt: expect.stringMatching(/^\d+$/), CreatedByStack: 'false' } });
    expect(ds.calls()).toHaveLength(0);
    expect(messages()).toEqual(['Previous properties were invalid (rollback of an update that failed validation); Region kept unchanged']);
  });

  test('old invalid properties for another directory are not taken as this Region', async () => {
    regionIs(undefined);
    ds.on(AddRegionCommand).resolves({});
    const r = await onEvent(event('Update', {}, { PhysicalResourceId: `d-0000000000/us-west-2`, OldResourceProperties: { ...PROPS, VpcId: 'bad' } }));
    expect(r.PhysicalResourceId).toBe(`${DIR}/us-west-2/replaces/d-0000000000/us-west-2`);
    expect(ds.commandCalls(AddRegionCommand)).toHaveLength(1);
  });

  test('a replacement to another directory with the same Region name is a replacement too', async () => {
    regionIs(undefined);
    ds.on(AddRegionCommand).resolves({});
    const r = await onEvent(event('Update', { DirectoryId: 'd-00000000ab' }, { PhysicalResourceId: `${DIR}/us-west-2`, OldResourceProperties: { ...PROPS } }));
    expect(r.PhysicalResourceId).toBe(`d-00000000ab/us-west-2/replaces/${DIR}/us-west-2`);
  });

  test('the rollback of a replacement back to an adopted Region returns its adopted ID; a rollback target that is being removed is added again', async () => {
    regionIs('Active');
    const back = await onEvent(event('Update', {}, { PhysicalResourceId: `${DIR}/eu-west-1/replaces/${DIR}/us-west-2/adopted`, OldResourceProperties: { ...PROPS, RegionName: 'eu-west-1' } }));
    expect(back).toEqual({ PhysicalResourceId: `${DIR}/us-west-2/adopted`, Data: { StartedAt: expect.stringMatching(/^\d+$/), CreatedByStack: 'false' } });
    expect(messages()).toContain('Back to the Region this resource had before the replacement (rollback)');
    expect(ds.commandCalls(AddRegionCommand)).toHaveLength(0);

    for (const status of ['Deleting', 'Deleted']) {
      ds.reset();
      regionIs(status);
      ds.on(AddRegionCommand).resolves({});
      const p = onEvent(event('Update', {}, { PhysicalResourceId: `${DIR}/eu-west-1/replaces/${DIR}/us-west-2`, OldResourceProperties: { ...PROPS, RegionName: 'eu-west-1' } }));
      if (status === 'Deleted') {
        expect((await p).PhysicalResourceId).toBe(`${DIR}/us-west-2/replaces/${DIR}/eu-west-1`);
        expect(ds.commandCalls(AddRegionCommand)).toHaveLength(1);
      } else {
        await expect(p).rejects.toThrow(/is still in us-west-2 \(status Deleting/);
        expect(ds.commandCalls(AddRegionCommand)).toHaveLength(0);
      }
    }
  });

  test('a replacement recorded for another directory is not a rollback target', async () => {
    regionIs('Active');
    await expect(
      onEvent(event('Update', {}, { PhysicalResourceId: `${DIR}/eu-west-1/replaces/d-0000000000/us-west-2`, OldResourceProperties: { ...PROPS, RegionName: 'eu-west-1' } })),
    ).rejects.toThrow(/already replicated to us-west-2/);
  });
});

describe('delete', () => {
  test('a Region the stack added is removed from the replica Region; the log says what happened', async () => {
    regionIs('Active');
    ds.on(RemoveRegionCommand).resolves({});
    const r = await onEvent(event('Delete', {}, { PhysicalResourceId: `${DIR}/us-west-2` }));
    expect(r).toEqual({ PhysicalResourceId: `${DIR}/us-west-2`, Data: { StartedAt: expect.stringMatching(/^\d+$/) } });
    expect(logs).toEqual([expect.objectContaining({ message: 'RemoveRegion', DirectoryId: DIR, RegionName: 'us-west-2', result: 'started' })]);
  });

  test('a Region still being built: removal deferred, and the log says so', async () => {
    regionIs('Creating');
    await onEvent(event('Delete', {}, { PhysicalResourceId: `${DIR}/us-west-2` }));
    expect(messages()).toEqual(['RemoveRegion deferred: the Region is still being built; waiting for it to become Active']);
    expect(ds.commandCalls(RemoveRegionCommand)).toHaveLength(0);
  });

  test('an adopted Region is left in place and the log says so; a failed create\'s ID is logged as never created', async () => {
    expect(await onEvent(event('Delete', {}, { PhysicalResourceId: `${DIR}/us-west-2/adopted` }))).toEqual({ PhysicalResourceId: `${DIR}/us-west-2/adopted` });
    expect(await onEvent(event('Delete', {}, { PhysicalResourceId: 'req-1' }))).toEqual({ PhysicalResourceId: 'req-1' });
    expect(logs).toEqual([
      expect.objectContaining({ message: 'Region was adopted, not added by this stack: left in place', directoryId: DIR, region: 'us-west-2' }),
      expect.objectContaining({ message: 'Delete of a Region that was never created; nothing to do', physicalResourceId: 'req-1' }),
    ]);
    expect(ds.calls()).toHaveLength(0);
  });

  test('a PrimaryRegion that is no Region name: nothing is removed, the error says how to finish by hand', async () => {
    for (const bad of ['us-east', 5]) {
      await expect(onEvent(event('Delete', { PrimaryRegion: bad }, { PhysicalResourceId: `${DIR}/us-west-2` }))).rejects.toThrow(
        `RemoveRegion: the resource's PrimaryRegion ${JSON.stringify(bad)} is not a Region name; nothing was removed. Remove the Region yourself if it is no longer needed (aws ds remove-region), then delete the stack again.`,
      );
      await expect(poll(event('Delete', { PrimaryRegion: bad }), `${DIR}/us-west-2`)).rejects.toThrow(/is not a Region name; nothing was removed/);
    }
    expect(ds.calls()).toHaveLength(0);
  });

  test('polls: removal done → complete; not done before the hand-over → keep polling; RoundSeconds decides the hand-over, unreadable means 3300 s', async () => {
    regionIs(undefined);
    expect(await poll(event('Delete'), `${DIR}/us-west-2`, Date.now())).toEqual({ IsComplete: true });
    ds.reset();
    regionIs('Creating');
    const now = Date.now();
    // 600 s rounds hand over after 300 s: the Region is still being built, so the poll fails with what exists.
    await expect(poll(event('Delete', { RoundSeconds: '600' }), `${DIR}/us-west-2`, now - 301_000)).rejects.toThrow(
      'RemoveRegion: Region us-west-2 of directory d-1234567890 is still Creating (AddRegion has not finished), so nothing was removed yet; ' +
        'Directory Service accepts RemoveRegion only once the Region is Active. Wait until aws ds describe-regions --directory-id d-1234567890 --region-name us-west-2 ' +
        'shows Active (or Failed), then retry: aws cloudformation delete-stack --stack-name DbOpsAdTrustReplica (after a failed first deploy or a stack deletion) ' +
        'or aws cloudformation continue-update-rollback --stack-name DbOpsAdTrustReplica (after a failed update).',
    );
    expect(await poll(event('Delete', { RoundSeconds: '600' }), `${DIR}/us-west-2`, now - 200_000)).toEqual({ IsComplete: false });
    // Unreadable wait options: the default 3300 s round (hand-over after 3000 s).
    expect(await poll(event('Delete', { RoundSeconds: 'x' }), `${DIR}/us-west-2`, now - 2_900_000)).toEqual({ IsComplete: false });
    await expect(poll(event('Delete', { RoundSeconds: 'x' }), `${DIR}/us-west-2`, now - 3_001_000)).rejects.toThrow(/still Creating/);
    expect(ds.commandCalls(RemoveRegionCommand)).toHaveLength(0);
  });

  test('a removal past the hand-over that is merely slow (Deleting) keeps polling instead of failing', async () => {
    regionIs('Deleting');
    expect(await poll(event('Delete'), `${DIR}/us-west-2`, Date.now() - 3_500_000)).toEqual({ IsComplete: false });
  });

  test('the stack name in the advice comes from the stack ARN, or the whole StackId when it is no ARN', async () => {
    regionIs('Creating');
    const e = { ...event('Delete'), StackId: 'plain-stack-id' } as CdkCustomResourceEvent;
    await expect(poll(e, `${DIR}/us-west-2`, Date.now() - 3_500_000)).rejects.toThrow(/delete-stack --stack-name plain-stack-id \(after/);
  });

  test('a wait resource being deleted: unreadable options or a foreign/adopted Region → done at once without a call', async () => {
    for (const props of [{ Stage: 'wait', RoundSeconds: 'x', ReplicateId: `${DIR}/us-west-2` }, { Stage: 'wait', ReplicateId: `${DIR}/us-west-2/adopted` }, { Stage: 'wait' }]) {
      expect(await poll(event('Delete', props), `${DIR}/us-west-2/active`, Date.now())).toEqual({ IsComplete: true });
    }
    expect(ds.calls()).toHaveLength(0);
  });

  test('a wait resource being deleted hands over after its round minus 5 minutes, and says so in the log', async () => {
    regionIs('Creating');
    const props = { Stage: 'wait', RoundSeconds: '900', ReplicateId: `${DIR}/us-west-2` };
    expect(await poll(event('Delete', props), `${DIR}/us-west-2/active`, Date.now() - 500_000)).toEqual({ IsComplete: false });
    expect(await poll(event('Delete', props), `${DIR}/us-west-2/active`, Date.now() - 601_000)).toEqual({ IsComplete: true });
    expect(logs).toEqual([expect.objectContaining({ message: 'Region still being built; handing the delete-side wait over', DirectoryId: DIR, RegionName: 'us-west-2' })]);
    expect(ds.commandCalls(RemoveRegionCommand)).toHaveLength(0);
  });
});

describe('create-side polls', () => {
  test('a wait resource polls the Region its ReplicateId names and reports who owns it', async () => {
    regionIs('Active');
    ds.on(DescribeDirectoriesCommand).resolves({ DirectoryDescriptions: [{ DnsIpAddrs: ['10.30.0.10'], VpcSettings: { SecurityGroupId: 'sg-1' } }] });
    const r = await poll(event('Create', { Stage: 'wait', ReplicateId: `${DIR}/us-west-2/adopted` }), `${DIR}/us-west-2/active`, Date.now());
    expect(r).toEqual({ IsComplete: true, Data: { RegionName: 'us-west-2', Status: 'Active', DnsIpAddrs: '10.30.0.10', SecurityGroupId: 'sg-1', CreatedByStack: 'false' } });
    expect(await ds.commandCalls(DescribeDirectoriesCommand)[0].thisValue.config.region()).toBe('us-west-2');
    expect(logs).toEqual([expect.objectContaining({ message: 'AddRegion poll', directoryId: DIR, region: 'us-west-2', stage: 'wait', active: true })]);
  });

  test('without a Region in the physical ID or ReplicateId, the properties name it (created by the stack)', async () => {
    regionIs('Creating');
    expect(await poll(event('Create', { Stage: 'wait' }), 'req-1', Date.now())).toEqual({ IsComplete: false });
    expect(ds.commandCalls(DescribeRegionsCommand)[0].args[0].input).toEqual({ DirectoryId: DIR, RegionName: 'us-west-2' });
  });

  test('a Region missing from DescribeRegions: waited for only within 5 minutes of a known start', async () => {
    regionIs(undefined);
    expect(await poll(event('Create'), `${DIR}/us-west-2`, Date.now() - 290_000)).toEqual({ IsComplete: false });
    await expect(poll(event('Create'), `${DIR}/us-west-2`, Date.now() - 301_000)).rejects.toThrow(/has no Region us-west-2 although AddRegion was accepted/);
    await expect(poll(event('Create'), `${DIR}/us-west-2`)).rejects.toThrow(/has no Region us-west-2/);
  });

  test('the hand-over to the next resource is logged and marks an adopted Region as not the stack\'s', async () => {
    regionIs('Creating');
    const r = await poll(event('Create', { SoftDeadlineSeconds: '600' }), `${DIR}/us-west-2/adopted`, Date.now() - 601_000);
    expect(r).toEqual({ IsComplete: true, Data: { RegionName: 'us-west-2', Status: 'Pending', DnsIpAddrs: '', SecurityGroupId: '', CreatedByStack: 'false' } });
    expect(messages()).toEqual(['AddRegion poll', 'AddRegion still in progress; handing the wait over to the next resource']);
  });

  test('a resource with a soft deadline never fails at the round\'s end: it hands over', async () => {
    regionIs('Creating');
    const r = await poll(event('Create', { SoftDeadlineSeconds: '3600', RoundSeconds: '600' }), `${DIR}/us-west-2`, Date.now() - 400_000);
    expect(r).toEqual({ IsComplete: false });
  });

  test('the last wait resource fails with an adopted Region\'s fate and "not listed" when it has disappeared', async () => {
    regionIs('Creating');
    const props = { Stage: 'wait', SoftDeadlineSeconds: '0', RoundSeconds: '600', ReplicateId: `${DIR}/us-west-2/adopted` };
    await expect(poll(event('Create', props), `${DIR}/us-west-2/active`, Date.now() - 301_000)).rejects.toThrow(
      "AddRegion: Region us-west-2 of directory d-1234567890 is still Creating at the end of the stack's wait for Active. The stack rolls back now; the adopted Region is left in place. " +
        'Check it with aws ds describe-regions --directory-id d-1234567890 --region-name us-west-2; to wait longer, raise the construct\'s totalTimeout (up to 300 minutes) and deploy DbOpsAdTrustReplica again.',
    );
    ds.reset();
    ds.on(DescribeRegionsCommand)
      .resolvesOnce({ RegionsDescription: [{ RegionName: 'us-west-2', Status: 'Creating' }] })
      .rejects(new EntityDoesNotExistException({ message: 'gone', $metadata: {} }));
    await expect(poll(event('Create', props), `${DIR}/us-west-2/active`, Date.now() - 301_000)).rejects.toThrow(/is still not listed at the end of the stack's wait/);
  });
});
