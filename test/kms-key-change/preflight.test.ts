/**
 * Every preflight refusal, decided from SDK responses. Mocked with aws-sdk-client-mock because
 * each case needs a state moto cannot produce (proxy targets, global clusters, disabled or
 * asymmetric keys, key policies without the account, engines and versions).
 */
import { DescribeKeyCommand, GetKeyPolicyCommand, KMSClient } from '@aws-sdk/client-kms';
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
  RDSClient,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { blueGreenRefusal, preflight, PreflightError } from '../../lambda/kms-key-change/preflight';
import { newState, RekeyState } from '../../lambda/kms-key-change/state';
import { ACCOUNT, clients, cluster, DEFAULT_POLICY, instance, member, NEW_KEY, notFound, OLD_KEY } from './fixtures';

const rds = mockClient(RDSClient);
const kms = mockClient(KMSClient);
const NOW = new Date('2026-11-30T03:04:05Z');

function happy(): void {
  rds.reset();
  kms.reset();
  rds.on(DescribeDBInstancesCommand).rejects(notFound());
  rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders' }).resolves({ DBInstances: [instance()] });
  rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'ledger-1' }).resolves({ DBInstances: [member('ledger-1')] });
  rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'ledger-2' }).resolves({ DBInstances: [member('ledger-2')] });
  rds.on(DescribeDBClustersCommand).rejects(notFound('DBClusterNotFoundFault'));
  rds.on(DescribeDBClustersCommand, { DBClusterIdentifier: 'ledger' }).resolves({ DBClusters: [cluster()] });
  rds.on(DescribeDBSnapshotsCommand).rejects(notFound('DBSnapshotNotFoundFault'));
  rds.on(DescribeDBClusterSnapshotsCommand).rejects(notFound('DBClusterSnapshotNotFoundFault'));
  rds.on(DescribeDBProxiesCommand).resolves({ DBProxies: [] });
  rds.on(DescribeGlobalClustersCommand).resolves({ GlobalClusters: [] });
  kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'b', Arn: NEW_KEY, KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', KeyManager: 'CUSTOMER' } });
  kms.on(GetKeyPolicyCommand).resolves({ Policy: DEFAULT_POLICY });
}

const inst = (over: Partial<Parameters<typeof newState>[0]> = {}): RekeyState => newState({ kind: 'instance', sourceId: 'orders', kmsKey: 'alias/orders-2026', region: 'us-east-1', now: NOW, ...over });
const clus = (over: Partial<Parameters<typeof newState>[0]> = {}): RekeyState => newState({ kind: 'cluster', sourceId: 'ledger', kmsKey: NEW_KEY, region: 'us-east-1', now: NOW, ...over });

async function refusals(s: RekeyState): Promise<string[]> {
  try {
    await preflight(clients(), s);
    return [];
  } catch (e) {
    if (!(e instanceof PreflightError)) throw e;
    return e.problems.map((p) => p.code);
  }
}

beforeEach(happy);

test('passes for a healthy instance: captures settings, resolves the key, fixes the names', async () => {
  const s = await preflight(clients(), inst());
  expect(s.targetKeyArn).toBe(NEW_KEY);
  expect(s.sourceKeyArn).toBe(OLD_KEY);
  expect(s.account).toBe(ACCOUNT);
  expect(s.names).toEqual({ sourceSnapshot: 'orders-rekey-20261130030405-src', copySnapshot: 'orders-rekey-20261130030405-new', newId: 'orders-rekey-20261130030405', preRekeyId: 'orders-pre-rekey-20261130030405' });
  expect(s.source?.kind === 'instance' && s.source.instance.securityGroupIds).toEqual(['sg-1', 'sg-2']);
  expect(s.lastStep).toBe('preflight');
});

test('passes for a healthy Aurora cluster: no copy (restore takes the key), member names', async () => {
  const s = await preflight(clients(), clus());
  expect(s.names?.copySnapshot).toBeUndefined();
  expect(s.names?.memberIds).toEqual({ 'ledger-1': 'ledger-1-rekey-20261130030405', 'ledger-2': 'ledger-2-rekey-20261130030405' });
  expect(s.source?.kind === 'cluster' && s.source.cluster.members.map((m) => [m.id, m.isClusterWriter, m.promotionTier])).toEqual([
    ['ledger-1', true, 0],
    ['ledger-2', false, 1],
  ]);
});

const keyMeta = (over: object) => kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'b', Arn: NEW_KEY, KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', KeyManager: 'CUSTOMER', ...over } });
const src = (over: object) => rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders' }).resolves({ DBInstances: [instance(over)] });

test.each<[string, () => void, () => RekeyState]>([
  ['SOURCE_NOT_FOUND', () => rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders' }).rejects(notFound()), () => inst()],
  ['INSTANCE_IN_CLUSTER', () => src({ DBClusterIdentifier: 'ledger' }), () => inst()],
  ['SOURCE_NOT_AVAILABLE', () => src({ DBInstanceStatus: 'modifying' }), () => inst()],
  ['SOURCE_IS_READ_REPLICA', () => src({ ReadReplicaSourceDBInstanceIdentifier: 'orders-primary' }), () => inst()],
  ['HAS_READ_REPLICAS', () => src({ ReadReplicaDBInstanceIdentifiers: ['orders-ro'] }), () => inst()],
  [
    'PROXY_TARGET',
    () => {
      rds.on(DescribeDBProxiesCommand).resolves({ DBProxies: [{ DBProxyName: 'orders-proxy' }] });
      rds.on(DescribeDBProxyTargetsCommand).resolves({ Targets: [{ RdsResourceId: 'orders', Type: 'RDS_INSTANCE' }] });
    },
    () => inst(),
  ],
  ['KEY_NOT_FOUND', () => kms.on(DescribeKeyCommand).rejects(notFound('NotFoundException')), () => inst()],
  ['KEY_WRONG_REGION', () => keyMeta({ Arn: NEW_KEY.replace('us-east-1', 'eu-west-1') }), () => inst()],
  ['KEY_NOT_ENABLED', () => keyMeta({ KeyState: 'PendingDeletion' }), () => inst()],
  ['KEY_NOT_SYMMETRIC', () => keyMeta({ KeySpec: 'RSA_2048' }), () => inst()],
  ['KEY_USAGE', () => keyMeta({ KeyUsage: 'GENERATE_VERIFY_MAC' }), () => inst()],
  ['KEY_AWS_MANAGED', () => keyMeta({ KeyManager: 'AWS' }), () => inst({ shareWithAccount: '210987654321' })],
  ['ALREADY_ON_TARGET_KEY', () => keyMeta({ Arn: OLD_KEY }), () => inst()],
  [
    'KEY_POLICY_DENIES_RDS',
    () => kms.on(GetKeyPolicyCommand).resolves({ Policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::999999999999:root' }, Action: 'kms:*', Resource: '*' }] }) }),
    () => inst(),
  ],
  ['KEY_NOT_SHARED', () => undefined, () => inst({ shareWithAccount: '210987654321' })],
  ['BLUE_GREEN_UNSUPPORTED', () => src({ Engine: 'oracle-ee', EngineVersion: '19.0.0.0.ru-2024-01.rur-2024-01.r1' }), () => inst({ method: 'blue-green' })],
  ['BLUE_GREEN_SAME_REGION_ONLY', () => undefined, () => inst({ method: 'blue-green', shareWithAccount: '210987654321' })],
  ['BLUE_GREEN_PI_KEY', () => src({ PerformanceInsightsEnabled: true, PerformanceInsightsKMSKeyId: OLD_KEY }), () => inst({ method: 'blue-green' })],
  ['BLUE_GREEN_CROSS_REGION_REPLICA', () => src({ PerformanceInsightsKMSKeyId: undefined, ReadReplicaDBInstanceIdentifiers: ['arn:aws:rds:eu-west-1:123456789012:db:orders-eu'] }), () => inst({ method: 'blue-green' })],
  [
    'BLUE_GREEN_CASCADING_REPLICA',
    () => {
      src({ PerformanceInsightsKMSKeyId: undefined, ReadReplicaDBInstanceIdentifiers: ['orders-ro'] });
      rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders-ro' }).resolves({ DBInstances: [instance({ DBInstanceIdentifier: 'orders-ro', ReadReplicaSourceDBInstanceIdentifier: 'orders', ReadReplicaDBInstanceIdentifiers: ['orders-ro-ro'] })] });
    },
    () => inst({ method: 'blue-green' }),
  ],
  ['BLUE_GREEN_MANAGED_SECRET', () => src({ MasterUserSecret: { SecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1', SecretStatus: 'active' } }), () => inst({ method: 'blue-green' })],
  ['NAME_TAKEN', () => rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders-pre-rekey-20261130030405' }).resolves({ DBInstances: [instance()] }), () => inst()],
  ['NAME_INVALID', () => src({ DBInstanceIdentifier: 'a'.repeat(50), DBInstanceArn: `arn:aws:rds:us-east-1:${ACCOUNT}:db:${'a'.repeat(50)}` }), () => {
    rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'a'.repeat(50) }).resolves({ DBInstances: [instance({ DBInstanceIdentifier: 'a'.repeat(50) })] });
    return inst({ sourceId: 'a'.repeat(50) });
  }],
  ['NAME_TAKEN', () => rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders-rekey-20261130030405' }).resolves({ DBInstances: [instance()] }), () => inst()],
  ['NAME_TAKEN', () => rds.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: 'orders-rekey-20261130030405-src' }).resolves({ DBSnapshots: [{ DBSnapshotIdentifier: 'x' }] }), () => inst()],
  [
    'CROSS_REGION_GROUP_MISSING',
    () => {
      keyMeta({ Arn: NEW_KEY.replace('us-east-1', 'us-west-2') });
      rds.on(DescribeDBSubnetGroupsCommand).resolves({ DBSubnetGroups: [{ DBSubnetGroupName: 'db-private' }] });
      rds.on(DescribeDBParameterGroupsCommand).rejects(notFound('DBParameterGroupNotFoundFault'));
    },
    () => inst({ targetRegion: 'us-west-2', targetSecurityGroupIds: ['sg-west'] }),
  ],
  [
    'CROSS_REGION_GROUP_MISSING',
    () => {
      keyMeta({ Arn: NEW_KEY.replace('us-east-1', 'us-west-2') });
      rds.on(DescribeDBSubnetGroupsCommand).resolves({ DBSubnetGroups: [{ DBSubnetGroupName: 'db-private' }] });
      rds.on(DescribeDBParameterGroupsCommand).resolves({ DBParameterGroups: [] }); // an empty list, not an error
    },
    () => inst({ targetRegion: 'us-west-2', targetSecurityGroupIds: ['sg-west'] }),
  ],
  [
    'CROSS_REGION_SECURITY_GROUPS',
    () => {
      keyMeta({ Arn: NEW_KEY.replace('us-east-1', 'us-west-2') });
      rds.on(DescribeDBSubnetGroupsCommand).resolves({ DBSubnetGroups: [{}] });
      rds.on(DescribeDBParameterGroupsCommand).resolves({ DBParameterGroups: [{}] });
    },
    () => inst({ targetRegion: 'us-west-2' }),
  ],
  ['CLUSTER_NOT_AURORA', () => rds.on(DescribeDBClustersCommand, { DBClusterIdentifier: 'ledger' }).resolves({ DBClusters: [cluster({ Engine: 'postgres' })] }), () => clus()],
  ['ENGINE_MODE_UNSUPPORTED', () => rds.on(DescribeDBClustersCommand, { DBClusterIdentifier: 'ledger' }).resolves({ DBClusters: [cluster({ EngineMode: 'serverless' })] }), () => clus()],
  ['CLUSTER_HAS_NO_INSTANCES', () => rds.on(DescribeDBClustersCommand, { DBClusterIdentifier: 'ledger' }).resolves({ DBClusters: [cluster({ DBClusterMembers: [] })] }), () => clus()],
  [
    // A realistic global database: the primary in another Region listed first, this cluster a
    // secondary (a one-member global database cannot exist); DescribeDBClusters leaves
    // GlobalClusterIdentifier out here, so only the DescribeGlobalClusters scan finds it.
    'GLOBAL_CLUSTER_MEMBER',
    () =>
      rds.on(DescribeGlobalClustersCommand).resolves({
        GlobalClusters: [
          { GlobalClusterIdentifier: 'other-global', GlobalClusterMembers: [{ DBClusterArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:other', IsWriter: true }] },
          {
            GlobalClusterIdentifier: 'ledger-global',
            GlobalClusterMembers: [
              { DBClusterArn: 'arn:aws:rds:us-west-2:123456789012:cluster:ledger-west', IsWriter: true, Readers: [cluster().DBClusterArn!] },
              { DBClusterArn: cluster().DBClusterArn, IsWriter: false },
            ],
          },
        ],
      }),
    () => clus(),
  ],
  [
    // DBCluster.GlobalClusterIdentifier set directly (what RDS reports for a member): no scan needed.
    'GLOBAL_CLUSTER_MEMBER',
    () => rds.on(DescribeDBClustersCommand, { DBClusterIdentifier: 'ledger' }).resolves({ DBClusters: [cluster({ GlobalClusterIdentifier: 'ledger-global' })] }),
    () => clus(),
  ],
  ['SOURCE_NOT_AVAILABLE', () => rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'ledger-2' }).resolves({ DBInstances: [member('ledger-2', { DBInstanceStatus: 'rebooting' })] }), () => clus()],
  ['HAS_READ_REPLICAS', () => rds.on(DescribeDBClustersCommand, { DBClusterIdentifier: 'ledger' }).resolves({ DBClusters: [cluster({ ReadReplicaIdentifiers: ['arn:aws:rds:us-west-2:123456789012:cluster:ledger-west'] })] }), () => clus()],
])('refuses with %s', async (code, arrange, state) => {
  arrange();
  expect(await refusals(state())).toContain(code);
});

test('blue/green with a same-Region, non-cascading replica and no Performance Insights key passes', async () => {
  src({ PerformanceInsightsKMSKeyId: undefined, PerformanceInsightsEnabled: false, ReadReplicaDBInstanceIdentifiers: ['orders-ro'] });
  rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders-ro' }).resolves({ DBInstances: [instance({ DBInstanceIdentifier: 'orders-ro', ReadReplicaSourceDBInstanceIdentifier: 'orders' })] });
  expect(await refusals(inst({ method: 'blue-green' }))).toEqual([]);
});

test('an Aurora cluster with an RDS-managed master secret is warned about, with the exact commands', async () => {
  rds.on(DescribeDBClustersCommand, { DBClusterIdentifier: 'ledger' }).resolves({ DBClusters: [cluster({ MasterUserSecret: { SecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-1', SecretStatus: 'active' } })] });
  const s = await preflight(clients(), clus());
  expect(s.warnings).toContainEqual(expect.stringMatching(/source cluster uses an RDS-managed master user secret.*aws rds modify-db-cluster --db-cluster-identifier ledger --manage-master-user-password --apply-immediately/));
});

test('collects several problems into one error with what to do next', async () => {
  src({ DBInstanceStatus: 'stopped', ReadReplicaDBInstanceIdentifiers: ['r1'] });
  keyMeta({ KeyState: 'Disabled' });
  const e = await preflight(clients(), inst()).catch((x) => x);
  expect(e).toBeInstanceOf(PreflightError);
  expect(e.problems.map((p: { code: string }) => p.code)).toEqual(['SOURCE_NOT_AVAILABLE', 'HAS_READ_REPLICAS', 'KEY_NOT_ENABLED']);
  expect(e.message).toMatch(/SOURCE_NOT_AVAILABLE orders: status is "stopped"\. Next: wait until it is available/);
});

test('cluster cross-Region needs the cluster parameter group in the target Region', async () => {
  keyMeta({ Arn: NEW_KEY.replace('us-east-1', 'us-west-2') });
  rds.on(DescribeDBSubnetGroupsCommand).resolves({ DBSubnetGroups: [{}] });
  rds.on(DescribeDBClusterParameterGroupsCommand).rejects(notFound('DBParameterGroupNotFoundFault'));
  // One mocked RDS client serves both Regions here, so the source's own names also look taken
  // in the "target" Region; the point of this case is the cluster parameter group.
  expect(await refusals(clus({ targetRegion: 'us-west-2', targetSecurityGroupIds: ['sg-w'] }))).toContain('CROSS_REGION_GROUP_MISSING');
});

test('warnings do not refuse: unreadable key policy, managed master secret', async () => {
  const denied = new Error('denied');
  denied.name = 'AccessDeniedException';
  kms.on(GetKeyPolicyCommand).rejects(denied);
  src({ MasterUserSecret: { SecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:x' } });
  const s = await preflight(clients(), inst());
  expect(s.warnings.join('\n')).toMatch(/could not read the key policy[\s\S]*RDS-managed master user secret/);
});

test('blue/green support by engine and version', () => {
  expect(blueGreenRefusal('postgres', '16.1')).toBeUndefined();
  expect(blueGreenRefusal('postgres', '15.4')).toBeUndefined();
  expect(blueGreenRefusal('aurora-postgresql', '13.12')).toBeUndefined();
  expect(blueGreenRefusal('aurora-mysql', '8.0.mysql_aurora.3.05.2')).toBeUndefined();
  expect(blueGreenRefusal('postgres', '15.3')).toMatch(/15\.4 or later/);
  expect(blueGreenRefusal('postgres', '10.21')).toMatch(/does not support/);
  expect(blueGreenRefusal('sqlserver-se', '15.00')).toMatch(/not available for engine sqlserver-se/);
});

test('blue/green accepts an instance with read replicas (each gets the target key)', async () => {
  src({ ReadReplicaDBInstanceIdentifiers: ['orders-ro'], PerformanceInsightsKMSKeyId: undefined }); // a PI key would be refused (BLUE_GREEN_PI_KEY)
  expect(await refusals(inst({ method: 'blue-green' }))).toEqual([]);
});
