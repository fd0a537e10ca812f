import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import { Problems } from './validation';

export type AuroraEngineName = 'aurora-postgresql' | 'aurora-mysql';

interface EngineDefaults {
  readonly engine: rds.IClusterEngine;
  readonly port: number;
  readonly family: string;
  /** Cluster parameters that make the server refuse unencrypted connections. */
  readonly tlsParameters: Record<string, string>;
  readonly logExports: string[];
}

/**
 * Engine versions that support both Aurora Global Database and Kerberos authentication:
 * Aurora PostgreSQL 16.6 and Aurora MySQL 3.08.0 (MySQL 8.0 compatible; Kerberos needs 3.03+).
 */
export function engineDefaults(name: AuroraEngineName): EngineDefaults {
  if (name === 'aurora-postgresql') {
    return {
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_6 }),
      port: 5432,
      family: 'aurora-postgresql16',
      tlsParameters: { 'rds.force_ssl': '1' },
      logExports: ['postgresql'],
    };
  }
  return {
    engine: rds.DatabaseClusterEngine.auroraMysql({ version: rds.AuroraMysqlEngineVersion.VER_3_08_0 }),
    port: 3306,
    family: 'aurora-mysql8.0',
    tlsParameters: { require_secure_transport: 'ON' },
    logExports: ['audit', 'error', 'general', 'slowquery'],
  };
}

/**
 * Creates the CloudWatch log groups RDS exports to (`/aws/rds/cluster/<id>/<log>`) so their retention
 * is set by CloudFormation instead of RDS creating never-expiring groups. RETAINed: they are audit data.
 */
/**
 * Kerberos needs the database to reach the directory's domain controllers in its own VPC: Aurora MySQL forwards
 * authentication requests to the directory, and Aurora PostgreSQL resolves AD group membership over LDAP. Egress is
 * opened to the VPC CIDR (where the directory's controllers live) on the directory ports only.
 */
function allowDirectoryEgress(sg: ec2.SecurityGroup, vpc: ec2.IVpc): void {
  const to = ec2.Peer.ipv4(vpc.vpcCidrBlock);
  for (const [port, what] of [
    [ec2.Port.tcp(53), 'DNS'],
    [ec2.Port.udp(53), 'DNS'],
    [ec2.Port.tcp(88), 'Kerberos'],
    [ec2.Port.udp(88), 'Kerberos'],
    [ec2.Port.tcp(389), 'LDAP'],
    [ec2.Port.udp(389), 'LDAP'],
    [ec2.Port.tcp(464), 'Kerberos password'],
    [ec2.Port.udp(464), 'Kerberos password'],
    [ec2.Port.tcp(636), 'LDAPS'],
    [ec2.Port.tcpRange(3268, 3269), 'Global Catalog'],
  ] as const) {
    sg.addEgressRule(to, port, `${what} to the directory's domain controllers`);
  }
}

function clusterLogGroups(scope: Construct, clusterIdentifier: string, exports: string[], retention: logs.RetentionDays): logs.LogGroup[] {
  return exports.map(
    (name) =>
      new logs.LogGroup(scope, `Logs${name}`, {
        logGroupName: `/aws/rds/cluster/${clusterIdentifier}/${name}`,
        retention,
        removalPolicy: RemovalPolicy.RETAIN,
      }),
  );
}

/** Global cluster identifier rules: 1–63 letters, digits or hyphens, starting with a letter, no double or trailing hyphen. */
export const GLOBAL_ID_RE = /^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,62}(?<!-)$/;

function acknowledgeCommonRdsFindings(scope: Construct, engine: AuroraEngineName): void {
  Validations.of(scope).acknowledge({
    id: 'AwsSolutions-RDS11',
    reason: 'The engine default port is kept so Kerberos clients and the generated connect commands work unchanged; access is limited by the security group to the on-premises CIDRs, and TLS plus Kerberos/IAM authentication are required.',
  });
  if (engine === 'aurora-mysql') {
    Validations.of(scope).acknowledge({
      id: 'AwsSolutions-RDS14',
      reason: 'Backtrack is not supported for clusters in an Aurora Global Database; point-in-time restore and the global secondary cover recovery.',
    });
  }
}

/** Props of {@link KerberosGlobalDatabase}, the primary Region's side of the global database. */
export interface KerberosGlobalDatabaseProps {
  /**
   * Aurora engine; the version is fixed per engine to one that supports both Global Database and Kerberos
   * (Aurora PostgreSQL 16.6, Aurora MySQL 3.08.0).
   */
  readonly engine: AuroraEngineName;
  /** VPC of the primary cluster; it must reach the directory's domain controllers. */
  readonly vpc: ec2.IVpc;
  /** @default - isolated subnets */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** Directory ID (`d-…`) of the AWS Managed Microsoft AD; the same ID is used in every Region. */
  readonly directoryId: string;
  /** Role trusted by rds.amazonaws.com and directoryservice.rds.amazonaws.com (see `DirectoryAccessRole`). */
  readonly directoryRole: iam.IRole;
  /** Identifier of the global cluster; the secondary Region joins it by this name. */
  readonly globalClusterIdentifier: string;
  /** Networks whose clients may connect to the database port (on-premises and application CIDRs). */
  readonly clientCidrs: string[];
  /**
   * Storage, secret and Performance Insights key.
   * @default - a new customer-managed key with rotation
   */
  readonly encryptionKey?: kms.IKey;
  /** @default ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE) (global databases need memory-optimized classes) */
  readonly instanceType?: ec2.InstanceType;
  /** @default 1 */
  readonly readers?: number;
  /** @default 'dbadmin' */
  readonly masterUsername?: string;
  /** @default Duration.days(14) */
  readonly backupRetention?: Duration;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The primary side of an Aurora Global Database with Kerberos: a provisioned Aurora cluster joined to
 * the directory (`domain` + `domainRole`), encrypted with a customer-managed key, TLS required,
 * deletion protection on and SNAPSHOT on removal; and the global cluster created from it.
 */
export class KerberosGlobalDatabase extends Construct {
  public readonly cluster: rds.DatabaseCluster;
  public readonly globalCluster: rds.CfnGlobalCluster;
  public readonly encryptionKey: kms.IKey;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly port: number;
  public readonly engineName: AuroraEngineName;
  /** Engine version string (e.g. `16.6`) that the secondary must use. */
  public readonly engineVersion: string;
  public readonly parameterGroupFamily: string;
  /** The global cluster identifier as a plain string (from props), usable in another Region's stack without a cross-Region reference. */
  public readonly globalClusterName: string;

  constructor(scope: Construct, id: string, props: KerberosGlobalDatabaseProps) {
    super(scope, id);
    const problems = new Problems();
    if (props.engine !== 'aurora-postgresql' && props.engine !== 'aurora-mysql') problems.add(`engine must be aurora-postgresql or aurora-mysql, got "${props.engine}"`);
    problems.check(props.globalClusterIdentifier, (s) => GLOBAL_ID_RE.test(s), `globalClusterIdentifier "${props.globalClusterIdentifier}" must be 1-63 letters, digits or hyphens, start with a letter and not end with or contain two hyphens`);
    problems.check(props.directoryId, (s) => /^d-[0-9a-f]{10}$/.test(s), `directoryId "${props.directoryId}" must look like d-1234567890`);
    if (props.readers !== undefined && (props.readers < 0 || props.readers > 15 || !Number.isInteger(props.readers))) problems.add(`readers must be 0..15, got ${props.readers}`);
    if (props.clientCidrs.length === 0) problems.add('clientCidrs needs at least one network that may connect to the database');
    for (const c of props.clientCidrs) if (c === '0.0.0.0/0') problems.add('clientCidrs must not contain 0.0.0.0/0');
    problems.throwIfAny(this.node.path);

    const d = engineDefaults(props.engine);
    this.engineName = props.engine;
    this.port = d.port;
    this.engineVersion = d.engine.engineVersion?.fullVersion ?? '';
    this.parameterGroupFamily = d.family;
    this.globalClusterName = props.globalClusterIdentifier;
    this.encryptionKey = props.encryptionKey ?? new kms.Key(this, 'Key', { enableKeyRotation: true, description: 'Aurora global database, primary Region', removalPolicy: RemovalPolicy.RETAIN });
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', { vpc: props.vpc, description: 'Aurora primary cluster: database port from client networks only', allowAllOutbound: false });
    for (const c of props.clientCidrs) this.securityGroup.addIngressRule(ec2.Peer.ipv4(c), ec2.Port.tcp(d.port), `database clients ${c}`);
    allowDirectoryEgress(this.securityGroup, props.vpc);

    const clusterIdentifier = `${props.globalClusterIdentifier}-${Stack.of(this).region}`.toLowerCase();
    const logGroups = clusterLogGroups(this, clusterIdentifier, d.logExports, props.logRetention ?? logs.RetentionDays.THREE_MONTHS);
    const instanceType = props.instanceType ?? ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE);
    const instanceProps: rds.ProvisionedClusterInstanceProps = {
      instanceType,
      publiclyAccessible: false,
      autoMinorVersionUpgrade: true,
      enablePerformanceInsights: true,
      performanceInsightEncryptionKey: this.encryptionKey,
    };
    this.cluster = new rds.DatabaseCluster(this, 'Cluster', {
      clusterIdentifier,
      engine: d.engine,
      port: d.port,
      credentials: rds.Credentials.fromGeneratedSecret(props.masterUsername ?? 'dbadmin', { encryptionKey: this.encryptionKey }),
      writer: rds.ClusterInstance.provisioned('Writer', instanceProps),
      readers: Array.from({ length: props.readers ?? 1 }, (_, i) => rds.ClusterInstance.provisioned(`Reader${i + 1}`, instanceProps)),
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [this.securityGroup],
      storageEncrypted: true,
      storageEncryptionKey: this.encryptionKey,
      domain: props.directoryId,
      domainRole: props.directoryRole,
      iamAuthentication: true,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.SNAPSHOT,
      copyTagsToSnapshot: true,
      backup: { retention: props.backupRetention ?? Duration.days(14) },
      cloudwatchLogsExports: d.logExports,
      parameterGroup: new rds.ParameterGroup(this, 'Parameters', { engine: d.engine, description: 'TLS required', parameters: d.tlsParameters }),
    });
    Validations.of(this.cluster).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'Aurora Global Database does not support RDS-managed master passwords, and users log in with Kerberos; the master password is a break-glass credential that operators rotate during a maintenance window.',
    });
    acknowledgeCommonRdsFindings(this.cluster, props.engine);
    for (const lg of logGroups) this.cluster.node.addDependency(lg);

    this.globalCluster = new rds.CfnGlobalCluster(this, 'Global', {
      globalClusterIdentifier: props.globalClusterIdentifier,
      sourceDbClusterIdentifier: this.cluster.clusterArn,
      deletionProtection: true,
    });
    // A global cluster cannot be snapshotted; keep it (and so its members) when the stack goes away.
    this.globalCluster.applyRemovalPolicy(RemovalPolicy.RETAIN);
  }

  get globalClusterIdentifier(): string {
    return this.globalCluster.ref;
  }

  /** Lets a principal connect with IAM database authentication as `dbUser` (Kerberos users need no grant here). */
  grantConnect(grantee: iam.IGrantable, dbUser: string): iam.Grant {
    return this.cluster.grantConnect(grantee, dbUser);
  }
}

/** Props of {@link KerberosSecondaryCluster}, the secondary Region's cluster of the global database. */
export interface KerberosSecondaryClusterProps {
  /** Aurora engine; must be the primary's engine (the version is taken from the same per-engine defaults). */
  readonly engine: AuroraEngineName;
  /** VPC of the secondary cluster in this Region; it must reach the replicated directory's domain controllers. */
  readonly vpc: ec2.IVpc;
  /** @default - isolated subnets */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** The same directory ID as the primary (the directory replicated to this Region). */
  readonly directoryId: string;
  /** Name of the directory-access role (IAM is global; the primary stack creates it). */
  readonly directoryRoleName: string;
  /** The global cluster to join. */
  readonly globalClusterIdentifier: string;
  /** Networks whose clients may connect to the database port in this Region (on-premises and application CIDRs). */
  readonly clientCidrs: string[];
  /**
   * Storage key in this Region (a cross-Region encrypted secondary must name its own key).
   * @default - a new customer-managed key with rotation
   */
  readonly encryptionKey?: kms.IKey;
  /** @default 'db.r6g.large' */
  readonly instanceClass?: string;
  /** @default 1 */
  readonly instances?: number;
  /** @default 14 */
  readonly backupRetentionDays?: number;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The secondary Region's cluster of the global database: joins the global cluster, carries NO master
 * credentials (CloudFormation rejects them on a secondary), encrypts with its own Region's
 * customer-managed key, and joins the replicated directory for Kerberos. RETAINed on removal: a
 * secondary must be detached from the global cluster before it can be deleted, which is an
 * operator's decision (see README, teardown).
 */
export class KerberosSecondaryCluster extends Construct {
  public readonly cluster: rds.CfnDBCluster;
  public readonly instances: rds.CfnDBInstance[];
  public readonly encryptionKey: kms.IKey;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly port: number;

  constructor(scope: Construct, id: string, props: KerberosSecondaryClusterProps) {
    super(scope, id);
    const problems = new Problems();
    if (props.engine !== 'aurora-postgresql' && props.engine !== 'aurora-mysql') problems.add(`engine must be aurora-postgresql or aurora-mysql, got "${props.engine}"`);
    problems.check(props.globalClusterIdentifier, (s) => GLOBAL_ID_RE.test(s), `globalClusterIdentifier "${props.globalClusterIdentifier}" is not a valid global cluster identifier`);
    if (props.instances !== undefined && (props.instances < 1 || props.instances > 16 || !Number.isInteger(props.instances))) problems.add(`instances must be 1..16, got ${props.instances}`);
    if (props.clientCidrs.length === 0) problems.add('clientCidrs needs at least one network that may connect to the database');
    for (const c of props.clientCidrs) if (c === '0.0.0.0/0') problems.add('clientCidrs must not contain 0.0.0.0/0');
    if (Token.isUnresolved(Stack.of(this).region)) problems.add('the stack needs an explicit region for a cross-Region secondary');
    problems.throwIfAny(this.node.path);

    const d = engineDefaults(props.engine);
    this.port = d.port;
    this.encryptionKey = props.encryptionKey ?? new kms.Key(this, 'Key', { enableKeyRotation: true, description: 'Aurora global database, secondary Region', removalPolicy: RemovalPolicy.RETAIN });
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', { vpc: props.vpc, description: 'Aurora secondary cluster: database port from client networks only', allowAllOutbound: false });
    for (const c of props.clientCidrs) this.securityGroup.addIngressRule(ec2.Peer.ipv4(c), ec2.Port.tcp(d.port), `database clients ${c}`);
    allowDirectoryEgress(this.securityGroup, props.vpc);

    const subnetGroup = new rds.SubnetGroup(this, 'Subnets', {
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      description: 'Aurora global database secondary',
    });
    const params = new rds.CfnDBClusterParameterGroup(this, 'Parameters', { family: d.family, description: 'TLS required', parameters: d.tlsParameters });

    const clusterIdentifier = Token.isUnresolved(props.globalClusterIdentifier)
      ? undefined
      : `${props.globalClusterIdentifier}-${Stack.of(this).region}`.toLowerCase();
    const logGroups = clusterLogGroups(this, clusterIdentifier ?? 'unknown', clusterIdentifier ? d.logExports : [], props.logRetention ?? logs.RetentionDays.THREE_MONTHS);
    this.cluster = new rds.CfnDBCluster(this, 'Cluster', {
      dbClusterIdentifier: clusterIdentifier,
      engine: props.engine,
      engineVersion: d.engine.engineVersion!.fullVersion,
      globalClusterIdentifier: props.globalClusterIdentifier,
      storageEncrypted: true,
      kmsKeyId: this.encryptionKey.keyArn,
      dbSubnetGroupName: subnetGroup.subnetGroupName,
      vpcSecurityGroupIds: [this.securityGroup.securityGroupId],
      dbClusterParameterGroupName: params.ref,
      port: d.port,
      domain: props.directoryId,
      domainIamRoleName: props.directoryRoleName,
      enableIamDatabaseAuthentication: true,
      deletionProtection: true,
      copyTagsToSnapshot: true,
      backupRetentionPeriod: props.backupRetentionDays ?? 14,
      enableCloudwatchLogsExports: d.logExports,
    });
    this.cluster.applyRemovalPolicy(RemovalPolicy.RETAIN);
    for (const lg of logGroups) this.cluster.node.addDependency(lg);
    acknowledgeCommonRdsFindings(this.cluster, props.engine);

    this.instances = Array.from({ length: props.instances ?? 1 }, (_, i) => {
      const inst = new rds.CfnDBInstance(this, `Instance${i + 1}`, {
        dbClusterIdentifier: this.cluster.ref,
        dbInstanceClass: props.instanceClass ?? 'db.r6g.large',
        engine: props.engine,
        publiclyAccessible: false,
        autoMinorVersionUpgrade: true,
        enablePerformanceInsights: true,
        performanceInsightsKmsKeyId: this.encryptionKey.keyArn,
      });
      inst.applyRemovalPolicy(RemovalPolicy.RETAIN);
      return inst;
    });
  }

  get clusterEndpoint(): string {
    return this.cluster.attrEndpointAddress;
  }

  get readerEndpoint(): string {
    return this.cluster.attrReadEndpointAddress;
  }
}
