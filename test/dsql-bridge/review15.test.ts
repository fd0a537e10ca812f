/**
 * Review of issue 15 (hand-injected bugs the other dsql-bridge tests did not catch, and real bugs found
 * on the way). Each test here was first shown to fail with the bug in place.
 */
import { DMS_CSV, DmsObjectKey, parseDmsKey } from '../../lambda/dsql-loader/dms-format';
import { assertEarlierFilesLoaded, ensureProgressTable, LoaderOptions, loadObject, QuarantineSink, WaitError } from '../../lambda/dsql-loader/loader';
import { parseStatements } from '../../lambda/dsql-loader/schema-ast';
import { convertSchema } from '../../lambda/dsql-loader/schema-convert';
import { startPostgres, TestPostgres } from '../helpers/postgres';
import { bodyOf, createDatabase, dmsCsv, installDsqlLimits, memoryQuarantine, testConnections } from './fixtures';

describe('schema converter: a foreign key written inline on a column (hand-written DDL, not pg_dump)', () => {
  // Real bug found in review: the converter removed `REFERENCES …` from the column and reported
  // "Moved out of CREATE TABLE", but never added it after the load: the target lost the foreign key.
  // A named one (`CONSTRAINT x REFERENCES …`) also left `CONSTRAINT x` dangling in the column.
  test('is added after the full load as NOT VALID (named or not, in CREATE TABLE and ALTER TABLE ADD COLUMN), and the column keeps no dangling CONSTRAINT', async () => {
    const r = await convertSchema(`CREATE TABLE public.users (id bigint PRIMARY KEY);
CREATE TABLE public.orders (
  id bigint PRIMARY KEY,
  owner bigint REFERENCES public.users (id) ON DELETE CASCADE,
  payer bigint CONSTRAINT orders_payer_fk REFERENCES public.users NOT NULL
);
ALTER TABLE public.orders ADD COLUMN approver bigint REFERENCES public.users(id);`);
    const post = r.statements.filter((s) => s.phase === 'post-load').map((s) => s.sql);
    expect(post).toEqual([
      'ALTER TABLE public.orders ADD FOREIGN KEY (owner) REFERENCES public.users (id) ON DELETE CASCADE NOT VALID',
      'ALTER TABLE public.orders ADD CONSTRAINT orders_payer_fk FOREIGN KEY (payer) REFERENCES public.users NOT VALID',
      'ALTER TABLE public.orders ADD FOREIGN KEY (approver) REFERENCES public.users(id) NOT VALID',
    ]);
    const orders = r.statements.find((s) => s.object === 'table public.orders')!.sql;
    expect(orders).not.toMatch(/REFERENCES|CONSTRAINT/);
    expect(orders).toMatch(/payer bigint\s+NOT NULL/);
    // Every statement is valid PostgreSQL (libpg_query, PostgreSQL's own parser).
    for (const s of r.statements) expect(parseStatements(s.sql)).not.toHaveProperty('error');
    const fk = r.findings.filter((f) => f.rule === 'foreign-key');
    expect(fk.map((f) => f.object)).toEqual(['column public.orders.owner', 'column public.orders.payer', 'column public.orders.approver']);
  });
});

describe('loader on a real PostgreSQL (embedded, one server for this file)', () => {
  let pg: TestPostgres;
  let dbNo = 0;
  beforeAll(async () => {
    pg = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
  });

  const HEADER = [DMS_CSV.opColumn, DMS_CSV.timestampColumn, 'id', 'name', 'qty'];
  const TS = '2026-11-30 02:00:00.000000';
  const key = (k: string): DmsObjectKey => {
    const parsed = parseDmsKey(k, 'dms');
    if (typeof parsed === 'string') throw new Error(parsed);
    return parsed;
  };

  async function target(quarantine: QuarantineSink, ddl = 'CREATE TABLE public.things (id bigint PRIMARY KEY, name text NOT NULL, qty integer)') {
    const db = `r15_${++dbNo}`;
    const client = await createDatabase(pg, db);
    await client.query(ddl);
    await ensureProgressTable(client);
    await installDsqlLimits(client, ['public.things', 'dsql_loader.progress']);
    const connections = testConnections(pg, db);
    const opts: LoaderOptions = { connections, quarantine, quarantinePrefix: 'quarantine', baseDelayMs: 5 };
    return { client, opts, close: async () => { await connections.close(); await client.end(); } };
  }

  // Injected: `void opts.quarantine.put(...)` (the await dropped). A quarantine write that fails must
  // fail the load before the batch's progress commits; otherwise the malformed row is neither in the
  // table nor in the quarantine (lost) and a redelivery skips it as committed.
  test('a quarantine write that fails stops the load before that batch commits; the redelivery quarantines the row, nothing lost', async () => {
    const failing: QuarantineSink = { put: async () => { await new Promise((r) => setTimeout(r, 20)); throw new Error('S3 PutObject AccessDenied'); } };
    const t = await target(failing);
    try {
      const csv = dmsCsv(HEADER, [['I', TS, '1', 'one', '1'], ['I', TS, '2', 'two', 'not a number'], ['I', TS, '3', 'three', '3']]);
      const k = key('dms/public/things/LOAD00000001.csv');
      await expect(loadObject({ dmsKey: k, etag: 'e1', body: bodyOf(csv) }, t.opts)).rejects.toThrow('AccessDenied');
      const progress = await t.client.query('SELECT records_committed::int AS r, done FROM dsql_loader.progress');
      expect(progress.rows.filter((p) => p.done || p.r >= 2)).toEqual([]);
      const good = memoryQuarantine();
      const again = await loadObject({ dmsKey: k, etag: 'e1', body: bodyOf(csv) }, { ...t.opts, quarantine: good });
      expect(again).toMatchObject({ status: 'loaded', rowsApplied: 2, rowsRejected: 1 });
      expect(good.lines()).toEqual([expect.objectContaining({ record: 2, raw: expect.stringContaining('not a number') })]);
      expect((await t.client.query('SELECT id::int FROM things ORDER BY id')).rows.map((r) => r.id)).toEqual([1, 3]);
    } finally {
      await t.close();
    }
  });

  // Injected: a D row converted with all its columns (not only the key). A PostgreSQL source with the
  // default REPLICA IDENTITY sends only the key of a deleted row, so DMS writes NULL for the others;
  // a NOT NULL column then made the delete "invalid": quarantined, and the row stayed in the target.
  test('a CDC delete that carries only the key (other columns NULL, as with REPLICA IDENTITY DEFAULT) deletes the row', async () => {
    const q = memoryQuarantine();
    const t = await target(q);
    try {
      await t.client.query(`INSERT INTO things VALUES (1, 'one', 1), (2, 'two', 2)`);
      const csv = dmsCsv(HEADER, [['D', TS, '1', null, null]]);
      const r = await loadObject({ dmsKey: key('dms/public/things/20261130-030000000.csv'), etag: 'c1', body: bodyOf(csv) }, t.opts);
      expect(r).toMatchObject({ status: 'loaded', rowsApplied: 1, rowsRejected: 0 });
      expect(q.objects.size).toBe(0);
      expect((await t.client.query('SELECT id::int FROM things ORDER BY id')).rows.map((x) => x.id)).toEqual([2]);
    } finally {
      await t.close();
    }
  });

  // Injected: the bisection that finds the rows the database refuses stopped at two rows
  // (`subset.length <= 2`), so a good row next to a refused one was quarantined with it.
  test('a row the database refuses (CHECK) is found alone by bisection: only it is quarantined, every neighbour is applied', async () => {
    const q = memoryQuarantine();
    const t = await target(q, 'CREATE TABLE public.things (id bigint PRIMARY KEY, name text NOT NULL, qty integer CHECK (qty >= 0))');
    try {
      const rows = [1, 2, 3, 4, 5, 6, 7, 8].map((id) => ['I', TS, String(id), `n${id}`, id === 6 ? '-1' : String(id)]);
      const r = await loadObject({ dmsKey: key('dms/public/things/LOAD00000001.csv'), etag: 'e1', body: bodyOf(dmsCsv(HEADER, rows)) }, t.opts);
      expect(r).toMatchObject({ status: 'loaded', rowsApplied: 7, rowsRejected: 1 });
      expect((await t.client.query('SELECT id::int FROM things ORDER BY id')).rows.map((x) => x.id)).toEqual([1, 2, 3, 4, 5, 7, 8]);
      expect(q.lines()).toEqual([expect.objectContaining({ record: 6, reason: expect.stringContaining('SQLSTATE 23514') })]);
    } finally {
      await t.close();
    }
  });

  // Injected: the ordering check counted any progress row of an earlier file, not only a done one.
  // An earlier file stopped half way (Lambda time ran out) then let the next CDC file apply first,
  // and the rest of the earlier file, loaded later, overwrote those newer changes.
  test('a CDC file waits while an earlier file of its table is only partly loaded (progress row not done)', async () => {
    const t = await target(memoryQuarantine());
    try {
      const load = key('dms/public/things/LOAD00000001.csv');
      const csv = dmsCsv(HEADER, [1, 2, 3, 4, 5, 6].map((id) => ['I', TS, String(id), `n${id}`, String(id)]));
      let asked = 0;
      const first = await loadObject({ dmsKey: load, etag: 'e1', body: bodyOf(csv, 16) }, { ...t.opts, limits: { maxRows: 3, maxBytes: 8 * 1024 * 1024 }, keepGoing: () => (asked += 1) < 2 });
      expect(first).toMatchObject({ status: 'incomplete' });
      expect((await t.client.query('SELECT done FROM dsql_loader.progress')).rows).toEqual([{ done: false }]);
      const c = await t.opts.connections.get();
      const cdc = key('dms/public/things/20261130-030000000.csv');
      await expect(assertEarlierFilesLoaded(c, cdc, [load.key])).rejects.toBeInstanceOf(WaitError);
      await loadObject({ dmsKey: load, etag: 'e1', body: bodyOf(csv, 16) }, t.opts);
      await expect(assertEarlierFilesLoaded(c, cdc, [load.key])).resolves.toBeUndefined();
    } finally {
      await t.close();
    }
  });
});
