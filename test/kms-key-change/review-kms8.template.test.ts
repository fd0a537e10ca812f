/**
 * Review of the issue-8 branch (kms8): inputs an operator with an existing estate brings.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { KmsKeyChangeStack } from '../../lib/kms-key-change';
import { testApp } from '../helpers/app';
import { render } from '../kit/iam';

const KEYS = {
  sourceKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/1111aaaa-2222-bbbb-3333-cccc4444dddd',
  targetKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/5555eeee-6666-ffff-7777-888899990000',
};
const synth = (props: Record<string, unknown>) =>
  Template.fromStack(new KmsKeyChangeStack(testApp(), 'DbOpsKmsKeyChange', { env: { account: '123456789012', region: 'us-east-1' }, ...KEYS, ...props } as never)).toJSON() as any;
const statements = (t: any): any[] =>
  Object.values(t.Resources)
    .filter((r: any) => r.Type === 'AWS::IAM::Policy')
    .flatMap((r: any) => JSON.parse(render(r.Properties.PolicyDocument)).Statement);

// RDS stores identifiers in lower case ("This parameter is stored as a lowercase string",
// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html), so the ARN of
// "Orders" is ...:db:orders, and IAM matches Resource ARNs case-sensitively
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html).
test.each([
  ['instance', { dbInstanceIdentifier: 'Orders' }, 'db'],
  ['cluster', { dbClusterIdentifier: 'Orders-Cl' }, 'cluster'],
])('%s given in mixed case: the IAM ARNs, the run tag value and the function environment use the lower-case identifier RDS reports', (_k, props, type) => {
  const t = synth(props);
  const id = Object.values(props)[0].toLowerCase();
  const st = statements(t);
  const tagOnSource = st.find((s) => s.Sid === 'RunTagOnSource');
  const resources = [tagOnSource.Resource].flat().map((r: unknown) => render(r));
  expect(resources[0]).toMatch(new RegExp(`:${type}:${id}$`));
  expect(resources.slice(1)).toEqual(resources.slice(1).map(() => expect.stringMatching(new RegExp(`:${type}:${id}-pre-rekey-\\*$`))));
  expect(tagOnSource.Condition.StringEquals['aws:RequestTag/db-ops-kit:rekey-source']).toBe(id);
  expect(JSON.stringify(st)).not.toMatch(/Orders/);
  const fns = Object.values(t.Resources).filter((r: any) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.REKEY_SOURCE_ID) as any[];
  expect(fns.length).toBeGreaterThan(0);
  for (const f of fns) expect(f.Properties.Environment.Variables.REKEY_SOURCE_ID).toBe(id);
});
