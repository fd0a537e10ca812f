import * as fs from 'fs';
import * as path from 'path';
import {
  Annotations,
  CfnResource,
  CustomResource,
  Duration,
  Names,
  RemovalPolicy,
  Stack,
  Token,
  Validations,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as cwActions,
  aws_ec2 as ec2,
  aws_iam as iam,
  aws_kms as kms,
  aws_lambda as lambda,
  aws_lambda_nodejs as nodejs,
  aws_logs as logs,
  aws_rds as rds,
  aws_secretsmanager as secretsmanager,
  aws_sns as sns,
  custom_resources as cr,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';

/** How the query Lambda authenticates to RDS Proxy. */
export type CredentialMode = 'iam' | 'secret';

/** The Aurora cluster to create when no existing cluster is passed. */
export interface RdsProxyLambdaClusterProps {
  /**
   * Aurora PostgreSQL engine version.
   * @default - Aurora PostgreSQL 16.13 (Serverless v2 capable, Kerberos and IAM auth supported)
   */
  readonly engineVersion?: rds.AuroraPostgresEngineVersion;
  /**
   * The writer and readers. Readers need a writer; passing `readers` without `writer` fails synth.
   * @default - one Serverless v2 writer and no readers
   */
  readonly instances?: {
    /**
     * The writer instance.
     * @default - a Serverless v2 writer (auto minor version upgrade on) sized by `serverlessV2MinCapacity`/`serverlessV2MaxCapacity`
     */
    readonly writer?: rds.IClusterInstance;
    /**
     * Reader instances; they need an explicit `writer`.
     * @default - no readers
     */
    readonly readers?: rds.IClusterInstance[];
  };
  /**
   * Serverless v2 capacity range in ACUs (0.5 steps; min 0 allows auto-pause on engines that support it).
   * @default - min 0.5, max 4
   */
  readonly serverlessV2MinCapacity?: number;
  /** @default - 4 ACUs */
  readonly serverlessV2MaxCapacity?: number;
  /**
   * Cluster identifier. Set explicitly so the PostgreSQL log group can be created up front (KMS-encrypted, with
   * retention) before RDS writes to it.
   * @default - a name unique to this construct's path, e.g. `dbopsrdsproxylambda-rdsproxylambda-1a2b3c4d`
   */
  readonly clusterIdentifier?: string;
  /**
   * Database created in the cluster, used by the application role.
   * @default - `appdb`
   */
  readonly databaseName?: string;
  /**
   * Automated backup retention (1–35 days).
   * @default - 7 days
   */
  readonly backupRetention?: Duration;
  /**
   * What happens to the cluster when the stack is deleted or the resource is replaced.
   * @default - RemovalPolicy.SNAPSHOT (a final snapshot is kept; the cluster also has deletion protection)
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Deletion protection on the cluster.
   * @default - true
   */
  readonly deletionProtection?: boolean;
}

/** Props of {@link RdsProxyLambda}. */
export interface RdsProxyLambdaProps {
  /**
   * VPC to deploy into. Needs private (isolated or with egress) subnets in two AZs, and a Secrets Manager
   * interface endpoint with private DNS (or a NAT path) for rotation, bootstrap and secret mode.
   * @default - a new VPC (2 AZs, isolated subnets only, no NAT gateway, flow logs on) with a Secrets Manager
   *   interface endpoint (private DNS on) so no call leaves the VPC
   */
  readonly existingVpc?: ec2.IVpc;
  /**
   * Subnets for the cluster, proxy and functions.
   * @default - the new VPC's isolated subnets; with `existingVpc`, its isolated subnets if it has any,
   *   otherwise its private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * CIDR of the new VPC. Ignored with `existingVpc` (passing both fails synth).
   * @default - 10.20.0.0/16
   */
  readonly vpcCidr?: string;
  /**
   * Availability Zones of the new VPC. Give them explicitly so synth needs no AWS lookup.
   * @default - two AZs chosen by CDK (env-agnostic stacks) — set this for env-specific stacks
   */
  readonly availabilityZones?: string[];
  /**
   * An existing Aurora PostgreSQL cluster to put the proxy in front of. Needs `existingMasterSecret`.
   * Mutually exclusive with `clusterProps`.
   * @default - a new cluster from `clusterProps`
   */
  readonly existingCluster?: rds.IDatabaseCluster;
  /**
   * Master user secret of `existingCluster` (JSON with host, port, username, password, dbname), used once at
   * deploy time to create the application role.
   * @default - required with `existingCluster`; the new cluster's generated secret otherwise
   */
  readonly existingMasterSecret?: secretsmanager.ISecret;
  /**
   * Database name inside `existingCluster` that the application role may connect to.
   * @default - `clusterProps.databaseName`, or `appdb`
   */
  readonly existingDatabaseName?: string;
  /**
   * Settings of the new cluster. Mutually exclusive with `existingCluster`.
   * @default - Aurora PostgreSQL 16.13, one Serverless v2 writer (0.5–4 ACU), database `appdb`
   */
  readonly clusterProps?: RdsProxyLambdaClusterProps;
  /**
   * Customer-managed KMS key for the cluster storage, Performance Insights, secrets, logs and SNS. The construct
   * adds key-policy statements for CloudWatch Logs and CloudWatch alarms; an imported key cannot be changed, so
   * its policy must already allow them (synth warns).
   * @default - a new key with annual rotation, retained on stack deletion
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Name of the application role the Lambda logs in as (never the master user). Created in the database at
   * deploy time; its secret is the one registered with the proxy.
   * @default - `app_user`
   */
  readonly appUsername?: string;
  /**
   * How the Lambda authenticates to the proxy: `iam` signs a 15-minute token with `@aws-sdk/rds-signer` (no
   * password reaches the function; proxy IAM auth REQUIRED); `secret` reads the application secret (cached,
   * refreshed once on a password failure; proxy IAM auth DISABLED).
   * @default - `iam`
   */
  readonly credentialMode?: CredentialMode;
  /**
   * Interval of the single-user rotation of the master and application secrets (1–1000 days).
   * @default - 30 days
   */
  readonly rotationInterval?: Duration;
  /**
   * How long a client waits for a pooled connection before the proxy times out (RDS accepts 1–3600 s; must be
   * shorter than `functionTimeout` so a saturated pool fails the invocation with a clear error).
   * @default - half of `functionTimeout`, at most 30 seconds (7 s with the default 15 s function timeout)
   */
  readonly borrowTimeout?: Duration;
  /**
   * Maximum share of the database's `max_connections` the proxy may open (1–100).
   * @default - 90 (leaves headroom for administration and rotation)
   */
  readonly maxConnectionsPercent?: number;
  /**
   * Share of connections the proxy keeps idle in the pool (0 – maxConnectionsPercent).
   * @default - 50
   */
  readonly maxIdleConnectionsPercent?: number;
  /**
   * Idle client connection timeout (1 s – 8 h).
   * @default - 30 minutes
   */
  readonly idleClientTimeout?: Duration;
  /**
   * Timeout of the query Lambda (1–900 s). The handler's connect and query timeouts are derived from it.
   * @default - 15 seconds
   */
  readonly functionTimeout?: Duration;
  /**
   * Memory of the query Lambda in MB.
   * @default - 512
   */
  readonly functionMemoryMb?: number;
  /**
   * Retention of the Lambda and database log groups.
   * @default - one month
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Topic the alarms notify.
   * @default - a new KMS-encrypted topic (`alarmTopic`); subscribe to it or pass `alarmEmail`
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Folder holding this pattern's runtime code (`index.ts`, `bootstrap.ts`, ... of `lambda/rds-proxy-query/`),
   * for apps that keep Lambda code elsewhere. `lambda/shared/` must sit next to it (`<dir>/../shared`).
   * @default - `lambda/rds-proxy-query` two folders up from this file (the kit's layout: `lib/rds-proxy-lambda/` next to `lambda/`)
   */
  readonly runtimeCodeDir?: string;
}

const APP_USER_RE = /^[a-z_][a-z0-9_]{0,62}$/;
const DB_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Aurora PostgreSQL behind RDS Proxy with a Lambda that reuses one connection and caches credentials.
 *
 * - The proxy logs in to the database as an application role (created at deploy time, not the master user)
 *   with that role's secret, registered once; both secrets rotate single-user, so the proxy never sees a
 *   retired user (alternating-user rotation switches the username, which a proxy secret registration does not
 *   follow, and strands its connections).
 * - Clients authenticate to the proxy with IAM (default) or the cached application secret; TLS is required.
 * - Security groups chain Lambda → proxy → cluster on the database port only; no NAT gateway.
 */
export class RdsProxyLambda extends Construct {
  public readonly vpc: ec2.IVpc;
  public readonly cluster: rds.IDatabaseCluster;
  /** The KMS key used for storage, secrets, logs and the alarm topic. */
  public readonly encryptionKey: kms.IKey;
  /** Master user secret (rotated single-user). */
  public readonly masterSecret: secretsmanager.ISecret;
  /** Application role secret, registered with the proxy (rotated single-user). */
  public readonly appSecret: secretsmanager.ISecret;
  public readonly proxy: rds.DatabaseProxy;
  /** The query Lambda. */
  public readonly fn: nodejs.NodejsFunction;
  public readonly alarmTopic: sns.ITopic;
  public readonly alarms: cloudwatch.Alarm[] = [];
  public readonly appUsername: string;
  public readonly databaseName: string;
  public readonly credentialMode: CredentialMode;
  /** Security group of the Lambda; add other clients with `grantConnect` + `allowProxyFrom`. */
  public readonly functionSecurityGroup: ec2.SecurityGroup;
  public readonly proxySecurityGroup: ec2.SecurityGroup;

  private readonly endpointSecurityGroup?: ec2.ISecurityGroup;
  private readonly runtimeCodeDir: string;

  constructor(scope: Construct, id: string, props: RdsProxyLambdaProps = {}) {
    super(scope, id);
    validateProps(this, props);
    this.runtimeCodeDir = path.resolve(props.runtimeCodeDir ?? path.join(__dirname, '..', '..', 'lambda', 'rds-proxy-query'));

    this.credentialMode = props.credentialMode ?? 'iam';
    this.appUsername = props.appUsername ?? 'app_user';
    this.databaseName = props.existingDatabaseName ?? props.clusterProps?.databaseName ?? 'appdb';
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const port = 5432;

    this.encryptionKey =
      props.encryptionKey ??
      new kms.Key(this, 'Key', {
        description: `db-ops-kit ${this.node.path}: Aurora storage, Performance Insights, secrets, logs, SNS`,
        enableKeyRotation: true,
        removalPolicy: RemovalPolicy.RETAIN,
      });
    {
      // CloudWatch Logs must be able to use the key for the encrypted log groups below.
      const region = Stack.of(this).region;
      this.addKeyPolicy(
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal(`logs.${region}.amazonaws.com`)],
          actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
          resources: ['*'],
          conditions: {
            ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${Stack.of(this).partition}:logs:${region}:${Stack.of(this).account}:*` },
          },
        }),
      );
    }

    // ---- network -------------------------------------------------------------------------------------
    if (props.existingVpc) {
      this.vpc = props.existingVpc;
    } else {
      const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', { retention: logRetention, encryptionKey: this.encryptionKey });
      const vpc = new ec2.Vpc(this, 'Vpc', {
        ipAddresses: ec2.IpAddresses.cidr(props.vpcCidr ?? '10.20.0.0/16'),
        ...(props.availabilityZones ? { availabilityZones: props.availabilityZones } : { maxAzs: 2 }),
        natGateways: 0,
        subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 22 }],
        flowLogs: { all: { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup), trafficType: ec2.FlowLogTrafficType.ALL } },
        restrictDefaultSecurityGroup: true,
      });
      this.vpc = vpc;
      const endpointSg = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
        vpc,
        description: 'Secrets Manager interface endpoint: HTTPS from the kit functions only',
        allowAllOutbound: false,
      });
      vpc.addInterfaceEndpoint('SecretsManagerEndpoint', {
        service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
        privateDnsEnabled: true,
        securityGroups: [endpointSg],
        open: false,
        subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      });
      this.endpointSecurityGroup = endpointSg;
    }
    const subnets: ec2.SubnetSelection =
      props.vpcSubnets ??
      (!props.existingVpc
        ? { subnetGroupName: 'isolated' }
        : props.existingVpc.isolatedSubnets.length > 0
          ? { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }
          : { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });

    // Both rotation functions: PostgreSQL to the cluster (added by SecretRotation) and HTTPS to Secrets Manager.
    const rotationSg = new ec2.SecurityGroup(this, 'RotationSecurityGroup', {
      vpc: this.vpc,
      description: 'Secret rotation functions: PostgreSQL to the cluster, HTTPS to Secrets Manager',
      allowAllOutbound: false,
    });
    this.allowToSecretsManager(rotationSg);
    const rotationInterval = props.rotationInterval ?? Duration.days(30);

    // ---- cluster ---------------------------------------------------------------------------------------
    let clusterSecurityGroups: ec2.ISecurityGroup[];
    let masterRotation: secretsmanager.SecretRotation | undefined;
    if (props.existingCluster) {
      this.cluster = props.existingCluster;
      this.masterSecret = props.existingMasterSecret!;
      clusterSecurityGroups = props.existingCluster.connections.securityGroups;
    } else {
      const cp = props.clusterProps ?? {};
      const clusterSg = new ec2.SecurityGroup(this, 'ClusterSecurityGroup', {
        vpc: this.vpc,
        description: 'Aurora cluster: PostgreSQL from the proxy, rotation and bootstrap functions only',
        allowAllOutbound: false,
      });
      clusterSecurityGroups = [clusterSg];
      const engine = rds.DatabaseClusterEngine.auroraPostgres({ version: cp.engineVersion ?? rds.AuroraPostgresEngineVersion.VER_16_13 });
      const parameterGroup = new rds.ParameterGroup(this, 'ClusterParameters', {
        engine,
        description: 'db-ops-kit: TLS required, connection logging for audit',
        parameters: { 'rds.force_ssl': '1', log_connections: '1', log_disconnections: '1' },
      });
      const piSettings = { enablePerformanceInsights: true, performanceInsightEncryptionKey: this.encryptionKey };
      const writer =
        cp.instances?.writer ?? rds.ClusterInstance.serverlessV2('writer', { autoMinorVersionUpgrade: true });
      const clusterIdentifier = cp.clusterIdentifier ?? Names.uniqueResourceName(this, { maxLength: 60, separator: '-' }).toLowerCase();
      // Created before the cluster so RDS writes into a KMS-encrypted group with retention (instead of creating an
      // AWS-encrypted one that CDK's log-retention helper would have to adjust afterwards).
      const postgresLogs = new logs.LogGroup(this, 'PostgresqlLogs', {
        logGroupName: `/aws/rds/cluster/${clusterIdentifier}/postgresql`,
        retention: logRetention,
        encryptionKey: this.encryptionKey,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      const cluster = new rds.DatabaseCluster(this, 'Cluster', {
        clusterIdentifier,
        engine,
        vpc: this.vpc,
        vpcSubnets: subnets,
        securityGroups: clusterSecurityGroups,
        credentials: rds.Credentials.fromGeneratedSecret('postgres', { encryptionKey: this.encryptionKey }),
        defaultDatabaseName: this.databaseName,
        writer,
        readers: cp.instances?.readers,
        serverlessV2MinCapacity: cp.serverlessV2MinCapacity ?? 0.5,
        serverlessV2MaxCapacity: cp.serverlessV2MaxCapacity ?? 4,
        storageEncrypted: true,
        storageEncryptionKey: this.encryptionKey,
        iamAuthentication: true,
        deletionProtection: cp.deletionProtection ?? true,
        removalPolicy: cp.removalPolicy ?? RemovalPolicy.SNAPSHOT,
        backup: { retention: cp.backupRetention ?? Duration.days(7), preferredWindow: '03:00-04:00' },
        preferredMaintenanceWindow: 'sun:05:00-sun:06:00',
        cloudwatchLogsExports: ['postgresql'],
        parameterGroup,
        copyTagsToSnapshot: true,
        ...piSettings,
      });
      (cluster.node.defaultChild as CfnResource).addResourceDependency(postgresLogs.node.defaultChild as CfnResource, 'RDS exports into this log group');
      this.cluster = cluster;
      this.masterSecret = cluster.secret!;
      masterRotation = cluster.addRotationSingleUser({
        automaticallyAfter: rotationInterval,
        vpcSubnets: subnets,
        endpoint: this.secretsEndpoint(),
        securityGroup: rotationSg,
      });
      Annotations.of(cluster).acknowledgeWarning(
        '@aws-cdk/aws-rds:instancePerformanceInsightsOverridden',
        'Performance Insights is set once at cluster level (with the CMK) and applies to every instance.',
      );
      Validations.of(cluster).acknowledge({
        id: 'AwsSolutions-RDS11',
        reason: 'The default PostgreSQL port is kept: clients reach the cluster only through RDS Proxy, security groups allow the proxy alone, and a non-default port adds no protection.',
      });
    }

    // ---- application secret + bootstrap of the application role ----------------------------------------
    const appSecret = new rds.DatabaseSecret(this, 'AppSecret', {
      username: this.appUsername,
      dbname: this.databaseName,
      encryptionKey: this.encryptionKey,
    });
    const attachedAppSecret = appSecret.attach(this.cluster);
    this.appSecret = attachedAppSecret;

    const bootstrapSg = new ec2.SecurityGroup(this, 'BootstrapSecurityGroup', {
      vpc: this.vpc,
      description: 'Deploy-time role bootstrap: PostgreSQL to the cluster, HTTPS to Secrets Manager',
      allowAllOutbound: false,
    });
    const bootstrapFn = new nodejs.NodejsFunction(this, 'BootstrapFunction', {
      ...this.functionDefaults(logRetention, 'db-bootstrap.ts', 'onEvent'),
      description: 'db-ops-kit: creates the application role in the database (deploy time only; never drops it)',
      timeout: Duration.minutes(2),
      memorySize: 256,
      vpc: this.vpc,
      vpcSubnets: subnets,
      securityGroups: [bootstrapSg],
      environment: {
        // Aurora server certificates chain to the RDS CAs; the Lambda Node.js runtime ships them here.
        NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
        POWERTOOLS_SERVICE_NAME: 'db-ops-kit-rds-bootstrap',
      },
    });
    this.masterSecret.grantRead(bootstrapFn);
    attachedAppSecret.grantRead(bootstrapFn);
    for (const sg of clusterSecurityGroups) {
      bootstrapSg.connections.allowTo(sg, ec2.Port.tcp(port), 'role bootstrap to the cluster');
    }
    this.allowToSecretsManager(bootstrapSg);
    const providerLogs = new logs.LogGroup(this, 'BootstrapProviderLogs', { retention: logRetention, encryptionKey: this.encryptionKey });
    const provider = new cr.Provider(this, 'BootstrapProvider', { onEventHandler: bootstrapFn, logGroup: providerLogs });
    const bootstrap = new CustomResource(this, 'AppRoleBootstrap', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::DbOpsAppRole',
      properties: {
        MasterSecretArn: this.masterSecret.secretArn,
        AppSecretArn: attachedAppSecret.secretArn,
        DatabaseName: this.databaseName,
      },
    });
    // Narrow dependencies (the CfnDBCluster and its writer, not every child of the constructs) avoid a cycle
    // through the key policy, which names the roles that read the secrets.
    if (this.cluster instanceof rds.DatabaseCluster) {
      const writerNode = this.cluster.node.tryFindChild('writer');
      for (const dep of [this.cluster.node.defaultChild, writerNode?.node.defaultChild ?? writerNode]) {
        if (dep) bootstrap.node.addDependency(dep);
      }
    }
    const appRotation = new secretsmanager.SecretRotation(this, 'AppSecretRotation', {
      application: secretsmanager.SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER,
      secret: attachedAppSecret,
      target: this.cluster,
      vpc: this.vpc,
      vpcSubnets: subnets,
      endpoint: this.secretsEndpoint(),
      securityGroup: rotationSg,
      automaticallyAfter: rotationInterval,
    });
    // Rotation starts as soon as it is configured. The application role must exist first, and the master
    // password must not change while the bootstrap logs in with it.
    for (const [rotation, secret] of [
      [appRotation, attachedAppSecret],
      [masterRotation, this.masterSecret],
    ] as const) {
      rotation?.node.addDependency(bootstrap);
      secret.node.tryFindChild('RotationSchedule')?.node.addDependency(bootstrap);
    }

    // ---- proxy -------------------------------------------------------------------------------------------
    this.proxySecurityGroup = new ec2.SecurityGroup(this, 'ProxySecurityGroup', {
      vpc: this.vpc,
      description: 'RDS Proxy: PostgreSQL to the cluster only',
      allowAllOutbound: false,
    });
    // ProxyTarget.fromCluster opens proxy → cluster on the cluster port (both security groups).
    this.proxy = new rds.DatabaseProxy(this, 'Proxy', {
      dbProxyName: Names.uniqueResourceName(this, { maxLength: 60, separator: '-' }).toLowerCase(),
      proxyTarget: rds.ProxyTarget.fromCluster(this.cluster),
      secrets: [attachedAppSecret],
      vpc: this.vpc,
      vpcSubnets: subnets,
      securityGroups: [this.proxySecurityGroup],
      requireTLS: true,
      iamAuth: this.credentialMode === 'iam',
      borrowTimeout:
        props.borrowTimeout ?? Duration.seconds(Math.max(1, Math.min(30, Math.floor((props.functionTimeout ?? Duration.seconds(15)).toSeconds() / 2)))),
      maxConnectionsPercent: props.maxConnectionsPercent ?? 90,
      maxIdleConnectionsPercent: props.maxIdleConnectionsPercent ?? 50,
      idleClientTimeout: props.idleClientTimeout ?? Duration.minutes(30),
      debugLogging: false,
    });
    (this.proxy.node.defaultChild as CfnResource).addResourceDependency(bootstrap.node.defaultChild as CfnResource, 'the proxy logs in as the application role');

    // ---- query function ------------------------------------------------------------------------------
    this.functionSecurityGroup = new ec2.SecurityGroup(this, 'FunctionSecurityGroup', {
      vpc: this.vpc,
      description: 'Query Lambda: PostgreSQL to RDS Proxy only (and HTTPS to Secrets Manager in secret mode)',
      allowAllOutbound: false,
    });
    this.allowProxyFrom(this.functionSecurityGroup);
    const timeout = props.functionTimeout ?? Duration.seconds(15);
    const timeoutMs = timeout.toMilliseconds();
    // Worst case inside one invocation: a dead reused connection is replaced (connect), the login is refused
    // after a rotation (connect again with refreshed credentials), then the query runs. 3 × connect + query
    // stays below the function timeout, so the caller gets a typed error rather than a Lambda timeout.
    const connectTimeoutMs = Math.min(5000, Math.floor(timeoutMs / 6));
    const queryTimeoutMs = Math.floor(timeoutMs * 0.4);
    this.fn = new nodejs.NodejsFunction(this, 'QueryFunction', {
      ...this.functionDefaults(logRetention, 'index.ts', 'handler'),
      description: 'db-ops-kit: queries Aurora PostgreSQL through RDS Proxy with a reused connection',
      timeout,
      memorySize: props.functionMemoryMb ?? 512,
      vpc: this.vpc,
      vpcSubnets: subnets,
      securityGroups: [this.functionSecurityGroup],
      environment: {
        DB_HOST: this.proxy.endpoint,
        DB_PORT: String(port),
        DB_NAME: this.databaseName,
        DB_USER: this.appUsername,
        CREDENTIAL_MODE: this.credentialMode,
        CONNECT_TIMEOUT_MS: String(connectTimeoutMs),
        QUERY_TIMEOUT_MS: String(queryTimeoutMs),
        SECRET_CACHE_TTL_SECONDS: '300',
        POWERTOOLS_SERVICE_NAME: 'db-ops-kit-rds-proxy-query',
        ...(this.credentialMode === 'secret' ? { SECRET_ARN: attachedAppSecret.secretArn } : {}),
      },
    });
    if (this.credentialMode === 'iam') {
      this.proxy.grantConnect(this.fn, this.appUsername);
    } else {
      attachedAppSecret.grantRead(this.fn);
      this.allowToSecretsManager(this.functionSecurityGroup);
    }

    // ---- alarms --------------------------------------------------------------------------------------
    this.alarmTopic =
      props.alarmTopic ??
      new sns.Topic(this, 'AlarmTopic', { displayName: 'db-ops-kit RDS Proxy + Lambda alarms', masterKey: this.encryptionKey, enforceSSL: true });
    if (!props.alarmTopic) {
      // CloudWatch alarms publish to the encrypted topic.
      this.addKeyPolicy(
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
        }),
      );
    }
    this.createAlarms(timeout);
    this.acknowledgeFindings(bootstrapFn, provider);
  }

  /** cdk-nag findings that are accepted, each with the reason a reviewer needs. */
  private acknowledgeFindings(bootstrapFn: lambda.Function, provider: cr.Provider): void {
    const ack = (scope: Construct | undefined, id: string, reason: string) => scope && Validations.of(scope).acknowledge({ id, reason });
    const basic = 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]';
    const vpcAccess = 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]';
    const frameworkFn = provider.node.tryFindChild('framework-onEvent');
    for (const fn of [this.fn, bootstrapFn]) {
      ack(fn, basic, 'AWS managed policy limited to creating log streams and putting log events; the function writes to its own KMS-encrypted log group with set retention.');
      ack(fn, vpcAccess, 'AWS managed policy for the ENI management every VPC-attached Lambda needs (ec2:CreateNetworkInterface and friends do not support resource-level scoping).');
      ack(fn, 'AwsSolutions-IAM5[Resource::*]', 'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords do not support resource-level permissions.');
      ack(fn, 'AwsSolutions-L1', 'The kit targets nodejs22.x, the runtime its handlers are tested and benchmarked on; raise it together with the test matrix.');
      ack(fn, 'Serverless-LambdaLatestVersion', 'The kit targets nodejs22.x, the runtime its handlers are tested and benchmarked on; raise it together with the test matrix.');
      ack(fn, 'Serverless-LambdaDLQ', 'Invoked synchronously (by the caller or the custom-resource framework), so errors return to the caller; a DLQ only applies to asynchronous invocations.');
    }
    ack(frameworkFn, basic, 'CDK Provider framework function: the managed policy only lets it write its own logs.');
    ack(frameworkFn, `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(bootstrapFn.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`, 'CDK Provider framework: invoking any version/alias of the one bootstrap function it fronts.');
    ack(frameworkFn, 'AwsSolutions-L1', 'Runtime chosen by the CDK Provider framework and upgraded with aws-cdk-lib.');
    ack(frameworkFn, 'Serverless-LambdaDefaultMemorySize', 'CDK Provider framework function; it only relays the CloudFormation event to the bootstrap function.');
    ack(frameworkFn, 'Serverless-LambdaDLQ', 'CDK Provider framework function, invoked synchronously by CloudFormation; failures are reported to the stack.');
    ack(frameworkFn, 'Serverless-LambdaTracing', 'CDK Provider framework function: it relays one deploy-time event; the bootstrap function it calls is traced.');
  }

  private addKeyPolicy(statement: iam.PolicyStatement): void {
    const { statementAdded } = this.encryptionKey.addToResourcePolicy(statement);
    if (!statementAdded) {
      Annotations.of(this).addWarningV2(
        'db-ops-kit:importedKeyPolicy',
        `encryptionKey is imported, so its key policy cannot be changed here: it must allow ${statement.principals.map((p) => p.toString()).join(', ')} to ${statement.actions.join(', ')}.`,
      );
    }
  }

  /** Lets `peer` open connections to the proxy on the database port. */
  public allowProxyFrom(peer: ec2.IConnectable): void {
    this.proxySecurityGroup.connections.allowFrom(peer, ec2.Port.tcp(5432), 'client to RDS Proxy');
  }

  /** Grants `grantee` `rds-db:connect` to the proxy as `dbUser` (IAM mode). */
  public grantConnect(grantee: iam.IGrantable, dbUser: string = this.appUsername): iam.Grant {
    return this.proxy.grantConnect(grantee, dbUser);
  }

  private secretsEndpoint(): ec2.IInterfaceVpcEndpoint | undefined {
    return this.vpc.node.tryFindChild('SecretsManagerEndpoint') as ec2.IInterfaceVpcEndpoint | undefined;
  }

  private allowToSecretsManager(sg: ec2.SecurityGroup): void {
    if (this.endpointSecurityGroup) {
      sg.connections.allowTo(this.endpointSecurityGroup, ec2.Port.tcp(443), 'HTTPS to the Secrets Manager endpoint');
    } else {
      // Bring-your-own VPC: the endpoint (or NAT) is the owner's; allow HTTPS within the VPC only.
      sg.addEgressRule(ec2.Peer.ipv4(this.vpc.vpcCidrBlock), ec2.Port.tcp(443), 'HTTPS to Secrets Manager inside the VPC');
    }
  }

  private functionDefaults(retention: logs.RetentionDays, file: string, handler: string): nodejs.NodejsFunctionProps {
    const name = file.replace(/\.ts$/, '');
    return {
      entry: path.join(this.runtimeCodeDir, file),
      handler,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      tracing: lambda.Tracing.ACTIVE,
      logGroup: new logs.LogGroup(this, `${name}-logs`, { retention, encryptionKey: this.encryptionKey }),
      loggingFormat: lambda.LoggingFormat.JSON,
      deadLetterQueueEnabled: false,
      bundling: {
        minify: true,
        sourceMap: true,
        target: 'node22',
        // The SDK clients are bundled at the versions the tests ran against, not the runtime's copy.
        externalModules: [],
        forceDockerBundling: false,
        logLevel: nodejs.LogLevel.ERROR,
      },
    };
  }

  private createAlarms(timeout: Duration): void {
    const action = new cwActions.SnsAction(this.alarmTopic);
    const proxyMetric = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/RDS',
        metricName,
        dimensionsMap: { ProxyName: this.proxy.dbProxyName },
        statistic,
        period: Duration.minutes(1),
      });
    const add = (id: string, props: cloudwatch.AlarmProps) => {
      const alarm = new cloudwatch.Alarm(this, id, { treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, ...props });
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
      this.alarms.push(alarm);
    };
    add('ProxyAuthFailuresAlarm', {
      alarmDescription: 'Clients fail to authenticate to RDS Proxy (expired IAM token, missing rds-db:connect, or a secret out of sync after rotation).',
      metric: proxyMetric('ClientConnectionsSetupFailedAuth', 'Sum'),
      threshold: 5,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    add('ProxyBorrowLatencyAlarm', {
      alarmDescription: 'p99 time to borrow a database connection from the pool is above 500 ms: the pool is saturated or the cluster is slow to accept connections.',
      metric: proxyMetric('DatabaseConnectionsBorrowLatency', 'p99'),
      threshold: 500_000, // microseconds
      evaluationPeriods: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    add('ProxySessionPinningAlarm', {
      alarmDescription: 'Connections pinned to a client session (SET, temp tables, prepared statements...): pinning defeats multiplexing.',
      metric: proxyMetric('DatabaseConnectionsCurrentlySessionPinned', 'Maximum'),
      threshold: 10,
      evaluationPeriods: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    add('ProxyDatabaseConnectionFailuresAlarm', {
      alarmDescription: 'The proxy cannot open connections to the cluster (credentials in the registered secret, security groups, or cluster down).',
      metric: proxyMetric('DatabaseConnectionsSetupFailed', 'Sum'),
      threshold: 1,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    add('FunctionErrorsAlarm', {
      alarmDescription: 'The query Lambda returned errors.',
      metric: this.fn.metricErrors({ period: Duration.minutes(1), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    add('FunctionThrottlesAlarm', {
      alarmDescription: 'The query Lambda is throttled (account or reserved concurrency exhausted).',
      metric: this.fn.metricThrottles({ period: Duration.minutes(1), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    add('FunctionDurationAlarm', {
      alarmDescription: 'p99 duration of the query Lambda is above 80% of its timeout.',
      metric: this.fn.metricDuration({ period: Duration.minutes(5), statistic: 'p99' }),
      threshold: timeout.toMilliseconds() * 0.8,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
  }
}

/** Collects every problem with the props and throws once, naming the construct path. */
function validateProps(scope: Construct, props: RdsProxyLambdaProps): void {
  const problems: string[] = [];
  const known = (v: unknown) => v !== undefined && !Token.isUnresolved(v);
  if (props.existingCluster && props.clusterProps) {
    problems.push('pass either existingCluster or clusterProps, not both');
  }
  if (props.existingCluster && !props.existingMasterSecret) {
    problems.push('existingCluster needs existingMasterSecret (used once at deploy time to create the application role)');
  }
  if (!props.existingCluster && (props.existingMasterSecret || props.existingDatabaseName)) {
    problems.push('existingMasterSecret and existingDatabaseName apply only with existingCluster');
  }
  if (props.existingVpc && (props.vpcCidr || props.availabilityZones)) {
    problems.push('vpcCidr and availabilityZones configure the new VPC; do not pass them with existingVpc');
  }
  if (known(props.vpcCidr) && !/^(\d{1,3}\.){3}\d{1,3}\/(1[6-9]|2[0-4])$/.test(props.vpcCidr!)) {
    problems.push(`vpcCidr "${props.vpcCidr}" must be an IPv4 CIDR with a prefix from /16 to /24`);
  }
  if (props.availabilityZones && props.availabilityZones.length < 2) {
    problems.push('availabilityZones needs at least two zones (Aurora and RDS Proxy need subnets in two AZs)');
  }
  const cp = props.clusterProps;
  if (cp?.instances && cp.instances.readers && cp.instances.readers.length > 0 && !cp.instances.writer) {
    problems.push('clusterProps.instances has readers but no writer: give instances.writer (or omit instances for the default writer)');
  }
  if (known(cp?.serverlessV2MinCapacity) && (cp!.serverlessV2MinCapacity! < 0 || cp!.serverlessV2MinCapacity! > 256 || (cp!.serverlessV2MinCapacity! * 2) % 1 !== 0)) {
    problems.push(`clusterProps.serverlessV2MinCapacity ${cp!.serverlessV2MinCapacity} must be 0–256 in steps of 0.5`);
  }
  if (known(cp?.serverlessV2MaxCapacity) && (cp!.serverlessV2MaxCapacity! < 1 || cp!.serverlessV2MaxCapacity! > 256 || (cp!.serverlessV2MaxCapacity! * 2) % 1 !== 0)) {
    problems.push(`clusterProps.serverlessV2MaxCapacity ${cp!.serverlessV2MaxCapacity} must be 1–256 in steps of 0.5`);
  }
  if (known(cp?.serverlessV2MinCapacity) && known(cp?.serverlessV2MaxCapacity) && cp!.serverlessV2MinCapacity! > cp!.serverlessV2MaxCapacity!) {
    problems.push('clusterProps.serverlessV2MinCapacity is above serverlessV2MaxCapacity');
  }
  const dbName = props.existingDatabaseName ?? cp?.databaseName;
  if (known(dbName) && !DB_NAME_RE.test(dbName!)) {
    problems.push(`database name "${dbName}" must start with a letter or _ and contain only letters, digits and _ (max 63)`);
  }
  if (cp?.backupRetention && !cp.backupRetention.isUnresolved() && (cp.backupRetention.toDays() < 1 || cp.backupRetention.toDays() > 35)) {
    problems.push(`clusterProps.backupRetention must be 1–35 days, got ${cp.backupRetention.toDays()}`);
  }
  if (known(props.appUsername) && (!APP_USER_RE.test(props.appUsername!) || ['postgres', 'rdsadmin', 'admin'].includes(props.appUsername!))) {
    problems.push(`appUsername "${props.appUsername}" must be a lower-case PostgreSQL identifier (max 63) and not a master/admin name`);
  }
  if (props.credentialMode !== undefined && !['iam', 'secret'].includes(props.credentialMode)) {
    problems.push(`credentialMode must be "iam" or "secret", got "${props.credentialMode}"`);
  }
  const seconds = (d: Duration | undefined) => (d && !d.isUnresolved() ? d.toSeconds() : undefined);
  const borrow = seconds(props.borrowTimeout);
  if (borrow !== undefined && (borrow < 1 || borrow > 3600)) {
    problems.push(`borrowTimeout must be 1–3600 seconds (RDS Proxy ConnectionBorrowTimeout), got ${borrow}`);
  }
  const fnTimeout = seconds(props.functionTimeout);
  if (fnTimeout !== undefined && (fnTimeout < 1 || fnTimeout > 900)) {
    problems.push(`functionTimeout must be 1–900 seconds, got ${fnTimeout}`);
  }
  if (borrow !== undefined && borrow >= 1 && borrow <= 3600 && borrow >= (fnTimeout ?? 15)) {
    problems.push(`borrowTimeout (${borrow} s) must be shorter than functionTimeout (${fnTimeout ?? 15} s), or a saturated pool ends in a Lambda timeout instead of a clear error`);
  }
  const cid = cp?.clusterIdentifier;
  if (known(cid) && (!/^[a-z][a-z0-9-]{0,62}$/.test(cid!) || cid!.includes('--') || cid!.endsWith('-'))) {
    problems.push(`clusterProps.clusterIdentifier "${cid}" must be 1–63 lower-case letters, digits and single hyphens, starting with a letter`);
  }
  const idle = seconds(props.idleClientTimeout);
  if (idle !== undefined && (idle < 1 || idle > 28800)) {
    problems.push(`idleClientTimeout must be 1 second to 8 hours, got ${idle} s`);
  }
  const maxPct = props.maxConnectionsPercent;
  if (known(maxPct) && (!Number.isInteger(maxPct) || maxPct! < 1 || maxPct! > 100)) {
    problems.push(`maxConnectionsPercent must be an integer 1–100, got ${maxPct}`);
  }
  const idlePct = props.maxIdleConnectionsPercent;
  if (known(idlePct) && (!Number.isInteger(idlePct) || idlePct! < 0 || idlePct! > (maxPct ?? 90))) {
    problems.push(`maxIdleConnectionsPercent must be an integer 0–maxConnectionsPercent (${maxPct ?? 90}), got ${idlePct}`);
  }
  const rot = props.rotationInterval;
  if (rot && !rot.isUnresolved() && (rot.toDays() < 1 || rot.toDays() > 1000)) {
    problems.push(`rotationInterval must be 1–1000 days, got ${rot.toDays()}`);
  }
  if (known(props.functionMemoryMb) && (props.functionMemoryMb! < 128 || props.functionMemoryMb! > 10240)) {
    problems.push(`functionMemoryMb must be 128–10240, got ${props.functionMemoryMb}`);
  }
  if (props.runtimeCodeDir !== undefined && !fs.existsSync(path.join(props.runtimeCodeDir, 'index.ts'))) {
    problems.push(`runtimeCodeDir "${props.runtimeCodeDir}" has no index.ts: point it at your copy of lambda/rds-proxy-query/`);
  }
  if (problems.length > 0) {
    throw new Error(`[${scope.node.path}] invalid RdsProxyLambda props:\n  - ${problems.join('\n  - ')}`);
  }
  if (props.existingVpc) {
    Annotations.of(scope).addInfo('existingVpc: make sure the VPC has a Secrets Manager interface endpoint with private DNS (or NAT) for rotation and bootstrap.');
  }
}

