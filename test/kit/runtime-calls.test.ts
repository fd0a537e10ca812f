/**
 * IAM coverage at run time, for the calls whose resource and tags only exist at run time: pattern 2's
 * Lambda steps are run (the real code in lambda/kms-key-change) with SDK clients answered by
 * aws-sdk-client-mock (no RDS emulator returns the state after a cutover: moto ignores TargetKmsKeyId),
 * every command they send is recorded with its input, turned into an IAM request (action, resource
 * ARN, aws:TagKeys) and evaluated against the Steps role of the synthesized default stack
 * (test/kit/iam.ts evaluate()). The requests come from running the code, not from a hand list.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { DescribeDBInstancesCommand, ListTagsForResourceCommand, RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { LOCK_TAG } from '../../lambda/kms-key-change/lock';
import { newState, RekeyState } from '../../lambda/kms-key-change/state';
import * as steps from '../../lambda/kms-key-change/steps';
import { EXCEPTIONS } from './exceptions';
import { expectReconciled, Finding, reconcile } from './findings';
import { evaluate, IamRequest, roleStatements, Statement } from './iam';
import { cloneTemplate, kitStacks } from './stacks';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const SOURCE = 'orders-db'; // kmsKeyChange:dbInstanceIdentifier in cdk.json (the default variant)
const rds = mockClient(RDSClient);
mockClient(KMSClient);

/**
 * The RDS ARN a command acts on, the tag keys and values it sends (aws:TagKeys, aws:RequestTag/<key>) and
 * the run tag the resource carries (aws:ResourceTag/db-ops-kit:rekey-source): every resource finalize
 * tags is one of the run's (the source got the run tag with the lock, the run's creates carried it).
 */
function requestOf(name: string, input: Record<string, any>): IamRequest {
  const op = name.replace(/Command$/, '');
  const resource = input.ResourceName ?? `arn:aws:rds:${REGION}:${ACCOUNT}:db:${input.DBInstanceIdentifier ?? '*'}`;
  const tags = input.Tags as Array<{ Key: string; Value: string }> | undefined;
  const keys = input.TagKeys ?? tags?.map((t) => t.Key);
  const context: Record<string, string[]> = { 'aws:ResourceTag/db-ops-kit:rekey-source': [SOURCE] };
  if (keys) context['aws:TagKeys'] = keys;
  for (const t of tags ?? []) context[`aws:RequestTag/${t.Key}`] = [t.Value];
  return { action: `rds:${op}`, resource, context };
}

/** State of a same-Region snapshot run right after cutover: the copy carries the original name. */
function afterCutover(): RekeyState {
  const s = newState({ kind: 'instance', sourceId: SOURCE, kmsKey: 'k', region: REGION, now: new Date('2026-11-30T03:04:05Z') });
  const run = s.runId;
  return {
    ...s,
    account: ACCOUNT,
    lastStep: 'checkRenameTarget',
    names: { sourceSnapshot: `${SOURCE}-rekey-${run}-src`, copySnapshot: `${SOURCE}-rekey-${run}-new`, newId: `${SOURCE}-rekey-${run}`, preRekeyId: `${SOURCE}-pre-rekey-${run}` } as any,
    artifacts: [
      { type: 'db-snapshot', id: `${SOURCE}-rekey-${run}-src`, region: REGION, role: 'snapshot of the source (source key)' },
      { type: 'db-snapshot', id: `${SOURCE}-rekey-${run}-new`, region: REGION, role: 'copy encrypted with the target key' },
      { type: 'db-instance', id: SOURCE, region: REGION, role: 'new instance on the target key, now under the original name' },
      { type: 'db-instance', id: `${SOURCE}-pre-rekey-${run}`, region: REGION, role: 'the original source, renamed (old key, kept)' },
    ],
  };
}

async function recordFinalize(): Promise<IamRequest[]> {
  rds.reset();
  const s = afterCutover();
  rds.resolves({}); // every other command succeeds (first: later, more specific answers take precedence)
  rds.on(ListTagsForResourceCommand).resolves({ TagList: [{ Key: LOCK_TAG, Value: s.runId }] });
  rds.on(DescribeDBInstancesCommand).callsFake((input) => ({ DBInstances: [{ DBInstanceIdentifier: input.DBInstanceIdentifier, DBInstanceArn: `arn:aws:rds:${REGION}:${ACCOUNT}:db:${input.DBInstanceIdentifier}` }] }));
  const c = { rds: new RDSClient({ region: REGION }), kms: new KMSClient({ region: REGION }) } as any;
  c.targetRds = c.rds;
  c.targetKms = c.kms;
  await steps.finalize(c, s);
  return rds.calls().map((call) => requestOf((call.args[0] as any).constructor.name, (call.args[0] as any).input));
}

function deniedFindings(statements: Statement[], reqs: IamRequest[]): Finding[] {
  const out = new Map<string, Finding>();
  for (const r of reqs) {
    const v = evaluate(statements, r, { account: ACCOUNT, region: REGION });
    if (!v.allowed) {
      const f: Finding = {
        check: 'iam-runtime',
        rule: `denied-at-runtime ${r.action}`,
        resource: 'DbOpsKmsKeyChange/KmsKeyChangeStepsD8DD4B4A',
        detail: `finalize: ${r.action} on ${r.resource} with aws:TagKeys=${JSON.stringify(r.context['aws:TagKeys'] ?? [])} is denied: ${v.why}`,
      };
      out.set(`${f.rule} ${r.resource}`, f);
    }
  }
  return [...out.values()];
}

const stack = kitStacks().find((s) => s.id === 'default/DbOpsKmsKeyChange')!;
const roleId = Object.entries(stack.template.Resources).find(([, r]) => r.Type === 'AWS::Lambda::Function' && /Steps/.test(JSON.stringify(r.Properties!.Role)))![1].Properties!.Role['Fn::GetAtt'][0];

test('the finalize step ran and sent tag requests (the probe sees the code)', async () => {
  const reqs = await recordFinalize();
  expect(reqs.filter((r) => r.action === 'rds:AddTagsToResource').length).toBe(4);
  expect(reqs.filter((r) => r.action === 'rds:RemoveTagsFromResource').length).toBeGreaterThanOrEqual(1);
});

test("every request pattern 2's finalize sends is allowed by the Steps role (or listed in test/kit/exceptions.ts)", async () => {
  const findings = deniedFindings(roleStatements(stack.template, roleId), await recordFinalize());
  // One finding per rule and function: merge the resources into the detail.
  const merged = new Map<string, Finding>();
  for (const f of findings) {
    const k = `${f.rule} ${f.resource}`;
    const m = merged.get(k);
    merged.set(k, m ? { ...m, detail: `${m.detail}; ${f.detail}` } : f);
  }
  expectReconciled(reconcile('iam-runtime', [...merged.values()], EXCEPTIONS));
});

test('a deliberately broken template fails: without the TagRunResources statement the tags on the kept copies are denied', async () => {
  const t = cloneTemplate(stack.template);
  for (const r of Object.values(t.Resources)) {
    if (r.Type === 'AWS::IAM::Policy') r.Properties!.PolicyDocument.Statement = r.Properties!.PolicyDocument.Statement.filter((s: any) => s.Sid !== 'TagRunResources');
  }
  const found = deniedFindings(roleStatements(t, roleId), await recordFinalize());
  // The copy under the original name and the renamed original (the snapshots are also covered by tag-on-create).
  expect(found.map((f) => f.detail).join('\n')).toMatch(/db:orders-db with/);
  expect(found.map((f) => f.detail).join('\n')).toMatch(/db:orders-db-pre-rekey-\d+ with/);
});

test('the evaluator honours ForAllValues:StringEquals on aws:TagKeys and explicit Deny', () => {
  const st: Statement[] = [{ Effect: 'Allow', Action: ['rds:AddTagsToResource'], Resource: ['arn:aws:rds:us-east-1:${AWS::AccountId}:db:x'], Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['lock'] } } }];
  const req = (keys: string[]): IamRequest => ({ action: 'rds:AddTagsToResource', resource: `arn:aws:rds:us-east-1:${ACCOUNT}:db:x`, context: { 'aws:TagKeys': keys } });
  const env = { account: ACCOUNT, region: REGION };
  expect(evaluate(st, req(['lock']), env).allowed).toBe(true);
  expect(evaluate(st, req(['lock', 'other']), env).allowed).toBe(false);
  expect(evaluate([...st, { Effect: 'Deny', Action: ['rds:*'], Resource: ['*'] }], req(['lock']), env)).toEqual({ allowed: false, why: 'explicit Deny' });
});
