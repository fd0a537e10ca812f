import * as fs from 'fs';
import * as path from 'path';
import { Aws, CfnOutput, Duration, Names, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dms from 'aws-cdk-lib/aws-dms';
import * as dsql from 'aws-cdk-lib/aws-dsql';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DMS_CSV } from '../../lambda/dsql-loader/dms-format';

/** DSQL per-transaction limits (Aurora DSQL quotas, checked 2026-11). */
export const DSQL_MAX_ROWS_PER_TRANSACTION = 3000;
export const DSQL_MAX_BYTES_PER_TRANSACTION = 10 * 1024 * 1024;

/** A PostgreSQL source that DMS replicates from (full load and CDC, DMS Serverless). */
export interface DsqlBridgeSourceProps {
  /** Host name of the source PostgreSQL server, as DMS reaches it from `vpc`. */
  readonly serverName: string;
  /**
   * Port of the source server.
   * @default 5432
   */
  readonly port?: number;
  /** Database to replicate. */
  readonly databaseName: string;
  /** Secrets Manager secret with `username` and `password` of the DMS source user (needs replication rights). */
  readonly secret: secretsmanager.ISecret;
  /** VPC DMS Serverless runs in; it must reach the source server. */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets for the DMS replication subnet group.
   * @default - the VPC's private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Security groups for DMS Serverless.
   * @default - a new security group with egress to the VPC CIDR on the source port and HTTPS (443) to anywhere
   *   for the S3, KMS and Secrets Manager endpoints
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /**
   * Source schemas whose tables DMS replicates.
   * @default ['public']
   */
  readonly schemas?: string[];
  /**
   * Upper bound of DMS capacity units (DCU) for the serverless replication.
   * @default 16
   */
  readonly maxCapacityUnits?: number;
}

/** Props of {@link DsqlBridge}. */
export interface DsqlBridgeProps {
  /**
   * Customer-managed key for the DSQL cluster, landing bucket, queues, Lambda environment and logs.
   * @default - a new key with yearly automatic rotation, retained on stack deletion
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Deletion protection of the DSQL cluster.
   * @default true
   */
  readonly deletionProtection?: boolean;
  /**
   * Folder in the landing bucket that DMS writes to (DMS `BucketFolder`), without slashes at the ends.
   * @default 'dms'
   */
  readonly landingPrefix?: string;
  /**
   * Folder in the landing bucket for quarantined (malformed) rows.
   * @default 'quarantine'
   */
  readonly quarantinePrefix?: string;
  /**
   * PostgreSQL role the loader connects as; map it to the loader's IAM role with
   * `AWS IAM GRANT <role> TO '<loaderRoleArn>'` (see README). Never `admin`.
   * @default 'dsql_loader'
   */
  readonly databaseRole?: string;
  /**
   * Target schema for every table.
   * @default - the source schema named in the DMS object key
   */
  readonly targetSchema?: string;
  /**
   * Rows modified per loader transaction, including the loader's progress row.
   * @default 3000 (the DSQL limit)
   */
  readonly maxRowsPerTransaction?: number;
  /**
   * Estimated bytes modified per loader transaction (row + index overhead, see README).
   * @default 8 MiB (the DSQL limit is 10 MiB; the margin absorbs estimate error)
   */
  readonly maxBytesPerTransaction?: number;
  /**
   * Loader Lambda memory in MB.
   * @default 1024
   */
  readonly loaderMemorySize?: number;
  /**
   * Maximum concurrent loader invocations driven by the queue.
   * @default 5
   */
  readonly loaderMaxConcurrency?: number;
  /**
   * Maximum concurrent loader invocations of the backfill Distributed Map.
   * @default 10
   */
  readonly backfillMaxConcurrency?: number;
  /**
   * Retention of the loader and state machine logs.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Folder in the landing bucket where the backfill's Distributed Maps write their results
   * (Step Functions ResultWriter); outside `landingPrefix`, so result files are never loaded.
   * @default 'backfill-results'
   */
  readonly backfillResultsPrefix?: string;
  /**
   * Create the account-wide DMS roles `dms-vpc-role` and `dms-cloudwatch-logs-role` (fixed names that
   * DMS requires; one per account) in this stack. Only used with `source`. They are retained on
   * stack deletion (other DMS work in the account may depend on them), so set this only in the one
   * stack that owns them, and set it to false on a redeploy after a destroy (they exist then).
   * @default false - the roles must exist already; `README.md` gives the commands to check for and create them
   */
  readonly createDmsAccountRoles?: boolean;
  /**
   * Source PostgreSQL for DMS. When given, the construct also creates the DMS source endpoint and a
   * DMS Serverless full-load-and-CDC replication into the landing bucket.
   * @default - no source endpoint and no replication: point your own DMS task at `targetEndpoint`
   */
  readonly source?: DsqlBridgeSourceProps;
  /**
   * Folder holding the loader's runtime code (`handler.ts`, ... of `lambda/dsql-loader/`), for apps that
   * keep Lambda code elsewhere; `lambda/shared/` must sit next to it (`<dir>/../shared`). This file also
   * imports `../../lambda/dsql-loader/dms-format`: change that import if you move the folder.
   * @default - `lambda/dsql-loader` two folders up from this file (the kit's layout)
   */
  readonly runtimeCodeDir?: string;
}

const PREFIX_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;
const IDENT_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * PostgreSQL → Aurora DSQL bridge: a DSQL cluster, the S3 landing bucket DMS writes CSV to, the
 * DMS S3 target endpoint (and optionally source endpoint + DMS Serverless replication), S3 events →
 * SQS (with DLQ) → loader Lambda, and a Step Functions Distributed Map that backfills every object
 * already under the landing prefix with bounded concurrency.
 */
export class DsqlBridge extends Construct {
  public readonly encryptionKey: kms.IKey;
  /** Key of the event queue and its DLQ. */
  public readonly queueKey: kms.Key;
  public readonly cluster: dsql.CfnCluster;
  public readonly landingBucket: s3.Bucket;
  public readonly accessLogsBucket: s3.Bucket;
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  /** In alarm when a message is in the DLQ: an object failed to load (it stays in S3; redrive after the fix). */
  public readonly deadLetterAlarm: cloudwatch.Alarm;
  /** In alarm when the oldest queued S3 event is older than 1 hour: a failing or blocked object. */
  public readonly queueAgeAlarm: cloudwatch.Alarm;
  /** In alarm when the loader met an object under the landing prefix that is not a DMS data file (kept, not loaded). */
  public readonly skippedObjectAlarm: cloudwatch.Alarm;
  /** In alarm when a backfill execution failed, timed out or was aborted. */
  public readonly backfillFailedAlarm: cloudwatch.Alarm;
  /** Every alarm of the bridge notifies this topic (KMS-encrypted with `queueKey`); subscribe to it. */
  public readonly alarmTopic: sns.Topic;
  public readonly loader: nodejs.NodejsFunction;
  public readonly backfill: sfn.StateMachine;
  /** Folder of the landing bucket the backfill's Distributed Maps write their results to. */
  public readonly backfillResultsPrefix: string;
  /** `dms-vpc-role`, when `createDmsAccountRoles` is set. */
  public readonly dmsVpcRole?: iam.Role;
  /** `dms-cloudwatch-logs-role`, when `createDmsAccountRoles` is set. */
  public readonly dmsCloudWatchLogsRole?: iam.Role;
  public readonly dmsRole: iam.Role;
  public readonly targetEndpoint: dms.CfnEndpoint;
  public readonly sourceEndpoint?: dms.CfnEndpoint;
  public readonly replication?: dms.CfnReplicationConfig;
  /** The S3 settings of the target endpoint (what the loader expects), for docs and tests. */
  public readonly s3Settings: dms.CfnEndpoint.S3SettingsProperty;
  public readonly landingPrefix: string;
  public readonly databaseRole: string;
  /** The stack outputs, by id (`DsqlBridgeStack` gives them these ids as output names). */
  public readonly outputs: Record<string, CfnOutput> = {};

  constructor(scope: Construct, id: string, props: DsqlBridgeProps = {}) {
    super(scope, id);
    validate(this, props);
    const stack = Stack.of(this);
    this.landingPrefix = props.landingPrefix ?? 'dms';
    const quarantinePrefix = props.quarantinePrefix ?? 'quarantine';
    this.databaseRole = props.databaseRole ?? 'dsql_loader';
    this.backfillResultsPrefix = props.backfillResultsPrefix ?? 'backfill-results';
    const retention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;

    if (props.encryptionKey) {
      this.encryptionKey = props.encryptionKey;
    } else {
      const key = new kms.Key(this, 'Key', {
        description: `db-ops-kit DSQL bridge ${this.node.path}: DSQL cluster, landing bucket, queues, logs`,
        enableKeyRotation: true,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      // Aurora DSQL encrypts the cluster with the key through the service principal.
      key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'AllowAuroraDsqlForThisAccount',
          principals: [new iam.ServicePrincipal('dsql.amazonaws.com')],
          actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*', 'kms:DescribeKey'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
        }),
      );
      // CloudWatch Logs encrypts the loader and state machine log groups with the key.
      key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'AllowCloudWatchLogsInThisAccount',
          principals: [new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
          actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
          resources: ['*'],
          conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:*` } },
        }),
      );
      denyGrantsExceptForAwsResources(key);
      this.encryptionKey = key;
    }

    // ---- Aurora DSQL cluster -------------------------------------------------------------------
    this.cluster = new dsql.CfnCluster(this, 'Cluster', {
      deletionProtectionEnabled: props.deletionProtection ?? true,
      kmsEncryptionKey: this.encryptionKey.keyArn,
      tags: [{ key: 'Name', value: `${stack.stackName}-dsql` }],
    });
    this.cluster.applyRemovalPolicy(RemovalPolicy.RETAIN);

    // ---- Landing bucket ------------------------------------------------------------------------
    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED, // server access log delivery does not support SSE-KMS
      enforceSSL: true,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ abortIncompleteMultipartUploadAfter: Duration.days(7), transitions: [{ storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(30) }] }],
    });
    Validations.of(this.accessLogsBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This bucket receives the landing bucket\'s server access logs; logging it into itself would loop. It is versioned, TLS-only and private.',
    });
    this.landingBucket = new s3.Bucket(this, 'Landing', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.encryptionKey,
      bucketKeyEnabled: true,
      enforceSSL: true,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      // Nothing is ever expired: loaded files stay as the audit trail; they only move to cheaper classes.
      lifecycleRules: [
        {
          id: 'cheaper-storage-after-load',
          abortIncompleteMultipartUploadAfter: Duration.days(7),
          transitions: [{ storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(30) }],
          noncurrentVersionTransitions: [{ storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(30) }],
        },
      ],
    });

    // Server access logs delivered under a bucket policy (no legacy ACLs on the log bucket).
    (this.landingBucket.node.defaultChild as s3.CfnBucket).loggingConfiguration = {
      destinationBucketName: this.accessLogsBucket.bucketName,
      logFilePrefix: 'landing/',
    };
    this.accessLogsBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'S3ServerAccessLogsForLandingBucket',
        principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [this.accessLogsBucket.arnForObjects('landing/*')],
        conditions: { ArnLike: { 'aws:SourceArn': this.landingBucket.bucketArn }, StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );

    // ---- Queue + DLQ -----------------------------------------------------------------------------
    const loaderTimeout = Duration.minutes(10);
    // A key of its own: S3 must be allowed to use the queue key (policy names the bucket), while the
    // bucket is encrypted with the main key — one key for both would be a dependency cycle.
    this.queueKey = new kms.Key(this, 'QueueKey', {
      description: `db-ops-kit DSQL bridge ${this.node.path}: S3 event queue, DLQ and alarm topic`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    denyGrantsExceptForAwsResources(this.queueKey);
    // Only the loader queue may use the DLQ (Control Tower CT.SQS.PR.1: RedriveAllowPolicy byQueue), so no other
    // queue of the account can pour messages into it that a redrive would then feed to the loader. The queue's ARN
    // is built from a name derived from the construct path: its GetAtt would be a cycle (queue -> DLQ -> queue).
    // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue-redrive.html
    const queueName = Names.uniqueResourceName(this, { maxLength: 74, separator: '-' }) + '-queue';
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.queueKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      redriveAllowPolicy: {
        redrivePermission: sqs.RedrivePermission.BY_QUEUE,
        sourceQueues: [sqs.Queue.fromQueueArn(this, 'LoaderQueueRef', stack.formatArn({ service: 'sqs', resource: queueName }))],
      },
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason: 'This is the dead-letter queue; operators redrive it to the main queue (StartMessageMoveTask) after fixing the cause.',
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      queueName,
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.queueKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // AWS guidance for Lambda event sources: at least 6 × the function timeout.
      visibilityTimeout: Duration.minutes(loaderTimeout.toMinutes() * 6),
      // High because a CDC file that waits for an earlier file of its table is received again
      // every 30 s; exhausting the count moves it to the DLQ (nothing is lost; redrive it).
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 100 },
    });
    // S3 → SQS with S3 allowed only for this bucket in this account, on the queue and on its key
    // (CDK's SqsDestination adds a second, unconditioned s3.amazonaws.com statement to the key policy).
    this.landingBucket.addEventNotification(s3.EventType.OBJECT_CREATED, new ScopedSqsDestination(this.queue, this.queueKey), { prefix: `${this.landingPrefix}/` });
    // Alarms notify one topic, encrypted with the queue key. CloudWatch publishes to an encrypted
    // topic only if the key policy lets cloudwatch.amazonaws.com use the key, scoped by source:
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html (encrypted topics)
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cross-service-confused-deputy-prevention.html
    // https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services (key policy for a publishing service)
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', { displayName: 'DSQL bridge alarms', masterKey: this.queueKey, enforceSSL: true });
    this.queueKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsOfThisAccountPublishToTheEncryptedTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        // The alarms' own ARNs would be a dependency cycle (alarm → topic → key); the account's alarms in this Region.
        conditions: {
          ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*` },
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
        },
      }),
    );
    // A failing object is retried every visibility timeout (60 min) up to 100 receives before the
    // DLQ; the age alarm surfaces it (and the CDC files of its table waiting behind it) within hours.
    this.deadLetterAlarm = this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }).createAlarm(this, 'DeadLetterAlarm', {
      alarmDescription: 'DSQL bridge: S3 events in the dead-letter queue; the objects were not loaded (they are kept). Fix the cause, then redrive the DLQ.',
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.queueAgeAlarm = this.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: 'Maximum' }).createAlarm(this, 'QueueAgeAlarm', {
      alarmDescription: 'DSQL bridge: an S3 event has waited over 1 hour; an object keeps failing or its table is blocked behind it (see loader logs).',
      threshold: 3600,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // CDK's singleton that configures bucket notifications (one per stack).
    for (const child of stack.node.children.filter((c) => c.node.id.startsWith('BucketNotificationsHandler'))) {
      Validations.of(child).acknowledge(
        { id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', reason: 'CDK-managed custom resource that sets bucket notifications at deploy time; its role is created by aws-cdk-lib.' },
        { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'CDK-managed custom resource: s3:PutBucketNotification is granted by aws-cdk-lib for the buckets of this stack.' },
      );
    }

    // ---- Loader Lambda ---------------------------------------------------------------------------
    const loaderLogs = new logs.LogGroup(this, 'LoaderLogs', { retention, encryptionKey: this.encryptionKey, removalPolicy: RemovalPolicy.RETAIN });
    // Own role instead of AWSLambdaBasicExecutionRole: logs only to its own log group.
    const loaderRole = new iam.Role(this, 'LoaderRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'DSQL bridge loader: read DMS files, write quarantine, connect to DSQL as a non-admin role',
    });
    loaderRole.addToPolicy(
      new iam.PolicyStatement({ sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [loaderLogs.logGroupArn] }),
    );
    this.loader = new nodejs.NodejsFunction(this, 'Loader', {
      entry: path.join(path.resolve(props.runtimeCodeDir ?? path.join(__dirname, '../../lambda/dsql-loader')), 'handler.ts'),
      role: loaderRole,
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.loaderMemorySize ?? 1024,
      timeout: loaderTimeout,
      tracing: lambda.Tracing.ACTIVE,
      logGroup: loaderLogs,
      environmentEncryption: this.encryptionKey,
      // Async invocations (not used by the queue or the state machine) fail into the same DLQ.
      deadLetterQueue: this.deadLetterQueue,
      environment: {
        DSQL_ENDPOINT: this.cluster.attrEndpoint,
        DSQL_REGION: stack.region,
        DSQL_DB_ROLE: this.databaseRole,
        LANDING_BUCKET: this.landingBucket.bucketName,
        LANDING_PREFIX: this.landingPrefix,
        QUARANTINE_PREFIX: quarantinePrefix,
        TARGET_SCHEMA: props.targetSchema ?? '',
        MAX_ROWS_PER_TXN: String(props.maxRowsPerTransaction ?? DSQL_MAX_ROWS_PER_TRANSACTION),
        MAX_BYTES_PER_TXN: String(props.maxBytesPerTransaction ?? 8 * 1024 * 1024),
        CSV_NULL_VALUE: DMS_CSV.nullValue,
        CSV_TIMESTAMP_COLUMN: DMS_CSV.timestampColumn,
        POWERTOOLS_SERVICE_NAME: 'dsql-loader',
        POWERTOOLS_METRICS_NAMESPACE: 'DbOpsKit/DsqlBridge',
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        minify: true,
        sourceMap: true,
        // The Node.js 22 runtime ships SDK v3, but not @aws-sdk/dsql-signer: bundle the SDK clients
        // we use at the versions we test with instead of relying on the runtime's copy.
        externalModules: [],
        forceDockerBundling: false,
      },
    });
    this.loader.addEventSource(
      new SqsEventSource(this.queue, { batchSize: 1, reportBatchItemFailures: true, maxConcurrency: props.loaderMaxConcurrency ?? 5 }),
    );
    this.loader.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'DsqlConnectAsLoaderRole', actions: ['dsql:DbConnect'], resources: [this.cluster.attrResourceArn] }),
    );
    loaderRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadDmsFiles',
        actions: ['s3:GetObject', 's3:GetObjectVersion'],
        resources: [this.landingBucket.arnForObjects(`${this.landingPrefix}/*`)],
      }),
    );
    loaderRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ListDmsFilesForOrdering',
        actions: ['s3:ListBucket'],
        resources: [this.landingBucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${this.landingPrefix}/*`] } },
      }),
    );
    loaderRole.addToPolicy(
      new iam.PolicyStatement({ sid: 'WriteQuarantine', actions: ['s3:PutObject'], resources: [this.landingBucket.arnForObjects(`${quarantinePrefix}/*`)] }),
    );
    loaderRole.addToPolicy(
      new iam.PolicyStatement({ sid: 'UseBucketKey', actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [this.encryptionKey.keyArn] }),
    );
    // Failed async invocations go to the DLQ with the function's role; sending to an SSE-KMS queue
    // needs kms:GenerateDataKey and kms:Decrypt on its key:
    // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html
    loaderRole.addToPolicy(
      new iam.PolicyStatement({ sid: 'SendToEncryptedDeadLetterQueue', actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [this.queueKey.keyArn] }),
    );
    Validations.of(loaderRole).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(this.landingBucket)}.Arn>/${this.landingPrefix}/*]`,
        reason: 'DMS names its files at run time (LOAD00000001.csv, timestamps); read access is limited to the landing prefix.',
      },
      {
        id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(this.landingBucket)}.Arn>/${quarantinePrefix}/*]`,
        reason: 'Quarantine object names derive from the source object; write access (PutObject only) is limited to the quarantine prefix.',
      },
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords) does not support resource-level permissions.' },
    );
    const runtimeReason = 'The kit standardizes on nodejs22.x (the runtime the code and its SDK bundle are tested on); moving to a newer runtime is a deliberate, tested upgrade.';
    Validations.of(this.loader).acknowledge({ id: 'AwsSolutions-L1', reason: runtimeReason }, { id: 'Serverless-LambdaLatestVersion', reason: runtimeReason });
    Validations.of(this.loader).acknowledge({
      id: 'Serverless-LambdaEventSourceMappingDestination',
      reason: 'SQS event sources fail over through the queue redrive policy (DLQ after 100 receives); event source mapping on-failure destinations apply to stream sources.',
    });

    this.skippedObjectAlarm = new cloudwatch.Metric({
      namespace: 'DbOpsKit/DsqlBridge',
      metricName: 'ObjectsSkipped',
      dimensionsMap: { service: 'dsql-loader' },
      statistic: 'Sum',
      period: Duration.minutes(5),
    }).createAlarm(this, 'SkippedObjectAlarm', {
      alarmDescription: 'DSQL bridge: an object under the landing prefix is not a DMS data file name the loader knows; it is kept but NOT loaded. Check the loader log for the key.',
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // ---- Backfill: Distributed Map over every object already under the prefix -------------------
    // Two passes. In an S3 listing a table's CDC files (named yyyyMMdd-…) sort before its LOAD files,
    // and a CDC file waits (retries) until every earlier file of its table is loaded. In one pass,
    // CDC files could take every concurrency slot while the LOAD files they wait for never start.
    // Pass 1 loads only LOAD files (CDC files return "skipped" at once); pass 2 loads everything in
    // listing order, where each table's CDC files are in DMS order and LOAD files are already done.
    const loadTask = (id: string, phase: 'full-load' | 'all') => {
      const task = new tasks.LambdaInvoke(this, id, {
        lambdaFunction: this.loader,
        payload: sfn.TaskInput.fromObject({
          bucket: this.landingBucket.bucketName,
          key: sfn.JsonPath.stringAt('$.Key'),
          etag: sfn.JsonPath.stringAt('$.Etag'),
          phase,
        }),
        payloadResponseOnly: true,
        retryOnServiceExceptions: true,
      });
      // A CDC file waits for the earlier files of its table; a transient failure is retried too.
      task.addRetry({ errors: ['DsqlLoaderWaitError'], interval: Duration.seconds(30), maxAttempts: 60, backoffRate: 1.2, maxDelay: Duration.minutes(5) });
      task.addRetry({ errors: ['DsqlLoaderTransientError', 'Lambda.TooManyRequestsException'], interval: Duration.seconds(10), maxAttempts: 6, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL });
      return task;
    };
    // Each map writes its child results to S3 (ResultWriter) instead of returning them: a map without
    // one returns an array of every child's result, which counts against the 256 KiB payload quota
    // (even with ResultPath null) and fails the execution past roughly 900 objects
    // (States.DataLimitExceeded). With it, the state output is the map run ARN and the manifest's
    // S3 location, whatever the number of objects; the next state reads only that bounded summary.
    // https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html
    // https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html (256 KiB payload)
    // https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html (policies, scoped to the prefix)
    const backfillPass = (id: string, label: string, passName: string, resultKey: string, taskId: string, phase: 'full-load' | 'all') => {
      const resultsPrefix = `${this.backfillResultsPrefix}/${passName}`;
      const m = new ResultWritingDistributedMap(this, id, {
        results: { bucket: this.landingBucket, prefix: resultsPrefix },
        itemReader: new PrefixScopedS3ObjectsItemReader({ bucket: this.landingBucket, prefix: `${this.landingPrefix}/` }),
        maxConcurrency: props.backfillMaxConcurrency ?? 10,
        mapExecutionType: sfn.StateMachineType.STANDARD,
        toleratedFailurePercentage: 0,
        label,
        resultSelector: { 'mapRunArn.$': '$.MapRunArn', 'resultWriterDetails.$': '$.ResultWriterDetails' },
        resultPath: `$.${resultKey}`,
      });
      m.itemProcessor(loadTask(taskId, phase));
      return m;
    };
    const fullLoadPass = backfillPass('BackfillFullLoadFiles', 'BackfillFullLoad', 'full-load-pass', 'fullLoadPass', 'LoadFullLoadObject', 'full-load');
    const map = backfillPass('BackfillEveryObject', 'Backfill', 'every-object-pass', 'everyObjectPass', 'LoadObject', 'all');
    const smLogs = new logs.LogGroup(this, 'BackfillLogs', { retention, encryptionKey: this.encryptionKey, removalPolicy: RemovalPolicy.RETAIN });
    this.backfill = new sfn.StateMachine(this, 'Backfill', {
      definitionBody: sfn.DefinitionBody.fromChainable(fullLoadPass.next(map)),
      tracingEnabled: true,
      logs: { destination: smLogs, level: sfn.LogLevel.ALL, includeExecutionData: false },
      timeout: Duration.days(7),
    });
    // ResultWriter: the object actions Step Functions needs, on the results prefix only.
    this.backfill.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'WriteBackfillResults',
        actions: ['s3:PutObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
        resources: [this.landingBucket.arnForObjects(`${this.backfillResultsPrefix}/*`)],
      }),
    );
    // The results land in the SSE-KMS landing bucket: writing them needs the bucket key.
    this.backfill.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'WriteBackfillResultsWithBucketKey', actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [this.encryptionKey.keyArn] }),
    );
    Validations.of(this.backfill).acknowledge(
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'X-Ray and CloudWatch Logs delivery (logs:CreateLogDelivery etc.) do not support resource-level permissions.' },
      { id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(this.loader)}.Arn>:*]`, reason: 'CDK grants invoke on the loader function and its versions/aliases; only this one function.' },
      {
        id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(this.landingBucket)}.Arn>/${this.backfillResultsPrefix}/*]`,
        reason: 'Step Functions names the ResultWriter objects (map run id, manifest, result files) at run time; limited to the backfill results prefix.',
      },
    );
    const mapPolicy = this.backfill.node.tryFindChild('DistributedMapPolicy');
    if (mapPolicy) {
      const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
      const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
      const execution = `arn:<AWS::Partition>:states:${region}:${account}:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${logicalIdOf(this.backfill)}"}]}]}`;
      const reason = 'A Distributed Map describes and stops its own child executions, whose names are generated at run time; scoped to this state machine.';
      Validations.of(mapPolicy).acknowledge(
        { id: `AwsSolutions-IAM5[Resource::${execution}:*]`, reason },
        { id: `AwsSolutions-IAM5[Resource::${execution}/Backfill:*]`, reason },
        { id: `AwsSolutions-IAM5[Resource::${execution}/BackfillFullLoad:*]`, reason },
      );
    }

    // A backfill that fails, times out or is aborted leaves objects unloaded (they stay in S3; a redrive resumes).
    this.backfillFailedAlarm = new cloudwatch.MathExpression({
      expression: 'failed + timedOut + aborted',
      usingMetrics: {
        failed: this.backfill.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }),
        timedOut: this.backfill.metricTimedOut({ period: Duration.minutes(5), statistic: 'Sum' }),
        aborted: this.backfill.metricAborted({ period: Duration.minutes(5), statistic: 'Sum' }),
      },
      period: Duration.minutes(5),
    }).createAlarm(this, 'BackfillFailedAlarm', {
      alarmDescription: 'DSQL bridge: a backfill execution failed, timed out or was aborted; objects it did not load are kept in S3. See the execution and its map run results, fix the cause, then redrive the execution.',
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const alarms = [this.deadLetterAlarm, this.queueAgeAlarm, this.skippedObjectAlarm, this.backfillFailedAlarm];
    for (const alarm of alarms) alarm.addAlarmAction(new cwActions.SnsAction(this.alarmTopic));
    this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsOfThisBridge',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: { ArnLike: { 'aws:SourceArn': alarms.map((a) => a.alarmArn) }, StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );


    // ---- DMS S3 target endpoint ------------------------------------------------------------------
    this.dmsRole = new iam.Role(this, 'DmsS3TargetRole', {
      assumedBy: new iam.CompositePrincipal(new iam.ServicePrincipal('dms.amazonaws.com'), new iam.ServicePrincipal(`dms.${Aws.REGION}.amazonaws.com`)),
      description: 'DMS writes CSV into the DSQL bridge landing prefix',
    });
    this.dmsRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteLandingPrefix',
        // DMS requires DeleteObject for its S3 target; the bucket is versioned, so a delete only
        // adds a delete marker and every loaded version stays recoverable.
        actions: ['s3:PutObject', 's3:DeleteObject', 's3:PutObjectTagging'],
        resources: [this.landingBucket.arnForObjects(`${this.landingPrefix}/*`)],
      }),
    );
    this.dmsRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ListLandingPrefix',
        actions: ['s3:ListBucket'],
        resources: [this.landingBucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${this.landingPrefix}/*`, `${this.landingPrefix}`] } },
      }),
    );
    this.dmsRole.addToPolicy(
      new iam.PolicyStatement({ sid: 'EncryptWithBucketKey', actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'], resources: [this.encryptionKey.keyArn] }),
    );
    Validations.of(this.dmsRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(this.landingBucket)}.Arn>/${this.landingPrefix}/*]`,
      reason: 'DMS names its files at run time; write access is limited to the landing prefix of this bucket.',
    });
    this.s3Settings = {
      bucketName: this.landingBucket.bucketName,
      bucketFolder: this.landingPrefix,
      serviceAccessRoleArn: this.dmsRole.roleArn,
      dataFormat: 'csv',
      csvDelimiter: DMS_CSV.delimiter,
      csvRowDelimiter: DMS_CSV.rowDelimiter,
      csvNullValue: DMS_CSV.nullValue,
      rfc4180: true,
      addColumnName: true,
      includeOpForFullLoad: true,
      timestampColumnName: DMS_CSV.timestampColumn,
      cdcInsertsOnly: false,
      cdcInsertsAndUpdates: false,
      datePartitionEnabled: false,
      compressionType: 'NONE',
      maxFileSize: DMS_CSV.maxFileSizeKb,
      cdcMaxBatchInterval: DMS_CSV.cdcMaxBatchIntervalSeconds,
      cdcMinFileSize: DMS_CSV.cdcMinFileSizeKb,
      encryptionMode: 'SSE_KMS',
      serverSideEncryptionKmsKeyId: this.encryptionKey.keyArn,
      expectedBucketOwner: Aws.ACCOUNT_ID,
    };
    this.targetEndpoint = new dms.CfnEndpoint(this, 'S3TargetEndpoint', {
      endpointType: 'target',
      engineName: 's3',
      s3Settings: this.s3Settings,
    });
    // The role's policy must exist before DMS tests the endpoint (the role itself is a GetAtt dependency).
    this.targetEndpoint.node.addDependency(this.dmsRole.node.findChild('DefaultPolicy'));

    if (props.source) {
      const created = this.createSource(props.source, props.createDmsAccountRoles ?? false);
      this.sourceEndpoint = created.sourceEndpoint;
      this.replication = created.replication;
    }

    const out = (id: string, value: string, description: string) => {
      this.outputs[id] = new CfnOutput(this, id, { value, description });
    };
    out('ClusterEndpoint', this.cluster.attrEndpoint, 'Aurora DSQL endpoint (connect with an IAM token, TLS)');
    out('LandingBucketName', this.landingBucket.bucketName, 'Landing bucket: DMS writes under the landing prefix; quarantine and backfill results are folders beside it');
    out('BackfillStateMachineArn', this.backfill.stateMachineArn, 'Start it to load objects that landed before the queue existed');
    out('LoaderRoleArn', this.loader.role!.roleArn, `Map it in DSQL: AWS IAM GRANT ${this.databaseRole} TO '<this ARN>'`);
    out('S3TargetEndpointArn', this.targetEndpoint.ref, 'DMS S3 target endpoint: point your own DMS task at it when no source is configured');
    out('AlarmTopicArn', this.alarmTopic.topicArn, 'SNS topic every bridge alarm notifies: subscribe your on-call address to it');
    out('DeadLetterQueueUrl', this.deadLetterQueue.queueUrl, 'S3 events that failed to load; redrive to the queue after fixing the cause');
  }

  private createSource(source: DsqlBridgeSourceProps, createAccountRoles: boolean): { sourceEndpoint: dms.CfnEndpoint; replication: dms.CfnReplicationConfig } {
    const secretRole = new iam.Role(this, 'DmsSourceSecretRole', {
      assumedBy: new iam.ServicePrincipal(`dms.${Aws.REGION}.amazonaws.com`),
      description: 'DMS reads the source credentials from Secrets Manager',
    });
    source.secret.grantRead(secretRole);
    const sg =
      source.securityGroups ??
      [
        new ec2.SecurityGroup(this, 'DmsSecurityGroup', {
          vpc: source.vpc,
          description: 'DMS Serverless replication for the DSQL bridge',
          allowAllOutbound: false,
        }),
      ];
    if (!source.securityGroups) {
      sg[0].addEgressRule(ec2.Peer.ipv4(source.vpc.vpcCidrBlock), ec2.Port.tcp(source.port ?? 5432), 'to the source PostgreSQL');
      sg[0].addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to S3, KMS and Secrets Manager endpoints');
    }
    const subnets = source.vpc.selectSubnets(source.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });
    const subnetGroup = new dms.CfnReplicationSubnetGroup(this, 'DmsSubnetGroup', {
      replicationSubnetGroupDescription: 'DSQL bridge DMS Serverless',
      subnetIds: subnets.subnetIds,
    });
    // DMS creates a replication subnet group only if the account has the role `dms-vpc-role` (fixed
    // name, AmazonDMSVPCManagementRole); DMS logs to CloudWatch through `dms-cloudwatch-logs-role`.
    // https://docs.aws.amazon.com/dms/latest/userguide/security-iam.html#CHAP_Security.APIRole
    if (createAccountRoles) {
      const accountRole = (id: string, roleName: string, policy: string) => {
        const role = new iam.Role(this, id, {
          roleName,
          assumedBy: new iam.ServicePrincipal('dms.amazonaws.com'),
          managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName(`service-role/${policy}`)],
          description: `Account-wide role DMS requires (created by db-ops-kit ${this.node.path}; retained on stack deletion)`,
        });
        // Retained: other DMS work in the account may use it after this stack is gone. A redeploy after
        // a destroy (or a failed first deploy) sets createDmsAccountRoles=false: the role exists then.
        role.applyRemovalPolicy(RemovalPolicy.RETAIN);
        Validations.of(role).acknowledge({
          id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
          reason: `DMS requires the role ${roleName} with exactly this AWS managed policy (DMS user guide, IAM roles for the DMS API).`,
        });
        return role;
      };
      const vpcRole = accountRole('DmsVpcRole', 'dms-vpc-role', 'AmazonDMSVPCManagementRole');
      const logsRole = accountRole('DmsCloudWatchLogsRole', 'dms-cloudwatch-logs-role', 'AmazonDMSCloudWatchLogsRole');
      subnetGroup.node.addDependency(vpcRole);
      (this as { dmsVpcRole?: iam.Role }).dmsVpcRole = vpcRole;
      (this as { dmsCloudWatchLogsRole?: iam.Role }).dmsCloudWatchLogsRole = logsRole;
    }
    const sourceEndpoint = new dms.CfnEndpoint(this, 'SourceEndpoint', {
      endpointType: 'source',
      engineName: 'postgres',
      serverName: source.serverName,
      port: source.port ?? 5432,
      databaseName: source.databaseName,
      sslMode: 'require',
      kmsKeyId: this.encryptionKey.keyArn,
      postgreSqlSettings: {
        secretsManagerAccessRoleArn: secretRole.roleArn,
        secretsManagerSecretId: source.secret.secretArn,
        heartbeatEnable: true,
        captureDdls: false,
      },
    });
    // The role's policy (read on the secret) must exist before DMS tests the endpoint; the role itself is
    // already a GetAtt dependency (SecretsManagerAccessRoleArn), so depending on it again is cfn-lint W3005.
    sourceEndpoint.node.addDependency(secretRole.node.findChild('DefaultPolicy'));
    const schemas = source.schemas ?? ['public'];
    const replication = new dms.CfnReplicationConfig(this, 'Replication', {
      replicationConfigIdentifier: `${Stack.of(this).stackName}-dsql-bridge`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 255),
      replicationType: 'full-load-and-cdc',
      sourceEndpointArn: sourceEndpoint.ref,
      targetEndpointArn: this.targetEndpoint.ref,
      computeConfig: {
        maxCapacityUnits: source.maxCapacityUnits ?? 16,
        replicationSubnetGroupId: subnetGroup.ref,
        vpcSecurityGroupIds: sg.map((g) => g.securityGroupId),
        kmsKeyId: this.encryptionKey.keyArn,
        multiAz: false,
      },
      tableMappings: {
        rules: schemas.map((s, i) => ({
          'rule-type': 'selection',
          'rule-id': String(i + 1),
          'rule-name': `include-${s}`,
          'object-locator': { 'schema-name': s, 'table-name': '%' },
          'rule-action': 'include',
        })),
      },
      replicationSettings: {
        // DO_NOTHING: DMS never deletes objects already in the landing prefix.
        FullLoadSettings: { TargetTablePrepMode: 'DO_NOTHING' },
        Logging: { EnableLogging: true },
      },
    });
    if (this.dmsCloudWatchLogsRole) replication.node.addDependency(this.dmsCloudWatchLogsRole);
    return { sourceEndpoint, replication };
  }

  /** Lets `grantee` connect to the cluster as a non-admin database role (`dsql:DbConnect`). */
  public grantConnect(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['dsql:DbConnect'], resourceArns: [this.cluster.attrResourceArn] });
  }

  /** Lets `grantee` start the backfill Distributed Map. */
  public grantStartBackfill(grantee: iam.IGrantable): iam.Grant {
    return this.backfill.grantStartExecution(grantee);
  }

  /** Lets `grantee` read the landing and quarantine objects (for verification and audits). */
  public grantReadLanding(grantee: iam.IGrantable): iam.Grant {
    return this.landingBucket.grantRead(grantee);
  }
}

function logicalIdOf(c: Construct): string {
  const res = (c.node.defaultChild ?? c) as CfnResourceLike;
  return Stack.of(c).getLogicalId(res as never);
}

type CfnResourceLike = Construct;

function validate(scope: Construct, props: DsqlBridgeProps): void {
  const problems: string[] = [];
  const resolved = (v: unknown) => v !== undefined && !Token.isUnresolved(v);
  const intIn = (name: string, v: number | undefined, min: number, max: number) => {
    if (resolved(v) && (!Number.isInteger(v) || v! < min || v! > max)) problems.push(`${name} must be an integer in ${min}..${max}, got ${v}`);
  };
  for (const [name, v] of [['landingPrefix', props.landingPrefix], ['quarantinePrefix', props.quarantinePrefix]] as const) {
    if (resolved(v) && !PREFIX_RE.test(v!)) problems.push(`${name} must be an S3 folder without leading or trailing slash, like "dms", got "${v}"`);
  }
  if (resolved(props.landingPrefix) && resolved(props.quarantinePrefix) && (props.quarantinePrefix === props.landingPrefix || props.quarantinePrefix!.startsWith(`${props.landingPrefix}/`))) {
    problems.push('quarantinePrefix must not be inside landingPrefix: quarantine objects would be loaded as DMS files');
  }
  if (resolved(props.backfillResultsPrefix)) {
    const results = props.backfillResultsPrefix!;
    const landing = props.landingPrefix ?? 'dms';
    const quarantine = props.quarantinePrefix ?? 'quarantine';
    if (!PREFIX_RE.test(results)) problems.push(`backfillResultsPrefix must be an S3 folder without leading or trailing slash, like "backfill-results", got "${results}"`);
    else if (results === landing || results.startsWith(`${landing}/`) || landing.startsWith(`${results}/`)) problems.push('backfillResultsPrefix must not overlap landingPrefix: result files would be loaded as DMS files');
    else if (results === quarantine || results.startsWith(`${quarantine}/`) || quarantine.startsWith(`${results}/`)) problems.push('backfillResultsPrefix must not overlap quarantinePrefix');
  }
  if (props.createDmsAccountRoles && !props.source) problems.push('createDmsAccountRoles needs source: the DMS account roles are only used by the DMS Serverless replication');
  if (props.runtimeCodeDir !== undefined && !fs.existsSync(path.join(props.runtimeCodeDir, 'handler.ts'))) {
    problems.push(`runtimeCodeDir "${props.runtimeCodeDir}" has no handler.ts: point it at your copy of lambda/dsql-loader/`);
  }
  if (props.quarantinePrefix === undefined && props.landingPrefix === 'quarantine') problems.push('landingPrefix "quarantine" collides with the default quarantinePrefix; set quarantinePrefix');
  if (resolved(props.databaseRole)) {
    if (!IDENT_RE.test(props.databaseRole!)) problems.push(`databaseRole must be a lower-case PostgreSQL identifier, got "${props.databaseRole}"`);
    else if (props.databaseRole === 'admin') problems.push('databaseRole must not be "admin": create a custom role and map it with AWS IAM GRANT');
  }
  if (resolved(props.targetSchema) && !IDENT_RE.test(props.targetSchema!)) problems.push(`targetSchema must be a lower-case PostgreSQL identifier, got "${props.targetSchema}"`);
  intIn('maxRowsPerTransaction', props.maxRowsPerTransaction, 2, DSQL_MAX_ROWS_PER_TRANSACTION);
  intIn('maxBytesPerTransaction', props.maxBytesPerTransaction, 64 * 1024, DSQL_MAX_BYTES_PER_TRANSACTION);
  intIn('loaderMemorySize', props.loaderMemorySize, 256, 10240);
  intIn('loaderMaxConcurrency', props.loaderMaxConcurrency, 2, 1000);
  intIn('backfillMaxConcurrency', props.backfillMaxConcurrency, 1, 1000);
  if (props.source) {
    intIn('source.port', props.source.port, 1, 65535);
    intIn('source.maxCapacityUnits', props.source.maxCapacityUnits, 1, 384);
    if (resolved(props.source.serverName) && props.source.serverName.trim() === '') problems.push('source.serverName must not be empty');
    if (resolved(props.source.databaseName) && props.source.databaseName.trim() === '') problems.push('source.databaseName must not be empty');
    if (props.source.schemas && props.source.schemas.length === 0) problems.push('source.schemas must name at least one schema');
  }
  if (problems.length > 0) {
    throw new Error(`${scope.node.path}: invalid DsqlBridge props:\n  - ${problems.join('\n  - ')}`);
  }
}

/**
 * CDK's SqsDestination, with S3 scoped by source on the queue policy and the key policy (CDK adds a
 * second `s3.amazonaws.com` key statement without conditions). S3 needs sqs:SendMessage on the
 * queue and kms:GenerateDataKey + kms:Decrypt on an SSE-KMS queue's key:
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html
 */
class ScopedSqsDestination implements s3.IBucketNotificationDestination {
  constructor(
    private readonly queue: sqs.Queue,
    private readonly key: kms.Key,
  ) {}

  public bind(_scope: Construct, bucket: s3.IBucket): s3.BucketNotificationDestinationConfig {
    const source = { ArnLike: { 'aws:SourceArn': bucket.bucketArn }, StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } };
    const s3Principal = new iam.ServicePrincipal('s3.amazonaws.com');
    this.queue.addToResourcePolicy(
      new iam.PolicyStatement({ sid: 'S3EventsOfTheLandingBucket', principals: [s3Principal], actions: ['sqs:SendMessage'], resources: [this.queue.queueArn], conditions: source }),
    );
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({ sid: 'S3EventsOfTheLandingBucketToTheEncryptedQueue', principals: [s3Principal], actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: ['*'], conditions: source }),
    );
    return { arn: this.queue.queueArn, type: s3.BucketNotificationDestinationType.QUEUE, dependencies: [this.queue] };
  }
}

/** ListObjectsV2 item reader whose s3:ListBucket grant is limited to its prefix (CDK grants the whole bucket). */
class PrefixScopedS3ObjectsItemReader extends sfn.S3ObjectsItemReader {
  constructor(private readonly scoped: { bucket: s3.IBucket; prefix: string }) {
    super(scoped);
  }

  public providePolicyStatements(): iam.PolicyStatement[] {
    return [
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.scoped.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${this.scoped.prefix}*`] } },
      }),
    ];
  }
}

/**
 * A Distributed Map that writes its child results to S3 (ResultWriter) and returns only the map run
 * ARN and the manifest location. Rendered here rather than with CDK's ResultWriter (deprecated,
 * warns on every synth) or ResultWriterV2 (rendered only under a feature flag the copying app may
 * not set), so the ASL is the same in every app. The state machine role gets the S3 actions below.
 */
class ResultWritingDistributedMap extends sfn.DistributedMap {
  private readonly results: { bucket: s3.IBucket; prefix: string };

  constructor(scope: Construct, id: string, props: sfn.DistributedMapProps & { results: { bucket: s3.IBucket; prefix: string } }) {
    const { results, ...mapProps } = props;
    super(scope, id, mapProps);
    this.results = results;
  }

  public toStateJson(): object {
    return {
      ...super.toStateJson(),
      ResultWriter: { Resource: `arn:${Aws.PARTITION}:states:::s3:putObject`, Parameters: { Bucket: this.results.bucket.bucketName, Prefix: this.results.prefix } },
    };
  }
}

/**
 * Control Tower CT.KMS.PR.3: grants on the key only for AWS resources. The services that use these keys either
 * create their grants on the caller's behalf (DMS, Lambda; kms:GrantIsForAWSResource is true) or call as a
 * service principal (Aurora DSQL, aws:PrincipalIsAWSService is true); S3, SQS, SNS and CloudWatch Logs use the
 * key policy or the caller's permissions, not grants. Nothing in the kit calls kms:CreateGrant itself.
 * https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-is-for-aws-resource
 * https://docs.aws.amazon.com/controltower/latest/controlreference/kms-rules.html
 */
function denyGrantsExceptForAwsResources(key: kms.Key): void {
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
}
