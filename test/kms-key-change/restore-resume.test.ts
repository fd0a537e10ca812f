/**
 * Snapshot, restore and settings steps (lambda/kms-key-change/snapshot-steps.ts, restore-steps.ts) on
 * the paths the StrykerJS run of 2026-12-01 found untested (survivors of restore.test.ts/steps.test.ts):
 * what the state records (artifacts, progress, the writes-stopped declaration), a state missing a
 * piece (named in the error), Performance Insights recorded only by its key, a copy that cannot be
 * described, and a state file written before a field existed. aws-sdk-client-mock records the inputs
 * (moto ignores KmsKeyId on copies and the groups of a restore); see restore.test.ts.
 */
import {
  AddRoleToDBClusterCommand,
  AddRoleToDBInstanceCommand,
  CopyDBSnapshotCommand,
  CreateDBInstanceCommand,
  CreateDBSnapshotCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  ModifyDBClusterCommand,
  ModifyDBInstanceCommand,
  RDSClient,
  RestoreDBInstanceFromDBSnapshotCommand,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { captureCluster, captureInstance } from '../../lambda/kms-key-change/settings';
import * as steps from '../../lambda/kms-key-change/steps';
import { ACCOUNT, clients, cluster, instance, member, NEW_KEY, notFound, OLD_KEY, preflighted } from './fixtures';

const rds = mockClient(RDSClient);
const RUN = '20261130030405';
const WEST_KEY = NEW_KEY.replace('us-east-1', 'us-west-2');

beforeEach(() => rds.reset());

describe('instance restore', () => {
  test('records the new instance as a kept artifact and says what it restores from', async () => {
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    rds.on(RestoreDBInstanceFromDBSnapshotCommand).resolves({});
    const r = await steps.restore(clients(), preflighted({ targetRegion: 'us-west-2', targetKeyArn: WEST_KEY }));
    expect(r.message).toBe(`restoring orders-rekey-${RUN} from orders-rekey-${RUN}-new`);
    expect(r.state.artifacts).toEqual([{ type: 'db-instance', id: `orders-rekey-${RUN}`, region: 'us-west-2', role: 'new instance on the target key' }]);
    expect(r.state.lastStep).toBe('restore');
  });

  test('a state without the copy snapshot name is refused naming it', async () => {
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    await expect(steps.restore(clients(), preflighted({ names: { sourceSnapshot: 'x', newId: 'y' } }))).rejects.toThrow('[restore] copy snapshot: missing from the state document');
    expect(rds.commandCalls(RestoreDBInstanceFromDBSnapshotCommand)).toHaveLength(0);
  });

  test('a state file written before processorFeatures was captured still restores (no ProcessorFeatures sent)', async () => {
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    rds.on(RestoreDBInstanceFromDBSnapshotCommand).resolves({});
    const cap = { ...captureInstance(instance()) } as Record<string, unknown>;
    delete cap.processorFeatures;
    await steps.restore(clients(), preflighted({}, 'instance', { kind: 'instance', instance: cap as never }));
    expect(rds.commandCalls(RestoreDBInstanceFromDBSnapshotCommand)[0].args[0].input.ProcessorFeatures).toBeUndefined();
  });

  test('checkRestore records the status as progress', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance({ DBInstanceStatus: 'backing-up' })] });
    const r = await steps.checkRestore(clients(), preflighted());
    expect(r.state.progress).toEqual({ step: 'checkRestore', status: 'backing-up' });
  });

  test('Performance Insights known only by its key (PI off, key recorded) is turned on with the TARGET key; PI on with the default key too', async () => {
    rds.on(ModifyDBInstanceCommand).resolves({});
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
    const keyOnly = captureInstance(instance({ PerformanceInsightsEnabled: false, PerformanceInsightsKMSKeyId: OLD_KEY }));
    await steps.applySettings(clients(), preflighted({}, 'instance', { kind: 'instance', instance: keyOnly }));
    expect(rds.commandCalls(ModifyDBInstanceCommand)[0].args[0].input).toMatchObject({ EnablePerformanceInsights: true, PerformanceInsightsKMSKeyId: NEW_KEY });
    const onNoKey = captureInstance(instance({ PerformanceInsightsEnabled: true, PerformanceInsightsKMSKeyId: undefined }));
    await steps.applySettings(clients(), preflighted({}, 'instance', { kind: 'instance', instance: onNoKey }));
    expect(rds.commandCalls(ModifyDBInstanceCommand)[1].args[0].input).toMatchObject({ EnablePerformanceInsights: true, PerformanceInsightsKMSKeyId: NEW_KEY });
  });

  test('applySettings when the copy cannot be described: every role of the source is added', async () => {
    rds.on(ModifyDBInstanceCommand).resolves({});
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    rds.on(AddRoleToDBInstanceCommand).resolves({});
    await steps.applySettings(clients(), preflighted());
    expect(rds.commandCalls(AddRoleToDBInstanceCommand).map((c) => c.args[0].input)).toEqual([{ DBInstanceIdentifier: `orders-rekey-${RUN}`, RoleArn: `arn:aws:iam::${ACCOUNT}:role/s3-import`, FeatureName: 's3Import' }]);
  });
});

describe('Aurora restore', () => {
  test('checkRestore: members already there (a state that lost them) are recorded with their role; a cluster without status polls', async () => {
    rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ DBClusterIdentifier: `ledger-rekey-${RUN}` })] });
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [member('x')] });
    const r = await steps.checkRestore(clients(), preflighted({}, 'cluster'));
    expect(r.done).toBe(true);
    expect(r.state.artifacts).toEqual([
      { type: 'db-instance', id: `ledger-1-rekey-${RUN}`, region: 'us-east-1', role: 'member of the new cluster (was ledger-1)' },
      { type: 'db-instance', id: `ledger-2-rekey-${RUN}`, region: 'us-east-1', role: 'member of the new cluster (was ledger-2)' },
    ]);
    expect(rds.commandCalls(CreateDBInstanceCommand)).toHaveLength(0);
    rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ Status: undefined })] });
    const p = await steps.checkRestore(clients(), preflighted({}, 'cluster'));
    expect(p.done).toBe(false);
  });

  test('a state without member names, or a member without its class, is refused naming what is missing', async () => {
    rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster()] });
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    const base = preflighted({}, 'cluster');
    await expect(steps.checkRestore(clients(), { ...base, names: { ...base.names!, memberIds: undefined } })).rejects.toThrow('[checkRestore] member names: missing from the state document');
    const noClass = captureCluster(cluster({ DBClusterMembers: [{ DBInstanceIdentifier: 'ledger-1', IsClusterWriter: true }] }), [member('ledger-1', { DBInstanceClass: undefined })]);
    await expect(steps.checkRestore(clients(), preflighted({}, 'cluster', { kind: 'cluster', cluster: noClass }))).rejects.toThrow('[checkRestore] class of ledger-1: missing from the state document');
    rds.on(ModifyDBClusterCommand).resolves({});
    await expect(steps.applySettings(clients(), { ...base, names: { ...base.names!, memberIds: undefined } })).rejects.toThrow('[applySettings] member names: missing from the state document');
    expect(rds.commandCalls(CreateDBInstanceCommand)).toHaveLength(0);
  });

  test('a member whose PI is known only by its key is created and modified with PI on the target key', async () => {
    const src = captureCluster(cluster({ DBClusterMembers: [{ DBInstanceIdentifier: 'ledger-1', IsClusterWriter: true }] }), [member('ledger-1', { PerformanceInsightsEnabled: false, PerformanceInsightsKMSKeyId: OLD_KEY })]);
    const s = preflighted({}, 'cluster', { kind: 'cluster', cluster: src });
    rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster()] });
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    rds.on(CreateDBInstanceCommand).resolves({});
    rds.on(ModifyDBClusterCommand).resolves({});
    rds.on(ModifyDBInstanceCommand).resolves({});
    await steps.checkRestore(clients(), s);
    expect(rds.commandCalls(CreateDBInstanceCommand)[0].args[0].input).toMatchObject({ EnablePerformanceInsights: true, PerformanceInsightsKMSKeyId: NEW_KEY });
    await steps.applySettings(clients(), s);
    expect(rds.commandCalls(ModifyDBInstanceCommand)[0].args[0].input).toMatchObject({ EnablePerformanceInsights: true, PerformanceInsightsKMSKeyId: NEW_KEY });
  });

  test('applySettings when the new cluster cannot be described: every role of the source is added', async () => {
    const src = captureCluster(cluster({ AssociatedRoles: [{ RoleArn: 'arn:aws:iam::123456789012:role/s3', FeatureName: 's3Import' }] }), [member('ledger-1'), member('ledger-2')]);
    rds.on(ModifyDBClusterCommand).resolves({});
    rds.on(ModifyDBInstanceCommand).resolves({});
    rds.on(DescribeDBClustersCommand).rejects(notFound('DBClusterNotFoundFault'));
    rds.on(AddRoleToDBClusterCommand).resolves({});
    await steps.applySettings(clients(), preflighted({}, 'cluster', { kind: 'cluster', cluster: src }));
    expect(rds.commandCalls(AddRoleToDBClusterCommand).map((c) => c.args[0].input)).toEqual([{ DBClusterIdentifier: `ledger-rekey-${RUN}`, RoleArn: 'arn:aws:iam::123456789012:role/s3', FeatureName: 's3Import' }]);
  });
});

describe('snapshot and copy', () => {
  test('a rehearsal\'s snapshot is tagged writes-stopped=false; the step and the artifact are recorded', async () => {
    rds.on(DescribeDBSnapshotsCommand).rejects(notFound('DBSnapshotNotFoundFault'));
    rds.on(CreateDBSnapshotCommand).resolves({});
    const r = await steps.createSnapshot(clients(), preflighted());
    expect(rds.commandCalls(CreateDBSnapshotCommand)[0].args[0].input.Tags).toContainEqual({ Key: 'db-ops-kit:rekey-writes-stopped', Value: 'false' });
    expect(r.state.lastStep).toBe('createSnapshot');
    expect(r.state.artifacts).toEqual([{ type: 'db-snapshot', id: `orders-rekey-${RUN}-src`, region: 'us-east-1', role: 'snapshot of the source (source key)' }]);
  });

  test('a snapshot found from an earlier attempt: writes-stopped among other tags counts; no tags at all is "not stopped"', async () => {
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: 'available', TagList: [{ Key: 'team', Value: 'orders' }, { Key: 'db-ops-kit:rekey-writes-stopped', Value: 'true' }] }] });
    expect((await steps.createSnapshot(clients(), preflighted())).state.snapshotWritesStopped).toBe(true);
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: 'available' }] });
    expect((await steps.createSnapshot(clients(), preflighted({ cutoverRequested: true }))).state.snapshotWritesStopped).toBe(false);
  });

  test('copySnapshot (instance) records the copy as a db-snapshot in the restore Region', async () => {
    rds.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: `orders-rekey-${RUN}-new` }).resolves({ DBSnapshots: [{ Status: 'copying' }] });
    const r = await steps.copySnapshot(clients(), preflighted({ targetRegion: 'us-west-2', targetKeyArn: WEST_KEY }));
    expect(r.state.artifacts).toEqual([{ type: 'db-snapshot', id: `orders-rekey-${RUN}-new`, region: 'us-west-2', role: 'copy encrypted with the target key' }]);
  });

  test('copySnapshot refuses without a target key, and cross-Region without the source snapshot\'s ARN', async () => {
    await expect(steps.copySnapshot(clients(), preflighted({ targetKeyArn: undefined }))).rejects.toThrow('[copySnapshot] target key: missing from the state document');
    rds.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: `orders-rekey-${RUN}-new` }).rejects(notFound('DBSnapshotNotFoundFault'));
    rds.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: `orders-rekey-${RUN}-src` }).resolves({ DBSnapshots: [{ Status: 'available' }] });
    await expect(steps.copySnapshot(clients(), preflighted({ targetRegion: 'us-west-2', targetKeyArn: WEST_KEY }))).rejects.toThrow('[copySnapshot] source snapshot ARN: missing from the state document');
    expect(rds.commandCalls(CopyDBSnapshotCommand)).toHaveLength(0);
  });

  test('cross-Region copy: a default option group (or none) is not named; the copy goes by ARN with SourceRegion', async () => {
    rds.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: `orders-rekey-${RUN}-new` }).rejects(notFound('DBSnapshotNotFoundFault'));
    rds.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: `orders-rekey-${RUN}-src` }).resolves({ DBSnapshots: [{ Status: 'available', DBSnapshotArn: 'arn:src' }] });
    rds.on(CopyDBSnapshotCommand).resolves({});
    await steps.copySnapshot(clients(), preflighted({ targetRegion: 'us-west-2', targetKeyArn: WEST_KEY })); // default:postgres-16
    const none = { kind: 'instance' as const, instance: captureInstance(instance({ OptionGroupMemberships: [] })) };
    await steps.copySnapshot(clients(), preflighted({ targetRegion: 'us-west-2', targetKeyArn: WEST_KEY }, 'instance', none));
    for (const c of rds.commandCalls(CopyDBSnapshotCommand)) {
      expect(c.args[0].input).toMatchObject({ SourceDBSnapshotIdentifier: 'arn:src', SourceRegion: 'us-east-1' });
      expect(c.args[0].input).not.toHaveProperty('OptionGroupName');
    }
    // Same Region: no option group either, even a custom one (the copy keeps it).
    const custom = { kind: 'instance' as const, instance: captureInstance(instance({ OptionGroupMemberships: [{ OptionGroupName: 'orders-options' }] })) };
    await steps.copySnapshot(clients(), preflighted({}, 'instance', custom));
    expect(rds.commandCalls(CopyDBSnapshotCommand)[2].args[0].input).not.toHaveProperty('OptionGroupName');
    expect(rds.commandCalls(DescribeDBClusterSnapshotsCommand)).toHaveLength(0);
  });
});
