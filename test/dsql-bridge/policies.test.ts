/**
 * Who may use what, read from the synthesized templates (both variants: without and with a DMS
 * source): senders to an encrypted queue may use its key, service principals are scoped by source,
 * listing is limited to a prefix, every alarm really reaches a topic it may publish to, and the DMS
 * account roles exist when asked for. Each rule is also run on a deliberately broken template.
 */
import { testApp } from '../helpers/app';
import { Template } from 'aws-cdk-lib/assertions';
import { DsqlBridgeStack, DsqlBridgeStackProps } from '../../lib/dsql-bridge';
import { nagFindings } from '../helpers/nag';

const ENV = { account: '123456789012', region: 'us-east-1' };
const SOURCE: DsqlBridgeStackProps['source'] = {
  serverName: 'pg.internal',
  databaseName: 'app',
  secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:dms-source-AbCdEf',
  vpcId: 'vpc-0123456789abcdef0',
  vpcCidr: '10.0.0.0/16',
  availabilityZones: ['us-east-1a', 'us-east-1b'],
  subnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
};

type Cfn = { Resources: Record<string, any>; Outputs?: Record<string, any> };
type Statement = { Effect: string; Action: string | string[]; Resource?: unknown; Principal?: any; Condition?: Record<string, Record<string, unknown>>; Sid?: string };

const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const actionsOf = (s: Statement) => asList(s.Action);
const allows = (s: Statement, action: string) =>
  s.Effect === 'Allow' && actionsOf(s).some((a) => a === action || a === '*' || (a.endsWith('*') && action.startsWith(a.slice(0, -1))));
const refersTo = (value: unknown, logicalId: string) => JSON.stringify(value ?? null).includes(`"${logicalId}"`);
const servicePrincipals = (s: Statement): string[] => asList(s.Principal?.Service).map((p) => (typeof p === 'string' ? p : JSON.stringify(p)));
const conditionKeys = (s: Statement) => Object.values(s.Condition ?? {}).flatMap((c) => Object.keys(c));

function synth(props: Omit<DsqlBridgeStackProps, 'env'> = {}): Cfn {
  return Template.fromStack(new DsqlBridgeStack(testApp(), 'DbOpsDsqlBridge', { env: ENV, ...props })).toJSON() as Cfn;
}

/** Resource policies (key, queue, topic, bucket) as [owner logical id, statements]. */
function resourcePolicies(t: Cfn): Array<{ owner: string; type: string; statements: Statement[] }> {
  const out: Array<{ owner: string; type: string; statements: Statement[] }> = [];
  for (const [id, r] of Object.entries(t.Resources)) {
    if (r.Type === 'AWS::KMS::Key') out.push({ owner: id, type: r.Type, statements: r.Properties.KeyPolicy.Statement });
    if (r.Type === 'AWS::SQS::QueuePolicy' || r.Type === 'AWS::SNS::TopicPolicy' || r.Type === 'AWS::S3::BucketPolicy') {
      out.push({ owner: JSON.stringify(r.Properties.Queues ?? r.Properties.Topics ?? r.Properties.Bucket), type: r.Type, statements: r.Properties.PolicyDocument.Statement });
    }
  }
  return out;
}

/** Identity policies: [role logical ids, statements]. */
function identityPolicies(t: Cfn): Array<{ roles: string[]; statements: Statement[] }> {
  return Object.values(t.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .map((r) => ({ roles: asList(r.Properties.Roles).map((x: any) => x.Ref), statements: r.Properties.PolicyDocument.Statement }));
}

/** Every principal that may send to an SSE-KMS queue may also use its key as SQS requires. */
function encryptedQueueSenderProblems(t: Cfn): string[] {
  const problems: string[] = [];
  const keyOfQueue = (queueId: string) => t.Resources[queueId]?.Properties?.KmsMasterKeyId;
  const queues = Object.keys(t.Resources).filter((id) => t.Resources[id].Type === 'AWS::SQS::Queue' && keyOfQueue(id));
  for (const queueId of queues) {
    const keyId = keyOfQueue(queueId)['Fn::GetAtt'][0] as string;
    // Roles: sqs:SendMessage on the queue → kms:GenerateDataKey and kms:Decrypt on its key, in the same role's policies.
    const byRole = new Map<string, Statement[]>();
    for (const p of identityPolicies(t)) for (const r of p.roles) byRole.set(r, [...(byRole.get(r) ?? []), ...p.statements]);
    for (const [role, statements] of byRole) {
      if (!statements.some((s) => allows(s, 'sqs:SendMessage') && refersTo(s.Resource, queueId))) continue;
      for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
        if (!statements.some((s) => allows(s, action) && refersTo(s.Resource, keyId))) problems.push(`${role} may send to ${queueId} but not ${action} with its key ${keyId}`);
      }
    }
    // Services: a queue policy letting a service send → the key policy lets that service use the key.
    for (const p of resourcePolicies(t).filter((x) => x.type === 'AWS::SQS::QueuePolicy' && x.owner.includes(`"${queueId}"`))) {
      for (const s of p.statements.filter((x) => allows(x, 'sqs:SendMessage'))) {
        const keyStatements = t.Resources[keyId].Properties.KeyPolicy.Statement as Statement[];
        for (const svc of servicePrincipals(s)) {
          for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
            if (!keyStatements.some((k) => allows(k, action) && servicePrincipals(k).includes(svc))) problems.push(`${svc} may send to ${queueId} but its key policy does not allow ${action}`);
          }
        }
      }
    }
  }
  return problems;
}

/** Allow statements for service principals in key, queue, topic and bucket policies carry aws:SourceArn or aws:SourceAccount. */
function unscopedServiceStatements(t: Cfn): string[] {
  const problems: string[] = [];
  for (const p of resourcePolicies(t)) {
    for (const s of p.statements) {
      if (s.Effect !== 'Allow' || servicePrincipals(s).length === 0) continue;
      const keys = conditionKeys(s);
      // CloudWatch Logs is scoped by its encryption context (the documented condition for log group keys).
      const scoped = keys.includes('aws:SourceArn') || keys.includes('aws:SourceAccount') || keys.includes('kms:EncryptionContext:aws:logs:arn');
      if (!scoped) problems.push(`${p.type} ${p.owner}: ${servicePrincipals(s).join(',')} ${actionsOf(s).join(',')} without aws:SourceArn/aws:SourceAccount`);
    }
  }
  return problems;
}

/** s3:ListBucket is always limited with an s3:prefix condition. */
function unscopedListBucket(t: Cfn): string[] {
  return identityPolicies(t)
    .flatMap((p) => p.statements.map((s) => ({ roles: p.roles, s })))
    .filter(({ s }) => allows(s, 's3:ListBucket') && !conditionKeys(s).includes('s3:prefix'))
    .map(({ roles, s }) => `${roles.join(',')}: ${actionsOf(s).join(',')} on ${JSON.stringify(s.Resource)} without an s3:prefix condition`);
}

/** alarm → action → SNS topic → topic policy allows CloudWatch for this alarm → topic key allows CloudWatch. */
function alarmDeliveryProblems(t: Cfn): string[] {
  const problems: string[] = [];
  const alarms = Object.entries(t.Resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm');
  if (alarms.length === 0) problems.push('no alarms');
  for (const [alarmId, alarm] of alarms) {
    const actions = asList(alarm.Properties.AlarmActions);
    if (actions.length === 0) {
      problems.push(`${alarmId}: no AlarmActions (nobody is notified)`);
      continue;
    }
    for (const action of actions) {
      const topicId = (action as any)?.Ref as string | undefined;
      const topic = topicId ? t.Resources[topicId] : undefined;
      if (!topic || topic.Type !== 'AWS::SNS::Topic') {
        problems.push(`${alarmId}: action ${JSON.stringify(action)} is not an SNS topic of this stack`);
        continue;
      }
      const topicStatements = resourcePolicies(t)
        .filter((p) => p.type === 'AWS::SNS::TopicPolicy' && p.owner.includes(`"${topicId}"`))
        .flatMap((p) => p.statements);
      const publish = topicStatements.find(
        (s) =>
          allows(s, 'sns:Publish') &&
          servicePrincipals(s).includes('cloudwatch.amazonaws.com') &&
          conditionKeys(s).includes('aws:SourceAccount') &&
          (refersTo(s.Condition, alarmId) || /alarm:\*/.test(JSON.stringify(s.Condition))),
      );
      if (!publish) problems.push(`${alarmId}: the policy of ${topicId} does not let cloudwatch.amazonaws.com publish for this alarm (scoped by aws:SourceArn and aws:SourceAccount)`);
      const keyRef = topic.Properties.KmsMasterKeyId;
      if (keyRef) {
        const keyId = keyRef['Fn::GetAtt']?.[0] ?? keyRef.Ref;
        const key = t.Resources[keyId];
        if (!key || key.Type !== 'AWS::KMS::Key') {
          problems.push(`${alarmId}: ${topicId} is encrypted with ${JSON.stringify(keyRef)}, a key whose policy this stack cannot show`);
          continue;
        }
        for (const a of ['kms:Decrypt', 'kms:GenerateDataKey']) {
          const ok = (key.Properties.KeyPolicy.Statement as Statement[]).some(
            (s) => allows(s, a) && servicePrincipals(s).includes('cloudwatch.amazonaws.com') && conditionKeys(s).includes('aws:SourceAccount') && conditionKeys(s).includes('aws:SourceArn'),
          );
          if (!ok) problems.push(`${alarmId}: the key of ${topicId} does not allow cloudwatch.amazonaws.com ${a} (scoped by source)`);
        }
      }
    }
  }
  return problems;
}

describe.each([
  ['without a DMS source', {}],
  ['with a DMS source', { source: SOURCE }],
  ['with a DMS source and the DMS account roles', { source: SOURCE, bridge: { createDmsAccountRoles: true } }],
])('policies %s', (_name, props) => {
  const t = synth(props as Omit<DsqlBridgeStackProps, 'env'>);

  test('every sender to an encrypted queue may use its key (the loader → DLQ, S3 → event queue)', () => {
    expect(encryptedQueueSenderProblems(t)).toEqual([]);
  });

  test('service principals in key, queue, topic and bucket policies are scoped by aws:SourceArn/aws:SourceAccount', () => {
    expect(unscopedServiceStatements(t)).toEqual([]);
  });

  test('s3:ListBucket only with an s3:prefix condition', () => {
    expect(unscopedListBucket(t)).toEqual([]);
  });

  test('every alarm can deliver: alarm → SNS topic → topic policy for CloudWatch → topic key for CloudWatch', () => {
    expect(alarmDeliveryProblems(t)).toEqual([]);
  });
});

describe('the rules catch broken templates', () => {
  const t = synth({ source: SOURCE });
  const broken = (edit: (b: Cfn) => void): Cfn => {
    const b = structuredClone(t);
    edit(b);
    return b;
  };
  const loaderPolicy = (b: Cfn) => Object.values(b.Resources).find((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes('LoaderRole'))!;
  const queueKey = (b: Cfn) => Object.entries(b.Resources).find(([id, r]) => r.Type === 'AWS::KMS::Key' && id.includes('QueueKey'))![1];

  test('the loader without kms:GenerateDataKey on the DLQ key', () => {
    const b = broken((x) => {
      const p = loaderPolicy(x);
      p.Properties.PolicyDocument.Statement = p.Properties.PolicyDocument.Statement.filter((s: Statement) => s.Sid !== 'SendToEncryptedDeadLetterQueue');
    });
    expect(encryptedQueueSenderProblems(b)).toEqual([expect.stringMatching(/LoaderRole.* may send to .*DeadLetterQueue.* but not kms:GenerateDataKey/)]);
  });

  test("CDK's unconditioned s3.amazonaws.com statement on the queue key", () => {
    const b = broken((x) => queueKey(x).Properties.KeyPolicy.Statement.push({ Effect: 'Allow', Principal: { Service: 's3.amazonaws.com' }, Action: ['kms:GenerateDataKey*', 'kms:Decrypt'], Resource: '*' }));
    expect(unscopedServiceStatements(b)).toEqual([expect.stringContaining('s3.amazonaws.com kms:GenerateDataKey*,kms:Decrypt without aws:SourceArn/aws:SourceAccount')]);
  });

  test('s3:ListBucket without a prefix condition (CDK\'s ItemReader grant)', () => {
    const b = broken((x) => {
      const sm = Object.values(x.Resources).find((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes('BackfillRole'))!;
      for (const s of sm.Properties.PolicyDocument.Statement) if (allows(s, 's3:ListBucket')) delete s.Condition;
    });
    expect(unscopedListBucket(b)).toEqual([expect.stringMatching(/BackfillRole.*s3:ListBucket.*without an s3:prefix condition/)]);
  });

  test('an alarm without action, a topic policy without CloudWatch, a key without CloudWatch', () => {
    const noAction = broken((x) => {
      for (const r of Object.values(x.Resources)) if (r.Type === 'AWS::CloudWatch::Alarm') delete r.Properties.AlarmActions;
    });
    expect(alarmDeliveryProblems(noAction)).toHaveLength(4);
    const noTopicPolicy = broken((x) => {
      for (const r of Object.values(x.Resources)) {
        if (r.Type === 'AWS::SNS::TopicPolicy') r.Properties.PolicyDocument.Statement = r.Properties.PolicyDocument.Statement.filter((s: Statement) => !servicePrincipals(s).includes('cloudwatch.amazonaws.com'));
      }
    });
    expect(alarmDeliveryProblems(noTopicPolicy)).toEqual(expect.arrayContaining([expect.stringContaining('does not let cloudwatch.amazonaws.com publish')]));
    const noKey = broken((x) => {
      queueKey(x).Properties.KeyPolicy.Statement = queueKey(x).Properties.KeyPolicy.Statement.filter((s: Statement) => !servicePrincipals(s).includes('cloudwatch.amazonaws.com'));
    });
    expect(alarmDeliveryProblems(noKey)).toEqual(expect.arrayContaining([expect.stringContaining('does not allow cloudwatch.amazonaws.com kms:Decrypt')]));
  });
});

describe('DMS account roles (dms-vpc-role, dms-cloudwatch-logs-role)', () => {
  test('created on request: fixed names DMS requires, DMS trust, the AWS managed policies, retained; the subnet group and replication wait for them', () => {
    const t = synth({ source: SOURCE, bridge: { createDmsAccountRoles: true } });
    const roles = Object.entries(t.Resources).filter(([, r]) => r.Type === 'AWS::IAM::Role' && typeof r.Properties.RoleName === 'string');
    const byName = Object.fromEntries(roles.map(([id, r]) => [r.Properties.RoleName, { id, r }]));
    expect(Object.keys(byName).sort()).toEqual(['dms-cloudwatch-logs-role', 'dms-vpc-role']);
    for (const [name, policy] of [['dms-vpc-role', 'AmazonDMSVPCManagementRole'], ['dms-cloudwatch-logs-role', 'AmazonDMSCloudWatchLogsRole']]) {
      const { r } = byName[name];
      expect(r.Properties.AssumeRolePolicyDocument.Statement).toEqual([{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'dms.amazonaws.com' } }]);
      expect(JSON.stringify(r.Properties.ManagedPolicyArns)).toContain(`:iam::aws:policy/service-role/${policy}`);
      expect(r.DeletionPolicy).toBe('Retain');
      expect(r.UpdateReplacePolicy).toBe('Retain');
    }
    const subnetGroup = Object.values(t.Resources).find((r) => r.Type === 'AWS::DMS::ReplicationSubnetGroup')!;
    expect(subnetGroup.DependsOn).toEqual(expect.arrayContaining([byName['dms-vpc-role'].id]));
    const replication = Object.values(t.Resources).find((r) => r.Type === 'AWS::DMS::ReplicationConfig')!;
    expect(replication.DependsOn).toEqual(expect.arrayContaining([byName['dms-cloudwatch-logs-role'].id]));
  });

  test('not created by default (account-wide names; the README says how to check for and create them)', () => {
    const t = synth({ source: SOURCE });
    expect(JSON.stringify(t)).not.toMatch(/dms-vpc-role|dms-cloudwatch-logs-role/);
  });

  test('asking for them without a DMS source is refused', () => {
    expect(() => synth({ bridge: { createDmsAccountRoles: true } })).toThrow(/createDmsAccountRoles needs source/);
  });

  test('cdk-nag is clean with the roles', () => {
    expect(nagFindings((a) => new DsqlBridgeStack(a, 'DbOpsDsqlBridge', { env: ENV, source: SOURCE, bridge: { createDmsAccountRoles: true } }))).toEqual([]);
  });
});
