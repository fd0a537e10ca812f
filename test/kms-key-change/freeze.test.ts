/**
 * The enforced write freeze (lambda/kms-key-change/freeze.ts, freeze-read.ts), step by step: what is
 * sent to EC2/RDS/CloudWatch and what the state and messages say, including the failure paths (a run
 * that died frozen, groups changed by hand, a freeze group with an inbound rule, connections after
 * the final snapshot, a source that had no group before).
 *
 * SDK client mock (aws-sdk-client-mock), not moto, on purpose: moto returns the VPC security groups a
 * ModifyDB* asked for without checking them, publishes no RDS DatabaseConnections metric, and a moto
 * server per test file would be started again for every mutant of a mutation run (seconds each, for
 * hundreds of mutants). The same paths run end to end on moto in test/integration/kms-key-change/freeze.test.ts.
 * Here the command inputs themselves are asserted.
 */
import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { CreateSecurityGroupCommand, DescribeSecurityGroupsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeDBClustersCommand, DescribeDBInstancesCommand, DescribeDBSubnetGroupsCommand, ModifyDBClusterCommand, ModifyDBInstanceCommand, RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { applyFreeze, assertFreezeHeld, checkFreezeState, connectionsSince, describeDb, freezeGroupName, freezeNotApplicable, groupById, ORIGINAL_SGS_TAG, recoverFreeze, unfreeze } from '../../lambda/kms-key-change/freeze';
import { captureCluster } from '../../lambda/kms-key-change/settings';
import { newState, RekeyState } from '../../lambda/kms-key-change/state';
import { clients, cluster, instance, member, NEW_KEY, notFound } from './fixtures';

const rds = mockClient(RDSClient);
const ec2 = mockClient(EC2Client);
const cw = mockClient(CloudWatchClient);

const RUN = '20261130030405';
const GROUP = 'db-ops-kit-rekey-freeze-orders-20261130030405';
const FREEZE_SG = 'sg-freeze';

function state(over: Partial<RekeyState> = {}, kind: 'instance' | 'cluster' = 'instance'): RekeyState {
  const s = newState({ kind, sourceId: kind === 'instance' ? 'orders' : 'ledger', kmsKey: NEW_KEY, region: 'us-east-1', now: new Date('2026-11-30T03:04:05Z') });
  return { ...s, cutoverRequested: true, ...over };
}

const withVpc = (over = {}) => instance({ DBSubnetGroup: { DBSubnetGroupName: 'db-private', VpcId: 'vpc-1' }, ...over });
const onlyFreeze = (over = {}) => withVpc({ VpcSecurityGroups: [{ VpcSecurityGroupId: FREEZE_SG, Status: 'active' }], ...over });

beforeEach(() => {
  rds.reset();
  ec2.reset();
  cw.reset();
});

describe('freezeNotApplicable and the group name', () => {
  test('only a same-Region snapshot-method cutover run is frozen', () => {
    expect(freezeNotApplicable(state())).toBeUndefined();
    expect(freezeNotApplicable(state({ method: 'blue-green' }))).toBe('blue/green: RDS replicates to green until the switchover and blocks writes during it');
    expect(freezeNotApplicable(state({ targetRegion: 'us-west-2' }))).toBe('no cutover in a cross-Region or shared run');
    expect(freezeNotApplicable(state({ shareWithAccount: '210987654321' }))).toBe('no cutover in a cross-Region or shared run');
    expect(freezeNotApplicable(state({ cutoverRequested: false }))).toBe('rehearsal (no --cutover): the source keeps serving');
    expect(freezeGroupName({ sourceId: 'orders', runId: RUN })).toBe(GROUP);
  });
});

describe('applyFreeze', () => {
  test('fresh freeze: a no-ingress group in the source VPC, tagged with the originals, becomes the only group', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [withVpc()] });
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
    ec2.on(CreateSecurityGroupCommand).resolves({ GroupId: FREEZE_SG });
    rds.on(ModifyDBInstanceCommand).resolves({});
    const s = state();
    const msg = await applyFreeze(clients(), s, 'freezeSource');
    expect(ec2.commandCalls(DescribeSecurityGroupsCommand)[0].args[0].input).toEqual({ Filters: [{ Name: 'vpc-id', Values: ['vpc-1'] }, { Name: 'group-name', Values: [GROUP] }] });
    expect(ec2.commandCalls(CreateSecurityGroupCommand).map((c) => c.args[0].input)).toEqual([
      {
        GroupName: GROUP,
        Description: `db-ops-kit KMS key change run ${RUN}: blocks clients of orders (no inbound rules)`,
        VpcId: 'vpc-1',
        TagSpecifications: [
          {
            ResourceType: 'security-group',
            Tags: [
              { Key: 'db-ops-kit:rekey-run', Value: RUN },
              { Key: 'db-ops-kit:rekey-source', Value: 'orders' },
              { Key: 'db-ops-kit:rekey-role', Value: 'write freeze (no inbound rules)' },
              { Key: ORIGINAL_SGS_TAG, Value: 'sg-2 sg-1' },
            ],
          },
        ],
      },
    ]);
    expect(rds.commandCalls(ModifyDBInstanceCommand).map((c) => c.args[0].input)).toEqual([{ DBInstanceIdentifier: 'orders', VpcSecurityGroupIds: [FREEZE_SG], ApplyImmediately: true }]);
    expect(s.freeze).toEqual({ vpcId: 'vpc-1', originalSecurityGroupIds: ['sg-2', 'sg-1'], groupId: FREEZE_SG, appliedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(msg).toBe(`blocked clients of orders: its security groups sg-2, sg-1 replaced by ${FREEZE_SG} (no inbound rules); the originals are put back by --rollback or --release-original`);
    expect(s.warnings).toEqual([]);
  });

  test('Aurora: the cluster gets the group (ModifyDBCluster), its VPC read from the DB subnet group', async () => {
    rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster()] });
    rds.on(DescribeDBSubnetGroupsCommand).resolves({ DBSubnetGroups: [{ VpcId: 'vpc-7' }] });
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
    ec2.on(CreateSecurityGroupCommand).resolves({ GroupId: FREEZE_SG });
    rds.on(ModifyDBClusterCommand).resolves({});
    const s = state({}, 'cluster');
    await applyFreeze(clients(), s, 'freezeSource');
    expect(rds.commandCalls(DescribeDBSubnetGroupsCommand)[0].args[0].input).toEqual({ DBSubnetGroupName: 'db-private' });
    expect(ec2.commandCalls(CreateSecurityGroupCommand)[0].args[0].input.VpcId).toBe('vpc-7');
    expect(rds.commandCalls(ModifyDBClusterCommand).map((c) => c.args[0].input)).toEqual([{ DBClusterIdentifier: 'ledger', VpcSecurityGroupIds: [FREEZE_SG], ApplyImmediately: true }]);
    expect(rds.commandCalls(ModifyDBInstanceCommand)).toHaveLength(0);
    expect(s.freeze?.originalSecurityGroupIds).toEqual(['sg-1']);
  });

  test('no VPC in the description: the VPC of the first security group is used', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] }); // DBSubnetGroup without VpcId
    ec2.on(DescribeSecurityGroupsCommand, { GroupIds: ['sg-2'] }).resolves({ SecurityGroups: [{ GroupId: 'sg-2', VpcId: 'vpc-9' }] });
    ec2.on(DescribeSecurityGroupsCommand, { Filters: [{ Name: 'vpc-id', Values: ['vpc-9'] }, { Name: 'group-name', Values: [GROUP] }] }).resolves({ SecurityGroups: [] });
    ec2.on(CreateSecurityGroupCommand).resolves({ GroupId: FREEZE_SG });
    rds.on(ModifyDBInstanceCommand).resolves({});
    const s = state();
    await applyFreeze(clients(), s, 'freezeSource');
    expect(ec2.commandCalls(CreateSecurityGroupCommand)[0].args[0].input.VpcId).toBe('vpc-9');
    expect(s.freeze?.vpcId).toBe('vpc-9');
  });

  test('a source with neither a VPC nor a group cannot be frozen: FreezeUnavailable, nothing created or changed', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance({ DBSubnetGroup: undefined, VpcSecurityGroups: [] })] });
    const err = await applyFreeze(clients(), state(), 'freezeSource').catch((e) => e);
    expect(err.name).toBe('FreezeUnavailable');
    expect(err.message).toBe(
      "[freezeSource] orders: the source has no VPC (no DB subnet group), so the kit cannot block client access with a security group. Next: block clients yourself, then run again with --no-freeze (you give up the kit's proof that no write reached the source after the final snapshot)",
    );
    expect(ec2.calls()).toHaveLength(0);
    expect(rds.commandCalls(ModifyDBInstanceCommand)).toHaveLength(0);
  });

  test('a group whose VPC cannot be found (deleted group) also leaves the source untouched', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
    ec2.on(DescribeSecurityGroupsCommand).rejects(Object.assign(new Error('The security group does not exist'), { name: 'InvalidGroup.NotFound' }));
    await expect(applyFreeze(clients(), state(), 'freezeSource')).rejects.toMatchObject({ name: 'FreezeUnavailable' });
    expect(ec2.commandCalls(CreateSecurityGroupCommand)).toHaveLength(0);
  });

  test('a missing source is refused with the Region and nothing changed', async () => {
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    await expect(applyFreeze(clients(), state(), 'freezeSource')).rejects.toThrow('[freezeSource] orders: no DB instance of this name exists in us-east-1. Next: check the identifier; nothing was changed');
    expect(ec2.calls()).toHaveLength(0);
  });

  test('crash after the swap, state lost: the run\'s group is found by name, the originals come from its tag, nothing is sent again', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [onlyFreeze()] });
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: FREEZE_SG, GroupName: GROUP, Tags: [{ Key: ORIGINAL_SGS_TAG, Value: 'sg-2 sg-1' }] }] });
    const s = state();
    const msg = await applyFreeze(clients(), s, 'freezeSource');
    expect(s.freeze).toEqual({ vpcId: 'vpc-1', groupId: FREEZE_SG, originalSecurityGroupIds: ['sg-2', 'sg-1'], appliedAt: expect.any(String) });
    expect(ec2.commandCalls(CreateSecurityGroupCommand)).toHaveLength(0);
    expect(rds.commandCalls(ModifyDBInstanceCommand)).toHaveLength(0);
    expect(msg).toContain('its security groups sg-2, sg-1 replaced by sg-freeze');
  });

  test('the run\'s own freeze group is the only group but its originals tag is gone (state lost too): refused, nothing changed — it must not record the freeze group as the "original" and leave the source frozen after a rollback', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [onlyFreeze()] });
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: FREEZE_SG, GroupName: GROUP, Tags: [{ Key: 'db-ops-kit:rekey-run', Value: RUN }] }] });
    const s = state();
    const err = await applyFreeze(clients(), s, 'freezeSource').catch((e) => e);
    expect(err).toMatchObject({ name: 'FreezeOriginalsUnknown' });
    expect(err.message).toContain(`the only security group of orders is this run's freeze group ${FREEZE_SG}`);
    expect(err.message).toContain(`its tag ${ORIGINAL_SGS_TAG}, which records the groups it replaced, is gone`);
    expect(err.message).toContain('aws rds modify-db-instance --db-instance-identifier orders --vpc-security-group-ids <your groups> --apply-immediately');
    expect(err.message).toContain(`aws ec2 create-tags --resources ${FREEZE_SG} --tags`);
    expect(s.freeze).toBeUndefined();
    expect(ec2.commandCalls(CreateSecurityGroupCommand)).toHaveLength(0);
    expect(rds.commandCalls(ModifyDBInstanceCommand)).toHaveLength(0);
  });

  test('an earlier run\'s freeze group alone on an Aurora source, its originals tag gone: refused with the cluster command, nothing changed', async () => {
    rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ DBSubnetGroup: 'db-private', VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-old-freeze', Status: 'active' }] })] });
    rds.on(DescribeDBSubnetGroupsCommand).resolves({ DBSubnetGroups: [{ DBSubnetGroupName: 'db-private', VpcId: 'vpc-1' }] });
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
    ec2.on(DescribeSecurityGroupsCommand, { GroupIds: ['sg-old-freeze'] }).resolves({ SecurityGroups: [{ GroupId: 'sg-old-freeze', GroupName: 'db-ops-kit-rekey-freeze-ledger-20261101000000', VpcId: 'vpc-1', Tags: [{ Key: 'db-ops-kit:rekey-role', Value: 'write freeze (no inbound rules)' }] }] });
    const s = state({}, 'cluster');
    const err = await applyFreeze(clients(), s, 'freezeSource').catch((e) => e);
    expect(err).toMatchObject({ name: 'FreezeOriginalsUnknown' });
    expect(err.message).toContain("the only security group of ledger is the kit's freeze group sg-old-freeze (db-ops-kit-rekey-freeze-ledger-20261101000000) of an earlier run");
    expect(err.message).toContain('aws rds modify-db-cluster --db-cluster-identifier ledger --vpc-security-group-ids <your groups> --apply-immediately');
    expect(s.freeze).toBeUndefined();
    expect(ec2.commandCalls(CreateSecurityGroupCommand)).toHaveLength(0);
    expect(rds.commandCalls(ModifyDBClusterCommand)).toHaveLength(0);
  });

  test('a hand-made group whose name starts with db-ops-kit-rekey-freeze- but that admits clients (inbound rules) is an ordinary original: recorded and frozen, not refused with a false "no inbound rules, clients are still blocked"', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [withVpc({ VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-app', Status: 'active' }] })] });
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
    ec2.on(DescribeSecurityGroupsCommand, { GroupIds: ['sg-app'] }).resolves({ SecurityGroups: [{ GroupId: 'sg-app', GroupName: 'db-ops-kit-rekey-freeze-exempt-app', VpcId: 'vpc-1', IpPermissions: [{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, IpRanges: [{ CidrIp: '10.0.0.0/16' }] }] }] });
    ec2.on(CreateSecurityGroupCommand).resolves({ GroupId: FREEZE_SG });
    rds.on(ModifyDBInstanceCommand).resolves({});
    const s = state();
    await applyFreeze(clients(), s, 'freezeSource');
    expect(s.freeze?.originalSecurityGroupIds).toEqual(['sg-app']);
    expect(rds.commandCalls(ModifyDBInstanceCommand)[0].args[0].input).toMatchObject({ VpcSecurityGroupIds: [FREEZE_SG] });
  });

  test('crash after creating the group, before the swap: the group is reused, the DB\'s current groups are the originals', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [withVpc()] });
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: FREEZE_SG, GroupName: GROUP, Tags: [{ Key: ORIGINAL_SGS_TAG, Value: 'sg-9' }] }] });
    rds.on(ModifyDBInstanceCommand).resolves({});
    const s = state();
    await applyFreeze(clients(), s, 'freezeSource');
    // The tag only counts when the freeze group is already the DB's only group.
    expect(s.freeze?.originalSecurityGroupIds).toEqual(['sg-2', 'sg-1']);
    expect(ec2.commandCalls(CreateSecurityGroupCommand)).toHaveLength(0);
    expect(rds.commandCalls(ModifyDBInstanceCommand).map((c) => c.args[0].input.VpcSecurityGroupIds)).toEqual([[FREEZE_SG]]);
  });

  test('a source still frozen by an earlier run\'s group: the groups that run replaced are recorded as the originals, with a warning', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [withVpc({ VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-old-freeze', Status: 'active' }] })] });
    ec2.on(DescribeSecurityGroupsCommand, { Filters: [{ Name: 'vpc-id', Values: ['vpc-1'] }, { Name: 'group-name', Values: [GROUP] }] }).resolves({ SecurityGroups: [] });
    ec2.on(DescribeSecurityGroupsCommand, { GroupIds: ['sg-old-freeze'] }).resolves({ SecurityGroups: [{ GroupId: 'sg-old-freeze', GroupName: 'db-ops-kit-rekey-freeze-orders-20261101000000', Tags: [{ Key: ORIGINAL_SGS_TAG, Value: 'sg-app sg-admin' }] }] });
    ec2.on(CreateSecurityGroupCommand).resolves({ GroupId: FREEZE_SG });
    rds.on(ModifyDBInstanceCommand).resolves({});
    const s = state();
    await applyFreeze(clients(), s, 'freezeSource');
    expect(s.freeze?.originalSecurityGroupIds).toEqual(['sg-app', 'sg-admin']);
    expect(ec2.commandCalls(CreateSecurityGroupCommand)[0].args[0].input.TagSpecifications![0].Tags).toContainEqual({ Key: ORIGINAL_SGS_TAG, Value: 'sg-app sg-admin' });
    expect(s.warnings).toEqual([
      "orders was still frozen by the kit's group sg-old-freeze (db-ops-kit-rekey-freeze-orders-20261101000000) of an earlier run; recorded the groups that run replaced (sg-app, sg-admin) as the originals",
    ]);
  });

  test('an earlier run\'s group that recorded no originals: "(none)" in the warning and the message', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [withVpc({ VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-old-freeze', Status: 'active' }] })] });
    ec2.on(DescribeSecurityGroupsCommand, { Filters: [{ Name: 'vpc-id', Values: ['vpc-1'] }, { Name: 'group-name', Values: [GROUP] }] }).resolves({ SecurityGroups: [] });
    ec2.on(DescribeSecurityGroupsCommand, { GroupIds: ['sg-old-freeze'] }).resolves({ SecurityGroups: [{ GroupId: 'sg-old-freeze', GroupName: 'old', Tags: [{ Key: ORIGINAL_SGS_TAG, Value: '' }] }] });
    ec2.on(CreateSecurityGroupCommand).resolves({ GroupId: FREEZE_SG });
    rds.on(ModifyDBInstanceCommand).resolves({});
    const s = state();
    const msg = await applyFreeze(clients(), s, 'freezeSource');
    expect(s.freeze?.originalSecurityGroupIds).toEqual([]);
    expect(s.warnings[0]).toContain('recorded the groups that run replaced ((none)) as the originals');
    expect(msg).toContain('its security groups (none) replaced by sg-freeze');
  });

  test('an earlier run\'s freeze group next to a group added by hand: both are the originals (the tag of a group that is not alone says nothing)', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [withVpc({ VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-old-freeze' }, { VpcSecurityGroupId: 'sg-hand' }] })] });
    ec2.on(DescribeSecurityGroupsCommand, { Filters: [{ Name: 'vpc-id', Values: ['vpc-1'] }, { Name: 'group-name', Values: [GROUP] }] }).resolves({ SecurityGroups: [] });
    ec2.on(DescribeSecurityGroupsCommand, { GroupIds: ['sg-old-freeze'] }).resolves({ SecurityGroups: [{ GroupId: 'sg-old-freeze', Tags: [{ Key: ORIGINAL_SGS_TAG, Value: 'sg-app' }] }] });
    ec2.on(CreateSecurityGroupCommand).resolves({ GroupId: FREEZE_SG });
    rds.on(ModifyDBInstanceCommand).resolves({});
    const s = state();
    await applyFreeze(clients(), s, 'freezeSource');
    expect(s.freeze?.originalSecurityGroupIds).toEqual(['sg-old-freeze', 'sg-hand']);
    expect(s.warnings).toEqual([]);
  });

  test('one ordinary group (no kit tag) is simply the original, no warning', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [withVpc({ VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-app', Status: 'active' }] })] });
    ec2.on(DescribeSecurityGroupsCommand, { GroupIds: ['sg-app'] }).resolves({ SecurityGroups: [{ GroupId: 'sg-app', Tags: [{ Key: 'team', Value: 'orders' }] }] });
    ec2.on(DescribeSecurityGroupsCommand, { Filters: [{ Name: 'vpc-id', Values: ['vpc-1'] }, { Name: 'group-name', Values: [GROUP] }] }).resolves({ SecurityGroups: [] });
    ec2.on(CreateSecurityGroupCommand).resolves({ GroupId: FREEZE_SG });
    rds.on(ModifyDBInstanceCommand).resolves({});
    const s = state();
    await applyFreeze(clients(), s, 'freezeSource');
    expect(s.freeze?.originalSecurityGroupIds).toEqual(['sg-app']);
    expect(s.warnings).toEqual([]);
  });

  test('a resumed freeze keeps the recorded originals and appliedAt', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [onlyFreeze()] });
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: FREEZE_SG, Tags: [{ Key: ORIGINAL_SGS_TAG, Value: 'sg-x' }] }] });
    const s = state({ freeze: { vpcId: 'vpc-1', groupId: FREEZE_SG, originalSecurityGroupIds: ['sg-2', 'sg-1'], appliedAt: '2026-11-30T03:10:00.000Z' } });
    await applyFreeze(clients(), s, 'freezeSource');
    expect(s.freeze).toEqual({ vpcId: 'vpc-1', groupId: FREEZE_SG, originalSecurityGroupIds: ['sg-2', 'sg-1'], appliedAt: '2026-11-30T03:10:00.000Z' });
    expect(rds.commandCalls(ModifyDBInstanceCommand)).toHaveLength(0);
  });
});

describe('recoverFreeze', () => {
  const tagged = { SecurityGroups: [{ GroupId: FREEZE_SG, Tags: [{ Key: ORIGINAL_SGS_TAG, Value: 'sg-2 sg-1' }] }] };

  test('the run\'s group alone on the DB, with its tag: the freeze record is rebuilt', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [onlyFreeze()] });
    ec2.on(DescribeSecurityGroupsCommand).resolves(tagged);
    await expect(recoverFreeze(clients(), state(), 'orders')).resolves.toEqual({ vpcId: 'vpc-1', groupId: FREEZE_SG, originalSecurityGroupIds: ['sg-2', 'sg-1'] });
  });

  test('VPC from the group when the description has none', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance({ VpcSecurityGroups: [{ VpcSecurityGroupId: FREEZE_SG }] })] });
    ec2.on(DescribeSecurityGroupsCommand, { GroupIds: [FREEZE_SG] }).resolves({ SecurityGroups: [{ GroupId: FREEZE_SG, VpcId: 'vpc-3' }] });
    ec2.on(DescribeSecurityGroupsCommand, { Filters: [{ Name: 'vpc-id', Values: ['vpc-3'] }, { Name: 'group-name', Values: [GROUP] }] }).resolves(tagged);
    await expect(recoverFreeze(clients(), state(), 'orders')).resolves.toEqual({ vpcId: 'vpc-3', groupId: FREEZE_SG, originalSecurityGroupIds: ['sg-2', 'sg-1'] });
  });

  test('the run\'s group alone on the DB but its originals tag gone (rollback after the state was lost): refused, not "no freeze to lift" — that would end the rollback with the source still frozen', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [onlyFreeze()] });
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: FREEZE_SG, GroupName: GROUP, Tags: [] }] });
    const err = await recoverFreeze(clients(), state(), 'orders').catch((e) => e);
    expect(err).toMatchObject({ name: 'FreezeOriginalsUnknown' });
    expect(err.message).toContain(`[rollbackUnfreeze] orders: the only security group of orders is this run's freeze group ${FREEZE_SG}`);
    expect(err.message).toContain('aws rds modify-db-instance --db-instance-identifier orders --vpc-security-group-ids <your groups> --apply-immediately');
    expect(rds.commandCalls(ModifyDBInstanceCommand)).toHaveLength(0);
  });

  test('the run\'s group alone, tag gone, but someone opened it (inbound rules): nothing to recover, clients are not blocked', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [onlyFreeze()] });
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: FREEZE_SG, GroupName: GROUP, Tags: [], IpPermissions: [{ IpProtocol: '-1' }] }] });
    await expect(recoverFreeze(clients(), state(), 'orders')).resolves.toBeUndefined();
  });

  test('nothing to recover: no DB, no VPC, no group, or other groups on the DB', async () => {
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    await expect(recoverFreeze(clients(), state(), 'orders')).resolves.toBeUndefined();
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance({ DBSubnetGroup: undefined, VpcSecurityGroups: [] })] });
    await expect(recoverFreeze(clients(), state(), 'orders')).resolves.toBeUndefined();
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [onlyFreeze()] });
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
    await expect(recoverFreeze(clients(), state(), 'orders')).resolves.toBeUndefined();
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [withVpc({ VpcSecurityGroups: [{ VpcSecurityGroupId: FREEZE_SG }, { VpcSecurityGroupId: 'sg-1' }] })] });
    ec2.on(DescribeSecurityGroupsCommand).resolves(tagged);
    await expect(recoverFreeze(clients(), state(), 'orders')).resolves.toBeUndefined();
    expect(rds.commandCalls(ModifyDBInstanceCommand)).toHaveLength(0);
  });
});

describe('unfreeze', () => {
  const frozen = (over: Partial<NonNullable<RekeyState['freeze']>> = {}) => state({ freeze: { vpcId: 'vpc-1', groupId: FREEZE_SG, originalSecurityGroupIds: ['sg-2', 'sg-1'], ...over } });

  test('puts the original groups back on the DB that has only the freeze group, and records it', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [onlyFreeze()] });
    rds.on(ModifyDBInstanceCommand).resolves({});
    const s = frozen();
    const msg = await unfreeze(clients(), s, 'orders', 'rollbackUnfreeze');
    expect(rds.commandCalls(ModifyDBInstanceCommand).map((c) => c.args[0].input)).toEqual([{ DBInstanceIdentifier: 'orders', VpcSecurityGroupIds: ['sg-2', 'sg-1'], ApplyImmediately: true }]);
    expect(s.freeze?.released).toEqual({ at: expect.any(String), on: 'orders' });
    expect(msg).toBe('orders: original security groups sg-2, sg-1 put back (the empty freeze group sg-freeze is kept; delete it with aws ec2 delete-security-group --group-id sg-freeze once nothing uses it)');
    // Again: already released, nothing sent.
    expect(await unfreeze(clients(), s, 'orders', 'rollbackUnfreeze')).toMatch(/^orders: original security groups already put back at \d{4}-/);
    expect(rds.commandCalls(ModifyDBInstanceCommand)).toHaveLength(1);
  });

  test('Aurora: the cluster gets its groups back by ModifyDBCluster', async () => {
    rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ DBSubnetGroup: undefined, VpcSecurityGroups: [{ VpcSecurityGroupId: FREEZE_SG }] })] });
    rds.on(ModifyDBClusterCommand).resolves({});
    const s = { ...state({}, 'cluster'), freeze: { groupId: FREEZE_SG, originalSecurityGroupIds: ['sg-1'] } };
    await unfreeze(clients(), s, 'ledger', 'rollbackUnfreeze');
    expect(rds.commandCalls(ModifyDBClusterCommand).map((c) => c.args[0].input)).toEqual([{ DBClusterIdentifier: 'ledger', VpcSecurityGroupIds: ['sg-1'], ApplyImmediately: true }]);
  });

  test('no freeze recorded: nothing to lift, nothing read', async () => {
    expect(await unfreeze(clients(), state(), 'orders', 'x')).toBe('orders: no freeze to lift');
    expect(await unfreeze(clients(), state({ freeze: { originalSecurityGroupIds: [] } }), 'orders', 'x')).toBe('orders: no freeze to lift');
    expect(rds.calls()).toHaveLength(0);
  });

  test('groups changed by hand since the freeze are left alone and reported', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [withVpc({ VpcSecurityGroups: [{ VpcSecurityGroupId: FREEZE_SG }, { VpcSecurityGroupId: 'sg-hand' }] })] });
    const s = frozen();
    expect(await unfreeze(clients(), s, 'orders', 'x')).toBe('orders no longer has the freeze group (its groups are sg-freeze, sg-hand); left as it is');
    expect(s.freeze?.released?.on).toBe('orders');
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [withVpc({ VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-hand' }] })] });
    expect(await unfreeze(clients(), frozen(), 'orders', 'x')).toBe('orders no longer has the freeze group (its groups are sg-hand); left as it is');
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [withVpc({ VpcSecurityGroups: [] })] });
    expect(await unfreeze(clients(), frozen(), 'orders', 'x')).toBe('orders no longer has the freeze group (its groups are (none)); left as it is');
    expect(rds.commandCalls(ModifyDBInstanceCommand)).toHaveLength(0);
  });

  test('the DB is gone under that name: an error naming where to look', async () => {
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    await expect(unfreeze(clients(), frozen(), 'orders-pre-rekey-20261130030405', 'releaseOriginal')).rejects.toThrow(
      '[releaseOriginal] orders-pre-rekey-20261130030405: no DB instance of this name exists. Next: check which name the original has now (the summary lists it)',
    );
  });

  test('no original groups: the VPC default group is put back, with a warning (once)', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [onlyFreeze()] });
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: 'sg-default' }] });
    rds.on(ModifyDBInstanceCommand).resolves({});
    const s = frozen({ originalSecurityGroupIds: [], vpcId: 'vpc-5' });
    const msg = await unfreeze(clients(), s, 'orders', 'rollbackUnfreeze');
    expect(ec2.commandCalls(DescribeSecurityGroupsCommand)[0].args[0].input).toEqual({ Filters: [{ Name: 'vpc-id', Values: ['vpc-5'] }, { Name: 'group-name', Values: ['default'] }] });
    expect(rds.commandCalls(ModifyDBInstanceCommand)[0].args[0].input.VpcSecurityGroupIds).toEqual(['sg-default']);
    expect(s.warnings).toEqual(["orders had no security group before the freeze; put back the VPC's default security group sg-default (what RDS assigns a database created without groups); check that it admits your clients"]);
    expect(msg).toContain('original security groups sg-default put back');
    s.freeze!.released = undefined;
    await unfreeze(clients(), s, 'orders', 'rollbackUnfreeze');
    expect(s.warnings).toHaveLength(1);
  });

  test('no original groups and the VPC from the DB description when the record has none', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [onlyFreeze()] });
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: 'sg-default' }] });
    rds.on(ModifyDBInstanceCommand).resolves({});
    await unfreeze(clients(), frozen({ originalSecurityGroupIds: [], vpcId: undefined }), 'orders', 'x');
    expect(ec2.commandCalls(DescribeSecurityGroupsCommand)[0].args[0].input.Filters![0]).toEqual({ Name: 'vpc-id', Values: ['vpc-1'] });
  });

  test('no original groups and no default group found: still frozen, an error with the command to choose groups', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [onlyFreeze()] });
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
    await expect(unfreeze(clients(), frozen({ originalSecurityGroupIds: [] }), 'orders', 'rollbackUnfreeze')).rejects.toThrow(
      '[rollbackUnfreeze] orders: the original security group list is empty and the default security group of VPC vpc-1 was not found; orders is still frozen (only sg-freeze). Next: choose the groups yourself: aws rds modify-db-instance --db-instance-identifier orders --vpc-security-group-ids <group> --apply-immediately',
    );
    rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ DBSubnetGroup: undefined, VpcSecurityGroups: [{ VpcSecurityGroupId: FREEZE_SG }] })] });
    const cl = { ...state({}, 'cluster'), freeze: { groupId: FREEZE_SG, originalSecurityGroupIds: [] } };
    await expect(unfreeze(clients(), cl, 'ledger', 'x')).rejects.toThrow('default security group of VPC (unknown) was not found; ledger is still frozen (only sg-freeze). Next: choose the groups yourself: aws rds modify-db-cluster --db-cluster-identifier ledger');
    expect(ec2.commandCalls(DescribeSecurityGroupsCommand)).toHaveLength(1); // no VPC: not even looked up
    expect(rds.commandCalls(ModifyDBInstanceCommand)).toHaveLength(0);
    expect(rds.commandCalls(ModifyDBClusterCommand)).toHaveLength(0);
  });
});

describe('describeDb, groupById, connectionsSince', () => {
  test('describeDb: an unencrypted DB has no key whatever KmsKeyId says; members of a cluster listed', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [withVpc({ StorageEncrypted: false, DBInstanceStatus: 'modifying' })] });
    expect(await describeDb(clients(), 'instance', 'orders')).toEqual({
      id: 'orders', kind: 'instance', status: 'modifying', keyId: undefined, vpcId: 'vpc-1', groups: [{ id: 'sg-2', status: 'active' }, { id: 'sg-1', status: 'active' }], members: [],
    });
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [withVpc()] });
    expect((await describeDb(clients(), 'instance', 'orders'))?.keyId).toBe(instance().KmsKeyId);
    rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ DBSubnetGroup: undefined, DBClusterMembers: [{ DBInstanceIdentifier: 'ledger-1' }, {}, { DBInstanceIdentifier: 'ledger-2' }] })] });
    expect(await describeDb(clients(), 'cluster', 'ledger')).toEqual({
      id: 'ledger', kind: 'cluster', status: 'available', keyId: instance().KmsKeyId, vpcId: undefined, groups: [{ id: 'sg-1', status: 'active' }], members: ['ledger-1', 'ledger-2'],
    });
    expect(rds.commandCalls(DescribeDBSubnetGroupsCommand)).toHaveLength(0);
    rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ StorageEncrypted: false, VpcSecurityGroups: undefined, DBClusterMembers: undefined })] });
    rds.on(DescribeDBSubnetGroupsCommand).rejects(notFound('DBSubnetGroupNotFoundFault'));
    expect(await describeDb(clients(), 'cluster', 'ledger')).toMatchObject({ keyId: undefined, vpcId: undefined, groups: [], members: [] });
    rds.on(DescribeDBClustersCommand).rejects(notFound('DBClusterNotFoundFault'));
    expect(await describeDb(clients(), 'cluster', 'ledger')).toBeUndefined();
  });

  test('groupById: a missing group (by error name or message) is undefined; any other error is raised', async () => {
    ec2.on(DescribeSecurityGroupsCommand).rejectsOnce(Object.assign(new Error('x'), { name: 'InvalidGroup.NotFound' }));
    await expect(groupById(clients(), 'sg-1')).resolves.toBeUndefined();
    ec2.reset();
    ec2.on(DescribeSecurityGroupsCommand).rejectsOnce(Object.assign(new Error("The security group 'sg-1' does not exist (InvalidGroupId.NotFound)"), { name: 'InvalidParameterValue' }));
    await expect(groupById(clients(), 'sg-1')).resolves.toBeUndefined();
    ec2.reset();
    ec2.on(DescribeSecurityGroupsCommand).rejectsOnce(Object.assign(new Error('denied'), { name: 'UnauthorizedOperation' }));
    await expect(groupById(clients(), 'sg-1')).rejects.toThrow('denied');
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: 'sg-1' }] });
    await expect(groupById(clients(), 'sg-1')).resolves.toEqual({ GroupId: 'sg-1' });
  });

  test('connectionsSince: Maximum per minute from the minute of `since`, one query per target, datapoints sorted by time', async () => {
    cw.on(GetMetricStatisticsCommand, { Dimensions: [{ Name: 'DBInstanceIdentifier', Value: 'a' }] }).resolves({
      Datapoints: [{ Timestamp: new Date('2026-11-30T03:07:00Z'), Maximum: 2 }, { Timestamp: new Date('2026-11-30T03:05:00Z'), Maximum: 0 }, { Timestamp: new Date('2026-11-30T03:06:00Z') }],
    });
    cw.on(GetMetricStatisticsCommand, { Dimensions: [{ Name: 'DBInstanceIdentifier', Value: 'b' }] }).resolves({ Datapoints: [{ Timestamp: new Date('2026-11-30T03:06:00Z'), Maximum: 1 }, { Maximum: 9 }] });
    const before = Date.now();
    const points = await connectionsSince(clients(), [{ dimension: 'DBInstanceIdentifier', id: 'a' }, { dimension: 'DBInstanceIdentifier', id: 'b' }], new Date('2026-11-30T03:04:05.123Z'));
    expect(points).toEqual([
      { id: 'a', at: '2026-11-30T03:05:00.000Z', max: 0 },
      { id: 'b', at: '2026-11-30T03:06:00.000Z', max: 1 },
      { id: 'a', at: '2026-11-30T03:07:00.000Z', max: 2 },
    ]);
    const inputs = cw.commandCalls(GetMetricStatisticsCommand).map((c) => c.args[0].input);
    expect(inputs).toHaveLength(2);
    expect(inputs[0]).toEqual({
      Namespace: 'AWS/RDS',
      MetricName: 'DatabaseConnections',
      Dimensions: [{ Name: 'DBInstanceIdentifier', Value: 'a' }],
      StartTime: new Date('2026-11-30T03:04:00.000Z'),
      EndTime: expect.any(Date),
      Period: 60,
      Statistics: ['Maximum'],
    });
    // The end is a minute ahead of now, so the current minute's datapoint is included.
    expect(inputs[0].EndTime!.getTime()).toBeGreaterThanOrEqual(before + 60_000);
    expect(inputs[0].EndTime!.getTime()).toBeLessThanOrEqual(Date.now() + 60_000);
  });
});

describe('checkFreezeState (the quiet check)', () => {
  const frozen = (over: Partial<RekeyState> = {}) => state({ freeze: { vpcId: 'vpc-1', groupId: FREEZE_SG, originalSecurityGroupIds: ['sg-1'], appliedAt: '2026-11-30T03:10:00.000Z' }, ...over });
  const points = (...p: Array<[string, number]>) => ({ Datapoints: p.map(([t, m]) => ({ Timestamp: new Date(t), Maximum: m })) });

  test('no freeze recorded, or the source gone: an error', async () => {
    await expect(checkFreezeState(clients(), state(), 'checkFreeze')).rejects.toThrow('[checkFreeze] orders: no freeze recorded in the state document. Next: resume the run: freezeSource applies it');
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    await expect(checkFreezeState(clients(), frozen(), 'checkFreeze')).rejects.toThrow('[checkFreeze] orders: no DB instance of this name exists. Next: check the console');
  });

  test('waits until the freeze group alone is active', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [withVpc({ VpcSecurityGroups: [{ VpcSecurityGroupId: FREEZE_SG, Status: 'adding' }, { VpcSecurityGroupId: 'sg-1', Status: 'removing' }] })] });
    expect(await checkFreezeState(clients(), frozen(), 'checkFreeze')).toEqual([false, 'waiting for orders to have only the freeze group sg-freeze active (now: sg-freeze adding, sg-1 removing)']);
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [onlyFreeze({ VpcSecurityGroups: [{ VpcSecurityGroupId: FREEZE_SG, Status: 'adding' }] })] });
    expect((await checkFreezeState(clients(), frozen(), 'checkFreeze'))[0]).toBe(false);
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [onlyFreeze({ VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-other', Status: 'active' }] })] });
    expect(await checkFreezeState(clients(), frozen(), 'checkFreeze')).toEqual([false, 'waiting for orders to have only the freeze group sg-freeze active (now: sg-other active)']);
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [onlyFreeze({ VpcSecurityGroups: [] })] });
    expect(await checkFreezeState(clients(), frozen(), 'checkFreeze')).toEqual([false, 'waiting for orders to have only the freeze group sg-freeze active (now: (none))']);
    expect(cw.calls()).toHaveLength(0);
  });

  test('a group without a status counts as active; no datapoint yet: wait for one', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [onlyFreeze({ VpcSecurityGroups: [{ VpcSecurityGroupId: FREEZE_SG }] })] });
    cw.on(GetMetricStatisticsCommand).resolves({ Datapoints: [] });
    expect(await checkFreezeState(clients(), frozen(), 'checkFreeze')).toEqual([false, 'clients of orders are blocked; waiting for a DatabaseConnections datapoint since 2026-11-30T03:10:00.000Z to prove it is quiet']);
    expect(cw.commandCalls(GetMetricStatisticsCommand)[0].args[0].input).toMatchObject({ Dimensions: [{ Name: 'DBInstanceIdentifier', Value: 'orders' }], StartTime: new Date('2026-11-30T03:10:00.000Z') });
  });

  test('connections opened before the freeze still open: waits, naming them and the limit; the latest datapoint per instance decides', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [onlyFreeze()] });
    cw.on(GetMetricStatisticsCommand).resolves(points(['2026-11-30T03:11:00Z', 0], ['2026-11-30T03:12:00Z', 4]));
    const s = frozen();
    expect(await checkFreezeState(clients(), s, 'checkFreeze')).toEqual([
      false,
      'clients of orders are blocked, but connections opened before the freeze are still open (orders: 4 at 2026-11-30T03:12:00.000Z; limit 0); close them (stop the application or its pooler)',
    ]);
    expect(s.freeze?.quietAt).toBeUndefined();
    cw.on(GetMetricStatisticsCommand).resolves(points(['2026-11-30T03:11:00Z', 4], ['2026-11-30T03:12:00Z', 0]));
    expect(await checkFreezeState(clients(), s, 'checkFreeze')).toEqual([true, 'orders is frozen and quiet (DatabaseConnections orders=0 at most 0); the final snapshot is next']);
    expect(s.freeze?.quietAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  test('maxConnections is the limit (a monitoring agent may stay connected)', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [onlyFreeze()] });
    cw.on(GetMetricStatisticsCommand).resolves(points(['2026-11-30T03:12:00Z', 1]));
    expect((await checkFreezeState(clients(), frozen({ maxConnections: 1 }), 'checkFreeze'))).toEqual([true, 'orders is frozen and quiet (DatabaseConnections orders=1 at most 1); the final snapshot is next']);
    cw.on(GetMetricStatisticsCommand).resolves(points(['2026-11-30T03:12:00Z', 2]));
    expect((await checkFreezeState(clients(), frozen({ maxConnections: 1 }), 'checkFreeze'))[1]).toContain('(orders: 2 at 2026-11-30T03:12:00.000Z; limit 1)');
  });

  test('Aurora: each member\'s DatabaseConnections is read (by instance), not the cluster\'s', async () => {
    rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ DBSubnetGroup: undefined, VpcSecurityGroups: [{ VpcSecurityGroupId: FREEZE_SG, Status: 'active' }] })] });
    cw.on(GetMetricStatisticsCommand, { Dimensions: [{ Name: 'DBInstanceIdentifier', Value: 'ledger-1' }] }).resolves(points(['2026-11-30T03:12:00Z', 0]));
    cw.on(GetMetricStatisticsCommand, { Dimensions: [{ Name: 'DBInstanceIdentifier', Value: 'ledger-2' }] }).resolves(points(['2026-11-30T03:12:00Z', 3]));
    const s = { ...frozen(), kind: 'cluster' as const, sourceId: 'ledger', source: { kind: 'cluster' as const, cluster: captureCluster(cluster(), [member('ledger-1'), member('ledger-2')]) } };
    const [done, msg] = await checkFreezeState(clients(), s, 'checkFreeze');
    expect(done).toBe(false);
    expect(msg).toContain('(ledger-2: 3 at 2026-11-30T03:12:00.000Z; limit 0)');
    expect(cw.commandCalls(GetMetricStatisticsCommand).map((c) => c.args[0].input.Dimensions)).toEqual([[{ Name: 'DBInstanceIdentifier', Value: 'ledger-1' }], [{ Name: 'DBInstanceIdentifier', Value: 'ledger-2' }]]);
  });
});

describe('assertFreezeHeld (the proof before each cutover rename)', () => {
  const SNAP = '2026-11-30T03:20:00.000Z';
  const held = (over: Partial<RekeyState> = {}) =>
    state({ snapshotStartedAt: SNAP, freeze: { vpcId: 'vpc-1', groupId: FREEZE_SG, originalSecurityGroupIds: ['sg-1'], appliedAt: '2026-11-30T03:10:00.000Z', quietAt: '2026-11-30T03:15:00.000Z' }, ...over });
  const NEXT = 'Next: retake the final snapshot: roll this run back (npm run kms-change -- --resume out/s.json --rollback: puts the original security groups back, releases the lock, keeps every copy), then start a new run with --cutover (a new freeze, a fresh final snapshot)';
  const refused = async (s: RekeyState, msg: string) => {
    const e = await assertFreezeHeld(clients(), s, 'renameSource', 'out/s.json').catch((x) => x);
    expect(e.name).toBe('FreezeNotHeld');
    expect(e.message).toBe(`[renameSource] orders: ${msg}; writes made since the final snapshot of ${s.snapshotStartedAt ?? '(unknown)'} would be missing from the database clients are switched to, so this step changed nothing. ${NEXT}`);
  };
  function world(opts: { renamed?: boolean; groups?: string[]; group?: object | null; points?: Array<[string, string, number]> } = {}) {
    const db = withVpc({ VpcSecurityGroups: (opts.groups ?? [FREEZE_SG]).map((g) => ({ VpcSecurityGroupId: g, Status: 'active' })) });
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: opts.renamed ? 'orders-pre-rekey-20261130030405' : 'orders' }).resolves({ DBInstances: [db] });
    if (opts.group === null) ec2.on(DescribeSecurityGroupsCommand).rejects(Object.assign(new Error('gone'), { name: 'InvalidGroup.NotFound' }));
    else ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: FREEZE_SG, IpPermissions: [], ...(opts.group ?? {}) }] });
    cw.on(GetMetricStatisticsCommand).resolves({ Datapoints: [] });
    for (const [id, t, m] of opts.points ?? []) cw.on(GetMetricStatisticsCommand, { Dimensions: [{ Name: 'DBInstanceIdentifier', Value: id }] }).resolves({ Datapoints: [{ Timestamp: new Date(t), Maximum: m }] });
  }

  test('held: the message names the group and the time; metrics of both names are read from the snapshot on', async () => {
    world();
    expect(await assertFreezeHeld(clients(), held(), 'renameSource')).toBe(`freeze held since the final snapshot: orders has only ${FREEZE_SG} (no inbound rules), no client connection since ${SNAP}`);
    expect(cw.commandCalls(GetMetricStatisticsCommand).map((c) => [c.args[0].input.Dimensions![0].Value, c.args[0].input.StartTime])).toEqual([
      ['orders', new Date(SNAP)],
      ['orders-pre-rekey-20261130030405', new Date(SNAP)],
    ]);
  });

  test('after the first rename the original is checked under its -pre-rekey- name (names.preRekeyId when set)', async () => {
    world({ renamed: true });
    expect(await assertFreezeHeld(clients(), held(), 'renameTarget')).toContain('freeze held since the final snapshot: orders-pre-rekey-20261130030405 has only sg-freeze');
    rds.reset();
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders-old' }).resolves({ DBInstances: [onlyFreeze()] });
    const s = held({ names: { sourceSnapshot: 'x', newId: 'y', preRekeyId: 'orders-old' } });
    expect(await assertFreezeHeld(clients(), s, 'renameTarget')).toContain('orders-old has only sg-freeze');
  });

  test('operator opted out: the declaration is returned, nothing read', async () => {
    expect(await assertFreezeHeld(clients(), held({ freezeOptOut: '--no-freeze at T' }), 'renameSource')).toBe('no enforced freeze (operator opted out: --no-freeze at T)');
    expect(rds.calls()).toHaveLength(0);
  });

  test('refused: no freeze, or one never proven quiet', async () => {
    await refused(state({ snapshotStartedAt: SNAP }), 'no enforced freeze was in place when the final snapshot was taken (a rehearsal copy, or the freeze never passed its quiet check)');
    await refused(held({ freeze: { groupId: FREEZE_SG, originalSecurityGroupIds: [] } }), 'no enforced freeze was in place when the final snapshot was taken (a rehearsal copy, or the freeze never passed its quiet check)');
    await refused(held({ freeze: { quietAt: SNAP, originalSecurityGroupIds: [] } }), 'no enforced freeze was in place when the final snapshot was taken (a rehearsal copy, or the freeze never passed its quiet check)');
    expect(rds.calls()).toHaveLength(0);
  });

  test('refused: the final snapshot was requested before the freeze was proven quiet (or never)', async () => {
    await refused(held({ snapshotStartedAt: '2026-11-30T03:14:59.999Z' }), 'the final snapshot (2026-11-30T03:14:59.999Z) was requested before the freeze was proven quiet (2026-11-30T03:15:00.000Z)');
    await refused(held({ snapshotStartedAt: undefined }), 'the final snapshot (undefined) was requested before the freeze was proven quiet (2026-11-30T03:15:00.000Z)');
    // At the same instant is fine.
    world();
    await expect(assertFreezeHeld(clients(), held({ snapshotStartedAt: '2026-11-30T03:15:00.000Z' }), 'renameSource')).resolves.toContain('freeze held');
  });

  test('refused: neither name exists', async () => {
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    await refused(held(), 'neither orders nor orders-pre-rekey-20261130030405 exists');
  });

  test('refused: groups changed by hand (another group added, or the freeze group swapped out)', async () => {
    world({ groups: [FREEZE_SG, 'sg-1'] });
    await refused(held(), 'the security groups of orders are now sg-freeze, sg-1, not only the freeze group sg-freeze: clients could reach it after the final snapshot');
    rds.reset();
    world({ groups: ['sg-1'] });
    await refused(held(), 'the security groups of orders are now sg-1, not only the freeze group sg-freeze: clients could reach it after the final snapshot');
    rds.reset();
    world({ groups: [] });
    await refused(held(), 'the security groups of orders are now (none), not only the freeze group sg-freeze: clients could reach it after the final snapshot');
  });

  test('refused: the freeze group was deleted, or someone added an inbound rule to it', async () => {
    world({ group: null });
    await refused(held(), 'the freeze group sg-freeze no longer exists');
    ec2.reset();
    world({ group: { IpPermissions: [{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, IpRanges: [{ CidrIp: '10.0.0.0/8' }] }] } });
    await refused(held(), 'the freeze group sg-freeze now has 1 inbound rule(s): clients could reach orders');
    ec2.reset();
    world({ group: { IpPermissions: undefined } });
    await expect(assertFreezeHeld(clients(), held(), 'renameSource')).resolves.toContain('freeze held');
  });

  test('refused: a DatabaseConnections datapoint above the limit since the final snapshot, on either name', async () => {
    world({ points: [['orders-pre-rekey-20261130030405', '2026-11-30T03:25:00Z', 2]] });
    await refused(held(), 'DatabaseConnections shows clients after the final snapshot (orders-pre-rekey-20261130030405: 2 at 2026-11-30T03:25:00.000Z)');
    cw.reset();
    world({ points: [['orders', '2026-11-30T03:25:00Z', 2]] });
    await expect(assertFreezeHeld(clients(), held({ maxConnections: 2 }), 'renameSource')).resolves.toContain('freeze held');
    await refused(held({ maxConnections: 1 }), 'DatabaseConnections shows clients after the final snapshot (orders: 2 at 2026-11-30T03:25:00.000Z)');
  });

  test('Aurora: the members under their own and their -pre-rekey- names are read; at most five busy points are named', async () => {
    const src = { kind: 'cluster' as const, cluster: captureCluster(cluster(), [member('ledger-1'), member('ledger-2')]) };
    const s: RekeyState = { ...held(), kind: 'cluster', sourceId: 'ledger', source: src };
    rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ DBSubnetGroup: undefined, VpcSecurityGroups: [{ VpcSecurityGroupId: FREEZE_SG }] })] });
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: FREEZE_SG, IpPermissions: [] }] });
    cw.on(GetMetricStatisticsCommand).resolves({ Datapoints: [1, 2, 3].map((m) => ({ Timestamp: new Date(`2026-11-30T03:2${m}:00Z`), Maximum: m })) });
    const e = await assertFreezeHeld(clients(), s, 'renameSource').catch((x) => x);
    expect(cw.commandCalls(GetMetricStatisticsCommand).map((c) => c.args[0].input.Dimensions![0].Value)).toEqual(['ledger-1', 'ledger-2', 'ledger-1-pre-rekey-20261130030405', 'ledger-2-pre-rekey-20261130030405']);
    expect(e.name).toBe('FreezeNotHeld');
    const named = /DatabaseConnections shows clients after the final snapshot \((.*)\);/.exec(e.message)![1].split(', ');
    expect(named).toHaveLength(5);
    expect(named[0]).toMatch(/^ledger-\d(-pre-rekey-20261130030405)?: 1 at 2026-11-30T03:21:00.000Z$/);
  });
});
