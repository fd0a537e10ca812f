/**
 * Test-only Lambda of integ.kms-key-change.ts: deletes what the test's rehearsal run created (the
 * copy `<sourceId>-rekey-<run>` and the snapshots `<sourceId>-rekey-<run>-src|-new`), so the stack's
 * VPC and subnet group can be destroyed. It touches only names under the test's own fixed source
 * identifier. Returns how many are still there; the assertion polls until 0.
 */
import { DeleteDBInstanceCommand, DeleteDBSnapshotCommand, DescribeDBInstancesCommand, DescribeDBSnapshotsCommand, RDSClient } from '@aws-sdk/client-rds';

const rds = new RDSClient({});

export async function handler(event: { sourceId: string }): Promise<{ remaining: string[] }> {
  const prefix = `${event.sourceId}-rekey-`;
  const instances = (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances ?? [];
  const snapshots = (await rds.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: event.sourceId, SnapshotType: 'manual' }))).DBSnapshots ?? [];
  const copySnapshots = (await rds.send(new DescribeDBSnapshotsCommand({ SnapshotType: 'manual' }))).DBSnapshots ?? [];
  const remaining: string[] = [];
  for (const i of instances.filter((x) => x.DBInstanceIdentifier?.startsWith(prefix))) {
    remaining.push(i.DBInstanceIdentifier!);
    if (i.DBInstanceStatus !== 'deleting') {
      await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: i.DBInstanceIdentifier, SkipFinalSnapshot: true, DeleteAutomatedBackups: true }));
    }
  }
  for (const s of [...snapshots, ...copySnapshots].filter((x) => x.DBSnapshotIdentifier?.startsWith(prefix))) {
    if (remaining.includes(s.DBSnapshotIdentifier!)) continue;
    remaining.push(s.DBSnapshotIdentifier!);
    if (s.Status === 'available') await rds.send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: s.DBSnapshotIdentifier }));
  }
  return { remaining };
}
