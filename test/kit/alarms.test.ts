/**
 * Alarm delivery (test/kit/alarms.ts) for every alarm and every EventBridge rule -> topic of every
 * stack and variant: alarm -> action -> topic policy (service principal, scoped by source) -> key policy.
 */
import { alarmFindings } from './alarms';
import { expectReconciled, mergeVariants, reconcile } from './findings';
import { cloneTemplate, kitStacks } from './stacks';

const stacks = kitStacks();

test('every alarm can deliver to its topic, or is listed in test/kit/exceptions.ts', () => {
  expect(stacks.flatMap((s) => Object.values(s.template.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm')).length).toBeGreaterThan(5);
  expectReconciled(reconcile('alarm-delivery', mergeVariants(stacks.flatMap((s) => alarmFindings(s.stackName, s.template).map((f) => ({ ...f, variant: s.variant }))))));
});

describe('deliberately broken templates fail', () => {
  const kms = stacks.find((s) => s.id === 'default/DbOpsKmsKeyChange')!;
  const alarmTopic = (t: any) => Object.keys(t.Resources).find((k) => t.Resources[k].Type === 'AWS::SNS::Topic')!;

  test('an alarm without actions, one whose topic has no policy, and one whose key does not allow CloudWatch', () => {
    const t = cloneTemplate(kms.template);
    const topic = alarmTopic(t);
    t.Resources.BrokenNoAction = { Type: 'AWS::CloudWatch::Alarm', Properties: { MetricName: 'X', Namespace: 'Y', Threshold: 1, EvaluationPeriods: 1, ComparisonOperator: 'GreaterThanThreshold' } };
    t.Resources.BrokenTopic = { Type: 'AWS::SNS::Topic', Properties: { KmsMasterKeyId: t.Resources[topic].Properties!.KmsMasterKeyId } };
    t.Resources.BrokenToBareTopic = { Type: 'AWS::CloudWatch::Alarm', Properties: { AlarmActions: [{ Ref: 'BrokenTopic' }] } };
    t.Resources.BrokenAwsManagedKeyTopic = { Type: 'AWS::SNS::Topic', Properties: { KmsMasterKeyId: 'alias/aws/sns' } };
    t.Resources.BrokenToManagedKey = { Type: 'AWS::CloudWatch::Alarm', Properties: { AlarmActions: [{ Ref: 'BrokenAwsManagedKeyTopic' }] } };
    const found = alarmFindings('S', t).filter((f) => f.resource.includes('/Broken')).map((f) => `${f.rule} ${f.resource}`);
    expect(found).toEqual(expect.arrayContaining(['no-action S/BrokenNoAction', 'cannot-deliver S/BrokenToBareTopic', 'cannot-deliver S/BrokenToManagedKey']));
  });

  test('a topic policy allowing CloudWatch without a source condition is reported as unscoped', () => {
    const t = cloneTemplate(kms.template);
    t.Resources.BrokenPlainTopic = { Type: 'AWS::SNS::Topic', Properties: {} };
    t.Resources.BrokenPolicy = {
      Type: 'AWS::SNS::TopicPolicy',
      Properties: { Topics: [{ Ref: 'BrokenPlainTopic' }], PolicyDocument: { Statement: [{ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish', Resource: { Ref: 'BrokenPlainTopic' } }] } },
    };
    t.Resources.BrokenAlarm = { Type: 'AWS::CloudWatch::Alarm', Properties: { AlarmActions: [{ Ref: 'BrokenPlainTopic' }] } };
    expect(alarmFindings('S', t).filter((f) => f.resource === 'S/BrokenAlarm').map((f) => f.rule)).toEqual(['unscoped']);
    const fixed = cloneTemplate(t);
    fixed.Resources.BrokenPolicy.Properties!.PolicyDocument.Statement[0].Condition = { StringEquals: { 'aws:SourceAccount': '123456789012' } };
    expect(alarmFindings('S', fixed).filter((f) => f.resource === 'S/BrokenAlarm')).toEqual([]);
  });
});
