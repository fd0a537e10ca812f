/**
 * `npm run dsql-schema -- --source-url postgres://…` end to end: a Debian PostgreSQL 15 server (the
 * embedded PostgreSQL 17 of the unit tests is newer than Debian's pg_dump 15, which would refuse it)
 * on 127.0.0.1 as an unprivileged OS user, loaded with fixtures/shop-source.sql; the CLI runs
 * pg_dump from PATH against it. Its report must name the findings the `--input` unit test expects,
 * and its converted DDL must equal what `--input` produces for our own pg_dump of the same server.
 */
import { ChildProcess, execFile, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { must, PG_BIN, run } from '../ad-trust/kerberos-lab';
import { REPO_ROOT } from '../../helpers/copy-app';
import { freePort } from '../../helpers/postgres';
import { missingFindings } from '../../dsql-bridge/fixtures';

const SOURCE_SQL = path.join(REPO_ROOT, 'test', 'dsql-bridge', 'fixtures', 'shop-source.sql');
const PASSWORD = 'source-P@ss/word:1'; // URL-special characters: percent-encoded in the URL
const BINARIES: Array<[string, string]> = [
  [`${PG_BIN}/initdb`, 'postgresql-15'],
  [`${PG_BIN}/postgres`, 'postgresql-15'],
  [`${PG_BIN}/psql`, 'postgresql-client-15'],
  [`${PG_BIN}/pg_dump`, 'postgresql-client-15'],
  ['/usr/bin/pg_dump', 'postgresql-client-common'],
];

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI as a user runs it: `npx tsx lambda/dsql-loader/schema-cli.ts …` from the repository root. */
function cli(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile('npx', ['tsx', 'lambda/dsql-loader/schema-cli.ts', ...args], { cwd: REPO_ROOT, timeout: 60_000, encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** `postgres` (from Debian's postgresql-common) when running as root — initdb refuses root. */
function osUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) throw new Error('running as root but there is no `postgres` OS user: apt-get install postgresql-15 (it creates one)');
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dsql-source-url-'));
let server: ChildProcess | undefined;
let serverLog = '';
let port = 0;
const url = (db = 'shop', p = port) => `postgres://postgres:${encodeURIComponent(PASSWORD)}@127.0.0.1:${p}/${db}`;
const pgEnv = () => ({ ...process.env, PGPASSWORD: PASSWORD, PGCONNECT_TIMEOUT: '10' });

beforeAll(async () => {
  const missing = BINARIES.filter(([bin]) => !fs.existsSync(bin));
  if (missing.length > 0) {
    throw new Error(`this test needs ${missing.map(([b]) => b).join(', ')}: apt-get install ${[...new Set(missing.map(([, p]) => p))].join(' ')} (.ci/run installs them)`);
  }
  const user = osUser();
  fs.chmodSync(tmp, 0o755);
  const data = path.join(tmp, 'data');
  const pwfile = path.join(tmp, 'pwfile');
  fs.writeFileSync(pwfile, `${PASSWORD}\n`, { mode: 0o600 });
  fs.mkdirSync(data, { mode: 0o700 });
  if (user) for (const p of [tmp, pwfile, data]) fs.chownSync(p, user.uid, user.gid);
  const asUser = { ...(user ?? {}), cwd: tmp, env: { ...process.env, LC_ALL: 'C' } };
  must(spawnSync(`${PG_BIN}/initdb`, ['-D', data, '-U', 'postgres', '--pwfile', pwfile, '-A', 'scram-sha-256', '--no-sync', '-E', 'UTF8'], { ...asUser, encoding: 'utf8' }), 'initdb');
  port = await freePort();
  server = spawn(`${PG_BIN}/postgres`, ['-D', data, '-c', 'listen_addresses=127.0.0.1', '-c', `port=${port}`, '-c', `unix_socket_directories=${tmp}`, '-c', 'fsync=off'], {
    ...asUser,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout!.on('data', (d) => (serverLog += String(d)));
  server.stderr!.on('data', (d) => (serverLog += String(d)));
  const deadline = Date.now() + 20_000;
  while (!/ready to accept connections/.test(serverLog)) {
    if (server.exitCode !== null || Date.now() > deadline) throw new Error(`PostgreSQL 15 did not come up on 127.0.0.1:${port}:\n${serverLog}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const psql = (db: string, extra: string[]) => must(run(`${PG_BIN}/psql`, [url(db), '-XAtq', '-v', 'ON_ERROR_STOP=1', ...extra], pgEnv()), `psql ${extra.join(' ')}`);
  psql('postgres', ['-c', 'CREATE DATABASE shop']);
  psql('shop', ['-f', SOURCE_SQL]);
}, 60_000);

afterAll(async () => {
  const s = server;
  if (s?.pid !== undefined && s.exitCode === null) {
    await new Promise<void>((resolve) => {
      s.once('exit', () => resolve());
      process.kill(s.pid!, 'SIGINT'); // fast shutdown
      setTimeout(() => s.exitCode === null && process.kill(s.pid!, 'SIGKILL'), 10_000).unref();
    });
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

const readOut = (dir: string) => ({
  report: JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')),
  md: fs.readFileSync(path.join(dir, 'report.md'), 'utf8'),
  converted: fs.readFileSync(path.join(dir, 'converted.sql'), 'utf8'),
});

test('--source-url dumps the schema with pg_dump from PATH; the report and converted DDL match --input on a pg_dump of the same server', async () => {
  const viaUrl = path.join(tmp, 'via-url');
  const r = await cli(['--source-url', url(), '--out-dir', viaUrl]);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  expect(r.stdout).toContain('Wrote ');
  const a = readOut(viaUrl);
  expect(a.report.input).toBe('pg_dump of --source-url');

  const findings = a.report.findings as Array<{ rule: string; object: string; severity: string }>;
  // The findings the --input unit test (test/dsql-bridge/schema.test.ts) expects for this schema.
  expect(missingFindings(findings)).toEqual([]);
  expect(a.report.summary.errors).toBe(findings.filter((f) => f.severity === 'error').length);
  expect(a.md).toContain('| error | trigger orders_audit on sales.orders | trigger |');
  expect(a.converted).toContain('CREATE INDEX ASYNC orders_customer_idx');

  // Our own pg_dump of the same server (plain --schema-only, owners and grants included) through --input.
  const dumpFile = path.join(tmp, 'shop-dump.sql');
  fs.writeFileSync(dumpFile, must(run('pg_dump', ['--schema-only', url()], pgEnv()), 'pg_dump'));
  const viaInput = path.join(tmp, 'via-input');
  const r2 = await cli(['--input', dumpFile, '--out-dir', viaInput]);
  expect({ code: r2.code, stderr: r2.stderr }).toEqual({ code: 0, stderr: '' });
  const b = readOut(viaInput);
  expect(b.report.input).toBe('shop-dump.sql');
  expect(a.converted).toBe(b.converted);
  const key = (f: { rule: string; object: string; severity: string }) => `${f.severity} ${f.rule} ${f.object}`;
  expect(findings.map(key).sort()).toEqual((b.report.findings as typeof findings).map(key).sort());

  // README step 1 -> step 2: --source-url keeps the dump it converted as schema.sql, and --input of that file converts the same.
  const kept = path.join(viaUrl, 'schema.sql');
  expect(r.stdout).toContain(kept);
  expect(fs.readFileSync(kept, 'utf8')).toContain('CREATE TABLE sales.orders');
  const again = path.join(tmp, 'again');
  const r3 = await cli(['--input', kept, '--out-dir', again]);
  expect({ code: r3.code, stderr: r3.stderr }).toEqual({ code: 0, stderr: '' });
  expect(readOut(again).converted).toBe(a.converted);
  expect(fs.existsSync(path.join(again, 'schema.sql'))).toBe(false); // --input is not copied
}, 60_000);

test('an unreachable --source-url exits non-zero, names pg_dump\'s error and does not print the password', async () => {
  const closed = await freePort(); // nothing listens here
  const r = await cli(['--source-url', url('shop', closed), '--out-dir', path.join(tmp, 'unreachable')]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('pg_dump failed');
  expect(r.stderr).toMatch(new RegExp(`connection to server at "127\\.0\\.0\\.1", port ${closed} failed: Connection refused`));
  expect(r.stderr.match(/Connection refused/g)).toHaveLength(1); // pg_dump's error once, not echoed twice
  expect(r.stderr).not.toContain(encodeURIComponent(PASSWORD)); // the password never reaches the output
  expect(r.stderr).not.toContain(PASSWORD);
  expect(fs.existsSync(path.join(tmp, 'unreachable', 'report.json'))).toBe(false);
}, 60_000);
