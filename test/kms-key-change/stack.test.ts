import { testApp } from '../helpers/app';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Stack } from 'aws-cdk-lib';
import { buildApp } from '../../bin/db-ops-kit';
import { KmsKeyChangeStack, KmsKeyChangeStackProps, KmsKeyChangeWorkflow } from '../../lib/kms-key-change';
import { nagFindings } from '../helpers/nag';

const env = { account: '123456789012', region: 'us-east-1' };
const SRC = 'arn:aws:kms:us-east-1:123456789012:key/1111aaaa-2222-bbbb-3333-cccc4444dddd';
const TGT = 'arn:aws:kms:us-east-1:123456789012:key/5555eeee-6666-ffff-7777-888899990000';
const base: KmsKeyChangeStackProps = { env, dbInstanceIdentifier: 'orders-db', sourceKeyArn: SRC, targetKeyArn: TGT, passRoleArns: ['arn:aws:iam::123456789012:role/rds-monitoring'] };

function synth(props: Partial<KmsKeyChangeStackProps> = {}): Template {
  const app = testApp();
  return Template.fromStack(new KmsKeyChangeStack(app, 'DbOpsKmsKeyChange', { ...base, ...props }));
}

/** All IAM statements of all policies, flattened, resolved. */
function statements(t: Template): Array<{ Sid?: string; Action: string | string[]; Resource: unknown; Condition?: unknown }> {
  return Object.values(t.findResources('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
}
const actionsOf = (s: { Action: string | string[] }) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('DbOpsKmsKeyChange (instance, snapshot method)', () => {
  const t = synth();

  test('state machine: tracing on, ALL logs to an encrypted log group with retention, execution data off', () => {
    t.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false, Destinations: Match.anyValue() },
    });
    const groups = t.findResources('AWS::Logs::LogGroup');
    expect(Object.keys(groups)).toHaveLength(3); // workflow, Steps function, Poll function
    for (const g of Object.values(groups) as any[]) {
      expect(g.Properties.RetentionInDays).toBe(365);
      expect(g.Properties.KmsKeyId).toBeDefined();
      expect(g.DeletionPolicy).toBe('Retain');
    }
  });

  test('topics are encrypted with a rotating customer managed key and enforce TLS', () => {
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    const topics = t.findResources('AWS::SNS::Topic');
    expect(Object.keys(topics)).toHaveLength(2);
    for (const tp of Object.values(topics) as any[]) expect(tp.Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/NotificationKey/), 'Arn'] });
    t.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('function: nodejs22.x, arm64, X-Ray, configured for exactly this database and key', () => {
    t.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      Environment: { Variables: Match.objectLike({ REKEY_KIND: 'instance', REKEY_SOURCE_ID: 'orders-db', REKEY_TARGET_KEY_ARN: TGT, REKEY_METHOD: 'snapshot' }) },
    });
  });

  test('failed, timed-out and aborted executions reach the failure topic through EventBridge (with an encrypted DLQ)', () => {
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.states'], 'detail-type': ['Step Functions Execution Status Change'], detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [{ Ref: Match.stringLikeRegexp('StateMachine') }] } },
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('FailureTopic') }, DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('FailureNotificationDlq'), 'Arn'] } }, InputTransformer: Match.anyValue() })],
    });
    t.hasResourceProperties('AWS::SQS::Queue', { KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('NotificationKey'), 'Arn'] } });
  });

  test('definition: polling with Wait/Choice, approval by task token before cutover, uncaught failures (redrivable)', () => {
    const sm = Object.values(t.findResources('AWS::StepFunctions::StateMachine'))[0] as any;
    const def = JSON.stringify(sm.Properties.DefinitionString);
    for (const state of ['Preflight', 'SnapshotSource', 'SnapshotSourceWait', 'SnapshotSourceCheck', 'SnapshotSourceDone?', 'CopyWithTargetKey', 'Restore', 'ApplySettings', 'Verify', 'ParityClean?', 'CutoverRequested?', 'ApproveCutover', 'RenameSource', 'RenameNew', 'Finalize', 'NotifyParityNotClean']) {
      expect(def).toContain(`\\"${state}\\"`);
    }
    expect(def).toContain('sns:publish.waitForTaskToken');
    expect(def).toContain('\\"Type\\":\\"Wait\\"');
    expect(def).not.toContain('ShareSnapshot');
    expect(def).not.toContain('aws-sdk:');
    expect(def).toContain('\\"JitterStrategy\\":\\"FULL\\"');
    // No Catch on the steps: a failure stops the execution at the failed step, which redrive resumes.
    expect(def).not.toContain('\\"Catch\\"');
  });

  test('definition: a cutover run confirms writes are stopped BEFORE the snapshot; both gates need {"approved": true}', () => {
    const sm = Object.values(t.findResources('AWS::StepFunctions::StateMachine'))[0] as any;
    const asl = JSON.parse(sm.Properties.DefinitionString['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'arn:placeholder')).join(''));
    const st = asl.States;
    expect(st.Preflight.Next).toBe('CutoverRun?');
    expect(st['CutoverRun?'].Choices).toEqual([{ Variable: '$.state.cutoverRequested', BooleanEquals: true, Next: 'WritesFreezeOptedOut?' }]);
    expect(st['CutoverRun?'].Default).toBe('FreezeSource');
    // A run started with the freeze opt-out gets a gate message that says there is no kit freeze.
    expect(st['WritesFreezeOptedOut?'].Choices).toEqual([{ Variable: '$.state.freezeOptOut', IsPresent: true, Next: 'ConfirmWritesStoppedNoFreeze' }]);
    expect(st['WritesFreezeOptedOut?'].Default).toBe('ConfirmWritesStopped');
    expect(st['CutoverRequested?'].Choices[0].Next).toBe('CutoverFreezeOptedOut?');
    expect(st['CutoverFreezeOptedOut?'].Choices).toEqual([{ Variable: '$.state.freezeOptOut', IsPresent: true, Next: 'ApproveCutoverNoFreeze' }]);
    expect(st['CutoverFreezeOptedOut?'].Default).toBe('ApproveCutover');
    for (const gate of ['ConfirmWritesStopped', 'ConfirmWritesStoppedNoFreeze']) {
      expect(st[gate].Resource).toMatch(/sns:publish\.waitForTaskToken$/);
      expect(st[gate].Next).toBe('WritesStoppedConfirmed?');
    }
    expect(st.ConfirmWritesStopped.Parameters.Message.approve).toMatch(/the kit FREEZES the source/);
    expect(st.ConfirmWritesStoppedNoFreeze.Parameters.Message.approve).toMatch(/^Preflight passed\. NO KIT FREEZE/);
    expect(st.ConfirmWritesStoppedNoFreeze.Parameters.Message.approve).not.toMatch(/FREEZES/);
    expect(st.ApproveCutoverNoFreeze.Next).toBe('CutoverApproved?');
    expect(st.ApproveCutoverNoFreeze.Parameters.Message.approve).not.toMatch(/froze|freeze still holds/);
    expect(st.ApproveCutoverNoFreeze.Parameters.Message['freezeOptOut.$']).toBe('$.state.freezeOptOut');
    expect(st['WritesStoppedConfirmed?'].Choices[0].Next).toBe('FreezeSource');
    expect(st['FreezeSourceDone?'].Choices[0].Next).toBe('SnapshotSource');
    expect(st[st['WritesStoppedConfirmed?'].Default].Type).toBe('Fail');
    expect(st.ApproveCutover.Next).toBe('CutoverApproved?');
    expect(st['CutoverApproved?'].Choices[0]).toEqual({ And: [{ Variable: '$.approval.approved', IsPresent: true }, { Variable: '$.approval.approved', BooleanEquals: true }], Next: 'RenameSource' });
    expect(st[st['CutoverApproved?'].Default].Type).toBe('Fail');
    expect(st.ApproveCutover.Parameters.Message['dataAsOf.$']).toBe('$.state.snapshotStartedAt');
  });

  test('IAM: writes scoped to the named database, its -rekey- names and the two keys; no delete', () => {
    const st = statements(t);
    const all = st.flatMap(actionsOf);
    expect(all.filter((a) => /^rds:Delete|^kms:(ScheduleKeyDeletion|Disable)/.test(a))).toEqual([]);
    // The snapshot: of a run-tagged database, into a snapshot tagged at creation (no name prefix on databases).
    const of = st.find((s) => s.Sid === 'SnapshotOfRunSource')!;
    expect(of.Resource).toEqual({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':rds:us-east-1:123456789012:db:*']] });
    expect(of.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/db-ops-kit:rekey-source': 'orders-db' } });
    const into = st.find((s) => s.Sid === 'SnapshotTaggedAtCreate')!;
    expect(into.Resource).toEqual({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':rds:us-east-1:123456789012:snapshot:orders-db-rekey-*']] });
    expect(into.Condition).toEqual({ StringEquals: { 'aws:RequestTag/db-ops-kit:rekey-source': 'orders-db' } });
    const keys = st.find((s) => s.Sid === 'KeysUseThroughRds')!;
    expect(keys.Resource).toEqual([SRC, TGT]);
    expect(keys.Condition).toEqual({ StringLike: { 'kms:ViaService': ['rds.us-east-1.amazonaws.com'] } });
    const pass = st.find((s) => s.Sid === 'PassMonitoringAndFeatureRoles')!;
    expect(pass.Resource).toBe('arn:aws:iam::123456789012:role/rds-monitoring');
    // Only read-only RDS calls, X-Ray and Step Functions' vended log delivery are allowed on every resource.
    const star = st.filter((s) => s.Resource === '*').flatMap(actionsOf);
    // ... plus the freeze's read-back (security groups and DatabaseConnections support no resource scoping).
    expect(star.filter((a) => !/^(rds:Describe|ec2:DescribeSecurityGroups$|cloudwatch:GetMetricStatistics$|xray:|logs:(Create|Get|Update|Delete|List)LogDeliver|logs:(Put|Describe)ResourcePolic|logs:DescribeLogGroups)/.test(a))).toEqual([]);
  });

  test('IAM: finalize may tag every run-tagged resource (also the copy under the original name), only with the kit\'s tag keys', () => {
    const tag = statements(t).find((s) => s.Sid === 'TagRunResources')!;
    expect(JSON.stringify(tag.Resource)).toMatch(/:db:\*"/);
    expect(tag.Condition).toEqual({
      StringEquals: { 'aws:ResourceTag/db-ops-kit:rekey-source': 'orders-db', 'aws:RequestTag/db-ops-kit:rekey-source': 'orders-db' },
      'ForAllValues:StringEquals': { 'aws:TagKeys': ['db-ops-kit:rekey-run', 'db-ops-kit:rekey-source', 'db-ops-kit:rekey-role', 'db-ops-kit:rekey-kept'] },
    });
  });

  test('snapshot', () => {
    expect(t.toJSON()).toMatchSnapshot();
  });
});

describe('variants', () => {
  test('cluster: cluster snapshot actions; blue-green: CreateBlueGreenDeployment, no approval-less cutover', () => {
    const c = synth({ dbInstanceIdentifier: undefined, dbClusterIdentifier: 'ledger' });
    const acts = statements(c).flatMap(actionsOf);
    expect(acts).toEqual(expect.arrayContaining(['rds:CreateDBClusterSnapshot', 'rds:RestoreDBClusterFromSnapshot', 'rds:CreateDBInstance']));
    expect(acts).not.toContain('rds:CreateDBSnapshot');
    const bg = synth({ method: 'blue-green' });
    const def = JSON.stringify((Object.values(bg.findResources('AWS::StepFunctions::StateMachine'))[0] as any).Properties.DefinitionString);
    expect(def).toContain('CreateBlueGreen');
    expect(def).toContain('Switchover');
    expect(def).not.toContain('RenameSource');
    // Blue/green keeps serving writes until the switchover: no writes-stopped gate before it.
    expect(def).not.toContain('ConfirmWritesStopped');
    expect(statements(bg).flatMap(actionsOf)).toContain('rds:CreateBlueGreenDeployment');
    // Green resources are named by RDS; the user guide allows only * (no name prefix) for them.
    const bgst = statements(synth({ method: 'blue-green', dbInstanceIdentifier: undefined, dbClusterIdentifier: 'ledger' }));
    const bgc = bgst.find((x) => x.Sid === 'BlueGreenDependentActions')!;
    expect(actionsOf(bgc)).toEqual(expect.arrayContaining(['rds:CreateDBClusterEndpoint', 'rds:PromoteReadReplicaDBCluster']));
    // What the function calls itself is scoped by the run tag.
    expect(bgst.find((x) => x.Sid === 'SwitchoverRunDeployment')!.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/db-ops-kit:rekey-source': 'ledger' } });
    expect(JSON.stringify(bgc.Resource)).toContain(':rds:us-east-1:123456789012:cluster:*');
    expect(JSON.stringify(bgc.Resource)).not.toContain('ledger-*');
  });

  test('cross-Region: no cutover branch; copy allowed in both Regions; share: ends after sharing', () => {
    const x = synth({ targetRegion: 'us-west-2', targetKeyArn: TGT.replace('us-east-1', 'us-west-2'), targetSecurityGroupIds: ['sg-0abc'] });
    const def = JSON.stringify((Object.values(x.findResources('AWS::StepFunctions::StateMachine'))[0] as any).Properties.DefinitionString);
    expect(def).not.toContain('ApproveCutover');
    const copy = statements(x).find((s) => s.Sid === 'CopyWithTargetKey')!;
    expect(JSON.stringify(copy.Resource)).toContain('us-west-2');
    const sh = synth({ shareWithAccount: '210987654321' });
    const sdef = JSON.stringify((Object.values(sh.findResources('AWS::StepFunctions::StateMachine'))[0] as any).Properties.DefinitionString);
    expect(sdef).toContain('ShareSnapshot');
    expect(sdef).not.toContain('Restore');
    expect(statements(sh).flatMap(actionsOf)).toContain('rds:ModifyDBSnapshotAttribute');
  });

  test('notification key: CreateGrant denied unless for an AWS resource (Control Tower CT.KMS.PR.3)', () => {
    const key = Object.values(synth().findResources('AWS::KMS::Key'))[0] as any;
    expect(key.Properties.KeyPolicy.Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 'kms:CreateGrant',
        Principal: { AWS: '*' },
        Condition: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
      }),
    );
  });

  test('failure DLQ: no queue may redrive into it; topic policy lets EventBridge publish only for the failure rule', () => {
    const t = synth();
    const [dlq] = Object.values(t.findResources('AWS::SQS::Queue')) as any[];
    expect(dlq.Properties.RedriveAllowPolicy).toEqual({ redrivePermission: 'denyAll' });
    const [ruleId] = Object.keys(t.findResources('AWS::Events::Rule'));
    const topicStatements = Object.values(t.findResources('AWS::SNS::TopicPolicy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const events = topicStatements.filter((st: any) => st.Principal?.Service === 'events.amazonaws.com');
    expect(events).toHaveLength(1);
    expect(events[0].Condition).toEqual({ ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ruleId, 'Arn'] } }, StringEquals: { 'aws:SourceAccount': '123456789012' } });
    const keyStatements = (Object.values(t.findResources('AWS::KMS::Key'))[0] as any).Properties.KeyPolicy.Statement;
    const keyForEvents = keyStatements.filter((st: any) => st.Principal?.Service === 'events.amazonaws.com');
    expect(keyForEvents).toHaveLength(1);
    expect(keyForEvents[0].Condition).toEqual({ StringEquals: { 'aws:SourceAccount': '123456789012' } });
  });

  test('share variant publishes to no topic, so the state machine gets no notification-key permissions', () => {
    const keyActions = (tpl: Template) => {
      const smRole = Object.keys(tpl.findResources('AWS::IAM::Role')).find((id) => /StateMachineRole/.test(id))!;
      const pol = Object.values(tpl.findResources('AWS::IAM::Policy')).find((p: any) => p.Properties.Roles.some((r: any) => r.Ref === smRole)) as any;
      return pol.Properties.PolicyDocument.Statement.filter((st: any) => JSON.stringify(st.Resource).includes('NotificationKey')).flatMap(actionsOf);
    };
    expect(keyActions(synth())).toEqual(expect.arrayContaining(['kms:GenerateDataKey', 'kms:Decrypt']));
    expect(keyActions(synth({ shareWithAccount: '210987654321' }))).toEqual([]);
  });

  test('cdk-nag: no unacknowledged findings for instance, cluster, blue-green and cross-Region', () => {
    expect(
      nagFindings((app) => {
        new KmsKeyChangeStack(app, 'Instance', base);
        new KmsKeyChangeStack(app, 'Cluster', { ...base, dbInstanceIdentifier: undefined, dbClusterIdentifier: 'ledger', passRoleArns: [] });
        new KmsKeyChangeStack(app, 'BlueGreen', { ...base, method: 'blue-green' });
        new KmsKeyChangeStack(app, 'CrossRegion', { ...base, targetRegion: 'us-west-2', targetKeyArn: TGT.replace('us-east-1', 'us-west-2'), targetSecurityGroupIds: ['sg-0abc'] });
        new KmsKeyChangeStack(app, 'Share', { ...base, shareWithAccount: '210987654321' });
      }),
    ).toEqual([]);
  });
});

describe('validation', () => {
  const key = (s: Stack, id: string, arn = TGT) => kms.Key.fromKeyArn(s, id, arn);
  test('collects every bad prop and throws once with the construct path', () => {
    const s = new Stack(testApp(), 'S', { env });
    expect(() =>
      new KmsKeyChangeWorkflow(s, 'W', {
        dbInstanceIdentifier: 'a',
        dbClusterIdentifier: 'b',
        sourceKey: key(s, 'K1', SRC),
        targetKey: key(s, 'K2', TGT.replace('us-east-1', 'eu-west-1')),
        method: 'blue-green',
        shareWithAccount: '12',
      }),
    ).toThrow(/S\/W: invalid KmsKeyChangeWorkflow props:\n {2}- pass exactly one of dbInstanceIdentifier and dbClusterIdentifier\n {2}- shareWithAccount must be a 12-digit account id\n {2}- blue-green works within one Region.*\n {2}- targetKey is in eu-west-1 but the copy is restored in us-east-1/);
  });

  test('grants: start, redrive, approve, notifications', () => {
    const s = new Stack(testApp(), 'S', { env });
    const wf = new KmsKeyChangeWorkflow(s, 'W', { dbInstanceIdentifier: 'orders', sourceKey: key(s, 'A', SRC), targetKey: key(s, 'B') });
    const op = new iam.Role(s, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
    wf.grantStartExecution(op);
    wf.grantRedrive(op);
    wf.grantApprove(op);
    wf.grantNotifications(op);
    const acts = statements(Template.fromStack(s)).flatMap(actionsOf);
    expect(acts).toEqual(expect.arrayContaining(['states:StartExecution', 'states:RedriveExecution', 'states:SendTaskSuccess', 'states:SendTaskFailure', 'sns:Subscribe', 'kms:Decrypt']));
  });

  test('bad identifier and security groups without targetRegion', () => {
    const s = new Stack(testApp(), 'S', { env });
    expect(() => new KmsKeyChangeWorkflow(s, 'W', { dbInstanceIdentifier: 'bad--name', sourceKey: key(s, 'A', SRC), targetKey: key(s, 'B'), targetSecurityGroupIds: ['sg-1'] })).toThrow(
      /not an RDS identifier[\s\S]*targetSecurityGroupIds applies only with targetRegion/,
    );
  });

  test('an identifier too long for <id>-pre-rekey-<14 digits> (63 max) fails synth', () => {
    const s = new Stack(testApp(), 'S', { env });
    expect(() => new KmsKeyChangeWorkflow(s, 'W', { dbInstanceIdentifier: 'a'.repeat(39), sourceKey: key(s, 'A', SRC), targetKey: key(s, 'B') })).toThrow(/at most 38 characters/);
    expect(`${'a'.repeat(38)}-pre-rekey-20261130030405`).toHaveLength(63);
    expect(() => new KmsKeyChangeWorkflow(new Stack(testApp(), 'T', { env }), 'W', { dbInstanceIdentifier: 'a'.repeat(38), sourceKey: key(s, 'C', SRC), targetKey: key(s, 'D') })).not.toThrow();
  });

  test('bin: context errors name each bad key', () => {
    const app = testApp({
      context: {
        'db-ops-kit:patterns': 'kmsKeyChange',
        'kmsKeyChange:region': 'us-east-1',
        'kmsKeyChange:dbInstanceIdentifier': 'orders-db',
        'kmsKeyChange:dbClusterIdentifier': 'ledger',
        'kmsKeyChange:sourceKeyArn': 'alias/old',
        'kmsKeyChange:targetKeyArn': TGT,
        'kmsKeyChange:method': 'magic',
      },
    });
    expect(() => buildApp(app)).toThrow(/kmsKeyChange:dbClusterIdentifier" has the invalid value "ledger"[\s\S]*kmsKeyChange:sourceKeyArn" has the invalid value "alias\/old"[\s\S]*kmsKeyChange:method" has the invalid value "magic"/);
  });
});
