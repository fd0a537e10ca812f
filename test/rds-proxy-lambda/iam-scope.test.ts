/**
 * Least privilege where the template knows enough to scope:
 * - functions whose log group the construct creates write only to that log group (no
 *   AWSLambdaBasicExecutionRole / AWSLambdaVPCAccessExecutionRole, whose logs:* actions cover every log group);
 * - every statement that trusts or grants an AWS service principal is scoped to this account / source
 *   (confused-deputy protection, https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html).
 */

import { testApp } from '../helpers/app';
import { Template } from 'aws-cdk-lib/assertions';
import { RdsProxyLambdaStack } from '../../lib/rds-proxy-lambda/stack';

const env = { account: '123456789012', region: 'us-east-1' };
const stack = new RdsProxyLambdaStack(testApp(), 'DbOpsRdsProxyLambda', { env, pattern: { availabilityZones: ['us-east-1a', 'us-east-1b'], credentialMode: 'secret' } });
const t = Template.fromStack(stack).toJSON();
const resources = t.Resources as Record<string, any>;

/** The role logical id of each function in the template whose log group is set (LoggingConfig.LogGroup). */
function functionsWithKnownLogGroup(): Array<{ fn: string; role: string; logGroup: string }> {
  return Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties.LoggingConfig?.LogGroup)
    .map(([id, r]) => ({ fn: id, role: r.Properties.Role['Fn::GetAtt'][0], logGroup: r.Properties.LoggingConfig.LogGroup.Ref }));
}

function statementsOfRole(roleId: string): any[] {
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((x: any) => x.Ref === roleId))
    .flatMap((r) => r.Properties.PolicyDocument.Statement);
}

test('functions with a known log group: no AWS managed logging policy, logs actions only on their own log group', () => {
  const fns = functionsWithKnownLogGroup();
  expect(fns.length).toBeGreaterThanOrEqual(3); // query, bootstrap, provider framework
  for (const f of fns) {
    const role = resources[f.role];
    expect([f.fn, JSON.stringify(role.Properties.ManagedPolicyArns ?? [])]).toEqual([f.fn, expect.not.stringMatching(/AWSLambdaBasicExecutionRole|AWSLambdaVPCAccessExecutionRole/)]);
    const logStatements = statementsOfRole(f.role).filter((s) => [].concat(s.Action).some((a: string) => a.startsWith('logs:')));
    expect([f.fn, logStatements.length]).toEqual([f.fn, 1]);
    expect([f.fn, logStatements[0].Resource]).toEqual([f.fn, { 'Fn::GetAtt': [f.logGroup, 'Arn'] }]);
    expect([].concat(logStatements[0].Action).sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
  }
});

test('every service-principal statement in key, topic and trust policies carries a source condition', () => {
  const SOURCE_KEYS = /aws:SourceAccount|aws:SourceArn|aws:SourceOrgID|kms:EncryptionContext:aws:logs:arn/;
  // Lambda execution roles: Lambda assumes them with no source context to scope on; AWS documents no
  // condition keys for that trust (https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html).
  // RDS Proxy's role: AWS documents no source-context keys for it (rds-proxy-iam-setup shows the trust
  // policy without conditions); a condition RDS does not send would lock the proxy out of its secret.
  const EXEMPT_TRUST = new Set(['lambda.amazonaws.com', 'rds.amazonaws.com']);
  const unscoped: string[] = [];
  for (const [id, r] of Object.entries(resources)) {
    const docs: Array<[string, any]> = [];
    if (r.Type === 'AWS::KMS::Key') docs.push(['key policy', r.Properties.KeyPolicy]);
    if (r.Type === 'AWS::SNS::TopicPolicy') docs.push(['topic policy', r.Properties.PolicyDocument]);
    if (r.Type === 'AWS::IAM::Role') docs.push(['trust policy', r.Properties.AssumeRolePolicyDocument]);
    for (const [kind, doc] of docs) {
      for (const s of doc?.Statement ?? []) {
        const services: string[] = [].concat(s.Principal?.Service ?? []).map((x: any) => (typeof x === 'string' ? x : JSON.stringify(x)));
        if (s.Effect !== 'Allow' || services.length === 0) continue;
        if (kind === 'trust policy' && services.every((x) => EXEMPT_TRUST.has(x))) continue;
        if (!SOURCE_KEYS.test(JSON.stringify(s.Condition ?? {}))) unscoped.push(`${id} ${kind}: ${services.join(',')} ${JSON.stringify(s.Action)}`);
      }
    }
  }
  expect(unscoped).toEqual([]);
});
