/**
 * `npm run integ` — verify patterns on a real AWS account (docs/verify-on-aws.md).
 *
 * The tests are CDK integ tests written with @aws-cdk/integ-tests-alpha (test/integ/integ.*.ts):
 * each app holds the pattern's stack(s) and an assertion stack whose custom resources call AWS and
 * fail the deployment when an expectation is not met. This runner does what
 * @aws-cdk/integ-runner does with such an app: deploy every stack (the assertions run during the
 * deploy of the assertion stack), report, destroy every stack. integ-runner itself is not used
 * because the newest release on npm (2.197.10) embeds a cloud-assembly reader that stops at schema
 * 53, and aws-cdk-lib 2.276.0 writes schema 55 ("AssemblyVersionMismatch"); the kit's own CDK CLI
 * (devDependency aws-cdk) reads it. When a newer integ-runner ships, the same files run with
 * `integ-runner --directory test/integ --language typescript --app "npx tsx {filePath}"`.
 *
 * Offline part: `--snapshot` synthesizes every integ app and writes its templates to
 * test/integ/<file>.snapshot/ (integ-runner's layout: templates and integ.json); test/integ-snapshots.test.ts (npm test)
 * fails when a construct changes and the snapshot was not regenerated.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const INTEG_DIR = __dirname;
const REPO_ROOT = path.resolve(__dirname, '..', '..');
const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const CDK = path.join(REPO_ROOT, 'node_modules', '.bin', 'cdk');

const USAGE = `usage: npm run integ -- [options] [integ.<pattern>.ts ...]

Deploys each integ app (default: every test/integ/integ.*.ts that is not marked snapshot-only) to the
account and Region of your AWS credentials, runs its assertions, then destroys it.

  --list           list the integ tests with their cost notes and exit
  --keep           do not destroy after the run (inspect, then: npm run integ -- --destroy <file>)
  --destroy        only destroy the stacks of the named tests
  --snapshot       synthesize every integ app (no AWS calls) and rewrite test/integ/<file>.snapshot/
  --help           this text

Environment: AWS credentials as for 'cdk deploy' (AWS_PROFILE, AWS_REGION); the account must be
CDK-bootstrapped ('npx cdk bootstrap'). Costs and times: docs/verify-on-aws.md.`;

export function integFiles(): string[] {
  return fs.readdirSync(INTEG_DIR).filter((f) => /^integ\..+\.ts$/.test(f)).sort();
}

/** First comment block of an integ file (its cost note), for --list. */
function headline(file: string): string {
  const m = fs.readFileSync(path.join(INTEG_DIR, file), 'utf8').match(/\/\*\*([\s\S]*?)\*\//);
  return (m?.[1] ?? '').split('\n').map((l) => l.replace(/^\s*\* ?/, '')).join(' ').replace(/\s+/g, ' ').trim();
}

function snapshotOnly(file: string): boolean {
  return /@snapshot-only/.test(fs.readFileSync(path.join(INTEG_DIR, file), 'utf8'));
}

/** Synthesizes one integ app into `outdir` with the kit's tsx (no AWS calls, no credentials). */
export function synthInteg(file: string, outdir: string): void {
  const r = spawnSync(TSX, [path.join(INTEG_DIR, file)], {
    cwd: REPO_ROOT,
    env: { ...process.env, CDK_OUTDIR: outdir, CDK_DEFAULT_ACCOUNT: '', CDK_DEFAULT_REGION: '' },
    encoding: 'utf8',
    timeout: 600_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`synth of ${file} failed:\n${r.stdout}\n${r.stderr}${r.error ?? ''}`);
}

export function snapshotDir(file: string): string {
  return path.join(INTEG_DIR, `${file}.snapshot`);
}

/** Templates of an assembly directory, by file name. */
export function templatesIn(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.template.json')).sort()) out[f] = fs.readFileSync(path.join(dir, f), 'utf8');
  return out;
}

/**
 * Asset hashes (bundled Lambda code, the assertion provider) change with every edit of runtime code
 * and every esbuild release, and integ-tests-alpha stamps every assertion with a `salt` (the synth
 * time, so CloudFormation re-runs it on each deploy); neither is what the snapshot guards.
 * Everything else must match.
 */
export function normalizeTemplate(text: string): string {
  return text.replace(/[0-9a-f]{64}/g, '<asset-hash>').replace(/"salt": "\d+"/g, '"salt": "<synth-time>"');
}

function writeSnapshot(file: string): void {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbops-integ-'));
  try {
    synthInteg(file, tmp);
    const dest = snapshotDir(file);
    fs.rmSync(dest, { recursive: true, force: true });
    fs.mkdirSync(dest, { recursive: true });
    for (const [name, text] of Object.entries(templatesIn(tmp))) fs.writeFileSync(path.join(dest, name), text);
    if (fs.existsSync(path.join(tmp, 'integ.json'))) fs.copyFileSync(path.join(tmp, 'integ.json'), path.join(dest, 'integ.json'));
    console.log(`wrote ${path.relative(REPO_ROOT, dest)}/ (${Object.keys(templatesIn(dest)).length} templates)`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function cdk(args: string[], file: string): number {
  const t0 = Date.now();
  console.log(`\n==> cdk ${args.join(' ')}   [${file}]`);
  const r = spawnSync(CDK, [...args, '--app', `${TSX} ${path.join(INTEG_DIR, file)}`, '--output', path.join(REPO_ROOT, 'cdk.out', 'integ', file), '--no-notices'], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
  });
  console.log(`<== ${((Date.now() - t0) / 60000).toFixed(1)} min, exit ${r.status}`);
  return r.status ?? 1;
}

function main(argv: string[]): number {
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  const names = argv.filter((a) => !a.startsWith('--')).map((n) => path.basename(n));
  const known = new Set(['--help', '--list', '--keep', '--destroy', '--snapshot']);
  const unknown = [...flags].filter((f) => !known.has(f));
  const missing = names.filter((n) => !integFiles().includes(n));
  if (flags.has('--help')) {
    console.log(USAGE);
    return 0;
  }
  if (unknown.length || missing.length) {
    console.error(`${unknown.map((u) => `unknown option ${u}`).concat(missing.map((m) => `no test/integ/${m}`)).join('\n')}\n\n${USAGE}`);
    return 2;
  }
  if (flags.has('--list')) {
    for (const f of integFiles()) console.log(`${f}${snapshotOnly(f) ? ' (snapshot only)' : ''}\n  ${headline(f)}\n`);
    return 0;
  }
  const selected = names.length ? names : integFiles();
  if (flags.has('--snapshot')) {
    for (const f of selected) writeSnapshot(f);
    return 0;
  }
  let failed = 0;
  for (const f of selected) {
    if (!flags.has('--destroy') && snapshotOnly(f) && !names.includes(f)) {
      console.log(`skip ${f}: snapshot only (name it explicitly to deploy it; read its cost note first)`);
      continue;
    }
    if (!flags.has('--destroy')) {
      const deployed = cdk(['deploy', '--all', '--require-approval', 'never'], f);
      if (deployed !== 0) {
        failed++;
        console.error(`FAIL ${f}: deploy or an assertion failed (see the CloudFormation events above)`);
      } else console.log(`PASS ${f}`);
      if (flags.has('--keep')) {
        console.log(`kept; destroy with: npm run integ -- --destroy ${f}`);
        continue;
      }
    }
    if (cdk(['destroy', '--all', '--force'], f) !== 0) {
      failed++;
      console.error(`DESTROY FAILED ${f}: retry with 'npm run integ -- --destroy ${f}', then check the console for what is left`);
    }
  }
  return failed ? 1 : 0;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
