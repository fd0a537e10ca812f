/**
 * Preflight edges: answers that carry no list (a describe call answered without DBSnapshots,
 * DBClusters, DBInstances), a cluster that lists no members, an unparsable key policy on a share.
 * The in-memory Region of preflight-world.ts (aws-sdk-client-mock; see its header for why not moto),
 * with single calls overridden to give those answers.
 */
import {
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
} from '@aws-sdk/client-rds';
import { preflight } from '../../lambda/kms-key-change/preflight';
import { cluster, instance } from './fixtures';
import { clientsOf, clus, east, inst, NEW_KEY, OTHER_ACCOUNT, problems, Region, RUN } from './preflight-world';

let r: Region;
beforeEach(() => {
  r = east();
});
const c = () => clientsOf(r);

test('a share whose key policy is not JSON: neither this account nor the other one is granted', async () => {
  r.addKey(NEW_KEY, {}, 'not a policy', 'alias/orders-2026');
  expect((await problems(c(), inst({ shareWithAccount: OTHER_ACCOUNT }))).map((p) => p.code)).toEqual(['KEY_POLICY_DENIES_RDS', 'KEY_NOT_SHARED']);
});

test('a cluster that lists no members: CLUSTER_HAS_NO_INSTANCES, no instance looked up', async () => {
  r.addCluster(cluster({ DBClusterMembers: undefined }));
  expect(await problems(c(), clus())).toEqual([
    { code: 'CLUSTER_HAS_NO_INSTANCES', resource: 'ledger', message: 'the cluster has no DB instances', next: 'add a writer first; a re-keyed copy needs one to be usable' },
  ]);
  expect(r.inputs(DescribeDBInstancesCommand)).toEqual([]);
});

test('a member whose describe answer carries no DBInstances list is left out of the captured members', async () => {
  r.rdsStub.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'ledger-1' }).resolves({});
  const s = await preflight(c(), clus());
  expect(s.source?.kind === 'cluster' && s.source.cluster.members.map((m) => m.id)).toEqual(['ledger-2']);
});

test('name lookups answered without their list count as free (instance)', async () => {
  r.rdsStub.on(DescribeDBSnapshotsCommand).resolves({});
  expect((await preflight(c(), inst())).lastStep).toBe('preflight');
});

test('name lookups answered without their list count as free (cluster)', async () => {
  r.rdsStub.on(DescribeDBClusterSnapshotsCommand).resolves({});
  r.rdsStub.on(DescribeDBClustersCommand, { DBClusterIdentifier: `ledger-pre-rekey-${RUN}` }).resolves({});
  r.rdsStub.on(DescribeDBClustersCommand, { DBClusterIdentifier: `ledger-rekey-${RUN}` }).resolves({});
  expect((await preflight(c(), clus())).lastStep).toBe('preflight');
});

test('blue/green: a replica lookup answered without its list is no cascade', async () => {
  r.addInstance(instance({ PerformanceInsightsKMSKeyId: undefined, ReadReplicaDBInstanceIdentifiers: ['orders-ro'] }));
  r.rdsStub.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders-ro' }).resolves({});
  expect((await preflight(c(), inst({ method: 'blue-green' }))).lastStep).toBe('preflight');
});
