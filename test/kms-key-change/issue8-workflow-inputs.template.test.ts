/**
 * Issue 8: the workflow's equivalents of the CLI's --no-freeze and --writes-since-cutover-stay-in-copy
 * are explicit execution-input fields named after what the operator gives up; they are recorded in the
 * run state (with the time) and in finalize's report, and the rollback's first task receives the
 * execution input (template).
 *
 * This file: the template side (synthesizes the stack); the runtime side is in issue8-workflow-inputs.test.ts.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { KmsKeyChangeStack } from '../../lib/kms-key-change';
import { render } from '../kit/iam';
import { testApp } from '../helpers/app';

test('template: the rollback\'s first task gets the execution input; the other rollback tasks only the state', () => {
  const t = Template.fromStack(
    new KmsKeyChangeStack(testApp(), 'DbOpsKmsKeyChange', {
      env: { account: '123456789012', region: 'us-east-1' },
      dbInstanceIdentifier: 'orders',
      sourceKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/1111aaaa-2222-bbbb-3333-cccc4444dddd',
      targetKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/5555eeee-6666-ffff-7777-888899990000',
    }),
  ).toJSON() as any;
  const sm = Object.values(t.Resources).find((r: any) => r.Type === 'AWS::StepFunctions::StateMachine') as any;
  const states = JSON.parse(render(sm.Properties.DefinitionString)).States;
  expect(states.RollbackMoveNewAside.Parameters).toEqual({ step: 'rollbackRenameNew', 'state.$': '$.state', 'input.$': '$' });
  expect(states.RollbackRestoreSourceName.Parameters).toEqual({ step: 'rollbackRenameSource', 'state.$': '$.state' });
});
