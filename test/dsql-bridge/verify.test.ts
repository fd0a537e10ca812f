/**
 * The row-for-row verifier (`lambda/dsql-loader/verify.ts`) on its own, against a real PostgreSQL
 * (embedded, one server for this file; source and target are two databases in it). loader.test.ts
 * checks it after a real load; this file checks what a verifier must never get wrong: a column the
 * target lost, keys past the first page, one side much shorter than the other, sessions in other
 * time zones, the sample limits, the published checksum formula and the markdown report. Each test
 * makes its own databases, so any one runs alone.
 */
import { createHash } from 'crypto';
import { Client } from 'pg';
import { findNullTokenCollisions, TableVerification, verificationMarkdown, verifyTable } from '../../lambda/dsql-loader/verify';
import { startPostgres, TestPostgres } from '../helpers/postgres';
import { createDatabase } from './fixtures';

let pg: TestPostgres;
const open: Client[] = [];

beforeAll(async () => {
  pg = await startPostgres();
}, 120_000);

afterAll(async () => {
  for (const c of open) await c.end().catch(() => undefined);
  await pg?.stop();
});

/** A fresh database with `ddl` applied; returns a connected client (ended in afterAll). */
async function database(name: string, ddl: string): Promise<Client> {
  const c = await createDatabase(pg, name);
  open.push(c);
  await c.query(ddl);
  return c;
}

test('a column the target lost fails the verification and is named; a column only in the target is listed and not compared', async () => {
  const src = await database('col_src', 'CREATE TABLE t (id int PRIMARY KEY, name text, note text)');
  const dst = await database('col_dst', 'CREATE TABLE t (id int PRIMARY KEY, name text, added text)');
  await src.query(`INSERT INTO t SELECT g, 'n' || g, 'note ' || g FROM generate_series(1, 5) g`);
  await dst.query(`INSERT INTO t SELECT g, 'n' || g, 'anything ' || g FROM generate_series(1, 5) g`);
  const v = await verifyTable(src, dst, 'public', 't');
  // Every row matches on the compared columns, but the source's `note` has nowhere to be: not OK.
  expect(v).toMatchObject({ ok: false, columns: ['id', 'name'], onlyInSource: ['note'], onlyInTarget: ['added'], missingCount: 0, extraCount: 0, differentCount: 0, sourceRows: 5, targetRows: 5 });
  expect(v.sourceChecksum).toBe(v.targetChecksum);

  // Only a target-only column (a default the converted schema added): OK, and it is still listed.
  await src.query('ALTER TABLE t DROP COLUMN note');
  expect(await verifyTable(src, dst, 'public', 't')).toMatchObject({ ok: true, columns: ['id', 'name'], onlyInSource: [], onlyInTarget: ['added'] });
});

test('keyset pages over a composite key: every row of a source far longer than its target is counted, the sample is limited and in code-unit order', async () => {
  const ddl = 'CREATE TABLE lines (order_id int, line text, qty int, PRIMARY KEY (order_id, line))';
  const src = await database('page_src', ddl);
  const dst = await database('page_dst', ddl);
  // 49 rows: exactly 7 pages of 7, so the last page query comes back empty.
  await src.query(`INSERT INTO lines SELECT g / 3, 'l' || (g % 3), g FROM generate_series(0, 48) g`);
  const empty = await verifyTable(src, dst, 'public', 'lines', { pageSize: 7, sampleLimit: 7 });
  const allKeys = (await src.query<{ k: string }>(`SELECT json_build_array(order_id::text, line)::text AS k FROM lines`)).rows.map((r) => JSON.stringify(JSON.parse(r.k)));
  expect(empty).toMatchObject({ ok: false, sourceRows: 49, targetRows: 0, missingCount: 49, extraCount: 0, differentCount: 0 });
  // Sorted as text, not in the source's key order, so the sample is the same whatever order (collation) either server reads in.
  expect(empty.missing).toEqual([...allKeys].sort().slice(0, 7));
  expect(empty.missing[6]).toBe('["10","l0"]');

  // The target has every row but one, one row with other content, and 10 rows the source does not have.
  await dst.query(`INSERT INTO lines SELECT g / 3, 'l' || (g % 3), g FROM generate_series(1, 48) g`);
  await dst.query(`UPDATE lines SET qty = -1 WHERE order_id = 10 AND line = 'l1'`);
  await dst.query(`INSERT INTO lines SELECT 100 + g, 'x', 0 FROM generate_series(1, 10) g`);
  const v = await verifyTable(src, dst, 'public', 'lines', { pageSize: 7, sampleLimit: 3 });
  expect(v).toMatchObject({ ok: false, sourceRows: 49, targetRows: 58, missing: ['["0","l0"]'], missingCount: 1, different: ['["10","l1"]'], differentCount: 1, extraCount: 10 });
  expect(v.extra).toHaveLength(3);
  expect(v.extra).toEqual(['["101","x"]', '["102","x"]', '["103","x"]']);

  // The same rows on both sides, still paged: OK, with equal checksums.
  await dst.query(`DELETE FROM lines WHERE order_id > 99`);
  await dst.query(`UPDATE lines SET qty = 31 WHERE order_id = 10 AND line = 'l1'`);
  await dst.query(`INSERT INTO lines VALUES (0, 'l0', 0)`);
  const same = await verifyTable(src, dst, 'public', 'lines', { pageSize: 7 });
  expect(same).toMatchObject({ ok: true, sourceRows: 49, targetRows: 49, missingCount: 0, extraCount: 0, differentCount: 0 });
  expect(same.sourceChecksum).toBe(same.targetChecksum);
});

test('sessions in different time zones compare timestamptz values alike (both are set to UTC)', async () => {
  const ddl = 'CREATE TABLE ev (id int PRIMARY KEY, at timestamptz)';
  const src = await database('tz_src', ddl);
  const dst = await database('tz_dst', ddl);
  for (const c of [src, dst]) await c.query(`INSERT INTO ev SELECT g, timestamptz '2026-11-30 10:00:00+00' + g * interval '1 hour' FROM generate_series(1, 3) g`);
  await src.query(`SET TIME ZONE 'Asia/Kolkata'`);
  await dst.query(`SET TIME ZONE 'America/New_York'`);
  expect(await verifyTable(src, dst, 'public', 'ev')).toMatchObject({ ok: true, differentCount: 0 });
});

test('the checksum is the documented formula: sum of the first 64 bits of sha256(key NUL md5(row text)) mod 2^64, 16 hex digits', async () => {
  const ddl = 'CREATE TABLE k (id int PRIMARY KEY, name text)';
  const src = await database('sum_src', ddl);
  const dst = await database('sum_dst', ddl);
  for (const c of [src, dst]) await c.query(`INSERT INTO k VALUES (1, 'a'), (2, 'b')`);
  const md5 = (s: string) => createHash('md5').update(s).digest('hex');
  const part = (key: string, row: string) => BigInt(`0x${createHash('sha256').update(key).update('\u0000').update(md5(row)).digest('hex').slice(0, 16)}`);
  const expected = ((part('["1"]', '(1,a)') + part('["2"]', '(2,b)')) % (1n << 64n)).toString(16).padStart(16, '0');
  const v = await verifyTable(src, dst, 'public', 'k');
  expect(v).toMatchObject({ ok: true, sourceChecksum: expected, targetChecksum: expected });
  await dst.query(`UPDATE k SET name = 'B' WHERE id = 2`);
  const changed = await verifyTable(src, dst, 'public', 'k');
  expect(changed.sourceChecksum).toBe(expected);
  expect(changed.targetChecksum).not.toBe(expected);
});

test('the NULL-token scan skips a table without string columns and still scans the next one', async () => {
  const src = await database('tok_src', `CREATE TABLE nums (id int PRIMARY KEY, n bigint); CREATE TABLE words (id int PRIMARY KEY, w varchar(20), c char(4))`);
  await src.query(`INSERT INTO nums VALUES (1, 1); INSERT INTO words VALUES (1, 'NULL', 'x'), (2, 'NULL', 'NULL'), (3, 'ok', 'ok')`);
  expect(
    await findNullTokenCollisions(
      src,
      [
        ['public', 'nums'],
        ['public', 'words'],
      ],
      'NULL',
    ),
  ).toEqual([
    { table: 'public.words', column: 'w', rows: 2 },
    { table: 'public.words', column: 'c', rows: 1 },
  ]);
});

test('the markdown report: one line per table, then a section per differing table with only the kinds of difference it has', () => {
  const base: TableVerification = {
    table: 'public.a',
    sourceRows: 3,
    targetRows: 3,
    sourceChecksum: '00000000000000aa',
    targetChecksum: '00000000000000aa',
    columns: ['id'],
    onlyInSource: [],
    onlyInTarget: [],
    missing: [],
    extra: [],
    different: [],
    missingCount: 0,
    extraCount: 0,
    differentCount: 0,
    ok: true,
  };
  const bad: TableVerification = {
    ...base,
    table: 'public.b',
    targetRows: 4,
    targetChecksum: '00000000000000bb',
    onlyInSource: ['note', 'tag'],
    onlyInTarget: ['added'],
    missing: ['["1"]'],
    extra: ['["8"]', '["9"]'],
    different: ['["2"]'],
    missingCount: 1,
    extraCount: 2,
    differentCount: 1,
    ok: false,
  };
  const onlyDifferent: TableVerification = { ...base, table: 'public.c', targetChecksum: '00000000000000cc', different: ['["5"]'], differentCount: 7, ok: false };
  expect(verificationMarkdown([base, bad, onlyDifferent])).toBe(
    [
      '| table | source rows | target rows | source checksum | target checksum | result |',
      '|---|---|---|---|---|---|',
      '| public.a | 3 | 3 | 00000000000000aa | 00000000000000aa | OK |',
      '| public.b | 3 | 4 | 00000000000000aa | 00000000000000bb | DIFFERENT |',
      '| public.c | 3 | 3 | 00000000000000aa | 00000000000000cc | DIFFERENT |',
      '',
      '### public.b',
      '- columns only in the source: note, tag',
      '- columns only in the target (not compared): added',
      '- 1 row(s) missing in the target, e.g. keys ["1"]',
      '- 2 row(s) only in the target, e.g. keys ["8"] ["9"]',
      '- 1 row(s) with different content, e.g. keys ["2"]',
      '',
      '### public.c',
      '- 7 row(s) with different content, e.g. keys ["5"]',
    ].join('\n'),
  );
  expect(verificationMarkdown([base])).toBe(
    ['| table | source rows | target rows | source checksum | target checksum | result |', '|---|---|---|---|---|---|', '| public.a | 3 | 3 | 00000000000000aa | 00000000000000aa | OK |'].join('\n'),
  );
});
