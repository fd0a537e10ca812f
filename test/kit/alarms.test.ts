/**
 * Alarm delivery (test/kit/alarms.ts) for every alarm and every EventBridge rule -> topic of every
 * stack and variant: alarm -> action -> topic policy (service principal, scoped by source) -> key policy.
 */
import { alarmFindings, stackEnv } from './alarms';
import { expectReconciled, mergeVariants, reconcile } from './findings';
import { cloneTemplate, kitStacks } from './stacks';

const stacks = kitStacks();

test('every alarm can deliver to its topic, or is listed in test/kit/exceptions.ts', () => {
  expect(stacks.flatMap((s) => Object.values(s.template.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm')).length).toBeGreaterThan(5);
  expectReconciled(reconcile('alarm-delivery', mergeVariants(stacks.flatMap((s) => alarmFindings(s.stackName, s.template, stackEnv(s)).map((f) => ({ ...f, variant: s.variant }))))));
});

describe('deliberately broken templates fail', () => {
  const kms = stacks.find((s) => s.id === 'default/DbOpsKmsKeyChange')!;
  const env = stackEnv(kms);
  const alarmTopic = (t: any) => Object.keys(t.Resources).find((k) => t.Resources[k].Type === 'AWS::SNS::Topic')!;

  test('an alarm without actions, one whose topic has no policy, and one whose key does not allow CloudWatch', () => {
    const t = cloneTemplate(kms.template);
    const topic = alarmTopic(t);
    t.Resources.BrokenNoAction = { Type: 'AWS::CloudWatch::Alarm', Properties: { MetricName: 'X', Namespace: 'Y', Threshold: 1, EvaluationPeriods: 1, ComparisonOperator: 'GreaterThanThreshold' } };
    t.Resources.BrokenTopic = { Type: 'AWS::SNS::Topic', Properties: { KmsMasterKeyId: t.Resources[topic].Properties!.KmsMasterKeyId } };
    t.Resources.BrokenToBareTopic = { Type: 'AWS::CloudWatch::Alarm', Properties: { AlarmActions: [{ Ref: 'BrokenTopic' }] } };
    t.Resources.BrokenAwsManagedKeyTopic = { Type: 'AWS::SNS::Topic', Properties: { KmsMasterKeyId: 'alias/aws/sns' } };
    t.Resources.BrokenToManagedKey = { Type: 'AWS::CloudWatch::Alarm', Properties: { AlarmActions: [{ Ref: 'BrokenAwsManagedKeyTopic' }] } };
    const found = alarmFindings('S', t, env).filter((f) => f.resource.includes('/Broken')).map((f) => `${f.rule} ${f.resource}`);
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
    expect(alarmFindings('S', t, env).filter((f) => f.resource === 'S/BrokenAlarm').map((f) => f.rule)).toEqual(['unscoped']);
    const fixed = cloneTemplate(t);
    fixed.Resources.BrokenPolicy.Properties!.PolicyDocument.Statement[0].Condition = { StringEquals: { 'aws:SourceAccount': '123456789012' } };
    expect(alarmFindings('S', fixed, env).filter((f) => f.resource === 'S/BrokenAlarm')).toEqual([]);
  });
  test('an EventBridge rule targeting a topic whose policy does not allow events.amazonaws.com; scoped to the rule it passes', () => {
    const t = cloneTemplate(kms.template);
    t.Resources.BrokenRuleTopic = { Type: 'AWS::SNS::Topic', Properties: {} };
    t.Resources.BrokenRule = { Type: 'AWS::Events::Rule', Properties: { EventPattern: { source: ['aws.rds'] }, Targets: [{ Id: 'T', Arn: { Ref: 'BrokenRuleTopic' } }] } };
    const ofRule = (x: any) => alarmFindings('S', x, env).filter((f) => f.resource === 'S/BrokenRule').map((f) => f.rule);
    expect(ofRule(t)).toEqual(['cannot-deliver']);
    const allow = (condition?: object) => ({
      Type: 'AWS::SNS::TopicPolicy',
      Properties: { Topics: [{ Ref: 'BrokenRuleTopic' }], PolicyDocument: { Statement: [{ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sns:Publish', Resource: { Ref: 'BrokenRuleTopic' }, ...(condition ? { Condition: condition } : {}) }] } },
    });
    t.Resources.RulePolicy = allow();
    expect(ofRule(t)).toEqual(['unscoped']);
    t.Resources.RulePolicy = allow({ ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': ['BrokenRule', 'Arn'] } } });
    expect(ofRule(t)).toEqual([]);
    // Scoped to another rule: CloudWatch Events' request for this rule is not allowed.
    t.Resources.RulePolicy = allow({ ArnEquals: { 'aws:SourceArn': 'arn:aws:events:us-east-1:123456789012:rule/someone-else' } });
    expect(ofRule(t)).toEqual(['cannot-deliver']);
  });

  test('an explicit Deny in the topic key policy stops delivery (here of the EventBridge rule) even with the Allow in place', () => {
    const t = cloneTemplate(kms.template);
    const key = t.Resources[t.Resources[alarmTopic(t)].Properties!.KmsMasterKeyId['Fn::GetAtt']?.[0] ?? t.Resources[alarmTopic(t)].Properties!.KmsMasterKeyId.Ref];
    expect(alarmFindings('S', t, env).filter((f) => f.rule !== 'no-action')).toEqual([]);
    key.Properties!.KeyPolicy.Statement.push({ Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*' });
    expect(alarmFindings('S', t, env).map((f) => f.detail)).toContainEqual(expect.stringMatching(/kms:Decrypt by (cloudwatch|events).amazonaws.com is denied \(explicit Deny\)/));
  });
});
