/**
 * Control Tower proactive controls the pattern satisfies in its own template (the kit-wide check in
 * test/kit/control-tower.test.ts runs the published rules; these pin the properties behind them).
 */
import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import { RdsProxyLambdaProps } from '../../lib/rds-proxy-lambda/rds-proxy-lambda';
import { RdsProxyLambdaStack } from '../../lib/rds-proxy-lambda/stack';
import { testApp } from '../helpers/app';
import { DENY_GRANTS_STATEMENT } from '../helpers/key-controls';

const env = { account: '123456789012', region: 'us-east-1' };
const synth = (pattern: RdsProxyLambdaProps = {}) =>
  Template.fromStack(new RdsProxyLambdaStack(testApp(), 'DbOpsRdsProxyLambda', { env, pattern: { availabilityZones: ['us-east-1a', 'us-east-1b'], ...pattern } }));

describe('default template', () => {
  const t = synth();

  test('CT.KMS.PR.3: the key denies kms:CreateGrant unless an AWS service asks for an AWS resource', () => {
    t.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          DENY_GRANTS_STATEMENT,
        ]),
      },
    });
  });

  test('CT.CLOUDWATCH.PR.2/3: every log group keeps a year and is encrypted with the key', () => {
    const groups = Object.values(t.findResources('AWS::Logs::LogGroup'));
    expect(groups.length).toBeGreaterThanOrEqual(4);
    for (const g of groups) {
      expect(g.Properties.RetentionInDays).toBe(365);
      expect(g.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^RdsProxyLambdaKey/), 'Arn'] });
    }
  });

  test('CT.RDS.PR.21: the master user is not the engine default', () => {
    const secrets = Object.values(t.findResources('AWS::SecretsManager::Secret')).map((s) => s.Properties.GenerateSecretString?.SecretStringTemplate);
    expect(secrets).toContain(JSON.stringify({ username: 'dbadmin' }));
    expect(secrets.join(' ')).not.toMatch(/"username":"postgres"/);
  });

  test('CT.RDS.PR.2: every instance has Enhanced Monitoring at 60 s with a role RDS monitoring can assume', () => {
    const instances = Object.values(t.findResources('AWS::RDS::DBInstance'));
    expect(instances.length).toBeGreaterThan(0);
    for (const i of instances) {
      expect(i.Properties.MonitoringInterval).toBe(60);
      expect(i.Properties.MonitoringRoleArn).toEqual({ 'Fn::GetAtt': [expect.any(String), 'Arn'] });
    }
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'monitoring.rds.amazonaws.com' }, Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' }, ArnLike: { 'aws:SourceArn': Match.anyValue() } } })],
      },
    });
  });
});

test('logRetention, masterUsername and monitoringInterval are configurable (0 turns monitoring off)', () => {
  const t = synth({ logRetention: logs.RetentionDays.TWO_YEARS, clusterProps: { masterUsername: 'owner', monitoringInterval: Duration.seconds(0) } });
  for (const g of Object.values(t.findResources('AWS::Logs::LogGroup'))) expect(g.Properties.RetentionInDays).toBe(731);
  for (const i of Object.values(t.findResources('AWS::RDS::DBInstance'))) expect(i.Properties.MonitoringInterval).toBeUndefined();
  const secrets = Object.values(t.findResources('AWS::SecretsManager::Secret')).map((s) => s.Properties.GenerateSecretString?.SecretStringTemplate);
  expect(secrets).toContain(JSON.stringify({ username: 'owner' }));
});

test('a monitoring interval RDS does not accept and a master user equal to the app user are rejected together', () => {
  expect(() => synth({ appUsername: 'svc', clusterProps: { masterUsername: 'svc', monitoringInterval: Duration.seconds(45) } })).toThrow(
    /monitoringInterval must be 0, 1, 5, 10, 15, 30 or 60 seconds, got 45[\s\S]*masterUsername and appUsername must differ/,
  );
});
