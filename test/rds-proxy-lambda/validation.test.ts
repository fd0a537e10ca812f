import { Duration, Stack, aws_ec2 as ec2, aws_rds as rds, aws_secretsmanager as sm } from 'aws-cdk-lib';
import { testApp } from '../helpers/app';
import { RdsProxyLambda, RdsProxyLambdaProps } from '../../lib/rds-proxy-lambda/rds-proxy-lambda';

const env = { account: '123456789012', region: 'us-east-1' };

function build(props: (stack: Stack) => RdsProxyLambdaProps): () => void {
  return () => {
    const stack = new Stack(testApp(), 'S', { env });
    new RdsProxyLambda(stack, 'Pattern', { availabilityZones: ['us-east-1a', 'us-east-1b'], ...props(stack) });
  };
}

function existing(stack: Stack) {
  const cluster = rds.DatabaseCluster.fromDatabaseClusterAttributes(stack, 'C', {
    clusterIdentifier: 'c1',
    securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-1')],
  });
  const secret = sm.Secret.fromSecretNameV2(stack, 'M', 'master');
  return { cluster, secret };
}

describe('bad props fail synth with a message naming the construct and the fix', () => {
  test('existingCluster together with clusterProps', () => {
    expect(
      build((s) => {
        const e = existing(s);
        return { existingCluster: e.cluster, existingMasterSecret: e.secret, clusterProps: {} };
      }),
    ).toThrow(
      /\[S\/Pattern\].*either existingCluster or clusterProps, not both/s,
    );
  });
  test('existingCluster without its master secret', () => {
    expect(build((s) => ({ existingCluster: existing(s).cluster }))).toThrow(/existingCluster needs existingMasterSecret/);
  });
  test('borrow timeout outside what RDS accepts (1–3600 s)', () => {
    expect(build(() => ({ borrowTimeout: Duration.seconds(3601) }))).toThrow(/borrowTimeout must be 1–3600 seconds/);
    expect(build(() => ({ borrowTimeout: Duration.seconds(0) }))).toThrow(/borrowTimeout must be 1–3600 seconds/);
  });
  test('readers without a writer', () => {
    expect(build(() => ({ clusterProps: { instances: { readers: [rds.ClusterInstance.serverlessV2('r1')] } } }))).toThrow(/readers but no writer/);
  });
  test('borrow timeout that leaves no room for connect + query inside the function timeout', () => {
    // 20 s function: secret 2 s + connect (20+1) + query (20+S+1) + 1 s cannot fit.
    expect(build(() => ({ borrowTimeout: Duration.seconds(20), functionTimeout: Duration.seconds(20) }))).toThrow(/functionTimeout \(20 s\) is too short for borrowTimeout 20 s/);
    expect(build(() => ({ statementTimeout: Duration.seconds(30) }))).toThrow(/functionTimeout \(15 s\) is too short for borrowTimeout 3 s and statementTimeout 30000 ms/);
    expect(build(() => ({ idleInTransactionSessionTimeout: Duration.seconds(9) }))).toThrow(/idleInTransactionSessionTimeout \(9000 ms\) must be below the client query timeout \(8500 ms\)/);
  });
  test('max connections percent out of range', () => {
    expect(build(() => ({ maxConnectionsPercent: 0 }))).toThrow(/maxConnectionsPercent must be an integer 1–100/);
  });
  test('idle connections percent above max connections percent', () => {
    expect(build(() => ({ maxConnectionsPercent: 40, maxIdleConnectionsPercent: 60 }))).toThrow(/maxIdleConnectionsPercent must be an integer 0–maxConnectionsPercent \(40\)/);
  });
  test('application user that is not a safe identifier', () => {
    expect(build(() => ({ appUsername: 'App-User' }))).toThrow(/appUsername "App-User"/);
  });
  test('application user that is the master user', () => {
    expect(build(() => ({ appUsername: 'postgres' }))).toThrow(/appUsername "postgres"/);
  });
  test('bad cluster identifier', () => {
    expect(build(() => ({ clusterProps: { clusterIdentifier: 'Bad--Name' } }))).toThrow(/clusterIdentifier "Bad--Name"/);
  });
  test('credential mode that is neither iam nor secret', () => {
    expect(build(() => ({ credentialMode: 'password' as any }))).toThrow(/credentialMode must be "iam" or "secret"/);
  });
  test('existingMasterSecret without existingCluster', () => {
    expect(build((s) => ({ existingMasterSecret: existing(s).secret }))).toThrow(/apply only with existingCluster/);
  });
  test('VPC settings with an existing VPC', () => {
    expect(
      build((s) => ({ existingVpc: ec2.Vpc.fromVpcAttributes(s, 'V', { vpcId: 'vpc-1', availabilityZones: ['us-east-1a'] }), vpcCidr: '10.0.0.0/16' })),
    ).toThrow(/do not pass them with existingVpc/);
  });
  test('malformed VPC CIDR', () => {
    expect(build(() => ({ vpcCidr: '10.0.0.0/8' }))).toThrow(/vpcCidr "10.0.0.0\/8"/);
  });
  test('a single AZ', () => {
    expect(build(() => ({ availabilityZones: ['us-east-1a'] }))).toThrow(/at least two zones/);
  });
  test('serverless capacity off the 0.5 ACU grid', () => {
    expect(build(() => ({ clusterProps: { serverlessV2MinCapacity: 0.3 } }))).toThrow(/serverlessV2MinCapacity 0.3/);
  });
  test('serverless capacity inverted', () => {
    expect(build(() => ({ clusterProps: { serverlessV2MinCapacity: 8, serverlessV2MaxCapacity: 4 } }))).toThrow(/above serverlessV2MaxCapacity/);
  });
  test('backup retention outside 1–35 days', () => {
    expect(build(() => ({ clusterProps: { backupRetention: Duration.days(40) } }))).toThrow(/backupRetention must be 1–35 days/);
  });
  test('rotation interval outside 1–1000 days', () => {
    expect(build(() => ({ rotationInterval: Duration.days(2000) }))).toThrow(/rotationInterval must be 1–1000 days/);
  });
  test('function timeout above 900 s', () => {
    expect(build(() => ({ functionTimeout: Duration.minutes(20) }))).toThrow(/functionTimeout must be 1–900 seconds/);
  });
  test('idle client timeout above 8 h', () => {
    expect(build(() => ({ idleClientTimeout: Duration.hours(9) }))).toThrow(/idleClientTimeout/);
  });
  test('function memory outside 128–10240 MB', () => {
    expect(build(() => ({ functionMemoryMb: 64 }))).toThrow(/functionMemoryMb must be 128–10240/);
  });
  test('bad database name', () => {
    expect(build(() => ({ clusterProps: { databaseName: 'my-db' } }))).toThrow(/database name "my-db"/);
  });
  test('all problems are reported at once', () => {
    let message = '';
    try {
      build(() => ({ borrowTimeout: Duration.seconds(5000), functionTimeout: Duration.minutes(15), maxConnectionsPercent: 101, appUsername: 'X' }))();
    } catch (e) {
      message = String(e);
    }
    expect(message.match(/\n  - /g)).toHaveLength(3);
  });
});
