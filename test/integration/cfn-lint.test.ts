/**
 * cfn-lint over every template the app synthesizes (all patterns, cdk.json context as committed).
 * Needs `pip install cfn-lint` (see README). Two warnings are accepted for the whole kit, with reasons:
 * - W3010 (hard-coded availability zones): AZs are explicit context on purpose, so synth needs no AWS lookup.
 * - W3005 (DependsOn already implied by Ref/GetAtt): emitted by CDK's own constructs; harmless.
 * Everything else — errors and other warnings — fails the test.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { buildApp } from '../../bin/db-ops-kit';
import { cdkJsonContext } from '../../bin/pattern';

const ACCEPTED = ['W3005', 'W3010'];

test('cfn-lint finds no errors or unaccepted warnings in any synthesized template', () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbops-cfnlint-'));
  try {
    const app = buildApp(new App({ outdir, context: cdkJsonContext() }));
    app.synth();
    const templates = fs.readdirSync(outdir).filter((f) => f.endsWith('.template.json')).map((f) => path.join(outdir, f));
    expect(templates.length).toBeGreaterThanOrEqual(1);
    const r = spawnSync('cfn-lint', ['--format', 'parseable', '--ignore-checks', ...ACCEPTED, '--', ...templates], { encoding: 'utf8' });
    if (r.error) throw new Error(`cfn-lint could not run (pip install cfn-lint): ${r.error.message}`);
    expect({ status: r.status, findings: r.stdout.trim().split('\n').filter(Boolean), stderr: r.stderr.trim() }).toEqual({ status: 0, findings: [], stderr: '' });
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
});
