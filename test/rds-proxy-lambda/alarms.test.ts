/**
 * The alarms an operator needs, bad requests kept out of the errors alarm (checked against the log line the
 * real handler writes), reserved concurrency derived from the proxy's connection budget, bounded echo of
 * caller input, and the grantConnect warning in secret mode.
 */
import { Stack, aws_ec2 as ec2, aws_iam as iam, aws_lambda as lambda, aws_rds as rds } from 'aws-cdk-lib';
import { testApp } from '../helpers/app';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { RdsProxyLambda, RdsProxyLambdaProps } from '../../lib/rds-proxy-lambda/rds-proxy-lambda';
import { loadConfig } from '../../lambda/rds-proxy-query/config';
import { createQueryHandler, createQueryRuntime } from '../../lambda/rds-proxy-query/query-function';
import { createLogger } from '../../lambda/shared/logger';

const env = { account: '123456789012', region: 'us-east-1' };
const azs = ['us-east-1a', 'us-east-1b'];

function synth(props: RdsProxyLambdaProps = {}) {
  const stack = new Stack(testApp(), 'Alarms', { env });
  const pattern = new RdsProxyLambda(stack, 'P', { availabilityZones: azs, ...props });
  return { stack, pattern, t: Template.fromStack(stack) };
}

describe('default template', () => {
  const { stack, pattern, t } = synth();
  const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')).map((a: any) => a.Properties);
  const byName = (suffix: string) => alarms.find((a) => String(a.AlarmName).endsWith(`-${suffix}`));

  test('database, proxy and rotation alarms exist with their thresholds', () => {
    expect(alarms.map((a) => String(a.AlarmName).replace(/^.*-/, '')).sort()).toEqual(
      [
        'AppSecretRotationErrorsAlarm',
        'DatabaseAcuUtilizationAlarm',
        'DatabaseConnectionsAlarm',
        'DatabaseCpuAlarm',
        'DatabaseFreeableMemoryAlarm',
        'FunctionBadRequestsAlarm',
        'FunctionDurationAlarm',
        'FunctionErrorsAlarm',
        'FunctionThrottlesAlarm',
        'MasterSecretRotationErrorsAlarm',
        'ProxyAuthFailuresAlarm',
        'ProxyBorrowLatencyAlarm',
        'ProxyClientConnectionsAlarm',
        'ProxyDatabaseConnectionFailuresAlarm',
        'ProxySessionPinningAlarm',
      ].sort(),
    );
    const cluster = { Ref: stack.getLogicalId(pattern.cluster.node.defaultChild as any) };
    expect(byName('DatabaseCpuAlarm')).toMatchObject({ Namespace: 'AWS/RDS', MetricName: 'CPUUtilization', Threshold: 80, Dimensions: [{ Name: 'DBClusterIdentifier', Value: cluster }] });
    expect(byName('DatabaseAcuUtilizationAlarm')).toMatchObject({ MetricName: 'ACUUtilization', Threshold: 90 });
    // 4 ACU → LEAST(8 GiB / 9531392, 5000) = 901 connections; alarm at 90%.
    expect(pattern.maxDatabaseConnections).toBe(901);
    expect(byName('DatabaseConnectionsAlarm')).toMatchObject({ MetricName: 'DatabaseConnections', Threshold: 810 });
    expect(byName('DatabaseFreeableMemoryAlarm')).toMatchObject({ MetricName: 'FreeableMemory', Threshold: 268435456, ComparisonOperator: 'LessThanThreshold' });
    expect(byName('ProxyClientConnectionsAlarm')).toMatchObject({ MetricName: 'ClientConnections', Threshold: 200 });
    // Rotation alarms watch the rotation functions by name (the SAR application's function).
    const rotationFns = Object.values(t.findResources('AWS::Serverless::Application')).map((a: any) => a.Properties.Parameters.functionName).sort();
    const watched = ['AppSecretRotationErrorsAlarm', 'MasterSecretRotationErrorsAlarm'].map((n) => byName(n));
    for (const w of watched) expect(w).toMatchObject({ Namespace: 'AWS/Lambda', MetricName: 'Errors', Threshold: 1 });
    expect(JSON.stringify(watched.map((w) => w.Dimensions))).toContain('RotationLambdaARN');
    expect(rotationFns).toHaveLength(2);
  });

  test('the errors alarm subtracts bad requests counted from the function log group', () => {
    const fnLogGroup = stack.getLogicalId((pattern.fn.logGroup as any).node.defaultChild);
    const filters = Object.values(t.findResources('AWS::Logs::MetricFilter')).map((f: any) => f.Properties);
    expect(filters).toEqual([
      expect.objectContaining({
        LogGroupName: { Ref: fnLogGroup },
        FilterPattern: '{ $.errorType = "BadRequestError" }',
        MetricTransformations: [expect.objectContaining({ MetricNamespace: 'DbOpsKit/RdsProxyLambda', MetricValue: '1' })],
      }),
    ]);
    const badName = filters[0].MetricTransformations[0].MetricName;
    const errors = byName('FunctionErrorsAlarm');
    expect(errors.MetricName).toBeUndefined();
    const expr = errors.Metrics.find((m: any) => m.Expression);
    expect(expr.Expression).toBe('IF(FILL(errors, 0) - FILL(bad, 0) > 0, FILL(errors, 0) - FILL(bad, 0), 0)');
    expect(errors.Metrics.find((m: any) => m.Id === 'bad').MetricStat.Metric.MetricName).toBe(badName);
    expect(errors.Metrics.find((m: any) => m.Id === 'errors').MetricStat.Metric.MetricName).toBe('Errors');
  });

  test('reserved concurrency: min(100, 80% of 90% of 901) = 100', () => {
    t.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.handler', ReservedConcurrentExecutions: 100 });
  });
});

test('reserved concurrency follows the proxy budget, a prop, or false', () => {
  // 10% of 901 = 90 proxy connections → 80% = 72.
  expect(synth({ maxConnectionsPercent: 10, maxIdleConnectionsPercent: 5 }).pattern.reservedConcurrency).toBe(72);
  const custom = synth({ reservedConcurrency: 25 });
  custom.t.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.handler', ReservedConcurrentExecutions: 25 });
  const none = synth({ reservedConcurrency: false });
  const fn = Object.values(none.t.findResources('AWS::Lambda::Function')).find((f: any) => f.Properties.Handler === 'index.handler') as any;
  expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
  expect(() => synth({ reservedConcurrency: 0 })).toThrow(/reservedConcurrency must be a positive integer or false/);
});

test('max_connections is derived for an explicit Serverless v2 writer too (readers context), and falls back with a warning for a provisioned one', () => {
  const sv2 = synth({ clusterProps: { serverlessV2MaxCapacity: 8, instances: { writer: rds.ClusterInstance.serverlessV2('writer'), readers: [rds.ClusterInstance.serverlessV2('r1')] } } });
  expect(sv2.pattern.maxDatabaseConnections).toBe(1802); // 16 GiB / 9531392
  const prov = synth({ clusterProps: { instances: { writer: rds.ClusterInstance.provisioned('writer', { instanceType: ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE) }) } } });
  expect(prov.pattern.maxDatabaseConnections).toBe(100);
  expect(Annotations.fromStack(prov.stack).findWarning('*', Match.stringLikeRegexp('maxDatabaseConnections is assumed')).length).toBe(1);
});

test('grantConnect warns in secret mode (rds-db:connect is useless there), not in IAM mode', () => {
  for (const mode of ['secret', 'iam'] as const) {
    const stack = new Stack(testApp(), `G${mode}`, { env });
    const pattern = new RdsProxyLambda(stack, 'P', { availabilityZones: azs, credentialMode: mode });
    const other = new lambda.Function(stack, 'Other', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'i.h', code: lambda.Code.fromInline('x') });
    pattern.grantConnect(other);
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('grantConnect.*secret mode'));
    expect([mode, warnings.length]).toEqual([mode, mode === 'secret' ? 1 : 0]);
  }
  expect(iam).toBeDefined();
});

describe('the handler’s own log line for a failed request', () => {
  async function failedLogLine(event: unknown): Promise<{ line: string; err: any }> {
    const written: string[] = [];
    const capture = (c: any) => {
      written.push(String(c));
      return true;
    };
    const spies = [jest.spyOn(process.stdout, 'write').mockImplementation(capture), jest.spyOn(process.stderr, 'write').mockImplementation(capture)];
    const saved = process.env.POWERTOOLS_LOG_LEVEL;
    process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
    try {
      const logger = createLogger('rds-proxy-query');
      const rt = createQueryRuntime(loadConfig({ DB_HOST: 'proxy.example', DB_NAME: 'appdb', DB_USER: 'app', AWS_REGION: 'us-east-1' }), {
        logger,
        signer: { getAuthToken: async () => 'token' },
      });
      const err = await createQueryHandler(() => rt)(event).catch((e) => e);
      return { line: written.find((w) => w.includes('query failed')) ?? '', err };
    } finally {
      for (const s of spies) s.mockRestore();
      process.env.POWERTOOLS_LOG_LEVEL = saved;
    }
  }

  test('a bad request logs top-level errorType "BadRequestError" (what the metric filter matches)', async () => {
    const { line, err } = await failedLogLine({ query: 'nope' });
    expect(err.name).toBe('BadRequestError');
    expect(JSON.parse(line)).toMatchObject({ errorType: 'BadRequestError', message: 'query failed' });
  });

  test('a 200 KB query name gives a bounded error message and log line', async () => {
    const huge = 'q'.repeat(200_000);
    const { line, err } = await failedLogLine({ query: huge, params: { [huge]: 1 } });
    expect(err.name).toBe('BadRequestError');
    expect(err.message.length).toBeLessThan(400);
    expect(err.message).toContain('(200002 characters)');
    expect(JSON.parse(line)).toMatchObject({ errorType: 'BadRequestError' });
    expect(line.length).toBeLessThan(1500);
    const { err: err2 } = await failedLogLine({ query: 'tables', params: { [huge]: 1, schema: huge } });
    expect(err2.message.length).toBeLessThan(600);
  });
});
