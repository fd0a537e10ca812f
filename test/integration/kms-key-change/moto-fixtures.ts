/**
 * Source databases in moto for the KMS key change integration tests: a DB instance and an Aurora
 * cluster with two instances, each with a custom parameter group, security groups, tags,
 * Performance Insights, deletion protection and log exports — the settings a restore drops.
 */
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { MotoServer, startMoto } from '../../helpers/moto';
import {
  CreateDBClusterCommand,
  CreateDBClusterParameterGroupCommand,
  CreateDBInstanceCommand,
  CreateDBParameterGroupCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  ModifyDBInstanceCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { captureCluster, captureInstance, CapturedSettings } from '../../../lambda/kms-key-change/settings';

export interface World {
  rds: RDSClient;
  kms: KMSClient;
  oldKey: string;
  newKey: string;
  sg: string[];
}

/**
 * One moto server and one World for the calling test file: registers beforeAll/afterAll (the server is stopped
 * by PID) and hands the World to `onReady`. Powertools logs are silenced and the run lock's read-back pause
 * (5 s in production) is set to 0, which one moto server does not need.
 */
export function useMotoWorld(onReady: (w: World) => void): void {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  process.env.REKEY_LOCK_SETTLE_MS = '0';
  let moto: MotoServer | undefined;
  beforeAll(async () => {
    moto = await startMoto();
    onReady(await makeWorld());
  }, 60_000);
  afterAll(async () => {
    await moto?.stop();
  });
}

export async function makeWorld(region = 'us-east-1'): Promise<World> {
  const rds = new RDSClient({ region });
  const kms = new KMSClient({ region });
  const oldKey = (await kms.send(new CreateKeyCommand({ Description: 'old' }))).KeyMetadata!.Arn!;
  const newKey = (await kms.send(new CreateKeyCommand({ Description: 'new' }))).KeyMetadata!.Arn!;
  const sg = await securityGroups(region);
  return { rds, kms, oldKey, newKey, sg };
}

/** moto does not check security group ids against EC2, so fixed ids stand in for real groups. */
async function securityGroups(_region: string): Promise<string[]> {
  return ['sg-0a1b2c3d4e5f60001', 'sg-0a1b2c3d4e5f60002'];
}

export async function makeInstance(w: World, id: string): Promise<void> {
  const pg = `${id}-pg17`;
  await w.rds.send(new CreateDBParameterGroupCommand({ DBParameterGroupName: pg, DBParameterGroupFamily: 'postgres17', Description: 'custom' }));
  await w.rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: id,
      DBInstanceClass: 'db.t4g.medium',
      Engine: 'postgres',
      EngineVersion: '17.2',
      AllocatedStorage: 50,
      MasterUsername: 'app',
      MasterUserPassword: 'not-a-real-password-1',
      StorageEncrypted: true,
      KmsKeyId: w.oldKey,
      DBParameterGroupName: pg,
      VpcSecurityGroupIds: w.sg,
      Tags: [{ Key: 'team', Value: 'orders' }, { Key: 'cost-center', Value: 'cc-42' }],
      DeletionProtection: true,
      BackupRetentionPeriod: 7,
      PreferredBackupWindow: '03:00-04:00',
      EnableCloudwatchLogsExports: ['postgresql'],
      CopyTagsToSnapshot: true,
      EnableIAMDatabaseAuthentication: true,
      StorageType: 'gp3',
    }),
  );
  // moto keeps Performance Insights only when set through ModifyDBInstance.
  await w.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: id, EnablePerformanceInsights: true, PerformanceInsightsKMSKeyId: w.oldKey, PerformanceInsightsRetentionPeriod: 7, PreferredMaintenanceWindow: 'sun:05:00-sun:06:00', ApplyImmediately: true }));
}

export async function makeCluster(w: World, id: string): Promise<void> {
  const cpg = `${id}-apg16`;
  await w.rds.send(new CreateDBClusterParameterGroupCommand({ DBClusterParameterGroupName: cpg, DBParameterGroupFamily: 'aurora-postgresql16', Description: 'custom' }));
  await w.rds.send(
    new CreateDBClusterCommand({
      DBClusterIdentifier: id,
      Engine: 'aurora-postgresql',
      EngineVersion: '16.4',
      MasterUsername: 'app',
      MasterUserPassword: 'not-a-real-password-1',
      StorageEncrypted: true,
      KmsKeyId: w.oldKey,
      DBClusterParameterGroupName: cpg,
      VpcSecurityGroupIds: w.sg,
      Tags: [{ Key: 'team', Value: 'ledger' }],
      DeletionProtection: true,
      EnableCloudwatchLogsExports: ['postgresql'],
      BackupRetentionPeriod: 7,
      EnableIAMDatabaseAuthentication: true,
    }),
  );
  for (const [m, tier] of [[`${id}-1`, 0], [`${id}-2`, 1]] as const) {
    await w.rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: m,
        DBClusterIdentifier: id,
        DBInstanceClass: 'db.r6g.large',
        Engine: 'aurora-postgresql',
        PromotionTier: tier,
        Tags: [{ Key: 'team', Value: 'ledger' }],
      }),
    );
    await w.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: m, EnablePerformanceInsights: true, PerformanceInsightsKMSKeyId: w.oldKey, PerformanceInsightsRetentionPeriod: 7, ApplyImmediately: true }));
  }
}

/** The source's settings as the kit captures them (for "unchanged" assertions). */
export async function settingsOf(w: World, kind: 'instance' | 'cluster', id: string): Promise<CapturedSettings> {
  if (kind === 'instance') {
    const i = (await w.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0];
    return { kind, instance: captureInstance(i) };
  }
  const c = (await w.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }))).DBClusters![0];
  const members = [];
  for (const m of c.DBClusterMembers ?? []) members.push((await w.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: m.DBInstanceIdentifier }))).DBInstances![0]);
  return { kind, cluster: captureCluster(c, members) };
}

/** Settings minus what a rename changes (identifier, ARN, status). */
export function withoutIdentity(s: CapturedSettings): unknown {
  const strip = (o: Record<string, unknown>) => {
    const { id: _i, arn: _a, status: _s, clusterId: _c, ...rest } = o;
    return rest;
  };
  if (s.kind === 'instance') return strip(s.instance as unknown as Record<string, unknown>);
  return { ...strip(s.cluster as unknown as Record<string, unknown>), members: s.cluster.members.map((m) => strip(m as unknown as Record<string, unknown>)) };
}
