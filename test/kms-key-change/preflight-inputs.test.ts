/**
 * What preflight accepts and records: the state it returns (account, captured source, names, keys,
 * warnings), the exact read calls it makes in the source and the target Region, and the names and
 * groups it requires to be free / present there. Two in-memory Regions (preflight-world.ts, on
 * aws-sdk-client-mock; see its header for why not moto): a describe call that lost its identifier
 * sees the whole Region there, as in RDS.
 */
import { DescribeKeyCommand, GetKeyPolicyCommand } from '@aws-sdk/client-kms';
import {
  DescribeDBClusterParameterGroupsCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBParameterGroupsCommand,
  DescribeDBProxiesCommand,
  DescribeDBProxyTargetsCommand,
  DescribeDBSnapshotsCommand,
  DescribeDBSubnetGroupsCommand,
  DescribeGlobalClustersCommand,
  DescribeOptionGroupsCommand,
} from '@aws-sdk/client-rds';
import { preflight } from '../../lambda/kms-key-change/preflight';
import { captureCluster, captureInstance } from '../../lambda/kms-key-change/settings';
import { cluster, instance, member } from './fixtures';
import { ACCOUNT, clientsOf, clus, east, inst, NEW_KEY, OLD_KEY, OTHER_ACCOUNT, problems, Region, RUN, west, WEST_KEY } from './preflight-world';

let r: Region;
beforeEach(() => {
  r = east();
  // What every account has: automated snapshots of its databases (a lookup that lost its name finds them).
  r.snapshots.set('rds:orders-2026-11-29-03-00', { DBSnapshotIdentifier: 'rds:orders-2026-11-29-03-00' });
  r.clusterSnapshots.set('rds:ledger-2026-11-29-03-00', { DBClusterSnapshotIdentifier: 'rds:ledger-2026-11-29-03-00' });
});
const c = () => clientsOf(r);
const taken = (resource: string, message: string, next = 'rename or remove it') => ({ code: 'NAME_TAKEN', resource, message, next });

describe('a healthy instance, same Region', () => {
  test('returns the state with account, captured source, keys and names; no warnings', async () => {
    const s0 = inst();
    const s = await preflight(c(), s0);
    expect(s).toEqual({
      ...s0,
      account: ACCOUNT,
      source: { kind: 'instance', instance: captureInstance(instance()) },
      names: { sourceSnapshot: `orders-rekey-${RUN}-src`, copySnapshot: `orders-rekey-${RUN}-new`, newId: `orders-rekey-${RUN}`, preRekeyId: `orders-pre-rekey-${RUN}` },
      targetKeyArn: NEW_KEY,
      sourceKeyArn: OLD_KEY,
      lastStep: 'preflight',
      warnings: [],
    });
  });

  test('reads exactly: the source, the proxies, the key and its policy, and each name it will create', async () => {
    r.proxies.set('reports-proxy', [{ RdsResourceId: 'reports', Type: 'RDS_INSTANCE' }]);
    await preflight(c(), inst());
    expect(r.inputs(DescribeDBInstancesCommand)).toEqual([{ DBInstanceIdentifier: 'orders' }, { DBInstanceIdentifier: `orders-pre-rekey-${RUN}` }, { DBInstanceIdentifier: `orders-rekey-${RUN}` }]);
    expect(r.inputs(DescribeDBProxiesCommand)).toEqual([{}]);
    expect(r.inputs(DescribeDBProxyTargetsCommand)).toEqual([{ DBProxyName: 'reports-proxy' }]);
    expect(r.inputs(DescribeKeyCommand)).toEqual([{ KeyId: 'alias/orders-2026' }]);
    expect(r.inputs(GetKeyPolicyCommand)).toEqual([{ KeyId: NEW_KEY, PolicyName: 'default' }]);
    expect(r.inputs(DescribeDBSnapshotsCommand)).toEqual([{ DBSnapshotIdentifier: `orders-rekey-${RUN}-src` }, { DBSnapshotIdentifier: `orders-rekey-${RUN}-new` }]);
    // Cluster names are another namespace; an instance run does not look at them.
    expect(r.inputs(DescribeDBClustersCommand)).toEqual([]);
    expect(r.inputs(DescribeDBClusterSnapshotsCommand)).toEqual([]);
    expect(r.inputs(DescribeGlobalClustersCommand)).toEqual([]);
  });

  test('clusters named like the instance names do not block an instance run', async () => {
    r.addCluster(cluster({ DBClusterIdentifier: `orders-pre-rekey-${RUN}`, DBClusterArn: `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:orders-pre-rekey-${RUN}` }));
    r.addCluster(cluster({ DBClusterIdentifier: `orders-rekey-${RUN}`, DBClusterArn: `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:orders-rekey-${RUN}` }));
    expect((await preflight(c(), inst())).lastStep).toBe('preflight');
  });

  test('a DescribeDBProxies page without a DBProxies list means no proxies', async () => {
    r.rdsStub.on(DescribeDBProxiesCommand).resolves({});
    r.rdsStub.on(DescribeDBProxyTargetsCommand).resolves({ Targets: [{ RdsResourceId: 'orders', Type: 'RDS_INSTANCE' }] });
    expect((await preflight(c(), inst())).lastStep).toBe('preflight');
  });
});

describe('names the snapshot method will create must be free', () => {
  test('source snapshot taken', async () => {
    r.snapshots.set(`orders-rekey-${RUN}-src`, { DBSnapshotIdentifier: `orders-rekey-${RUN}-src` });
    expect(await problems(c(), inst())).toEqual([taken(`orders-rekey-${RUN}-src`, 'a snapshot with this name exists', 'wait a second and run again (names include the run time)')]);
  });

  test('copy snapshot taken', async () => {
    r.snapshots.set(`orders-rekey-${RUN}-new`, { DBSnapshotIdentifier: `orders-rekey-${RUN}-new` });
    expect(await problems(c(), inst())).toEqual([taken(`orders-rekey-${RUN}-new`, 'a snapshot with this name exists', 'run again')]);
  });

  test('the name cutover renames the instance to, and the new instance name, taken', async () => {
    r.addInstance(instance({ DBInstanceIdentifier: `orders-pre-rekey-${RUN}` }));
    r.addInstance(instance({ DBInstanceIdentifier: `orders-rekey-${RUN}` }));
    expect(await problems(c(), inst())).toEqual([
      taken(`orders-pre-rekey-${RUN}`, 'a DB instance with this name exists in us-east-1'),
      taken(`orders-rekey-${RUN}`, 'a DB instance with this name exists in us-east-1', 'rename or remove it, or run again later'),
    ]);
  });

  test('NAME_INVALID for every derived name longer than 63 characters', async () => {
    const id = 'a'.repeat(45);
    r.addInstance(instance({ DBInstanceIdentifier: id, DBInstanceArn: `arn:aws:rds:us-east-1:${ACCOUNT}:db:${id}` }));
    const invalid = (n: string) => ({ code: 'NAME_INVALID', resource: n, message: 'derived identifier is longer than 63 characters or invalid', next: 'rename the source or use a shorter identifier' });
    expect(await problems(c(), inst({ sourceId: id }))).toEqual([invalid(`${id}-rekey-${RUN}-src`), invalid(`${id}-rekey-${RUN}-new`), invalid(`${id}-pre-rekey-${RUN}`), invalid(`${id}-rekey-${RUN}`)]);
  });
});

describe('a healthy Aurora cluster, same Region', () => {
  test('returns the state with the members captured and their names', async () => {
    const s0 = clus();
    const s = await preflight(c(), s0);
    expect(s).toEqual({
      ...s0,
      account: ACCOUNT,
      source: { kind: 'cluster', cluster: captureCluster(cluster(), [member('ledger-1'), member('ledger-2')]) },
      names: {
        sourceSnapshot: `ledger-rekey-${RUN}-src`,
        copySnapshot: undefined,
        newId: `ledger-rekey-${RUN}`,
        preRekeyId: `ledger-pre-rekey-${RUN}`,
        memberIds: { 'ledger-1': `ledger-1-rekey-${RUN}`, 'ledger-2': `ledger-2-rekey-${RUN}` },
      },
      targetKeyArn: NEW_KEY,
      sourceKeyArn: OLD_KEY,
      lastStep: 'preflight',
      warnings: [],
    });
  });

  test('reads exactly the cluster, its members, the global databases and each name it will create', async () => {
    await preflight(c(), clus());
    expect(r.inputs(DescribeDBClustersCommand)).toEqual([{ DBClusterIdentifier: 'ledger' }, { DBClusterIdentifier: `ledger-pre-rekey-${RUN}` }, { DBClusterIdentifier: `ledger-rekey-${RUN}` }]);
    expect(r.inputs(DescribeDBInstancesCommand)).toEqual([
      { DBInstanceIdentifier: 'ledger-1' },
      { DBInstanceIdentifier: 'ledger-2' },
      { DBInstanceIdentifier: `ledger-1-pre-rekey-${RUN}` },
      { DBInstanceIdentifier: `ledger-2-pre-rekey-${RUN}` },
      { DBInstanceIdentifier: `ledger-1-rekey-${RUN}` },
      { DBInstanceIdentifier: `ledger-2-rekey-${RUN}` },
    ]);
    expect(r.inputs(DescribeGlobalClustersCommand)).toEqual([{}]);
    expect(r.inputs(DescribeDBClusterSnapshotsCommand)).toEqual([{ DBClusterSnapshotIdentifier: `ledger-rekey-${RUN}-src` }]);
    expect(r.inputs(DescribeDBSnapshotsCommand)).toEqual([]);
  });

  test('instances and instance snapshots named like the cluster names do not block a cluster run', async () => {
    r.addInstance(instance({ DBInstanceIdentifier: `ledger-pre-rekey-${RUN}` }));
    r.addInstance(instance({ DBInstanceIdentifier: `ledger-rekey-${RUN}` }));
    r.snapshots.set(`ledger-rekey-${RUN}-src`, { DBSnapshotIdentifier: `ledger-rekey-${RUN}-src` });
    expect((await preflight(c(), clus())).lastStep).toBe('preflight');
  });

  test('every cluster and member name taken is named', async () => {
    r.clusterSnapshots.set(`ledger-rekey-${RUN}-src`, { DBClusterSnapshotIdentifier: `ledger-rekey-${RUN}-src` });
    r.addCluster(cluster({ DBClusterIdentifier: `ledger-pre-rekey-${RUN}` }));
    r.addInstance(member(`ledger-1-pre-rekey-${RUN}`));
    r.addCluster(cluster({ DBClusterIdentifier: `ledger-rekey-${RUN}` }));
    r.addInstance(member(`ledger-2-rekey-${RUN}`));
    expect(await problems(c(), clus())).toEqual([
      taken(`ledger-rekey-${RUN}-src`, 'a snapshot with this name exists', 'wait a second and run again (names include the run time)'),
      taken(`ledger-pre-rekey-${RUN}`, 'a DB cluster with this name exists in us-east-1'),
      taken(`ledger-1-pre-rekey-${RUN}`, 'a DB instance with this name exists in us-east-1'),
      taken(`ledger-rekey-${RUN}`, 'a DB cluster with this name exists in us-east-1'),
      taken(`ledger-2-rekey-${RUN}`, 'a DB instance with this name exists in us-east-1'),
    ]);
  });

  test('NAME_INVALID for the name cutover would give a member with a long identifier', async () => {
    const m = `ledger-writer-${'x'.repeat(26)}`; // 40 characters: + "-rekey-<run>" fits, + "-pre-rekey-<run>" does not
    r.addCluster(cluster({ DBClusterMembers: [{ DBInstanceIdentifier: m, IsClusterWriter: true, PromotionTier: 0 }] }));
    r.addInstance(member(m));
    expect(await problems(c(), clus())).toEqual([
      { code: 'NAME_INVALID', resource: `${m}-pre-rekey-${RUN}`, message: 'derived identifier is longer than 63 characters or invalid', next: 'rename the source or use a shorter identifier' },
    ]);
  });
});

describe('warnings the operator gets with a pass', () => {
  test('an unencrypted instance: encrypted with the target key, no source key recorded', async () => {
    r.addInstance(instance({ StorageEncrypted: false, KmsKeyId: undefined, PerformanceInsightsKMSKeyId: undefined }));
    const s = await preflight(c(), inst());
    expect(s.sourceKeyArn).toBeUndefined();
    expect(s.warnings).toEqual(['the source is not encrypted; the new instance will be encrypted with the target key (the parity report shows "encrypted" false → true as the intended change)']);
  });

  test('an unencrypted cluster', async () => {
    r.addCluster(cluster({ StorageEncrypted: false, KmsKeyId: undefined }));
    const s = await preflight(c(), clus());
    expect(s.sourceKeyArn).toBeUndefined();
    expect(s.warnings).toEqual(['the source is not encrypted; the new cluster will be encrypted with the target key (the parity report shows "encrypted" false → true as the intended change)']);
  });

  test('an instance with an RDS-managed master secret', async () => {
    r.addInstance(instance({ MasterUserSecret: { SecretArn: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:rds!db-1`, SecretStatus: 'active' } }));
    expect((await preflight(c(), inst())).warnings).toEqual([
      'the source uses an RDS-managed master user secret; the restored copy keeps the password from the snapshot and does not manage a secret until you enable it (aws rds modify-db-instance --manage-master-user-password)',
    ]);
  });

  test('a cluster with an RDS-managed master secret: the exact commands after cutover', async () => {
    r.addCluster(cluster({ MasterUserSecret: { SecretArn: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:rds!cluster-1`, SecretStatus: 'active' } }));
    expect((await preflight(c(), clus())).warnings).toEqual([
      'the source cluster uses an RDS-managed master user secret; the restored cluster keeps the password from the snapshot and has no managed secret, and the old secret is deleted with the old cluster. ' +
        'After cutover: aws rds modify-db-cluster --db-cluster-identifier ledger --manage-master-user-password --apply-immediately, then point clients at the new secret (aws rds describe-db-clusters --db-cluster-identifier ledger --query "DBClusters[0].MasterUserSecret.SecretArn")',
    ]);
  });
});

describe('a share with another account', () => {
  const sharedPolicy = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: [`arn:aws:iam::${ACCOUNT}:root`, `arn:aws:iam::${OTHER_ACCOUNT}:root`] }, Action: 'kms:*', Resource: '*' }] });

  test('creates only the snapshots: no rename target, names of a restore here are not required to be free', async () => {
    r.addKey(NEW_KEY, {}, sharedPolicy, 'alias/orders-2026');
    r.addInstance(instance({ DBInstanceIdentifier: `orders-pre-rekey-${RUN}` }));
    r.addInstance(instance({ DBInstanceIdentifier: `orders-rekey-${RUN}` }));
    const s = await preflight(c(), inst({ shareWithAccount: OTHER_ACCOUNT }));
    expect(s.names).toEqual({ sourceSnapshot: `orders-rekey-${RUN}-src`, copySnapshot: `orders-rekey-${RUN}-new`, newId: `orders-rekey-${RUN}` });
    expect(r.inputs(DescribeDBInstancesCommand)).toEqual([{ DBInstanceIdentifier: 'orders' }]);
  });

  test('of a cluster: a copy snapshot, no cluster or member names checked', async () => {
    r.addKey(NEW_KEY, {}, sharedPolicy, 'alias/orders-2026');
    r.addCluster(cluster({ DBClusterIdentifier: `ledger-rekey-${RUN}` }));
    r.addInstance(member(`ledger-1-rekey-${RUN}`));
    const s = await preflight(c(), clus({ shareWithAccount: OTHER_ACCOUNT }));
    expect(s.names).toEqual({ sourceSnapshot: `ledger-rekey-${RUN}-src`, copySnapshot: `ledger-rekey-${RUN}-new`, newId: `ledger-rekey-${RUN}`, memberIds: { 'ledger-1': `ledger-1-rekey-${RUN}`, 'ledger-2': `ledger-2-rekey-${RUN}` } });
  });
});

describe('cross-Region (us-east-1 → us-west-2)', () => {
  let w: Region;
  beforeEach(() => {
    w = west();
  });
  const x = () => clientsOf(r, w);
  const xi = (over = {}) => inst({ targetRegion: 'us-west-2', targetSecurityGroupIds: ['sg-west'], ...over });
  const xc = (over = {}) => clus({ kmsKey: 'alias/orders-2026', targetRegion: 'us-west-2', targetSecurityGroupIds: ['sg-west'], ...over });
  const missing = (name: string, what: string) => ({ code: 'CROSS_REGION_GROUP_MISSING', resource: name, message: `${what} "${name}" does not exist in us-west-2`, next: 'create it in us-west-2 with the same settings, then run again' });

  test('an instance: the copy keeps its identifier, names and groups are checked in the target Region', async () => {
    // The copy snapshot's name is taken in the source Region only: it is created in the target.
    r.snapshots.set(`orders-rekey-${RUN}-new`, { DBSnapshotIdentifier: `orders-rekey-${RUN}-new` });
    const s = await preflight(x(), xi());
    expect(s.names).toEqual({ sourceSnapshot: `orders-rekey-${RUN}-src`, copySnapshot: `orders-rekey-${RUN}-new`, newId: 'orders' });
    expect(s.targetKeyArn).toBe(WEST_KEY);
    expect(s.warnings).toEqual([]);
    expect(w.inputs(DescribeKeyCommand)).toEqual([{ KeyId: 'alias/orders-2026' }]);
    expect(w.inputs(DescribeDBSnapshotsCommand)).toEqual([{ DBSnapshotIdentifier: `orders-rekey-${RUN}-new` }]);
    expect(w.inputs(DescribeDBInstancesCommand)).toEqual([{ DBInstanceIdentifier: 'orders' }]);
    expect(w.inputs(DescribeDBSubnetGroupsCommand)).toEqual([{ DBSubnetGroupName: 'db-private' }]);
    expect(w.inputs(DescribeDBParameterGroupsCommand)).toEqual([{ DBParameterGroupName: 'pg16-orders' }]);
    expect(w.inputs(DescribeOptionGroupsCommand)).toEqual([]); // default:postgres-16 exists in every Region
    expect(r.inputs(DescribeDBSnapshotsCommand)).toEqual([{ DBSnapshotIdentifier: `orders-rekey-${RUN}-src` }]);
  });

  test('an instance: every missing group and the security groups are named', async () => {
    w.subnetGroups.clear();
    w.parameterGroups.clear();
    w.subnetGroups.set('other-private', { DBSubnetGroupName: 'other-private' });
    w.parameterGroups.set('pg16-other', { DBParameterGroupName: 'pg16-other' });
    w.optionGroups.set('other-opts', { OptionGroupName: 'other-opts' });
    r.addInstance(instance({ OptionGroupMemberships: [{ OptionGroupName: 'orders-opts' }] }));
    expect(await problems(x(), inst({ targetRegion: 'us-west-2' }))).toEqual([
      missing('db-private', 'DB subnet group'),
      missing('pg16-orders', 'DB parameter group'),
      missing('orders-opts', 'option group'),
      { code: 'CROSS_REGION_SECURITY_GROUPS', resource: 'orders', message: 'security groups sg-1, sg-2 exist only in us-east-1', next: 'pass --target-security-group-ids with groups from us-west-2' },
    ]);
  });

  test('an instance with a custom option group that exists in the target Region passes', async () => {
    w.optionGroups.set('orders-opts', { OptionGroupName: 'orders-opts' });
    r.addInstance(instance({ OptionGroupMemberships: [{ OptionGroupName: 'orders-opts' }] }));
    await preflight(x(), xi());
    expect(w.inputs(DescribeOptionGroupsCommand)).toEqual([{ OptionGroupName: 'orders-opts' }]);
  });

  test('default groups and a missing subnet group are not looked up (they exist in every Region or there is none)', async () => {
    w.subnetGroups.clear();
    w.parameterGroups.clear();
    r.addInstance(instance({ DBSubnetGroup: undefined, DBParameterGroups: [{ DBParameterGroupName: 'default.postgres16' }] }));
    await preflight(x(), xi());
    expect(w.inputs(DescribeDBSubnetGroupsCommand)).toEqual([]);
    expect(w.inputs(DescribeDBParameterGroupsCommand)).toEqual([]);
    expect(w.inputs(DescribeOptionGroupsCommand)).toEqual([]);
  });

  test('a group lookup answered without its list counts as missing', async () => {
    r.addInstance(instance({ OptionGroupMemberships: [{ OptionGroupName: 'orders-opts' }] }));
    w.rdsStub.on(DescribeDBSubnetGroupsCommand).resolves({});
    w.rdsStub.on(DescribeDBParameterGroupsCommand).resolves({});
    w.rdsStub.on(DescribeOptionGroupsCommand).resolves({});
    expect((await problems(x(), xi())).map((p) => p.resource)).toEqual(['db-private', 'pg16-orders', 'orders-opts']);
  });

  test('security groups: none needed when the source has none; an empty list is not a mapping', async () => {
    expect((await problems(x(), xi({ targetSecurityGroupIds: [] }))).map((p) => p.code)).toEqual(['CROSS_REGION_SECURITY_GROUPS']);
    r.addInstance(instance({ VpcSecurityGroups: [] }));
    expect((await preflight(x(), xi({ targetSecurityGroupIds: undefined }))).lastStep).toBe('preflight');
  });

  test('an instance: the copy snapshot and the identifier taken in the target Region', async () => {
    w.snapshots.set(`orders-rekey-${RUN}-new`, { DBSnapshotIdentifier: `orders-rekey-${RUN}-new` });
    w.addInstance(instance());
    expect(await problems(x(), xi())).toEqual([
      taken(`orders-rekey-${RUN}-new`, 'a snapshot with this name exists', 'run again'),
      taken('orders', 'a DB instance with this name exists in us-west-2', 'rename or remove it, or run again later'),
    ]);
  });

  test('a cluster: copy snapshot, same identifiers, cluster parameter group in the target Region', async () => {
    const s = await preflight(x(), xc());
    expect(s.names).toEqual({ sourceSnapshot: `ledger-rekey-${RUN}-src`, copySnapshot: `ledger-rekey-${RUN}-new`, newId: 'ledger', memberIds: { 'ledger-1': 'ledger-1', 'ledger-2': 'ledger-2' } });
    expect(w.inputs(DescribeDBClusterParameterGroupsCommand)).toEqual([{ DBClusterParameterGroupName: 'apg16-ledger' }]);
    expect(w.inputs(DescribeDBClusterSnapshotsCommand)).toEqual([{ DBClusterSnapshotIdentifier: `ledger-rekey-${RUN}-new` }]);
    expect(w.inputs(DescribeDBClustersCommand)).toEqual([{ DBClusterIdentifier: 'ledger' }]);
    expect(w.inputs(DescribeDBInstancesCommand)).toEqual([{ DBInstanceIdentifier: 'ledger-1' }, { DBInstanceIdentifier: 'ledger-2' }]);
  });

  test('a cluster: its identifiers and parameter group checked in the target Region', async () => {
    w.clusterParameterGroups.clear();
    w.clusterParameterGroups.set('apg16-other', { DBClusterParameterGroupName: 'apg16-other' });
    w.addCluster(cluster());
    w.addInstance(member('ledger-1'));
    expect(await problems(x(), xc())).toEqual([
      taken('ledger', 'a DB cluster with this name exists in us-west-2'),
      taken('ledger-1', 'a DB instance with this name exists in us-west-2'),
      missing('apg16-ledger', 'DB cluster parameter group'),
    ]);
  });

  test('a cluster with the default cluster parameter group does not look it up; an answer without a list is missing', async () => {
    r.addCluster(cluster({ DBClusterParameterGroup: 'default.aurora-postgresql16' }));
    w.clusterParameterGroups.clear();
    await preflight(x(), xc());
    expect(w.inputs(DescribeDBClusterParameterGroupsCommand)).toEqual([]);
    r.addCluster(cluster());
    w.rdsStub.on(DescribeDBClusterParameterGroupsCommand).resolves({});
    expect((await problems(x(), xc())).map((p) => p.resource)).toEqual(['apg16-ledger']);
  });
});
