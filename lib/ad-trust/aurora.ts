import { Annotations, Duration, Fn, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
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
 * The database security group rules the Aurora Kerberos setup guide asks for: "The DB cluster must use a
 * security group that allows ingress and egress within the directory's VPC so the DB cluster can
 * communicate with the directory" (Step 6), and the DB security group must "receive inbound traffic
 * from the directory security group" (Step 5).
 * https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/postgresql-kerberos-setting-up.html
 * https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-mysql-kerberos-setting-up.html
 * The directory lives in the database's VPC here, so "within the directory's VPC" is that VPC's CIDR.
 */
function allowDirectoryTraffic(sg: ec2.SecurityGroup, vpc: ec2.IVpc, directorySecurityGroupId: string | undefined): void {
  const inVpc = ec2.Peer.ipv4(vpc.vpcCidrBlock);
  sg.addIngressRule(inVpc, ec2.Port.allTraffic(), "within the directory's VPC (Aurora Kerberos setup guide)");
  sg.addEgressRule(inVpc, ec2.Port.allTraffic(), "within the directory's VPC (Aurora Kerberos setup guide)");
  if (directorySecurityGroupId) {
    sg.addIngressRule(ec2.Peer.securityGroupId(directorySecurityGroupId), ec2.Port.allTraffic(), "from the directory's security group (Aurora Kerberos setup guide)");
  }
  Validations.of(sg).acknowledge({
    id: 'AwsSolutions-EC23',
    reason: "The rule cannot evaluate the VPC CIDR (Fn::GetAtt); the sources are the database's own VPC CIDR, the directory's security group and the client CIDRs, and the constructs reject 0.0.0.0/0 as a client CIDR.",
  });
}

/**
 * A suffix that is new for every creation of the stack: the first group of the stack ID's UUID. Retained
 * resources that need a name (the global cluster, the clusters and the log groups RDS writes to) carry
 * it, so a redeploy after a destroy or a failed first deploy never collides with what was kept.
 */
export function deploymentSuffix(scope: Construct): string {
  return Fn.select(0, Fn.split('-', Fn.select(2, Fn.split('/', Stack.of(scope).stackId))));
}

/**
 * Lets CloudWatch Logs of this account and Region use `key` for log groups (bound by the encryption context), or
 * warns when the key is imported and its policy cannot be changed here.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
 */
export function allowCloudWatchLogs(scope: Construct, key: kms.IKey, what: string): void {
  const stack = Stack.of(scope);
  const { statementAdded } = key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'AllowCloudWatchLogsInThisAccount',
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${stack.partition}:logs:${stack.region}:${stack.account}:*` } },
    }),
  );
  if (!statementAdded) {
    Annotations.of(scope).addWarningV2('db-ops-kit:importedKeyLogs', `encryptionKey is imported: its key policy must allow logs.${stack.region}.amazonaws.com to use it (kms:EncryptionContext:aws:logs:arn), or ${what} fail to create.`);
  }
}

/**
 * Creates the CloudWatch log groups RDS exports to (`/aws/rds/cluster/<id>/<log>`) so their retention is
 * set by CloudFormation instead of RDS creating never-expiring groups. RETAINed (audit data); the cluster
 * identifier in their names carries {@link deploymentSuffix}, so a kept group never blocks a redeploy.
 */
function clusterLogGroups(scope: Construct, clusterIdentifier: string, exports: string[], retention: logs.RetentionDays, key: kms.IKey): logs.LogGroup[] {
  // Control Tower CT.CLOUDWATCH.PR.3: encrypted with the database key, which must let CloudWatch Logs of this
  // account and Region use it, bound to log groups by the encryption context.
  // https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
  allowCloudWatchLogs(scope, key, 'the RDS log groups');
  return exports.map(
    (name) =>
      new logs.LogGroup(scope, `Logs${name}`, {
        logGroupName: Fn.join('', ['/aws/rds/cluster/', clusterIdentifier, `/${name}`]),
        retention,
        encryptionKey: key,
        removalPolicy: RemovalPolicy.RETAIN,
      }),
  );
}

/**
 * Control Tower CT.KMS.PR.3: grants on the key only for AWS resources. RDS (storage, Performance Insights),
 * Secrets Manager and Directory Service create their grants on the caller's behalf (kms:GrantIsForAWSResource
 * is true); CloudWatch Logs uses the key policy. Nothing in the kit calls kms:CreateGrant itself.
 * https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-is-for-aws-resource
 * https://docs.aws.amazon.com/controltower/latest/controlreference/kms-rules.html
 */
export function denyGrantsExceptForAwsResources(key: kms.Key): kms.Key {
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'DenyGrantsExceptForAwsResources',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
    }),
  );
  return key;
}

/** Enhanced Monitoring at 60 s (Control Tower CT.RDS.PR.2): OS metrics into CloudWatch Logs `RDSOSMetrics`, billed as Logs ingestion. */
const MONITORING_INTERVAL = Duration.seconds(60);
/** Enhanced Monitoring role, assumable by RDS only for this account's instances (confused-deputy guard, same page). */
function newMonitoringRole(scope: Construct): iam.Role {
  const stack = Stack.of(scope);
  return new iam.Role(scope, 'MonitoringRole', {
    assumedBy: new iam.ServicePrincipal('monitoring.rds.amazonaws.com', {
      conditions: {
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:rds:${stack.region}:${stack.account}:db:*` },
      },
    }),
    managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonRDSEnhancedMonitoringRole')],
  });
}
const MONITORING_POLICY = 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]';
const MONITORING_REASON = 'The AWS managed policy for Enhanced Monitoring (logs:CreateLogGroup/PutLogEvents/PutRetentionPolicy on the RDS* log groups only); assumable only by monitoring.rds.amazonaws.com. https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_Monitoring.OS.Enabling.html';

/** Longest identifier prefix: `<prefix>-<region (up to 14)>-<8 hex>` must fit RDS's 63 characters. */
export const MAX_IDENTIFIER_PREFIX = 39;

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
  /**
   * Prefix of the global cluster's and the primary cluster's identifiers (at most 39 characters). Each
   * creation of the stack appends its own suffix (`<prefix>-<8 hex>`, cluster `<prefix>-<region>-<8 hex>`),
   * so the RETAINed global cluster never blocks a redeploy.
   */
  readonly globalClusterIdentifier: string;
  /** Networks whose clients may connect to the database port (on-premises and application CIDRs). */
  readonly clientCidrs: string[];
  /**
   * The directory's domain-controller security group: the database accepts its traffic (Aurora Kerberos setup guide).
   * @default - no rule for it (traffic within the VPC is still allowed)
   */
  readonly directorySecurityGroupId?: string;
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
  /** @default logs.RetentionDays.ONE_YEAR (Control Tower CT.CLOUDWATCH.PR.2 requires at least one year) */
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
  /** The identifier prefix (from props, lower case); the secondary uses it for its own cluster identifier. */
  public readonly globalClusterName: string;

  constructor(scope: Construct, id: string, props: KerberosGlobalDatabaseProps) {
    super(scope, id);
    const problems = new Problems();
    if (props.engine !== 'aurora-postgresql' && props.engine !== 'aurora-mysql') problems.add(`engine must be aurora-postgresql or aurora-mysql, got "${props.engine}"`);
    problems.check(
      props.globalClusterIdentifier,
      (s) => GLOBAL_ID_RE.test(s) && s.length <= MAX_IDENTIFIER_PREFIX,
      `globalClusterIdentifier "${props.globalClusterIdentifier}" must be 1-${MAX_IDENTIFIER_PREFIX} letters, digits or hyphens, start with a letter and not end with or contain two hyphens (the stack appends -<region>-<8 hex> for the cluster)`,
    );
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
    this.globalClusterName = props.globalClusterIdentifier.toLowerCase();
    this.encryptionKey = props.encryptionKey ?? denyGrantsExceptForAwsResources(new kms.Key(this, 'Key', { enableKeyRotation: true, description: 'Aurora global database, primary Region', removalPolicy: RemovalPolicy.RETAIN }));
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', { vpc: props.vpc, description: 'Aurora primary cluster: clients on the database port, the directory', allowAllOutbound: false });
    // Kept with the cluster (and its subnet group, parameter group, key, secret): a RETAINed cluster needs them.
    this.securityGroup.applyRemovalPolicy(RemovalPolicy.RETAIN);
    for (const c of props.clientCidrs) this.securityGroup.addIngressRule(ec2.Peer.ipv4(c), ec2.Port.tcp(d.port), `database clients ${c}`);
    allowDirectoryTraffic(this.securityGroup, props.vpc, props.directorySecurityGroupId);

    const suffix = deploymentSuffix(this);
    const clusterIdentifier = Fn.join('-', [this.globalClusterName, Stack.of(this).region.toLowerCase(), suffix]);
    const logGroups = clusterLogGroups(this, clusterIdentifier, d.logExports, props.logRetention ?? logs.RetentionDays.ONE_YEAR, this.encryptionKey);
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
      // Deletion protection stays on: the cluster is RETAINed (below), so neither a rollback nor a stack
      // deletion ever asks CloudFormation to delete it, and protection cannot make either fail.
      deletionProtection: true,
      // RETAIN, not SNAPSHOT: a member of a global cluster cannot be deleted (RDS refuses until it is
      // removed from the global cluster), so SNAPSHOT would end a stack deletion in DELETE_FAILED.
      removalPolicy: RemovalPolicy.RETAIN,
      copyTagsToSnapshot: true,
      backup: { retention: props.backupRetention ?? Duration.days(14) },
      cloudwatchLogsExports: d.logExports,
      monitoringInterval: MONITORING_INTERVAL,
      monitoringRole: newMonitoringRole(this),
      parameterGroup: new rds.ParameterGroup(this, 'Parameters', { engine: d.engine, description: 'TLS required', parameters: d.tlsParameters, removalPolicy: RemovalPolicy.RETAIN }),
    });
    // The master password of a retained cluster is kept with it (break-glass access). `cluster.secret` is
    // the attachment; the generated secret itself is the cluster's `Secret` child.
    for (const c of this.cluster.node.findAll()) {
      if (c instanceof secretsmanager.CfnSecret || c instanceof secretsmanager.CfnSecretTargetAttachment) c.applyRemovalPolicy(RemovalPolicy.RETAIN);
    }
    Validations.of(this.cluster).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'Aurora Global Database does not support RDS-managed master passwords, and users log in with Kerberos; the master password is a break-glass credential that operators rotate during a maintenance window.',
    });
    acknowledgeCommonRdsFindings(this.cluster, props.engine);
    if (this.cluster.monitoringRole) {
      Validations.of(this.cluster.monitoringRole).acknowledge({ id: MONITORING_POLICY, reason: MONITORING_REASON });
      // Kept with the RETAINed instances that use it (no fixed name, so a redeploy never collides with it).
      this.cluster.monitoringRole.applyRemovalPolicy(RemovalPolicy.RETAIN);
    }
    for (const lg of logGroups) this.cluster.node.addDependency(lg);

    this.globalCluster = new rds.CfnGlobalCluster(this, 'Global', {
      globalClusterIdentifier: Fn.join('-', [this.globalClusterName, suffix]),
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
  /** The global cluster to join (its full identifier, e.g. a cross-Region reference to the primary's). */
  readonly globalClusterIdentifier: string;
  /**
   * Prefix of this cluster's identifier (`<prefix>-<region>-<8 hex>`, at most 39 characters).
   * @default 'aurora-kerberos'
   */
  readonly identifierPrefix?: string;
  /** Networks whose clients may connect to the database port in this Region (on-premises and application CIDRs). */
  readonly clientCidrs: string[];
  /**
   * The replicated directory's domain-controller security group in this Region: the database accepts its traffic.
   * @default - no rule for it (traffic within the VPC is still allowed)
   */
  readonly directorySecurityGroupId?: string;
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
  /** @default logs.RetentionDays.ONE_YEAR (Control Tower CT.CLOUDWATCH.PR.2 requires at least one year) */
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
    problems.check(
      props.identifierPrefix,
      (s) => GLOBAL_ID_RE.test(s) && s.length <= MAX_IDENTIFIER_PREFIX,
      `identifierPrefix "${props.identifierPrefix}" must be 1-${MAX_IDENTIFIER_PREFIX} letters, digits or hyphens, start with a letter and not end with or contain two hyphens`,
    );
    if (props.instances !== undefined && (props.instances < 1 || props.instances > 16 || !Number.isInteger(props.instances))) problems.add(`instances must be 1..16, got ${props.instances}`);
    if (props.clientCidrs.length === 0) problems.add('clientCidrs needs at least one network that may connect to the database');
    for (const c of props.clientCidrs) if (c === '0.0.0.0/0') problems.add('clientCidrs must not contain 0.0.0.0/0');
    if (Token.isUnresolved(Stack.of(this).region)) problems.add('the stack needs an explicit region for a cross-Region secondary');
    problems.throwIfAny(this.node.path);

    const d = engineDefaults(props.engine);
    this.port = d.port;
    this.encryptionKey = props.encryptionKey ?? denyGrantsExceptForAwsResources(new kms.Key(this, 'Key', { enableKeyRotation: true, description: 'Aurora global database, secondary Region', removalPolicy: RemovalPolicy.RETAIN }));
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', { vpc: props.vpc, description: 'Aurora secondary cluster: clients on the database port, the directory', allowAllOutbound: false });
    for (const c of props.clientCidrs) this.securityGroup.addIngressRule(ec2.Peer.ipv4(c), ec2.Port.tcp(d.port), `database clients ${c}`);
    allowDirectoryTraffic(this.securityGroup, props.vpc, props.directorySecurityGroupId);

    const subnetGroup = new rds.SubnetGroup(this, 'Subnets', {
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      description: 'Aurora global database secondary',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const params = new rds.CfnDBClusterParameterGroup(this, 'Parameters', { family: d.family, description: 'TLS required', parameters: d.tlsParameters });
    // Kept with the RETAINed cluster: it cannot exist without its subnet group, security group and parameters.
    for (const r of [this.securityGroup, params]) r.applyRemovalPolicy(RemovalPolicy.RETAIN);

    const clusterIdentifier = Fn.join('-', [(props.identifierPrefix ?? 'aurora-kerberos').toLowerCase(), Stack.of(this).region.toLowerCase(), deploymentSuffix(this)]);
    const logGroups = clusterLogGroups(this, clusterIdentifier, d.logExports, props.logRetention ?? logs.RetentionDays.ONE_YEAR, this.encryptionKey);
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

    const monitoringRole = newMonitoringRole(this);
    Validations.of(monitoringRole).acknowledge({ id: MONITORING_POLICY, reason: MONITORING_REASON });
    monitoringRole.applyRemovalPolicy(RemovalPolicy.RETAIN); // kept with the RETAINed instances that use it
    this.instances = Array.from({ length: props.instances ?? 1 }, (_, i) => {
      const inst = new rds.CfnDBInstance(this, `Instance${i + 1}`, {
        dbClusterIdentifier: this.cluster.ref,
        dbInstanceClass: props.instanceClass ?? 'db.r6g.large',
        engine: props.engine,
        publiclyAccessible: false,
        autoMinorVersionUpgrade: true,
        enablePerformanceInsights: true,
        performanceInsightsKmsKeyId: this.encryptionKey.keyArn,
        monitoringInterval: MONITORING_INTERVAL.toSeconds(),
        monitoringRoleArn: monitoringRole.roleArn,
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
