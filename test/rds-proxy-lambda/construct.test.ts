import { Duration, RemovalPolicy, Stack, aws_ec2 as ec2, aws_kms as kms, aws_rds as rds, aws_secretsmanager as sm } from 'aws-cdk-lib';
import { testApp } from '../helpers/app';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { RdsProxyLambda, RdsProxyLambdaProps } from '../../lib/rds-proxy-lambda/rds-proxy-lambda';
import { RdsProxyLambdaStack } from '../../lib/rds-proxy-lambda/stack';
import { nagFindings } from '../helpers/nag';

const env = { account: '123456789012', region: 'us-east-1' };
const azs = ['us-east-1a', 'us-east-1b'];

function synth(pattern: RdsProxyLambdaProps = {}, app = testApp()): { stack: RdsProxyLambdaStack; t: Template } {
  const stack = new RdsProxyLambdaStack(app, 'DbOpsRdsProxyLambda', { env, pattern: { availabilityZones: azs, ...pattern } });
  return { stack, t: Template.fromStack(stack) };
}

function resourcesOf(t: Template, type: string): Record<string, any> {
  return t.findResources(type);
}

describe('DbOpsRdsProxyLambda (default: IAM mode)', () => {
  const { stack, t } = synth();
  const idOf = (c: any) => stack.getLogicalId(c.node.defaultChild);

  test('Aurora PostgreSQL: CMK storage encryption, IAM auth, deletion protection, kept on delete, backups, logs', () => {
    t.hasResource('AWS::RDS::DBCluster', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        Engine: 'aurora-postgresql',
        StorageEncrypted: true,
        KmsKeyId: { 'Fn::GetAtt': [idOf(stack.pattern.encryptionKey), 'Arn'] },
        EnableIAMDatabaseAuthentication: true,
        DeletionProtection: true,
        BackupRetentionPeriod: 7,
        EnableCloudwatchLogsExports: ['postgresql'],
        ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 },
        PerformanceInsightsEnabled: true,
        PerformanceInsightsKmsKeyId: { 'Fn::GetAtt': [idOf(stack.pattern.encryptionKey), 'Arn'] },
      }),
    });
    t.hasResourceProperties('AWS::RDS::DBClusterParameterGroup', { Parameters: Match.objectLike({ 'rds.force_ssl': '1' }) });
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    t.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain' });
    t.hasResourceProperties('AWS::RDS::DBInstance', { DBInstanceClass: 'db.serverless', PubliclyAccessible: false });
  });

  test('RDS Proxy: TLS required, IAM auth required, logs in with the application secret (not the master secret)', () => {
    const proxies = Object.values(resourcesOf(t, 'AWS::RDS::DBProxy'));
    expect(proxies).toHaveLength(1);
    const p = proxies[0].Properties;
    expect(p.RequireTLS).toBe(true);
    expect(p.Auth).toEqual([{ AuthScheme: 'SECRETS', IAMAuth: 'REQUIRED', SecretArn: { Ref: idOf(stack.pattern.appSecret) } }]);
    expect(JSON.stringify(p.Auth)).not.toContain(idOf(stack.pattern.masterSecret));
    t.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', {
      ConnectionPoolConfigurationInfo: { ConnectionBorrowTimeout: 3, MaxConnectionsPercent: 90, MaxIdleConnectionsPercent: 50 },
    });
    // The proxy waits for the application role to exist in the database.
    const proxyRes = t.findResources('AWS::RDS::DBProxy');
    expect(Object.values(proxyRes)[0].DependsOn).toEqual(expect.arrayContaining([Object.keys(t.findResources('Custom::DbOpsAppRole'))[0]]));
  });

  test('both secrets rotate single-user every 30 days, KMS-encrypted', () => {
    const schedules = Object.values(resourcesOf(t, 'AWS::SecretsManager::RotationSchedule'));
    expect(schedules).toHaveLength(2);
    for (const s of schedules) expect(s.Properties.RotationRules).toEqual({ ScheduleExpression: 'rate(30 days)' });
    const apps = Object.values(resourcesOf(t, 'AWS::Serverless::Application'));
    expect(apps).toHaveLength(2);
    const mappings = t.toJSON().Mappings;
    for (const a of apps) {
      const mapping = a.Properties.Location.ApplicationId['Fn::FindInMap'][0];
      expect(mappings[mapping].aws.applicationId).toMatch(/SecretsManagerRDSPostgreSQLRotationSingleUser$/);
    }
    for (const s of Object.values(resourcesOf(t, 'AWS::SecretsManager::Secret'))) {
      expect(s.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [idOf(stack.pattern.encryptionKey), 'Arn'] });
    }
    // Neither rotation starts before the bootstrap has created the application role with the master password.
    const bootstrapId = Object.keys(t.findResources('Custom::DbOpsAppRole'))[0];
    for (const s of schedules) expect(s.DependsOn).toEqual(expect.arrayContaining([bootstrapId]));
  });

  test('rotation functions reach the cluster on 5432 and Secrets Manager on 443, nothing else', () => {
    const sgs = resourcesOf(t, 'AWS::EC2::SecurityGroup');
    const rotationSg = Object.keys(sgs).find((k) => k.includes('RotationSecurityGroup'))!;
    expect(JSON.stringify(sgs[rotationSg].Properties.SecurityGroupEgress ?? [])).not.toContain('0.0.0.0/0');
    const egress = Object.values(resourcesOf(t, 'AWS::EC2::SecurityGroupEgress'))
      .map((r) => r.Properties)
      .filter((e) => e.GroupId['Fn::GetAtt'][0] === rotationSg);
    const targets = egress.map((e) => `${e.DestinationSecurityGroupId['Fn::GetAtt'][0].includes('Endpoint') ? 'endpoint' : 'cluster'}:${JSON.stringify(e.FromPort)}`).sort();
    expect(targets).toEqual(['cluster:{"Fn::GetAtt":["RdsProxyLambdaClusterB76D7951","Endpoint.Port"]}', 'endpoint:443']);
    // The endpoint admits exactly the functions that call Secrets Manager (bootstrap + rotation in IAM mode).
    const endpointSg = Object.keys(sgs).find((k) => k.includes('EndpointSecurityGroup'))!;
    const sources = Object.values(resourcesOf(t, 'AWS::EC2::SecurityGroupIngress'))
      .map((r) => r.Properties)
      .filter((i) => i.GroupId['Fn::GetAtt'][0] === endpointSg)
      .map((i) => i.SourceSecurityGroupId['Fn::GetAtt'][0].replace(/^RdsProxyLambda(\w+?)SecurityGroup.*$/, '$1'))
      .sort();
    expect(sources).toEqual(['Bootstrap', 'Rotation']);
  });

  test('deploy-time bootstrap creates the application role; its properties carry only ARNs and the database name', () => {
    const crs = Object.values(resourcesOf(t, 'Custom::DbOpsAppRole'));
    expect(crs).toHaveLength(1);
    const props = crs[0].Properties;
    expect(Object.keys(props).sort()).toEqual(['AppSecretArn', 'DatabaseName', 'IdleInTransactionTimeoutMs', 'MasterSecretArn', 'ServiceToken', 'StatementTimeoutMs']);
    expect(props).toMatchObject({ StatementTimeoutMs: '4500', IdleInTransactionTimeoutMs: '4500' });
    expect(JSON.stringify(props)).not.toMatch(/password/i);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.onEvent',
      Environment: { Variables: Match.objectLike({ NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem' }) },
    });
  });

  test('query Lambda: nodejs22.x arm64 in the VPC, IAM mode env, rds-db:connect scoped to the proxy and the app user', () => {
    t.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Timeout: 15,
      TracingConfig: { Mode: 'Active' },
      VpcConfig: Match.objectLike({ SecurityGroupIds: [{ 'Fn::GetAtt': [idOf(stack.pattern.functionSecurityGroup), 'GroupId'] }] }),
      Environment: {
        Variables: Match.objectLike({ DB_USER: 'app_user', DB_NAME: 'appdb', CREDENTIAL_MODE: 'iam', DB_PORT: '5432', CONNECT_TIMEOUT_MS: '4000', QUERY_TIMEOUT_MS: '8500', SECRET_TIMEOUT_MS: '1500', BORROW_TIMEOUT_MS: '3000' }),
      },
    });
    const fn = Object.values(resourcesOf(t, 'AWS::Lambda::Function')).find((f) => f.Properties.Handler === 'index.handler')!;
    expect(fn.Properties.Environment.Variables.SECRET_ARN).toBeUndefined();
    const policies = JSON.stringify(resourcesOf(t, 'AWS::IAM::Policy'));
    expect(policies).toContain('rds-db:connect');
    const connect = Object.values(resourcesOf(t, 'AWS::IAM::Policy'))
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .find((s: any) => s.Action === 'rds-db:connect');
    expect(JSON.stringify(connect.Resource)).toContain('/app_user');
    expect(JSON.stringify(connect.Resource)).toContain(JSON.stringify({ 'Fn::GetAtt': [idOf(stack.pattern.proxy), 'DBProxyArn'] }));
  });

  test('security groups chain Lambda → proxy → cluster on 5432 only; nothing else reaches the cluster', () => {
    const fnSg = idOf(stack.pattern.functionSecurityGroup);
    const proxySg = idOf(stack.pattern.proxySecurityGroup);
    const egress = Object.values(resourcesOf(t, 'AWS::EC2::SecurityGroupEgress')).map((r) => r.Properties);
    const fnEgress = egress.filter((e) => e.GroupId['Fn::GetAtt'][0] === fnSg);
    expect(fnEgress).toEqual([
      expect.objectContaining({ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, DestinationSecurityGroupId: { 'Fn::GetAtt': [proxySg, 'GroupId'] } }),
    ]);
    const sgs = resourcesOf(t, 'AWS::EC2::SecurityGroup');
    expect(sgs[fnSg].Properties.SecurityGroupEgress).toBeUndefined();
    const ingress = Object.values(resourcesOf(t, 'AWS::EC2::SecurityGroupIngress')).map((r) => r.Properties);
    const toProxy = ingress.filter((i) => i.GroupId['Fn::GetAtt'][0] === proxySg);
    expect(toProxy.map((i) => i.SourceSecurityGroupId)).toEqual([{ 'Fn::GetAtt': [fnSg, 'GroupId'] }]);
    const clusterSg = Object.keys(sgs).find((k) => k.includes('ClusterSecurityGroup'))!;
    const sources = ingress.filter((i) => i.GroupId['Fn::GetAtt'][0] === clusterSg).map((i) => i.SourceSecurityGroupId['Fn::GetAtt'][0]);
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) expect(src).toMatch(/Proxy|Bootstrap|Rotation/);
    for (const i of ingress) expect(i.CidrIp).toBeUndefined();
  });

  test('no NAT gateway or internet gateway; Secrets Manager interface endpoint with private DNS; flow logs', () => {
    t.resourceCountIs('AWS::EC2::NatGateway', 0);
    t.resourceCountIs('AWS::EC2::InternetGateway', 0);
    t.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Interface',
      PrivateDnsEnabled: true,
      ServiceName: 'com.amazonaws.us-east-1.secretsmanager',
    });
    t.resourceCountIs('AWS::EC2::FlowLog', 1);
  });

  test('log groups, including the one RDS exports PostgreSQL logs into, have retention and the CMK', () => {
    const groups = Object.values(resourcesOf(t, 'AWS::Logs::LogGroup'));
    expect(groups.length).toBeGreaterThanOrEqual(5);
    const cluster = Object.values(resourcesOf(t, 'AWS::RDS::DBCluster'))[0];
    const pgLogs = Object.entries(resourcesOf(t, 'AWS::Logs::LogGroup')).find(([, g]) => JSON.stringify(g.Properties.LogGroupName ?? '').includes('/postgresql'))!;
    // The same per-deployment identifier expression, between RDS's fixed prefix and suffix.
    const [prefix, id] = cluster.Properties.DBClusterIdentifier['Fn::Join'][1];
    expect(pgLogs[1].Properties.LogGroupName).toEqual({ 'Fn::Join': ['', [`/aws/rds/cluster/${prefix}`, id, '/postgresql']] });
    expect(cluster.DependsOn).toEqual(expect.arrayContaining([pgLogs[0]]));
    t.resourceCountIs('Custom::LogRetention', 0);
    for (const g of groups) {
      expect(g.Properties.RetentionInDays).toBe(365);
      expect(g.Properties.KmsKeyId).toBeDefined();
    }
  });

  test('alarms an operator wants, all notifying the encrypted topic', () => {
    const alarms = Object.values(resourcesOf(t, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    // Every alarm (the full list and thresholds are in alarms.test.ts) notifies the topic.
    expect(alarms.length).toBe(15);
    const topic = idOf(stack.pattern.alarmTopic);
    for (const a of alarms) expect(a.AlarmActions).toEqual([{ Ref: topic }]);
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Duration', Threshold: 12000 });
  });

  test('snapshot', () => {
    expect(t.toJSON()).toMatchSnapshot();
  });
});

describe('lifecycle: kept cluster, per-deployment identifier, upgrades', () => {
  const kept = (t: Template) =>
    Object.entries(t.toJSON().Resources as Record<string, any>)
      .filter(([, r]) => r.DeletionPolicy === 'Retain')
      .map(([, r]) => r.Type)
      .sort();
  const stackUuidHead = { 'Fn::Select': [0, { 'Fn::Split': ['-', { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] }] }] };

  test('the default identifier is `<path prefix>-<first group of the stack ID UUID>`, and the log group follows it', () => {
    const { t } = synth();
    const cluster = Object.values(t.findResources('AWS::RDS::DBCluster'))[0];
    // The prefix is the identifier earlier kit versions used for this construct path (see the pinned test below).
    expect(cluster.Properties.DBClusterIdentifier).toEqual({ 'Fn::Join': ['', ['dbopsrdsproxylambda-2141dd5f-', stackUuidHead]] });
    t.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: { 'Fn::Join': ['', ['/aws/rds/cluster/dbopsrdsproxylambda-2141dd5f-', stackUuidHead, '/postgresql']] } });
  });

  test('a deep construct path still gives a valid identifier (prefix ≤ 50 characters, letter first, no double hyphen)', () => {
    const app = testApp();
    const stack = new Stack(app, 'Deep'.repeat(30), { env });
    new RdsProxyLambda(stack, 'Some-Very--Long-Construct-Id-That-Goes-On', { availabilityZones: azs });
    const cluster = Object.values(Template.fromStack(stack).findResources('AWS::RDS::DBCluster'))[0];
    const prefix: string = cluster.Properties.DBClusterIdentifier['Fn::Join'][1][0];
    expect(prefix.length).toBeLessThanOrEqual(51);
    // The stack ID part is 8 lower-case hex digits: the whole identifier fits 63 characters and the RDS pattern.
    expect(`${prefix}1c2fa620`).toMatch(/^[a-z][a-z0-9-]{0,62}$/);
    expect(`${prefix}1c2fa620`).not.toContain('--');
  });

  test('upgrade pin: clusterProps.clusterIdentifier set to the old default reproduces the identifier and log group name of earlier kit versions', () => {
    // Values of the committed snapshot before the per-deployment default (DBClusterIdentifier is a replacement
    // property: anything else would replace the deployed cluster).
    const { t } = synth({ clusterProps: { clusterIdentifier: 'dbopsrdsproxylambda-2141dd5f' } });
    const cluster = Object.values(t.findResources('AWS::RDS::DBCluster'))[0];
    expect(cluster.Properties.DBClusterIdentifier).toBe('dbopsrdsproxylambda-2141dd5f');
    t.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/rds/cluster/dbopsrdsproxylambda-2141dd5f/postgresql' });
    // Deletion protection stays on: an upgraded cluster is never unprotected.
    expect(cluster.Properties.DeletionProtection).toBe(true);
  });

  test('RETAIN (default): the cluster keeps its instances, subnet group, VPC, subnets, security group, parameter group, master secret, monitoring role and key', () => {
    const { stack, t } = synth();
    expect(kept(t)).toEqual(
      [
        'AWS::EC2::SecurityGroup',
        'AWS::EC2::Subnet',
        'AWS::EC2::Subnet',
        'AWS::EC2::VPC',
        'AWS::IAM::Role',
        'AWS::KMS::Key',
        'AWS::Logs::LogGroup',
        'AWS::Logs::LogGroup',
        'AWS::Logs::LogGroup',
        'AWS::Logs::LogGroup',
        'AWS::Logs::LogGroup',
        'AWS::RDS::DBCluster',
        'AWS::RDS::DBClusterParameterGroup',
        'AWS::RDS::DBInstance',
        'AWS::RDS::DBSubnetGroup',
        'AWS::SecretsManager::Secret',
        'Custom::VpcRestrictDefaultSG', // its Delete would re-open the kept VPC's default security group
      ].sort(),
    );
    // The kept secret is the master secret (the cluster's password), not the application secret.
    const secrets = t.findResources('AWS::SecretsManager::Secret');
    const keptSecret = Object.keys(secrets).filter((k) => secrets[k].DeletionPolicy === 'Retain');
    expect(keptSecret).not.toContain(stack.getLogicalId(stack.pattern.appSecret.node.defaultChild as any));
    expect(JSON.stringify(Object.values(t.findResources('AWS::RDS::DBCluster'))[0].Properties.MasterUserPassword)).toContain(keptSecret[0]);
  });

  test('SNAPSHOT with deletion protection off: CloudFormation snapshots and deletes the cluster, and deletes what only it needed', () => {
    const { t } = synth({ clusterProps: { removalPolicy: RemovalPolicy.SNAPSHOT, deletionProtection: false } });
    t.hasResource('AWS::RDS::DBCluster', { DeletionPolicy: 'Snapshot', Properties: Match.objectLike({ DeletionProtection: false }) });
    // Only the key and the log groups (audit) stay.
    expect(kept(t)).toEqual(['AWS::KMS::Key', ...new Array(5).fill('AWS::Logs::LogGroup')]);
  });

  test('an existing VPC is never given a removal policy (it is not the stack\'s)', () => {
    const app = testApp();
    const s = new Stack(app, 'ByoVpc', { env });
    const vpc = ec2.Vpc.fromVpcAttributes(s, 'V', { vpcId: 'vpc-0123456789abcdef1', availabilityZones: azs, isolatedSubnetIds: ['subnet-1', 'subnet-2'], vpcCidrBlock: '10.1.0.0/16' });
    new RdsProxyLambda(s, 'P', { existingVpc: vpc });
    const t = Template.fromStack(s);
    t.resourceCountIs('AWS::EC2::VPC', 0);
    t.hasResource('AWS::RDS::DBSubnetGroup', { DeletionPolicy: 'Retain' });
  });

  test('bad props fail synth naming the construct path (the rules are in validation.test.ts)', () => {
    const s = new Stack(testApp(), 'S', { env });
    expect(() => new RdsProxyLambda(s, 'Pattern', { availabilityZones: azs, clusterProps: { removalPolicy: RemovalPolicy.SNAPSHOT } })).toThrow(
      /^\[S\/Pattern\] invalid RdsProxyLambda props:\n  - clusterProps.removalPolicy snapshot with deletion protection on/,
    );
  });
});

describe('secret mode and bring-your-own resources', () => {
  test('secret mode: proxy IAM auth disabled, function reads the app secret through the endpoint', () => {
    const { stack, t } = synth({ credentialMode: 'secret' });
    t.hasResourceProperties('AWS::RDS::DBProxy', { Auth: [Match.objectLike({ IAMAuth: 'DISABLED' })], RequireTLS: true });
    const fn = Object.values(t.findResources('AWS::Lambda::Function')).find((f) => f.Properties.Handler === 'index.handler')!;
    expect(fn.Properties.Environment.Variables).toMatchObject({ CREDENTIAL_MODE: 'secret', SECRET_ARN: { Ref: stack.getLogicalId(stack.pattern.appSecret.node.defaultChild as any) } });
    expect(JSON.stringify(t.findResources('AWS::IAM::Policy'))).not.toContain('rds-db:connect');
    const fnSg = stack.getLogicalId(stack.pattern.functionSecurityGroup.node.defaultChild as any);
    const egress = Object.values(t.findResources('AWS::EC2::SecurityGroupEgress')).map((r) => r.Properties).filter((e) => e.GroupId['Fn::GetAtt'][0] === fnSg);
    expect(egress.map((e) => e.FromPort).sort()).toEqual([443, 5432]);
  });

  test('existing VPC and cluster: no new VPC or cluster, proxy in front of the given cluster', () => {
    const app = testApp();
    const stack2 = new Stack(app, 'Byo2', { env });
    const sg = ec2.SecurityGroup.fromSecurityGroupId(stack2, 'Sg', 'sg-0123456789abcdef0');
    const cluster = rds.DatabaseCluster.fromDatabaseClusterAttributes(stack2, 'C', {
      clusterIdentifier: 'existing-cluster',
      clusterEndpointAddress: 'existing-cluster.cluster-abc.us-east-1.rds.amazonaws.com',
      port: 5432,
      securityGroups: [sg],
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_13 }),
    });
    const master = sm.Secret.fromSecretCompleteArn(stack2, 'M', 'arn:aws:secretsmanager:us-east-1:123456789012:secret:master-AbCdEf');
    const vpc2 = ec2.Vpc.fromVpcAttributes(stack2, 'V', { vpcId: 'vpc-0123456789abcdef1', availabilityZones: azs, isolatedSubnetIds: ['subnet-1', 'subnet-2'], vpcCidrBlock: '10.1.0.0/16' });
    new RdsProxyLambda(stack2, 'P', { existingVpc: vpc2, existingCluster: cluster, existingMasterSecret: master, existingDatabaseName: 'orders' });
    const t = Template.fromStack(stack2);
    t.resourceCountIs('AWS::EC2::VPC', 0);
    t.resourceCountIs('AWS::RDS::DBCluster', 0);
    t.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', { DBClusterIdentifiers: ['existing-cluster'] });
    t.hasResourceProperties('Custom::DbOpsAppRole', { DatabaseName: 'orders', MasterSecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:master-AbCdEf' });
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { GroupId: 'sg-0123456789abcdef0', FromPort: 5432 });
  });

  test('an existing VPC without isolated subnets uses its private subnets with egress', () => {
    const app = testApp();
    const stack = new Stack(app, 'Egress', { env });
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'V', {
      vpcId: 'vpc-0123456789abcdef1',
      vpcCidrBlock: '10.1.0.0/16',
      availabilityZones: azs,
      privateSubnetIds: ['subnet-p1', 'subnet-p2'],
    });
    new RdsProxyLambda(stack, 'P', { existingVpc: vpc });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::RDS::DBSubnetGroup', { SubnetIds: ['subnet-p1', 'subnet-p2'] });
    t.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.handler', VpcConfig: Match.objectLike({ SubnetIds: ['subnet-p1', 'subnet-p2'] }) });
  });

  test('an imported key gets a synth warning that its policy must allow CloudWatch Logs and alarms', () => {
    const app = testApp();
    const stack = new Stack(app, 'Imported', { env });
    const key = kms.Key.fromKeyArn(stack, 'K', 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555');
    new RdsProxyLambda(stack, 'P', { availabilityZones: azs, encryptionKey: key });
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('encryptionKey is imported'));
    expect(warnings.map((w: any) => w.entry.data)).toEqual([
      expect.stringContaining('logs.us-east-1.amazonaws.com'),
      expect.stringContaining('cloudwatch.amazonaws.com'),
    ]);
  });

  test('custom proxy pool settings reach the target group', () => {
    const { t } = synth({ functionTimeout: Duration.seconds(30), borrowTimeout: Duration.seconds(10), maxConnectionsPercent: 50, maxIdleConnectionsPercent: 10 });
    t.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', {
      ConnectionPoolConfigurationInfo: { ConnectionBorrowTimeout: 10, MaxConnectionsPercent: 50, MaxIdleConnectionsPercent: 10 },
    });
  });
});

test('cdk-nag AwsSolutions + Serverless: no unacknowledged findings (IAM and secret modes)', () => {
  expect(
    nagFindings((app) => {
      new RdsProxyLambdaStack(app, 'Iam', { env, pattern: { availabilityZones: azs } });
      new RdsProxyLambdaStack(app, 'Secret', { env, pattern: { availabilityZones: azs, credentialMode: 'secret' } });
    }),
  ).toEqual([]);
});

test('a custom rotationInterval reaches BOTH rotation schedules (master and application secret)', () => {
  const { stack, t } = synth({ rotationInterval: Duration.days(7) });
  const schedules = t.findResources('AWS::SecretsManager::RotationSchedule');
  const bySecret = Object.fromEntries(Object.values(schedules).map((s: any) => [s.Properties.SecretId.Ref, s.Properties.RotationRules]));
  const id = (c: any) => stack.getLogicalId(c.node.defaultChild);
  expect(bySecret).toEqual({
    [id(stack.pattern.appSecret)]: { ScheduleExpression: 'rate(7 days)' },
    [id(stack.pattern.masterSecret)]: { ScheduleExpression: 'rate(7 days)' },
  });
});
