import { Duration } from 'aws-cdk-lib';
import { CIDR_RE, REGION_RE } from './context';
import { envFor, PatternDefinition } from './pattern';
import { CredentialMode } from '../lib/rds-proxy-lambda/rds-proxy-lambda';
import { RdsProxyLambdaStack } from '../lib/rds-proxy-lambda/stack';
import { aws_rds as rds } from 'aws-cdk-lib';

/** Pattern 1 from context keys `rdsProxyLambda:*` (see cdk.json and lib/rds-proxy-lambda/README.md). */
export const rdsProxyLambdaPattern: PatternDefinition = {
  key: 'rdsProxyLambda',
  stackNames: ['DbOpsRdsProxyLambda'],
  build(app, ctx, account) {
    const region = ctx.string('region', { example: 'us-east-1', pattern: REGION_RE, description: 'AWS Region of the stack' });
    const vpcCidr = ctx.string('vpcCidr', { example: '10.20.0.0/16', pattern: CIDR_RE });
    const azs = ctx.stringList('availabilityZones', {
      example: ['us-east-1a', 'us-east-1b'],
      required: true,
      pattern: /^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$/,
      description: 'two or more AZ names in the stack Region (explicit so synth needs no lookup)',
    });
    const mode = ctx.string('credentialMode', { example: 'iam', pattern: /^(iam|secret)$/, description: 'iam or secret' }) as CredentialMode;
    const readers = ctx.number('readers', { example: 1, min: 0, max: 15, default: 0 });
    const alarmEmail = ctx.optionalString('alarmEmail', { example: 'dba@example.com', pattern: /^[^@\s]+@[^@\s]+\.[^@\s]+$/ });
    const badAz = azs.filter((az) => !az.startsWith(region));
    if (REGION_RE.test(region) && badAz.length > 0) {
      ctx.problem('availabilityZones', `has zones outside ${region}: ${badAz.join(', ')}`, `${region}a,${region}b`);
    }
    ctx.check();
    const readerInstances = Array.from({ length: readers }, (_, i) =>
      rds.ClusterInstance.serverlessV2(`reader${i + 1}`, { scaleWithWriter: i === 0, autoMinorVersionUpgrade: true }),
    );
    return [
      new RdsProxyLambdaStack(app, 'DbOpsRdsProxyLambda', {
        env: envFor(account, region),
        alarmEmail,
        pattern: {
          vpcCidr,
          availabilityZones: azs,
          credentialMode: mode,
          rotationInterval: Duration.days(30),
          clusterProps:
            readers > 0
              ? { instances: { writer: rds.ClusterInstance.serverlessV2('writer', { autoMinorVersionUpgrade: true }), readers: readerInstances } }
              : {},
        },
      }),
    ];
  },
};
