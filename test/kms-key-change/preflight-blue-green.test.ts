/**
 * Preflight of a blue/green key change: which engines and versions RDS supports, and the documented
 * blue/green limitations refused up front (managed master secret, Performance Insights key, cross-Region
 * and cascading read replicas, other Region or account). The source Region is the in-memory Region of
 * preflight-world.ts (aws-sdk-client-mock; see its header for why not moto).
 */
import { DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import { blueGreenRefusal, BLUE_GREEN_ENGINES, preflight } from '../../lambda/kms-key-change/preflight';
import { cluster, instance, member } from './fixtures';
import { ACCOUNT, clientsOf, clus, east, inst, NEW_KEY, OLD_KEY, OTHER_ACCOUNT, problems, Region, RUN, west } from './preflight-world';

const BG_WARNING =
  'blue/green: the kit applies no write freeze of its own; RDS replicates every write to green until the switchover, and the switchover blocks writes on both environments while it promotes green (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/blue-green-deployments-switching.html). Clients see errors for the switchover (up to the 300 s timeout the kit sets); the old blue environment stays writable afterwards under its -old1 name, so stop clients that cache its endpoint';

describe('blueGreenRefusal', () => {
  test('the engines RDS supports, in the order the message lists them', () => {
    expect(BLUE_GREEN_ENGINES).toEqual(['mysql', 'mariadb', 'postgres', 'aurora-mysql', 'aurora-postgresql']);
    expect(blueGreenRefusal('mysql', '8.0.35')).toBeUndefined();
    expect(blueGreenRefusal('mariadb', '10.11.6')).toBeUndefined();
    expect(blueGreenRefusal('aurora-mysql', '8.0.mysql_aurora.3.05.2')).toBeUndefined();
    expect(blueGreenRefusal('sqlserver-se', '15.00.4345.5.v1')).toBe(
      'blue/green deployments are not available for engine sqlserver-se (supported: mysql, mariadb, postgres, aurora-mysql, aurora-postgresql)',
    );
  });

  test('PostgreSQL minors per major, for RDS and Aurora alike', () => {
    expect(blueGreenRefusal('postgres', '15.4')).toBeUndefined();
    expect(blueGreenRefusal('postgres', '16.0')).toBeUndefined();
    expect(blueGreenRefusal('postgres', '15.3')).toBe('PostgreSQL 15.3 does not support blue/green deployments (needs 15.4 or later)');
    expect(blueGreenRefusal('aurora-postgresql', '13.12')).toBeUndefined();
    expect(blueGreenRefusal('aurora-postgresql', '13.11')).toBe('PostgreSQL 13.11 does not support blue/green deployments (needs 13.12 or later)');
    expect(blueGreenRefusal('aurora-postgresql', '10.21')).toBe('PostgreSQL 10.21 does not support blue/green deployments (needs 11.21+, 12.16+, 13.12+, 14.9+, 15.4+ or 16+)');
  });

  test('a PostgreSQL version that cannot be read is refused, saying so', () => {
    expect(blueGreenRefusal('postgres', undefined)).toBe('engine version "undefined" could not be read');
    expect(blueGreenRefusal('aurora-postgresql', 'latest')).toBe('engine version "latest" could not be read');
  });
});

describe('blue/green preflight of an instance', () => {
  let r: Region;
  beforeEach(() => {
    r = east();
  });
  const c = () => clientsOf(r);
  const noPi = { PerformanceInsightsKMSKeyId: undefined, PerformanceInsightsEnabled: false };

  test('passes with the blue/green warning only, and checks no names (blue/green creates none of them)', async () => {
    r.addInstance(instance(noPi));
    // Names the snapshot method would create already exist; blue/green does not create them.
    r.addInstance(instance({ DBInstanceIdentifier: `orders-pre-rekey-${RUN}` }));
    r.snapshots.set(`orders-rekey-${RUN}-src`, { DBSnapshotIdentifier: `orders-rekey-${RUN}-src` });
    const s = await preflight(c(), inst({ method: 'blue-green' }));
    expect(s.warnings).toEqual([BG_WARNING]);
    expect(s.lastStep).toBe('preflight');
    expect(r.inputs(DescribeDBInstancesCommand)).toEqual([{ DBInstanceIdentifier: 'orders' }]);
  });

  test('Performance Insights on the target key already is no refusal', async () => {
    r.addInstance(instance({ PerformanceInsightsKMSKeyId: NEW_KEY }));
    expect((await preflight(c(), inst({ method: 'blue-green' }))).lastStep).toBe('preflight');
  });

  test('BLUE_GREEN_PI_KEY names the instance and the old Performance Insights key', async () => {
    expect(await problems(c(), inst({ method: 'blue-green' }))).toEqual([
      {
        code: 'BLUE_GREEN_PI_KEY',
        resource: 'orders',
        message: `Performance Insights of orders is encrypted with ${OLD_KEY}; a blue/green deployment cannot move it (no Performance Insights key parameter) and the green environment would keep using the old key`,
        next: 'use --method snapshot (it enables Performance Insights on the new resource with the target key)',
      },
    ]);
  });

  test('BLUE_GREEN_MANAGED_SECRET', async () => {
    r.addInstance(instance({ ...noPi, MasterUserSecret: { SecretArn: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:rds!db-1`, SecretStatus: 'active' } }));
    expect(await problems(c(), inst({ method: 'blue-green' }))).toEqual([
      {
        code: 'BLUE_GREEN_MANAGED_SECRET',
        resource: 'orders',
        message: 'blue/green deployments do not support master user passwords managed in Secrets Manager (RDS and Aurora user guides, blue/green limitations)',
        next: 'use --method snapshot, or turn off the managed master password first',
      },
    ]);
  });

  test('BLUE_GREEN_CROSS_REGION_REPLICA lists the replicas in other Regions; same-Region replicas are looked at for cascades only', async () => {
    const eu = `arn:aws:rds:eu-west-1:${ACCOUNT}:db:orders-eu`;
    const west2 = `arn:aws:rds:us-west-2:${ACCOUNT}:db:orders-west`;
    r.addInstance(instance({ ...noPi, ReadReplicaDBInstanceIdentifiers: [eu, 'orders-ro', west2] }));
    r.addInstance(instance({ ...noPi, DBInstanceIdentifier: 'orders-ro', ReadReplicaSourceDBInstanceIdentifier: 'orders' }));
    expect(await problems(c(), inst({ method: 'blue-green' }))).toEqual([
      {
        code: 'BLUE_GREEN_CROSS_REGION_REPLICA',
        resource: 'orders',
        message: `cross-Region read replicas ${eu}, ${west2}: blue/green deployments do not support them (RDS User Guide, blue/green limitations)`,
        next: 'use --method snapshot, or remove the cross-Region replicas first and re-create them after the switchover',
      },
    ]);
    // The replicas in other Regions are not looked up in this one.
    expect(r.inputs(DescribeDBInstancesCommand)).toEqual([{ DBInstanceIdentifier: 'orders' }, { DBInstanceIdentifier: 'orders-ro' }]);
  });

  test('BLUE_GREEN_CASCADING_REPLICA for a same-Region replica (listed by ARN) that has replicas of its own', async () => {
    r.addInstance(instance({ ...noPi, ReadReplicaDBInstanceIdentifiers: [`arn:aws:rds:us-east-1:${ACCOUNT}:db:orders-ro`] }));
    r.addInstance(
      instance({ ...noPi, DBInstanceIdentifier: 'orders-ro', ReadReplicaSourceDBInstanceIdentifier: 'orders', ReadReplicaDBInstanceIdentifiers: ['orders-ro-ro'], ReadReplicaDBClusterIdentifiers: ['orders-ro-aurora'] }),
    );
    expect(await problems(c(), inst({ method: 'blue-green' }))).toEqual([
      {
        code: 'BLUE_GREEN_CASCADING_REPLICA',
        resource: 'orders-ro',
        message: 'read replica orders-ro has its own replicas (orders-ro-ro, orders-ro-aurora); blue/green deployments do not support cascading read replicas (RDS User Guide, blue/green limitations)',
        next: 'use --method snapshot, or remove the cascaded replicas first',
      },
    ]);
  });

  test('a replica that no longer exists is no refusal', async () => {
    r.addInstance(instance({ ...noPi, ReadReplicaDBInstanceIdentifiers: ['orders-ro-deleted'] }));
    expect((await preflight(c(), inst({ method: 'blue-green' }))).lastStep).toBe('preflight');
  });

  test('BLUE_GREEN_SAME_REGION_ONLY for a share and for another Region', async () => {
    r.addInstance(instance(noPi));
    const sameRegionOnly = { code: 'BLUE_GREEN_SAME_REGION_ONLY', resource: 'orders', message: 'a blue/green deployment stays in the same Region and account', next: 'use --method snapshot for cross-Region or cross-account' };
    r.addKey(NEW_KEY, {}, JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: [`arn:aws:iam::${ACCOUNT}:root`, `arn:aws:iam::${OTHER_ACCOUNT}:root`] }, Action: 'kms:*' }] }), 'alias/orders-2026');
    expect(await problems(c(), inst({ method: 'blue-green', shareWithAccount: OTHER_ACCOUNT }))).toEqual([sameRegionOnly]);
    expect(await problems(clientsOf(r, west()), inst({ method: 'blue-green', targetRegion: 'us-west-2', targetSecurityGroupIds: ['sg-west'] }))).toEqual([sameRegionOnly]);
  });
});

describe('blue/green preflight of an Aurora cluster', () => {
  let r: Region;
  beforeEach(() => {
    r = east();
  });
  const c = () => clientsOf(r);

  test('BLUE_GREEN_PI_KEY names every member whose Performance Insights uses another key', async () => {
    expect(await problems(c(), clus({ method: 'blue-green' }))).toEqual([
      {
        code: 'BLUE_GREEN_PI_KEY',
        resource: 'ledger',
        message: `Performance Insights of ledger-1, ledger-2 is encrypted with ${OLD_KEY}; a blue/green deployment cannot move it (no Performance Insights key parameter) and the green environment would keep using the old key`,
        next: 'use --method snapshot (it enables Performance Insights on the new resource with the target key)',
      },
    ]);
  });

  test('members without Performance Insights: passes with the blue/green warning', async () => {
    r.addInstance(member('ledger-1', { PerformanceInsightsKMSKeyId: undefined, PerformanceInsightsEnabled: false }));
    r.addInstance(member('ledger-2', { PerformanceInsightsKMSKeyId: undefined, PerformanceInsightsEnabled: false }));
    const s = await preflight(c(), clus({ method: 'blue-green' }));
    expect(s.warnings).toEqual([BG_WARNING]);
  });

  test('BLUE_GREEN_MANAGED_SECRET for a cluster with an RDS-managed master secret', async () => {
    r.addCluster(cluster({ MasterUserSecret: { SecretArn: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:rds!cluster-1`, SecretStatus: 'active' } }));
    r.addInstance(member('ledger-1', { PerformanceInsightsKMSKeyId: NEW_KEY }));
    r.addInstance(member('ledger-2', { PerformanceInsightsKMSKeyId: NEW_KEY }));
    expect((await problems(c(), clus({ method: 'blue-green' }))).map((p) => p.code)).toEqual(['BLUE_GREEN_MANAGED_SECRET']);
  });
});
