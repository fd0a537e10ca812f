import * as path from 'path';
import {
  Annotations,
  Aspects,
  Aws,
  CfnDeletionPolicy,
  CfnResource,
  CustomResource,
  Duration,
  Fn,
  Names,
  RemovalPolicy,
  Stack,
  TagManager,
  Tags,
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
import { timeoutBudget } from './budget';
import { budgetInput, validateProps } from './validation';

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
   * Cluster identifier. The PostgreSQL log group `/aws/rds/cluster/<clusterIdentifier>/postgresql` is created
   * up front under the same name (KMS-encrypted, with retention, kept on destroy) before RDS exports into it.
   *
   * The default is known before the cluster exists and is new for every new stack: a prefix unique to this
   * construct's path plus the first 8 hex digits of the stack's own `AWS::StackId` UUID. It stays the same for
   * every update of the stack, and a redeploy after a destroy (or after deleting a stack whose first deploy
   * rolled back) runs under a new stack ID, so neither the kept cluster nor its kept log group blocks it.
   *
   * A fixed identifier (this prop) keeps the same name across redeploys: a redeploy after a destroy then fails
   * with "already exists" on the kept cluster and log group until you delete them or adopt them (README,
   * "Redeploy after destroy"). **Stacks deployed with a kit version before the per-deployment default** have
   * the identifier `Names.uniqueResourceName(construct, { maxLength: 60, separator: '-' }).toLowerCase()` —
   * pin it here (`aws cloudformation describe-stack-resources` shows it), because CloudFormation changes a
   * DBClusterIdentifier only by REPLACING the cluster.
   * @default - `<construct path prefix>-<first 8 hex digits of the stack ID>`, e.g. `dbopsrdsproxylambda-2141dd5f-1c2fa620` for the kit stack
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
   * What happens to the cluster when the stack is deleted, when the cluster is replaced, and when the deploy that
   * created it rolls back. With RETAIN (the default) CloudFormation never deletes the cluster, and what it needs
   * to keep existing is kept with it: its writer/readers, subnet group, the kit VPC and its subnets, the cluster
   * security group, the cluster parameter group, the master secret, the monitoring role, the KMS key and the
   * PostgreSQL log group. Nothing of that carries a fixed name, so a redeploy creates a new set beside it.
   * SNAPSHOT or DESTROY need `deletionProtection: false` (synth fails otherwise: CloudFormation cannot delete a
   * protected cluster, so a failed first deploy would end ROLLBACK_FAILED and a destroy DELETE_FAILED); then the
   * dependencies are deleted with the stack as usual. RETAIN_ON_UPDATE_OR_DELETE (also only with
   * `deletionProtection: false`: it deletes on a rolled-back create) keeps the same dependencies under the same
   * policy. With an `existingVpc` or `encryptionKey` defined in your app, synth warns unless they are kept too.
   * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
   * @default - RemovalPolicy.RETAIN (with deletion protection: CloudFormation never deletes the database)
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Deletion protection on the cluster (Control Tower CT.RDS.PR.8). Allowed only with `removalPolicy` RETAIN.
   * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbcluster.html#cfn-rds-dbcluster-deletionprotection
   * @default - true
   */
  readonly deletionProtection?: boolean;
  /**
   * Master user name of the new cluster (the kit's code reads it from the generated secret).
   * Control Tower CT.RDS.PR.21 rejects the engine defaults `postgres` and `admin`.
   * @default - `dbadmin`
   */
  readonly masterUsername?: string;
  /**
   * Enhanced Monitoring interval of the cluster's instances (OS metrics every N seconds into the
   * `RDSOSMetrics` log group, billed as CloudWatch Logs ingestion and storage: the shorter the interval,
   * the more data). `Duration.seconds(0)` turns it off. Control Tower CT.RDS.PR.2 requires it.
   * https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_Monitoring.OS.html
   * @default - 60 seconds, with a monitoring role (AmazonRDSEnhancedMonitoringRole) only RDS of this account can assume
   */
  readonly monitoringInterval?: Duration;
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
   * The Secrets Manager interface endpoint of `existingVpc`. The bootstrap and rotation functions (and the
   * query function in secret mode) get HTTPS egress to its security groups, and the endpoint admits them.
   * @default - an interface endpoint for the `secretsmanager` service on `existingVpc` found in this app
   *   (by its service, whatever its construct id); if there is none, HTTPS egress to 0.0.0.0/0, which reaches
   *   Secrets Manager through the VPC's NAT (AWS publishes no managed prefix list for Secrets Manager)
   */
  readonly secretsManagerEndpoint?: ec2.IInterfaceVpcEndpoint;
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
   * How long a client waits for a pooled connection before the proxy answers with an error (RDS accepts
   * 1–3600 s). The function's connect and query timeouts are set above it (borrow + 1 s, borrow + statement
   * timeout + 1 s) so a saturated pool returns the proxy's error, not a client timeout; synth fails when
   * secret fetch + connect + query + 1 s does not fit in `functionTimeout` (see `budget.ts`).
   * @default - (functionTimeout − secret fetch − 3 s) / 3, whole seconds, 1–30 (3 s with the default 15 s function timeout)
   */
  readonly borrowTimeout?: Duration;
  /**
   * Default `statement_timeout` of the application role (`ALTER ROLE … SET`, applied by the server at login,
   * so it does not pin proxy sessions). Below the function's query timeout, so a query blocked by a lock is
   * cancelled by the server and the connection stays usable.
   * @default - what the budget leaves: functionTimeout − secret fetch − 3 s − 2 × borrowTimeout, at most 5 minutes (4.5 s by default)
   */
  readonly statementTimeout?: Duration;
  /**
   * Default `idle_in_transaction_session_timeout` of the application role; must be below the query timeout.
   * @default - the statement timeout
   */
  readonly idleInTransactionSessionTimeout?: Duration;
  /**
   * Maximum share of the database's `max_connections` the proxy may open (1–100).
   * @default - 90 (leaves headroom for administration and rotation)
   */
  readonly maxConnectionsPercent?: number;
  /**
   * Share of connections the proxy keeps idle in the pool (0 – maxConnectionsPercent).
   * @default - 50, or `maxConnectionsPercent` when that is lower (RDS refuses an idle share above the maximum)
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
   * Reserved concurrency of the query function, which caps how many execution environments — each holding
   * one client connection to the proxy, and one database connection while its session is pinned — exist at
   * once. `false` reserves nothing (the account's unreserved pool applies).
   * @default - min(100, floor(0.8 × maxDatabaseConnections × maxConnectionsPercent / 100)): 80% of the
   *   proxy's database connection budget (20% left for other clients of the proxy), at most 100 so a default
   *   deploy fits an account with the standard 1,000 concurrency (Lambda keeps 100 unreserved); pass `false`
   *   in accounts with a lower concurrency quota
   */
  readonly reservedConcurrency?: number | false;
  /**
   * `max_connections` of the writer, for the connections alarm and the reserved-concurrency default.
   * @default - for the kit's Serverless v2 writer LEAST(maxACU × 2 GiB / 9531392, 5000) (Aurora PostgreSQL's
   *   default formula on the memory of the maximum capacity, 901 for 4 ACU); 100 for an existing or
   *   provisioned cluster (synth warns: set it from `SHOW max_connections`)
   */
  readonly maxDatabaseConnections?: number;
  /**
   * Retention of the Lambda and database log groups. Control Tower CT.CLOUDWATCH.PR.2 requires at least one year.
   * @default - one year (logs.RetentionDays.ONE_YEAR)
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
  /** Every alarm of this construct is named `<alarmNamePrefix>-<id>`; the topic and key policies allow exactly those. */
  public readonly alarmNamePrefix: string;
  public readonly appUsername: string;
  public readonly databaseName: string;
  public readonly credentialMode: CredentialMode;
  /** Security group of the Lambda; add other clients with `grantConnect` + `allowProxyFrom`. */
  public readonly functionSecurityGroup: ec2.SecurityGroup;
  public readonly proxySecurityGroup: ec2.SecurityGroup;
  /** The query function's reserved concurrency (undefined when `reservedConcurrency: false`). */
  public readonly reservedConcurrency?: number;
  /** `max_connections` the alarms and the concurrency default assume. */
  public readonly maxDatabaseConnections: number;

  /** The Secrets Manager interface endpoint the functions use, if the VPC has one. */
  private readonly smEndpoint?: ec2.IInterfaceVpcEndpoint;
  private readonly runtimeCodeDir: string;

  constructor(scope: Construct, id: string, props: RdsProxyLambdaProps = {}) {
    super(scope, id);
    validateProps(this.node.path, props);
    this.runtimeCodeDir = path.resolve(props.runtimeCodeDir ?? path.join(__dirname, '..', '..', 'lambda', 'rds-proxy-query'));

    const budget = timeoutBudget(budgetInput(props)).budget;
    this.credentialMode = props.credentialMode ?? 'iam';
    this.appUsername = props.appUsername ?? 'app_user';
    this.databaseName = props.existingDatabaseName ?? props.clusterProps?.databaseName ?? 'appdb';
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
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
    if (!props.encryptionKey) {
      // Control Tower CT.KMS.PR.3: grants on the kit's key only for AWS resources. RDS (storage, Performance
      // Insights) and Secrets Manager create their grants on the caller's behalf, where kms:GrantIsForAWSResource
      // is true; CloudWatch Logs and SNS use the key policy, not grants. Nothing in the kit calls CreateGrant itself.
      // https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-is-for-aws-resource
      // https://docs.aws.amazon.com/controltower/latest/controlreference/kms-rules.html
      this.encryptionKey.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'DenyGrantsExceptForAwsResources',
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: ['kms:CreateGrant'],
          resources: ['*'],
          conditions: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
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
      // The flow-log delivery role trusts vpc-flow-logs.amazonaws.com only for this account's flow logs.
      // https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html
      const flowRole = vpc.node.tryFindChild('all')?.node.tryFindChild('IAMRole')?.node.defaultChild as iam.CfnRole | undefined;
      if (flowRole) {
        const stack = Stack.of(this);
        flowRole.addPropertyOverride('AssumeRolePolicyDocument.Statement.0.Condition', {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:ec2:${stack.region}:${stack.account}:vpc-flow-log/*` },
        });
      }
      const endpointSg = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
        vpc,
        description: 'Secrets Manager interface endpoint: HTTPS from the kit functions only',
        allowAllOutbound: false,
      });
      this.smEndpoint = vpc.addInterfaceEndpoint('SecretsManagerEndpoint', {
        service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
        privateDnsEnabled: true,
        securityGroups: [endpointSg],
        open: false,
        subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      });
      // The VPC, its subnets, endpoint and flow log tag themselves with Name = their construct path; a tag value has at
      // most 256 characters, so in a deep construct tree those resources get a short unique name instead.
      // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-resource-tags.html
      const shortVpcName = Names.uniqueResourceName(this, { maxLength: 120, separator: '-' });
      for (const c of vpc.node.findAll()) {
        if (c instanceof CfnResource && (TagManager.isTaggable(c) || TagManager.isTaggableV2(c)) && c.node.path.length > 256) {
          Tags.of(c).add('Name', `${shortVpcName}/${c.node.path.slice(vpc.node.path.length + 1)}`.slice(0, 256), { priority: 200 });
        }
      }
    }
    const subnets: ec2.SubnetSelection =
      props.vpcSubnets ??
      (!props.existingVpc
        ? { subnetGroupName: 'isolated' }
        : props.existingVpc.isolatedSubnets.length > 0
          ? { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }
          : { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });

    if (props.existingVpc) {
      this.smEndpoint = props.secretsManagerEndpoint ?? findSecretsManagerEndpoint(this, props.existingVpc);
      if (!this.smEndpoint) {
        const isolatedOnly = subnets.subnetType === ec2.SubnetType.PRIVATE_ISOLATED || (props.vpcSubnets === undefined && props.existingVpc.isolatedSubnets.length > 0);
        if (isolatedOnly) {
          Annotations.of(this).addWarningV2(
            'db-ops-kit:secretsManagerUnreachable',
            'existingVpc: no Secrets Manager interface endpoint found and the chosen subnets are isolated; isolated subnets have no route to the Secrets Manager service, so bootstrap and rotation will time out. Add an interface endpoint (pass it as secretsManagerEndpoint) or use subnets with NAT.',
          );
        } else {
          Annotations.of(this).addInfo(
            'existingVpc has no Secrets Manager interface endpoint in this app (pass secretsManagerEndpoint if it has one): the functions that call Secrets Manager get HTTPS egress to 0.0.0.0/0 and reach it through the VPC\'s NAT.',
          );
        }
      }
    }

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
    // Aurora PostgreSQL's default max_connections is LEAST(DBInstanceClassMemory/9531392, 5000); a Serverless v2
    // writer sizes it from the memory of its maximum capacity (1 ACU ≈ 2 GiB).
    // https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraPostgreSQL.Managing.html#AuroraPostgreSQL.Managing.MaxConnections
    // https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.setting-capacity.html
    let derivedMaxConnections: number | undefined;
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
      const monitoringInterval = cp.monitoringInterval ?? Duration.seconds(60);
      const piSettings = { enablePerformanceInsights: true, performanceInsightEncryptionKey: this.encryptionKey };
      const writer =
        cp.instances?.writer ?? rds.ClusterInstance.serverlessV2('writer', { autoMinorVersionUpgrade: true });
      // A writer made with ClusterInstance.serverlessV2 carries instance type `db.serverless` (aws-cdk-lib keeps it
      // in the instance's props; anything else — provisioned or unknown — falls back to maxDatabaseConnections).
      const writerType = (writer as unknown as { props?: { instanceType?: { type?: string } } }).props?.instanceType?.type;
      if (!cp.instances?.writer || writerType === 'SERVERLESS_V2') {
        const maxAcu = cp.serverlessV2MaxCapacity ?? 4;
        derivedMaxConnections = Math.min(5000, Math.floor((maxAcu * 2 * 1024 ** 3) / 9531392));
      }
      const clusterIdentifier = cp.clusterIdentifier ?? this.perDeploymentClusterIdentifier();
      // Created before the cluster so RDS writes into a KMS-encrypted group with retention (instead of creating an
      // AWS-encrypted one without retention itself). Kept on destroy for audit; its name follows the identifier,
      // which is per deployment by default (see clusterIdentifier), so a redeploy does not collide with it.
      const postgresLogs = new logs.LogGroup(this, 'PostgresqlLogs', {
        logGroupName: `/aws/rds/cluster/${clusterIdentifier}/postgresql`,
        retention: logRetention,
        encryptionKey: this.encryptionKey,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      const removalPolicy = cp.removalPolicy ?? RemovalPolicy.RETAIN;
      const cluster = new rds.DatabaseCluster(this, 'Cluster', {
        clusterIdentifier,
        engine,
        vpc: this.vpc,
        vpcSubnets: subnets,
        securityGroups: clusterSecurityGroups,
        credentials: rds.Credentials.fromGeneratedSecret(cp.masterUsername ?? 'dbadmin', { encryptionKey: this.encryptionKey }),
        defaultDatabaseName: this.databaseName,
        writer,
        readers: cp.instances?.readers,
        serverlessV2MinCapacity: cp.serverlessV2MinCapacity ?? 0.5,
        serverlessV2MaxCapacity: cp.serverlessV2MaxCapacity ?? 4,
        storageEncrypted: true,
        storageEncryptionKey: this.encryptionKey,
        iamAuthentication: true,
        // Protected and never deleted by CloudFormation (validation.ts refuses protection with a deleting policy).
        deletionProtection: cp.deletionProtection ?? true,
        removalPolicy,
        backup: { retention: cp.backupRetention ?? Duration.days(7), preferredWindow: '03:00-04:00' },
        preferredMaintenanceWindow: 'sun:05:00-sun:06:00',
        cloudwatchLogsExports: ['postgresql'],
        parameterGroup,
        copyTagsToSnapshot: true,
        ...piSettings,
        ...(monitoringInterval.toSeconds() > 0 ? { monitoringInterval, monitoringRole: this.monitoringRole() } : {}),
      });
      (cluster.node.defaultChild as CfnResource).addResourceDependency(postgresLogs.node.defaultChild as CfnResource, 'RDS exports into this log group');
      this.cluster = cluster;
      this.masterSecret = cluster.secret!;
      if (removalPolicy === RemovalPolicy.RETAIN || removalPolicy === RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE) {
        // A kept cluster keeps what it needs to exist and to be used (DESIGN.md "Lifecycle"), under the same policy:
        // RETAIN keeps them always; RETAIN_ON_UPDATE_OR_DELETE (RetainExceptOnCreate) keeps them on destroy and
        // replacement and deletes them, like the cluster, when the deploy that created them rolls back. CDK gives
        // the subnet group and the instances RETAIN only for RETAIN (the instances get Delete otherwise), so they
        // are listed here too. The key is RETAIN anyway.
        const keep = [
          cluster.node.tryFindChild('Subnets'),
          ...cluster.node.children.filter((c) => c.node.defaultChild instanceof rds.CfnDBInstance),
          clusterSg,
          cluster.node.tryFindChild('Secret'), // the master secret: the only copy of the master password
          parameterGroup.node.defaultChild ?? parameterGroup,
          cluster.monitoringRole,
          ...(props.existingVpc ? [] : [this.vpc, ...this.vpc.selectSubnets(subnets).subnets]),
          // CDK's restrict-default-SG handler re-adds the default security group's rules on Delete; kept with the VPC
          // it gets no Delete event, so the kept VPC's default security group stays closed (Security Hub EC2.2).
          // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
          ...(props.existingVpc ? [] : [this.vpc.node.tryFindChild('RestrictDefaultSecurityGroupCustomResource')]),
        ];
        for (const c of keep) {
          const cfn = c && (CfnResource.isCfnResource(c) ? c : c.node.defaultChild);
          if (cfn && CfnResource.isCfnResource(cfn)) cfn.applyRemovalPolicy(removalPolicy);
        }
        this.warnIfDeletedUnderKeptCluster(props.existingVpc, subnets, props.encryptionKey, removalPolicy);
      }
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
      if (cluster.monitoringRole) {
        Validations.of(cluster.monitoringRole).acknowledge({
          id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]',
          reason: 'The AWS managed policy for Enhanced Monitoring (logs:CreateLogGroup/PutLogEvents/PutRetentionPolicy on the RDS* log groups only); assumable only by monitoring.rds.amazonaws.com.',
        });
      }
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
    const provider = new cr.Provider(this, 'BootstrapProvider', {
      onEventHandler: bootstrapFn,
      logGroup: providerLogs,
      frameworkOnEventRole: this.scopedFunctionRole('BootstrapProviderRole', providerLogs, false),
    });
    const bootstrap = new CustomResource(this, 'AppRoleBootstrap', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::DbOpsAppRole',
      properties: {
        MasterSecretArn: this.masterSecret.secretArn,
        AppSecretArn: attachedAppSecret.secretArn,
        DatabaseName: this.databaseName,
        // Server-side limits below the function's client query timeout (see budget.ts).
        StatementTimeoutMs: String(budget.statementMs),
        IdleInTransactionTimeoutMs: String(budget.idleInTransactionMs),
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
      borrowTimeout: props.borrowTimeout ?? Duration.millis(budget.borrowMs),
      maxConnectionsPercent: props.maxConnectionsPercent ?? 90,
      // RDS Proxy requires MaxIdleConnectionsPercent <= MaxConnectionsPercent.
      // https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ConnectionPoolConfiguration.html
      maxIdleConnectionsPercent: props.maxIdleConnectionsPercent ?? Math.min(50, props.maxConnectionsPercent ?? 90),
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
    this.maxDatabaseConnections = props.maxDatabaseConnections ?? derivedMaxConnections ?? 100;
    if (props.maxDatabaseConnections === undefined && derivedMaxConnections === undefined) {
      Annotations.of(this).addWarningV2(
        'db-ops-kit:maxDatabaseConnections',
        'maxDatabaseConnections is assumed to be 100 (existing or provisioned cluster): set it from `SHOW max_connections` so the connections alarm and the reserved concurrency fit the database.',
      );
    }
    const proxyConnections = Math.floor((this.maxDatabaseConnections * (props.maxConnectionsPercent ?? 90)) / 100);
    this.reservedConcurrency =
      props.reservedConcurrency === false ? undefined : (props.reservedConcurrency ?? Math.max(1, Math.min(100, Math.floor(0.8 * proxyConnections))));
    const timeout = props.functionTimeout ?? Duration.seconds(15);
    // Connect and query timeouts sit above the proxy's borrow timeout (see budget.ts): a saturated pool
    // answers with the proxy's error before the client gives up.
    const connectTimeoutMs = budget.connectMs;
    const queryTimeoutMs = budget.queryMs;
    this.fn = new nodejs.NodejsFunction(this, 'QueryFunction', {
      ...this.functionDefaults(logRetention, 'index.ts', 'handler'),
      description: 'db-ops-kit: queries Aurora PostgreSQL through RDS Proxy with a reused connection',
      timeout,
      memorySize: props.functionMemoryMb ?? 512,
      reservedConcurrentExecutions: this.reservedConcurrency,
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
        SECRET_TIMEOUT_MS: String(budget.secretMs),
        BORROW_TIMEOUT_MS: String(budget.borrowMs),
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
    // Alarms get names under one prefix, so the topic and key policies can name exactly these alarms in
    // aws:SourceArn (confused-deputy protection) instead of every alarm of the account.
    this.alarmNamePrefix = Names.uniqueResourceName(this, { maxLength: 200, separator: '-' });
    this.allowAlarmDelivery(!props.alarmTopic);
    this.createAlarms(timeout, proxyConnections, [
      ['AppSecretRotation', appRotation],
      ['MasterSecretRotation', masterRotation],
    ]);
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
    for (const roleId of ['index-role', 'db-bootstrap-role']) {
      ack(
        this.node.tryFindChild(roleId),
        'AwsSolutions-IAM5[Resource::*]',
        'Lambda VPC networking (ec2:CreateNetworkInterface, DescribeNetworkInterfaces, DescribeSubnets, DeleteNetworkInterface, Assign/UnassignPrivateIpAddresses) and X-Ray (PutTraceSegments, PutTelemetryRecords) support no resource-level scoping; logs actions are scoped to the function\'s own log group.',
      );
    }
    ack(
      this.node.tryFindChild('BootstrapProviderRole'),
      `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(bootstrapFn.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
      'CDK Provider framework: invoking any version/alias of the one bootstrap function it fronts.',
    );
    ack(frameworkFn, basic, 'CDK Provider framework function: the managed policy only lets it write its own logs.');
    ack(frameworkFn, `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(bootstrapFn.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`, 'CDK Provider framework: invoking any version/alias of the one bootstrap function it fronts.');
    ack(frameworkFn, 'AwsSolutions-L1', 'Runtime chosen by the CDK Provider framework and upgraded with aws-cdk-lib.');
    ack(frameworkFn, 'Serverless-LambdaDefaultMemorySize', 'CDK Provider framework function; it only relays the CloudFormation event to the bootstrap function.');
    ack(frameworkFn, 'Serverless-LambdaDLQ', 'CDK Provider framework function, invoked synchronously by CloudFormation; failures are reported to the stack.');
    ack(frameworkFn, 'Serverless-LambdaTracing', 'CDK Provider framework function: it relays one deploy-time event; the bootstrap function it calls is traced.');
  }

  /**
   * CloudWatch must be allowed to publish to the topic and to use the topic's key. A topic policy replaces
   * SNS's default policy (which names only the owner account), so without this Allow no alarm notifies
   * anyone; an SSE topic additionally needs kms:GenerateDataKey* and kms:Decrypt for the publisher.
   * Both are scoped to this account and to this construct's alarms (aws:SourceAccount, aws:SourceArn).
   * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
   * https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
   */
  private allowAlarmDelivery(ownTopic: boolean): void {
    const stack = Stack.of(this);
    const conditions = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:${this.alarmNamePrefix}-*` },
    };
    const principal = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    const { statementAdded } = this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({ sid: `CloudWatchAlarmsPublish${this.sidSuffix()}`, principals: [principal], actions: ['sns:Publish'], resources: [this.alarmTopic.topicArn], conditions }),
    );
    if (!statementAdded) {
      Annotations.of(this).addWarningV2(
        'db-ops-kit:alarmTopicPolicy',
        `alarmTopic is imported, so its policy cannot be changed here: it must allow cloudwatch.amazonaws.com to sns:Publish (aws:SourceArn ${conditions.ArnLike['aws:SourceArn']}), and if it is KMS-encrypted its key must allow kms:GenerateDataKey* and kms:Decrypt — otherwise no alarm notifies anyone.`,
      );
    }
    if (ownTopic) {
      this.addKeyPolicy(
        new iam.PolicyStatement({
          sid: `CloudWatchAlarmsUseTopicKey${this.sidSuffix()}`,
          principals: [principal],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
          conditions,
        }),
      );
    } else {
      Annotations.of(this).addInfo('alarmTopic is yours: if it is encrypted with a customer managed key, that key must allow cloudwatch.amazonaws.com kms:GenerateDataKey* and kms:Decrypt.');
    }
  }

  /**
   * Statement ids unique to this construct: a topic or key shared by two patterns (or by a pattern and the
   * owner's own statements) must not get the same Sid twice — SNS refuses the policy ("Every policy statement
   * must have a unique ID"). Alphanumeric only, as SNS and KMS require.
   * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_sid.html
   */
  private sidSuffix(): string {
    return Names.uniqueResourceName(this, { maxLength: 64, separator: '' });
  }

  /**
   * Enhanced Monitoring role, assumable by RDS only for this account's instances (confused-deputy guard):
   * https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_Monitoring.OS.Enabling.html
   */
  private monitoringRole(): iam.Role {
    const stack = Stack.of(this);
    return new iam.Role(this, 'MonitoringRole', {
      assumedBy: new iam.ServicePrincipal('monitoring.rds.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:rds:${stack.region}:${stack.account}:db:*` },
        },
      }),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonRDSEnhancedMonitoringRole')],
    });
  }

  /**
   * `<prefix>-<8 hex digits of the stack ID>`: known before the cluster is created (so its log group can be made
   * first), the same for every update of this stack, new for every new stack. `AWS::StackId` is
   * `arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<uuid>`; its UUID's first group is lower-case
   * hex, which fits an identifier's tail (the prefix supplies the leading letter; 50 + 1 + 8 ≤ 63 characters).
   * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/pseudo-parameter-reference.html#cfn-pseudo-param-stackid
   */
  private perDeploymentClusterIdentifier(): string {
    let prefix = Names.uniqueResourceName(this, { maxLength: 50, separator: '-' }).toLowerCase().replace(/[^a-z0-9-]/g, '').replace(/-+/g, '-').replace(/-$/, '');
    if (!/^[a-z]/.test(prefix)) prefix = `db${prefix}`.slice(0, 50).replace(/-$/, '');
    const stackUuid = Fn.select(2, Fn.split('/', Aws.STACK_ID));
    return `${prefix}-${Fn.select(0, Fn.split('-', stackUuid))}`;
  }

  /**
   * The kit never changes the removal policy of what it is given. When `existingVpc` or `encryptionKey` is
   * defined in this app (not imported), a destroy of the stack holding it deletes the subnets and the VPC while
   * the kept cluster (and its subnet group) still live in them — CloudFormation ends DELETE_FAILED ("has
   * dependencies") — or schedules the key for deletion, after which the kept cluster, its snapshots and the kept
   * master secret can no longer be decrypted. Checked at synth (an aspect), so a removal policy the owner applies
   * after creating this construct counts.
   * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
   * https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys.html
   */
  private warnIfDeletedUnderKeptCluster(vpc: ec2.IVpc | undefined, subnets: ec2.SubnetSelection, key: kms.IKey | undefined, policy: RemovalPolicy): void {
    const strength = (p?: CfnDeletionPolicy) => (p === CfnDeletionPolicy.RETAIN ? 2 : p === CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE ? 1 : 0);
    const needed = policy === RemovalPolicy.RETAIN ? 2 : 1;
    const weak = (cs: Construct[]) =>
      cs.map((c) => c.node.defaultChild).filter((c): c is CfnResource => !!c && CfnResource.isCfnResource(c) && strength(c.cfnOptions.deletionPolicy) < needed);
    const where = (c: CfnResource) => (Stack.of(c) === Stack.of(this) ? 'this stack' : `stack ${Stack.of(c).stackName}`);
    Aspects.of(this).add({
      visit: (node) => {
        if (node !== this) return;
        const byStack = new Map<string, string[]>();
        for (const c of vpc ? weak([vpc, ...vpc.selectSubnets(subnets).subnets]) : []) byStack.set(where(c), [...(byStack.get(where(c)) ?? []), c.node.scope!.node.path]);
        for (const [stack, paths] of byStack) {
          Annotations.of(this).addWarningV2(
            'db-ops-kit:keptClusterVpcDeleted',
            `existingVpc ${paths.join(', ')} is deleted by a destroy of ${stack}, ` +
              `but the cluster (removalPolicy ${policy}) is kept and still lives in its subnets: the destroy ends DELETE_FAILED. ` +
              'Give the VPC and these subnets RemovalPolicy.RETAIN (e.g. `(subnet.node.defaultChild as CfnResource).applyRemovalPolicy(RemovalPolicy.RETAIN)`), ' +
              'or import a VPC that lives longer (ec2.Vpc.fromLookup), or let the cluster go with the stack: clusterProps { removalPolicy: RemovalPolicy.SNAPSHOT, deletionProtection: false }.',
          );
        }
        for (const c of key ? weak([key]) : []) {
          Annotations.of(this).addWarningV2(
            'db-ops-kit:keptClusterKeyDeleted',
            `encryptionKey ${c.node.scope!.node.path} is scheduled for deletion by a destroy of ${where(c)}, but the cluster (removalPolicy ${policy}) is kept: ` +
              'once the key is deleted the kept cluster, its snapshots and its master secret cannot be decrypted. Give the key RemovalPolicy.RETAIN, ' +
              'or let the cluster go with the stack: clusterProps { removalPolicy: RemovalPolicy.SNAPSHOT, deletionProtection: false }.',
          );
        }
      },
    });
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
    if (this.credentialMode === 'secret') {
      Annotations.of(this).addWarningV2(
        'db-ops-kit:grantConnectSecretMode',
        `grantConnect(${grantee.grantPrincipal}) in secret mode: the proxy's IAM authentication is DISABLED, so rds-db:connect lets nobody in. Grant read on appSecret instead (pattern.appSecret.grantRead(...)), or use credentialMode 'iam'.`,
      );
    }
    return this.proxy.grantConnect(grantee, dbUser);
  }

  private secretsEndpoint(): ec2.IInterfaceVpcEndpoint | undefined {
    return this.smEndpoint;
  }

  /**
   * HTTPS to Secrets Manager: to the interface endpoint's security groups when the VPC has one (and the
   * endpoint admits `sg`), otherwise to the public service endpoint through NAT. Secrets Manager has no
   * AWS-managed prefix list (https://docs.aws.amazon.com/vpc/latest/userguide/working-with-aws-managed-prefix-lists.html),
   * and its public IPs are not stable, so the rule is 0.0.0.0/0 on 443 only.
   */
  private allowToSecretsManager(sg: ec2.SecurityGroup): void {
    if (this.smEndpoint) {
      sg.connections.allowTo(this.smEndpoint, ec2.Port.tcp(443), 'HTTPS to the Secrets Manager endpoint');
    } else {
      sg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to Secrets Manager through NAT (no interface endpoint; no AWS-managed prefix list exists for it)');
    }
  }

  /**
   * An execution role that may write only to `logGroup` (instead of AWSLambdaBasicExecutionRole /
   * AWSLambdaVPCAccessExecutionRole, whose logs actions cover every log group of the account), plus, for a
   * VPC function, the network-interface actions Lambda needs; those support no resource-level scoping.
   * https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions
   */
  private scopedFunctionRole(id: string, logGroup: logs.ILogGroup, inVpc: boolean): iam.Role {
    const role = new iam.Role(this, id, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
    if (inVpc) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeSubnets',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          resources: ['*'],
        }),
      );
    }
    return role;
  }

  private functionDefaults(retention: logs.RetentionDays, file: string, handler: string): nodejs.NodejsFunctionProps {
    const name = file.replace(/\.ts$/, '');
    const logGroup = new logs.LogGroup(this, `${name}-logs`, { retention, encryptionKey: this.encryptionKey });
    return {
      role: this.scopedFunctionRole(`${name}-role`, logGroup, true),
      entry: path.join(this.runtimeCodeDir, file),
      handler,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
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

  private createAlarms(timeout: Duration, proxyConnections: number, rotations: Array<[string, secretsmanager.SecretRotation | undefined]>): void {
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
      const alarm = new cloudwatch.Alarm(this, id, { alarmName: `${this.alarmNamePrefix}-${id}`, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, ...props });
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
    // Callers' bad requests (BadRequestError) are their bug, not an outage: counted from the function's own
    // structured log line ("query failed", errorType) and subtracted from Lambda's Errors before alarming.
    const badRequests = new logs.MetricFilter(this, 'BadRequestMetricFilter', {
      logGroup: this.fn.logGroup,
      filterPattern: logs.FilterPattern.stringValue('$.errorType', '=', 'BadRequestError'),
      metricNamespace: 'DbOpsKit/RdsProxyLambda',
      metricName: `${this.alarmNamePrefix}-BadRequests`,
      metricValue: '1',
    });
    add('FunctionErrorsAlarm', {
      alarmDescription: 'The query Lambda failed for reasons other than callers\' bad requests (database unavailable, authentication, timeouts, configuration).',
      metric: new cloudwatch.MathExpression({
        expression: 'IF(FILL(errors, 0) - FILL(bad, 0) > 0, FILL(errors, 0) - FILL(bad, 0), 0)',
        usingMetrics: {
          errors: this.fn.metricErrors({ period: Duration.minutes(1), statistic: 'Sum' }),
          bad: badRequests.metric({ period: Duration.minutes(1), statistic: 'Sum' }),
        },
        period: Duration.minutes(1),
        label: 'errors other than bad requests',
      }),
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
    add('FunctionBadRequestsAlarm', {
      alarmDescription: 'Many callers\' requests are refused as bad (unknown query, bad params): a caller was deployed with a bug. Informational; the errors alarm leaves these out.',
      metric: badRequests.metric({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 50,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    const dbMetric = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({ namespace: 'AWS/RDS', metricName, dimensionsMap: { DBClusterIdentifier: this.cluster.clusterIdentifier }, statistic, period: Duration.minutes(1) });
    add('DatabaseCpuAlarm', {
      alarmDescription: 'Writer CPU above 80% for 10 minutes: queries queue up; on Serverless v2 capacity is at its maximum or scaling lags.',
      metric: dbMetric('CPUUtilization', 'Maximum'),
      threshold: 80,
      evaluationPeriods: 10,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    add('DatabaseAcuUtilizationAlarm', {
      alarmDescription: 'Serverless v2 capacity above 90% of serverlessV2MaxCapacity for 10 minutes: the cluster cannot scale further. (No data on provisioned instances.)',
      metric: dbMetric('ACUUtilization', 'Maximum'),
      threshold: 90,
      evaluationPeriods: 10,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    add('DatabaseConnectionsAlarm', {
      alarmDescription: `Database connections above 90% of max_connections (${this.maxDatabaseConnections}): new connections (proxy, rotation, administration) will be refused.`,
      metric: dbMetric('DatabaseConnections', 'Maximum'),
      threshold: Math.floor(this.maxDatabaseConnections * 0.9),
      evaluationPeriods: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    add('DatabaseFreeableMemoryAlarm', {
      alarmDescription: 'Writer freeable memory below 256 MiB for 10 minutes: connections and queries are squeezed; the instance may restart.',
      metric: dbMetric('FreeableMemory', 'Minimum'),
      threshold: 256 * 1024 * 1024,
      evaluationPeriods: 10,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    });
    const clientLimit = 2 * (this.reservedConcurrency ?? proxyConnections);
    add('ProxyClientConnectionsAlarm', {
      alarmDescription: `Client connections to the proxy above ${clientLimit} (twice what the query function's concurrency explains): another client or leaking connections.`,
      metric: proxyMetric('ClientConnections', 'Maximum'),
      threshold: clientLimit,
      evaluationPeriods: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    for (const [name, rotation] of rotations) {
      if (!rotation) continue;
      // SecretRotation deploys the rotation function from the Serverless Application Repository and exposes it
      // as the child `RotationLambda` (an imported function named from the application's output).
      const rotationFn = rotation.node.tryFindChild('RotationLambda') as lambda.IFunction | undefined;
      if (!rotationFn) continue;
      add(`${name}ErrorsAlarm`, {
        alarmDescription: `The ${name === 'AppSecretRotation' ? 'application' : 'master'} secret rotation function failed: the secret may be left with an AWSPENDING version and the password unchanged.`,
        metric: rotationFn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      });
    }
  }
}

/**
 * The Secrets Manager interface endpoint of `vpc` defined anywhere in this app, found by its service name
 * (`com.amazonaws.<region>.secretsmanager`, possibly with a token for the region), not by construct id.
 */
function findSecretsManagerEndpoint(scope: Construct, vpc: ec2.IVpc): ec2.IInterfaceVpcEndpoint | undefined {
  for (const c of scope.node.root.node.findAll()) {
    if (!(c instanceof ec2.InterfaceVpcEndpoint)) continue;
    const cfn = c.node.defaultChild as ec2.CfnVPCEndpoint | undefined;
    if (!cfn || cfn.vpcId !== vpc.vpcId) continue;
    // CDK builds the name as `<prefix>.<region>.secretsmanager<suffix>`, prefix/region/suffix possibly tokens.
    if (/\.secretsmanager(-fips)?(\$\{Token\[[^\]]+\]\})?$/.test(String(cfn.serviceName))) return c;
  }
  return undefined;
}
