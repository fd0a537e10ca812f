/**
 * The READMEs against the code (issue #14): every command a README shows uses a script that exists and flags its
 * CLI's `--help` lists; every stack output a README quotes is an Output of the synthesized template; the counts
 * of the `npm start` table are what the app synthesizes. The offline commands are run for real: each CLI's
 * `--help`, the README's `krb5-conf` examples (on an outputs.json made from the synthesized Outputs) and
 * `dsql-schema --input` on a pg_dump fixture — and each must leave `git status` as it found it.
 *
 * Known mismatches in pattern READMEs that their owners are fixing are listed, each with a reason, in
 * test/docs-allowlist.json; an entry that no longer matches a mismatch fails the test, so the list only shrinks.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { App, Stack } from 'aws-cdk-lib';
import { buildApp, PATTERNS } from '../bin/db-ops-kit';
import { cdkJsonContext } from '../bin/pattern';
import { checkDefaultFolders, checkReadme, CodeFacts, extractCommands, Finding, findingKey, quotedOutputs } from './helpers/readme-commands';

const run = promisify(execFile);
const root = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
const CLI_SCRIPTS = Object.keys(pkg.scripts).filter((s) => /\bcli\.ts$|-cli\.ts$|bench\/run\.ts$/.test(pkg.scripts[s]));
const README_PATHS = ['README.md', ...fs.readdirSync(path.join(root, 'lib')).filter((d) => fs.existsSync(path.join(root, 'lib', d, 'README.md'))).map((d) => `lib/${d}/README.md`)];
const readmes = Object.fromEntries(README_PATHS.map((p) => [p, fs.readFileSync(path.join(root, p), 'utf8')]));

interface AllowEntry {
  readme: string;
  kind: Finding['kind'];
  value: string;
  reason: string;
}
const allowlist = JSON.parse(fs.readFileSync(path.join(__dirname, 'docs-allowlist.json'), 'utf8')).entries as AllowEntry[];

/** Environment for a child command: no SDK-notice suppression inherited from jest's setup file, no AWS access. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  delete env.npm_config_prefix;
  return env;
}

async function npmRun(script: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run('npm', ['run', '--silent', script, '--', ...args], { cwd: root, env: childEnv(env), maxBuffer: 16 * 2 ** 20, timeout: 120_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

async function gitStatus(): Promise<string> {
  return (await run('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: root })).stdout;
}

/** Stack names a README is about: its pattern's stacks, or every stack for the root README. */
function stacksFor(readme: string): string[] {
  const dir = /^lib\/([^/]+)\/README\.md$/.exec(readme)?.[1];
  if (!dir) return PATTERNS.flatMap((p) => p.stackNames);
  const key = dir.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const p = PATTERNS.find((x) => x.key === key);
  if (!p) throw new Error(`no pattern "${key}" for ${readme}`);
  return p.stackNames;
}

let facts: CodeFacts;
let findings: Finding[] = [];

beforeAll(async () => {
  // Synthesize the committed cdk.json (bundling skipped: outputs and resource counts do not depend on it).
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'docs-cdk-'));
  const app = buildApp(new App({ outdir, context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } }));
  const assembly = app.synth();
  const stacks: CodeFacts['stacks'] = {};
  for (const s of app.node.findAll().filter((c): c is Stack => Stack.isStack(c))) {
    const t = assembly.getStackByName(s.stackName).template as { Resources?: object; Outputs?: object };
    stacks[s.stackName] = { region: s.region, resources: Object.keys(t.Resources ?? {}).length, outputs: Object.keys(t.Outputs ?? {}) };
  }
  fs.rmSync(outdir, { recursive: true, force: true });

  const cdkSubs = [...new Set(Object.values(readmes).flatMap((md) => extractCommands(md).flatMap((c) => /^npx cdk (\S+)/.exec(c.text)?.[1] ?? [])))].filter((s) => /^[a-z]+$/.test(s));
  const [cliHelps, cdkHelps] = await Promise.all([
    Promise.all(CLI_SCRIPTS.map((s) => npmRun(s, ['--help']))),
    Promise.all(cdkSubs.map((sub) => run('npx', ['cdk', sub, '--help', '--no-notices'], { cwd: root, env: childEnv({ CDK_DISABLE_CLI_TELEMETRY: 'true' }), timeout: 120_000 }).then((r) => r.stdout + r.stderr))),
  ]);
  cliHelps.forEach((r, i) => {
    if (r.code !== 0 || r.stdout.trim() === '') throw new Error(`npm run ${CLI_SCRIPTS[i]} -- --help exited ${r.code}: ${r.stderr}`);
  });
  facts = {
    scripts: pkg.scripts,
    cliHelp: Object.fromEntries(CLI_SCRIPTS.map((s, i) => [s, cliHelps[i].stdout])),
    cdkHelp: Object.fromEntries(cdkSubs.map((s, i) => [s, cdkHelps[i]])),
    stacks,
    contextKeys: [...Object.keys(cdkJsonContext()), 'db-ops-kit:account', 'db-ops-kit:patterns'],
  };
  findings = [
    ...README_PATHS.flatMap((p) => checkReadme(p, readmes[p], facts, stacksFor(p))),
    ...CLI_SCRIPTS.flatMap((s) => checkDefaultFolders(s, facts.cliHelp[s])),
    // The outputs a CLI's help says it reads (krb5-conf reads the ad-trust outputs file) must exist too.
    ...CLI_SCRIPTS.flatMap((s) =>
      quotedOutputs(facts.cliHelp[s])
        .filter((n) => !Object.values(facts.stacks).some((st) => st.outputs.includes(n)))
        .map((n): Finding => ({ readme: `npm run ${s} -- --help`, kind: 'output', value: n, detail: `the help names output ${n}; no synthesized stack has it` })),
    ),
  ];
});

test('each CLI script answers --help with its usage (exit 0) and each README command uses CLIs that exist', () => {
  expect(CLI_SCRIPTS.sort()).toEqual(['bench', 'dsql-schema', 'dsql-verify', 'kms-change', 'krb5-conf']);
  for (const s of CLI_SCRIPTS) expect(facts.cliHelp[s]).toMatch(/usage:/);
  const commands = Object.values(readmes).flatMap((md) => extractCommands(md));
  // The READMEs show commands of every CLI; if the extraction broke, this would drop to zero.
  for (const s of CLI_SCRIPTS) expect(commands.some((c) => c.text.startsWith(`npm run ${s}`))).toBe(true);
});

test('every flag, output name, stack, context key and count the READMEs quote is what the code produces (allowlist aside)', () => {
  const allowed = new Set(allowlist.map(findingKey));
  const unexpected = findings.filter((f) => !allowed.has(findingKey(f)));
  expect(unexpected.map((f) => `${f.readme}: ${f.kind} ${f.value}: ${f.detail}`)).toEqual([]);
});

test('every allowlist entry still matches a mismatch and gives a reason (fixed entries must be removed)', () => {
  const found = new Set(findings.map(findingKey));
  for (const e of allowlist) expect(e.reason.length).toBeGreaterThan(20);
  expect(allowlist.filter((e) => !found.has(findingKey(e))).map(findingKey)).toEqual([]);
});

describe('the checks fail on a doctored README', () => {
  const kms = () => readmes['lib/kms-key-change/README.md'];
  test('a flag the CLI does not have', () => {
    const doctored = `${kms()}\n\n\`npm run kms-change -- --db-instance orders --kms-key alias/k --dry-runn\`\n`;
    expect(checkReadme('x.md', doctored, facts, ['DbOpsKmsKeyChange']).map((f) => f.value)).toContain('kms-change --dry-runn');
    expect(checkReadme('x.md', '```bash\nnpm run krb5-conf -- \\\n  --outputs o.json --out-file k.conf\n```\n', facts, []).map((f) => f.value)).toEqual(['krb5-conf --out-file']);
  });
  test('a script that does not exist, a cdk flag, a context key and a stack that do not exist', () => {
    const md = '```bash\nnpm run kms-rekey -- --help\nnpx cdk deploy DbOpsNope -c rdsProxyLambda:regoin=eu-west-1 --output-file o.json\n```\n';
    expect(checkReadme('x.md', md, facts, []).map((f) => `${f.kind} ${f.value}`).sort()).toEqual(
      ['context rdsProxyLambda:regoin', 'flag cdk deploy --output-file', 'script kms-rekey', 'stack DbOpsNope'].sort(),
    );
  });
  test('an output the template does not have', () => {
    const md = 'Invoke `aws lambda invoke --function-name <QueryFnName output>`; subscribe to AlarmTopicArn and AlertTopicArn (stack outputs).';
    expect(checkReadme('x.md', md, facts, ['DbOpsRdsProxyLambda']).map((f) => f.value).sort()).toEqual(['AlertTopicArn', 'QueryFnName']);
  });
  test('a resource count or stack count the app does not produce', () => {
    const real = readmes['README.md'];
    const row = /^\| DbOpsKmsKeyChange\s*\| us-east-1\s*\| (\d+)/m.exec(real)!;
    const doctored = real.replace(row[0], row[0].replace(row[1], String(Number(row[1]) + 1))).replace(/Synthesized \d+ stack/, 'Synthesized 4 stack');
    expect(checkReadme('README.md', doctored, facts, stacksFor('README.md')).map((f) => f.value).sort()).toEqual(['DbOpsKmsKeyChange resources', 'stacks']);
  });
  test('a CLI default outside out/<cli>/', () => {
    expect(checkDefaultFolders('krb5-conf', '  --out FILE   write it (default: ./krb5.conf)\n').map((f) => f.value)).toEqual(['krb5-conf --out']);
    expect(checkDefaultFolders('krb5-conf', '  --out FILE   write it (default: ./out/krb5-conf/krb5.conf)\n')).toEqual([]);
  });
});

describe('README examples that run offline', () => {
  let before: string;
  const created: string[] = [];
  beforeAll(async () => {
    before = await gitStatus();
  });
  afterAll(() => {
    for (const p of created) fs.rmSync(p, { recursive: true, force: true });
  });

  test("krb5-conf: every README example runs on an outputs.json built from the synthesized Outputs, and git status stays clean", async () => {
    const examples = Object.values(readmes)
      .flatMap((md) => extractCommands(md))
      .map((c) => c.text)
      .filter((t) => t.startsWith('npm run krb5-conf -- --outputs outputs.json'));
    expect(examples.length).toBeGreaterThan(0);
    const outputsFile = path.join(root, 'outputs.json');
    if (fs.existsSync(outputsFile)) return console.warn('outputs.json exists in the repo root (a real deploy?): krb5-conf examples not run, file left alone');
    const ctx = cdkJsonContext();
    const value = (name: string): string =>
      /DnsIps$/.test(name) ? (name.startsWith('OnPrem') ? String(ctx['adTrust:onPremDnsIps']) : '10.10.0.10,10.10.0.11')
      : /Endpoint$/.test(name) ? `${name.toLowerCase()}.cluster-c0abc.us-east-1.rds.amazonaws.com`
      : name === 'DirectoryDomainName' ? String(ctx['adTrust:domainName'])
      : name === 'OnPremDomainName' ? String(ctx['adTrust:onPremDomainName'])
      : name === 'DatabaseEngine' ? String(ctx['adTrust:engine'])
      : name === 'DatabasePort' ? '5432'
      : `example-${name}`;
    const outputs = Object.fromEntries(['DbOpsAdTrustPrimary', 'DbOpsAdTrustReplica'].map((s) => [s, Object.fromEntries(facts.stacks[s].outputs.map((o) => [o, value(o)]))]));
    created.push(outputsFile);
    fs.writeFileSync(outputsFile, JSON.stringify(outputs, null, 2));
    for (const ex of examples) {
      const args = ex.replace(/^npm run krb5-conf -- /, '').split(/\s+/);
      const outIdx = args.indexOf('--out');
      const target = outIdx >= 0 ? path.resolve(root, args[outIdx + 1]) : undefined;
      const existed = target !== undefined && fs.existsSync(target);
      const r = await npmRun('krb5-conf', args);
      expect({ ex, code: r.code }).toEqual({ ex, code: 0 });
      expect(r.stderr).not.toMatch(/warn|error|NodeVersion/i);
      if (target) {
        if (!existed) created.push(target);
        expect(fs.readFileSync(target, 'utf8')).toContain(`default_realm = ${String(ctx['adTrust:onPremDomainName']).toUpperCase()}`);
      } else {
        expect(r.stdout.length).toBeGreaterThan(0);
      }
    }
    expect(await gitStatus()).toBe(before);
  });

  test('dsql-schema --input <pg_dump fixture> with the default folder writes the files the README names, and git status stays clean', async () => {
    const fixture = path.join(__dirname, 'dsql-bridge', 'fixtures', 'shop-schema.sql');
    const help = facts.cliHelp['dsql-schema'];
    // The option's own line and its continuation lines (indented, not starting another --option).
    const def = /^[ \t]+--out-dir[^\n]*?(?:\n[ \t]+(?!-)[^\n]*?)*?\(default:? \.?\/?([^\s),]+)/m.exec(help)?.[1];
    expect(def).toBeDefined();
    const outDir = path.join(root, def!);
    const existed = fs.existsSync(outDir);
    const r = await npmRun('dsql-schema', ['--input', fixture]);
    if (!existed) created.push(outDir);
    expect(r.stderr).toBe('');
    expect([0, 3]).toContain(r.code);
    const named = /Writes\s+((?:`[^`]+`[,\s]*(?:and\s+)?)+)/.exec(readmes['lib/dsql-bridge/README.md'])?.[1];
    // The README may name the first file with its folder (`out/dsql-schema/report.md`).
    const files = [...(named ?? '').matchAll(/`([^`]+)`/g)].map((m) => (m[1].startsWith(`${def}/`) ? m[1].slice(def!.length + 1) : m[1]));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(fs.existsSync(path.join(outDir, f))).toBe(true);
    expect(await gitStatus()).toBe(before);
  });

  test('a CLI that creates an AWS client prints no AWS SDK Node-version notice (Node < 22), only its own error', async () => {
    const r = await npmRun('kms-change', ['--db-instance', 'orders', '--kms-key', 'alias/orders-2026', '--dry-run', '--region', 'us-east-1'], {
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
      AWS_ACCESS_KEY_ID: 'docs-test',
      AWS_SECRET_ACCESS_KEY: 'docs-test',
      AWS_MAX_ATTEMPTS: '1',
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(/ECONNREFUSED|connect/);
    expect(r.stderr).not.toMatch(/NodeVersionSupportWarning/);
  });
});
