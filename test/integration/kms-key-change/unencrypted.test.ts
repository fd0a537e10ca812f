/**
 * Encrypting an unencrypted database, the commonest reason to run this pattern: an unencrypted
 * DB instance and an unencrypted Aurora cluster with two instances, cut over onto the target key
 * on moto. The encryption change is the intended difference; every other setting is kept; the
 * source is kept, renamed and still frozen.
 */
import {
  CreateDBClusterCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  ModifyDBInstanceCommand,
  RDSClient,
  RestoreDBClusterFromSnapshotCommand,
  RestoreDBClusterFromSnapshotCommandInput,
} from '@aws-sdk/client-rds';
import { clientsFor } from '../../../lambda/kms-key-change/clients';
import { phasesFor, runPhases } from '../../../lambda/kms-key-change/runner';
import { newState } from '../../../lambda/kms-key-change/state';
import { STEPS } from '../../../lambda/kms-key-change/steps';
import { makeCluster, makeInstance, settingsOf, useMotoWorld, withoutIdentity, World } from './moto-fixtures';

let w: World;
useMotoWorld((world) => (w = world));
const c = () => clientsFor('us-east-1');

test('unencrypted DB instance → encrypted with the target key, cut over, every setting kept, source kept and frozen', async () => {
  await makeInstance(w, 'plain', { encrypted: false });
  const before = await settingsOf(w, 'instance', 'plain');
  expect(before.kind === 'instance' && before.instance.encrypted).toBe(false);
  let s = newState({ kind: 'instance', sourceId: 'plain', kmsKey: w.newKey, region: 'us-east-1', now: new Date(Date.UTC(2026, 10, 30, 6, 0, 0)) });
  s = await runPhases(c(), s, phasesFor(s, { cutover: true }), { pollMs: 0 });
  expect(s.warnings).toContainEqual(expect.stringMatching(/the source is not encrypted; the new instance will be encrypted with the target key/));
  expect(s.parity!.filter((l) => l.result === 'differs')).toEqual([]);
  expect(s.parityClean).toBe(true);
  expect(s.parity!.find((l) => l.setting === 'encrypted')).toEqual({ setting: 'encrypted', source: false, target: true, result: 'expected' });
  expect(s.parity!.find((l) => l.setting === 'encryption key')).toMatchObject({ source: 'unencrypted', target: w.newKey, result: 'expected' });
  const now = (await w.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'plain' }))).DBInstances![0];
  expect([now.StorageEncrypted, now.KmsKeyId]).toEqual([true, w.newKey]);
  // The copy the restore came from is encrypted with the target key.
  const copy = (await w.rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: s.names!.copySnapshot }))).DBSnapshots![0];
  expect([copy.Encrypted, copy.KmsKeyId]).toEqual([true, w.newKey]);
  const pre = s.cutover!.sourceRenamedTo;
  const old = await settingsOf(w, 'instance', pre);
  expect(old.kind === 'instance' && old.instance.encrypted).toBe(false);
  expect(withoutIdentity(old)).toEqual({ ...(withoutIdentity(before) as object), securityGroupIds: [s.freeze!.groupId] });
});

/**
 * moto 5.2's RestoreDBClusterFromSnapshot copies StorageEncrypted from the snapshot's cluster and so
 * restores an unencrypted snapshot unencrypted even with KmsKeyId. RDS encrypts it with that key
 * ("If the DB cluster snapshot ... isn't encrypted, then the restored DB cluster isn't encrypted"
 * applies only when KmsKeyId is omitted:
 * https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBClusterFromSnapshot.html;
 * https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Overview.Encryption.html: restore an
 * unencrypted snapshot to an encrypted cluster by specifying a KMS key). No local component emulates
 * that, so this test records the kit's restore request and has moto create the cluster RDS would:
 * the same parameters, encrypted with the requested key.
 */
function emulateEncryptingRestore(rds: RDSClient, seen: RestoreDBClusterFromSnapshotCommandInput[]): () => void {
  const original = rds.send.bind(rds);
  (rds as { send: unknown }).send = async (cmd: unknown) => {
    if (!(cmd instanceof RestoreDBClusterFromSnapshotCommand)) return original(cmd as never);
    const i = cmd.input;
    seen.push(i);
    return original(
      new CreateDBClusterCommand({
        DBClusterIdentifier: i.DBClusterIdentifier,
        Engine: i.Engine,
        EngineVersion: i.EngineVersion,
        StorageEncrypted: !!i.KmsKeyId,
        KmsKeyId: i.KmsKeyId,
        Port: i.Port,
        DBSubnetGroupName: i.DBSubnetGroupName,
        VpcSecurityGroupIds: i.VpcSecurityGroupIds,
        DBClusterParameterGroupName: i.DBClusterParameterGroupName,
        EnableIAMDatabaseAuthentication: i.EnableIAMDatabaseAuthentication,
        EnableCloudwatchLogsExports: i.EnableCloudwatchLogsExports,
        DeletionProtection: i.DeletionProtection,
        CopyTagsToSnapshot: i.CopyTagsToSnapshot,
        BackupRetentionPeriod: i.BackupRetentionPeriod,
        PreferredBackupWindow: i.PreferredBackupWindow,
        Tags: i.Tags,
        MasterUsername: 'app',
        MasterUserPassword: 'not-a-real-password-1',
      }),
    );
  };
  return () => {
    (rds as { send: unknown }).send = original;
  };
}

test('unencrypted Aurora cluster with two instances → encrypted, cut over, writer and reader kept, source kept and frozen', async () => {
  await makeCluster(w, 'plainc', { encrypted: false });
  let s = newState({ kind: 'cluster', sourceId: 'plainc', kmsKey: w.newKey, region: 'us-east-1', now: new Date(Date.UTC(2026, 10, 30, 6, 0, 1)) });
  const seen: RestoreDBClusterFromSnapshotCommandInput[] = [];
  const undo = emulateEncryptingRestore(c().rds, seen);
  try {
    s = await runPhases(c(), s, phasesFor(s, { cutover: true }), { pollMs: 0 });
  } finally {
    undo();
  }
  // What the kit asked RDS for: the target key and the source's own security groups (issue 15: moto
  // gives a restored cluster the source's groups anyway, so only the request proves it).
  expect(seen).toHaveLength(1);
  expect(seen[0]).toMatchObject({ DBClusterIdentifier: s.names!.newId, SnapshotIdentifier: s.names!.sourceSnapshot, KmsKeyId: w.newKey, DBSubnetGroupName: w.subnetGroup });
  expect([...seen[0].VpcSecurityGroupIds!].sort()).toEqual([...w.sg].sort());
  expect(s.parity!.filter((l) => l.result === 'differs')).toEqual([]);
  expect(s.parityClean).toBe(true);
  expect(s.parity!.find((l) => l.setting === 'encrypted')).toEqual({ setting: 'encrypted', source: false, target: true, result: 'expected' });
  expect(s.parity!.find((l) => l.setting === 'member plainc-1: writer')).toMatchObject({ source: true, target: true, result: 'same' });
  expect(s.parity!.find((l) => l.setting === 'member plainc-2: promotionTier')).toMatchObject({ source: 1, target: 1, result: 'same' });
  const cl = (await w.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'plainc' }))).DBClusters![0];
  expect([cl.StorageEncrypted, cl.KmsKeyId]).toEqual([true, w.newKey]);
  const old = (await w.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: s.cutover!.sourceRenamedTo }))).DBClusters![0];
  expect(old.StorageEncrypted).toBe(false);
  expect(old.VpcSecurityGroups!.map((g) => g.VpcSecurityGroupId)).toEqual([s.freeze!.groupId]);
  expect(cl.VpcSecurityGroups!.map((g) => g.VpcSecurityGroupId).sort()).toEqual([...w.sg].sort());
});

test('recoverable parity: a setting that differs stops before cutover; fixed on the new instance, a resume re-runs verify and cuts over', async () => {
  await makeInstance(w, 'drift');
  let s = newState({ kind: 'instance', sourceId: 'drift', kmsKey: w.newKey, region: 'us-east-1', now: new Date(Date.UTC(2026, 10, 30, 6, 0, 2)) });
  // Something changes the new instance after the settings were applied (a drifted maintenance window).
  const real = STEPS.checkApply;
  STEPS.checkApply = async (cl, st) => {
    const r = await real(cl, st);
    if (r.done) await w.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: st.names!.newId, PreferredMaintenanceWindow: 'mon:01:00-mon:02:00', ApplyImmediately: true }));
    return r;
  };
  try {
    s = await runPhases(c(), s, phasesFor(s, { cutover: true }), { pollMs: 0 });
  } finally {
    STEPS.checkApply = real;
  }
  expect(s.parityClean).toBe(false);
  expect(s.parity!.filter((l) => l.result === 'differs').map((l) => l.setting)).toEqual(['maintenanceWindow']);
  expect(s.cutover).toBeUndefined();
  // The operator fixes it on the new instance and resumes: verify runs again, then the cutover.
  await w.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: s.names!.newId, PreferredMaintenanceWindow: 'sun:05:00-sun:06:00', ApplyImmediately: true }));
  s = await runPhases(c(), s, phasesFor(s, { cutover: true }), { pollMs: 0 });
  expect(s.parityClean).toBe(true);
  expect(s.cutover?.done).toBe(true);
  expect((await w.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'drift' }))).DBInstances![0].KmsKeyId).toBe(w.newKey);
});
