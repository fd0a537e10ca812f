/**
 * Control Tower proactive controls the pattern satisfies in its own template (the kit-wide check in
 * test/kit/control-tower.test.ts runs the published rules; these pin the properties behind them).
 */
import { Template } from 'aws-cdk-lib/assertions';
import { DsqlBridgeStack } from '../../lib/dsql-bridge';
import { testApp } from '../helpers/app';
import { DENY_GRANTS_STATEMENT } from '../helpers/key-controls';

const t = Template.fromStack(new DsqlBridgeStack(testApp(), 'DbOpsDsqlBridge', { env: { account: '123456789012', region: 'us-east-1' } }));

test('CT.KMS.PR.3: both keys deny kms:CreateGrant unless an AWS service asks for an AWS resource', () => {
  const keys = Object.entries(t.findResources('AWS::KMS::Key'));
  expect(keys.map(([id]) => id).sort()).toEqual([expect.stringMatching(/^DsqlBridgeKey/), expect.stringMatching(/^DsqlBridgeQueueKey/)]);
  for (const [, k] of keys) {
    expect(k.Properties.KeyPolicy.Statement).toContainEqual(DENY_GRANTS_STATEMENT);
  }
});

test('CT.SQS.PR.1: only the loader queue may use the dead-letter queue, and the ARN it allows is that queue', () => {
  const queues = t.findResources('AWS::SQS::Queue');
  const [dlqId, dlq] = Object.entries(queues).find(([id]) => id.startsWith('DsqlBridgeDeadLetterQueue'))!;
  const [, queue] = Object.entries(queues).find(([, q]) => q.Properties.RedrivePolicy)!;
  expect(queue.Properties.RedrivePolicy.deadLetterTargetArn).toEqual({ 'Fn::GetAtt': [dlqId, 'Arn'] });
  const allow = dlq.Properties.RedriveAllowPolicy;
  expect(allow.redrivePermission).toBe('byQueue');
  expect(allow.sourceQueueArns).toHaveLength(1);
  const arn = JSON.stringify(allow.sourceQueueArns[0]);
  // arn:<partition>:sqs:<region>:<account>:<the queue's name>
  expect(arn).toContain(`:sqs:`);
  expect(arn).toContain(`:${queue.Properties.QueueName}"`);
  expect(queue.Properties.QueueName).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
});
