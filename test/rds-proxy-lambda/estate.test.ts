/**
 * Pattern 1 in a platform team's existing estate: props and neighbours nobody tried on the designed path.
 * Each case here failed synth or produced a template AWS would refuse at deploy time before its fix.
 */
import { Stack, aws_ec2 as ec2, aws_kms as kms, aws_sns as sns } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { testApp } from '../helpers/app';
import { RdsProxyLambda } from '../../lib/rds-proxy-lambda/rds-proxy-lambda';

const env = { account: '123456789012', region: 'us-east-1' };
const azs = { availabilityZones: ['us-east-1a', 'us-east-1b'] };

function resources(stack: Stack, type: string): any[] {
  return Object.values<any>(Template.fromStack(stack).toJSON().Resources).filter((r) => r.Type === type);
}

test('maxConnectionsPercent below the default idle share: the idle share follows it (RDS refuses MaxIdleConnectionsPercent > MaxConnectionsPercent)', () => {
  const stack = new Stack(testApp(), 'S', { env });
  new RdsProxyLambda(stack, 'P', { ...azs, maxConnectionsPercent: 1 });
  const [tg] = resources(stack, 'AWS::RDS::DBProxyTargetGroup');
  const pool = tg.Properties.ConnectionPoolConfigurationInfo;
  expect(pool.MaxConnectionsPercent).toBe(1);
  expect(pool.MaxIdleConnectionsPercent).toBeLessThanOrEqual(pool.MaxConnectionsPercent);
});

test('two patterns sharing one alarm topic and one key: every statement id stays unique (SNS: "Every policy statement must have a unique ID")', () => {
  const stack = new Stack(testApp(), 'S', { env });
  const key = new kms.Key(stack, 'SharedKey');
  const topic = new sns.Topic(stack, 'SharedTopic', { masterKey: key });
  new RdsProxyLambda(stack, 'Orders', { ...azs, encryptionKey: key, alarmTopic: topic });
  new RdsProxyLambda(stack, 'Billing', { ...azs, encryptionKey: key, alarmTopic: topic });
  // Two more with their own topics on the same key: each adds its topic-key statement to the shared key.
  new RdsProxyLambda(stack, 'Ledger', { ...azs, encryptionKey: key });
  new RdsProxyLambda(stack, 'Audit', { ...azs, encryptionKey: key });
  const docs = [
    ...resources(stack, 'AWS::SNS::TopicPolicy').map((r) => r.Properties.PolicyDocument),
    ...resources(stack, 'AWS::KMS::Key').map((r) => r.Properties.KeyPolicy),
  ];
  let checked = 0;
  for (const doc of docs) {
    const sids = doc.Statement.map((s: { Sid?: string }) => s.Sid).filter((s: unknown) => s !== undefined);
    expect(new Set(sids).size).toBe(sids.length);
    for (const sid of sids) expect(sid).toMatch(/^[A-Za-z0-9]+$/);
    checked += sids.length;
  }
  // Both publish statements are on the shared topic, all four topic-key statements on the shared key.
  expect(checked).toBeGreaterThanOrEqual(2 + 4);
}, 120_000);

test('imported VPC with only public subnets: synth fails naming the construct and the fix', () => {
  const stack = new Stack(testApp(), 'S', { env });
  const vpc = ec2.Vpc.fromVpcAttributes(stack, 'V', {
    vpcId: 'vpc-0123456789abcdef0',
    availabilityZones: ['us-east-1a', 'us-east-1b'],
    publicSubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
  });
  expect(() => new RdsProxyLambda(stack, 'P', { existingVpc: vpc })).toThrow(
    /\[S\/P\] invalid RdsProxyLambda props:.*existingVpc has no private subnets.*vpcSubnets/s,
  );
});

test('a construct path longer than 256 characters still synthesizes (the VPC Name tag is capped)', () => {
  const stack = new Stack(testApp(), 'PlatformTeamDatabaseEstateProductionEuropeWest', { env });
  let scope: import('constructs').Construct = stack;
  for (const id of ['TenantOrdersAndFulfilmentServices', 'RegionalDeploymentUnitPrimary', 'DataPlaneOnlineTransactionProcessing', 'ReportingAndAnalyticsAccessLayer', 'SharedServicesForBatchProcessing']) {
    scope = new (require('constructs').Construct)(scope, id);
  }
  const p = new RdsProxyLambda(scope, 'RdsProxyLambdaForOrdersDatabaseWithLongName', azs);
  expect(p.node.path.length).toBeGreaterThan(200);
  const tooLong: string[] = [];
  for (const [id, r] of Object.entries<any>(Template.fromStack(stack).toJSON().Resources)) {
    for (const tag of r.Properties?.Tags ?? []) {
      if (typeof tag.Value === 'string' && tag.Value.length > 256) tooLong.push(`${id} ${tag.Key}=${tag.Value}`);
    }
  }
  expect(tooLong).toEqual([]);
  for (const a of resources(stack, 'AWS::CloudWatch::Alarm')) expect(a.Properties.AlarmName.length).toBeLessThanOrEqual(255);
}, 60_000);
