/**
 * The plain functions of lambda/ad-trust/add-region.ts behind the DirectoryRegion custom resource: property and
 * wait-option validation (every message and bound), the physical-ID record of who added a Region, the adoption
 * check, the deadlines, and each Directory Service call's handling of every Region status.
 *
 * aws-sdk-client-mock is used for Directory Service because no local emulator implements AddRegion,
 * DescribeRegions or RemoveRegion (moto 5.2 has no multi-Region replication).
 */
import {
  AddRegionCommand,
  DescribeDirectoriesCommand,
  DescribeRegionsCommand,
  DirectoryAlreadyInRegionException,
  DirectoryDoesNotExistException,
  DirectoryServiceClient,
  EntityDoesNotExistException,
  RegionDescription,
  RemoveRegionCommand,
} from '@aws-sdk/client-directory-service';
import { mockClient } from 'aws-sdk-client-mock';
import {
  AddRegionProps,
  checkRegionActive,
  checkRegionAdoptable,
  CLOCK_SKEW_MS,
  deleteHandOverPassed,
  describeRegion,
  IN_PROGRESS,
  MISSING_GRACE_MS,
  networkChanged,
  parseAddRegionProps,
  parseRegionPhysicalId,
  parseWaitOptions,
  physicalIdFor,
  pollRegionRemoval,
  regionSettled,
  requiresReplacement,
  softDeadlinePassed,
  startAddRegion,
  startRemoveRegion,
} from '../../lambda/ad-trust/add-region';

const DIR = 'd-1234567890';
const RAW = { DirectoryId: DIR, PrimaryRegion: 'us-east-1', RegionName: 'us-west-2', VpcId: 'vpc-0abc', SubnetIds: ['subnet-0a', 'subnet-0b'] };
const PROPS: AddRegionProps = { ...RAW, AdoptExisting: false };

function problem(raw: Record<string, unknown>): string | undefined {
  try {
    parseAddRegionProps(raw);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

describe('parseAddRegionProps', () => {
  test('AdoptExisting: true/"true" adopt, false/"false"/unset do not, anything else is refused', () => {
    expect(parseAddRegionProps({ ...RAW, AdoptExisting: true }).AdoptExisting).toBe(true);
    expect(parseAddRegionProps({ ...RAW, AdoptExisting: 'true' }).AdoptExisting).toBe(true);
    expect(parseAddRegionProps({ ...RAW, AdoptExisting: false }).AdoptExisting).toBe(false);
    expect(parseAddRegionProps({ ...RAW, AdoptExisting: 'false' }).AdoptExisting).toBe(false);
    expect(parseAddRegionProps({ ...RAW })).toEqual(PROPS);
    expect(problem({ ...RAW, AdoptExisting: 'TRUE' })).toBe('AddRegion: invalid properties: AdoptExisting must be true or false (got "TRUE")');
  });

  test('each property is checked against its pattern and named with the value', () => {
    expect(problem({ ...RAW, DirectoryId: 'd-12345678901' })).toBe('AddRegion: invalid properties: DirectoryId must match /^d-[0-9a-f]{10}$/ (got "d-12345678901")');
    expect(problem({ ...RAW, PrimaryRegion: 'us-east' })).toBe('AddRegion: invalid properties: PrimaryRegion must match /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\\d$/ (got "us-east")');
    expect(problem({ ...RAW, RegionName: 42 })).toBe('AddRegion: invalid properties: RegionName must match /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\\d$/ (got 42)');
    expect(problem({ ...RAW, VpcId: 'vpc-XYZ' })).toBe('AddRegion: invalid properties: VpcId must match /^vpc-[0-9a-f]+$/ (got "vpc-XYZ")');
    for (const r of ['us-gov-west-1', 'us-isob-east-1', 'ap-southeast-2']) expect(problem({ ...RAW, RegionName: r })).toBeUndefined();
  });

  test('exactly two subnet IDs', () => {
    for (const bad of [['subnet-0a'], ['subnet-0a', 'subnet-0b', 'subnet-0c'], ['subnet-0a', 'sub-0b'], ['subnet-0a', 3], 'subnet-0a,subnet-0b', undefined]) {
      expect(problem({ ...RAW, SubnetIds: bad })).toBe(`AddRegion: invalid properties: SubnetIds must be exactly two subnet IDs in different Availability Zones (got ${JSON.stringify(bad)})`);
    }
  });

  test('the replica Region must differ from the primary; all problems in one message', () => {
    expect(problem({ ...RAW, RegionName: 'us-east-1' })).toBe('AddRegion: invalid properties: RegionName must differ from PrimaryRegion (us-east-1)');
    expect(problem({ PrimaryRegion: 'us-east-1', RegionName: 'us-west-2', AdoptExisting: 1 })).toBe(
      'AddRegion: invalid properties: DirectoryId must match /^d-[0-9a-f]{10}$/ (got undefined); VpcId must match /^vpc-[0-9a-f]+$/ (got undefined); ' +
        'SubnetIds must be exactly two subnet IDs in different Availability Zones (got undefined); AdoptExisting must be true or false (got 1)',
    );
  });
});

describe('physical IDs', () => {
  test('created, adopted, replacement of one level', () => {
    expect(physicalIdFor(PROPS)).toBe(`${DIR}/us-west-2`);
    expect(physicalIdFor(PROPS, false)).toBe(`${DIR}/us-west-2/adopted`);
    expect(physicalIdFor({ DirectoryId: DIR, RegionName: 'eu-west-1' }, true, `${DIR}/us-west-2/adopted`)).toBe(`${DIR}/eu-west-1/replaces/${DIR}/us-west-2/adopted`);
    expect(physicalIdFor({ DirectoryId: DIR, RegionName: 'eu-west-1' }, false, `${DIR}/us-west-2/replaces/${DIR}/ap-south-1`)).toBe(`${DIR}/eu-west-1/adopted/replaces/${DIR}/us-west-2`);
    expect(physicalIdFor(PROPS, true, 'AWSCDK::CustomResourceProviderFramework::CREATE_FAILED')).toBe(`${DIR}/us-west-2`);
  });

  test('parsing', () => {
    expect(parseRegionPhysicalId(`${DIR}/us-west-2`)).toEqual({ DirectoryId: DIR, RegionName: 'us-west-2', created: true, replaces: undefined });
    expect(parseRegionPhysicalId(`${DIR}/us-gov-west-1/adopted`)).toEqual({ DirectoryId: DIR, RegionName: 'us-gov-west-1', created: false, replaces: undefined });
    expect(parseRegionPhysicalId(`${DIR}/eu-west-1/replaces/d-0000000000/us-west-2/adopted`)).toEqual({
      DirectoryId: DIR,
      RegionName: 'eu-west-1',
      created: true,
      replaces: { DirectoryId: 'd-0000000000', RegionName: 'us-west-2', created: false },
    });
    expect(parseRegionPhysicalId(`${DIR}/eu-west-1/adopted/replaces/${DIR}/us-west-2`)).toEqual({
      DirectoryId: DIR,
      RegionName: 'eu-west-1',
      created: false,
      replaces: { DirectoryId: DIR, RegionName: 'us-west-2', created: true },
    });
    for (const none of [undefined, '', 'req-1', `${DIR}`, `${DIR}/us-west-2/active`, `x${DIR}/us-west-2`, `${DIR}/us-west-2/adoptedx`, `${DIR}/us-west/replaces/${DIR}/us-west-2`]) {
      expect(parseRegionPhysicalId(none)).toBeUndefined();
    }
  });
});

describe('checkRegionAdoptable', () => {
  test('Active in the same VPC (or a VPC AWS does not report) is adoptable', () => {
    expect(() => checkRegionAdoptable(PROPS, { RegionName: 'us-west-2', Status: 'Active', VpcSettings: { VpcId: 'vpc-0abc', SubnetIds: [] } })).not.toThrow();
    expect(() => checkRegionAdoptable(PROPS, { RegionName: 'us-west-2', Status: 'Active' })).not.toThrow();
  });

  test('the refusal names every problem and what exists now', () => {
    expect(() => checkRegionAdoptable(PROPS, { RegionName: 'us-west-2', VpcSettings: { VpcId: 'vpc-0def', SubnetIds: [] }, LaunchTime: new Date('2026-01-05T10:00:00Z') })).toThrow(
      'AddRegion: cannot adopt Region us-west-2 (status unknown, VPC vpc-0def, launched 2026-01-05T10:00:00.000Z) of directory d-1234567890: ' +
        'it is in vpc-0def, not vpc-0abc (point the stack at that VPC or remove the Region); its status is unknown, not Active (wait until it is Active, or fix it in the console). Nothing was changed.',
    );
    expect(() => checkRegionAdoptable(PROPS, { RegionName: 'us-west-2', Status: 'Updating' })).toThrow(
      'AddRegion: cannot adopt Region us-west-2 (status Updating, VPC unknown) of directory d-1234567890: its status is Updating, not Active (wait until it is Active, or fix it in the console). Nothing was changed.',
    );
  });
});

test('requiresReplacement and networkChanged', () => {
  expect(requiresReplacement(PROPS, { ...PROPS, VpcId: 'vpc-0def', AdoptExisting: true })).toBe(false);
  expect(requiresReplacement(PROPS, { ...PROPS, DirectoryId: 'd-0000000000' })).toBe(true);
  expect(requiresReplacement(PROPS, { ...PROPS, RegionName: 'eu-west-1' })).toBe(true);
  expect(networkChanged(PROPS, { ...PROPS, SubnetIds: ['subnet-0b', 'subnet-0a'] })).toBe(false);
  expect(networkChanged(PROPS, { ...PROPS, AdoptExisting: true, RegionName: 'eu-west-1' })).toBe(false);
  expect(networkChanged(PROPS, { ...PROPS, SubnetIds: ['subnet-0a', 'subnet-0c'] })).toBe(true);
  expect(networkChanged(PROPS, { ...PROPS, VpcId: 'vpc-0def' })).toBe(true);
  // The caller's arrays are not reordered.
  const subnets = ['subnet-0b', 'subnet-0a'];
  networkChanged({ ...PROPS, SubnetIds: subnets }, PROPS);
  expect(subnets).toEqual(['subnet-0b', 'subnet-0a']);
});

describe('wait options and deadlines', () => {
  test('defaults: replicate, no soft deadline, 3300 s rounds', () => {
    expect(parseWaitOptions({})).toEqual({ stage: 'replicate', softDeadlineSeconds: 0, roundSeconds: 3300, replicateId: undefined });
    expect(parseWaitOptions({ Stage: 'wait', SoftDeadlineSeconds: '3600', RoundSeconds: '600', ReplicateId: `${DIR}/us-west-2` })).toEqual({
      stage: 'wait',
      softDeadlineSeconds: 3600,
      roundSeconds: 600,
      replicateId: `${DIR}/us-west-2`,
    });
    expect(parseWaitOptions({ SoftDeadlineSeconds: 0, RoundSeconds: 3600, ReplicateId: 5 })).toEqual({ stage: 'replicate', softDeadlineSeconds: 0, roundSeconds: 3600, replicateId: undefined });
  });

  test('bounds: SoftDeadlineSeconds 0..3600, RoundSeconds 600..3600 (CloudFormation custom-resource limit one hour), integers', () => {
    expect(() => parseWaitOptions({ Stage: 'Wait' })).toThrow('AddRegion: Stage must be replicate or wait (got "Wait")');
    for (const bad of ['-1', '3601', '1.5', 'x']) expect(() => parseWaitOptions({ SoftDeadlineSeconds: bad })).toThrow(`AddRegion: SoftDeadlineSeconds must be 0..3600 (got "${bad}")`);
    for (const bad of ['599', '3601', '700.5', 'x']) expect(() => parseWaitOptions({ RoundSeconds: bad })).toThrow(`AddRegion: RoundSeconds must be 600..3600 (got "${bad}")`);
  });

  test('softDeadlinePassed: never with 0 or without a start time; at and after the deadline, not before', () => {
    const t0 = 1_700_000_000_000;
    expect(softDeadlinePassed({ softDeadlineSeconds: 0 }, t0, t0 + 10 ** 9)).toBe(false);
    expect(softDeadlinePassed({ softDeadlineSeconds: 60 }, undefined, t0)).toBe(false);
    expect(softDeadlinePassed({ softDeadlineSeconds: 60 }, NaN, t0)).toBe(false);
    expect(softDeadlinePassed({ softDeadlineSeconds: 60 }, t0, t0 + 59_999)).toBe(false);
    expect(softDeadlinePassed({ softDeadlineSeconds: 60 }, t0, t0 + 60_000)).toBe(true);
    expect(softDeadlinePassed({ softDeadlineSeconds: 60 }, t0, t0 + 60_001)).toBe(true);
  });

  test('deleteHandOverPassed: 5 minutes before the round ends, at least 60 s', () => {
    const t0 = 1_700_000_000_000;
    const opts = (roundSeconds: number) => ({ stage: 'wait' as const, softDeadlineSeconds: 0, roundSeconds });
    expect(deleteHandOverPassed(opts(3300), t0, t0 + 2_999_999)).toBe(false);
    expect(deleteHandOverPassed(opts(3300), t0, t0 + 3_000_000)).toBe(true);
    expect(deleteHandOverPassed(opts(330), t0, t0 + 59_999)).toBe(false);
    expect(deleteHandOverPassed(opts(330), t0, t0 + 60_000)).toBe(true);
    expect(deleteHandOverPassed(opts(3300), undefined, t0)).toBe(false);
  });

  test('constants: clock skew one minute, grace five minutes, the in-progress statuses of RegionDescription', () => {
    expect(CLOCK_SKEW_MS).toBe(60_000);
    expect(MISSING_GRACE_MS).toBe(300_000);
    expect([...IN_PROGRESS].sort()).toEqual(['Created', 'Creating', 'Requested', 'Restoring', 'Updating']);
  });
});

describe('Directory Service calls (aws-sdk-client-mock, see the header)', () => {
  const ds = mockClient(DirectoryServiceClient);
  const primary = new DirectoryServiceClient({ region: 'us-east-1' });
  const replica = new DirectoryServiceClient({ region: 'us-west-2' });
  beforeEach(() => ds.reset());
  const region = (r: Partial<RegionDescription>): { RegionsDescription: RegionDescription[] } => ({ RegionsDescription: [{ DirectoryId: DIR, RegionName: 'us-west-2', ...r }] });

  test('describeRegion picks the asked Region from the answer; none → undefined', async () => {
    ds.on(DescribeRegionsCommand).resolves({ RegionsDescription: [{ RegionName: 'us-east-1', Status: 'Active' }, { RegionName: 'us-west-2', Status: 'Creating' }] });
    expect(await describeRegion(primary, DIR, 'us-west-2')).toEqual({ RegionName: 'us-west-2', Status: 'Creating' });
    expect(ds.commandCalls(DescribeRegionsCommand)[0].args[0].input).toEqual({ DirectoryId: DIR, RegionName: 'us-west-2' });
    expect(await describeRegion(primary, DIR, 'eu-west-1')).toBeUndefined();
    ds.on(DescribeRegionsCommand).resolves({});
    expect(await describeRegion(primary, DIR, 'us-west-2')).toBeUndefined();
  });

  test('describeRegion: a directory that does not exist is an error naming the Region asked, unless removing', async () => {
    ds.on(DescribeRegionsCommand).rejects(new DirectoryDoesNotExistException({ message: 'Directory d-1234567890 does not exist', $metadata: {} }));
    await expect(describeRegion(primary, DIR, 'us-west-2')).rejects.toThrow(
      'AddRegion: directory d-1234567890 does not exist in us-east-1 (DirectoryDoesNotExistException: Directory d-1234567890 does not exist). Nothing was changed. ' +
        'Check the directory ID and the primary Region (aws ds describe-directories --directory-ids d-1234567890 --region us-east-1), then deploy again.',
    );
    expect(await describeRegion(primary, DIR, 'us-west-2', true)).toBeUndefined();
    ds.on(DescribeRegionsCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }));
    await expect(describeRegion(primary, DIR, 'us-west-2', true)).rejects.toThrow('denied');
  });

  test('startAddRegion sends AddRegion with the VPC settings when the Region is absent or Deleted', async () => {
    ds.on(DescribeRegionsCommand).resolves(region({ Status: 'Deleted' }));
    ds.on(AddRegionCommand).resolves({});
    expect(await startAddRegion(primary, PROPS)).toBe('started');
    expect(ds.commandCalls(AddRegionCommand).map((c) => c.args[0].input)).toEqual([{ DirectoryId: DIR, RegionName: 'us-west-2', VPCSettings: { VpcId: 'vpc-0abc', SubnetIds: ['subnet-0a', 'subnet-0b'] } }]);
  });

  test('startAddRegion refuses an existing Region, adopts it when asked and it fits', async () => {
    ds.on(DescribeRegionsCommand).resolves(region({ Status: 'Active', VpcSettings: { VpcId: 'vpc-0abc', SubnetIds: [] } }));
    await expect(startAddRegion(primary, PROPS)).rejects.toThrow(
      'AddRegion: directory d-1234567890 is already replicated to us-west-2 (status Active, VPC vpc-0abc), and this stack did not add it. ' +
        'Nothing was changed; the kit never takes over or removes a Region it did not add. To use that Region with this stack (it must be Active in vpc-0abc; it is left in place when the stack is deleted), ' +
        'deploy again with -c adTrust:adoptExistingRegion=true (construct prop adoptExisting: true). To let the stack add it instead, remove it yourself first: aws ds remove-region --directory-id d-1234567890 --region us-west-2',
    );
    expect(await startAddRegion(primary, { ...PROPS, AdoptExisting: true })).toBe('adopted');
    // A Region being removed never becomes Active again: the answer is to wait, adopt or not (not "wait until it is Active").
    ds.on(DescribeRegionsCommand).resolves(region({ Status: 'Deleting' }));
    await expect(startAddRegion(primary, { ...PROPS, AdoptExisting: true })).rejects.toThrow(
      'AddRegion: directory d-1234567890 is still in us-west-2 (status Deleting, VPC unknown); it is being removed: wait until aws ds describe-regions --directory-id d-1234567890 --region-name us-west-2 no longer lists it (or lists it as Deleted), then deploy again. Nothing was changed.',
    );
    expect(ds.commandCalls(AddRegionCommand)).toHaveLength(0);
  });

  test('DirectoryAlreadyInRegionException: a Region launched within the clock skew of this call is ours; an older one is refused or adopted', async () => {
    const t0 = Date.parse('2026-03-01T12:00:00Z');
    const already = new DirectoryAlreadyInRegionException({ message: 'already', $metadata: {} });
    const at = (launch: Date | undefined, props = PROPS) => {
      ds.reset();
      ds.on(DescribeRegionsCommand).rejectsOnce(new EntityDoesNotExistException({ message: 'not yet', $metadata: {} })).resolves(region({ Status: 'Creating', VpcSettings: { VpcId: 'vpc-0abc', SubnetIds: [] }, LaunchTime: launch }));
      ds.on(AddRegionCommand).rejects(already);
      return startAddRegion(primary, props, () => t0);
    };
    expect(await at(new Date(t0 - CLOCK_SKEW_MS))).toBe('started');
    expect(await at(new Date(t0 + 5_000))).toBe('started');
    await expect(at(new Date(t0 - CLOCK_SKEW_MS - 1))).rejects.toThrow(/already replicated to us-west-2 \(status Creating, VPC vpc-0abc, launched 2026-03-01T11:58:59.999Z\), and this stack did not add it/);
    await expect(at(undefined)).rejects.toThrow(/and this stack did not add it/);
    await expect(at(new Date(t0 - 3_600_000), { ...PROPS, AdoptExisting: true })).rejects.toThrow(/cannot adopt Region us-west-2 \(status Creating/);
    ds.reset();
    ds.on(DescribeRegionsCommand).rejectsOnce(new EntityDoesNotExistException({ message: 'not yet', $metadata: {} })).resolves(region({ Status: 'Active', VpcSettings: { VpcId: 'vpc-0abc', SubnetIds: [] }, LaunchTime: new Date(0) }));
    ds.on(AddRegionCommand).rejects(already);
    expect(await startAddRegion(primary, { ...PROPS, AdoptExisting: true }, () => t0)).toBe('adopted');
    // The exception with no Region listed afterwards is passed on as it is.
    ds.reset();
    ds.on(DescribeRegionsCommand).rejects(new EntityDoesNotExistException({ message: 'not listed', $metadata: {} }));
    ds.on(AddRegionCommand).rejects(already);
    await expect(startAddRegion(primary, PROPS)).rejects.toBe(already);
    // Other AddRegion errors are passed on without a second look.
    ds.reset();
    ds.on(DescribeRegionsCommand).rejects(new EntityDoesNotExistException({ message: 'not listed', $metadata: {} }));
    ds.on(AddRegionCommand).rejects(Object.assign(new Error('RegionLimitExceeded'), { name: 'RegionLimitExceededException', $metadata: { httpStatusCode: 400 } }));
    await expect(startAddRegion(primary, PROPS)).rejects.toThrow('RegionLimitExceeded');
    expect(ds.commandCalls(DescribeRegionsCommand)).toHaveLength(1);
  });

  test('checkRegionActive: Active gives the replica\'s DNS IPs and security group from the replica endpoint; building states wait; broken and removed states throw', async () => {
    ds.on(DescribeDirectoriesCommand).resolves({ DirectoryDescriptions: [{ DirectoryId: DIR, DnsIpAddrs: ['10.30.0.10', '10.30.1.10'], VpcSettings: { SecurityGroupId: 'sg-0west' } }] });
    ds.on(DescribeRegionsCommand).resolves(region({ Status: 'Active' }));
    expect(await checkRegionActive(primary, replica, PROPS)).toEqual({ RegionName: 'us-west-2', Status: 'Active', DnsIpAddrs: '10.30.0.10,10.30.1.10', SecurityGroupId: 'sg-0west' });
    expect(ds.commandCalls(DescribeDirectoriesCommand).map((c) => c.args[0].input)).toEqual([{ DirectoryIds: [DIR] }]);
    expect(await ds.commandCalls(DescribeDirectoriesCommand)[0].thisValue.config.region()).toBe('us-west-2');
    ds.on(DescribeDirectoriesCommand).resolves({});
    expect(await checkRegionActive(primary, replica, PROPS)).toEqual({ RegionName: 'us-west-2', Status: 'Active', DnsIpAddrs: '', SecurityGroupId: '' });

    for (const status of ['Requested', 'Creating', 'Created', 'Updating', 'Restoring', undefined]) {
      ds.on(DescribeRegionsCommand).resolves(region({ Status: status as RegionDescription['Status'] }));
      expect(await checkRegionActive(primary, replica, PROPS)).toBeUndefined();
    }
    for (const status of ['Failed', 'Impaired', 'Inoperable', 'RestoreFailed']) {
      ds.on(DescribeRegionsCommand).resolves(region({ Status: status as RegionDescription['Status'] }));
      await expect(checkRegionActive(primary, replica, PROPS)).rejects.toThrow(`AddRegion: Region us-west-2 of directory d-1234567890 is ${status}; open a support case or remove the Region and deploy again.`);
    }
    for (const status of ['Deleting', 'Deleted']) {
      ds.on(DescribeRegionsCommand).resolves(region({ Status: status as RegionDescription['Status'] }));
      await expect(checkRegionActive(primary, replica, PROPS)).rejects.toThrow(
        `AddRegion: Region us-west-2 of directory d-1234567890 is ${status} while the stack waits for it to become Active (removed outside this stack). ` +
          'Let the removal finish (aws ds describe-regions --directory-id d-1234567890 --region-name us-west-2), then deploy again.',
      );
    }
    ds.on(DescribeRegionsCommand).resolves({});
    expect(await checkRegionActive(primary, replica, PROPS, true)).toBeUndefined();
    await expect(checkRegionActive(primary, replica, PROPS)).rejects.toThrow(
      "AddRegion: directory d-1234567890 has no Region us-west-2 although AddRegion was accepted; check the directory's Regions in the console.",
    );
  });

  test('startRemoveRegion: absent/Deleted → absent, Deleting → started without a call, building → waiting, else RemoveRegion to the replica', async () => {
    const remove = async (r: Partial<RegionDescription> | undefined) => {
      ds.reset();
      ds.on(DescribeRegionsCommand).resolves(r ? region(r) : {});
      ds.on(RemoveRegionCommand).resolves({});
      return startRemoveRegion(primary, replica, PROPS);
    };
    expect(await remove(undefined)).toBe('absent');
    expect(await remove({ Status: 'Deleted' })).toBe('absent');
    expect(await remove({ Status: 'Deleting' })).toBe('started');
    for (const s of ['Requested', 'Creating', 'Created', 'Updating', 'Restoring']) expect(await remove({ Status: s as RegionDescription['Status'] })).toBe('waiting');
    expect(ds.commandCalls(RemoveRegionCommand)).toHaveLength(0);
    for (const s of ['Active', 'Impaired', undefined]) {
      expect(await remove({ Status: s as RegionDescription['Status'] })).toBe('started');
      expect(ds.commandCalls(RemoveRegionCommand).map((c) => c.args[0].input)).toEqual([{ DirectoryId: DIR }]);
      expect(await ds.commandCalls(RemoveRegionCommand)[0].thisValue.config.region()).toBe('us-west-2');
    }
  });

  test('startRemoveRegion: "not in that Region" answers count as absent, other errors are thrown', async () => {
    ds.on(DescribeRegionsCommand).resolves(region({ Status: 'Active' }));
    ds.on(RemoveRegionCommand).rejects(new EntityDoesNotExistException({ message: 'no', $metadata: {} }));
    expect(await startRemoveRegion(primary, replica, PROPS)).toBe('absent');
    ds.on(RemoveRegionCommand).rejects(new DirectoryDoesNotExistException({ message: 'no', $metadata: {} }));
    expect(await startRemoveRegion(primary, replica, PROPS)).toBe('absent');
    ds.on(RemoveRegionCommand).rejects(Object.assign(new Error('refused'), { name: 'ClientException', $metadata: { httpStatusCode: 400 } }));
    await expect(startRemoveRegion(primary, replica, PROPS)).rejects.toThrow('refused');
  });

  test('pollRegionRemoval: gone → done; broken → error with the command; Active → RemoveRegion sent, not done; building → not done, no call', async () => {
    const poll = async (r: Partial<RegionDescription> | undefined) => {
      ds.reset();
      ds.on(DescribeRegionsCommand).resolves(r ? region(r) : {});
      ds.on(RemoveRegionCommand).resolves({});
      return pollRegionRemoval(primary, replica, PROPS);
    };
    expect(await poll(undefined)).toBe(true);
    expect(await poll({ Status: 'Deleted' })).toBe(true);
    expect(await poll({ Status: 'Deleting' })).toBe(false);
    expect(await poll({ Status: 'Creating' })).toBe(false);
    expect(ds.commandCalls(RemoveRegionCommand)).toHaveLength(0);
    expect(await poll({ Status: 'Active' })).toBe(false);
    expect(ds.commandCalls(RemoveRegionCommand)).toHaveLength(1);
    for (const s of ['Failed', 'Impaired', 'Inoperable', 'RestoreFailed']) {
      await expect(poll({ Status: s as RegionDescription['Status'] })).rejects.toThrow(
        `RemoveRegion: Region us-west-2 of directory d-1234567890 is ${s}; remove it in the console (or aws ds remove-region --directory-id d-1234567890 --region us-west-2), then retry the stack deletion.`,
      );
    }
    // A directory that is gone has no Region left.
    ds.reset();
    ds.on(DescribeRegionsCommand).rejects(new DirectoryDoesNotExistException({ message: 'gone', $metadata: {} }));
    expect(await pollRegionRemoval(primary, replica, PROPS)).toBe(true);
  });

  test('regionSettled: true unless the Region is still being built', async () => {
    const settled = async (r: Partial<RegionDescription> | undefined) => {
      ds.reset();
      ds.on(DescribeRegionsCommand).resolves(r ? region(r) : {});
      return regionSettled(primary, PROPS);
    };
    expect(await settled(undefined)).toBe(true);
    for (const s of ['Active', 'Failed', 'Deleting', 'Deleted', undefined]) expect(await settled({ Status: s as RegionDescription['Status'] })).toBe(true);
    for (const s of ['Requested', 'Creating', 'Created', 'Updating', 'Restoring']) expect(await settled({ Status: s as RegionDescription['Status'] })).toBe(false);
    expect(ds.calls().every((c) => c.args[0] instanceof DescribeRegionsCommand)).toBe(true);
  });
});
