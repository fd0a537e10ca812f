/**
 * IAM coverage (test/kit/iam.ts): every call each function's shipped code, configuration and each
 * state machine's definition makes is allowed by its role, and no role grants a write nothing calls.
 * Over every stack and prop variant; findings not fixed are listed in test/kit/exceptions.ts.
 */
import { expectReconciled, mergeVariants, reconcile } from './findings';
import { iamFindings, iamFindingsAllVariants, principals, stateMachineCalls } from './iam';
import { cloneTemplate, kitStacks } from './stacks';

const stacks = kitStacks();

test('every function and state machine of every stack has calls derived (the scan sees the code)', () => {
  const fns = stacks.flatMap((s) => principals(s).map((p) => ({ id: `${s.id}/${p.id}`, n: p.calls.length })));
  expect(fns.length).toBeGreaterThan(20);
  expect(fns.filter((f) => f.n === 0)).toEqual([]);
});

test('every call is allowed and no unused write is granted, in every stack and variant (or listed in test/kit/exceptions.ts)', () => {
  expectReconciled(reconcile('iam', mergeVariants(iamFindingsAllVariants(stacks))));
});

describe('deliberately broken templates fail', () => {
  const rds = stacks.find((s) => s.id === 'default/DbOpsRdsProxyLambda')!;
  const kms = stacks.find((s) => s.id === 'default/DbOpsKmsKeyChange')!;

  test('a statement removed: the code call it allowed is reported as denied', () => {
    const t = cloneTemplate(kms.template);
    for (const r of Object.values(t.Resources)) {
      if (r.Type !== 'AWS::IAM::Policy') continue;
      const doc = r.Properties!.PolicyDocument;
      doc.Statement = doc.Statement.filter((s: any) => s.Sid !== 'SnapshotOfRunSource' && s.Sid !== 'SnapshotTaggedAtCreate');
    }
    const rules = iamFindings({ ...kms, template: t }).map((f) => f.rule);
    expect(rules).toContain('denied rds:CreateDBSnapshot');
    expect(iamFindings(kms).map((f) => f.rule)).not.toContain('denied rds:CreateDBSnapshot');
  });

  test('a write action granted that no code calls is reported as unused', () => {
    const t = cloneTemplate(rds.template);
    // The query function's role, whatever its logical ID (the pattern names roles after the handler file).
    const fnId = Object.keys(t.Resources).find((k) => t.Resources[k].Type === 'AWS::Lambda::Function' && k.includes('QueryFunction'))!;
    const roleId: string = t.Resources[fnId].Properties!.Role['Fn::GetAtt'][0];
    const pol = Object.values(t.Resources).find((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties!.Roles).includes(roleId))!;
    pol.Properties!.PolicyDocument.Statement.push({ Effect: 'Allow', Action: 'rds:DeleteDBCluster', Resource: '*' });
    expect(iamFindings({ ...rds, template: t }).map((f) => f.rule)).toContain('unused-write rds:DeleteDBCluster');
  });

  test('a Distributed Map ResultWriter to S3 needs multipart and KMS calls: removing them from the role is reported as denied', () => {
    const dsql = stacks.find((s) => s.id === 'default/DbOpsDsqlBridge')!;
    const smId = Object.keys(dsql.template.Resources).find((k) => k.startsWith('DsqlBridgeBackfill') && dsql.template.Resources[k].Type === 'AWS::StepFunctions::StateMachine')!;
    const calls = stateMachineCalls(dsql.template, smId).map((c) => c.action);
    expect(calls).toEqual(expect.arrayContaining(['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts', 'kms:GenerateDataKey', 'kms:Decrypt']));
    const t = cloneTemplate(dsql.template);
    for (const r of Object.values(t.Resources)) {
      if (r.Type !== 'AWS::IAM::Policy') continue;
      const doc = r.Properties!.PolicyDocument;
      doc.Statement = doc.Statement.filter((st: any) => st.Sid !== 'WriteBackfillResultsWithBucketKey');
    }
    const rules = iamFindings({ ...dsql, template: t }).filter((f) => f.resource.includes('DsqlBridgeBackfill')).map((f) => f.rule);
    expect(rules).toEqual(expect.arrayContaining(['denied kms:GenerateDataKey']));
  });

  test('KMS grants scoped to another key: the dead-letter queue KMS call is denied (resource-level check)', () => {
    const dsql = stacks.find((s) => s.id === 'default/DbOpsDsqlBridge')!;
    const t = cloneTemplate(dsql.template);
    for (const r of Object.values(t.Resources)) {
      if (r.Type !== 'AWS::IAM::Policy') continue;
      for (const st of r.Properties!.PolicyDocument.Statement) {
        if (JSON.stringify(st.Action).includes('kms:')) st.Resource = 'arn:aws:kms:us-east-1:123456789012:key/another-key';
      }
    }
    const found = iamFindings({ ...dsql, template: t }).filter((f) => f.rule === 'denied kms:GenerateDataKey' && f.resource.includes('Loader'));
    expect(found.map((f) => f.detail)).toEqual(expect.arrayContaining([expect.stringContaining('DeadLetterConfig')]));
  });
});
