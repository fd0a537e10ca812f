/**
 * Decisions of the individual steps, from SDK responses. aws-sdk-client-mock is used where moto
 * cannot produce the state: snapshot progress and failure states, a copy that ends up on the wrong
 * key, blue/green deployments (moto ignores TargetKmsKeyId and never reaches AVAILABLE), pending
 * modifications. The moto integration tests run the same steps end to end.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import {
  AddRoleToDBInstanceCommand,
  CopyDBClusterSnapshotCommand,
  CopyDBSnapshotCommand,
  CreateBlueGreenDeploymentCommand,
  CreateDBInstanceCommand,
  CreateDBSnapshotCommand,
  DescribeBlueGreenDeploymentsCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  ListTagsForResourceCommand,
  ModifyDBInstanceCommand,
  RDSClient,
  RestoreDBClusterFromSnapshotCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
  SwitchoverBlueGreenDeploymentCommand,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { handleStep } from '../../lambda/kms-key-change/handler';
import { buildPlan, formatPlan } from '../../lambda/kms-key-change/plan';
import { phasesFor, resumePoint, runPhases } from '../../lambda/kms-key-change/runner';
import { captureCluster, captureInstance, formatParity, parityReport } from '../../lambda/kms-key-change/settings';
import { newState, RekeyState } from '../../lambda/kms-key-change/state';
import * as steps from '../../lambda/kms-key-change/steps';
import { ACCOUNT, clients, cluster, instance, member, NEW_KEY, notFound, OLD_KEY } from './fixtures';

const rds = mockClient(RDSClient);
mockClient(KMSClient);
const NOW = new Date('2026-11-30T03:04:05Z');

function preflighted(over: Partial<RekeyState> = {}, kind: 'instance' | 'cluster' = 'instance'): RekeyState {
  const s = newState({ kind, sourceId: kind === 'instance' ? 'orders' : 'ledger', kmsKey: NEW_KEY, region: 'us-east-1', now: NOW });
  const run = '20261130030405';
  return {
    ...s,
    account: ACCOUNT,
    targetKeyArn: NEW_KEY,
    sourceKeyArn: OLD_KEY,
    lastStep: 'preflight',
    source:
      kind === 'instance'
        ? { kind: 'instance', instance: captureInstance(instance()) }
        : { kind: 'cluster', cluster: captureCluster(cluster(), [member('ledger-1'), member('ledger-2')]) },
    names:
      kind === 'instance'
        ? { sourceSnapshot: `orders-rekey-${run}-src`, copySnapshot: `orders-rekey-${run}-new`, newId: `orders-rekey-${run}` }
        : { sourceSnapshot: `ledger-rekey-${run}-src`, newId: `ledger-rekey-${run}`, memberIds: { 'ledger-1': `ledger-1-rekey-${run}`, 'ledger-2': `ledger-2-rekey-${run}` } },
    ...over,
  };
}

beforeEach(() => rds.reset());

describe('snapshot and copy', () => {
  test('createSnapshot creates once, tags it, and reuses an existing one on retry', async () => {
    rds.on(DescribeDBSnapshotsCommand).rejectsOnce(notFound('DBSnapshotNotFoundFault')).resolves({ DBSnapshots: [{ Status: 'creating' }] });
    rds.on(CreateDBSnapshotCommand).resolves({});
    const r1 = await steps.createSnapshot(clients(), preflighted());
    const r2 = await steps.createSnapshot(clients(), r1.state);
    expect(rds.commandCalls(CreateDBSnapshotCommand)).toHaveLength(1);
    const input = rds.commandCalls(CreateDBSnapshotCommand)[0].args[0].input;
    expect(input).toMatchObject({ DBInstanceIdentifier: 'orders', DBSnapshotIdentifier: 'orders-rekey-20261130030405-src' });
    expect(input.Tags).toEqual(expect.arrayContaining([{ Key: 'db-ops-kit:rekey-run', Value: '20261130030405' }]));
    expect(r2.message).toMatch(/reusing/);
    expect(r2.state.artifacts).toHaveLength(1);
  });

  test('checkSnapshot: creating → poll again with percent; available → done; failed → error naming next step', async () => {
    rds.on(DescribeDBSnapshotsCommand).resolvesOnce({ DBSnapshots: [{ Status: 'creating', PercentProgress: 42 }] }).resolvesOnce({ DBSnapshots: [{ Status: 'available', PercentProgress: 100 }] }).resolves({ DBSnapshots: [{ Status: 'failed' }] });
    const a = await steps.checkSnapshot(clients(), preflighted());
    expect([a.done, a.state.progress?.percent, a.state.lastStep]).toEqual([false, 42, 'preflight']);
    const b = await steps.checkSnapshot(clients(), a.state);
    expect([b.done, b.state.lastStep]).toEqual([true, 'checkSnapshot']);
    await expect(steps.checkSnapshot(clients(), b.state)).rejects.toThrow(/\[checkSnapshot\] orders-rekey-20261130030405-src: snapshot status is "failed". Next: .*source is untouched/);
  });

  test('copySnapshot: same Region by name with the target key; cross-Region by ARN with SourceRegion', async () => {
    rds.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: 'orders-rekey-20261130030405-new' }).rejects(notFound('DBSnapshotNotFoundFault'));
    rds.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: 'orders-rekey-20261130030405-src' }).resolves({ DBSnapshots: [{ Status: 'available', DBSnapshotArn: `arn:aws:rds:us-east-1:${ACCOUNT}:snapshot:orders-rekey-20261130030405-src` }] });
    rds.on(CopyDBSnapshotCommand).resolves({});
    await steps.copySnapshot(clients(), preflighted());
    const west = NEW_KEY.replace('us-east-1', 'us-west-2');
    await steps.copySnapshot(clients(), preflighted({ targetRegion: 'us-west-2', targetKeyArn: west }));
    const [same, cross] = rds.commandCalls(CopyDBSnapshotCommand).map((c) => c.args[0].input);
    expect(same).toMatchObject({ SourceDBSnapshotIdentifier: 'orders-rekey-20261130030405-src', TargetDBSnapshotIdentifier: 'orders-rekey-20261130030405-new', KmsKeyId: NEW_KEY });
    expect(same).not.toHaveProperty('SourceRegion');
    expect(cross).toMatchObject({ SourceDBSnapshotIdentifier: `arn:aws:rds:us-east-1:${ACCOUNT}:snapshot:orders-rekey-20261130030405-src`, KmsKeyId: west, SourceRegion: 'us-east-1' });
  });

  test('copySnapshot (Aurora, cross-Region): CopyDBClusterSnapshot carries the target Region key and SourceRegion (moto ignores KmsKeyId on copies)', async () => {
    const src = `arn:aws:rds:us-east-1:${ACCOUNT}:cluster-snapshot:ledger-rekey-20261130030405-src`;
    rds.on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: 'ledger-rekey-20261130030405-new' }).rejects(notFound('DBClusterSnapshotNotFoundFault'));
    rds.on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: 'ledger-rekey-20261130030405-src' }).resolves({ DBClusterSnapshots: [{ Status: 'available', DBClusterSnapshotArn: src }] });
    rds.on(CopyDBClusterSnapshotCommand).resolves({});
    const west = NEW_KEY.replace('us-east-1', 'us-west-2');
    const base = preflighted({}, 'cluster');
    await steps.copySnapshot(clients(), { ...base, targetRegion: 'us-west-2', targetKeyArn: west, names: { ...base.names!, copySnapshot: 'ledger-rekey-20261130030405-new' } });
    expect(rds.commandCalls(CopyDBClusterSnapshotCommand).map((c) => c.args[0].input)).toEqual([
      { SourceDBClusterSnapshotIdentifier: src, TargetDBClusterSnapshotIdentifier: 'ledger-rekey-20261130030405-new', KmsKeyId: west, SourceRegion: 'us-east-1', Tags: expect.any(Array) },
    ]);
  });

  test('checkCopy refuses a copy that is not on the target key', async () => {
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: 'available', KmsKeyId: OLD_KEY }] });
    await expect(steps.checkCopy(clients(), preflighted())).rejects.toThrow(/encrypted with .*0a, not .*0b/);
  });

  test('Aurora same Region: no copy step', async () => {
    const r = await steps.copySnapshot(clients(), preflighted({}, 'cluster'));
    expect(r.message).toMatch(/no copy needed/);
    expect(rds.calls()).toHaveLength(0);
  });
});

describe('restore and settings', () => {
  test('Aurora restore (same Region) asks for the target key, the source\'s security groups and its NetworkType (moto copies groups anyway)', async () => {
    rds.on(DescribeDBClustersCommand).rejects(notFound('DBClusterNotFoundFault'));
    rds.on(RestoreDBClusterFromSnapshotCommand).resolves({});
    const s = preflighted({ source: { kind: 'cluster', cluster: captureCluster(cluster({ NetworkType: 'DUAL' }), [member('ledger-1')]) } }, 'cluster');
    await steps.restore(clients(), s);
    expect(rds.commandCalls(RestoreDBClusterFromSnapshotCommand)[0].args[0].input).toMatchObject({
      DBClusterIdentifier: 'ledger-rekey-20261130030405',
      SnapshotIdentifier: 'ledger-rekey-20261130030405-src',
      KmsKeyId: NEW_KEY,
      VpcSecurityGroupIds: ['sg-1'],
      NetworkType: 'DUAL',
    });
  });

  test('restore passes every setting RestoreDBInstanceFromDBSnapshot accepts, plus the tags', async () => {
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    rds.on(RestoreDBInstanceFromDBSnapshotCommand).resolves({});
    await steps.restore(clients(), preflighted());
    const input = rds.commandCalls(RestoreDBInstanceFromDBSnapshotCommand)[0].args[0].input;
    expect(input).toMatchObject({
      DBInstanceIdentifier: 'orders-rekey-20261130030405',
      DBSnapshotIdentifier: 'orders-rekey-20261130030405-new',
      DBInstanceClass: 'db.r6g.large',
      MultiAZ: true,
      DBSubnetGroupName: 'db-private',
      VpcSecurityGroupIds: ['sg-1', 'sg-2'],
      DBParameterGroupName: 'pg16-orders',
      EnableIAMDatabaseAuthentication: true,
      EnableCloudwatchLogsExports: ['postgresql', 'upgrade'],
      DeletionProtection: true,
      BackupRetentionPeriod: 14,
      PreferredBackupWindow: '03:00-04:00',
      StorageType: 'gp3',
      CACertificateIdentifier: 'rds-ca-rsa2048-g1',
    });
    // gp3 reports its baseline (3000 IOPS, 125 MiBps); passing them back below 400 GiB is an
    // InvalidParameterCombination, so both come from the snapshot.
    expect(input).not.toHaveProperty('Iops', expect.anything());
    expect(input).not.toHaveProperty('StorageThroughput', expect.anything());
    expect(input.Tags).toEqual(expect.arrayContaining([{ Key: 'team', Value: 'orders' }, { Key: 'db-ops-kit:rekey-role', Value: 'rekeyed-copy' }]));
  });

  test('restore keeps provisioned IOPS for io1/io2, the Extended Support choice and the dedicated log volume', async () => {
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    rds.on(RestoreDBInstanceFromDBSnapshotCommand).resolves({});
    const src = instance({ StorageType: 'io2', Iops: 12000, StorageThroughput: undefined, EngineLifecycleSupport: 'open-source-rds-extended-support-disabled', DedicatedLogVolume: true });
    await steps.restore(clients(), preflighted({ source: { kind: 'instance', instance: captureInstance(src) } }));
    // Without EngineLifecycleSupport a restore enrols in (paid) Extended Support by default.
    expect(rds.commandCalls(RestoreDBInstanceFromDBSnapshotCommand)[0].args[0].input).toMatchObject({ StorageType: 'io2', Iops: 12000, EngineLifecycleSupport: 'open-source-rds-extended-support-disabled', DedicatedLogVolume: true });
  });

  test('applySettings: what a restore cannot take goes through ModifyDBInstance; PI moves to the target key; roles added once', async () => {
    rds.on(ModifyDBInstanceCommand).resolves({});
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance({ AssociatedRoles: [] })] });
    rds.on(AddRoleToDBInstanceCommand).resolves({});
    await steps.applySettings(clients(), preflighted());
    expect(rds.commandCalls(ModifyDBInstanceCommand)[0].args[0].input).toEqual({
      DBInstanceIdentifier: 'orders-rekey-20261130030405',
      ApplyImmediately: true,
      PreferredMaintenanceWindow: 'sun:05:00-sun:06:00',
      MaxAllocatedStorage: 1000,
      MonitoringInterval: 60,
      MonitoringRoleArn: `arn:aws:iam::${ACCOUNT}:role/rds-monitoring`,
      EnablePerformanceInsights: true,
      PerformanceInsightsKMSKeyId: NEW_KEY,
      PerformanceInsightsRetentionPeriod: 7,
    });
    expect(rds.commandCalls(AddRoleToDBInstanceCommand)[0].args[0].input).toEqual({ DBInstanceIdentifier: 'orders-rekey-20261130030405', RoleArn: `arn:aws:iam::${ACCOUNT}:role/s3-import`, FeatureName: 's3Import' });
  });

  test('checkApply waits for pending modifications', async () => {
    rds.on(DescribeDBInstancesCommand).resolvesOnce({ DBInstances: [instance({ DBInstanceStatus: 'available', PendingModifiedValues: { MultiAZ: true } })] }).resolves({ DBInstances: [instance()] });
    expect((await steps.checkApply(clients(), preflighted())).done).toBe(false);
    expect((await steps.checkApply(clients(), preflighted())).done).toBe(true);
  });

  test('Aurora: the writer is created first; readers wait until it is available', async () => {
    rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ DBClusterIdentifier: 'ledger-rekey-20261130030405', KmsKeyId: NEW_KEY, DBClusterMembers: [] })] });
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    rds.on(CreateDBInstanceCommand).resolves({});
    const r = await steps.checkRestore(clients(), preflighted({}, 'cluster'));
    expect(r.done).toBe(false);
    expect(rds.commandCalls(CreateDBInstanceCommand).map((c) => c.args[0].input)).toEqual([
      expect.objectContaining({ DBInstanceIdentifier: 'ledger-1-rekey-20261130030405', DBClusterIdentifier: 'ledger-rekey-20261130030405', PromotionTier: 0, EnablePerformanceInsights: true, PerformanceInsightsKMSKeyId: NEW_KEY, MonitoringInterval: 60 }),
    ]);
    rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'ledger-1-rekey-20261130030405' }).resolves({ DBInstances: [member('ledger-1-rekey-20261130030405')] });
    await steps.checkRestore(clients(), r.state);
    expect(rds.commandCalls(CreateDBInstanceCommand).map((c) => c.args[0].input.DBInstanceIdentifier)).toEqual(['ledger-1-rekey-20261130030405', 'ledger-2-rekey-20261130030405']);
    expect(rds.commandCalls(CreateDBInstanceCommand)[1].args[0].input.PromotionTier).toBe(1);
  });
});

describe('verify, cutover, rollback guards', () => {
  test('parity report flags a differing setting and a wrong key, expects identifiers and key to change', () => {
    const a = { kind: 'instance' as const, instance: captureInstance(instance()) };
    const b = { kind: 'instance' as const, instance: captureInstance(instance({ DBInstanceIdentifier: 'orders-rekey-1', KmsKeyId: NEW_KEY, BackupRetentionPeriod: 1 })) };
    const lines = parityReport(a, b);
    expect(lines.filter((l) => l.result === 'differs').map((l) => l.setting)).toEqual(['backupRetentionPeriod']);
    expect(lines.find((l) => l.setting === 'kmsKeyId')?.result).toBe('expected');
    expect(formatParity(lines)).toMatch(/DIFFERS\s+backupRetentionPeriod\s+14\s+1/);
  });

  test('parity covers what a restore does not carry: activity streams, cross-Region backup replication, processor features, extra volumes, license model, cluster NetworkType', () => {
    const src = {
      kind: 'instance' as const,
      instance: captureInstance(
        instance({
          ActivityStreamStatus: 'started',
          DBInstanceAutomatedBackupsReplications: [{ DBInstanceAutomatedBackupsArn: `arn:aws:rds:us-west-2:${ACCOUNT}:auto-backup:ab-1` }],
          ProcessorFeatures: [{ Name: 'coreCount', Value: '4' }, { Name: 'threadsPerCore', Value: '1' }],
          AdditionalStorageVolumes: [{ VolumeName: 'RDSDBDATA2', AllocatedStorage: 200, IOPS: 3000 }],
          LicenseModel: 'bring-your-own-license',
        }),
      ),
    };
    const tgt = { kind: 'instance' as const, instance: captureInstance(instance({ DBInstanceIdentifier: 'orders-rekey-1', KmsKeyId: NEW_KEY, ActivityStreamStatus: 'stopped', LicenseModel: 'license-included' })) };
    const differs = parityReport(src, tgt).filter((l) => l.result === 'differs').map((l) => l.setting);
    expect(differs).toEqual(['activityStream', 'additionalStorageVolumes', 'backupReplicationRegions', 'licenseModel', 'processorFeatures']);
    const c1 = { kind: 'cluster' as const, cluster: captureCluster(cluster({ NetworkType: 'DUAL', ActivityStreamStatus: 'started' }), []) };
    const c2 = { kind: 'cluster' as const, cluster: captureCluster(cluster({ DBClusterIdentifier: 'ledger-rekey-1', NetworkType: 'IPV4', ActivityStreamStatus: 'stopped' }), []) };
    expect(parityReport(c1, c2).filter((l) => l.result === 'differs').map((l) => l.setting)).toEqual(['activityStream', 'networkType']);
  });

  test('verify: clean when only the key and names differ; not clean when the copy is on another key', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance({ DBInstanceIdentifier: 'orders-rekey-20261130030405', KmsKeyId: NEW_KEY, PerformanceInsightsKMSKeyId: NEW_KEY })] });
    const ok = await steps.verify(clients(), preflighted());
    expect(ok.state.parityClean).toBe(true);
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance({ DBInstanceIdentifier: 'orders-rekey-20261130030405' })] });
    const bad = await steps.verify(clients(), preflighted());
    expect(bad.state.parityClean).toBe(false);
    expect(bad.message).toMatch(/parity NOT clean: encryption key/);
  });

  test('verify: Performance Insights left on the old key is not clean (snapshot method)', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance({ DBInstanceIdentifier: 'orders-rekey-20261130030405', KmsKeyId: NEW_KEY, PerformanceInsightsEnabled: true, PerformanceInsightsKMSKeyId: OLD_KEY })] });
    const r = await steps.verify(clients(), preflighted());
    expect(r.state.parityClean).toBe(false);
    expect(r.state.parity!.filter((l) => l.result === 'differs').map((l) => l.setting)).toEqual(['orders-rekey-20261130030405: Performance Insights key']);
  });

  test('cutover refuses without a clean parity report, and for cross-Region copies', async () => {
    await expect(steps.renameSource(clients(), preflighted({ parityClean: false }))).rejects.toThrow(/parity report is not clean/);
    await expect(steps.renameSource(clients(), preflighted({ parityClean: true, targetRegion: 'us-west-2' }))).rejects.toThrow(/same-Region/);
    expect(rds.commandCalls(ModifyDBInstanceCommand)).toHaveLength(0);
  });

  test('renameSource renames only while the source still has the source key (idempotent on retry)', async () => {
    rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders' }).resolvesOnce({ DBInstances: [instance()] }).resolves({ DBInstances: [instance({ KmsKeyId: NEW_KEY })] });
    rds.on(ModifyDBInstanceCommand).resolves({});
    // An opted-out run (no freeze to prove): the rename guard is tested on its own here; the freeze proof in freeze.test.ts and on moto.
    const r = await steps.renameSource(clients(), preflighted({ parityClean: true, snapshotWritesStopped: true, freezeOptOut: 'test' }));
    await steps.renameSource(clients(), r.state);
    const calls = rds.commandCalls(ModifyDBInstanceCommand).map((c) => c.args[0].input);
    expect(calls).toEqual([{ DBInstanceIdentifier: 'orders', NewDBInstanceIdentifier: expect.stringMatching(/^orders-pre-rekey-\d{14}$/), ApplyImmediately: true }]);
  });

  test('cutover refuses a copy whose snapshot was taken while writes were allowed (a rehearsal run)', async () => {
    // The run now asks for cutover (cutoverRequested) but its copy came from a rehearsal snapshot: no freeze was in place.
    const rehearsal = preflighted({ parityClean: true, cutoverRequested: true, snapshotStartedAt: '2026-11-30T03:05:00.000Z', snapshotWritesStopped: false });
    await expect(steps.renameSource(clients(), rehearsal)).rejects.toThrow(/no enforced freeze was in place when the final snapshot was taken.*2026-11-30T03:05:00.000Z.*retake the final snapshot/);
    // Opted out of the freeze: the operator's declaration is all there is, and it is missing.
    const optedOut = { ...rehearsal, freezeOptOut: 'test' };
    await expect(steps.renameSource(clients(), optedOut)).rejects.toThrow(/snapshot taken at 2026-11-30T03:05:00.000Z in a run that did not ask for cutover/);
    expect(rds.calls()).toHaveLength(0);
    // A cutover already under way (its record saved by the first rename) goes on: only `cutover`, not
    // `cutoverRequested`, says the renames started.
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance({ KmsKeyId: NEW_KEY })] });
    const started = { ...optedOut, cutover: { at: 'x', sourceRenamedTo: 'orders-pre-rekey-20261130030405', memberRenames: [] } };
    await expect(steps.renameSource(clients(), started)).resolves.toMatchObject({ done: true });
  });

  test('createSnapshot records when the data was frozen and whether writes were declared stopped', async () => {
    rds.on(DescribeDBSnapshotsCommand).rejects(notFound('DBSnapshotNotFoundFault'));
    rds.on(CreateDBSnapshotCommand).resolves({});
    const rehearsal = await steps.createSnapshot(clients(), preflighted());
    expect(rehearsal.state.snapshotWritesStopped).toBe(false);
    expect(rehearsal.message).toMatch(/rehearsal: writes to the source after this point will not be in the copy/);
    const real = await steps.createSnapshot(clients(), preflighted({ cutoverRequested: true }));
    expect(real.state.snapshotWritesStopped).toBe(true);
    expect(Date.parse(real.state.snapshotStartedAt!)).not.toBeNaN();
    expect(rds.commandCalls(CreateDBSnapshotCommand)[1].args[0].input.Tags).toContainEqual({ Key: 'db-ops-kit:rekey-writes-stopped', Value: 'true' });
    // A rehearsal crashed after its CreateDBSnapshot call and is resumed with cutover: the snapshot it
    // finds was taken while writes went on (its tag says so), so the copy is not marked cutover-ready.
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: 'available', SnapshotCreateTime: new Date('2026-11-29T10:00:00Z'), TagList: [{ Key: 'db-ops-kit:rekey-writes-stopped', Value: 'false' }] }] });
    const resumed = await steps.createSnapshot(clients(), preflighted({ cutoverRequested: true }));
    expect(resumed.state).toMatchObject({ snapshotWritesStopped: false, snapshotStartedAt: '2026-11-29T10:00:00.000Z' });
  });

  test('rollback works after a cutover that crashed right after renaming the source (no cutover record saved)', async () => {
    const pre = 'orders-pre-rekey-20261130030405';
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: pre }).resolves({ DBInstances: [instance({ DBInstanceIdentifier: pre })] });
    rds.on(ModifyDBInstanceCommand).resolves({});
    const crashed = preflighted({ parityClean: true, snapshotWritesStopped: true, names: { ...preflighted().names!, preRekeyId: pre } });
    const a = await steps.rollbackRenameNew(clients(), crashed);
    expect(a.state.cutover?.sourceRenamedTo).toBe(pre);
    await steps.rollbackRenameSource(clients(), a.state);
    // Nothing holds the original name, so only the rename back of the original is issued.
    expect(rds.commandCalls(ModifyDBInstanceCommand).map((c) => c.args[0].input)).toEqual([{ DBInstanceIdentifier: pre, NewDBInstanceIdentifier: 'orders', ApplyImmediately: true }]);
  });

  test('rollback is refused for blue/green and once it is done; before any cutover it renames nothing (abort)', async () => {
    await expect(steps.rollbackRenameNew(clients(), preflighted({ method: 'blue-green' }))).rejects.toThrow(/-old1 suffix/);
    await expect(steps.rollbackRenameNew(clients(), preflighted())).resolves.toMatchObject({ done: true, message: 'no cutover to undo: orders was never renamed' });
    const done = preflighted({ cutover: { at: 'x', sourceRenamedTo: 'orders-pre-rekey-20261130030405', memberRenames: [], done: false }, rolledBack: { at: '2026-11-30T04:00:00Z', done: true } });
    await expect(steps.rollbackRenameNew(clients(), done)).rejects.toThrow(/already rolled back/);
    // Only the look-up for a crashed cutover's -pre-rekey- names was made; nothing was renamed.
    expect(rds.calls().map((c) => c.args[0].constructor.name)).toEqual(['DescribeDBInstancesCommand']);
  });
});

describe('blue/green', () => {
  test('creates the deployment with TargetResourceConfigurations[].TargetKmsKeyId for the source and its replicas', async () => {
    rds.on(CreateBlueGreenDeploymentCommand).resolves({ BlueGreenDeployment: { BlueGreenDeploymentIdentifier: 'bgd-1' } });
    const s = preflighted({ method: 'blue-green', source: { kind: 'instance', instance: captureInstance(instance({ ReadReplicaDBInstanceIdentifiers: ['orders-ro'] })) } });
    const r = await steps.createBlueGreen(clients(), s);
    await steps.createBlueGreen(clients(), r.state);
    expect(rds.commandCalls(CreateBlueGreenDeploymentCommand)).toHaveLength(1);
    expect(rds.commandCalls(CreateBlueGreenDeploymentCommand)[0].args[0].input).toMatchObject({
      BlueGreenDeploymentName: 'orders-rekey-20261130030405',
      Source: `arn:aws:rds:us-east-1:${ACCOUNT}:db:orders`,
      TargetResourceConfigurations: [
        { SourceArn: `arn:aws:rds:us-east-1:${ACCOUNT}:db:orders`, TargetKmsKeyId: NEW_KEY },
        { SourceArn: `arn:aws:rds:us-east-1:${ACCOUNT}:db:orders-ro`, TargetKmsKeyId: NEW_KEY },
      ],
    });
  });

  test('polls PROVISIONING, fails on INVALID_CONFIGURATION, switches over only from AVAILABLE', async () => {
    const s = preflighted({ method: 'blue-green', blueGreenId: 'bgd-1' });
    rds.on(DescribeBlueGreenDeploymentsCommand).resolvesOnce({ BlueGreenDeployments: [{ Status: 'PROVISIONING', Tasks: [] }] }).resolvesOnce({ BlueGreenDeployments: [{ Status: 'INVALID_CONFIGURATION', StatusDetails: 'logical replication off' }] });
    expect((await steps.checkBlueGreen(clients(), s)).done).toBe(false);
    await expect(steps.checkBlueGreen(clients(), s)).rejects.toThrow(/INVALID_CONFIGURATION.*logical replication off/);
    rds.on(DescribeBlueGreenDeploymentsCommand).resolves({ BlueGreenDeployments: [{ Status: 'SWITCHOVER_IN_PROGRESS' }] });
    rds.on(SwitchoverBlueGreenDeploymentCommand).resolves({});
    await steps.switchover(clients(), s);
    expect(rds.commandCalls(SwitchoverBlueGreenDeploymentCommand)).toHaveLength(0);
    rds.on(DescribeBlueGreenDeploymentsCommand).resolves({ BlueGreenDeployments: [{ Status: 'AVAILABLE' }] });
    await steps.switchover(clients(), s);
    expect(rds.commandCalls(SwitchoverBlueGreenDeploymentCommand)[0].args[0].input).toEqual({ BlueGreenDeploymentIdentifier: 'bgd-1', SwitchoverTimeout: 300 });
  });
});

test('blue/green verify on Aurora pairs blue and green members through SwitchoverDetails', async () => {
  const arn = (t: string, id: string) => `arn:aws:rds:us-east-1:${ACCOUNT}:${t}:${id}`;
  rds.on(DescribeBlueGreenDeploymentsCommand).resolves({
    BlueGreenDeployments: [{
      Status: 'AVAILABLE',
      Target: arn('cluster', 'ledger-green-abc'),
      SwitchoverDetails: [
        { SourceMember: arn('cluster', 'ledger'), TargetMember: arn('cluster', 'ledger-green-abc') },
        { SourceMember: arn('db', 'ledger-1'), TargetMember: arn('db', 'ledger-1-green-x') },
        { SourceMember: arn('db', 'ledger-2'), TargetMember: arn('db', 'ledger-2-green-y') },
      ],
    }],
  });
  rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ DBClusterIdentifier: 'ledger-green-abc', KmsKeyId: NEW_KEY, DBClusterMembers: [{ DBInstanceIdentifier: 'ledger-1-green-x', IsClusterWriter: true, PromotionTier: 0 }, { DBInstanceIdentifier: 'ledger-2-green-y', IsClusterWriter: false, PromotionTier: 1 }] })] });
  rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'ledger-1-green-x' }).resolves({ DBInstances: [member('ledger-1-green-x', { DBClusterIdentifier: 'ledger-green-abc', PerformanceInsightsKMSKeyId: NEW_KEY })] });
  rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'ledger-2-green-y' }).resolves({ DBInstances: [member('ledger-2-green-y', { DBClusterIdentifier: 'ledger-green-abc', PerformanceInsightsKMSKeyId: NEW_KEY })] });
  const r = await steps.verify(clients(), preflighted({ method: 'blue-green', blueGreenId: 'bgd-1' }, 'cluster'));
  expect(r.state.parity!.filter((l) => l.result === 'differs')).toEqual([]);
  expect(r.state.parityClean).toBe(true);
});

describe('runner, plan, handler', () => {
  test('resume point: after a finished check go on; after a start resume at its check', () => {
    const phases = phasesFor(preflighted(), { cutover: true });
    expect(phases.map((p) => p.name)).toEqual(['Preflight', 'FreezeSource', 'SnapshotSource', 'CopyWithTargetKey', 'Restore', 'ApplySettings', 'Verify', 'RenameSource', 'RenameNew', 'Finalize']);
    expect(resumePoint(phases, undefined)).toEqual({ index: 0, atCheck: false });
    expect(resumePoint(phases, 'copySnapshot')).toEqual({ index: 3, atCheck: true });
    expect(resumePoint(phases, 'checkCopy')).toEqual({ index: 4, atCheck: false });
    expect(phasesFor(preflighted({ shareWithAccount: '210987654321' }), { cutover: false }).map((p) => p.name)).toEqual(['Preflight', 'FreezeSource', 'SnapshotSource', 'CopyWithTargetKey', 'ShareSnapshot', 'Finalize']);
  });

  test('runPhases stops before cutover when parity is not clean', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance({ DBInstanceIdentifier: 'orders-rekey-20261130030405' })] });
    // A resume confirms the run lock first; this run holds it (lock.test.ts covers the other cases).
    rds.on(ListTagsForResourceCommand).resolves({ TagList: [{ Key: 'db-ops-kit:rekey-lock', Value: '20261130030405' }] });
    const s = await runPhases(clients(), preflighted({ lastStep: 'checkApply' }), phasesFor(preflighted(), { cutover: true }), { pollMs: 0 });
    expect(s.parityClean).toBe(false);
    expect(rds.commandCalls(ModifyDBInstanceCommand)).toHaveLength(0);
  });

  test('plan lists the calls in order, the settings, the write stop and a downtime estimate from storage size', () => {
    const p = buildPlan(preflighted());
    expect(p.calls[0]).toBe('rds:CreateDBSnapshot orders-rekey-20261130030405-src (source key) in us-east-1');
    expect(p.calls[1]).toContain(`KmsKeyId=${NEW_KEY}`);
    expect(p.reapplied).toEqual(expect.arrayContaining(['parameter group: pg16-orders', 'deletion protection: true', 'Performance Insights: on, 7 days, key → target key']));
    expect(p.downtime[0]).toMatchObject({ method: 'snapshot', minutes: 335 });
    expect(p.downtime[1]).toMatchObject({ method: 'blue-green', minutes: 1 });
    expect(formatPlan(p)).toMatch(/Writes stopped:\n {2}- from before orders-rekey-20261130030405-src until cutover completes/);
    const c = buildPlan(preflighted({}, 'cluster'));
    expect(c.calls.filter((x) => x.startsWith('rds:CreateDBInstance'))).toEqual(['rds:CreateDBInstance ledger-1-rekey-20261130030405 (writer, db.r6g.large, tier 0)', 'rds:CreateDBInstance ledger-2-rekey-20261130030405 (reader, db.r6g.large, tier 1)']);
  });

  test('handler: unknown step and a state for another database are refused', async () => {
    const env = { REKEY_KIND: 'instance', REKEY_SOURCE_ID: 'orders', REKEY_TARGET_KEY_ARN: NEW_KEY, AWS_REGION: 'us-east-1' };
    await expect(handleStep({ step: 'dropDatabase' as never }, env)).rejects.toThrow(/unknown step "dropDatabase"/);
    await expect(handleStep({ step: 'verify', state: { ...preflighted(), sourceId: 'billing' } }, env)).rejects.toThrow(/the state document belongs to orders, not billing/);
    // A consistent state of another database passes the document check and meets the handler's own.
    await expect(handleStep({ step: 'verify', state: { ...preflighted(), sourceId: 'billing', names: undefined, source: undefined } }, env)).rejects.toThrow(/state is for instance billing, this function is configured for instance orders/);
    await expect(handleStep({ step: 'verify', state: { version: 2 } as never }, env)).rejects.toThrow(/invalid state document: version must be 1/);
    await expect(handleStep({ step: 'verify', state: { ...preflighted(), kmsKey: 'arn:aws:kms:us-east-1:123456789012:key/other' } }, env)).rejects.toThrow(/kmsKey is "arn:aws:kms:us-east-1:123456789012:key\/other", configured/);
    await expect(handleStep({ step: 'verify', state: { ...preflighted(), targetRegion: 'eu-west-1' } }, env)).rejects.toThrow(/targetRegion is "eu-west-1", configured ""/);
  });
});
