import { App, Stack } from 'aws-cdk-lib';
import { testApp } from '../helpers/app';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { buildApp } from '../../bin/db-ops-kit';
import { DMS_CSV } from '../../lambda/dsql-loader/dms-format';
import { DsqlBridge, DsqlBridgeStack } from '../../lib/dsql-bridge';
import { nagFindings } from '../helpers/nag';

const ENV = { account: '123456789012', region: 'us-east-1' };

function withSource(app: App): DsqlBridgeStack {
  return new DsqlBridgeStack(app, 'WithSource', {
    env: ENV,
    source: {
      serverName: 'pg.internal',
      databaseName: 'app',
      secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:dms-source-AbCdEf',
      vpcId: 'vpc-0123456789abcdef0',
      vpcCidr: '10.0.0.0/16',
      availabilityZones: ['us-east-1a', 'us-east-1b'],
      subnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
      schemas: ['public', 'sales'],
    },
  });
}

describe('DbOpsDsqlBridge stack', () => {
  const app = testApp();
  const stack = new DsqlBridgeStack(app, 'DbOpsDsqlBridge', { env: ENV });
  const t = Template.fromStack(stack);

  test('DSQL cluster: deletion protection, customer-managed key, retained', () => {
    t.hasResource('AWS::DSQL::Cluster', {
      Properties: { DeletionProtectionEnabled: true, KmsEncryptionKey: { 'Fn::GetAtt': [Match.stringLikeRegexp('DsqlBridgeKey'), 'Arn'] } },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  test('landing bucket: KMS, versioning, access logs, lifecycle without expiry, TLS only, retained', () => {
    t.hasResource('AWS::S3::Bucket', {
      Properties: {
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' }, BucketKeyEnabled: true }] },
        VersioningConfiguration: { Status: 'Enabled' },
        LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'landing/' }),
        LifecycleConfiguration: { Rules: [Match.objectLike({ Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } })] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      },
      DeletionPolicy: 'Retain',
    });
    for (const b of Object.values(t.findResources('AWS::S3::Bucket'))) {
      for (const rule of (b as any).Properties.LifecycleConfiguration?.Rules ?? []) {
        expect(rule.ExpirationInDays).toBeUndefined();
        expect(rule.NoncurrentVersionExpiration).toBeUndefined();
      }
    }
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('DMS S3 target endpoint writes exactly the CSV the loader parses', () => {
    t.hasResourceProperties('AWS::DMS::Endpoint', {
      EndpointType: 'target',
      EngineName: 's3',
      S3Settings: Match.objectLike({
        DataFormat: 'csv',
        CsvDelimiter: DMS_CSV.delimiter,
        CsvRowDelimiter: DMS_CSV.rowDelimiter,
        CsvNullValue: DMS_CSV.nullValue,
        AddColumnName: true,
        IncludeOpForFullLoad: true,
        TimestampColumnName: DMS_CSV.timestampColumn,
        Rfc4180: true,
        DatePartitionEnabled: false,
        CdcInsertsOnly: false,
        BucketFolder: 'dms',
        EncryptionMode: 'SSE_KMS',
        MaxFileSize: DMS_CSV.maxFileSizeKb,
      }),
    });
    // The loader gets the same NULL token and timestamp column.
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ CSV_NULL_VALUE: DMS_CSV.nullValue, CSV_TIMESTAMP_COLUMN: DMS_CSV.timestampColumn, LANDING_PREFIX: 'dms', MAX_ROWS_PER_TXN: '3000' }) },
    });
  });

  test('S3 events go to an encrypted queue with a DLQ; the loader reports partial batch failures', () => {
    t.hasResourceProperties('AWS::SQS::Queue', {
      KmsMasterKeyId: Match.anyValue(),
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 100 },
      VisibilityTimeout: 3600,
    });
    t.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: { QueueConfigurations: [Match.objectLike({ Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'dms/' }] } } })] },
    });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 1, FunctionResponseTypes: ['ReportBatchItemFailures'], ScalingConfig: { MaximumConcurrency: 5 } });
  });

  test('loader: nodejs22.x on arm64, tracing, retained log group with retention, least-privilege DSQL access', () => {
    t.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      Timeout: 600,
      KmsKeyArn: Match.anyValue(),
    });
    t.hasResource('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 365, KmsKeyId: Match.anyValue() }, DeletionPolicy: 'Retain' });
    const policies = JSON.stringify(t.findResources('AWS::IAM::Policy'));
    expect(policies).toContain('dsql:DbConnect');
    expect(policies).not.toContain('dsql:DbConnectAdmin');
    expect(policies).not.toMatch(/"dsql:\*"|"s3:\*"|"kms:\*"/);
  });

  test('backfill: Distributed Map over the landing prefix with bounded concurrency, logged and traced', () => {
    const sm = Object.values(t.findResources('AWS::StepFunctions::StateMachine'))[0] as any;
    const def = JSON.stringify(sm.Properties.DefinitionString);
    expect(def).toContain('DISTRIBUTED');
    expect(def).toContain('MaxConcurrency\\":10');
    expect(def).toContain(':states:::s3:listObjectsV2');
    expect(def).toContain('DsqlLoaderWaitError');
    // Two passes: LOAD files first (a table's CDC files sort before its LOAD files in a listing and
    // would otherwise fill every slot waiting for them), then every file in listing order.
    const joined = (sm.Properties.DefinitionString['Fn::Join'][1] as unknown[]).map((p) => (typeof p === 'string' ? p : 'TOKEN')).join('');
    const asl = JSON.parse(joined);
    expect(asl.StartAt).toBe('BackfillFullLoadFiles');
    expect(asl.States.BackfillFullLoadFiles).toMatchObject({ Type: 'Map', Next: 'BackfillEveryObject', MaxConcurrency: 10 });
    expect(asl.States.BackfillEveryObject).toMatchObject({ Type: 'Map', End: true, MaxConcurrency: 10 });
    expect(asl.States.BackfillFullLoadFiles.ItemProcessor.States.LoadFullLoadObject.Parameters.phase).toBe('full-load');
    expect(asl.States.BackfillEveryObject.ItemProcessor.States.LoadObject.Parameters.phase).toBe('all');
    expect(sm.Properties.TracingConfiguration).toEqual({ Enabled: true });
    expect(sm.Properties.LoggingConfiguration.Level).toBe('ALL');
  });

  test('alarms: a message in the DLQ, an S3 event older than one hour in the queue, an object the loader skipped, a failed backfill', () => {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 3600, ComparisonOperator: 'GreaterThanThreshold' });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'DbOpsKit/DsqlBridge', MetricName: 'ObjectsSkipped', Dimensions: [{ Name: 'service', Value: 'dsql-loader' }], Threshold: 0 });
    // A failed, timed-out or aborted backfill execution.
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 0,
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'failed + timedOut + aborted' }),
        Match.objectLike({ Id: 'failed', MetricStat: Match.objectLike({ Metric: Match.objectLike({ Namespace: 'AWS/States', MetricName: 'ExecutionsFailed' }) }) }),
        Match.objectLike({ Id: 'timedOut', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'ExecutionsTimedOut' }) }) }),
        Match.objectLike({ Id: 'aborted', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'ExecutionsAborted' }) }) }),
      ]),
    });
    t.resourceCountIs('AWS::CloudWatch::Alarm', 4);
  });

  test('no DMS source or replication unless source details are given', () => {
    t.resourceCountIs('AWS::DMS::ReplicationConfig', 0);
    t.resourceCountIs('AWS::DMS::Endpoint', 1);
  });

  test('with source details: DMS source endpoint (TLS, secret) and DMS Serverless full-load-and-cdc', () => {
    const ts = Template.fromStack(withSource(testApp()));
    ts.hasResourceProperties('AWS::DMS::Endpoint', {
      EndpointType: 'source',
      EngineName: 'postgres',
      ServerName: 'pg.internal',
      Port: 5432,
      SslMode: 'require',
      PostgreSqlSettings: Match.objectLike({ SecretsManagerSecretId: Match.stringLikeRegexp('dms-source') }),
    });
    ts.hasResourceProperties('AWS::DMS::ReplicationConfig', {
      ReplicationType: 'full-load-and-cdc',
      ComputeConfig: Match.objectLike({ MaxCapacityUnits: 16 }),
      ReplicationSettings: { FullLoadSettings: { TargetTablePrepMode: 'DO_NOTHING' }, Logging: { EnableLogging: true } },
      TableMappings: { rules: [Match.objectLike({ 'object-locator': { 'schema-name': 'public', 'table-name': '%' } }), Match.objectLike({ 'object-locator': { 'schema-name': 'sales', 'table-name': '%' } })] },
    });
    ts.hasResourceProperties('AWS::DMS::ReplicationSubnetGroup', { SubnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'] });
  });

  test('source endpoint waits for the secret role policy, not the role it already references (cfn-lint W3005)', () => {
    const ts = Template.fromStack(withSource(testApp()));
    const [endpoint] = Object.values(ts.findResources('AWS::DMS::Endpoint', { Properties: { EndpointType: 'source' } })) as any[];
    const roleArn = endpoint.Properties.PostgreSqlSettings.SecretsManagerAccessRoleArn['Fn::GetAtt'][0];
    const policies = ts.findResources('AWS::IAM::Policy');
    const rolePolicy = Object.keys(policies).find((id) => policies[id].Properties.Roles.some((r: any) => r.Ref === roleArn));
    expect(rolePolicy).toBeDefined();
    expect(endpoint.DependsOn).toContain(rolePolicy);
    expect(endpoint.DependsOn).not.toContain(roleArn);
  });

  test('snapshot', () => {
    expect(t.toJSON()).toMatchSnapshot();
  });

  test('cdk-nag: AwsSolutions and Serverless packs report nothing', () => {
    expect(nagFindings((a) => new DsqlBridgeStack(a, 'DbOpsDsqlBridge', { env: ENV }))).toEqual([]);
    expect(nagFindings((a) => withSource(a))).toEqual([]);
  });
});

describe('DsqlBridge props validation', () => {
  test('every bad prop is reported at once with the construct path', () => {
    const stack = new Stack(testApp(), 'S', { env: ENV });
    expect(() =>
      new DsqlBridge(stack, 'Bridge', {
        landingPrefix: '/dms/',
        databaseRole: 'admin',
        maxRowsPerTransaction: 5000,
        maxBytesPerTransaction: 20 * 1024 * 1024,
        backfillMaxConcurrency: 0,
      }),
    ).toThrow(/S\/Bridge: invalid DsqlBridge props:[\s\S]*landingPrefix[\s\S]*databaseRole must not be "admin"[\s\S]*maxRowsPerTransaction[\s\S]*maxBytesPerTransaction[\s\S]*backfillMaxConcurrency/);
  });

  test('quarantine inside the landing prefix is refused (it would be loaded as DMS data)', () => {
    const stack = new Stack(testApp(), 'S', { env: ENV });
    expect(() => new DsqlBridge(stack, 'B', { landingPrefix: 'dms', quarantinePrefix: 'dms/bad' })).toThrow(/quarantinePrefix must not be inside landingPrefix/);
  });

  test('source validation', () => {
    const stack = new Stack(testApp(), 'S', { env: ENV });
    const vpc = new ec2.Vpc(stack, 'Vpc');
    const secret = new secretsmanager.Secret(stack, 'Secret');
    expect(() => new DsqlBridge(stack, 'B', { source: { serverName: ' ', databaseName: 'app', secret, vpc, port: 70000, schemas: [] } })).toThrow(
      /source.port[\s\S]*serverName[\s\S]*schemas/,
    );
  });
});

describe('bin registration (cdk.json context)', () => {
  test('the app builds DbOpsDsqlBridge from cdk.json-style context', () => {
    const app = testApp({
      context: { 'db-ops-kit:patterns': 'dsqlBridge', 'dsqlBridge:region': 'eu-west-1', 'dsqlBridge:landingPrefix': 'dms', 'dsqlBridge:databaseRole': 'dsql_loader' },
    });
    buildApp(app);
    const stack = app.node.findChild('DbOpsDsqlBridge') as Stack;
    expect(stack.region).toBe('eu-west-1');
  });

  test('dsqlBridge:createDmsAccountRoles creates the DMS account roles with a source, and is ignored without one', () => {
    const source = {
      'dsqlBridge:sourceServerName': 'pg.internal',
      'dsqlBridge:sourceDatabase': 'app',
      'dsqlBridge:sourceSecretArn': 'arn:aws:secretsmanager:us-east-1:123456789012:secret:dms-source-AbCdEf',
      'dsqlBridge:sourceVpcId': 'vpc-0123456789abcdef0',
      'dsqlBridge:sourceVpcCidr': '10.0.0.0/16',
      'dsqlBridge:sourceAvailabilityZones': ['us-east-1a', 'us-east-1b'],
      'dsqlBridge:sourceSubnetIds': ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
    };
    const base = { 'db-ops-kit:patterns': 'dsqlBridge', 'dsqlBridge:region': 'us-east-1', 'dsqlBridge:landingPrefix': 'dms', 'dsqlBridge:databaseRole': 'dsql_loader', 'dsqlBridge:createDmsAccountRoles': true };
    const roleNames = (context: Record<string, unknown>) => {
      const app = new App({ context });
      buildApp(app);
      const t = Template.fromStack(app.node.findChild('DbOpsDsqlBridge') as Stack);
      return Object.values(t.findResources('AWS::IAM::Role')).map((r: any) => r.Properties.RoleName).filter(Boolean).sort();
    };
    expect(roleNames({ ...base, ...source })).toEqual(['dms-cloudwatch-logs-role', 'dms-vpc-role']);
    expect(roleNames(base)).toEqual([]);
  });

  test('bad context names each bad key', () => {
    const app = testApp({ context: { 'db-ops-kit:patterns': 'dsqlBridge', 'dsqlBridge:region': 'moon-1', 'dsqlBridge:databaseRole': 'Bad Role', 'dsqlBridge:landingPrefix': 'dms' } });
    expect(() => buildApp(app)).toThrow(/dsqlBridge:region[\s\S]*dsqlBridge:databaseRole/);
  });
});
