/**
 * Every remote call of the query function ends inside its budget, against real components:
 * - a Secrets Manager endpoint (a local HTTP listener on 127.0.0.1) that accepts and never answers:
 *   the real Powertools/SDK client is pointed at it with AWS_ENDPOINT_URL_SECRETS_MANAGER;
 * - an exhausted pool: a stand-in for RDS Proxy's pool (pool-standin.ts) in front of a real PostgreSQL 17
 *   with TLS, holding its only connection for another client;
 * - a query blocked by a lock ends by the role's statement_timeout and the connection is reused.
 */
import * as fs from 'fs';
import * as net from 'net';
import { loginCount, useTlsAppDb } from './handler-fixtures';
import { PoolStandIn } from './pool-standin';
import { loadConfig } from '../../lambda/rds-proxy-query/config';
import { createQueryHandler, createQueryRuntime } from '../../lambda/rds-proxy-query/query-function';
import { Client } from 'pg';
import { ensureAppRole } from '../../lambda/rds-proxy-query/bootstrap';
import { timeoutBudget } from '../../lib/rds-proxy-lambda/budget';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const ROLE = 'app_user';
const PASSWORD = 'pool-Passw0rd-xyz';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app-user-AbCdEf';

const db = useTlsAppDb(ROLE, PASSWORD);

function env(over: Record<string, string>): NodeJS.ProcessEnv {
  return {
    DB_HOST: 'localhost',
    DB_PORT: String(db.pg.port),
    DB_NAME: 'appdb',
    DB_USER: ROLE,
    CREDENTIAL_MODE: 'secret',
    SECRET_ARN,
    DB_TLS_CA_FILE: db.pki.caFile,
    AWS_REGION: 'us-east-1',
    ...over,
  };
}

/** A TCP listener that accepts connections, reads what arrives and never answers. */
async function hungEndpoint(): Promise<{ port: number; connections: () => number; bytes: () => string; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let n = 0;
  let received = '';
  const server = net.createServer((s) => {
    n++;
    sockets.add(s);
    s.on('data', (b) => (received += b.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => n,
    bytes: () => received,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('Secrets Manager endpoint that accepts and never answers', () => {
  let hung: Awaited<ReturnType<typeof hungEndpoint>>;
  const saved = { ...process.env };
  beforeAll(async () => {
    hung = await hungEndpoint();
    // Read by the SDK when the SecretsManagerClient is created (inside the function's runtime).
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${hung.port}`,
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret-example',
      AWS_REGION: 'us-east-1',
    });
  });
  afterAll(async () => {
    for (const k of ['AWS_ENDPOINT_URL_SECRETS_MANAGER', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION']) delete process.env[k];
    Object.assign(process.env, saved);
    await hung.close();
  });

  test('SECRET_TIMEOUT_MS bounds the call: a typed DatabaseUnavailableError, not a hang', async () => {
    const handler = createQueryHandler(() => createQueryRuntime(loadConfig(env({ SECRET_TIMEOUT_MS: '1000' }))));
    const t0 = Date.now();
    const err = await handler({ query: 'health' }).catch((e) => e);
    const elapsed = Date.now() - t0;
    expect(err).toMatchObject({ name: 'DatabaseUnavailableError', message: expect.stringMatching(/Secrets Manager did not answer within 1000 ms/) });
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(1800);
    // The request really reached the hung endpoint (the SDK did connect and send GetSecretValue).
    expect(hung.connections()).toBeGreaterThanOrEqual(1);
    expect(hung.bytes()).toMatch(/secretsmanager\.GetSecretValue/);
  });

  test('the invocation deadline cuts a longer SECRET_TIMEOUT_MS to what is left', async () => {
    const handler = createQueryHandler(() => createQueryRuntime(loadConfig(env({ SECRET_TIMEOUT_MS: '10000' }))));
    const t0 = Date.now();
    const err = await handler({ query: 'health' }, { getRemainingTimeInMillis: () => 1000 }).catch((e) => e);
    const elapsed = Date.now() - t0;
    expect(err).toMatchObject({ name: 'DatabaseUnavailableError', message: expect.stringMatching(/cut to what is left of the invocation/) });
    expect(elapsed).toBeLessThan(1000);
  });
});

describe('exhausted pool (stand-in for RDS Proxy in front of the real PostgreSQL)', () => {
  const BORROW_MS = 1500;
  let pool: PoolStandIn;
  let holder: Client;

  beforeAll(async () => {
    pool = await new PoolStandIn(db.pg.port, 1, BORROW_MS, { certFile: db.pki.serverCertFile, keyFile: db.pki.serverKeyFile }).start();
    // Another client holds the pool's only connection.
    holder = new Client({ host: 'localhost', port: pool.port, database: 'appdb', user: ROLE, password: PASSWORD, ssl: { ca: fs.readFileSync(db.pki.caFile, 'utf8') } });
    await holder.connect();
    expect((await holder.query('select 1 as ok')).rows).toEqual([{ ok: 1 }]);
    expect(pool.inUse).toBe(1);
  });

  afterAll(async () => {
    await holder?.end().catch(() => undefined);
    await pool?.close();
  });

  const runtimeEnv = (connectMs: number, queryMs: number) =>
    env({ DB_PORT: String(pool.port), CONNECT_TIMEOUT_MS: String(connectMs), QUERY_TIMEOUT_MS: String(queryMs), BORROW_TIMEOUT_MS: String(BORROW_MS) });

  test('with the kit budget (connect = borrow + 1 s) the caller gets the proxy\'s error, as the README promises', async () => {
    const b = timeoutBudget({ functionTimeoutMs: 15_000, borrowTimeoutMs: BORROW_MS }).budget;
    expect(b.connectMs).toBeGreaterThan(BORROW_MS);
    const rt = createQueryRuntime(loadConfig(runtimeEnv(b.connectMs, b.queryMs)), { fetchSecret: async () => ({ username: ROLE, password: PASSWORD }) });
    const handler = createQueryHandler(() => rt);
    const refusedBefore = pool.refused;
    const t0 = Date.now();
    const err = await handler({ query: 'health' }).catch((e) => e);
    const elapsed = Date.now() - t0;
    expect(err.name).toBe('DatabaseUnavailableError');
    expect(err.code).toBe('53300');
    expect(err.message).toContain('refused the connection: Timed-out waiting to acquire database connection (SQLSTATE 53300)');
    expect(err.message).toContain(`borrow timeout ${BORROW_MS} ms`);
    expect(err.message).not.toMatch(/timeout expired|CONNECT_TIMEOUT_MS/);
    expect(pool.refused).toBe(refusedBefore + 1);
    expect(elapsed).toBeGreaterThanOrEqual(BORROW_MS - 50);
    expect(elapsed).toBeLessThan(b.connectMs);

    // The pool frees up: the next invocation of the same runtime succeeds.
    await holder.end();
    for (let i = 0; i < 50 && pool.inUse > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await handler({ query: 'health' })).toMatchObject({ rows: [{ ok: 1 }] });
    await rt.connection.close();
    holder = new Client({ host: 'localhost', port: pool.port, database: 'appdb', user: ROLE, password: PASSWORD, ssl: { ca: fs.readFileSync(db.pki.caFile, 'utf8') } });
    await holder.connect();
  });

  test('the old budget (connect 2.5 s below a 7 s borrow, here 1 s below 1.5 s) ends in a client timeout instead', async () => {
    const rt = createQueryRuntime(loadConfig(runtimeEnv(1000, 6000)), { fetchSecret: async () => ({ username: ROLE, password: PASSWORD }) });
    const err = await createQueryHandler(() => rt)({ query: 'health' }).catch((e) => e);
    expect(err.name).toBe('DatabaseUnavailableError');
    expect(err.code).toBeUndefined();
    expect(err.message).toMatch(/timeout expired/);
    expect(err.message).not.toContain('Timed-out waiting to acquire');
  });
});

describe('statement_timeout on the application role', () => {
  test('a query blocked by a lock ends by statement_timeout (SQLSTATE 57014 in .code) and the connection is reused', async () => {
    // What the bootstrap applies (db-bootstrap sets these from the construct's budget).
    const admin = await db.pg.client('appdb');
    try {
      await ensureAppRole(admin, { roleName: ROLE, password: PASSWORD, databaseName: 'appdb', setPasswordIfExists: false, statementTimeoutMs: 700, idleInTransactionTimeoutMs: 700 });
    } finally {
      await admin.end();
    }
    const rows = await db.pg.query<{ setconfig: string[] }>("select setconfig from pg_db_role_setting s join pg_roles r on r.oid = s.setrole where r.rolname = $1 and s.setdatabase = 0", [ROLE]);
    expect(rows[0].setconfig).toEqual(expect.arrayContaining(['statement_timeout=700', 'idle_in_transaction_session_timeout=700']));

    const rt = createQueryRuntime(loadConfig(env({ QUERY_TIMEOUT_MS: '5000' })), { fetchSecret: async () => ({ username: ROLE, password: PASSWORD }) });
    const handler = createQueryHandler(() => rt);
    await handler({ query: 'health' });
    const logins = await loginCount(db.pg, ROLE);
    // Another session holds an exclusive lock on a catalog table the `tables` query reads (pg_namespace).
    const locker = await db.pg.client('appdb');
    try {
      await locker.query('begin');
      await locker.query('lock table pg_catalog.pg_namespace in access exclusive mode');
      const t0 = Date.now();
      const err = await handler({ query: 'tables', params: { schema: 'public' } }).catch((e) => e);
      const elapsed = Date.now() - t0;
      expect(err).toMatchObject({ name: 'QueryFailedError', code: '57014' });
      expect(err.message).toMatch(/canceling statement due to statement timeout \(SQLSTATE 57014\)$/);
      expect(elapsed).toBeGreaterThanOrEqual(650);
      expect(elapsed).toBeLessThan(5000);
    } finally {
      await locker.query('rollback').catch(() => undefined);
      await locker.end();
    }
    // Same session, no new login: the server cancelled the statement, the connection stayed usable.
    expect(await handler({ query: 'health' })).toMatchObject({ rows: [{ ok: 1 }] });
    expect(await loginCount(db.pg, ROLE)).toBe(logins);
    await rt.connection.close();
  });
});
