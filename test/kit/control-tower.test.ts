/**
 * AWS Control Tower proactive controls (the published cfn-guard rules) over every template of every
 * prop variant (test/kit/stacks.ts). Each failure is listed in test/kit/exceptions.ts with a reason or
 * as `pending: <pattern>`; anything new fails, and so does an entry no failure matches.
 * https://docs.aws.amazon.com/controltower/latest/controlreference/proactive-controls.html
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { controlTowerFindings, cfnGuardBinary } from './control-tower';
import { expectReconciled, mergeVariants, reconcile } from './findings';
import { cloneTemplate, kitStacks } from './stacks';

const stacks = kitStacks();

test('the cfn-guard binary from npm runs here', () => {
  const r = spawnSync(cfnGuardBinary(), ['--version'], { encoding: 'utf8' });
  expect(r.stdout).toMatch(/cfn-guard 3\./);
});

test('every Control Tower failure of every stack and variant is fixed or listed in test/kit/exceptions.ts', () => {
  const findings = mergeVariants(controlTowerFindings(stacks));
  expectReconciled(reconcile('control-tower', findings));
});

test('a deliberately broken template fails: an unencrypted bucket, a public-read ACL and a queue without encryption are reported', () => {
  const base = stacks.find((s) => s.id === 'default/DbOpsDsqlBridge')!;
  const t = cloneTemplate(base.template);
  t.Resources.BrokenBucket = { Type: 'AWS::S3::Bucket', Properties: { AccessControl: 'PublicRead' } };
  t.Resources.BrokenQueue = { Type: 'AWS::SQS::Queue', Properties: { SqsManagedSseEnabled: false } };
  const findings = mergeVariants(controlTowerFindings([{ ...base, variant: 'broken', template: t }]));
  const broken = findings.filter((f) => f.resource.includes('/Broken')).map((f) => `${f.rule} ${f.resource}`);
  expect(broken).toEqual(expect.arrayContaining(['CT.S3.PR.1 DbOpsDsqlBridge/BrokenBucket', 'CT.SQS.PR.2 DbOpsDsqlBridge/BrokenQueue']));
  const r = reconcile('control-tower', findings);
  expect(r.unexplained.filter((l) => l.includes('/Broken')).length).toBeGreaterThanOrEqual(2);
});

/**
 * An organisation's own cfn-guard rules: point DB_OPS_KIT_GUARD_RULES at a folder of .guard files
 * (or one file) and they run over the same templates; failures are reconciled like the Control Tower
 * ones, under check `org-rules` in test/kit/exceptions.ts (rule = a Control Tower ID `[CT.x.PR.n]:`
 * in the rule's message, else the guard rule name). See docs/security-and-compliance.md.
 */
const orgRules = process.env.DB_OPS_KIT_GUARD_RULES;
(orgRules ? test : test.skip)(`organisation rules from DB_OPS_KIT_GUARD_RULES (${orgRules ?? 'not set'}) pass or are listed in test/kit/exceptions.ts`, () => {
  const findings = mergeVariants(controlTowerFindings(stacks, orgRules).map((f) => ({ ...f, check: 'org-rules' as const })));
  expectReconciled(reconcile('org-rules', findings));
});

test('an organisation rule file runs through the same path and reports its failures', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbops-orgrules-'));
  try {
    // Example rule: every SQS queue must set a message retention period.
    fs.writeFileSync(
      path.join(dir, 'queue-retention.guard'),
      "let queues = Resources.*[ Type == 'AWS::SQS::Queue' ]\nrule org_queue_retention when %queues !empty {\n  %queues.Properties.MessageRetentionPeriod exists\n  <<\n    [ORG.SQS.1]: queues must set MessageRetentionPeriod\n  >>\n}\n",
    );
    const base = stacks.find((s) => s.id === 'default/DbOpsDsqlBridge')!;
    const t = cloneTemplate(base.template);
    t.Resources.OrgBrokenQueue = { Type: 'AWS::SQS::Queue', Properties: {} };
    const found = controlTowerFindings([{ ...base, variant: 'broken', template: t }], dir).map((f) => `${f.rule} ${f.resource}`);
    expect(found).toContain('org_queue_retention DbOpsDsqlBridge/OrgBrokenQueue');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a stale exception fails: an entry that no failure matches is reported', () => {
  const r = reconcile('control-tower', [], [{ check: 'control-tower', rule: 'CT.S3.PR.1', resource: 'DbOpsNoSuchStack/Bucket', reason: 'x' }]);
  expect(r.stale).toEqual([expect.stringContaining('control-tower CT.S3.PR.1 DbOpsNoSuchStack/Bucket')]);
});
