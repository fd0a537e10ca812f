/**
 * The loader's no-data-loss details against a real PostgreSQL 17, one database per test: retry budget and
 * what is (not) retried, the connection kept after a conflict and left idle after a transaction that finds its
 * batch already committed, the byte budget with secondary indexes and the progress row's key/etag/table bytes,
 * batches that hold only quarantined rows, the exact quarantine objects and metrics, the lag metric, the test
 * hooks on both commit paths, COPY refused by the server (0A000/42601) or hitting an existing row (23505), a
 * data error that only appears at COMMIT, non-default CSV delimiters, and how CDC rows are grouped into
 * statements. PostgreSQL stands in for DSQL: where DSQL behaves differently (refusing COPY) a trigger emulates
 * the server's answer; statement and COPY/INSERT logs are kept by triggers (current_query()).
 * No mocks: the rows, progress rows, transactions and statements asserted here are the database's own.
 */
import { PassThrough, Readable } from 'stream';
import { gzipSync } from 'zlib';
import { Client } from 'pg';
import { ConnectionManager } from '../../lambda/dsql-loader/connection';
import { DMS_CSV, DmsObjectKey, parseDmsKey } from '../../lambda/dsql-loader/dms-format';
import { assertEarlierFilesLoaded, ensureProgressTable, LoaderOptions, loadObject, WaitError } from '../../lambda/dsql-loader/loader';
import { startPostgres, TestPostgres } from '../helpers/postgres';
import { bodyOf, createDatabase, dmsCsv, installDsqlLimits, memoryQuarantine } from './fixtures';

let pg: TestPostgres;
let dbNo = 0;

beforeAll(async () => {
  pg = await startPostgres();
}, 120_000);

afterAll(async () => {
  await pg?.stop();
});

interface Db {
  client: Client;
  db: string;
  connections: ConnectionManager;
  /** Connections the loader opened. */
  opened: Client[];
  quarantine: ReturnType<typeof memoryQuarantine>;
  metrics: { loaded: number[]; rejected: number[]; retries: string[]; lags: number[] };
  logs: Array<[string, Record<string, unknown> | undefined]>;
  opts(extra?: Partial<LoaderOptions>): LoaderOptions;
  close(): Promise<void>;
}

/** A fresh database with `ddl`, the progress table, and a loader connection manager that records its connections. */
async function newDb(ddl: string[], limits?: { tables: string[]; rows?: number; bytes?: number }): Promise<Db> {
  const db = `mut${++dbNo}`;
  const client = await createDatabase(pg, db);
  for (const sql of ddl) await client.query(sql);
  await ensureProgressTable(client);
  if (limits) await installDsqlLimits(client, [...limits.tables, 'dsql_loader.progress'], { rows: limits.rows ?? 3000, bytes: limits.bytes ?? 10 * 1024 * 1024 });
  const opened: Client[] = [];
  const connections = new ConnectionManager({
    token: async () => pg.password,
    connect: async (password) => {
      const c = new Client({ ...pg.config(db), password });
      await c.connect();
      opened.push(c);
      return c;
    },
  });
  const quarantine = memoryQuarantine();
  const metrics = { loaded: [] as number[], rejected: [] as number[], retries: [] as string[], lags: [] as number[] };
  const logs: Db['logs'] = [];
  return {
    client,
    db,
    connections,
    opened,
    quarantine,
    metrics,
    logs,
    opts: (extra = {}) => ({
      connections,
      quarantine,
      quarantinePrefix: 'q',
      baseDelayMs: 1,
      metrics: {
        rowsLoaded: (n) => metrics.loaded.push(n),
        rowsRejected: (n) => metrics.rejected.push(n),
        retry: (r) => metrics.retries.push(r),
        lagSeconds: (s) => metrics.lags.push(s),
      },
      log: (msg, x) => logs.push([msg, x]),
      ...extra,
    }),
    async close() {
      await connections.close();
      await client.end();
    },
  };
}

function key(k: string): DmsObjectKey {
  const parsed = parseDmsKey(k, 'dms');
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
}

const OP = DMS_CSV.opColumn;
const TS = DMS_CSV.timestampColumn;
const rows = (q: Client, sql: string) => q.query(sql).then((r) => r.rows);
/** Rows per committed transaction (data rows + the progress row), from the DSQL-limits fixture. */
const txnRows = (c: Client) => rows(c, 'SELECT rows::int AS n FROM dsql_limits.txn ORDER BY xid').then((r) => r.map((x) => x.n));
/** The state of the loader's (only) session as the server sees it. */
async function sessionState(d: Db): Promise<string[]> {
  const pids = d.opened.map((c) => (c as unknown as { processID: number }).processID);
  return (await d.client.query('SELECT state FROM pg_stat_activity WHERE pid = ANY($1::int[])', [pids])).rows.map((r) => r.state);
}

/** Logs, per inserted row, whether COPY or INSERT put it there (the top-level statement text). */
const VIA_LOG = (table: string) => [
  `CREATE TABLE ${table}_via (id bigint, via text, at bigserial)`,
  `CREATE FUNCTION ${table}_via() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN INSERT INTO ${table}_via (id, via) VALUES (NEW.id, CASE WHEN position('COPY ' in current_query()) > 0 THEN 'copy' ELSE 'insert' END); RETURN NEW; END $$`,
  `CREATE TRIGGER via AFTER INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_via()`,
];
const via = (c: Client, table: string) => rows(c, `SELECT id::int, via FROM ${table}_via ORDER BY at`).then((r) => r.map((x) => `${x.id}:${x.via}`));

describe('retries', () => {
  test('a conflict on every attempt fails after exactly `attempts` tries, each retry logged and counted, on the same connection (rolled back, not discarded)', async () => {
    const d = await newDb(['CREATE TABLE public.t (id bigint PRIMARY KEY, v text)', `INSERT INTO public.t VALUES (1, 'a'), (2, 'b'), (3, 'c')`]);
    const writer = await pg.client(d.db);
    let n = 0;
    try {
      const cdc = dmsCsv([OP, 'id', 'v'], [['U', '1', 'x'], ['U', '2', 'y'], ['U', '3', 'z']]);
      const objectKey = 'dms/public/t/20261201-000000000.csv';
      // Every attempt: another session commits a change to row 2 after the loader's snapshot -> 40001 on the loader's update.
      const opts = d.opts({ attempts: 3, afterSnapshot: async () => void (await writer.query(`UPDATE public.t SET v = 'w${++n}' WHERE id = 2`)) });
      await expect(loadObject({ dmsKey: key(objectKey), etag: 'e', body: bodyOf(cdc) }, opts)).rejects.toMatchObject({ code: '40001' });
      expect(n).toBe(3);
      expect(d.metrics.retries).toEqual(['conflict', 'conflict']);
      expect(d.logs).toEqual([
        ['retrying transaction', { object: objectKey, code: '40001', error: 'error: could not serialize access due to concurrent update' }],
        ['retrying transaction', { object: objectKey, code: '40001', error: 'error: could not serialize access due to concurrent update' }],
      ]);
      expect(d.opened).toHaveLength(1);
      expect(await rows(d.client, 'SELECT id::int, v FROM public.t ORDER BY id')).toEqual([{ id: 1, v: 'a' }, { id: 2, v: 'w3' }, { id: 3, v: 'c' }]);
      expect(await rows(d.client, 'SELECT * FROM dsql_loader.progress')).toEqual([]);
    } finally {
      await writer.end();
      await d.close();
    }
  });

  test('an error that is neither a conflict nor a dropped connection (a DSQL limit, 54000) is not retried', async () => {
    const d = await newDb(['CREATE TABLE public.t (id bigint PRIMARY KEY, v text)'], { tables: ['public.t'], rows: 2 });
    try {
      const csv = dmsCsv([OP, 'id', 'v'], [['I', '1', 'a'], ['I', '2', 'b']]);
      await expect(loadObject({ dmsKey: key('dms/public/t/LOAD00000001.csv'), etag: 'e', body: bodyOf(csv) }, d.opts({ attempts: 3 }))).rejects.toMatchObject({ code: '54000' });
      expect(d.metrics.retries).toEqual([]);
      expect(d.logs).toEqual([]);
      expect(await rows(d.client, 'SELECT count(*)::int AS n FROM public.t')).toEqual([{ n: 0 }]);
    } finally {
      await d.close();
    }
  });
});

describe('the connection after a failed transaction', () => {
  test('a connection-class error (SQLSTATE 08xxx) discards the connection even while the session still answers: the retry runs on a new connection', async () => {
    // The server (a trigger) raises 08006 once; the session itself stays usable, so only the error class says
    // the connection is suspect. https://www.postgresql.org/docs/current/errcodes-appendix.html (class 08)
    const d = await newDb([
      'CREATE TABLE public.t (id bigint PRIMARY KEY, v text)',
      // A sequence, not a table: nextval survives the rollback of the failed transaction.
      'CREATE SEQUENCE public.attempts',
      `CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN IF nextval('public.attempts') = 1 THEN
         RAISE EXCEPTION 'connection failure reported by the server' USING ERRCODE = '08006';
       END IF; RETURN NEW; END $$`,
      'CREATE TRIGGER fail_once BEFORE INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION fail_once()',
    ]);
    try {
      const csv = dmsCsv([OP, 'id', 'v'], [['I', '1', 'a']]);
      const r = await loadObject({ dmsKey: key('dms/public/t/LOAD00000001.csv'), etag: 'e', body: bodyOf(csv) }, d.opts({ useCopy: false }));
      expect(r).toMatchObject({ status: 'loaded', rowsApplied: 1, retries: 1 });
      expect(d.metrics.retries).toEqual(['connection']);
      expect(d.opened).toHaveLength(2);
      expect(await rows(d.client, 'SELECT id::int, v FROM public.t')).toEqual([{ id: 1, v: 'a' }]);
    } finally {
      await d.close();
    }
  });

  test('the session ends inside a transaction that fails with an error of another kind: the next load starts on a new connection without spending a retry', async () => {
    const d = await newDb(['CREATE TABLE public.t (id bigint PRIMARY KEY, v text)']);
    try {
      const csv = dmsCsv([OP, 'id', 'v'], [['I', '1', 'a']]);
      // In the transaction: the session ends and the statement fails with an error that is neither a conflict nor a connection error.
      const dies = d.opts({ afterSnapshot: async (c) => { await c.end(); throw new Error('statement failed'); } });
      await expect(loadObject({ dmsKey: key('dms/public/t/LOAD00000001.csv'), etag: 'e', body: bodyOf(csv) }, dies)).rejects.toThrow('statement failed');
      expect(d.opened).toHaveLength(1);
      const r = await loadObject({ dmsKey: key('dms/public/t/LOAD00000001.csv'), etag: 'e', body: bodyOf(csv) }, d.opts());
      expect(r).toMatchObject({ status: 'loaded', rowsApplied: 1, retries: 0 });
      expect(d.metrics.retries).toEqual([]);
      expect(d.opened).toHaveLength(2);
      expect(await rows(d.client, 'SELECT id::int, v FROM public.t')).toEqual([{ id: 1, v: 'a' }]);
    } finally {
      await d.close();
    }
  });
});

describe('DSQL size limits, at their exact bounds', () => {
  // https://docs.aws.amazon.com/aurora-dsql/latest/userguide/CHAP_quotas.html: the columns of a primary key
  // together at most 1 KiB, a column that is not part of an index at most 1 MiB, a row at most 2 MiB (54000).
  // The loader quarantines such a row before it reaches DSQL (one row above a limit would fail every retry of
  // the file); PostgreSQL has none of these limits, so a row at a bound that loads here would load in DSQL too.
  // Sizes: text is its UTF-8 bytes (+4 stored), bigint 8 (test/dsql-bridge/target.test.ts, valueBytes).
  const MiB = 1024 * 1024;
  const load = async (d: Db, table: string, header: string[], records: string[][]) =>
    loadObject({ dmsKey: key(`dms/public/${table}/LOAD00000001.csv`), etag: 'e', body: bodyOf(dmsCsv(header, records), 65536) }, d.opts({ useCopy: false }));

  test('a column of exactly 1 MiB loads, one byte more is quarantined naming the column and its size', async () => {
    const d = await newDb(['CREATE TABLE public.c (id bigint PRIMARY KEY, a text, b text)']);
    try {
      const r = await load(d, 'c', [OP, 'id', 'a', 'b'], [
        ['I', '1', 'x'.repeat(MiB), 'small'],
        ['I', '2', 'small', 'é'.repeat(MiB / 2) + 'y'], // 2 bytes per é: 1 MiB + 1 byte
        ['I', '3', DMS_CSV.nullValue, 'small'],
      ]);
      expect(r).toMatchObject({ status: 'loaded', records: 3, rowsApplied: 2, rowsRejected: 1 });
      expect(await rows(d.client, 'SELECT id::int, octet_length(a) AS a FROM public.c ORDER BY id')).toEqual([{ id: 1, a: MiB }, { id: 3, a: null }]);
      expect(d.quarantine.lines().map((l) => [l.record, l.reason])).toEqual([[2, `column b holds ${MiB + 1} bytes, above the DSQL column size limit (${MiB} bytes)`]]);
    } finally {
      await d.close();
    }
  }, 30_000);

  test('a row of exactly 2 MiB loads, one byte more is quarantined with its size', async () => {
    const d = await newDb(['CREATE TABLE public.r (id bigint PRIMARY KEY, a text, b text)']);
    try {
      // bigint 8 + (a + 4) + (b + 4) bytes
      const r = await load(d, 'r', [OP, 'id', 'a', 'b'], [
        ['I', '1', 'x'.repeat(MiB), 'y'.repeat(MiB - 16)],
        ['I', '2', 'x'.repeat(MiB), 'y'.repeat(MiB - 15)],
      ]);
      expect(r).toMatchObject({ status: 'loaded', records: 2, rowsApplied: 1, rowsRejected: 1 });
      expect(await rows(d.client, 'SELECT id::int FROM public.r')).toEqual([{ id: 1 }]);
      expect(d.quarantine.lines().map((l) => [l.record, l.reason])).toEqual([[2, `row holds about ${2 * MiB + 1} bytes, above the DSQL row size limit (${2 * MiB} bytes)`]]);
    } finally {
      await d.close();
    }
  }, 30_000);

  test('a composite primary key of exactly 1 KiB loads, one byte more is quarantined', async () => {
    const d = await newDb(['CREATE TABLE public.k (tenant bigint, id text, v text, PRIMARY KEY (tenant, id))']);
    try {
      // tenant (bigint) counts 8 bytes, id its UTF-8 bytes.
      const r = await load(d, 'k', [OP, 'tenant', 'id', 'v'], [
        ['I', '1', 'k'.repeat(1016), 'at the bound'],
        ['I', '2', 'k'.repeat(1017), 'one byte over'],
        ['I', '3', 'k'.repeat(10), DMS_CSV.nullValue],
      ]);
      expect(r).toMatchObject({ status: 'loaded', records: 3, rowsApplied: 2, rowsRejected: 1 });
      expect(await rows(d.client, 'SELECT tenant::int, octet_length(id) AS id FROM public.k ORDER BY tenant')).toEqual([{ tenant: 1, id: 1016 }, { tenant: 3, id: 10 }]);
      expect(d.quarantine.lines().map((l) => [l.record, l.reason])).toEqual([[2, 'primary key holds 1025 bytes, above the DSQL key size limit (1024 bytes)']]);
    } finally {
      await d.close();
    }
  }, 30_000);
});

describe('progress row', () => {
  test('another loader moved the progress row after this run read it: the batch is refused with the positions, nothing applied', async () => {
    const d = await newDb(['CREATE TABLE public.t (id bigint PRIMARY KEY, v text)']);
    const other = await pg.client(d.db);
    try {
      const objectKey = 'dms/public/t/20261201-000000000.csv';
      let gets = 0;
      const get = d.connections.get.bind(d.connections);
      // get() #1 describes the table, #2 reads the progress (none), #3 opens the batch's transaction.
      d.connections.get = async () => {
        if (++gets === 3) {
          await other.query(`INSERT INTO dsql_loader.progress VALUES ($1, 'e', 'public.t', 1, 2, 1, 0, false, now())`, [objectKey]);
        }
        return get();
      };
      const cdc = dmsCsv([OP, 'id', 'v'], [['I', '1', 'a'], ['I', '2', 'b'], ['I', '3', 'c']]);
      await expect(loadObject({ dmsKey: key(objectKey), etag: 'e', body: bodyOf(cdc) }, d.opts())).rejects.toThrow(
        `progress of ${objectKey} is at record 1, expected 0: another loader is working on this object; retry later`,
      );
      expect(await rows(d.client, 'SELECT count(*)::int AS n FROM public.t')).toEqual([{ n: 0 }]);
      expect(await rows(d.client, 'SELECT records_committed::int AS r, done FROM dsql_loader.progress')).toEqual([{ r: 1, done: false }]);
      expect(await sessionState(d)).toEqual(['idle']);
    } finally {
      await other.end();
      await d.close();
    }
  });

  test('a batch another loader committed meanwhile is not applied again, and its transaction is closed (the session is idle, not idle in transaction)', async () => {
    const d = await newDb(['CREATE TABLE public.t (id bigint PRIMARY KEY, v text)']);
    const other = await pg.client(d.db);
    try {
      const objectKey = 'dms/public/t/20261201-000000000.csv';
      let gets = 0;
      const get = d.connections.get.bind(d.connections);
      d.connections.get = async () => {
        if (++gets === 3) {
          await other.query(`INSERT INTO public.t VALUES (1, 'theirs'), (2, 'theirs')`);
          await other.query(`INSERT INTO dsql_loader.progress VALUES ($1, 'e', 'public.t', 2, 3, 2, 0, true, now())`, [objectKey]);
        }
        return get();
      };
      const cdc = dmsCsv([OP, 'id', 'v'], [['I', '1', 'a'], ['I', '2', 'b']]);
      const r = await loadObject({ dmsKey: key(objectKey), etag: 'e', body: bodyOf(cdc) }, d.opts());
      expect(r).toStrictEqual({
        status: 'loaded',
        objectKey,
        etag: 'e',
        table: 'public.t',
        records: 2,
        rowsApplied: 0,
        rowsRejected: 0,
        transactions: 1,
        retries: 0,
        resumedFrom: 0,
        quarantineKeys: [],
      });
      expect(await rows(d.client, 'SELECT id::int, v FROM public.t ORDER BY id')).toEqual([{ id: 1, v: 'theirs' }, { id: 2, v: 'theirs' }]);
      expect(await sessionState(d)).toEqual(['idle']);
      expect(d.metrics).toMatchObject({ loaded: [], rejected: [] });
    } finally {
      await other.end();
      await d.close();
    }
  });
});

describe('byte budget', () => {
  test('a secondary index doubles the row estimate; the progress row reserves its key and etag twice and the table name once', async () => {
    // Row estimate (README): (id 8 + body 948 + 4 + 64) x (1 + 1 secondary index) = 2,048 bytes.
    // Progress row: 512 + 2 x (key + etag) + "public.wide" = 512 + 2 x (32 + 40) + 11 = 667 bytes.
    // maxBytes = 667 + 20 x 2,048 - 5, so 19 data rows fit in a transaction, not 20.
    const d = await newDb(['CREATE TABLE public.wide (id bigint PRIMARY KEY, body text NOT NULL)', 'CREATE INDEX wide_body ON public.wide (body)'], { tables: ['public.wide'] });
    try {
      const objectKey = 'dms/public/wide/LOAD00000001.csv';
      const etag = 'e'.repeat(40);
      expect(Buffer.byteLength(objectKey)).toBe(32);
      const maxBytes = 667 + 20 * 2048 - 5;
      const n = 19 * 3 + 4;
      const csv = dmsCsv([OP, 'id', 'body'], Array.from({ length: n }, (_, i) => ['I', String(i + 1), `${String(i + 1).padStart(4, '0')}${'y'.repeat(944)}`]));
      const r = await loadObject({ dmsKey: key(objectKey), etag, body: bodyOf(csv, 4096) }, d.opts({ limits: { maxRows: 3000, maxBytes } }));
      expect(r).toMatchObject({ status: 'loaded', rowsApplied: n, transactions: 4 });
      expect(await txnRows(d.client)).toEqual([20, 20, 20, 5]);
    } finally {
      await d.close();
    }
  });

  test('rows that fill the byte budget exactly share a transaction; a row of exactly the budget loads alone; one byte more is quarantined', async () => {
    // Row estimate: (id 8 + body 924 + 4 + 64) = 1,000 bytes. Progress row: 512 + 2 x (key 29 + etag 1) + "public.b" 8 = 580.
    const d = await newDb(['CREATE TABLE public.b (id bigint PRIMARY KEY, body text NOT NULL)'], { tables: ['public.b'] });
    try {
      const objectKey = 'dms/public/b/LOAD00000001.csv';
      expect(Buffer.byteLength(objectKey)).toBe(29);
      const row = (id: number, extra = 0) => ['I', String(id), 'b'.repeat(924 + extra)];
      const two = await loadObject({ dmsKey: key(objectKey), etag: 'e', body: bodyOf(dmsCsv([OP, 'id', 'body'], [1, 2, 3, 4, 5].map((i) => row(i)))) }, d.opts({ useCopy: false, limits: { maxRows: 3000, maxBytes: 580 + 2000 } }));
      expect(two).toMatchObject({ status: 'loaded', rowsApplied: 5, transactions: 3 });
      expect(await txnRows(d.client)).toEqual([3, 3, 2]);

      const objectKey2 = 'dms/public/b/LOAD00000002.csv';
      const one = await loadObject({ dmsKey: key(objectKey2), etag: 'e', body: bodyOf(dmsCsv([OP, 'id', 'body'], [row(6), row(7, 1), row(8)])) }, d.opts({ useCopy: false, limits: { maxRows: 3000, maxBytes: 580 + 1000 } }));
      expect(one).toMatchObject({ status: 'loaded', rowsApplied: 2, rowsRejected: 1 });
      expect(await rows(d.client, 'SELECT id::int FROM public.b WHERE id > 5 ORDER BY id')).toEqual([{ id: 6 }, { id: 8 }]);
      expect(d.quarantine.lines().map((l) => [l.record, l.reason])).toEqual([[2, 'row needs about 1001 bytes, more than one transaction may modify (1000)']]);
    } finally {
      await d.close();
    }
  });

  test('quarantined rows count toward the rows of a batch: with maxRows 3, five bad rows go to three quarantine objects of 2, 2 and 1', async () => {
    const d = await newDb(['CREATE TABLE public.bad (id bigint PRIMARY KEY)']);
    try {
      const csv = dmsCsv([OP, 'id'], ['x1', 'x2', 'x3', 'x4', 'x5'].map((v) => ['I', v]));
      const r = await loadObject({ dmsKey: key('dms/public/bad/LOAD00000001.csv'), etag: 'e', body: bodyOf(csv) }, d.opts({ limits: { maxRows: 3, maxBytes: 8 * 1024 * 1024 } }));
      expect(r).toMatchObject({ status: 'loaded', rowsApplied: 0, rowsRejected: 5 });
      expect([...d.quarantine.objects.values()].map((o) => o.trim().split('\n').map((l) => JSON.parse(l).record))).toEqual([[1, 2], [3, 4], [5]]);
    } finally {
      await d.close();
    }
  });
});

describe('quarantine', () => {
  test('a batch of only quarantined rows is committed (progress and quarantine object); a row the database refuses goes to a .db object; exact objects, metrics and transactions', async () => {
    const d = await newDb(['CREATE TABLE public.q (id bigint PRIMARY KEY, qty integer CHECK (qty >= 0))', ...VIA_LOG('q')], { tables: ['public.q'] });
    try {
      const objectKey = 'dms/public/q/LOAD00000001.csv';
      const csv = dmsCsv([OP, 'id', 'qty'], [['I', '1', 'x'], ['I', '2', 'y'], ['I', '3', '-1'], ['I', '4', '4'], ['I', '5', '5'], ['I', '6', '6']]);
      // maxRows 3: two data rows per transaction -> batches [1, 2] (both unparsable), [3, 4], [5, 6].
      const r = await loadObject({ dmsKey: key(objectKey), etag: 'e1', body: bodyOf(csv) }, d.opts({ limits: { maxRows: 3, maxBytes: 8 * 1024 * 1024 } }));
      const q12 = `q/${objectKey}/e1/records-0000000001-0000000002.jsonl`;
      const q34 = `q/${objectKey}/e1/records-0000000003-0000000004.jsonl.db`;
      expect(r).toStrictEqual({
        status: 'loaded',
        objectKey,
        etag: 'e1',
        table: 'public.q',
        records: 6,
        rowsApplied: 3,
        rowsRejected: 3,
        transactions: 3,
        retries: 0,
        resumedFrom: 0,
        quarantineKeys: [q12, q34],
      });
      const bad = (line: number, record: number, reason: string, raw: string) => JSON.stringify({ object: objectKey, etag: 'e1', line, record, reason, raw });
      expect([...d.quarantine.objects.entries()]).toEqual([
        [
          q12,
          bad(2, 1, 'column "qty" (integer): "x" is not an integer', 'I,1,x') + '\n' + bad(3, 2, 'column "qty" (integer): "y" is not an integer', 'I,2,y') + '\n',
        ],
        [q34, bad(4, 3, 'database: new row for relation "q" violates check constraint "q_qty_check" (SQLSTATE 23514)', 'I,3,-1') + '\n'],
      ]);
      expect(d.metrics).toMatchObject({ loaded: [0, 1, 2], rejected: [2, 1, 0] });
      expect(await rows(d.client, 'SELECT id::int, qty FROM public.q ORDER BY id')).toEqual([4, 5, 6].map((id) => ({ id, qty: id })));
      expect(await rows(d.client, 'SELECT records_committed::int AS r, last_line::int AS l, rows_applied::int AS a, rows_rejected::int AS j, done FROM dsql_loader.progress')).toEqual([
        { r: 6, l: 7, a: 3, j: 3, done: true },
      ]);
      // Committed transactions only (the bisection's probes roll back): progress alone, row 4 + progress, rows 5-6 + progress.
      expect(await txnRows(d.client)).toEqual([1, 2, 3]);
      // A data error in a COPY does not turn COPY off: the retried batch and the next one still use it.
      expect(await via(d.client, 'q')).toEqual(['4:copy', '5:copy', '6:copy']);
    } finally {
      await d.close();
    }
  });

  test('a row violating a unique secondary index in a CDC file is quarantined with SQLSTATE 23505 (the INSERT path does not loop on 23505)', async () => {
    const d = await newDb(['CREATE TABLE public.u (id bigint PRIMARY KEY, email text UNIQUE)', `INSERT INTO public.u VALUES (1, 'a@x')`]);
    try {
      const objectKey = 'dms/public/u/20261201-000000000.csv';
      const cdc = dmsCsv([OP, 'id', 'email'], [['I', '2', 'a@x'], ['I', '3', 'c@x']]);
      const r = await loadObject({ dmsKey: key(objectKey), etag: 'e', body: bodyOf(cdc) }, d.opts());
      expect(r).toMatchObject({ status: 'loaded', rowsApplied: 1, rowsRejected: 1 });
      expect(d.quarantine.lines()).toEqual([
        { object: objectKey, etag: 'e', line: 2, record: 1, reason: 'database: duplicate key value violates unique constraint "u_email_key" (SQLSTATE 23505)', raw: 'I,2,a@x' },
      ]);
      expect(await rows(d.client, 'SELECT id::int, email FROM public.u ORDER BY id')).toEqual([{ id: 1, email: 'a@x' }, { id: 3, email: 'c@x' }]);
    } finally {
      await d.close();
    }
  });

  test('a data error that appears only at COMMIT (a deferred unique constraint) fails the load naming it; no row is quarantined for it', async () => {
    const d = await newDb(['CREATE TABLE public.dfr (id bigint PRIMARY KEY, email text, CONSTRAINT dfr_email UNIQUE (email) DEFERRABLE INITIALLY DEFERRED)']);
    try {
      const cdc = dmsCsv([OP, 'id', 'email'], [['I', '1', 'same'], ['I', '2', 'same']]);
      await expect(loadObject({ dmsKey: key('dms/public/dfr/20261201-000000000.csv'), etag: 'e', body: bodyOf(cdc) }, d.opts())).rejects.toMatchObject({
        code: '23505',
        constraint: 'dfr_email',
      });
      expect(d.quarantine.objects.size).toBe(0);
      expect(await rows(d.client, 'SELECT count(*)::int AS n FROM public.dfr')).toEqual([{ n: 0 }]);
      expect(await rows(d.client, 'SELECT count(*)::int AS n FROM dsql_loader.progress')).toEqual([{ n: 0 }]);
    } finally {
      await d.close();
    }
  });
});

describe('COPY', () => {
  /** Emulates a server that refuses COPY with `code` (DSQL answers COPY it cannot run with an error); counts the refusals. */
  const refuseCopy = (code: string) => [
    'CREATE SEQUENCE copy_refusals',
    `CREATE FUNCTION refuse_copy() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       IF position('COPY ' in current_query()) > 0 THEN
         PERFORM nextval('copy_refusals'); -- not rolled back with the transaction
         RAISE EXCEPTION 'COPY is not supported here' USING ERRCODE = '${code}';
       END IF;
       RETURN NULL;
     END $$`,
    'CREATE TRIGGER refuse_copy BEFORE INSERT ON public.c FOR EACH STATEMENT EXECUTE FUNCTION refuse_copy()',
  ];

  for (const code of ['0A000', '42601']) {
    test(`a server that refuses COPY (${code}) gets INSERT for that batch and every later one, after one refusal`, async () => {
      const d = await newDb(['CREATE TABLE public.c (id bigint PRIMARY KEY, v text)', ...refuseCopy(code), ...VIA_LOG('c')]);
      try {
        const csv = dmsCsv([OP, 'id', 'v'], [1, 2, 3, 4, 5, 6].map((i) => ['I', String(i), `v${i}`]));
        const r = await loadObject({ dmsKey: key('dms/public/c/LOAD00000001.csv'), etag: 'e', body: bodyOf(csv) }, d.opts({ limits: { maxRows: 3, maxBytes: 8 * 1024 * 1024 } }));
        expect(r).toMatchObject({ status: 'loaded', rowsApplied: 6, rowsRejected: 0, transactions: 3 });
        expect(await rows(d.client, `SELECT last_value::int AS n, is_called FROM copy_refusals`)).toEqual([{ n: 1, is_called: true }]);
        expect(await via(d.client, 'c')).toEqual(['1:insert', '2:insert', '3:insert', '4:insert', '5:insert', '6:insert']);
      } finally {
        await d.close();
      }
    });
  }

  test('a row that already exists (a re-written LOAD file) makes that batch an INSERT … DO NOTHING; later batches use COPY again', async () => {
    const d = await newDb(['CREATE TABLE public.c (id bigint PRIMARY KEY, v text)', `INSERT INTO public.c VALUES (1, 'kept')`, ...VIA_LOG('c')]);
    try {
      const csv = dmsCsv([OP, 'id', 'v'], [1, 2, 3, 4, 5, 6].map((i) => ['I', String(i), `v${i}`]));
      const r = await loadObject({ dmsKey: key('dms/public/c/LOAD00000001.csv'), etag: 'e', body: bodyOf(csv) }, d.opts({ limits: { maxRows: 3, maxBytes: 8 * 1024 * 1024 } }));
      expect(r).toMatchObject({ status: 'loaded', rowsRejected: 0, transactions: 3 });
      expect(await via(d.client, 'c')).toEqual(['2:insert', '3:copy', '4:copy', '5:copy', '6:copy']);
      expect(await rows(d.client, 'SELECT id::int, v FROM public.c WHERE id <= 2 ORDER BY id')).toEqual([{ id: 1, v: 'kept' }, { id: 2, v: 'v2' }]);
    } finally {
      await d.close();
    }
  });
});

describe('hooks, lag, delimiters, gzip', () => {
  test('afterSnapshot and beforeCommit run once per transaction on the COPY path and on the INSERT path', async () => {
    const d = await newDb(['CREATE TABLE public.t (id bigint PRIMARY KEY, v text)']);
    try {
      const calls: string[] = [];
      const opts = d.opts({
        limits: { maxRows: 3, maxBytes: 8 * 1024 * 1024 },
        afterSnapshot: async (_c, no) => void calls.push(`after ${no}`),
        beforeCommit: async (_c, no) => void calls.push(`before ${no}`),
      });
      const csv = (op: string) => dmsCsv([OP, 'id', 'v'], [1, 2, 3].map((i) => [op, String(i), `${op}${i}`]));
      await loadObject({ dmsKey: key('dms/public/t/LOAD00000001.csv'), etag: 'e', body: bodyOf(csv('I')) }, opts);
      expect(calls.splice(0)).toEqual(['after 1', 'before 1', 'after 2', 'before 2']);
      await loadObject({ dmsKey: key('dms/public/t/20261201-000000000.csv'), etag: 'e', body: bodyOf(csv('U')) }, opts);
      expect(calls).toEqual(['after 1', 'before 1', 'after 2', 'before 2']);
      expect(await rows(d.client, 'SELECT v FROM public.t ORDER BY id')).toEqual([{ v: 'U1' }, { v: 'U2' }, { v: 'U3' }]);
    } finally {
      await d.close();
    }
  });

  test('the lag metric is the age of the batch\'s last DMS commit timestamp (UTC); an unreadable timestamp gives no metric', async () => {
    const d = await newDb(['CREATE TABLE public.t (id bigint PRIMARY KEY, v text)']);
    try {
      const anHourAgo = new Date(Date.now() - 3600_000).toISOString().replace('T', ' ').replace('Z', '000'); // DMS: 2026-12-01 07:00:00.123000
      await loadObject({ dmsKey: key('dms/public/t/20261201-000000000.csv'), etag: 'e', body: bodyOf(dmsCsv([OP, TS, 'id', 'v'], [['I', anHourAgo, '1', 'a']])) }, d.opts());
      expect(d.metrics.lags).toHaveLength(1);
      expect(d.metrics.lags[0]).toBeGreaterThan(3600 - 120);
      expect(d.metrics.lags[0]).toBeLessThan(3600 + 120);
      await loadObject({ dmsKey: key('dms/public/t/20261201-000000001.csv'), etag: 'e', body: bodyOf(dmsCsv([OP, TS, 'id', 'v'], [['U', 'not a time', '1', 'b']])) }, d.opts());
      expect(d.metrics.lags).toHaveLength(1);
      expect(await rows(d.client, 'SELECT v FROM public.t')).toEqual([{ v: 'b' }]);
    } finally {
      await d.close();
    }
  });

  test('an endpoint with CsvDelimiter ";" and CsvRowDelimiter "\\r\\n": every field parsed exactly', async () => {
    const d = await newDb(['CREATE TABLE public.t (id bigint PRIMARY KEY, qty integer)']);
    try {
      const body = `${OP};id;qty\r\nI;1;5\r\nI;2;6\r\n`;
      const r = await loadObject({ dmsKey: key('dms/public/t/LOAD00000001.csv'), etag: 'e', body: bodyOf(body) }, d.opts({ csvDelimiter: ';', csvRowDelimiter: '\r\n' }));
      expect(r).toMatchObject({ status: 'loaded', rowsApplied: 2, rowsRejected: 0 });
      expect(await rows(d.client, 'SELECT id::int, qty FROM public.t ORDER BY id')).toEqual([{ id: 1, qty: 5 }, { id: 2, qty: 6 }]);
    } finally {
      await d.close();
    }
  });

  test('a gzip body whose download fails midway fails the load with that error (no hang), nothing committed', async () => {
    const d = await newDb(['CREATE TABLE public.t (id bigint PRIMARY KEY, v text)']);
    try {
      const gz = gzipSync(Buffer.from(dmsCsv([OP, 'id', 'v'], Array.from({ length: 2000 }, (_, i) => ['I', String(i + 1), `value ${i}`]))));
      // The first read gets 200 bytes; the connection breaks on the next one (the loader is reading by then).
      let reads = 0;
      const body: Readable = new Readable({
        read() {
          if (++reads === 1) this.push(gz.subarray(0, 200));
          else setImmediate(() => body.destroy(Object.assign(new Error('socket hang up while reading the S3 object'), { code: 'ECONNRESET' })));
        },
      });
      await expect(loadObject({ dmsKey: key('dms/public/t/LOAD00000001.csv.gz'), etag: 'e', body }, d.opts())).rejects.toThrow('socket hang up while reading the S3 object');
      expect(await rows(d.client, 'SELECT count(*)::int AS n FROM public.t')).toEqual([{ n: 0 }]);
    } finally {
      await d.close();
    }
  });
});

describe('CDC statements', () => {
  test('a delete that carries only its key (the other columns NULL, even NOT NULL ones, as DMS writes deletes from a source table with REPLICA IDENTITY DEFAULT) deletes the row; its other fields are not even parsed', async () => {
    // https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-REPLICA-IDENTITY: with
    // DEFAULT, the old row of a DELETE records only the primary key, so DMS has no value for the other columns.
    const d = await newDb(['CREATE TABLE public.del (id bigint PRIMARY KEY, n int NOT NULL, v text NOT NULL)', `INSERT INTO public.del VALUES (1, 10, 'one'), (2, 20, 'two')`]);
    try {
      const cdc = dmsCsv([OP, 'id', 'n', 'v'], [['D', '1', DMS_CSV.nullValue, DMS_CSV.nullValue], ['D', '2', 'not a number', DMS_CSV.nullValue]]);
      const r = await loadObject({ dmsKey: key('dms/public/del/20261201-000000000.csv'), etag: 'e', body: bodyOf(cdc) }, d.opts());
      expect(r).toMatchObject({ status: 'loaded', rowsApplied: 2, rowsRejected: 0 });
      expect(await rows(d.client, 'SELECT count(*)::int AS n FROM public.del')).toEqual([{ n: 0 }]);
      expect(d.quarantine.objects.size).toBe(0);
    } finally {
      await d.close();
    }
  });

  test('consecutive rows of one kind share a statement; a repeated key or a change of kind starts the next; no empty statements; a second delivery is already-loaded', async () => {
    const d = await newDb([
      'CREATE TABLE public.g (id bigint PRIMARY KEY, v text)',
      `INSERT INTO public.g VALUES (9, 'nine')`,
      'CREATE TABLE public.g_stmt (at bigserial, op text, n int)',
      `CREATE FUNCTION g_stmt_new() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO g_stmt (op, n) SELECT TG_OP, count(*) FROM new_rows; RETURN NULL; END $$`,
      `CREATE FUNCTION g_stmt_old() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO g_stmt (op, n) SELECT TG_OP, count(*) FROM old_rows; RETURN NULL; END $$`,
      'CREATE TRIGGER s_ins AFTER INSERT ON public.g REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION g_stmt_new()',
      'CREATE TRIGGER s_upd AFTER UPDATE ON public.g REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION g_stmt_new()',
      'CREATE TRIGGER s_del AFTER DELETE ON public.g REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION g_stmt_old()',
    ]);
    try {
      const objectKey = 'dms/public/g/20261201-000000000.csv';
      const cdc = dmsCsv(
        [OP, 'id', 'v'],
        [['I', '1', 'a'], ['I', '2', 'b'], ['U', '9', 'NINE'], ['U', '1', 'a2'], ['D', '2', 'b'], ['D', '9', 'NINE'], ['I', '2', 'b2']],
      );
      const first = await loadObject({ dmsKey: key(objectKey), etag: 'e', body: bodyOf(cdc) }, d.opts());
      expect(first).toMatchObject({ status: 'loaded', rowsApplied: 7, transactions: 1 });
      // Statement 1: upsert 1, 2, 9 (two inserts, one update); 2: upsert 1 again (key repeats); 3: delete 2, 9; 4: upsert 2.
      // An INSERT … ON CONFLICT DO UPDATE fires the AFTER statement triggers of UPDATE and then of INSERT.
      expect((await rows(d.client, 'SELECT op, n FROM g_stmt ORDER BY at')).map((x) => `${x.op} ${x.n}`)).toEqual([
        'UPDATE 1',
        'INSERT 2',
        'UPDATE 1',
        'INSERT 0',
        'DELETE 2',
        'UPDATE 0',
        'INSERT 1',
      ]);
      expect(await rows(d.client, 'SELECT id::int, v FROM public.g ORDER BY id')).toEqual([{ id: 1, v: 'a2' }, { id: 2, v: 'b2' }]);
      const again = await loadObject({ dmsKey: key(objectKey), etag: 'e', body: bodyOf(cdc) }, d.opts());
      expect(again).toStrictEqual({
        status: 'already-loaded',
        objectKey,
        etag: 'e',
        table: 'public.g',
        records: 7,
        rowsApplied: 0,
        rowsRejected: 0,
        transactions: 0,
        retries: 0,
        resumedFrom: 7,
        quarantineKeys: [],
      });
    } finally {
      await d.close();
    }
  });
});

describe('the object body before the loader reads it', () => {
  test('the S3 connection breaks while the loader reads the table and its progress row: that error fails the load (no uncaught exception, no hang), nothing committed', async () => {
    const d = await newDb(['CREATE TABLE public.h (id bigint PRIMARY KEY, v text)']);
    try {
      const body = new Readable({ read() {} });
      // GetObject has answered; the socket resets before the loader attached any reader to the body.
      setImmediate(() => body.destroy(Object.assign(new Error('socket hang up before the first read'), { code: 'ECONNRESET' })));
      await expect(loadObject({ dmsKey: key('dms/public/h/LOAD00000001.csv'), etag: 'e', body }, d.opts())).rejects.toThrow('socket hang up before the first read');
      expect(await rows(d.client, 'SELECT count(*)::int AS n FROM public.h')).toEqual([{ n: 0 }]);
      expect(await rows(d.client, 'SELECT count(*)::int AS n FROM dsql_loader.progress')).toEqual([{ n: 0 }]);
    } finally {
      await d.close();
    }
  }, 20_000);

  test('a body that already failed before the load (its error event gone) fails the load with that error instead of waiting for an end that never comes', async () => {
    const d = await newDb(['CREATE TABLE public.h (id bigint PRIMARY KEY, v text)']);
    try {
      const body = new Readable({ read() {} });
      body.on('error', () => undefined);
      body.destroy(new Error('reset while the caller held the body'));
      await new Promise((r) => setImmediate(r));
      await expect(loadObject({ dmsKey: key('dms/public/h/LOAD00000001.csv'), etag: 'e', body }, d.opts())).rejects.toThrow('reset while the caller held the body');
    } finally {
      await d.close();
    }
  }, 20_000);

  test('an error event emitted on the body without destroying it (as some stream wrappers do) still fails the load: the rows after it are not loaded', async () => {
    const d = await newDb(['CREATE TABLE public.h (id bigint PRIMARY KEY, v text)']);
    try {
      const body = new PassThrough();
      // A wrapper re-emits the socket's error and leaves the stream open: body.errored stays null, and the data
      // that follows would read and load normally if the loader only looked at body.errored.
      setImmediate(() => {
        body.emit('error', Object.assign(new Error('wrapped socket reset'), { code: 'ECONNRESET' }));
        body.end(dmsCsv([OP, 'id', 'v'], [['I', '1', 'a']]));
      });
      expect(body.errored).toBeNull();
      await expect(loadObject({ dmsKey: key('dms/public/h/LOAD00000001.csv'), etag: 'e', body }, d.opts())).rejects.toThrow('wrapped socket reset');
      expect(await rows(d.client, 'SELECT count(*)::int AS n FROM public.h')).toEqual([{ n: 0 }]);
      expect(await rows(d.client, 'SELECT count(*)::int AS n FROM dsql_loader.progress')).toEqual([{ n: 0 }]);
    } finally {
      await d.close();
    }
  }, 20_000);

  test('a target table that does not exist fails the load naming it, and the body is released (destroyed), not left holding the S3 connection', async () => {
    const d = await newDb([]);
    try {
      const body = bodyOf(dmsCsv([OP, 'id'], [['I', '1']]));
      await expect(loadObject({ dmsKey: key('dms/public/missing/LOAD00000001.csv'), etag: 'e', body }, d.opts())).rejects.toThrow(/missing/);
      expect(body.destroyed).toBe(true);
    } finally {
      await d.close();
    }
  }, 20_000);
});

describe('file order and the progress table', () => {
  const CDC1 = 'dms/public/items/20261130-030000010.csv';
  const CDC2 = 'dms/public/items/20261130-030000020.csv';
  const CDC3 = 'dms/public/items/20261130-030000030.csv';
  const done = (c: Client, k: string, isDone: boolean) =>
    c.query(
      `INSERT INTO dsql_loader.progress (object_key, object_etag, target_table, records_committed, last_line, rows_applied, rows_rejected, done, updated_at)
       VALUES ($1, 'e', 'public.items', 0, 0, 0, 0, $2, now())`,
      [k, isDone],
    );

  test('with ETags, the listed version of each earlier file must be done: another done version of the key does not count, and the message says the file was rewritten', async () => {
    const d = await newDb([]);
    try {
      const LOAD = 'dms/public/items/LOAD00000001.csv';
      await done(d.client, LOAD, true); // version 'e' done
      await done(d.client, CDC1, true);
      const cdc = key(CDC3);
      // The LOAD file was rewritten (now ETag e2); CDC1 is listed with the done version; CDC2 was never loaded.
      await expect(assertEarlierFilesLoaded(d.client, cdc, [{ key: LOAD, etag: 'e2' }, { key: CDC1, etag: 'e' }])).rejects.toThrow(
        `${CDC3} waits: 1 earlier file(s) of public.items are not loaded yet (first: ${LOAD}, rewritten since it was loaded: ETag e2)`,
      );
      await expect(assertEarlierFilesLoaded(d.client, cdc, [{ key: CDC2, etag: 'x' }, { key: LOAD, etag: 'e2' }])).rejects.toThrow(
        `${CDC3} waits: 2 earlier file(s) of public.items are not loaded yet (first: ${CDC2})`,
      );
      await expect(assertEarlierFilesLoaded(d.client, cdc, [{ key: LOAD, etag: 'e' }, CDC1])).resolves.toBeUndefined();
    } finally {
      await d.close();
    }
  });

  test('a CDC file waits, naming how many earlier files are not done and the first of them; a full-load file never waits', async () => {
    const d = await newDb([]);
    try {
      await done(d.client, 'dms/public/items/LOAD00000001.csv', true);
      await done(d.client, CDC1, false); // started, not finished
      const earlier = ['dms/public/items/LOAD00000001.csv', CDC1, CDC2];
      const cdc = key(CDC3);
      expect(cdc.kind).toBe('cdc');
      const refused = await assertEarlierFilesLoaded(d.client, cdc, earlier).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(refused).toBeInstanceOf(WaitError);
      expect(refused).toMatchObject({
        name: 'DsqlLoaderWaitError',
        message: `${CDC3} waits: 2 earlier file(s) of public.items are not loaded yet (first: ${CDC1})`,
      });
      // A full-load file does not wait for anything (DMS writes the full load before any change of the table).
      const load = key('dms/public/items/LOAD00000002.csv');
      expect(load.kind).not.toBe('cdc');
      await expect(assertEarlierFilesLoaded(d.client, load, earlier)).resolves.toBeUndefined();
      await expect(assertEarlierFilesLoaded(d.client, cdc, [])).resolves.toBeUndefined();
      await d.client.query(`UPDATE dsql_loader.progress SET done = true WHERE object_key = $1`, [CDC1]);
      await done(d.client, CDC2, true);
      await expect(assertEarlierFilesLoaded(d.client, cdc, earlier)).resolves.toBeUndefined();
    } finally {
      await d.close();
    }
  });

  test('a loader role without CREATE rights runs on a progress table an admin created (the existence check comes before any DDL)', async () => {
    const d = await newDb([]);
    const role = `loader_${d.db}`;
    await d.client.query(`CREATE ROLE ${role} LOGIN PASSWORD 'loader-test-password'`);
    await d.client.query(`GRANT USAGE ON SCHEMA dsql_loader TO ${role}`);
    await d.client.query(`REVOKE CREATE ON DATABASE ${d.db} FROM PUBLIC`);
    const loader = new Client({ ...pg.config(d.db), user: role, password: 'loader-test-password' });
    await loader.connect();
    try {
      // The role really cannot run the DDL: the check above is what lets it start.
      await expect(loader.query('CREATE SCHEMA IF NOT EXISTS dsql_loader')).rejects.toMatchObject({ code: '42501' });
      await expect(ensureProgressTable(loader)).resolves.toBeUndefined();
    } finally {
      await loader.end();
      await d.close();
    }
  });
});
