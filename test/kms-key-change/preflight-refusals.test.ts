/**
 * Each preflight refusal as the operator reads it: the code, the resource, what exists (message) and
 * the exact next step, asserted whole (toEqual) and alone (no other problem in the list). The source
 * Region is the in-memory Region of preflight-world.ts (aws-sdk-client-mock; see its header for why
 * not moto): proxy targets, global databases, RDS Custom engines and key states are staged there.
 */
import { DescribeDBClustersCommand, DescribeDBInstancesCommand, DescribeDBProxyTargetsCommand, DescribeGlobalClustersCommand } from '@aws-sdk/client-rds';
import { heldProblem, LOCK_TAG } from '../../lambda/kms-key-change/lock';
import { preflight, PreflightError } from '../../lambda/kms-key-change/preflight';
import { cluster, instance, member, notFound } from './fixtures';
import { ACCOUNT, clientsOf, clus, east, inst, NEW_KEY, OLD_KEY, OTHER_ACCOUNT, problems, Region, RUN } from './preflight-world';

let r: Region;
beforeEach(() => {
  r = east();
});
const c = () => clientsOf(r);

describe('source not found', () => {
  test('an instance: SOURCE_NOT_FOUND only, nothing else looked at (no proxies, no names, no key policy)', async () => {
    r.instances.delete('orders');
    // What a half-finished earlier cutover leaves: the original renamed, a proxy still naming the old id.
    r.addInstance(instance({ DBInstanceIdentifier: `orders-pre-rekey-${RUN}` }));
    r.proxies.set('orders-proxy', [{ RdsResourceId: 'orders', Type: 'RDS_INSTANCE' }]);
    expect(await problems(c(), inst())).toEqual([
      { code: 'SOURCE_NOT_FOUND', resource: 'orders', message: 'no DB instance "orders" in us-east-1', next: 'check the identifier and the Region (--region / AWS_REGION)' },
    ]);
  });

  test('an instance whose describe answer carries no DBInstances list', async () => {
    r.rdsStub.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders' }).resolves({});
    expect((await problems(c(), inst())).map((p) => p.code)).toEqual(['SOURCE_NOT_FOUND']);
  });

  test('a cluster: SOURCE_NOT_FOUND with the cluster wording', async () => {
    r.clusters.delete('ledger');
    expect(await problems(c(), clus())).toEqual([{ code: 'SOURCE_NOT_FOUND', resource: 'ledger', message: 'no DB cluster "ledger" in us-east-1', next: 'check the identifier and the Region' }]);
  });

  test('a cluster whose describe answer carries no DBClusters list', async () => {
    r.rdsStub.on(DescribeDBClustersCommand, { DBClusterIdentifier: 'ledger' }).resolves({});
    expect((await problems(c(), clus())).map((p) => p.code)).toEqual(['SOURCE_NOT_FOUND']);
  });
});

describe('instance refusals', () => {
  test('INSTANCE_IN_CLUSTER names the cluster and the --db-cluster command', async () => {
    expect(await problems(c(), inst({ sourceId: 'ledger-1' }))).toEqual([
      { code: 'INSTANCE_IN_CLUSTER', resource: 'ledger-1', message: 'the instance belongs to Aurora cluster ledger; Aurora encryption is per cluster', next: 'run with --db-cluster ledger' },
    ]);
  });

  test('SOURCE_NOT_AVAILABLE quotes the status', async () => {
    r.addInstance(instance({ DBInstanceStatus: 'modifying' }));
    expect(await problems(c(), inst())).toEqual([{ code: 'SOURCE_NOT_AVAILABLE', resource: 'orders', message: 'status is "modifying"', next: 'wait until it is available and run again' }]);
  });

  test('RUN_IN_PROGRESS when another run holds the lock; its own lock (a resume) passes', async () => {
    const other = '20261129220000';
    r.addInstance(instance({ TagList: [{ Key: 'team', Value: 'orders' }, { Key: LOCK_TAG, Value: other }] }));
    expect(await problems(c(), inst())).toEqual([heldProblem({ kind: 'instance', sourceId: 'orders', region: 'us-east-1' }, 'orders', other)]);
    r.addInstance(instance({ TagList: [{ Key: 'team', Value: 'orders' }, { Key: LOCK_TAG, Value: RUN }] }));
    expect((await preflight(c(), inst())).lastStep).toBe('preflight');
  });

  test('SOURCE_IS_READ_REPLICA names the primary', async () => {
    r.addInstance(instance({ ReadReplicaSourceDBInstanceIdentifier: 'orders-primary' }));
    expect(await problems(c(), inst())).toEqual([
      { code: 'SOURCE_IS_READ_REPLICA', resource: 'orders', message: 'it is a read replica of orders-primary', next: 're-key the primary; then recreate the replica from it' },
    ]);
  });

  test('HAS_READ_REPLICAS lists every replica', async () => {
    r.addInstance(instance({ ReadReplicaDBInstanceIdentifiers: ['orders-ro1', 'orders-ro2'] }));
    expect(await problems(c(), inst())).toEqual([
      {
        code: 'HAS_READ_REPLICAS',
        resource: 'orders',
        message: 'read replicas orders-ro1, orders-ro2 replicate from it and would keep the old key',
        next: 're-key with --method blue-green, or re-create the replicas from the new instance after cutover and then remove the old ones yourself',
      },
    ]);
  });

  test('ENGINE_UNSUPPORTED for RDS Custom with the snapshot method', async () => {
    r.addInstance(instance({ Engine: 'custom-oracle-ee', EngineVersion: '19.c.ee.002' }));
    expect(await problems(c(), inst())).toEqual([{ code: 'ENGINE_UNSUPPORTED', resource: 'orders', message: 'RDS Custom (custom-oracle-ee) is not supported', next: 'follow the RDS Custom documentation' }]);
  });

  test('RDS Custom with blue/green is refused as a blue/green engine, not twice', async () => {
    r.addInstance(instance({ Engine: 'custom-oracle-ee', EngineVersion: '19.c.ee.002', PerformanceInsightsKMSKeyId: undefined }));
    expect(await problems(c(), inst({ method: 'blue-green' }))).toEqual([
      {
        code: 'BLUE_GREEN_UNSUPPORTED',
        resource: 'orders',
        message: 'blue/green deployments are not available for engine custom-oracle-ee (supported: mysql, mariadb, postgres, aurora-mysql, aurora-postgresql)',
        next: 'use --method snapshot',
      },
    ]);
  });
});

describe('RDS Proxy targets', () => {
  const proxyProblem = (proxy: string, id: string, kind: string) => ({
    code: 'PROXY_TARGET',
    resource: id,
    message: `RDS Proxy ${proxy} targets it`,
    next: `plan to deregister it from ${proxy} and register the new ${kind} during cutover (aws rds deregister-db-proxy-targets / register-db-proxy-targets), then run again with the proxy detached`,
  });

  test('a proxy with the instance among other targets is named; a proxy of other databases is not', async () => {
    r.proxies.set('reports-proxy', [{ RdsResourceId: 'reports', Type: 'RDS_INSTANCE' }]);
    r.proxies.set('orders-proxy', [
      { RdsResourceId: 'reports', Type: 'RDS_INSTANCE' },
      { RdsResourceId: 'orders', Type: 'RDS_INSTANCE' },
    ]);
    expect(await problems(c(), inst())).toEqual([proxyProblem('orders-proxy', 'orders', 'instance')]);
  });

  test('a proxy that tracks the cluster', async () => {
    r.proxies.set('ledger-proxy', [{ TrackedClusterId: 'ledger', Type: 'TRACKED_CLUSTER' }]);
    expect(await problems(c(), clus())).toEqual([proxyProblem('ledger-proxy', 'ledger', 'cluster')]);
  });

  test('a proxy that targets one member instance of the cluster', async () => {
    r.proxies.set('ledger-ro-proxy', [{ RdsResourceId: 'ledger-2', Type: 'RDS_INSTANCE' }]);
    expect(await problems(c(), clus())).toEqual([proxyProblem('ledger-ro-proxy', 'ledger', 'cluster')]);
  });

  test('a proxy deleted between listing and describing its targets is no refusal', async () => {
    r.proxies.set('gone-proxy', [{ RdsResourceId: 'orders', Type: 'RDS_INSTANCE' }]);
    // The listing still shows the proxy; describing its targets says it is gone.
    r.rdsStub.on(DescribeDBProxyTargetsCommand, { DBProxyName: 'gone-proxy' }).rejects(notFound('DBProxyNotFoundFault'));
    expect((await preflight(c(), inst())).lastStep).toBe('preflight');
  });
});

describe('target key refusals', () => {
  test('KEY_NOT_FOUND names the key and the Region', async () => {
    expect(await problems(c(), inst({ kmsKey: 'alias/missing' }))).toEqual([
      { code: 'KEY_NOT_FOUND', resource: 'alias/missing', message: 'no KMS key "alias/missing" in us-east-1', next: 'pass a key ARN or alias from us-east-1' },
    ]);
  });

  test('KEY_WRONG_REGION names both Regions', async () => {
    const eu = NEW_KEY.replace('us-east-1', 'eu-west-1');
    r.addKey(eu);
    expect(await problems(c(), inst({ kmsKey: eu }))).toEqual([
      { code: 'KEY_WRONG_REGION', resource: eu, message: 'the key is in eu-west-1 but the new instance will be in us-east-1', next: 'use a key from us-east-1 (a multi-Region replica key works)' },
    ]);
  });

  test('KEY_NOT_ENABLED quotes the key state', async () => {
    r.addKey(NEW_KEY, { KeyState: 'PendingDeletion' }, undefined, 'alias/orders-2026');
    expect(await problems(c(), inst())).toEqual([{ code: 'KEY_NOT_ENABLED', resource: NEW_KEY, message: 'key state is PendingDeletion', next: 'enable the key (or cancel its deletion) and run again' }]);
  });

  test('KEY_NOT_SYMMETRIC and KEY_USAGE for an HMAC key', async () => {
    r.addKey(NEW_KEY, { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }, undefined, 'alias/orders-2026');
    expect(await problems(c(), inst())).toEqual([
      { code: 'KEY_NOT_SYMMETRIC', resource: NEW_KEY, message: 'key spec is HMAC_256; RDS needs a symmetric encryption key', next: 'create a SYMMETRIC_DEFAULT key' },
      { code: 'KEY_USAGE', resource: NEW_KEY, message: 'key usage is GENERATE_VERIFY_MAC', next: 'use an ENCRYPT_DECRYPT key' },
    ]);
  });

  test('KEY_AWS_MANAGED for a share; the AWS managed key policy is not read', async () => {
    r.addKey(NEW_KEY, { KeyManager: 'AWS' }, undefined, 'alias/orders-2026');
    expect(await problems(c(), inst({ shareWithAccount: OTHER_ACCOUNT }))).toEqual([
      { code: 'KEY_AWS_MANAGED', resource: NEW_KEY, message: 'snapshots encrypted with an AWS managed key (aws/rds) cannot be shared', next: 'use a customer managed key whose policy grants the other account' },
    ]);
  });

  test('ALREADY_ON_TARGET_KEY: nothing to do', async () => {
    expect(await problems(c(), inst({ kmsKey: OLD_KEY }))).toEqual([{ code: 'ALREADY_ON_TARGET_KEY', resource: 'orders', message: 'the source is already encrypted with this key', next: 'nothing to do' }]);
  });

  test('KEY_POLICY_DENIES_RDS names the account and the statement to add', async () => {
    r.addKey(NEW_KEY, {}, JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::999999999999:root' }, Action: 'kms:*', Resource: '*' }] }), 'alias/orders-2026');
    expect(await problems(c(), inst())).toEqual([
      {
        code: 'KEY_POLICY_DENIES_RDS',
        resource: NEW_KEY,
        message: `the key policy lets no principal of account ${ACCOUNT} create grants, so RDS cannot use it`,
        next: 'add the default "Enable IAM User Permissions" statement or allow kms:CreateGrant/Encrypt/Decrypt/GenerateDataKey*/DescribeKey with kms:ViaService rds.us-east-1.amazonaws.com',
      },
    ]);
  });

  test('KEY_NOT_SHARED names the other account and the statement to add', async () => {
    expect(await problems(c(), inst({ shareWithAccount: OTHER_ACCOUNT }))).toEqual([
      {
        code: 'KEY_NOT_SHARED',
        resource: NEW_KEY,
        message: `the key policy does not grant account ${OTHER_ACCOUNT}`,
        next: `add a statement allowing arn:aws:iam::${OTHER_ACCOUNT}:root kms:Decrypt, kms:DescribeKey, kms:CreateGrant, kms:ReEncrypt*, kms:GenerateDataKey*`,
      },
    ]);
  });
});

describe('cluster refusals', () => {
  test('CLUSTER_NOT_AURORA for a Multi-AZ DB cluster', async () => {
    r.addCluster(cluster({ Engine: 'postgres' }));
    expect(await problems(c(), clus())).toEqual([
      { code: 'CLUSTER_NOT_AURORA', resource: 'ledger', message: 'engine postgres is a Multi-AZ DB cluster, which this kit does not restore', next: 'use the console or CLI restore for Multi-AZ DB clusters' },
    ]);
  });

  test('ENGINE_MODE_UNSUPPORTED for Serverless v1; engine mode global passes', async () => {
    r.addCluster(cluster({ EngineMode: 'serverless' }));
    expect(await problems(c(), clus())).toEqual([{ code: 'ENGINE_MODE_UNSUPPORTED', resource: 'ledger', message: 'engine mode serverless is not supported', next: 'migrate to provisioned or Serverless v2 first' }]);
    r.addCluster(cluster({ EngineMode: 'global' }));
    expect((await preflight(c(), clus())).lastStep).toBe('preflight');
  });

  test('SOURCE_NOT_AVAILABLE for the cluster and for each member not available', async () => {
    r.addCluster(cluster({ Status: 'backing-up' }));
    r.addInstance(member('ledger-2', { DBInstanceStatus: 'rebooting' }));
    expect(await problems(c(), clus())).toEqual([
      { code: 'SOURCE_NOT_AVAILABLE', resource: 'ledger', message: 'status is "backing-up"', next: 'wait until it is available and run again' },
      { code: 'SOURCE_NOT_AVAILABLE', resource: 'ledger-2', message: 'member status is "rebooting"', next: 'wait until every member is available' },
    ]);
  });

  test('CLUSTER_HAS_NO_INSTANCES', async () => {
    r.addCluster(cluster({ DBClusterMembers: [] }));
    expect(await problems(c(), clus())).toEqual([
      { code: 'CLUSTER_HAS_NO_INSTANCES', resource: 'ledger', message: 'the cluster has no DB instances', next: 'add a writer first; a re-keyed copy needs one to be usable' },
    ]);
  });

  const globalProblem = (g: string) => ({
    code: 'GLOBAL_CLUSTER_MEMBER',
    resource: 'ledger',
    message: `member of global database ${g}`,
    next: 'remove it from the global database (or re-key every Region and rebuild the global database), then run again',
  });

  test('GLOBAL_CLUSTER_MEMBER found by scanning the global databases names the right one', async () => {
    r.globalClusters.push(
      { GlobalClusterIdentifier: 'other-global', GlobalClusterMembers: [{ DBClusterArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:other', IsWriter: true }] },
      {
        GlobalClusterIdentifier: 'ledger-global',
        GlobalClusterMembers: [
          { DBClusterArn: 'arn:aws:rds:us-west-2:123456789012:cluster:ledger-west', IsWriter: true },
          { DBClusterArn: cluster().DBClusterArn, IsWriter: false },
        ],
      },
    );
    expect(await problems(c(), clus())).toEqual([globalProblem('ledger-global')]);
  });

  test('global databases the cluster is not part of are no refusal', async () => {
    r.globalClusters.push({ GlobalClusterIdentifier: 'other-global', GlobalClusterMembers: [{ DBClusterArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:other', IsWriter: true }] });
    expect((await preflight(c(), clus())).source).toMatchObject({ kind: 'cluster', cluster: { globalClusterId: undefined } });
  });

  test('GlobalClusterIdentifier reported on the cluster is enough: the global databases are not listed', async () => {
    r.addCluster(cluster({ GlobalClusterIdentifier: 'ledger-global' }));
    const denied = Object.assign(new Error('not authorized to perform rds:DescribeGlobalClusters'), { name: 'AccessDenied' });
    r.rdsStub.on(DescribeGlobalClustersCommand).rejects(denied);
    expect(await problems(c(), clus())).toEqual([globalProblem('ledger-global')]);
  });

  test('SOURCE_IS_READ_REPLICA for a cross-Region replica cluster', async () => {
    const src = 'arn:aws:rds:us-west-2:123456789012:cluster:ledger-west';
    r.addCluster(cluster({ ReplicationSourceIdentifier: src }));
    expect(await problems(c(), clus())).toEqual([{ code: 'SOURCE_IS_READ_REPLICA', resource: 'ledger', message: `replicates from ${src}`, next: 're-key the source cluster instead' }]);
  });

  test('HAS_READ_REPLICAS lists every replica cluster', async () => {
    const a = 'arn:aws:rds:us-west-2:123456789012:cluster:ledger-west';
    const b = 'arn:aws:rds:eu-west-1:123456789012:cluster:ledger-eu';
    r.addCluster(cluster({ ReadReplicaIdentifiers: [a, b] }));
    expect(await problems(c(), clus())).toEqual([
      { code: 'HAS_READ_REPLICAS', resource: 'ledger', message: `cross-Region replicas ${a}, ${b} would keep the old key`, next: 'promote or remove them first, then re-create them from the new cluster' },
    ]);
  });
});

test('the error message lists every problem on its own line with what to do next', async () => {
  r.addInstance(instance({ DBInstanceStatus: 'stopped' }));
  r.addKey(NEW_KEY, { KeyState: 'Disabled' }, undefined, 'alias/orders-2026');
  const e = await preflight(c(), inst()).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(PreflightError);
  expect((e as PreflightError).name).toBe('PreflightFailed');
  expect((e as PreflightError).message).toBe(
    'preflight refused the key change:\n' +
      '  - SOURCE_NOT_AVAILABLE orders: status is "stopped". Next: wait until it is available and run again\n' +
      `  - KEY_NOT_ENABLED ${NEW_KEY}: key state is Disabled. Next: enable the key (or cancel its deletion) and run again`,
  );
});
