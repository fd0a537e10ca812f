/**
 * Break tests: the loader against an operator's existing estate (real PostgreSQL 17 with the DSQL
 * transaction limits enforced by triggers, fixtures.ts). Each scenario here failed before its fix.
 */
import { DMS_CSV, DmsObjectKey, parseDmsKey } from '../../lambda/dsql-loader/dms-format';
import { ConnectionManager } from '../../lambda/dsql-loader/connection';
import { ensureProgressTable, LoaderOptions, loadObject } from '../../lambda/dsql-loader/loader';
import { configFromEnv } from '../../lambda/dsql-loader/handle';
import { Client } from 'pg';
import { startPostgres, TestPostgres } from '../helpers/postgres';
import { bodyOf, createDatabase, dmsCsv, installDsqlLimits, memoryQuarantine, testConnections } from './fixtures';

let pg: TestPostgres;
let dbNo = 0;

beforeAll(async () => {
  pg = await startPostgres();
}, 120_000);

afterAll(async () => {
  await pg?.stop();
});

async function newTarget(ddl: string[], tables: string[]) {
  const db = `estate${++dbNo}`;
  const client = await createDatabase(pg, db);
  for (const d of ddl) await client.query(d);
  await ensureProgressTable(client);
  await installDsqlLimits(client, [...tables, 'dsql_loader.progress']);
  const quarantine = memoryQuarantine();
  const connections = testConnections(pg, db);
  const opts: LoaderOptions = { connections, quarantine, quarantinePrefix: 'quarantine', baseDelayMs: 5 };
  return {
    client,
    quarantine,
    opts,
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

describe('a column that exists in DSQL but not in the DMS files', () => {
  // The operator added columns in DSQL (a NOT NULL column with a DEFAULT, and a column the
  // application writes in DSQL only). DMS files carry only the source columns.
  const DDL = [
    `CREATE TABLE public.acct (id bigint PRIMARY KEY, name text NOT NULL, tier text NOT NULL DEFAULT 'basic', app_note text)`,
  ];
  const HEADER = [DMS_CSV.opColumn, 'id', 'name'];

  test.each([true, false])('full load (COPY %s) fills the column default, not NULL; CDC updates leave it alone', async (useCopy) => {
    const t = await newTarget(DDL, ['public.acct']);
    try {
      const full = dmsCsv(HEADER, [['I', '1', 'one'], ['I', '2', 'two'], ['I', '3', 'three']]);
      const r = await loadObject({ dmsKey: key('dms/public/acct/LOAD00000001.csv'), etag: 'f1', body: bodyOf(full) }, { ...t.opts, useCopy });
      expect(r).toMatchObject({ status: 'loaded', rowsApplied: 3, rowsRejected: 0 });
      // Written in DSQL by the application after the full load.
      await t.client.query(`UPDATE public.acct SET app_note = 'set in DSQL', tier = 'gold' WHERE id = 1`);
      const cdc = dmsCsv(HEADER, [['U', '1', 'one renamed'], ['I', '4', 'four']]);
      const c = await loadObject({ dmsKey: key('dms/public/acct/20261130-010000000.csv'), etag: 'c1', body: bodyOf(cdc) }, t.opts);
      expect(c).toMatchObject({ status: 'loaded', rowsApplied: 2, rowsRejected: 0 });
      const rows = (await t.client.query('SELECT id::int, name, tier, app_note FROM public.acct ORDER BY id')).rows;
      expect(rows).toEqual([
        { id: 1, name: 'one renamed', tier: 'gold', app_note: 'set in DSQL' },
        { id: 2, name: 'two', tier: 'basic', app_note: null },
        { id: 3, name: 'three', tier: 'basic', app_note: null },
        { id: 4, name: 'four', tier: 'basic', app_note: null },
      ]);
      expect(t.quarantine.objects.size).toBe(0);
    } finally {
      await t.close();
    }
  });
});

describe('values above the DSQL per-row and per-column limits', () => {
  // https://docs.aws.amazon.com/aurora-dsql/latest/userguide/CHAP_quotas.html: a row may hold at
  // most 2 MiB and a column that is not part of an index at most 1 MiB (SQLSTATE 54000). PostgreSQL
  // has neither limit, so a row trigger raises the same errors DSQL does.
  const DDL = [
    `CREATE TABLE public.docs (id bigint PRIMARY KEY, a text, b text)`,
    `CREATE FUNCTION public.dsql_row_limits() RETURNS trigger LANGUAGE plpgsql AS $fn$
     BEGIN
       IF octet_length(coalesce(NEW.a, '')) > 1048576 OR octet_length(coalesce(NEW.b, '')) > 1048576 THEN
         RAISE EXCEPTION 'maximum column size exceeded' USING ERRCODE = '54000';
       END IF;
       IF octet_length(NEW::text) > 2097152 THEN
         RAISE EXCEPTION 'maximum row size exceeded' USING ERRCODE = '54000';
       END IF;
       RETURN NEW;
     END $fn$`,
    `CREATE TRIGGER dsql_row_limits BEFORE INSERT OR UPDATE ON public.docs FOR EACH ROW EXECUTE FUNCTION public.dsql_row_limits()`,
  ];
  const HEADER = [DMS_CSV.opColumn, 'id', 'a', 'b'];
  const MiB = 1024 * 1024;

  test.each(['full-load', 'cdc'])('%s: an over-limit row is quarantined with its reason, the rest of the file loads', async (kind) => {
    const t = await newTarget(DDL, ['public.docs']);
    try {
      const op = kind === 'full-load' ? 'I' : 'U';
      const csv = dmsCsv(HEADER, [
        [op, '1', 'small', 'small'],
        [op, '2', 'x'.repeat(1.5 * MiB), 'ok'], // one column above 1 MiB
        [op, '3', 'y'.repeat(MiB - 100), 'z'.repeat(MiB + 100 - 10)], // b just above 1 MiB
        [op, '4', 'y'.repeat(MiB - 10), 'z'.repeat(MiB - 10)], // each column under 1 MiB, row just under 2 MiB
        [op, '5', 'y'.repeat(MiB), 'z'.repeat(MiB)], // each column at 1 MiB, row above 2 MiB
        [op, '6', 'last', 'last'],
      ]);
      const file = kind === 'full-load' ? 'LOAD00000001.csv' : '20261130-010000000.csv';
      const r = await loadObject({ dmsKey: key(`dms/public/docs/${file}`), etag: 'e1', body: bodyOf(csv, 65536) }, t.opts);
      expect(r).toMatchObject({ status: 'loaded', records: 6, rowsApplied: 3, rowsRejected: 3 });
      const ids = (await t.client.query('SELECT id::int FROM public.docs ORDER BY id')).rows.map((x) => x.id);
      expect(ids).toEqual([1, 4, 6]);
      const q = t.quarantine.lines();
      expect(q.map((x) => x.record)).toEqual([2, 3, 5]);
      for (const x of q) expect(String(x.reason)).toMatch(/DSQL (column|row) size limit/);
      // The quarantined raw text is the whole record (nothing lost).
      expect(String(q[0].raw).length).toBeGreaterThan(1.5 * MiB);
    } finally {
      await t.close();
    }
  }, 60_000);
});

describe('an existing DMS endpoint with non-default CsvDelimiter / CsvRowDelimiter', () => {
  const DDL = [`CREATE TABLE public.pipes (id bigint PRIMARY KEY, body text)`];
  // DMS S3 target settings CsvDelimiter (default ",") and CsvRowDelimiter (default "\n"):
  // https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Target.S3.html#CHAP_Target.S3.Configuring
  const pipeCsv = ['Op|id|body', 'I|1|a, b and c', 'I|2|"quoted | pipe"', 'I|3|@@DMS_NULL@@', ''].join('\r\n');

  test('loads with the endpoint\'s delimiters when configured', async () => {
    const t = await newTarget(DDL, ['public.pipes']);
    try {
      const r = await loadObject({ dmsKey: key('dms/public/pipes/LOAD00000001.csv'), etag: 'p1', body: bodyOf(pipeCsv, 5) }, { ...t.opts, csvDelimiter: '|', csvRowDelimiter: '\r\n' });
      expect(r).toMatchObject({ status: 'loaded', rowsApplied: 3, rowsRejected: 0 });
      expect((await t.client.query('SELECT id::int, body FROM public.pipes ORDER BY id')).rows).toEqual([
        { id: 1, body: 'a, b and c' },
        { id: 2, body: 'quoted | pipe' },
        { id: 3, body: null },
      ]);
    } finally {
      await t.close();
    }
  });

  test('without that configuration, the error names the delimiter setting (not "columns do not exist")', async () => {
    const t = await newTarget(DDL, ['public.pipes']);
    try {
      await expect(loadObject({ dmsKey: key('dms/public/pipes/LOAD00000001.csv'), etag: 'p1', body: bodyOf(pipeCsv) }, t.opts)).rejects.toThrow(
        /header "Op\|id\|body" has one field: the file is not delimited by ","; set CSV_DELIMITER to the DMS endpoint's CsvDelimiter/,
      );
      expect((await t.client.query('SELECT count(*)::int AS n FROM public.pipes')).rows[0].n).toBe(0);
    } finally {
      await t.close();
    }
  });
});

test('configFromEnv: CSV_DELIMITER / CSV_ROW_DELIMITER are read (escapes accepted) and checked', () => {
  const base = { LANDING_PREFIX: 'dms' };
  expect(configFromEnv({ ...base, CSV_DELIMITER: '|', CSV_ROW_DELIMITER: '\\r\\n' })).toMatchObject({ csvDelimiter: '|', csvRowDelimiter: '\r\n' });
  expect(configFromEnv({ ...base, CSV_DELIMITER: '\\t' })).toMatchObject({ csvDelimiter: '\t', csvRowDelimiter: undefined });
  expect(configFromEnv(base)).toMatchObject({ csvDelimiter: undefined, csvRowDelimiter: undefined });
  expect(() => configFromEnv({ ...base, CSV_DELIMITER: '||', CSV_ROW_DELIMITER: ';' })).toThrow(/CSV_DELIMITER must be one character.*CSV_ROW_DELIMITER must be/);
});

describe('connection lost after COMMIT reached the server, before its reply', () => {
  // The worst moment of a drop: the data and the progress row are committed, the loader does not
  // know it. A loader that redid the batch would apply it twice (CDC: an old after-image over a
  // newer change); one that skipped ahead without the progress row would lose it. The connection
  // below runs each COMMIT for real, then destroys its socket and throws like a reset connection.
  test.each(['full-load', 'cdc'])('%s: every row exactly once, progress and data agree', async (kind) => {
    const t = await newTarget([`CREATE TABLE public.ledger (id bigint PRIMARY KEY, amount bigint NOT NULL)`], ['public.ledger']);
    let drops = 0;
    const db = `estate${dbNo}`;
    const connections = new ConnectionManager({
      token: async () => pg.password,
      connect: async (password) => {
        const c = new Client({ ...pg.config(db), password });
        await c.connect();
        const query = c.query.bind(c) as (...a: unknown[]) => Promise<unknown>;
        c.on('error', () => undefined);
        (c as unknown as { query: unknown }).query = (...args: unknown[]) => {
          const sql = typeof args[0] === 'string' ? args[0] : '';
          const r = query(...args) as Promise<unknown>;
          if (!r || typeof r.then !== 'function' || !/\bCOMMIT\b/.test(sql)) return r; // COPY streams pass through
          return r.then((v) => {
            if (drops >= 3) return v;
            drops += 1;
            c.end().catch(() => undefined);
            throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
          });
        };
        return c;
      },
    });
    try {
      if (kind === 'cdc') for (const from of [1, 2501, 5001]) await t.client.query(`INSERT INTO public.ledger SELECT g, 0 FROM generate_series(${from}, ${from + 2499}) g WHERE g <= 7000`);
      const op = kind === 'full-load' ? 'I' : 'U';
      // amount = id: the sum and count show every row once; the progress row must say 7,000 and done.
      const rows = Array.from({ length: 7000 }, (_, i) => [op, String(i + 1), String(i + 1)]);
      const file = kind === 'full-load' ? 'LOAD00000001.csv' : '20261130-010000000.csv';
      const r = await loadObject({ dmsKey: key(`dms/public/ledger/${file}`), etag: 'x1', body: bodyOf(dmsCsv([DMS_CSV.opColumn, 'id', 'amount'], rows), 65536) }, { ...t.opts, connections });
      expect(drops).toBe(3);
      expect(r).toMatchObject({ status: 'loaded', records: 7000 });
      const agg = (await t.client.query('SELECT count(*)::int AS n, sum(amount)::bigint AS s FROM public.ledger')).rows[0];
      expect(agg).toEqual({ n: 7000, s: String((7000 * 7001) / 2) });
      const p = (await t.client.query(`SELECT records_committed::int AS r, done FROM dsql_loader.progress WHERE object_key = 'dms/public/ledger/${file}'`)).rows;
      expect(p).toEqual([{ r: 7000, done: true }]);
      // A second delivery changes nothing.
      const again = await loadObject({ dmsKey: key(`dms/public/ledger/${file}`), etag: 'x1', body: bodyOf(dmsCsv([DMS_CSV.opColumn, 'id', 'amount'], rows)) }, { ...t.opts, connections });
      expect(again).toMatchObject({ status: 'already-loaded' });
    } finally {
      await connections.close();
      await t.close();
    }
  }, 60_000);
});
