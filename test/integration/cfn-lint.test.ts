/**
 * cfn-lint over every template of every prop variant the tests synthesize (test/kit/stacks.ts: the
 * committed cdk.json app plus the variants). Needs `pip install cfn-lint` (see README). Zero errors
 * and zero warnings, except two kinds, each accepted only in the exact shape explained here:
 *
 * - W3010 (hard-coded availability zones): AZs are explicit context on purpose, so synth needs no
 *   AWS lookup (cdk.json `*:availabilityZones`).
 * - W3005 (a DependsOn already implied by a Ref/GetAtt), only where aws-cdk-lib itself adds the
 *   dependency with `node.addDependency(...)`: a Lambda function / state machine / CDK
 *   custom-resource-provider handler on its execution role (CDK depends on the role construct so the
 *   function also waits for the role's DefaultPolicy; the role entry is the redundant half), the S3
 *   bucket-notifications resource on the target queue (CDK waits for the queue policy the same way),
 *   and the RDS Proxy target group on the cluster (CDK's DatabaseProxy waits for the cluster's
 *   instances). These 26 come from aws-cdk-lib 2.276 (aws-lambda Function, aws-stepfunctions
 *   StateMachine, core CustomResourceProvider, aws-s3 BucketNotifications, aws-rds DatabaseProxy), not
 *   from the kit's code; removing them would need an Aspect rewriting CDK's output for no behaviour
 *   change. A W3005 of any other shape fails the test.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expectReconciled, Finding, mergeVariants, reconcile } from '../kit/findings';
import { kitStacks } from '../kit/stacks';

const ACCEPTED_W3005 = [
  /^W3005 .*dependency already enforced by a 'GetAtt' at 'Resources\/[A-Za-z0-9]+\/Properties\/(Role|RoleArn)'$/,
  /^W3005 .*dependency already enforced by a 'GetAtt' at 'Resources\/[A-Za-z0-9]+\/Properties\/NotificationConfiguration\/QueueConfigurations\/\d+\/QueueArn'$/,
  /^W3005 .*dependency already enforced by a 'Ref' at 'Resources\/[A-Za-z0-9]+\/Properties\/DBClusterIdentifiers\/\d+'$/,
];

/** Runs cfn-lint on the templates; returns findings as `RULE message (file)` minus the accepted ones. */
function lint(templates: Array<{ name: string; body: unknown }>): { findings: string[]; accepted: number; stderr: string; status: number | null } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbops-cfnlint-'));
  try {
    const files = templates.map((t, i) => {
      const f = path.join(dir, `${i}-${t.name.replace(/\//g, '-')}.template.json`);
      fs.writeFileSync(f, JSON.stringify(t.body, null, 1));
      return f;
    });
    const r = spawnSync('cfn-lint', ['--format', 'parseable', '--ignore-checks', 'W3010', '--', ...files], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    if (r.error) throw new Error(`cfn-lint could not run (pip install cfn-lint): ${r.error.message}`);
    // parseable: file:line:col:endline:endcol:RULE:message
    const lines = r.stdout.trim().split('\n').filter(Boolean).map((l) => {
      const m = /^(.*?):\d+:\d+:\d+:\d+:([A-Z]\d+):(.*)$/.exec(l);
      return m ? `${m[2]} ${m[3]} (${path.basename(m[1])})` : l;
    });
    const isAccepted = (l: string) => ACCEPTED_W3005.some((re) => re.test(l.replace(/ \([^()]*\)$/, '')));
    return { findings: lines.filter((l) => !isAccepted(l)), accepted: lines.filter(isAccepted).length, stderr: r.stderr.trim(), status: r.status };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('cfn-lint finds no errors and no unaccepted warnings in any template of any variant (or test/kit/exceptions.ts lists them)', () => {
  const stacks = kitStacks();
  expect(stacks.length).toBeGreaterThanOrEqual(5);
  const r = lint(stacks.map((s) => ({ name: s.id, body: s.template })));
  expect(r.stderr).toBe('');
  expect(r.accepted).toBeGreaterThan(0); // the accepted W3005 shapes still occur (else delete them above)
  const findings: Array<Finding & { variant: string }> = r.findings.map((l) => {
    const m = /^([A-Z]\d+) (.*) \((\d+)-[^()]*\)$/.exec(l);
    if (!m) throw new Error(`unparsed cfn-lint line: ${l}`);
    const s = stacks[Number(m[3])];
    const where = /'Resources\/([A-Za-z0-9]+)/.exec(m[2])?.[1] ?? /^'([A-Za-z0-9]+)'/.exec(m[2])?.[1] ?? 'template';
    return { check: 'cfn-lint', rule: m[1], resource: `${s.stackName}/${where}`, detail: m[2], variant: s.variant };
  });
  expectReconciled(reconcile('cfn-lint', mergeVariants(findings)));
});

test('a deliberately broken template fails: an error, and a W3005 outside the accepted shapes', () => {
  const body = {
    Resources: {
      Queue: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 30 } },
      Bucket: { Type: 'AWS::S3::Bucket', DependsOn: ['Queue'], Properties: { Tags: [{ Key: 'q', Value: { 'Fn::GetAtt': ['Queue', 'Arn'] } }], NoSuchProperty: true } },
    },
  };
  const r = lint([{ name: 'broken', body }]);
  expect(r.findings.join('\n')).toMatch(/^E3002 /m);
  expect(r.findings.join('\n')).toMatch(/^W3005 'Queue' dependency already enforced/m);
});
