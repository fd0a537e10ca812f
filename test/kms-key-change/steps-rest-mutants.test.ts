/**
 * Step outputs an operator depends on that other files leave unasserted: verify's parity decisions
 * and messages (blue/green member pairing, after cutover, cross-Region, the intended encrypted
 * change, Performance Insights keys), describeRun's lines for states without names or with two
 * Regions, the blue/green start steps' exact commands and records, finalize's tag ARNs per Region
 * and partition, and the small shared helpers (need, srcCluster, keyOf, releaseLockOrWarn).
 * RDS is aws-sdk-client-mock on two client INSTANCES (source and target Region) so that which
 * Region a call went to is visible; moto cannot answer blue/green or PI keys (see steps.test.ts).
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { KMSClient } from '@aws-sdk/client-kms';
import {
  AddTagsToResourceCommand,
  CreateBlueGreenDeploymentCommand,
  DescribeBlueGreenDeploymentsCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  ListTagsForResourceCommand,
  RDSClient,
  SwitchoverBlueGreenDeploymentCommand,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { Clients } from '../../lambda/kms-key-change/clients';
import { captureInstance } from '../../lambda/kms-key-change/settings';
import { assertState } from '../../lambda/kms-key-change/state';
import { describeRun } from '../../lambda/kms-key-change/status';
import { getCluster, getInstance, keyOf, need, srcCluster, srcInstance } from '../../lambda/kms-key-change/step-base';
import { releaseLockOrWarn } from '../../lambda/kms-key-change/step-common';
import { createBlueGreen, finalize, switchover, verify } from '../../lambda/kms-key-change/steps';
import { ACCOUNT, cluster, instance, member, NEW_KEY, notFound, OLD_KEY, preflighted } from './fixtures';

const RUN = '20261130030405';
const NEWID = `orders-rekey-${RUN}`;
const east = new RDSClient({ region: 'us-east-1' });
const west = new RDSClient({ region: 'us-west-2' });
const src = mockClient(east);
const tgt = mockClient(west);
const kms = new KMSClient({ region: 'us-east-1' });
const same: Clients = { rds: east, kms, targetRds: east, targetKms: kms, ec2: new EC2Client({ region: 'us-east-1' }), cw: new CloudWatchClient({ region: 'us-east-1' }) };
const cross: Clients = { ...same, targetRds: west };

beforeEach(() => {
  src.reset();
  tgt.reset();
  for (const m of [src, tgt]) {
    m.on(DescribeDBInstancesCommand).rejects(notFound());
    m.on(DescribeDBClustersCommand).rejects(notFound('DBClusterNotFoundFault'));
    m.on(DescribeDBSnapshotsCommand).rejects(notFound('DBSnapshotNotFoundFault'));
    m.on(DescribeDBClusterSnapshotsCommand).rejects(notFound('DBClusterSnapshotNotFoundFault'));
  }
});
const copy = (over = {}) => instance({ DBInstanceIdentifier: NEWID, DBInstanceArn: `arn:aws:rds:us-east-1:${ACCOUNT}:db:${NEWID}`, KmsKeyId: NEW_KEY, PerformanceInsightsKMSKeyId: NEW_KEY, ...over });

describe('verify', () => {
  test('clean: the message names the copy, its key and the number of settings; not clean: the differing settings in order', async () => {
    src.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: NEWID }).resolves({ DBInstances: [copy()] });
    const r = await verify(same, preflighted());
    expect(r).toMatchObject({ done: true, message: `${NEWID} is encrypted with ${NEW_KEY}; parity clean (52 settings)` });
    expect(r.state.lastStep).toBe('verify');
    src.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: NEWID }).resolves({ DBInstances: [copy({ DBInstanceClass: 'x', MultiAZ: false, KmsKeyId: OLD_KEY })] });
    const b = await verify(same, preflighted());
    expect(b.message).toBe(`${NEWID}: parity NOT clean: encryption key, instanceClass, multiAZ`);
    expect(b.state.parity![0]).toEqual({ setting: 'encryption key', source: OLD_KEY, target: OLD_KEY, result: 'differs' });
  });

  test('a setting that went from false to true other than "encrypted" is a difference, not the intended change', async () => {
    src.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: NEWID }).resolves({ DBInstances: [copy({ IAMDatabaseAuthenticationEnabled: true })] });
    const s = preflighted({ source: { kind: 'instance', instance: captureInstance(instance({ IAMDatabaseAuthenticationEnabled: false })) } });
    const r = await verify(same, s);
    expect(r.state.parity!.filter((l) => l.result === 'differs')).toEqual([{ setting: 'iamAuth', source: false, target: true, result: 'differs' }]);
    // An unencrypted source: the encrypted line is the intended change; the key line says where it came from.
    const u = preflighted({ sourceKeyArn: undefined, source: { kind: 'instance', instance: captureInstance(instance({ StorageEncrypted: false, PerformanceInsightsKMSKeyId: undefined, PerformanceInsightsEnabled: false })) } });
    src.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: NEWID }).resolves({ DBInstances: [copy({ PerformanceInsightsEnabled: false, PerformanceInsightsKMSKeyId: undefined })] });
    const v = await verify(same, u);
    expect(v.state.parity!.filter((l) => l.result !== 'same')).toEqual([
      { setting: 'encryption key', source: 'unencrypted', target: NEW_KEY, result: 'expected' },
      { setting: 'arn', source: `arn:aws:rds:us-east-1:${ACCOUNT}:db:orders`, target: `arn:aws:rds:us-east-1:${ACCOUNT}:db:${NEWID}`, result: 'expected' },
      { setting: 'encrypted', source: false, target: true, result: 'expected' },
      { setting: 'id', source: 'orders', target: NEWID, result: 'expected' },
      { setting: 'kmsKeyId', source: null, target: NEW_KEY, result: 'expected' },
    ]);
    expect(v.state.parityClean).toBe(true);
  });

  test('cross-Region: the copy is described in the target Region and its Regional settings may differ', async () => {
    tgt.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: NEWID }).resolves({ DBInstances: [copy({ VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-w' }], DBSubnetGroup: { DBSubnetGroupName: 'west' } })] });
    const r = await verify(cross, preflighted({ targetRegion: 'us-west-2' }));
    expect(r.state.parityClean).toBe(true);
    expect(r.state.parity!.filter((l) => l.setting === 'securityGroupIds' || l.setting === 'subnetGroup').map((l) => l.result)).toEqual(['expected', 'expected']);
  });

  test('a PI key left on the old key is flagged only for the snapshot method and only where PI is on', async () => {
    const s = preflighted({ source: { kind: 'instance', instance: captureInstance(instance({ PerformanceInsightsEnabled: false })) } });
    src.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: NEWID }).resolves({ DBInstances: [copy({ PerformanceInsightsEnabled: false, PerformanceInsightsKMSKeyId: OLD_KEY })] });
    expect((await verify(same, s)).state.parityClean).toBe(true);
    // Blue/green: RDS owns the PI key of the green environment.
    src.on(DescribeBlueGreenDeploymentsCommand).resolves({ BlueGreenDeployments: [{ Status: 'AVAILABLE', Target: `arn:aws:rds:us-east-1:${ACCOUNT}:db:orders-green-1` }] });
    src.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders-green-1' }).resolves({ DBInstances: [copy({ DBInstanceIdentifier: 'orders-green-1', PerformanceInsightsKMSKeyId: OLD_KEY })] });
    const bg = await verify(same, preflighted({ method: 'blue-green', blueGreenId: 'bgd-1' }));
    expect(bg.state.parity!.filter((l) => l.result === 'differs')).toEqual([]);
    src.on(DescribeBlueGreenDeploymentsCommand).resolves({ BlueGreenDeployments: [{ Status: 'PROVISIONING' }] });
    await expect(verify(same, preflighted({ method: 'blue-green', blueGreenId: 'bgd-1' }))).rejects.toThrow('[verify] green target: missing from the state document');
    expect(bg.message).toBe(`orders-green-1 is encrypted with ${NEW_KEY}; parity clean (52 settings)`);
  });

  test('Aurora after cutover: members compared under their own (renamed) names; after a rollback by the run\'s names; blue/green pairs only instance members', async () => {
    const newCl = (id: string, m: string[]) => cluster({ DBClusterIdentifier: id, KmsKeyId: NEW_KEY, DBClusterMembers: m.map((x, i) => ({ DBInstanceIdentifier: x, IsClusterWriter: i === 0, PromotionTier: i })) });
    for (const x of ['ledger-1', 'ledger-2', `ledger-1-rekey-${RUN}`, `ledger-2-rekey-${RUN}`, 'g-1', 'g-2']) {
      src.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: x }).resolves({ DBInstances: [member(x, { PerformanceInsightsKMSKeyId: NEW_KEY })] });
    }
    src.on(DescribeDBClustersCommand, { DBClusterIdentifier: 'ledger' }).resolves({ DBClusters: [newCl('ledger', ['ledger-1', 'ledger-2'])] });
    src.on(DescribeDBClustersCommand, { DBClusterIdentifier: `ledger-rekey-${RUN}` }).resolves({ DBClusters: [newCl(`ledger-rekey-${RUN}`, [`ledger-1-rekey-${RUN}`, `ledger-2-rekey-${RUN}`])] });
    const done = { at: 'T', sourceRenamedTo: 'x', memberRenames: [], done: true };
    const after = await verify(same, preflighted({ cutover: done }, 'cluster'));
    expect(after.state.parity!.filter((l) => l.result === 'differs')).toEqual([]);
    const rolled = await verify(same, preflighted({ cutover: done, rolledBack: { at: 'T', done: true } }, 'cluster'));
    expect(rolled.state.parity!.filter((l) => l.result === 'differs')).toEqual([]);
    expect(rolled.message).toMatch(new RegExp(`^ledger-rekey-${RUN} is encrypted`));
    src.on(DescribeBlueGreenDeploymentsCommand).resolves({
      BlueGreenDeployments: [{
        Status: 'AVAILABLE',
        Target: `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:g`,
        SwitchoverDetails: [
          { SourceMember: `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:ledger`, TargetMember: `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:g` },
          { SourceMember: `arn:aws:rds:us-east-1:${ACCOUNT}:db:ledger-1`, TargetMember: `arn:aws:rds:us-east-1:${ACCOUNT}:db:g-1` },
          { SourceMember: `arn:aws:rds:us-east-1:${ACCOUNT}:db:ledger-2`, TargetMember: `arn:aws:rds:us-east-1:${ACCOUNT}:db:g-2` },
          { SourceMember: `arn:aws:rds:us-east-1:${ACCOUNT}:db:ledger-2` },
          { TargetMember: `arn:aws:rds:us-east-1:${ACCOUNT}:db:g-3` },
        ],
      }],
    });
    src.on(DescribeDBClustersCommand, { DBClusterIdentifier: 'g' }).resolves({ DBClusters: [newCl('g', ['g-1', 'g-2'])] });
    const bg = await verify(same, preflighted({ method: 'blue-green', blueGreenId: 'bgd-1' }, 'cluster'));
    expect(bg.state.parity!.filter((l) => l.result === 'differs')).toEqual([]);
    expect(bg.state.parity!.filter((l) => /^member ledger-\d: id$/.test(l.setting)).map((l) => l.target)).toEqual(['g-1', 'g-2']);
  });
});

describe('describeRun', () => {
  test('the copy snapshot is described in the target Region, the source snapshot in the source Region; the copy too', async () => {
    src.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders' }).resolves({ DBInstances: [instance()] });
    src.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: `${NEWID}-src` }).resolves({ DBSnapshots: [{ Status: 'available' }] });
    tgt.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: `${NEWID}-new` }).resolves({ DBSnapshots: [{ Status: 'copying' }] });
    tgt.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: NEWID }).resolves({ DBInstances: [copy({ DBInstanceStatus: 'creating' })] });
    const st = await describeRun(cross, preflighted({ targetRegion: 'us-west-2' }));
    expect(st).toEqual({
      lines: [
        `orders: exists, available, source key ${OLD_KEY}, security groups sg-2, sg-1`,
        `${NEWID}: exists, creating, target key ${NEW_KEY}, security groups sg-2, sg-1`,
        `snapshot ${NEWID}-src: available`,
        `snapshot ${NEWID}-new: copying`,
      ],
      sourceNameAffected: false,
      renamed: false,
    });
  });

  test('shared with an account: no -pre-rekey- name; an empty describe answer is "does not exist"; Aurora snapshots by cluster snapshot id', async () => {
    src.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders' }).resolves({ DBInstances: [instance({ VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-freeze' }, { VpcSecurityGroupId: 'sg-1' }] })] });
    src.on(DescribeDBSnapshotsCommand).resolves({});
    const st = await describeRun(same, preflighted({ shareWithAccount: '210987654321', freeze: { groupId: 'sg-freeze', originalSecurityGroupIds: ['sg-1'] } }));
    expect(st.lines).toEqual([
      `orders: exists, available, source key ${OLD_KEY}, security groups sg-freeze, sg-1`,
      `${NEWID}: does not exist`,
      `snapshot ${NEWID}-src: does not exist`,
      `snapshot ${NEWID}-new: does not exist`,
    ]);
    // A -pre-rekey- name is never this (share) run's: not described, so not "renamed".
    src.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: `orders-pre-rekey-${RUN}` }).resolves({ DBInstances: [instance()] });
    expect((await describeRun(same, preflighted({ shareWithAccount: '210987654321' }))).renamed).toBe(false);
    src.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [] });
    src.on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: `ledger-rekey-${RUN}-src` }).resolves({ DBClusterSnapshots: [{ Status: 'creating' }] });
    const cl = await describeRun(same, preflighted({}, 'cluster'));
    expect(cl.lines.slice(-1)).toEqual([`snapshot ledger-rekey-${RUN}-src: creating`]);
  });

  test('a state without names (failed in preflight): the source and its would-be -pre-rekey- name only', async () => {
    src.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders' }).resolves({ DBInstances: [instance({ VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-x' }] })] });
    const st = await describeRun(same, preflighted({ names: undefined, freeze: { groupId: 'sg-freeze', originalSecurityGroupIds: [] } }));
    expect(st).toEqual({ lines: [`orders: exists, available, source key ${OLD_KEY}, security groups sg-x`, `orders-pre-rekey-${RUN}: does not exist`], sourceNameAffected: false, renamed: false });
  });
});

describe('blue/green steps', () => {
  test('createBlueGreen: the exact request; a retry with the id recorded creates nothing; no id in the answer is an error', async () => {
    src.on(CreateBlueGreenDeploymentCommand).resolves({ BlueGreenDeployment: { BlueGreenDeploymentIdentifier: 'bgd-9' } });
    const r = await createBlueGreen(same, preflighted({ method: 'blue-green', source: { kind: 'instance', instance: captureInstance(instance({ ReadReplicaDBInstanceIdentifiers: ['orders-r1'] })) } }));
    expect(src.commandCalls(CreateBlueGreenDeploymentCommand).map((c) => c.args[0].input)).toEqual([
      {
        BlueGreenDeploymentName: `orders-rekey-${RUN}`,
        Source: `arn:aws:rds:us-east-1:${ACCOUNT}:db:orders`,
        TargetResourceConfigurations: [
          { SourceArn: `arn:aws:rds:us-east-1:${ACCOUNT}:db:orders`, TargetKmsKeyId: NEW_KEY },
          { SourceArn: `arn:aws:rds:us-east-1:${ACCOUNT}:db:orders-r1`, TargetKmsKeyId: NEW_KEY },
        ],
        Tags: [{ Key: 'db-ops-kit:rekey-run', Value: RUN }, { Key: 'db-ops-kit:rekey-source', Value: 'orders' }, { Key: 'db-ops-kit:rekey-role', Value: 'blue-green-deployment' }],
      },
    ]);
    expect(r).toMatchObject({ done: true, message: 'blue/green deployment bgd-9' });
    expect(r.state.artifacts).toEqual([{ type: 'blue-green-deployment', id: 'bgd-9', region: 'us-east-1', role: `orders-rekey-${RUN}: green environment on the target key` }]);
    const again = await createBlueGreen(same, r.state);
    expect(src.commandCalls(CreateBlueGreenDeploymentCommand)).toHaveLength(1);
    expect(again.state.artifacts).toHaveLength(1);
    src.on(CreateBlueGreenDeploymentCommand).resolves({});
    await expect(createBlueGreen(same, preflighted({ method: 'blue-green' }))).rejects.toThrow('[createBlueGreen] blue/green deployment id: missing from the state document');
    await expect(createBlueGreen(same, preflighted({ method: 'blue-green', targetKeyArn: undefined }))).rejects.toThrow('[createBlueGreen] target key: missing from the state document');
    // An Aurora cluster: the cluster only (its instances follow it).
    src.on(CreateBlueGreenDeploymentCommand).resolves({ BlueGreenDeployment: { BlueGreenDeploymentIdentifier: 'bgd-c' } });
    await createBlueGreen(same, preflighted({ method: 'blue-green' }, 'cluster'));
    expect(src.commandCalls(CreateBlueGreenDeploymentCommand).at(-1)!.args[0].input.TargetResourceConfigurations).toEqual([{ SourceArn: `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:ledger`, TargetKmsKeyId: NEW_KEY }]);
  });

  test('switchover: requested only from AVAILABLE with a 300 s timeout; the cutover is recorded either way', async () => {
    src.on(DescribeBlueGreenDeploymentsCommand).resolves({ BlueGreenDeployments: [{ Status: 'AVAILABLE' }] });
    const r = await switchover(same, preflighted({ method: 'blue-green', blueGreenId: 'bgd-1' }));
    expect(src.commandCalls(SwitchoverBlueGreenDeploymentCommand).map((c) => c.args[0].input)).toEqual([{ BlueGreenDeploymentIdentifier: 'bgd-1', SwitchoverTimeout: 300 }]);
    expect(r).toMatchObject({ done: true, message: 'switchover of bgd-1 started' });
    expect(r.state.cutover).toEqual({ at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), sourceRenamedTo: 'orders-old1 (named by RDS)', memberRenames: [] });
    src.on(DescribeBlueGreenDeploymentsCommand).resolves({ BlueGreenDeployments: [{ Status: 'SWITCHOVER_IN_PROGRESS' }] });
    await switchover(same, preflighted({ method: 'blue-green', blueGreenId: 'bgd-1' }));
    expect(src.commandCalls(SwitchoverBlueGreenDeploymentCommand)).toHaveLength(1);
    await expect(switchover(same, preflighted({ method: 'blue-green' }))).rejects.toThrow('[switchover] blue/green deployment id: missing');
  });
});

describe('finalize', () => {
  test('tags each artifact in its own Region with the partition of the source ARN; no account is an error', async () => {
    for (const m of [src, tgt]) {
      m.on(AddTagsToResourceCommand).resolves({});
      m.on(DescribeDBInstancesCommand).rejects(notFound());
    }
    const s = preflighted({
      targetRegion: 'us-west-2',
      source: { kind: 'instance', instance: { ...captureInstance(instance()), arn: `arn:aws-cn:rds:us-east-1:${ACCOUNT}:db:orders` } },
      artifacts: [
        { type: 'db-snapshot', id: 'snap-src', region: 'us-east-1', role: 'source snapshot' },
        { type: 'db-instance', id: NEWID, region: 'us-west-2', role: 'copy' },
      ],
    });
    const r = await finalize(cross, s);
    expect(src.commandCalls(AddTagsToResourceCommand).map((c) => c.args[0].input.ResourceName)).toEqual([`arn:aws-cn:rds:us-east-1:${ACCOUNT}:snapshot:snap-src`]);
    expect(tgt.commandCalls(AddTagsToResourceCommand).map((c) => c.args[0].input.ResourceName)).toEqual([`arn:aws-cn:rds:us-west-2:${ACCOUNT}:db:${NEWID}`]);
    expect(r.message).toBe(`kept 2 resource(s): db-snapshot snap-src (us-east-1); db-instance ${NEWID} (us-west-2)`);
    // No captured source: the aws partition.
    const c = await finalize(cross, { ...s, source: undefined, artifacts: [{ type: 'db-cluster', id: 'c', region: 'us-east-1', role: 'r' }] });
    expect(src.commandCalls(AddTagsToResourceCommand).at(-1)!.args[0].input.ResourceName).toBe(`arn:aws:rds:us-east-1:${ACCOUNT}:cluster:c`);
    expect(c.state.warnings).toEqual([]);
    await expect(finalize(cross, { ...s, account: undefined })).rejects.toThrow('[finalize] account: missing from the state document');
  });

  test('a run that created nothing (aborted after preflight) says so, not "kept 0 resource(s): "', async () => {
    const r = await finalize(same, preflighted({ artifacts: [] }));
    expect(r.message).toBe('nothing to keep: this run created no resources');
    expect(src.commandCalls(AddTagsToResourceCommand)).toEqual([]);
  });
});

describe('shared helpers', () => {
  test('need refuses undefined and null, keeps 0/""/false; srcInstance/srcCluster name the mismatch', () => {
    expect(() => need(null, 'restore', 'names')).toThrow('[restore] names: missing from the state document. Next: run preflight first (or resume from the state file it wrote)');
    expect(() => need(undefined, 'restore', 'names')).toThrow('[restore] names: missing');
    expect([need(0, 's', 'w'), need('', 's', 'w'), need(false, 's', 'w')]).toEqual([0, '', false]);
    expect(() => srcCluster(preflighted(), 'checkRestore')).toThrow('[checkRestore] orders: state says instance, step expects a cluster. Next: check the state file');
    expect(() => srcInstance(preflighted({}, 'cluster'), 'applySettings')).toThrow('[applySettings] ledger: state says cluster, step expects an instance. Next: check the state file');
  });

  test('getInstance/getCluster: an empty answer or not found is undefined; keyOf only for encrypted resources', async () => {
    src.on(DescribeDBInstancesCommand).resolves({});
    src.on(DescribeDBClustersCommand).resolves({});
    expect([await getInstance(east, 'a'), await getCluster(east, 'a')]).toEqual([undefined, undefined]);
    expect([keyOf(undefined), keyOf({ KmsKeyId: 'k' }), keyOf({ StorageEncrypted: false, KmsKeyId: 'k' }), keyOf({ StorageEncrypted: true, KmsKeyId: 'k' })]).toEqual([undefined, undefined, undefined, 'k']);
  });

  test('releaseLockOrWarn: a failed release returns nothing and warns once with the --break-lock command', async () => {
    src.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
    src.on(ListTagsForResourceCommand).rejects(Object.assign(new Error('no'), { name: 'AccessDenied' }));
    const s = preflighted();
    expect(await releaseLockOrWarn(same, s)).toEqual([]);
    expect(await releaseLockOrWarn(same, s)).toEqual([]);
    expect(s.warnings).toEqual([`could not remove the run lock (db-ops-kit:rekey-lock=${RUN}): AccessDenied; release it with: npm run kms-change -- --db-instance orders --region us-east-1 --break-lock ${RUN}`]);
  });

  test('assertState: snapshot names that do not end in -rekey-<run>-src, and a captured source without an id, say nothing about the owner', () => {
    const s = preflighted();
    expect(() => assertState({ ...s, names: { sourceSnapshot: `billing-rekey-${RUN}-src-old`, newId: 'x' } })).not.toThrow();
    expect(() => assertState({ ...s, names: { sourceSnapshot: `pre/billing-rekey-${RUN}-src`, newId: 'x' } })).toThrow('belongs to pre/billing, not orders');
    expect(() => assertState({ ...s, names: undefined, source: { kind: 'instance', instance: {} } as never })).not.toThrow();
  });
});
