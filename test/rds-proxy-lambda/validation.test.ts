/**
 * Prop validation of RdsProxyLambda (lib/rds-proxy-lambda/validation.ts) as pure functions: no stack is
 * synthesized, so these run in milliseconds and mutation testing can include validation.ts cheaply. That the
 * construct calls it (and names its path) is tested once in construct.test.ts.
 */
import * as os from 'os';
import { Duration, RemovalPolicy, Token, aws_ec2 as ec2, aws_rds as rds, aws_secretsmanager as sm } from 'aws-cdk-lib';
import type { RdsProxyLambdaProps } from '../../lib/rds-proxy-lambda/rds-proxy-lambda';
import { budgetInput, isClusterIdentifier, lifecycleProblems, propProblems, validateProps } from '../../lib/rds-proxy-lambda/validation';

// Stand-ins for the interfaces validation reads (no construct, no stack): only the fields it looks at.
const cluster = {} as rds.IDatabaseCluster;
const secret = {} as sm.ISecret;
const vpc = (isolated: number, priv: number) => ({ isolatedSubnets: new Array(isolated).fill({}), privateSubnets: new Array(priv).fill({}) }) as unknown as ec2.IVpc;
const endpoint = {} as ec2.IInterfaceVpcEndpoint;

const problems = (props: RdsProxyLambdaProps) => propProblems(props);
const one = (props: RdsProxyLambdaProps) => {
  const p = problems(props);
  expect(p).toHaveLength(1);
  return p[0];
};

test('the defaults are valid', () => {
  expect(problems({})).toEqual([]);
  expect(problems({ availabilityZones: ['a', 'b'], clusterProps: {} })).toEqual([]);
});

describe('bring-your-own pairs', () => {
  test('existingCluster together with clusterProps', () => {
    expect(one({ existingCluster: cluster, existingMasterSecret: secret, clusterProps: {} })).toMatch(/either existingCluster or clusterProps, not both/);
  });
  test('existingCluster without its master secret', () => {
    expect(one({ existingCluster: cluster })).toMatch(/existingCluster needs existingMasterSecret/);
    expect(problems({ existingCluster: cluster, existingMasterSecret: secret, existingDatabaseName: 'orders' })).toEqual([]);
  });
  test('existingMasterSecret or existingDatabaseName without existingCluster', () => {
    expect(one({ existingMasterSecret: secret })).toMatch(/apply only with existingCluster/);
    expect(one({ existingDatabaseName: 'orders' })).toMatch(/apply only with existingCluster/);
  });
  test('secretsManagerEndpoint without existingVpc', () => {
    expect(one({ secretsManagerEndpoint: endpoint })).toMatch(/secretsManagerEndpoint applies only with existingVpc/);
    expect(problems({ existingVpc: vpc(2, 0), secretsManagerEndpoint: endpoint })).toEqual([]);
  });
  test('an existing VPC with only public subnets, unless vpcSubnets is given', () => {
    expect(one({ existingVpc: vpc(0, 0) })).toMatch(/no private subnets/);
    expect(problems({ existingVpc: vpc(0, 0), vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC } })).toEqual([]);
    expect(problems({ existingVpc: vpc(0, 2) })).toEqual([]);
    expect(problems({ existingVpc: vpc(2, 0) })).toEqual([]);
  });
  test('VPC settings with an existing VPC', () => {
    expect(one({ existingVpc: vpc(2, 0), vpcCidr: '10.0.0.0/16' })).toMatch(/do not pass them with existingVpc/);
    expect(one({ existingVpc: vpc(2, 0), availabilityZones: ['a', 'b'] })).toMatch(/do not pass them with existingVpc/);
  });
});

describe('network', () => {
  test('VPC CIDR prefix /16 to /24 only', () => {
    expect(one({ vpcCidr: '10.0.0.0/8' })).toMatch(/vpcCidr "10.0.0.0\/8"/);
    expect(one({ vpcCidr: '10.0.0.0/25' })).toMatch(/vpcCidr/);
    expect(one({ vpcCidr: 'ten' })).toMatch(/vpcCidr/);
    for (const ok of ['10.0.0.0/16', '10.0.0.0/24', '192.168.0.0/20']) expect(problems({ vpcCidr: ok })).toEqual([]);
    expect(problems({ vpcCidr: Token.asString({ Ref: 'Cidr' }) })).toEqual([]);
  });
  test('at least two AZs', () => {
    expect(one({ availabilityZones: ['us-east-1a'] })).toMatch(/at least two zones/);
  });
});

describe('cluster', () => {
  test('readers without a writer', () => {
    expect(one({ clusterProps: { instances: { readers: [rds.ClusterInstance.serverlessV2('r1')] } } })).toMatch(/readers but no writer/);
    expect(problems({ clusterProps: { instances: { readers: [] } } })).toEqual([]);
  });
  test('serverless capacity on the 0.5 ACU grid, 0–256 (min) and 1–256 (max), min ≤ max', () => {
    expect(one({ clusterProps: { serverlessV2MinCapacity: 0.3 } })).toMatch(/serverlessV2MinCapacity 0.3 must be 0–256 in steps of 0.5/);
    expect(one({ clusterProps: { serverlessV2MinCapacity: -0.5 } })).toMatch(/serverlessV2MinCapacity -0.5/);
    expect(one({ clusterProps: { serverlessV2MaxCapacity: 0.5 } })).toMatch(/serverlessV2MaxCapacity 0.5 must be 1–256/);
    expect(problems({ clusterProps: { serverlessV2MaxCapacity: 257 } }).join()).toMatch(/serverlessV2MaxCapacity 257/);
    expect(one({ clusterProps: { serverlessV2MinCapacity: 8, serverlessV2MaxCapacity: 4 } })).toMatch(/above serverlessV2MaxCapacity/);
    expect(problems({ clusterProps: { serverlessV2MinCapacity: 0, serverlessV2MaxCapacity: 256 } })).toEqual([]);
    expect(problems({ clusterProps: { serverlessV2MinCapacity: 4, serverlessV2MaxCapacity: 4 } })).toEqual([]);
  });
  test('database name', () => {
    expect(one({ clusterProps: { databaseName: 'my-db' } })).toMatch(/database name "my-db"/);
    expect(one({ clusterProps: { databaseName: 'a'.repeat(64) } })).toMatch(/database name/);
    expect(problems({ clusterProps: { databaseName: 'Orders_2' } })).toEqual([]);
  });
  test('backup retention 1–35 days', () => {
    expect(one({ clusterProps: { backupRetention: Duration.days(40) } })).toMatch(/backupRetention must be 1–35 whole days \(BackupRetentionPeriod\), got 40 days/);
    expect(one({ clusterProps: { backupRetention: Duration.hours(12) } })).toMatch(/backupRetention must be 1–35 whole days.*got 12 hours/);
    expect(one({ clusterProps: { backupRetention: Duration.hours(36) } })).toMatch(/whole days.*got 1 day 12 hours/);
    expect(problems({ clusterProps: { backupRetention: Duration.days(35) } })).toEqual([]);
  });
  test('Enhanced Monitoring intervals RDS accepts', () => {
    expect(one({ clusterProps: { monitoringInterval: Duration.seconds(20) } })).toMatch(/monitoringInterval must be 0, 1, 5, 10, 15, 30 or 60 seconds, got 20/);
    for (const s of [0, 1, 5, 10, 15, 30, 60]) expect(problems({ clusterProps: { monitoringInterval: Duration.seconds(s) } })).toEqual([]);
  });
  test('master user and application user must differ', () => {
    expect(one({ clusterProps: { masterUsername: 'app_user' } })).toMatch(/masterUsername and appUsername must differ \(both "app_user"\)/);
    expect(one({ appUsername: 'svc', clusterProps: { masterUsername: 'svc' } })).toMatch(/both "svc"/);
  });
  test('cluster identifier', () => {
    for (const bad of ['Bad--Name', 'bad--name', '1abc', 'abc-', 'a'.repeat(64), 'has_underscore']) {
      expect(isClusterIdentifier(bad)).toBe(false);
      expect(one({ clusterProps: { clusterIdentifier: bad } })).toMatch(/clusterProps.clusterIdentifier/);
    }
    for (const ok of ['a', 'dbopsrdsproxylambda-2141dd5f', 'a'.repeat(63)]) expect(isClusterIdentifier(ok)).toBe(true);
    expect(problems({ clusterProps: { clusterIdentifier: Token.asString({ Ref: 'Id' }) } })).toEqual([]);
  });
});

describe('lifecycle: deletion protection only with RETAIN', () => {
  test('the defaults (RETAIN + protection) and RETAIN with or without protection are fine', () => {
    expect(lifecycleProblems(undefined)).toEqual([]);
    expect(lifecycleProblems({ removalPolicy: RemovalPolicy.RETAIN, deletionProtection: true })).toEqual([]);
    expect(lifecycleProblems({ removalPolicy: RemovalPolicy.RETAIN, deletionProtection: false })).toEqual([]);
  });
  test('SNAPSHOT or DESTROY with protection on (default or explicit) fails: ROLLBACK_FAILED / DELETE_FAILED', () => {
    expect(one({ clusterProps: { removalPolicy: RemovalPolicy.SNAPSHOT } })).toMatch(/removalPolicy snapshot with deletion protection on \(the default\).*ROLLBACK_FAILED.*DELETE_FAILED/);
    expect(one({ clusterProps: { removalPolicy: RemovalPolicy.DESTROY, deletionProtection: true } })).toMatch(/removalPolicy destroy with deletion protection on:/);
    expect(problems({ clusterProps: { removalPolicy: RemovalPolicy.SNAPSHOT, deletionProtection: false } })).toEqual([]);
    expect(problems({ clusterProps: { removalPolicy: RemovalPolicy.DESTROY, deletionProtection: false } })).toEqual([]);
  });
});

describe('credentials, pool and function', () => {
  test('application user: lower-case identifier, not an admin name', () => {
    expect(one({ appUsername: 'App-User' })).toMatch(/appUsername "App-User"/);
    for (const admin of ['postgres', 'rdsadmin', 'admin']) expect(one({ appUsername: admin })).toMatch(new RegExp(`appUsername "${admin}"`));
    expect(problems({ appUsername: 'orders_reader' })).toEqual([]);
  });
  test('credential mode iam or secret', () => {
    expect(one({ credentialMode: 'password' as any })).toMatch(/credentialMode must be "iam" or "secret", got "password"/);
    expect(problems({ credentialMode: 'secret' })).toEqual([]);
  });
  test('borrow timeout 1–3600 s (RDS Proxy ConnectionBorrowTimeout)', () => {
    expect(problems({ borrowTimeout: Duration.seconds(3601) }).join()).toMatch(/borrowTimeout must be 1–3600 seconds \(RDS Proxy ConnectionBorrowTimeout\), got 3601/);
    expect(problems({ borrowTimeout: Duration.seconds(0) }).join()).toMatch(/borrowTimeout must be 1–3600 seconds \(RDS Proxy ConnectionBorrowTimeout\), got 0/);
  });
  test('timeouts that leave no room for connect + query inside the function timeout (budget.ts)', () => {
    expect(problems({ borrowTimeout: Duration.seconds(20), functionTimeout: Duration.seconds(20) }).join()).toMatch(/functionTimeout \(20 s\) is too short for borrowTimeout 20 s/);
    expect(problems({ statementTimeout: Duration.seconds(30) }).join()).toMatch(/functionTimeout \(15 s\) is too short for borrowTimeout 3 s and statementTimeout 30000 ms/);
    expect(problems({ idleInTransactionSessionTimeout: Duration.seconds(9) }).join()).toMatch(/idleInTransactionSessionTimeout \(9000 ms\) must be below the client query timeout \(8500 ms\)/);
    // An out-of-range borrow or function timeout is reported once, not again as a budget problem.
    expect(problems({ borrowTimeout: Duration.seconds(5000) })).toHaveLength(1);
    expect(problems({ functionTimeout: Duration.minutes(20) })).toEqual(['functionTimeout must be 1–900 seconds, got 1200']);
  });
  test('statement and idle-in-transaction timeouts 100 ms to 1 hour', () => {
    expect(problems({ statementTimeout: Duration.millis(50) }).join()).toMatch(/statementTimeout must be 100 ms to 1 hour/);
    expect(problems({ idleInTransactionSessionTimeout: Duration.hours(2) }).join()).toMatch(/idleInTransactionSessionTimeout must be 100 ms to 1 hour/);
  });
  test('idle client timeout 1 s – 8 h', () => {
    expect(one({ idleClientTimeout: Duration.hours(9) })).toMatch(/idleClientTimeout must be 1 second to 8 hours, got 32400 s/);
    expect(problems({ idleClientTimeout: Duration.hours(8) })).toEqual([]);
  });
  test('connection percentages', () => {
    expect(one({ maxConnectionsPercent: 0 })).toMatch(/maxConnectionsPercent must be an integer 1–100, got 0/);
    expect(one({ maxConnectionsPercent: 50.5 })).toMatch(/maxConnectionsPercent/);
    expect(one({ maxConnectionsPercent: 40, maxIdleConnectionsPercent: 60 })).toMatch(/maxIdleConnectionsPercent must be an integer 0–maxConnectionsPercent \(40\), got 60/);
    expect(one({ maxIdleConnectionsPercent: 91 })).toMatch(/0–maxConnectionsPercent \(90\)/);
    expect(problems({ maxConnectionsPercent: 100, maxIdleConnectionsPercent: 0 })).toEqual([]);
  });
  test('rotation interval 1–1000 days', () => {
    expect(one({ rotationInterval: Duration.days(2000) })).toMatch(/rotationInterval must be 1–1000 days, got 2000 days/);
    expect(one({ rotationInterval: Duration.hours(5) })).toMatch(/rotationInterval must be 1–1000 days, got 5 hours/);
    expect(problems({ rotationInterval: Duration.days(1) })).toEqual([]);
  });
  test('reserved concurrency: a positive integer or false', () => {
    expect(one({ reservedConcurrency: 0 })).toMatch(/reservedConcurrency must be a positive integer or false, got 0/);
    expect(one({ reservedConcurrency: 2.5 })).toMatch(/reservedConcurrency/);
    expect(problems({ reservedConcurrency: false })).toEqual([]);
  });
  test('max database connections 1–262143', () => {
    expect(one({ maxDatabaseConnections: 0 })).toMatch(/maxDatabaseConnections must be an integer 1–262143, got 0/);
    expect(one({ maxDatabaseConnections: 262_144 })).toMatch(/maxDatabaseConnections/);
  });
  test('function memory 128–10240 MB', () => {
    expect(one({ functionMemoryMb: 64 })).toMatch(/functionMemoryMb must be 128–10240, got 64/);
    expect(one({ functionMemoryMb: 10241 })).toMatch(/functionMemoryMb/);
  });
  test('runtimeCodeDir must hold index.ts', () => {
    expect(one({ runtimeCodeDir: os.tmpdir() })).toMatch(/runtimeCodeDir ".*" has no index.ts/);
    expect(problems({ runtimeCodeDir: `${__dirname}/../../lambda/rds-proxy-query` })).toEqual([]);
  });
});

describe('durations CloudFormation takes in whole seconds: a fraction is a collected problem, not a CDK crash', () => {
  // Lambda Timeout, RDS Proxy ConnectionBorrowTimeout / IdleClientTimeout and the instances' MonitoringInterval are
  // integers of seconds; aws-cdk-lib converts them with toSeconds(), which throws on a fraction without naming the
  // construct or the prop, and before the other problems are collected.
  // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-lambda-function.html#cfn-lambda-function-timeout
  // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-rds-dbproxytargetgroup-connectionpoolconfigurationinfoformat.html
  // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbproxy.html#cfn-rds-dbproxy-idleclienttimeout
  test.each([
    ['functionTimeout', { functionTimeout: Duration.millis(10_500) }, /functionTimeout must be whole seconds, got 10\.5/],
    ['borrowTimeout', { borrowTimeout: Duration.millis(1500) }, /borrowTimeout must be whole seconds, got 1\.5/],
    ['idleClientTimeout', { idleClientTimeout: Duration.millis(90_500) }, /idleClientTimeout must be whole seconds, got 90\.5/],
    ['monitoringInterval', { clusterProps: { monitoringInterval: Duration.millis(1500) } }, /monitoringInterval must be 0, 1, 5, 10, 15, 30 or 60 seconds, got 1\.5/],
  ] as Array<[string, RdsProxyLambdaProps, RegExp]>)('%s', (_name, props, message) => {
    expect(() => problems(props)).not.toThrow();
    expect(problems(props).join('\n')).toMatch(message);
  });
  test('whole seconds given in milliseconds are fine', () => {
    expect(problems({ functionTimeout: Duration.millis(20_000), borrowTimeout: Duration.millis(3000), idleClientTimeout: Duration.millis(60_000), clusterProps: { monitoringInterval: Duration.millis(30_000) } })).toEqual([]);
  });
});

test('budgetInput: defaults and unresolved durations fall back', () => {
  expect(budgetInput({})).toEqual({ functionTimeoutMs: 15_000, borrowTimeoutMs: undefined, statementTimeoutMs: undefined, idleInTransactionTimeoutMs: undefined });
  expect(budgetInput({ functionTimeout: Duration.seconds(30), borrowTimeout: Duration.seconds(4) })).toMatchObject({ functionTimeoutMs: 30_000, borrowTimeoutMs: 4000 });
  expect(budgetInput({ functionTimeout: Duration.seconds(Token.asNumber({ Ref: 'T' })) }).functionTimeoutMs).toBe(15_000);
});

test('validateProps throws once with every problem, naming the construct path', () => {
  expect(() => validateProps('S/Pattern', {})).not.toThrow();
  let message = '';
  try {
    validateProps('S/Pattern', { borrowTimeout: Duration.seconds(5000), functionTimeout: Duration.minutes(15), maxConnectionsPercent: 101, appUsername: 'X' });
  } catch (e) {
    message = String(e);
  }
  expect(message).toMatch(/^Error: \[S\/Pattern\] invalid RdsProxyLambda props:\n  - /);
  expect(message.match(/\n  - /g)).toHaveLength(3);
});
