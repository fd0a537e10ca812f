/**
 * Pattern 1 (RDS Proxy + Lambda) runtime benchmark, on a real PostgreSQL 17 (embedded) with TLS:
 * 1. warm-invocation overhead: the query function's handler (`health`) vs a bare `pg` `select 1`
 *    on an already-open client to the same server over the same TLS — ratio, target <= 1.2;
 * 2. cold-start module init: time to `require` the bundled handler in a fresh `node` process
 *    (median of N), baseline = the same for a bundle of bare `pg` — target <= 150 ms;
 * 3. bundle size: esbuild, minified, platform node, target node22, format cjs, AWS SDK bundled
 *    (as the construct builds it) — target <= 1 MB.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Client } from 'pg';
import type { BenchResult } from './run';
import { loadConfig } from '../lambda/rds-proxy-query/config';
import { createQueryHandler, createQueryRuntime } from '../lambda/rds-proxy-query/query-function';
import { tlsOptions } from '../lambda/rds-proxy-query/tls';
import { makeTestPki, startTlsPostgres } from '../test/rds-proxy-lambda/handler-fixtures';

const ROOT = path.resolve(__dirname, '..');
const ROLE = 'bench_app';
const PASSWORD = 'bench-Passw0rd-1';
const WARM_CALLS = 10_000;
const COLD_RUNS = 15;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const fmt = (n: number, d = 1) => n.toFixed(d);

function bundle(entry: string, outfile: string): number {
  // Same options as the construct's NodejsFunction bundling (minify, source map, nothing external).
  execFileSync(
    path.join(ROOT, 'node_modules/.bin/esbuild'),
    [entry, '--bundle', '--platform=node', '--target=node22', '--format=cjs', '--minify', '--sourcemap', `--outfile=${outfile}`, '--log-level=error'],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return fs.statSync(outfile).size;
}

/**
 * Median ms, in fresh node processes (node's own startup excluded), to `require(file)` — or, with
 * `invoke`, to require it and run one invocation against a closed port (IAM mode, dummy
 * credentials): that adds the lazily loaded SDK code and runtime setup, but no network wait.
 */
function requireMs(file: string, nodeArgs: string[] = [], invoke = false): number {
  const script = invoke
    ? `const t=process.hrtime.bigint();require(${JSON.stringify(file)}).handler({query:'health'}).catch(()=>{}).then(()=>process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6)))`
    : `const t=process.hrtime.bigint();require(${JSON.stringify(file)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`;
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '', POWERTOOLS_LOG_LEVEL: 'SILENT', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  if (invoke) {
    Object.assign(env, {
      DB_HOST: 'localhost', DB_PORT: '9', DB_NAME: 'postgres', DB_USER: 'app', CREDENTIAL_MODE: 'iam', AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', CONNECT_TIMEOUT_MS: '1000',
    });
  }
  const times: number[] = [];
  for (let i = 0; i < COLD_RUNS + 2; i++) {
    const out = execFileSync(process.execPath, [...nodeArgs, '-e', script], { cwd: os.tmpdir(), env }).toString();
    if (i >= 2) times.push(Number(out)); // the first two warm the OS page cache
  }
  return median(times);
}

export async function bench(): Promise<BenchResult> {
  process.env.POWERTOOLS_LOG_LEVEL = process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const notes: string[] = [];
  const rows: string[][] = [];

  // --- 1. warm-invocation overhead ---------------------------------------------------------
  const pki = makeTestPki();
  const pg = await startTlsPostgres(pki);
  let warm: { handler: number; bare: number; first: number; ratio: number };
  try {
    await pg.query(`create role ${ROLE} login password '${PASSWORD}'`);
    const env = {
      DB_HOST: 'localhost', DB_PORT: String(pg.port), DB_NAME: 'postgres', DB_USER: ROLE,
      CREDENTIAL_MODE: 'secret', SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:bench', DB_TLS_CA_FILE: pki.caFile,
    };
    // The secret fetch happens once per execution environment and is not part of a warm invocation.
    const rt = createQueryRuntime(loadConfig(env), { fetchSecret: async () => ({ username: ROLE, password: PASSWORD }) });
    const handler = createQueryHandler(() => rt);
    const t0 = process.hrtime.bigint();
    await handler({ query: 'health' }); // first invocation: TLS connect + login + query
    const first = Number(process.hrtime.bigint() - t0) / 1e6;

    const bare = new Client({ host: 'localhost', port: pg.port, database: 'postgres', user: ROLE, password: PASSWORD, ssl: tlsOptions(pki.caFile) });
    await bare.connect();
    const runHandler = () => handler({ query: 'health' });
    const runBare = () => bare.query('select 1');
    for (let i = 0; i < 500; i++) {
      await runBare();
      await runHandler();
    }
    // Per-call timings, baseline and handler interleaved call by call (alternating which goes
    // first), compared by median: robust against load spikes from other work on this machine.
    const h: number[] = [];
    const b: number[] = [];
    const time = async (fn: () => Promise<unknown>, into: number[]) => {
      const t = process.hrtime.bigint();
      await fn();
      into.push(Number(process.hrtime.bigint() - t) / 1000);
    };
    for (let i = 0; i < WARM_CALLS; i++) {
      if (i % 2 === 0) {
        await time(runBare, b);
        await time(runHandler, h);
      } else {
        await time(runHandler, h);
        await time(runBare, b);
      }
    }
    await bare.end();
    if (rt.connection.stats().connectionsOpened !== 1) throw new Error(`expected one connection, saw ${rt.connection.stats().connectionsOpened}`);
    await rt.connection.close();
    // Ratio: median of the per-pair ratios (each pair ran back to back, under the same load).
    const pairRatio = median(h.map((x, i) => x / b[i]));
    warm = { handler: median(h), bare: median(b), first, ratio: pairRatio };
  } finally {
    await pg.stop();
    fs.rmSync(pki.dir, { recursive: true, force: true });
  }
  const ratio = warm.ratio;
  rows.push(['warm invocation (`health`) vs bare pg `select 1`, µs/op', fmt(warm.handler), fmt(warm.bare), fmt(ratio, 2), '≤ 1.2', ratio <= 1.2 ? 'met' : 'MISSED']);
  rows.push(['first invocation: TLS connect + login + query, ms', fmt(warm.first), '', '', '', 'info']);
  if (ratio > 1.2) notes.push(`MISSED: warm overhead ratio ${fmt(ratio, 2)} > 1.2`);

  // --- 2 + 3. bundle size and cold-start module init ------------------------------------
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbops-bench-p1-'));
  try {
    const fnFile = path.join(dir, 'index.js');
    const fnSize = bundle(path.join(ROOT, 'lambda/rds-proxy-query/index.ts'), fnFile);
    const bootSize = bundle(path.join(ROOT, 'lambda/rds-proxy-query/db-bootstrap.ts'), path.join(dir, 'db-bootstrap.js'));
    const pgEntry = path.join(dir, 'bare-pg-entry.js');
    fs.writeFileSync(pgEntry, "module.exports = require('pg');\n");
    const pgFile = path.join(dir, 'bare-pg.js');
    // esbuild resolves 'pg' from the entry's directory upwards; point it at the kit's node_modules.
    execFileSync(
      path.join(ROOT, 'node_modules/.bin/esbuild'),
      [pgEntry, '--bundle', '--platform=node', '--target=node22', '--format=cjs', '--minify', `--outfile=${pgFile}`, '--log-level=error'],
      { cwd: ROOT, env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') } },
    );
    const pgSize = fs.statSync(pgFile).size;
    const MB = 1024 * 1024;
    rows.push(['query function bundle (minified, SDK bundled), KiB', fmt(fnSize / 1024), fmt(pgSize / 1024), fmt(fnSize / pgSize, 1), '≤ 1024 KiB', fnSize <= MB ? 'met' : 'MISSED']);
    rows.push(['db-bootstrap bundle, KiB', fmt(bootSize / 1024), '', '', '', 'info']);
    if (fnSize > MB) notes.push(`MISSED: bundle ${fmt(fnSize / 1024)} KiB > 1024 KiB`);

    const initMs = requireMs(fnFile);
    const initMapsMs = requireMs(fnFile, ['--enable-source-maps']);
    const pgInitMs = requireMs(pgFile);
    rows.push([`cold init: require(bundle) in a fresh node, median of ${COLD_RUNS}, ms`, fmt(initMs), fmt(pgInitMs), fmt(initMs / pgInitMs, 1), '≤ 150 ms', initMs <= 150 ? 'met' : 'MISSED']);
    rows.push(['cold init with --enable-source-maps, ms', fmt(initMapsMs), '', '', '', 'info']);
    const firstCallMs = requireMs(fnFile, [], true);
    rows.push(['cold init + first invocation up to connect (IAM mode: loads signer, signs token), ms', fmt(firstCallMs), '', '', '', 'info']);
    if (initMs > 150) notes.push(`MISSED: cold init ${fmt(initMs)} ms > 150 ms`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }

  notes.push(
    `Warm: median of ${WARM_CALLS} calls each, handler and baseline interleaved call by call on two TLS connections to the same local server; ratio = median of the per-pair ratios; the handler's extra work is event validation, the query_timeout timer and the log-level check.`,
    'Cold init: measures only module evaluation of the bundle (node startup excluded; the handler opens nothing at init). Baseline: a bundle of bare `pg` with the same esbuild options.',
  );
  return {
    title: 'rds-proxy-lambda: query function (warm overhead, cold init, bundle size)',
    header: ['metric', 'value', 'baseline', 'ratio', 'target', 'result'],
    rows,
    notes,
  };
}
