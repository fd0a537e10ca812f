/**
 * Source databases in moto for the KMS key change integration tests: a DB instance and an Aurora
 * cluster with two instances, each with a custom parameter group, security groups, tags,
 * Performance Insights, deletion protection and log exports — the settings a restore drops.
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CreateSecurityGroupCommand, CreateSubnetCommand, CreateVpcCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main as cliMain } from '../../../lambda/kms-key-change/cli';
import { MotoServer, startMoto } from '../../helpers/moto';
import {
  CreateDBClusterCommand,
  CreateDBClusterParameterGroupCommand,
  CreateDBInstanceCommand,
  CreateDBParameterGroupCommand,
  CreateDBSubnetGroupCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  ModifyDBInstanceCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { captureCluster, captureInstance, CapturedSettings } from '../../../lambda/kms-key-change/settings';

export interface World {
  rds: RDSClient;
  kms: KMSClient;
  ec2: EC2Client;
  cw: CloudWatchClient;
  oldKey: string;
  newKey: string;
  /** Two real security groups (moto EC2) in `vpcId`, the source's groups. */
  sg: string[];
  vpcId: string;
  /** DB subnet group over two subnets of `vpcId`. */
  subnetGroup: string;
  /** DatabaseConnections each source instance reports (the publisher below); default 0. */
  connections: Map<string, number>;
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
  let timer: NodeJS.Timeout | undefined;
  beforeAll(async () => {
    moto = await startMoto();
    const w = await makeWorld();
    // RDS publishes DatabaseConnections every minute for every instance; moto publishes nothing, so this
    // plays CloudWatch's part: every 250 ms a datapoint per instance registered in w.connections.
    timer = setInterval(() => void publishConnections(w).catch(() => undefined), 250);
    onReady(w);
  }, 60_000);
  afterAll(async () => {
    if (timer) clearInterval(timer);
    await moto?.stop();
  });
}

export async function makeWorld(region = 'us-east-1'): Promise<World> {
  const rds = new RDSClient({ region });
  const kms = new KMSClient({ region });
  const oldKey = (await kms.send(new CreateKeyCommand({ Description: 'old' }))).KeyMetadata!.Arn!;
  const newKey = (await kms.send(new CreateKeyCommand({ Description: 'new' }))).KeyMetadata!.Arn!;
  const ec2 = new EC2Client({ region });
  const cw = new CloudWatchClient({ region });
  const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.20.0.0/16' }))).Vpc!.VpcId!;
  const subnets: string[] = [];
  for (const [i, az] of [`${region}a`, `${region}b`].entries()) {
    subnets.push((await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.20.${i}.0/24`, AvailabilityZone: az }))).Subnet!.SubnetId!);
  }
  const subnetGroup = 'db-private';
  await rds.send(new CreateDBSubnetGroupCommand({ DBSubnetGroupName: subnetGroup, DBSubnetGroupDescription: 'private', SubnetIds: subnets }));
  const sg: string[] = [];
  for (const name of ['app-clients', 'bastion']) sg.push((await ec2.send(new CreateSecurityGroupCommand({ GroupName: name, Description: name, VpcId: vpcId }))).GroupId!);
  return { rds, kms, ec2, cw, oldKey, newKey, sg, vpcId, subnetGroup, connections: new Map() };
}

/** One DatabaseConnections datapoint per registered instance (see useMotoWorld). */
export async function publishConnections(w: World): Promise<void> {
  const data = [...w.connections.entries()].map(([id, n]) => ({ MetricName: 'DatabaseConnections', Dimensions: [{ Name: 'DBInstanceIdentifier', Value: id }], Value: n, Timestamp: new Date() }));
  for (let i = 0; i < data.length; i += 20) await w.cw.send(new PutMetricDataCommand({ Namespace: 'AWS/RDS', MetricData: data.slice(i, i + 20) }));
}

export async function makeInstance(w: World, id: string, opts: { encrypted?: boolean } = {}): Promise<void> {
  const encrypted = opts.encrypted ?? true;
  w.connections.set(id, 0);
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
      ...(encrypted ? { StorageEncrypted: true, KmsKeyId: w.oldKey } : { StorageEncrypted: false }),
      DBParameterGroupName: pg,
      DBSubnetGroupName: w.subnetGroup,
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

export async function makeCluster(w: World, id: string, opts: { encrypted?: boolean } = {}): Promise<void> {
  const encrypted = opts.encrypted ?? true;
  const cpg = `${id}-apg16`;
  await w.rds.send(new CreateDBClusterParameterGroupCommand({ DBClusterParameterGroupName: cpg, DBParameterGroupFamily: 'aurora-postgresql16', Description: 'custom' }));
  await w.rds.send(
    new CreateDBClusterCommand({
      DBClusterIdentifier: id,
      Engine: 'aurora-postgresql',
      EngineVersion: '16.4',
      MasterUsername: 'app',
      MasterUserPassword: 'not-a-real-password-1',
      ...(encrypted ? { StorageEncrypted: true, KmsKeyId: w.oldKey } : { StorageEncrypted: false }),
      DBClusterParameterGroupName: cpg,
      DBSubnetGroupName: w.subnetGroup,
      VpcSecurityGroupIds: w.sg,
      Tags: [{ Key: 'team', Value: 'ledger' }],
      DeletionProtection: true,
      EnableCloudwatchLogsExports: ['postgresql'],
      BackupRetentionPeriod: 7,
      EnableIAMDatabaseAuthentication: true,
    }),
  );
  for (const [m, tier] of [[`${id}-1`, 0], [`${id}-2`, 1]] as const) {
    w.connections.set(m, 0);
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

/** A fresh temporary folder per test of the calling file (for state files), removed after each test. */
export function useTempDir(prefix: string): () => string {
  let dir: string | undefined;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  afterEach(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  return () => dir!;
}

/** Runs the kms-change CLI in-process and returns its exit code and printed lines. */
export async function runCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await cliMain(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
