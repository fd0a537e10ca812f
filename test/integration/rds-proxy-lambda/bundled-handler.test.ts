/**
 * The query function bundled by esbuild exactly as the construct bundles it, run in its own `node`
 * process with the real AWS SDK against moto's Secrets Manager (AWS_ENDPOINT_URL) and a real
 * PostgreSQL with TLS. A pass-through HTTP hop in front of moto only counts the GetSecretValue
 * requests; moto answers them.
 */
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { loginCount, makeTestPki, prepareAppDb, startTlsPostgres, TestPki } from '../../rds-proxy-lambda/handler-fixtures';
import { MotoServer, startMoto } from '../../helpers/moto';
import { TestPostgres } from '../../helpers/postgres';

const ROLE = 'app_user';
const PASSWORD = 'first-Passw0rd-xyz';
const REPO = path.resolve(__dirname, '..', '..', '..');

let pki: TestPki;
let pg: TestPostgres;
let moto: MotoServer;

beforeAll(async () => {
  pki = makeTestPki();
  [pg, moto] = await Promise.all([startTlsPostgres(pki), startMoto()]);
  await prepareAppDb(pg, ROLE, PASSWORD);
});

afterAll(async () => {
  await pg?.stop();
  await moto?.stop();
  if (pki) fs.rmSync(pki.dir, { recursive: true, force: true });
});

/** Forwards every request to moto and counts them by X-Amz-Target. */
async function countingHop(target: string): Promise<{ url: string; counts: Map<string, number>; close: () => void }> {
  const counts = new Map<string, number>();
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    const op = String(req.headers['x-amz-target'] ?? `${req.method} ${req.url}`);
    counts.set(op, (counts.get(op) ?? 0) + 1);
    const fwd = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    fwd.on('error', (e) => {
      res.writeHead(502);
      res.end(String(e));
    });
    req.pipe(fwd);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as import('net').AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, counts, close: () => server.close() };
}

test('bundled function, 1,000 invocations in one process: one login, one GetSecretValue (moto)', async () => {
  const sm = new SecretsManagerClient({ region: 'us-east-1', endpoint: moto.endpoint });
  const created = await sm.send(new CreateSecretCommand({ Name: 'db-ops-kit/app-user', SecretString: JSON.stringify({ username: ROLE, password: PASSWORD }) }));
  const hop = await countingHop(moto.endpoint);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbops-bundle-'));
  try {
    const bundle = path.join(dir, 'index.js');
    execFileSync(path.join(REPO, 'node_modules', '.bin', 'esbuild'), [
      path.join(REPO, 'lambda', 'rds-proxy-query', 'index.ts'),
      '--bundle', '--platform=node', '--target=node22', '--format=cjs', '--minify', '--sourcemap', `--outfile=${bundle}`, '--log-level=error',
    ]);
    const before = await loginCount(pg, ROLE);
    const script = `const { handler } = require(${JSON.stringify(bundle)});
      (async () => { let ok = 0; for (let i = 0; i < 1000; i++) { const r = await handler({ query: 'health' }); if (r.rows[0].ok === 1) ok++; }
      const who = await handler({ query: 'whoami' }); process.stdout.write(JSON.stringify({ ok, who: who.rows[0] })); process.exit(0); })()
      .catch((e) => { process.stdout.write(JSON.stringify({ error: e.name + ': ' + e.message })); process.exit(1); });`;
    const child = spawn(process.execPath, ['-e', script], {
      env: {
        PATH: process.env.PATH ?? '',
        DB_HOST: 'localhost',
        DB_PORT: String(pg.port),
        DB_NAME: 'appdb',
        DB_USER: ROLE,
        CREDENTIAL_MODE: 'secret',
        SECRET_ARN: created.ARN!,
        DB_TLS_CA_FILE: pki.caFile,
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL: hop.url,
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
        POWERTOOLS_LOG_LEVEL: 'ERROR',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect({ code, out }).toEqual({ code: 0, out: expect.any(String) });
    const result = JSON.parse(out);
    expect(result.ok).toBe(1000);
    expect(result.who).toMatchObject({ current_user: ROLE, ssl: true });
    expect(Object.fromEntries(hop.counts)).toEqual({ 'secretsmanager.GetSecretValue': 1 });
    expect(await loginCount(pg, ROLE)).toBe(before + 1);
  } finally {
    hop.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
