/**
 * The loader against a real PostgreSQL 17 (the local stand-in for Aurora DSQL) with the DSQL
 * transaction limits enforced by triggers (fixtures.ts). One server for the file; one database per
 * scenario.
 */
import { Readable } from 'stream';
import { gzipSync } from 'zlib';
import { Client } from 'pg';
import { DMS_CSV, DmsObjectKey, parseDmsKey } from '../../lambda/dsql-loader/dms-format';
import { assertEarlierFilesLoaded, ensureProgressTable, LoaderOptions, loadObject, WaitError } from '../../lambda/dsql-loader/loader';
import { findNullTokenCollisions, verifyTable } from '../../lambda/dsql-loader/verify';
import { startPostgres, TestPostgres } from '../helpers/postgres';
import {
  bodyOf,
  captureChanges,
  createDatabase,
  dmsCsv,
  exportChanges,
  exportFullLoad,
  installDsqlLimits,
  largestTransaction,
  memoryQuarantine,
  tableText,
  testConnections,
} from './fixtures';

const ITEMS_DDL = `CREATE TABLE public.items (
  id bigint PRIMARY KEY,
  name text NOT NULL,
  note text,
  price numeric(14,4),
  qty integer,
  ratio double precision,
  active boolean,
  created_at timestamptz,
  day date,
  payload bytea,
  doc json,
  uid uuid)`;
const LINES_DDL = `CREATE TABLE public.order_lines (order_id integer, line_no integer, sku varchar(20) NOT NULL, amount numeric(10,2), PRIMARY KEY (order_id, line_no))`;

const EDGE_TEXT = [
  'plain',
  'comma, inside',
  'quote " inside',
  '"fully quoted"',
  'new\nline',
  'crlf\r\nline',
  ' leading and trailing ',
  '',
  'NULL',
  'null',
  '@@dms_null@@',
  'ünïcödé',
  '日本語テキスト',
  '🙂 emoji',
  'back\\slash',
  'tab\there',
  "apostrophe's",
  ',',
  '""',
];

let pg: TestPostgres;
let dbNo = 0;

beforeAll(async () => {
  pg = await startPostgres();
}, 120_000);

afterAll(async () => {
  await pg?.stop();
});

interface Target {
  client: Client;
  db: string;
  opts: LoaderOptions;
  quarantine: ReturnType<typeof memoryQuarantine>;
  retries: string[];
  close(): Promise<void>;
}

async function newTarget(extra: Partial<LoaderOptions> = {}, limits = { rows: 3000, bytes: 10 * 1024 * 1024 }): Promise<Target> {
  const db = `dst${++dbNo}`;
  const client = await createDatabase(pg, db);
  await client.query(ITEMS_DDL);
  await client.query(LINES_DDL);
  await ensureProgressTable(client);
  await installDsqlLimits(client, ['public.items', 'public.order_lines', 'dsql_loader.progress'], limits);
  const quarantine = memoryQuarantine();
  const retries: string[] = [];
  const connections = testConnections(pg, db);
  return {
    client,
    db,
    quarantine,
    retries,
    opts: {
      connections,
      quarantine,
      quarantinePrefix: 'quarantine',
      metrics: { rowsLoaded: () => {}, rowsRejected: () => {}, retry: (r) => retries.push(r), lagSeconds: () => {} },
      baseDelayMs: 5,
      ...extra,
    },
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

function itemRow(id: number, over: Partial<Record<string, string | null>> = {}): Record<string, string | null> {
  return {
    id: String(id),
    name: `item ${id}`,
    note: EDGE_TEXT[id % EDGE_TEXT.length],
    price: (id * 1.2345).toFixed(4),
    qty: String(id % 1000),
    ratio: String(id / 7),
    active: id % 3 === 0 ? 'true' : 'false',
    created_at: `2026-0${1 + (id % 9)}-1${id % 10} 1${id % 10}:2${id % 10}:00.123456`,
    day: `2026-11-${String(1 + (id % 28)).padStart(2, '0')}`,
    payload: Buffer.from(`p${id}`).toString('hex'),
    doc: JSON.stringify({ id, tags: ['a', 'b'] }),
    uid: `00000000-0000-4000-8000-${String(id).padStart(12, '0')}`,
    ...over,
  };
}

const ITEM_COLS = ['id', 'name', 'note', 'price', 'qty', 'ratio', 'active', 'created_at', 'day', 'payload', 'doc', 'uid'];
const HEADER = [DMS_CSV.opColumn, DMS_CSV.timestampColumn, ...ITEM_COLS];
const TS = '2026-11-30 02:00:00.000000';

function fullLoadCsv(ids: number[]): string {
  return dmsCsv(HEADER, ids.map((id) => ['I', TS, ...ITEM_COLS.map((c) => itemRow(id)[c])]));
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe('DMS dataset: full load + CDC → target equals source row for row', () => {
  let src: Client;
  let t: Target;

  beforeAll(async () => {
    src = await createDatabase(pg, 'src');
    await src.query(ITEMS_DDL);
    await src.query(LINES_DDL);
    // Source data with every edge case: quoting, newlines, NULL vs '', unicode, numerics, zones, bytea, booleans.
    await src.query(`
      INSERT INTO items
      SELECT g, 'item ' || g,
             (ARRAY[${EDGE_TEXT.map((s) => `'${s.replace(/'/g, "''")}'`).join(',')}])[1 + g % ${EDGE_TEXT.length}],
             CASE WHEN g % 11 = 0 THEN NULL ELSE round((g * 1.2345 - 3000)::numeric, 4) END,
             CASE WHEN g % 13 = 0 THEN NULL ELSE g % 1000 - 500 END,
             g / 7.0,
             CASE WHEN g % 5 = 0 THEN NULL ELSE g % 2 = 0 END,
             timestamptz '2026-01-01 00:00:00+00' + g * interval '37 minutes 1.5 seconds'
               + CASE WHEN g % 4 = 0 THEN interval '0' ELSE interval '0.000001 second' * g END,
             date '2026-01-01' + g % 400,
             CASE WHEN g % 17 = 0 THEN NULL WHEN g % 19 = 0 THEN ''::bytea ELSE decode(md5(g::text) || '00ff0a0d2c22', 'hex') END,
             CASE WHEN g % 23 = 0 THEN NULL ELSE json_build_object('id', g, 'name', 'n,"' || g, 'nested', json_build_array(1, 'two', null)) END,
             CASE WHEN g % 29 = 0 THEN NULL ELSE md5('u' || g)::uuid END
        FROM generate_series(1, 7500) g`);
    await src.query(`UPDATE items SET payload = (SELECT string_agg(set_byte('\\x00'::bytea, 0, b), ''::bytea) FROM generate_series(0, 255) b) WHERE id = 42`);
    await src.query(`INSERT INTO order_lines SELECT o, l, 'SKU-' || o || '-' || l, (o * l) / 3.0 FROM generate_series(1, 400) o, generate_series(1, 5) l`);
    t = await newTarget();
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await src?.end();
  });

  test('full load in limit-sized transactions, then CDC with I/U/D of the same keys applied in DMS order', async () => {
    const files: Array<{ key: string; body: string }> = [];
    (await exportFullLoad(src, 'items', 4000)).forEach((body, i) => files.push({ key: `dms/public/items/LOAD0000000${i + 1}.csv`, body }));
    (await exportFullLoad(src, 'order_lines', 5000)).forEach((body, i) => files.push({ key: `dms/public/order_lines/LOAD0000000${i + 1}.csv`, body }));

    // Changes after the snapshot, captured like CDC: inserts, updates (several per key, in and across files), deletes, re-inserts.
    await captureChanges(src, 'items');
    await captureChanges(src, 'order_lines');
    await src.query(`INSERT INTO items (id, name, note, price, active) SELECT g, 'new ' || g, CASE WHEN g % 2 = 0 THEN '' END, g, true FROM generate_series(7501, 7800) g`);
    await src.query(`UPDATE items SET name = name || ' v2', qty = coalesce(qty, 0) + 1, note = NULL WHERE id % 10 = 1`);
    await src.query(`UPDATE items SET name = name || ' v3', note = 'line1\nline2, "quoted"' WHERE id % 20 = 1`);
    await src.query(`DELETE FROM items WHERE id % 50 = 7`);
    await src.query(`INSERT INTO items (id, name, note) SELECT id, 'reborn ' || id, '' FROM generate_series(7, 7500, 100) id`); // re-insert deleted keys
    await src.query(`UPDATE items SET doc = '{"k": "v"}', payload = '\\x00ff'::bytea WHERE id BETWEEN 7600 AND 7650`);
    await src.query(`DELETE FROM items WHERE id BETWEEN 7700 AND 7710`); // inserted then deleted
    await src.query(`UPDATE order_lines SET amount = amount + 1 WHERE line_no = 2`);
    await src.query(`DELETE FROM order_lines WHERE order_id % 40 = 0`);
    const itemsCdc = await exportChanges(src, 'items', 700);
    const linesCdc = await exportChanges(src, 'order_lines', 10000);
    itemsCdc.forEach((body, i) => files.push({ key: `dms/public/items/20261130-0300000${i}0.csv`, body }));
    linesCdc.forEach((body, i) => files.push({ key: `dms/public/order_lines/20261130-0300000${i}0.csv`, body }));
    expect(itemsCdc.length).toBeGreaterThanOrEqual(2);

    let transactions = 0;
    for (const f of files) {
      const r = await loadObject({ dmsKey: key(f.key), etag: `etag-${f.key}`, body: bodyOf(f.body) }, t.opts);
      expect(r.status).toBe('loaded');
      expect(r.rowsRejected).toBe(0);
      transactions += r.transactions;
    }
    for (const table of ['items', 'order_lines']) {
      const v = await verifyTable(src, t.client, 'public', table);
      expect(v).toMatchObject({ ok: true, missingCount: 0, extraCount: 0, differentCount: 0 });
      expect(v.targetRows).toBe(v.sourceRows);
    }
    expect(await tableText(t.client, 'items', 'id')).toEqual(await tableText(src, 'items', 'id'));
    expect(await tableText(t.client, 'order_lines', 'order_id, line_no')).toEqual(await tableText(src, 'order_lines', 'order_id, line_no'));
    // NULL and '' survived as different values.
    const nulls = await t.client.query(`SELECT count(*) FILTER (WHERE note IS NULL) AS n, count(*) FILTER (WHERE note = '') AS e FROM items`);
    expect(Number(nulls.rows[0].n)).toBeGreaterThan(0);
    expect(Number(nulls.rows[0].e)).toBeGreaterThan(0);
    // Every transaction stayed within the limits, and the loader used them (not one row per transaction).
    const largest = await largestTransaction(t.client);
    expect(largest.rows).toBeLessThanOrEqual(3000);
    expect(largest.rows).toBeGreaterThan(2500);
    expect(transactions).toBeLessThan(30);
  });
});

describe('verifier', () => {
  test('reports a clear diff when target and source disagree (own data: independent of the other tests)', async () => {
    const src = await createDatabase(pg, 'verify_src');
    const t = await newTarget();
    try {
      await src.query(ITEMS_DDL);
      const seed = `INSERT INTO items (id, name, note) SELECT g, 'item ' || g, CASE WHEN g % 2 = 0 THEN NULL ELSE 'n' || g END FROM generate_series(1, 50) g`;
      await src.query(seed);
      await t.client.query(seed);
      expect(await verifyTable(src, t.client, 'public', 'items')).toMatchObject({ ok: true, missingCount: 0, extraCount: 0, differentCount: 0 });
      await t.client.query(`DELETE FROM items WHERE id = 2`);
      await t.client.query(`UPDATE items SET note = '' WHERE id = 3`);
      await t.client.query(`INSERT INTO items (id, name) VALUES (999999, 'stray')`);
      const v = await verifyTable(src, t.client, 'public', 'items');
      expect(v.ok).toBe(false);
      expect(v).toMatchObject({ missing: ['["2"]'], extra: ['["999999"]'], different: ['["3"]'], missingCount: 1, extraCount: 1, differentCount: 1 });
    } finally {
      await t.close();
      await src.end();
    }
  });
});

describe('limits', () => {
  test('the PostgreSQL fixture refuses a transaction above 3,000 rows (a loader that exceeded it would fail)', async () => {
    const t = await newTarget({ limits: { maxRows: 3500, maxBytes: 8 * 1024 * 1024 } });
    try {
      await expect(loadObject({ dmsKey: key('dms/public/items/LOAD00000001.csv'), etag: 'e1', body: bodyOf(fullLoadCsv(range(1, 3600))) }, t.opts)).rejects.toMatchObject({
        code: '54000',
      });
      expect((await t.client.query('SELECT count(*)::int AS n FROM items')).rows[0].n).toBe(0);
    } finally {
      await t.close();
    }
  });

  test('the byte budget splits transactions of wide rows before the row limit', async () => {
    const t = await newTarget({}, { rows: 3000, bytes: 1024 * 1024 });
    t.opts = { ...t.opts, limits: { maxRows: 3000, maxBytes: 1024 * 1024 } };
    try {
      const wide = 'x'.repeat(2000);
      const csv = dmsCsv(HEADER, range(1, 2000).map((id) => ['I', TS, ...ITEM_COLS.map((c) => (c === 'note' ? wide : itemRow(id)[c]))]));
      const r = await loadObject({ dmsKey: key('dms/public/items/LOAD00000001.csv'), etag: 'e1', body: bodyOf(csv, 65536) }, t.opts);
      expect(r.rowsApplied).toBe(2000);
      expect(r.transactions).toBeGreaterThanOrEqual(4); // ~2 KB rows → < 512 rows per MiB
      const largest = await largestTransaction(t.client);
      expect(largest.bytes).toBeLessThanOrEqual(1024 * 1024);
      expect(largest.rows).toBeLessThan(600);
    } finally {
      await t.close();
    }
  });
});

describe('byte budget reserves room for the progress row', () => {
  test('rows per transaction = floor((maxBytes - progress row) / row estimate), exactly', async () => {
    // Rows of a known estimate (README: (value bytes + 64) x (1 + secondary indexes)): bigint 8 +
    // text (948 bytes + 4) + 64 = 1,024 bytes. 64 KiB is exactly 64 such rows: without the progress
    // row's reservation a transaction would carry 64 data rows + the progress row; with it, 63 + 1.
    const t = await newTarget();
    try {
      await t.client.query('CREATE TABLE public.wide (id bigint PRIMARY KEY, body text NOT NULL)');
      await installDsqlLimits(t.client, ['public.wide']);
      const body = 'y'.repeat(948);
      const rows = 63 * 5 + 10;
      const csv = dmsCsv([DMS_CSV.opColumn, 'id', 'body'], range(1, rows).map((id) => ['I', String(id), body]));
      const maxBytes = 64 * 1024;
      const r = await loadObject({ dmsKey: key('dms/public/wide/LOAD00000001.csv'), etag: 'e1', body: bodyOf(csv, 4096) }, { ...t.opts, limits: { maxRows: 3000, maxBytes } });
      expect(r).toMatchObject({ status: 'loaded', rowsApplied: rows, transactions: 6 });
      const txns = await t.client.query<{ rows: string }>('SELECT rows FROM dsql_limits.txn ORDER BY xid');
      // Every transaction: its data rows + 1 progress row; all but the last full at 63 data rows.
      expect(txns.rows.map((x) => Number(x.rows))).toEqual([64, 64, 64, 64, 64, 11]);
      expect((await t.client.query('SELECT count(*)::int AS n FROM wide')).rows[0].n).toBe(rows);
    } finally {
      await t.close();
    }
  });
});

describe('faults', () => {
  test('the same object delivered twice: loaded once', async () => {
    const t = await newTarget();
    try {
      const csv = fullLoadCsv(range(1, 4000));
      const counted = { loaded: 0, rejected: 0, lags: [] as number[] };
      t.opts = { ...t.opts, metrics: { rowsLoaded: (n) => (counted.loaded += n), rowsRejected: (n) => (counted.rejected += n), retry: () => {}, lagSeconds: (s) => counted.lags.push(s) } };
      const first = await loadObject({ dmsKey: key('dms/public/items/LOAD00000001.csv'), etag: 'abc', body: bodyOf(csv) }, t.opts);
      expect(counted).toMatchObject({ loaded: 4000, rejected: 0 });
      expect(counted.lags.length).toBeGreaterThan(0); // commit timestamp of the last row of each batch → lag
      expect(counted.lags.every((l) => l >= 0)).toBe(true);
      const second = await loadObject({ dmsKey: key('dms/public/items/LOAD00000001.csv'), etag: 'abc', body: bodyOf(csv) }, t.opts);
      expect(first).toMatchObject({ status: 'loaded', rowsApplied: 4000 });
      expect(second).toMatchObject({ status: 'already-loaded', rowsApplied: 0 });
      expect((await t.client.query('SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM items')).rows[0]).toEqual({ n: 4000, d: 4000 });
      // A CDC file applied twice (new delivery of the same version) must not re-apply its changes either.
      const cdc = dmsCsv(HEADER, [
        ['U', TS, ...ITEM_COLS.map((c) => itemRow(5, { qty: '777' })[c])],
        ['D', TS, ...ITEM_COLS.map((c) => itemRow(6)[c])],
        ['D', TS, ...ITEM_COLS.map((c) => itemRow(7)[c])],
        ['I', TS, ...ITEM_COLS.map((c) => itemRow(7, { name: 'again' })[c])],
      ]);
      const once = await loadObject({ dmsKey: key('dms/public/items/20261130-030000000.csv'), etag: 'c1', body: bodyOf(cdc) }, t.opts);
      expect(once).toMatchObject({ status: 'loaded', rowsApplied: 4 });
      const after = async () => (await t.client.query(`SELECT id::int, qty, name FROM items WHERE id IN (5, 6, 7) ORDER BY id`)).rows;
      // The update applied, the delete of 6 removed it, 7 was deleted and re-inserted.
      expect(await after()).toEqual([{ id: 5, qty: 777, name: 'item 5' }, { id: 7, qty: 7, name: 'again' }]);
      // Later changes (as a later CDC file would make): a redelivered file must not undo them.
      await t.client.query(`UPDATE items SET qty = 888 WHERE id = 5`);
      await t.client.query(`INSERT INTO items (id, name) VALUES (6, 'reborn')`);
      const twice = await loadObject({ dmsKey: key('dms/public/items/20261130-030000000.csv'), etag: 'c1', body: bodyOf(cdc) }, t.opts);
      expect(twice).toMatchObject({ status: 'already-loaded', rowsApplied: 0 });
      expect(await after()).toEqual([{ id: 5, qty: 888, name: 'item 5' }, { id: 6, qty: null, name: 'reborn' }, { id: 7, qty: 7, name: 'again' }]);
    } finally {
      await t.close();
    }
  });

  test('the same object delivered twice at the same time (queue + backfill): every row exactly once', async () => {
    const t = await newTarget();
    const other = testConnections(pg, t.db);
    try {
      const csv = fullLoadCsv(range(1, 12000));
      const [a, b] = await Promise.all([
        loadObject({ dmsKey: key('dms/public/items/LOAD00000001.csv'), etag: 'same', body: bodyOf(csv, 4096) }, t.opts),
        loadObject({ dmsKey: key('dms/public/items/LOAD00000001.csv'), etag: 'same', body: bodyOf(csv, 4096) }, { ...t.opts, connections: other }),
      ]);
      expect(a.rowsApplied + b.rowsApplied).toBe(12000);
      expect((await t.client.query('SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM items')).rows[0]).toEqual({ n: 12000, d: 12000 });
      expect((await t.client.query('SELECT records_committed::int AS r, rows_applied::int AS a, done FROM dsql_loader.progress')).rows).toEqual([{ r: 12000, a: 12000, done: true }]);
    } finally {
      await other.close();
      await t.close();
    }
  });

  test('the connection killed in the middle of a file: reconnects, resumes, nothing lost or doubled', async () => {
    const admin = await pg.client();
    let killed = 0;
    const t = await newTarget({
      beforeCommit: async (c, batchNo) => {
        if (batchNo === 2 && killed === 0) {
          killed += 1;
          const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
          await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        }
      },
    });
    try {
      const r = await loadObject({ dmsKey: key('dms/public/items/LOAD00000001.csv'), etag: 'k1', body: bodyOf(fullLoadCsv(range(1, 9000))) }, t.opts);
      expect(killed).toBe(1);
      expect(r).toMatchObject({ status: 'loaded', rowsApplied: 9000 });
      expect(t.retries).toContain('connection');
      expect((await t.client.query('SELECT count(*)::int AS n, min(id)::int AS lo, max(id)::int AS hi FROM items')).rows[0]).toEqual({ n: 9000, lo: 1, hi: 9000 });
    } finally {
      await t.close();
      await admin.end();
    }
  });

  test('a crash mid-file (the invocation dies): the next delivery resumes after the last committed transaction', async () => {
    const t = await newTarget();
    try {
      const csv = fullLoadCsv(range(1, 9000));
      const crashing = { ...t.opts, beforeCommit: async (_c: Client, batchNo: number) => { if (batchNo === 3) throw new Error('simulated crash'); } };
      await expect(loadObject({ dmsKey: key('dms/public/items/LOAD00000001.csv'), etag: 'k2', body: bodyOf(csv) }, crashing)).rejects.toThrow('simulated crash');
      const partial = (await t.client.query('SELECT count(*)::int AS n FROM items')).rows[0].n;
      expect(partial).toBe(2 * 2999);
      const r = await loadObject({ dmsKey: key('dms/public/items/LOAD00000001.csv'), etag: 'k2', body: bodyOf(csv) }, t.opts);
      expect(r).toMatchObject({ status: 'loaded', resumedFrom: 2 * 2999, rowsApplied: 9000 - 2 * 2999 });
      expect((await t.client.query('SELECT count(*)::int AS n FROM items')).rows[0].n).toBe(9000);
    } finally {
      await t.close();
    }
  });

  test('a late duplicate delivery of a LOAD file never brings back rows a later CDC file deleted (the fast COPY path checks the progress row)', async () => {
    // Delivery A of the LOAD file finishes and the next CDC file deletes rows 1-3 while delivery B (same file,
    // same version, e.g. the backfill) has read the progress row (nothing yet) but not sent its first batch.
    // B's COPY of rows 1-3 does not conflict (they are gone); only the progress guard stops it from committing
    // them again and from moving the progress row back to 3 of 6.
    const t = await newTarget({ limits: { maxRows: 4, maxBytes: 8 * 1024 * 1024 } });
    const other = testConnections(pg, t.db);
    try {
      const load = key('dms/public/items/LOAD00000001.csv');
      const csv = fullLoadCsv(range(1, 6));
      const cdc = dmsCsv(HEADER, range(1, 3).map((id) => ['D', TS, ...ITEM_COLS.map((c) => itemRow(id)[c])]));
      const conns = t.opts.connections;
      const get = conns.get.bind(conns);
      let gets = 0;
      // Test hook on the real connection manager: the other deliveries run just before B's first batch
      // transaction (B's third connection use: describeTable, progress read, batch 1).
      jest.spyOn(conns, 'get').mockImplementation(async () => {
        gets += 1;
        if (gets === 3) {
          const a = await loadObject({ dmsKey: load, etag: 'v1', body: bodyOf(csv) }, { ...t.opts, connections: other });
          expect(a).toMatchObject({ status: 'loaded', rowsApplied: 6 });
          const d = await loadObject({ dmsKey: key('dms/public/items/20261130-040000000.csv'), etag: 'c1', body: bodyOf(cdc) }, { ...t.opts, connections: other });
          expect(d).toMatchObject({ status: 'loaded', rowsApplied: 3 });
        }
        return get();
      });
      const b = await loadObject({ dmsKey: load, etag: 'v1', body: bodyOf(csv) }, t.opts);
      expect(b).toMatchObject({ status: 'loaded', rowsApplied: 0, records: 6 });
      expect((await t.client.query('SELECT id::int FROM items ORDER BY id')).rows.map((r) => r.id)).toEqual([4, 5, 6]);
      expect((await t.client.query(`SELECT records_committed::int AS r, rows_applied::int AS a, done FROM dsql_loader.progress WHERE object_etag = 'v1'`)).rows).toEqual([
        { r: 6, a: 6, done: true },
      ]);
    } finally {
      await other.close();
      await t.close();
    }
  });

  test('a concurrent writer causes 40001; the transaction is retried and the CDC change wins', async () => {
    const t = await newTarget();
    const writer = await pg.client(t.db);
    let injected = false;
    t.opts = {
      ...t.opts,
      afterSnapshot: async (_c, batchNo) => {
        if (batchNo === 1 && !injected) {
          injected = true;
          // Commits after the loader's snapshot, on a row the loader is about to update.
          await writer.query(`UPDATE items SET name = 'concurrent', qty = -1 WHERE id = 10`);
        }
      },
    };
    try {
      await t.client.query(`INSERT INTO items (id, name, qty) SELECT g, 'seed ' || g, 0 FROM generate_series(1, 20) g`);
      const cdc = dmsCsv(HEADER, range(1, 20).map((id) => ['U', TS, ...ITEM_COLS.map((c) => itemRow(id, { qty: String(100 + id) })[c])]));
      const r = await loadObject({ dmsKey: key('dms/public/items/20261130-030000000.csv'), etag: 'occ', body: bodyOf(cdc) }, t.opts);
      expect(injected).toBe(true);
      expect(t.retries).toContain('conflict');
      expect(r.retries).toBeGreaterThanOrEqual(1);
      const rows = await t.client.query(`SELECT id::int, name, qty FROM items WHERE id IN (9, 10) ORDER BY id`);
      expect(rows.rows).toEqual([{ id: 9, name: 'item 9', qty: 109 }, { id: 10, name: 'item 10', qty: 110 }]);
      expect((await t.client.query('SELECT count(*)::int AS n FROM items')).rows[0].n).toBe(20);
    } finally {
      await writer.end();
      await t.close();
    }
  });

  test('malformed lines go to the quarantine with line number and reason; good rows load; nothing else is lost', async () => {
    const t = await newTarget();
    try {
      const row = (id: number, over: Record<string, string | null> = {}) => ['I', TS, ...ITEM_COLS.map((c) => itemRow(id, { note: `ok ${id}`, ...over })[c])];
      const good = (id: number) => row(id);
      const lines: string[] = [
        HEADER.join(','), //                                                           line 1
        dmsCsv(HEADER, [good(1)]).split('\n')[1], //                                   line 2
        'I,2026-11-30 02:00:00,2,too,few', //                                          line 3: field count
        dmsCsv(HEADER, [good(3)]).split('\n')[1].replace(/^I/, 'X'), //                line 4: unknown op
        dmsCsv(HEADER, [good(4)]).split('\n')[1], //                                   line 5
        dmsCsv(HEADER, [row(5, { qty: 'five' })]).split('\n')[1], //        line 6: bad integer
        dmsCsv(HEADER, [row(6, { active: 'maybe' })]).split('\n')[1], //    line 7: bad boolean
        dmsCsv(HEADER, [row(7, { payload: 'zz' })]).split('\n')[1], //      line 8: bad hex
        dmsCsv(HEADER, [row(8, { created_at: '2026-13-45 25:61:00' })]).split('\n')[1], // line 9: DB rejects
        dmsCsv(HEADER, [row(9, { name: null })]).split('\n')[1], //         line 10: NOT NULL
        dmsCsv(HEADER, [row(10, { note: 'multi\nline ok' })]).split('\n').slice(1, 3).join('\n'), // lines 11-12
        dmsCsv(HEADER, [good(11)]).split('\n')[1], //                                  line 13
        'I,2026-11-30 02:00:00,12,"unterminated, 1,2,3', //                             line 14: quote never closed
      ];
      const r = await loadObject({ dmsKey: key('dms/public/items/LOAD00000001.csv'), etag: 'bad', body: bodyOf(lines.join('\n') + '\n', 50) }, t.opts);
      const ids = (await t.client.query('SELECT id::int FROM items ORDER BY id')).rows.map((x) => x.id);
      expect(ids).toEqual([1, 4, 10, 11]);
      expect((await t.client.query(`SELECT note FROM items WHERE id = 10`)).rows[0].note).toBe('multi\nline ok');
      const q = t.quarantine.lines();
      expect(q.map((x) => [x.line, String(x.reason).split(':')[0]])).toEqual([
        [3, 'expected 14 fields as in the header, got 5'],
        [4, 'unknown DMS operation "X" (expected I, U or D)'],
        [6, 'column "qty" (integer)'],
        [7, 'column "active" (boolean)'],
        [8, 'column "payload" (bytea)'],
        [10, `column "name" is NOT NULL but the value is NULL (the field is the CSV null token ${DMS_CSV.nullValue}`],
        [14, 'CSV'],
        [9, 'database'],
      ]);
      expect(q.every((x) => x.object === 'dms/public/items/LOAD00000001.csv')).toBe(true);
      // Bad input is kept: each quarantined record carries its raw CSV text (the source line,
      // re-encoded in the DMS format), including the row only the database refused (line 9).
      const rawOf = (line: number) => q.find((x) => x.line === line)!.raw;
      for (const line of [4, 6, 7, 8, 9, 10]) expect(rawOf(line)).toBe(lines[line - 1]);
      expect(rawOf(3)).toBe(lines[2]);
      expect(String(rawOf(14))).toContain('unterminated, 1,2,3');
      expect(r).toMatchObject({ status: 'loaded', rowsApplied: 4, rowsRejected: 8, records: 12 });
      const progress = await t.client.query('SELECT rows_applied::int, rows_rejected::int, done FROM dsql_loader.progress');
      expect(progress.rows).toEqual([{ rows_applied: 4, rows_rejected: 8, done: true }]);
    } finally {
      await t.close();
    }
  });
});

describe('file shape', () => {
  test('a gzip object (.csv.gz) whose header starts with a byte-order mark loads; the progress row is per object version', async () => {
    const t = await newTarget();
    try {
      const body = Readable.from([gzipSync(Buffer.from('\uFEFF' + fullLoadCsv([1, 2, 3])))]);
      const r = await loadObject({ dmsKey: key('dms/public/items/LOAD00000001.csv.gz'), etag: 'gz1', body }, t.opts);
      expect(r).toEqual({
        status: 'loaded',
        objectKey: 'dms/public/items/LOAD00000001.csv.gz',
        etag: 'gz1',
        table: 'public.items',
        records: 3,
        rowsApplied: 3,
        rowsRejected: 0,
        transactions: 1,
        retries: 0,
        resumedFrom: 0,
        quarantineKeys: [],
      });
      expect((await t.client.query('SELECT id::int FROM items ORDER BY id')).rows.map((x) => x.id)).toEqual([1, 2, 3]);
      expect((await t.client.query('SELECT object_key, object_etag, target_table, records_committed::int AS r, last_line::int AS l, done FROM dsql_loader.progress')).rows).toEqual([
        { object_key: 'dms/public/items/LOAD00000001.csv.gz', object_etag: 'gz1', target_table: 'public.items', r: 3, l: 4, done: true },
      ]);
    } finally {
      await t.close();
    }
  });

  test('files the loader cannot map are refused before anything is written, naming the problem; a header-only file is loaded with no rows', async () => {
    const t = await newTarget({ targetSchema: 'public' });
    try {
      const load = (csv: string, etag: string) => loadObject({ dmsKey: key('dms/other/items/LOAD00000001.csv'), etag, body: bodyOf(csv) }, t.opts);
      await expect(load('', 'e0')).rejects.toThrow('dms/other/items/LOAD00000001.csv has no header row: the DMS endpoint must set AddColumnName=true');
      await expect(load('\n\n', 'e0b')).rejects.toThrow('has no header row');
      await expect(load(`Op,id,name,colour\nI,1,a,red\n`, 'e1')).rejects.toThrow(
        'dms/other/items/LOAD00000001.csv: header columns ["colour"] do not exist in public.items; apply the converted schema or fix the table mapping',
      );
      await expect(load(`Op,name\nI,a\n`, 'e2')).rejects.toThrow('dms/other/items/LOAD00000001.csv: primary key column(s) id missing from the header');
      expect((await t.client.query('SELECT count(*)::int AS n FROM items')).rows[0].n).toBe(0);
      expect((await t.client.query('SELECT count(*)::int AS n FROM dsql_loader.progress')).rows[0].n).toBe(0);
      // Only the header: nothing to load, the object is done (and a second delivery is recognised).
      expect(await load(`Op,${DMS_CSV.timestampColumn},id,name\n`, 'e3')).toMatchObject({ status: 'loaded', records: 0, rowsApplied: 0, transactions: 1, table: 'public.items' });
      expect(await load(`Op,${DMS_CSV.timestampColumn},id,name\n`, 'e3')).toMatchObject({ status: 'already-loaded', records: 0, transactions: 0 });
      // Without the Op column every record is an insert; a header with one field is not taken for a one-column file.
      expect(await load(`id,name\n5,five\n`, 'e4')).toMatchObject({ status: 'loaded', rowsApplied: 1 });
      expect((await t.client.query('SELECT id::int, name FROM items')).rows).toEqual([{ id: 5, name: 'five' }]);
    } finally {
      await t.close();
    }
  });

  test('a U or D in a full-load file is quarantined, not applied', async () => {
    const t = await newTarget();
    try {
      const csv = dmsCsv(HEADER, [['I', TS, ...ITEM_COLS.map((c) => itemRow(1)[c])], ['U', TS, ...ITEM_COLS.map((c) => itemRow(2)[c])], ['D', TS, ...ITEM_COLS.map((c) => itemRow(1)[c])]]);
      const r = await loadObject({ dmsKey: key('dms/public/items/LOAD00000001.csv'), etag: 'ud', body: bodyOf(csv) }, t.opts);
      expect(r).toMatchObject({ status: 'loaded', rowsApplied: 1, rowsRejected: 2, quarantineKeys: ['quarantine/dms/public/items/LOAD00000001.csv/ud/records-0000000001-0000000003.jsonl'] });
      expect(t.quarantine.lines().map((x) => [x.line, x.record, x.reason])).toEqual([
        [3, 2, 'operation U in a full-load file'],
        [4, 3, 'operation D in a full-load file'],
      ]);
      expect((await t.client.query('SELECT id::int FROM items')).rows).toEqual([{ id: 1 }]);
    } finally {
      await t.close();
    }
  });

  test('stopping between transactions (Lambda time running out) leaves the object incomplete at its last commit; the next delivery resumes there', async () => {
    const t = await newTarget({ limits: { maxRows: 4, maxBytes: 8 * 1024 * 1024 } });
    try {
      const csv = fullLoadCsv(range(1, 10));
      let asked = 0;
      const first = await loadObject({ dmsKey: key('dms/public/items/LOAD00000001.csv'), etag: 'kg', body: bodyOf(csv, 64) }, { ...t.opts, keepGoing: () => (asked += 1) < 2 });
      expect(first).toMatchObject({ status: 'incomplete', records: 3, rowsApplied: 3, transactions: 1, resumedFrom: 0 });
      expect((await t.client.query('SELECT records_committed::int AS r, last_line::int AS l, done FROM dsql_loader.progress')).rows).toEqual([{ r: 3, l: 4, done: false }]);
      const second = await loadObject({ dmsKey: key('dms/public/items/LOAD00000001.csv'), etag: 'kg', body: bodyOf(csv, 64) }, t.opts);
      expect(second).toMatchObject({ status: 'loaded', records: 10, rowsApplied: 7, transactions: 3, resumedFrom: 3 });
      expect((await t.client.query('SELECT count(*)::int AS n FROM items')).rows[0].n).toBe(10);
      expect((await t.client.query('SELECT records_committed::int AS r, rows_applied::int AS a, done FROM dsql_loader.progress')).rows).toEqual([{ r: 10, a: 10, done: true }]);
    } finally {
      await t.close();
    }
  });

  test('limits.maxRows below 2 is refused (one data row plus the progress row)', async () => {
    const t = await newTarget({ limits: { maxRows: 1, maxBytes: 8 * 1024 * 1024 } });
    try {
      await expect(loadObject({ dmsKey: key('dms/public/items/LOAD00000001.csv'), etag: 'x', body: bodyOf(fullLoadCsv([1])) }, t.opts)).rejects.toThrow(
        'limits.maxRows must be at least 2 (one data row plus the progress row)',
      );
      const ok = await loadObject({ dmsKey: key('dms/public/items/LOAD00000001.csv'), etag: 'y', body: bodyOf(fullLoadCsv([1, 2])) }, { ...t.opts, limits: { maxRows: 2, maxBytes: 8 * 1024 * 1024 } });
      expect(ok).toMatchObject({ status: 'loaded', rowsApplied: 2, transactions: 2 });
    } finally {
      await t.close();
    }
  });
});

describe('DMS order of files within a table', () => {
  test('NULL token collision: a source string equal to CsvNullValue is found before the load and quarantined in NOT NULL columns', async () => {
    const t = await newTarget();
    try {
      const token = DMS_CSV.nullValue;
      // Pre-flight on the source (here a scratch table in the same server): which columns hold the token?
      await t.client.query(`CREATE TABLE public.src_items (LIKE public.items INCLUDING ALL)`);
      await t.client.query(`INSERT INTO src_items (id, name, note) VALUES (1, $1, 'x'), (2, 'ok', $1), (3, 'ok', $1), (4, 'ok', lower($1))`, [token]);
      expect(await findNullTokenCollisions(t.client, [['public', 'src_items'], ['public', 'order_lines']], token)).toEqual([
        { table: 'public.src_items', column: 'name', rows: 1 },
        { table: 'public.src_items', column: 'note', rows: 2 },
      ]);
      // DMS writes the string exactly like NULL (unquoted token). In the NOT NULL column the row is
      // quarantined with its raw text and a reason that names the token; nothing loads as NULL there.
      const line = `I,${TS},1,${token},x,,,,,,,,,`;
      const r = await loadObject({ dmsKey: key('dms/public/items/LOAD00000001.csv'), etag: 'tok', body: bodyOf(`${HEADER.join(',')}\n${line}\n`) }, t.opts);
      expect(r).toMatchObject({ status: 'loaded', rowsApplied: 0, rowsRejected: 1 });
      const q = t.quarantine.lines();
      expect(q).toHaveLength(1);
      expect(q[0]).toMatchObject({ line: 2, raw: line });
      expect(String(q[0].reason)).toContain(`the field is the CSV null token ${token}`);
    } finally {
      await t.close();
    }
  });

  test('a CDC file waits until every earlier file of its table is loaded', async () => {
    const t = await newTarget();
    try {
      const c = await t.opts.connections.get();
      const cdc = key('dms/public/items/20261130-030000000.csv');
      await expect(assertEarlierFilesLoaded(c, cdc, ['dms/public/items/LOAD00000001.csv'])).rejects.toBeInstanceOf(WaitError);
      await loadObject({ dmsKey: key('dms/public/items/LOAD00000001.csv'), etag: 'e', body: bodyOf(fullLoadCsv([1, 2])) }, t.opts);
      await expect(assertEarlierFilesLoaded(c, cdc, ['dms/public/items/LOAD00000001.csv'])).resolves.toBeUndefined();
      await expect(assertEarlierFilesLoaded(c, key('dms/public/items/LOAD00000002.csv'), ['x'])).resolves.toBeUndefined();
    } finally {
      await t.close();
    }
  });
});
