/**
 * The converter against input nobody here wrote: hostile statements hidden in a dump (DO blocks, CALL,
 * SELECT of a function, MERGE, a DELETE inside a WITH), pg_dumpall output (roles with password hashes,
 * several databases), odd quoting (schema names with spaces, E'' strings), inheritance, inet columns used
 * by CHECKs, views and expression indexes, ALTER INDEX … SET STATISTICS (danbooru's structure.sql), and
 * CLI misuse. Each converted dump is applied to a real PostgreSQL (embedded, one server for this file) one
 * statement per transaction, schema then post-load, as `--apply --phase all` does.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { applyStatements } from '../../lambda/dsql-loader/schema-apply';
import { destructiveKind } from '../../lambda/dsql-loader/schema-ast';
import { ConversionResult, convertedSql, convertSchema } from '../../lambda/dsql-loader/schema-convert';
import { REPO_ROOT } from '../helpers/copy-app';
import { useSchemaTarget } from './schema-target';

const run = promisify(execFile);
const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');

const target = useSchemaTarget('hostile');
const apply = target.apply;

const objects = (r: ConversionResult, rule: string) => r.findings.filter((f) => f.rule === rule).map((f) => f.object);

test('statements that run code or change roles are removed and named, never applied: DO, CALL, SELECT f(), MERGE, WITH … DELETE, CREATE/ALTER ROLE', async () => {
  const dump = `
CREATE TABLE public.keep (id bigint PRIMARY KEY, v text);
DO $$ BEGIN DELETE FROM public.keep; END $$;
CALL public.cleanup();
SELECT public.wipe_all();
MERGE INTO public.keep k USING (SELECT 1 AS id) s ON k.id = s.id WHEN MATCHED THEN DELETE;
WITH gone AS (DELETE FROM public.keep RETURNING id) SELECT count(*) FROM gone;
CREATE ROLE app;
ALTER ROLE app WITH LOGIN PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$a2V5:c2VydmVy';
ALTER ROLE postgres WITH SUPERUSER;
GRANT pg_read_all_data TO app GRANTED BY postgres;`;
  const r = await convertSchema(dump);
  expect(r.statements.map((s) => s.object)).toEqual(['table public.keep']);
  expect(objects(r, 'unsupported-statement')).toEqual(['DO $$ BEGIN DELETE', 'CALL public.cleanup()', 'SELECT public.wipe_all()', 'CREATE ROLE app', 'ALTER ROLE app WITH', 'ALTER ROLE postgres WITH']);
  // A DELETE nested in MERGE or WITH is found by PostgreSQL's parser and removed like any destructive statement.
  expect(objects(r, 'destructive-statement')).toEqual(['MERGE INTO public.keep k USING (SELECT 1 AS', 'WITH gone AS (DELETE FROM public.keep RETURNING id)']);
  expect(r.findings.filter((f) => f.rule === 'unsupported-statement').every((f) => f.severity === 'error')).toBe(true);
  expect(r.statements.map((s) => s.sql).join('\n')).not.toMatch(/SCRAM|SUPERUSER|DELETE|wipe_all/);
  // A target that already holds rows: nothing in the converted DDL touches them.
  await target.pg().query('CREATE DATABASE hostile_target');
  await target.pg().query('CREATE SCHEMA IF NOT EXISTS other', [], 'hostile_target');
  await target.pg().query('CREATE TABLE other.keep (id bigint PRIMARY KEY)', [], 'hostile_target');
  await target.pg().query('INSERT INTO other.keep VALUES (1), (2)', [], 'hostile_target');
  await apply(r, 'hostile_target');
  expect(await target.pg().query('SELECT count(*)::int AS n FROM other.keep', [], 'hostile_target')).toEqual([{ n: 2 }]);
});

test('the last line of defence finds DELETE/TRUNCATE nested in a statement, not only at its top', async () => {
  expect(destructiveKind('WITH gone AS (DELETE FROM public.keep RETURNING id) SELECT count(*) FROM gone')).toBe('DeleteStmt');
  expect(destructiveKind("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE")).toBe('MergeStmt DELETE');
  expect(destructiveKind('CREATE TABLE t (id bigint PRIMARY KEY)')).toBeUndefined();
});

test('pg_dumpall --schema-only: several databases are named (they would be merged into one), roles and tablespaces removed', async () => {
  const dump = `
SET default_transaction_read_only = off;
CREATE ROLE app;
CREATE TABLESPACE fast OWNER postgres LOCATION '/mnt/fast';
\\connect template1
\\connect postgres
CREATE DATABASE appdb WITH TEMPLATE = template0 ENCODING = 'UTF8';
CREATE DATABASE reporting WITH TEMPLATE = template0;
\\connect appdb
CREATE TABLE public.items (id bigint PRIMARY KEY) TABLESPACE fast;
\\connect reporting
CREATE TABLE public.items (id bigint PRIMARY KEY, total numeric);
`;
  const r = await convertSchema(dump);
  const multi = r.findings.filter((f) => f.rule === 'multiple-databases');
  expect(multi).toHaveLength(1);
  expect(multi[0].severity).toBe('error');
  expect(multi[0].message).toContain('appdb, reporting');
  // The second database's table of the same name is reported, not silently merged or applied twice.
  expect(objects(r, 'duplicate-object')).toEqual(['table public.items']);
  expect(r.statements.filter((s) => s.object === 'table public.items')).toHaveLength(1);
  await apply(r);
});

test('odd quoting: CREATE SCHEMA with a space, quoted identifiers with "" and unicode, E\'\' strings with \\\' and ;', async () => {
  const dump = `
CREATE SCHEMA "My Schema";
CREATE TABLE "My Schema"."Order Items" (
    "Id" bigint NOT NULL,
    "the ""name""" text DEFAULT 'a;b DROP TABLE x; -- no comment' NOT NULL,
    "café" text,
    note text DEFAULT E'it\\'s; fine'
);
ALTER TABLE ONLY "My Schema"."Order Items" ADD CONSTRAINT "Order Items_pkey" PRIMARY KEY ("Id");
CREATE INDEX "idx with space" ON "My Schema"."Order Items" USING btree ("café");
COMMENT ON TABLE "My Schema"."Order Items" IS 'DROP TABLE "My Schema"."Order Items"; TRUNCATE x;';
CREATE FUNCTION "My Schema".f(x integer) RETURNS integer LANGUAGE sql AS $_$ SELECT $1 + 1 /* ; DROP TABLE t; */ $_$;`;
  const r = await convertSchema(dump);
  expect(r.findings.filter((f) => f.rule === 'unparsed')).toEqual([]);
  const db = await apply(r);
  await target.pg().query(`INSERT INTO "My Schema"."Order Items" ("Id") VALUES (1)`, [], db);
  const row = await target.pg().query<Record<string, string>>(`SELECT "the ""name""" AS a, note FROM "My Schema"."Order Items"`, [], db);
  expect(row).toEqual([{ a: 'a;b DROP TABLE x; -- no comment', note: "it's; fine" }]);
  expect(await target.pg().query(`SELECT "My Schema".f(1) AS v`, [], db)).toEqual([{ v: 2 }]);
});

test('inheritance: the child keeps the columns it inherits (pg_dump lists only its own), so its indexes apply', async () => {
  const dump = `
CREATE TABLE public.parent (id bigint NOT NULL, created timestamp with time zone DEFAULT now());
CREATE TABLE public.child (extra text) INHERITS (public.parent);
ALTER TABLE ONLY public.parent ADD CONSTRAINT parent_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.child ADD CONSTRAINT child_pkey PRIMARY KEY (id);
CREATE INDEX child_created ON public.child USING btree (created);`;
  const r = await convertSchema(dump);
  const child = r.findings.find((f) => f.rule === 'inheritance' && f.object === 'table public.child')!;
  expect(child.fix).toContain('id, created');
  const db = await apply(r);
  const cols = await target.pg().query<{ c: string }>(`SELECT string_agg(attname, ',' ORDER BY attnum) AS c FROM pg_attribute WHERE attrelid = 'public.child'::regclass AND attnum > 0`, [], db);
  expect(cols).toEqual([{ c: 'id,created,extra' }]);
});

test('inet columns stored as text are cast back where a CHECK, view or expression index uses them', async () => {
  const dump = `
CREATE TABLE public.events (
    id bigint NOT NULL,
    ip_addr inet NOT NULL,
    CONSTRAINT ip_v4 CHECK (family(ip_addr) = 4)
);
ALTER TABLE ONLY public.events ADD CONSTRAINT events_pkey PRIMARY KEY (id);
CREATE VIEW public.v AS SELECT id, family(ip_addr) AS fam FROM public.events;
CREATE INDEX events_subnet ON public.events USING btree (network(set_masklen(ip_addr, CASE WHEN (family(ip_addr) = 4) THEN 24 ELSE 64 END)));
CREATE INDEX events_ip ON public.events USING btree (ip_addr);`;
  const r = await convertSchema(dump);
  const idx = r.statements.find((s) => s.object === 'index public.events_subnet')!.sql;
  expect(idx).toContain('(ip_addr)::inet');
  expect(r.statements.find((s) => s.object === 'index public.events_ip')!.sql).toMatch(/\(ip_addr\)$/);
  const db = await apply(r);
  await target.pg().query(`INSERT INTO public.events VALUES (1, '10.0.0.1')`, [], db);
  await expect(target.pg().query(`INSERT INTO public.events VALUES (2, '::1')`, [], db)).rejects.toMatchObject({ code: '23514' });
  expect(await target.pg().query('SELECT fam FROM public.v', [], db)).toEqual([{ fam: 4 }]);
});

test('ALTER INDEX … SET STATISTICS (danbooru) is removed with a finding: the index is built after the load or dropped', async () => {
  const dump = `
CREATE TABLE public.posts (id bigint PRIMARY KEY, tag_string text NOT NULL);
CREATE INDEX index_posts_on_tags ON public.posts USING gin (string_to_array(tag_string, ' '::text));
ALTER INDEX public.index_posts_on_tags ALTER COLUMN 1 SET STATISTICS 3000;
CREATE INDEX index_posts_on_tag_string ON public.posts USING btree (tag_string);
ALTER INDEX public.index_posts_on_tag_string ALTER COLUMN 1 SET STATISTICS 1000;`;
  const r = await convertSchema(dump);
  expect(objects(r, 'index-option')).toEqual(['index public.index_posts_on_tags', 'index public.index_posts_on_tag_string']);
  expect(r.statements.map((s) => s.object)).toEqual(['table public.posts', 'index public.index_posts_on_tag_string']);
  await apply(r);
});

describe('dsql-schema CLI misuse', () => {
  async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const r = await run(TSX, [path.join(REPO_ROOT, 'lambda', 'dsql-loader', 'schema-cli.ts'), ...args], { cwd: REPO_ROOT, timeout: 60_000 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e: any) {
      return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsql-misuse-'));
    fs.writeFileSync(path.join(dir, 'schema.sql'), 'CREATE TABLE public.t (id bigint PRIMARY KEY);\n');
    fs.writeFileSync(path.join(dir, 'a-file'), 'x');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('--input that is a directory: exit 2, names it, no stack trace', async () => {
    const r = await cli(['--input', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--input ${dir}: cannot read`);
    expect(r.stderr).toContain('usage:');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test('--out-dir that cannot be created: exit 2, names it, nothing half-written', async () => {
    const out = path.join(dir, 'a-file', 'sub');
    const r = await cli(['--input', path.join(dir, 'schema.sql'), '--out-dir', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--out-dir ${out}: cannot write`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test('an empty or non-SQL input is an error, not an empty success', async () => {
    fs.writeFileSync(path.join(dir, 'empty.sql'), '-- nothing here\n');
    const r = await cli(['--input', path.join(dir, 'empty.sql'), '--out-dir', path.join(dir, 'o')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no SQL statements');
  });
});

test('re-running --apply on a target that already has part of the schema and rows: stops naming the object; with resume, skips what exists (listed) and finishes; rows untouched', async () => {
  const dump = `
CREATE TABLE public.a (id bigint PRIMARY KEY, v text);
CREATE TABLE public.b (id bigint PRIMARY KEY, a_id bigint);
ALTER TABLE ONLY public.b ADD CONSTRAINT b_a_fkey FOREIGN KEY (a_id) REFERENCES public.a(id);
CREATE INDEX b_a_idx ON public.b USING btree (a_id);
CREATE VIEW public.va AS SELECT id FROM public.a;`;
  const r = await convertSchema(dump);
  await target.pg().query('CREATE DATABASE hostile_resume');
  // A first --apply that died after the first table (connection lost), then the load started writing rows.
  const c0 = await target.pg().client('hostile_resume');
  await applyStatements(c0, r.statements.slice(0, 1), { target: 'postgres', phases: ['schema'] });
  await c0.end();
  await target.pg().query(`INSERT INTO public.a VALUES (1, 'kept')`, [], 'hostile_resume');
  const c = await target.pg().client('hostile_resume');
  try {
    await expect(applyStatements(c, r.statements, { target: 'postgres', phases: ['schema', 'post-load'] })).rejects.toThrow(/table public\.a already exists on the target.*--resume/s);
    const res = await applyStatements(c, r.statements, { target: 'postgres', phases: ['schema', 'post-load'], skipExisting: true });
    expect(res.skipped).toEqual(['table public.a']);
    expect(res.applied).toBe(r.statements.length - 1);
    // Run again: everything exists now, nothing is applied twice and nothing fails.
    const again = await applyStatements(c, r.statements, { target: 'postgres', phases: ['schema', 'post-load'], skipExisting: true });
    expect(again.skipped).toHaveLength(r.statements.length);
  } finally {
    await c.end();
  }
  expect(await target.pg().query('SELECT id, v FROM public.a', [], 'hostile_resume')).toEqual([{ id: '1', v: 'kept' }]);
});

test('PostgreSQL 18 table-level NOT NULL constraints and ALTER TABLE ADD COLUMN / SET NOT NULL are folded into CREATE TABLE, the added column converted like the others', async () => {
  const dump = `
CREATE TABLE public.t (
    id bigint NOT NULL,
    a integer CONSTRAINT t_a_not_null NOT NULL,
    b text,
    CONSTRAINT t_b_nn NOT NULL b
);
ALTER TABLE ONLY public.t ADD CONSTRAINT t_pkey PRIMARY KEY (id);
ALTER TABLE public.t ADD COLUMN c jsonb;
ALTER TABLE ONLY public.t ADD COLUMN IF NOT EXISTS d integer[];
ALTER TABLE ONLY public.t ALTER COLUMN c SET NOT NULL;
ALTER TABLE public.t ADD CONSTRAINT t_d_nn NOT NULL d NO INHERIT;`;
  const r = await convertSchema(dump);
  expect(r.statements.map((s) => s.object)).toEqual(['table public.t']);
  expect(r.findings.filter((f) => f.rule === 'unchecked')).toEqual([]);
  expect(objects(r, 'jsonb-column')).toEqual(['column public.t.c']);
  expect(objects(r, 'array-column')).toEqual(['column public.t.d']);
  expect(objects(r, 'not-null-constraint')).toEqual(['constraint t_b_nn on public.t', 'constraint t_d_nn on public.t']);
  const db = await apply(r);
  const cols = await target.pg().query<{ attname: string; t: string; nn: boolean }>(
    `SELECT attname, format_type(atttypid, atttypmod) AS t, attnotnull AS nn FROM pg_attribute WHERE attrelid = 'public.t'::regclass AND attnum > 0 ORDER BY attnum`, [], db);
  expect(cols).toEqual([
    { attname: 'id', t: 'bigint', nn: true },
    { attname: 'a', t: 'integer', nn: true },
    { attname: 'b', t: 'text', nn: true },
    { attname: 'c', t: 'json', nn: true },
    { attname: 'd', t: 'text', nn: true },
  ]);
});

test('SET search_path to a schema list is reported: unqualified names after it are created in public, not where the dump meant', async () => {
  const dump = `
SET search_path = app, public;
CREATE SCHEMA app;
CREATE TABLE orders (id bigint PRIMARY KEY, total numeric);
SELECT pg_catalog.set_config('search_path', '', false);
CREATE TABLE public.x (id bigint PRIMARY KEY);`;
  const r = await convertSchema(dump);
  const sp = r.findings.filter((f) => f.rule === 'search-path');
  expect(sp.map((f) => [f.severity, f.line])).toEqual([['warning', 2]]);
  expect(sp[0].message).toContain('app, public');
  expect(sp[0].message).toContain('table orders');
  await apply(r);
});

test('a dump saved with a byte-order mark keeps its first statement; ALTER TYPE … ADD VALUE labels reach the enum CHECK', async () => {
  const dump = `\uFEFFCREATE TABLE public.first (id bigint PRIMARY KEY, m public.mood);
CREATE TYPE public.mood AS ENUM ('sad', 'ok');
ALTER TYPE public.mood ADD VALUE IF NOT EXISTS 'happy' AFTER 'ok';`;
  const r = await convertSchema(dump);
  expect(r.statements.map((s) => s.object)).toEqual(['table public.first']);
  expect(objects(r, 'enum-type')).toContain('type public.mood');
  expect(r.findings.filter((f) => f.rule === 'unsupported-statement')).toEqual([]);
  const db = await apply(r);
  await target.pg().query(`INSERT INTO public.first VALUES (1, 'happy')`, [], db);
  await expect(target.pg().query(`INSERT INTO public.first VALUES (2, 'angry')`, [], db)).rejects.toMatchObject({ code: '23514' });
});

test("converted.sql run through the converter again (an operator re-converting a colleague's output) keeps every statement", async () => {
  const r1 = await convertSchema(fs.readFileSync(path.join(__dirname, 'fixtures', 'corpus', 'pagila-pg18.sql'), 'utf8'));
  const r2 = await convertSchema(convertedSql(r1));
  expect(r2.findings.filter((f) => f.severity === 'error')).toEqual([]);
  expect(r2.statements.map((s) => s.object).sort()).toEqual(r1.statements.map((s) => s.object).sort());
  await apply(r2);
});

describe.each(['quote-all-identifiers.sql', 'clean-if-exists.sql'])('real pg_dump 15 output (fixtures/pg15/%s)', (file) => {
  test('converts and applies with zero errors; enum, jsonb and inherited columns keep their meaning', async () => {
    const r = await convertSchema(fs.readFileSync(path.join(__dirname, 'fixtures', 'pg15', file), 'utf8'));
    expect(r.findings.filter((f) => f.rule === 'unknown-type')).toEqual([]);
    const db = await apply(r);
    const t = await target.pg().query<{ attname: string; t: string }>(
      `SELECT attname, format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = '"Sales Dept"."Order"'::regclass AND attname IN ('st', 'meta', 'amount') ORDER BY attname`, [], db);
    expect(t).toEqual([{ attname: 'amount', t: 'numeric(12,2)' }, { attname: 'meta', t: 'json' }, { attname: 'st', t: 'text' }]);
    await target.pg().query(`INSERT INTO "Sales Dept"."Order" (st, meta) VALUES ('it''s shipped', '{"a": 1}')`, [], db);
    await expect(target.pg().query(`INSERT INTO "Sales Dept"."Order" (st, meta) VALUES ('lost', '{}')`, [], db)).rejects.toMatchObject({ code: '23514' });
    await expect(target.pg().query(`INSERT INTO "Sales Dept"."Order" (st, meta) VALUES ('new', '[]')`, [], db)).rejects.toMatchObject({ code: '23514' });
    await target.pg().query(`INSERT INTO "Sales Dept".line (order_id, qty) VALUES (1, 2)`, [], db);
    await target.pg().query(`INSERT INTO public.child (id, extra) VALUES (1, 'x')`, [], db);
    expect(await target.pg().query(`SELECT created IS NOT NULL AS c FROM public.child`, [], db)).toEqual([{ c: true }]);
  });
});

test('a dump with data (COPY … FROM stdin blocks, INSERTs) names every table whose rows it leaves out, with the row count; the data never runs', async () => {
  const dump = `
CREATE TABLE "Sales Dept"."Order" (id bigint PRIMARY KEY, note text);
CREATE SCHEMA "Sales Dept";
COPY "Sales Dept"."Order" (id, note) FROM stdin;
1\ta; DROP TABLE public.t;
2\t\\\\. not the end
3\tx
\\.
ALTER SEQUENCE "Sales Dept"."Order_id_seq" OWNED BY "Sales Dept"."Order".id;
INSERT INTO public.t VALUES (4, 'x;y');
CREATE TABLE public.t (id bigint PRIMARY KEY, v text);`;
  const r = await convertSchema(dump);
  const data = r.findings.filter((f) => f.rule === 'data-statement');
  expect(data.map((f) => [f.object, f.line])).toEqual([['data for "Sales Dept"."Order"', 4], ['data for public.t', 10]]);
  expect(data[0].message).toContain('3 row(s)');
  expect(r.findings.filter((f) => f.rule === 'unsupported-statement')).toEqual([]);
  expect(r.statements.map((s) => s.object)).toEqual(['schema Sales Dept', 'table "Sales Dept"."Order"', 'table public.t']);
  await apply(r);
});
