
import { testApp } from '../helpers/app';
import { Template } from 'aws-cdk-lib/assertions';
import { RdsProxyLambdaStack } from '../../lib/rds-proxy-lambda/stack';
import { alarmDeliveryProblems } from '../kit/alarms';

const env = { account: '123456789012', region: 'us-east-1' };
const azs = ['us-east-1a', 'us-east-1b'];

describe.each(['iam', 'secret'] as const)('every alarm of DbOpsRdsProxyLambda (%s mode) can deliver', (credentialMode) => {
  const stack = new RdsProxyLambdaStack(testApp(), 'DbOpsRdsProxyLambda', { env, pattern: { availabilityZones: azs, credentialMode } });
  const template = Template.fromStack(stack).toJSON();
  const walk = (t: unknown) => alarmDeliveryProblems(t, { ...env, stackName: stack.stackName });

  test('alarm → topic → topic policy → key policy: no hop denies CloudWatch', () => {
    expect(Object.values(template.Resources).filter((r: any) => r.Type === 'AWS::CloudWatch::Alarm').length).toBeGreaterThan(5);
    expect(walk(template)).toEqual([]);
  });

  // The walker itself must catch each kind of break (so a pass above means something).
  const clone = () => JSON.parse(JSON.stringify(template));
  const topicPolicy = (t: any) => Object.values(t.Resources).find((r: any) => r.Type === 'AWS::SNS::TopicPolicy') as any;
  const key = (t: any) => Object.values(t.Resources).find((r: any) => r.Type === 'AWS::KMS::Key') as any;

  test('catches a topic policy without the CloudWatch Allow', () => {
    const t = clone();
    const doc = topicPolicy(t).Properties.PolicyDocument;
    doc.Statement = doc.Statement.filter((s: any) => s.Effect === 'Deny');
    expect(walk(t).map((p) => p.problem)).toContainEqual(expect.stringMatching(/sns:Publish by cloudwatch.amazonaws.com is denied \(no statement allows it\)/));
  });

  test('catches a CloudWatch Allow scoped to another account or to other alarms', () => {
    const t = clone();
    for (const s of topicPolicy(t).Properties.PolicyDocument.Statement) {
      if (s.Effect === 'Allow' && JSON.stringify(s.Principal).includes('cloudwatch')) {
        s.Condition = { StringEquals: { 'aws:SourceAccount': '999999999999' } };
      }
    }
    expect(walk(t).length).toBeGreaterThan(0);
    const t2 = clone();
    for (const s of topicPolicy(t2).Properties.PolicyDocument.Statement) {
      if (s.Effect === 'Allow' && JSON.stringify(s.Principal).includes('cloudwatch')) {
        s.Condition.ArnLike = { 'aws:SourceArn': 'arn:aws:cloudwatch:us-east-1:123456789012:alarm:someone-else-*' };
      }
    }
    expect(walk(t2).length).toBeGreaterThan(0);
  });

  test('catches a blanket Deny in the topic policy and a missing TopicPolicy', () => {
    const t = clone();
    topicPolicy(t).Properties.PolicyDocument.Statement.push({ Effect: 'Deny', Principal: '*', Action: 'sns:Publish', Resource: '*' });
    expect(walk(t).map((p) => p.problem)).toContainEqual(expect.stringMatching(/explicit Deny/));
    const t2 = clone();
    for (const [id, r] of Object.entries(t2.Resources) as any) if (r.Type === 'AWS::SNS::TopicPolicy') delete t2.Resources[id];
    expect(walk(t2).map((p) => p.problem)).toContainEqual(expect.stringMatching(/no AWS::SNS::TopicPolicy/));
  });

  test('catches a key policy that does not let CloudWatch use the topic key', () => {
    const t = clone();
    const k = key(t);
    k.Properties.KeyPolicy.Statement = k.Properties.KeyPolicy.Statement.filter((s: any) => !JSON.stringify(s.Principal).includes('cloudwatch'));
    expect(walk(t).map((p) => p.problem)).toContainEqual(expect.stringMatching(/kms:GenerateDataKey by cloudwatch.amazonaws.com is denied/));
  });
});
