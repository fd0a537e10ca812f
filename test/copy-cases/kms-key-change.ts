import { CopyCase } from '../helpers/copy-app';

/**
 * Kit layout; a cluster, blue/green method, a faster poll and the app's own target key.
 * The pattern has no VPC (it calls the RDS and KMS APIs only).
 */
export const copyCase: CopyCase = {
  pattern: 'kms-key-change',
  folders: ['lib/kms-key-change', 'lambda/kms-key-change', 'lambda/shared'],
  appSource: `
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { KmsKeyChangeWorkflow } from './lib/kms-key-change';
const app = new App();
const stack = new Stack(app, 'CopiedKmsKeyChange', { env: { account: '123456789012', region: 'eu-west-1' } });
const targetKey = new kms.Key(stack, 'NewKey', { enableKeyRotation: true });
new KmsKeyChangeWorkflow(stack, 'Rekey', {
  dbClusterIdentifier: 'ledger',
  sourceKey: kms.Key.fromKeyArn(stack, 'OldKey', 'arn:aws:kms:eu-west-1:123456789012:key/1111aaaa-2222-bbbb-3333-cccc4444dddd'),
  targetKey,
  method: 'blue-green',
  pollInterval: Duration.seconds(30),
  logRetention: logs.RetentionDays.ONE_MONTH,
});
app.synth();
`,
  check(templates) {
    const t = templates.CopiedKmsKeyChange;
    const res = Object.values<any>(t.Resources);
    expect(res.map((r) => r.Type)).toEqual(expect.arrayContaining(['AWS::StepFunctions::StateMachine', 'AWS::Lambda::Function', 'AWS::SNS::Topic', 'AWS::KMS::Key']));
    const fn = res.find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.REKEY_KIND);
    expect(fn.Properties.Runtime).toBe('nodejs22.x');
    expect(fn.Properties.Environment.Variables).toMatchObject({ REKEY_KIND: 'cluster', REKEY_SOURCE_ID: 'ledger', REKEY_METHOD: 'blue-green' });
    const sm = res.find((r) => r.Type === 'AWS::StepFunctions::StateMachine');
    expect(JSON.stringify(sm.Properties.DefinitionString)).toContain('waitForTaskToken');
    expect(res.filter((r) => r.Type === 'AWS::Logs::LogGroup').map((r) => r.Properties.RetentionInDays)).toContain(30);
  },
};
