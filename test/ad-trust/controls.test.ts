/**
 * Control Tower proactive controls pattern 4 satisfies in its own templates (the kit-wide check in
 * test/kit/control-tower.test.ts runs the published rules; these pin the properties behind them).
 */
import { Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AdTrustPrimaryStack, AdTrustPrimaryStackProps, AdTrustReplicaStack } from '../../lib/ad-trust/stacks';
import { testApp } from '../helpers/app';
import { DENY_GRANTS_STATEMENT } from '../helpers/key-controls';

const BASE: AdTrustPrimaryStackProps = {
  env: { region: 'us-east-1' },
  vpcCidr: '10.10.0.0/16',
  availabilityZones: ['us-east-1a', 'us-east-1b'],
  domainName: 'corp.aws.example.com',
  replicaRegion: 'us-west-2',
  replicaVpcCidr: '10.30.0.0/16',
  onPremDomainName: 'onprem.example.com',
  onPremDnsIps: ['192.168.10.10', '192.168.10.11'],
  onPremisesCidrs: ['192.168.0.0/16'],
  engine: 'aurora-postgresql',
};

function build(props: Partial<AdTrustPrimaryStackProps> = {}): { p: Template; r: Template } {
  const app = testApp();
  const primary = new AdTrustPrimaryStack(app, 'P', { ...BASE, ...props });
  const replica = new AdTrustReplicaStack(app, 'R', { env: { region: 'us-west-2' }, primary, vpcCidr: '10.30.0.0/16', availabilityZones: ['us-west-2a', 'us-west-2b'], logRetention: props.logRetention });
  return { p: Template.fromStack(primary), r: Template.fromStack(replica) };
}

const DENY_GRANTS = DENY_GRANTS_STATEMENT;

describe('default templates', () => {
  const { p, r } = build();

  test('CT.KMS.PR.3: every key the pattern creates denies kms:CreateGrant unless an AWS service asks for an AWS resource', () => {
    const keys = [...Object.values(p.findResources('AWS::KMS::Key')), ...Object.values(r.findResources('AWS::KMS::Key'))];
    expect(keys.length).toBeGreaterThanOrEqual(3);
    for (const k of keys) expect(k.Properties.KeyPolicy.Statement).toContainEqual(DENY_GRANTS);
  });

  test('CT.CLOUDWATCH.PR.2/3: the RDS log groups keep a year and are encrypted with the database key, which lets CloudWatch Logs use it', () => {
    for (const t of [p, r]) {
      const rdsGroups = Object.values(t.findResources('AWS::Logs::LogGroup')).filter((g) => JSON.stringify(g.Properties.LogGroupName ?? '').includes('/aws/rds/cluster/'));
      expect(rdsGroups.length).toBeGreaterThan(0);
      for (const g of rdsGroups) {
        expect(g.Properties.RetentionInDays).toBe(365);
        const keyId = g.Properties.KmsKeyId['Fn::GetAtt'][0];
        expect(keyId).toMatch(/^DatabaseKey/);
        const policy = t.findResources('AWS::KMS::Key')[keyId].Properties.KeyPolicy.Statement;
        expect(policy).toContainEqual(
          expect.objectContaining({
            Principal: { Service: expect.stringMatching(/^logs\./) },
            Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': expect.anything() } },
          }),
        );
      }
      for (const g of Object.values(t.findResources('AWS::Logs::LogGroup'))) expect(g.Properties.RetentionInDays).toBe(365);
    }
  });

  test('CT.RDS.PR.2: every instance (primary and secondary) has Enhanced Monitoring at 60 s with a role', () => {
    for (const t of [p, r]) {
      const instances = Object.values(t.findResources('AWS::RDS::DBInstance'));
      expect(instances.length).toBeGreaterThan(0);
      for (const i of instances) {
        expect(i.Properties.MonitoringInterval).toBe(60);
        expect(i.Properties.MonitoringRoleArn).toEqual({ 'Fn::GetAtt': [expect.any(String), 'Arn'] });
        const role = t.findResources('AWS::IAM::Role')[i.Properties.MonitoringRoleArn['Fn::GetAtt'][0]];
        expect(role.DeletionPolicy).toBe('Retain'); // kept with the retained instance
        expect(role.Properties.AssumeRolePolicyDocument.Statement[0].Condition.StringEquals['aws:SourceAccount']).toBeDefined();
      }
    }
  });

  test('the directory security group lookup runs on a role that writes only to its own log group (no AWSLambdaBasicExecutionRole)', () => {
    const fn = Object.entries(p.findResources('AWS::Lambda::Function')).find(([id]) => id.startsWith('AWS679f53fac002430cb0da5b7982bd2287'))!;
    const roleId = fn[1].Properties.Role['Fn::GetAtt'][0];
    expect(p.findResources('AWS::IAM::Role')[roleId].Properties.ManagedPolicyArns).toBeUndefined();
    const stmts = Object.values(p.findResources('AWS::IAM::Policy'))
      .filter((x) => JSON.stringify(x.Properties.Roles).includes(roleId))
      .flatMap((x) => x.Properties.PolicyDocument.Statement);
    const actions = stmts.flatMap((s) => [s.Action].flat());
    expect(actions.sort()).toEqual(['ds:DescribeDirectories', 'logs:CreateLogStream', 'logs:PutLogEvents']);
    expect(actions).not.toContain('logs:CreateLogGroup');
  });
});

test('logRetention overrides the one-year default', () => {
  const { p } = build({ logRetention: logs.RetentionDays.TWO_YEARS });
  for (const g of Object.values(p.findResources('AWS::Logs::LogGroup'))) expect(g.Properties.RetentionInDays).toBe(731);
});
