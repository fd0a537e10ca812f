/**
 * One test per converter rule of issue 11, each on the smallest dump that shows the failure it fixes,
 * and (where the failure was an apply error or lost data) the converted DDL applied to a real PostgreSQL
 * (embedded, one server for this file) one statement per transaction.
 */
import { destructiveKind, functionStatements } from '../../lambda/dsql-loader/schema-ast';
import { ConversionResult, convertSchema, Finding } from '../../lambda/dsql-loader/schema-convert';
import { useSchemaTarget } from './schema-target';

const target = useSchemaTarget('checks');
const apply = target.apply;

const rules = (r: ConversionResult, rule: string): Array<Pick<Finding, 'object' | 'severity'>> =>
  r.findings.filter((f) => f.rule === rule).map((f) => ({ object: f.object, severity: f.severity }));
const sqlOf = (r: ConversionResult) => r.statements.map((s) => s.sql).join(';\n');

test('pg_dump --clean: DROP/TRUNCATE/DELETE and ALTER … DROP are removed and reported, never moved; data on the target survives', async () => {
  const dump = `
ALTER TABLE IF EXISTS ONLY public.orders DROP CONSTRAINT IF EXISTS orders_pkey;
ALTER TABLE IF EXISTS public.orders ALTER COLUMN id DROP DEFAULT;
DROP SEQUENCE IF EXISTS public.orders_id_seq;
DROP TABLE IF EXISTS public.orders;
DROP SCHEMA IF EXISTS app;
CREATE SCHEMA app;
CREATE TABLE public.orders (id bigint NOT NULL, total numeric);
ALTER TABLE ONLY public.orders ADD CONSTRAINT orders_pkey PRIMARY KEY (id);
TRUNCATE public.orders;
DELETE FROM public.orders;`;
  const r = await convertSchema(dump);
  expect(rules(r, 'destructive-statement')).toHaveLength(7);
  expect(r.statements.map((s) => s.object)).toEqual(['schema app', 'table public.orders']);
  expect(r.statements.filter((s) => destructiveKind(s.sql))).toEqual([]);
  // A target that already holds the table and rows: applying fails on CREATE (the table exists) and the rows stay.
  await target.pg().query('CREATE DATABASE clean_target');
  await target.pg().query('CREATE TABLE public.orders (id bigint PRIMARY KEY, total numeric)', [], 'clean_target');
  await target.pg().query('INSERT INTO public.orders VALUES (1, 9.5), (2, 3)', [], 'clean_target');
  await expect(apply(r, 'clean_target')).rejects.toThrow(/relation "orders" already exists/);
  expect(await target.pg().query('SELECT count(*)::int AS n FROM public.orders', [], 'clean_target')).toEqual([{ n: 2 }]);
});

test('the last check catches a destructive statement whatever the spelling', () => {
  expect(destructiveKind('ALTER TABLE ONLY t ALTER COLUMN id DROP DEFAULT')).toBe('ALTER TABLE AT_ColumnDefault');
  expect(destructiveKind('ALTER TABLE t DROP COLUMN c')).toBe('ALTER TABLE AT_DropColumn');
  expect(destructiveKind('drop   index  i')).toBe('DropStmt');
  expect(destructiveKind('TRUNCATE ONLY t')).toBe('TruncateStmt');
  expect(destructiveKind('ALTER TABLE t ALTER COLUMN id SET DEFAULT 1')).toBeUndefined();
  expect(destructiveKind('CREATE UNIQUE INDEX ASYNC i ON t (a)')).toBeUndefined();
});

test('jsonb stored as json: CHECKs, defaults and views that use jsonb functions/operators get ::jsonb and work', async () => {
  const dump = `
CREATE TABLE public.jobs (
    id bigint NOT NULL PRIMARY KEY,
    data jsonb DEFAULT '{}'::jsonb NOT NULL,
    tags integer[] DEFAULT '{}'::integer[] NOT NULL,
    CONSTRAINT valid_data CHECK ((jsonb_typeof(data) = 'object'::text)),
    CONSTRAINT valid_tags CHECK ((array_ndims(tags) = 1))
);
CREATE VIEW public.flagged AS SELECT j.id FROM public.jobs j WHERE (j.data ? 'flag'::text);
CREATE TABLE public.notes (id bigint PRIMARY KEY, data text);
CREATE VIEW public.joined AS SELECT n.data AS note, jsonb_typeof(j.data) AS kind FROM public.notes n JOIN public.jobs j ON j.id = n.id;`;
  const r = await convertSchema(dump);
  const table = r.statements.find((s) => s.object === 'table public.jobs')!.sql;
  expect(table).toContain('data json DEFAULT');
  expect(table).toContain('jsonb_typeof((data)::jsonb)');
  expect(table).toContain('array_ndims((tags)::integer[])');
  expect(r.statements.find((s) => s.object === 'view public.flagged')!.sql).toContain('((j.data)::jsonb ? \'flag\'::text)');
  // Only the jsonb table's column is cast: notes.data (text) is left alone although it has the same name.
  expect(r.statements.find((s) => s.object === 'view public.joined')!.sql).toBe(
    'CREATE VIEW public.joined AS SELECT n.data AS note, jsonb_typeof((j.data)::jsonb) AS kind FROM public.notes n JOIN public.jobs j ON j.id = n.id',
  );
  expect(rules(r, 'cast-back')).toEqual([
    { object: 'table public.jobs', severity: 'warning' },
    { object: 'view public.flagged', severity: 'warning' },
    { object: 'view public.joined', severity: 'warning' },
  ]);
  const db = await apply(r);
  await target.pg().query(`INSERT INTO public.jobs (id, data) VALUES (1, '{"flag": true}')`, [], db);
  await expect(target.pg().query(`INSERT INTO public.jobs (id, data) VALUES (2, '[1]')`, [], db)).rejects.toMatchObject({ code: '23514' });
  expect(await target.pg().query('SELECT id::int FROM public.flagged', [], db)).toEqual([{ id: 1 }]);
});

test('defaults and generated columns: extension/PG18 functions replaced or removed, VIRTUAL becomes STORED', async () => {
  const dump = `
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA public;
CREATE TABLE public.things (
    id uuid DEFAULT public.gen_random_uuid() NOT NULL PRIMARY KEY,
    v7 uuid DEFAULT uuidv7() NOT NULL,
    v4 uuid DEFAULT public.uuid_generate_v4(),
    token text DEFAULT public.gen_salt('bf'::text),
    plain uuid DEFAULT gen_random_uuid(),
    minutes integer,
    hours numeric GENERATED ALWAYS AS ((minutes / 60.0)) VIRTUAL
);
ALTER TABLE ONLY public.things ALTER COLUMN minutes SET DEFAULT public.digest_len();`;
  const r = await convertSchema(dump);
  const table = r.statements.find((s) => s.object === 'table public.things')!.sql;
  expect(table).not.toMatch(/public\.gen_random_uuid|uuidv7|uuid_generate_v4|gen_salt|digest_len|VIRTUAL/);
  expect(table).toContain('hours numeric GENERATED ALWAYS AS ((minutes / 60.0)) STORED');
  expect(r.findings.filter((f) => f.rule === 'default-function').map((f) => `${f.severity} ${f.object}`)).toEqual([
    'warning column public.things.id',
    'warning column public.things.v7',
    'warning column public.things.v4',
    'error column public.things.token',
    'error column public.things.minutes',
  ]);
  expect(rules(r, 'generated-virtual')).toEqual([{ object: 'column public.things.hours', severity: 'warning' }]);
  const db = await apply(r);
  await target.pg().query('INSERT INTO public.things (minutes) VALUES (90)', [], db);
  const row = (await target.pg().query<{ hours: string; id: string; plain: string }>('SELECT hours, id, plain FROM public.things', [], db))[0];
  expect(Number(row.hours)).toBe(1.5);
  expect(row.id).toMatch(/^[0-9a-f-]{36}$/);
});

test('sequences AS integer/smallint become bigint (DSQL sequences are bigint only)', async () => {
  const r = await convertSchema('CREATE SEQUENCE public.s1 AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;\nCREATE SEQUENCE public.s2 AS bigint CACHE 1;');
  expect(r.statements.map((s) => s.sql)).toEqual([
    'CREATE SEQUENCE public.s1 AS bigint START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1',
    'CREATE SEQUENCE public.s2 AS bigint CACHE 1',
  ]);
  expect(rules(r, 'sequence-type')).toEqual([{ object: 'sequence public.s1', severity: 'warning' }]);
});

test('indexes: partial unique removed (error), partial non-unique made full (warning), expression kept; matview and json-column indexes removed', async () => {
  const dump = `
CREATE TABLE public.users (id bigint PRIMARY KEY, email text, deleted_at timestamp, prefs jsonb);
CREATE UNIQUE INDEX users_email_live ON public.users USING btree (email) WHERE (deleted_at IS NULL);
CREATE INDEX users_deleted ON public.users USING btree (deleted_at) WHERE (deleted_at IS NOT NULL);
CREATE INDEX users_lower_email ON public.users USING btree (lower(email));
CREATE INDEX users_prefs ON public.users USING btree (prefs);
CREATE MATERIALIZED VIEW public.user_count AS SELECT count(*) AS n FROM public.users WITH NO DATA;
CREATE UNIQUE INDEX user_count_n ON public.user_count USING btree (n);`;
  const r = await convertSchema(dump);
  expect(r.statements.filter((s) => s.object.startsWith('index ')).map((s) => s.sql)).toEqual([
    'CREATE INDEX ASYNC users_deleted ON public.users (deleted_at)',
    'CREATE INDEX ASYNC users_lower_email ON public.users (lower(email))',
  ]);
  expect(rules(r, 'partial-index')).toEqual([
    { object: 'index public.users_email_live', severity: 'error' },
    { object: 'index public.users_deleted', severity: 'warning' },
  ]);
  expect(rules(r, 'json-index')).toEqual([{ object: 'index public.users_prefs', severity: 'error' }]);
  expect(rules(r, 'materialized-view-index')).toEqual([{ object: 'index public.user_count_n', severity: 'warning' }]);
  await apply(r);
});

test('function bodies are parsed: TRUNCATE, SAVEPOINT, temp tables and DDL drop the function (and what uses it); EXECUTE is flagged', async () => {
  const dump = `
CREATE TABLE public.t (id bigint PRIMARY KEY);
CREATE FUNCTION public.purge() RETURNS void LANGUAGE plpgsql AS $$ BEGIN IF true THEN TRUNCATE public.t; END IF; END $$;
CREATE FUNCTION public.purge_sql() RETURNS void LANGUAGE sql AS $$ truncate public.t $$;
CREATE FUNCTION public.dyn(n text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'select ' || n; END $$;
CREATE FUNCTION public.ok() RETURNS bigint LANGUAGE plpgsql AS $$ BEGIN DELETE FROM public.t WHERE id < 0; RETURN (SELECT count(*) FROM public.t); END $$;
CREATE VIEW public.v AS SELECT public.purge_sql() AS x;
CREATE FUNCTION public.next_code() RETURNS text LANGUAGE plpgsql AS $$ BEGIN TRUNCATE public.t; RETURN 'x'; END $$;
CREATE TABLE public.codes (id bigint PRIMARY KEY, code text DEFAULT public.next_code(), CONSTRAINT code_ok CHECK (public.purge_sql() IS NULL OR code <> ''));`;
  const r = await convertSchema(dump);
  expect(rules(r, 'function-body')).toEqual([
    { object: 'function public.purge', severity: 'error' },
    { object: 'function public.purge_sql', severity: 'error' },
    { object: 'function public.next_code', severity: 'error' },
  ]);
  expect(r.findings.find((f) => f.object === 'function public.purge')!.message).toContain('TRUNCATE (TRUNCATE public.t)');
  expect(rules(r, 'function-dynamic-sql')).toEqual([{ object: 'function public.dyn', severity: 'warning' }]);
  // A view using a dropped function is dropped; a table is never dropped for it — only its CHECK/default.
  expect(rules(r, 'dependent-object')).toEqual([
    { object: 'constraint code_ok on public.codes', severity: 'error' },
    { object: 'column public.codes.code', severity: 'error' },
    { object: 'view public.v', severity: 'error' },
  ]);
  expect(r.statements.find((s) => s.object === 'table public.codes')!.sql).toBe('CREATE TABLE public.codes (\n    id bigint PRIMARY KEY,\n    code text\n)');
  expect(sqlOf(r)).not.toMatch(/truncate/i);
  expect(functionStatements("CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN SAVEPOINT a; END $$").statements.map((s) => s.kind)).toEqual(['TransactionStmt']);
  await apply(r);
});

test('dependency order is computed: an SQL function calling one defined later, a view over a function over a table', async () => {
  const dump = `
CREATE FUNCTION public.total(p bigint) RETURNS numeric LANGUAGE sql AS $$ SELECT public.price(p) * 2 $$;
CREATE VIEW public.totals AS SELECT id, public.total(id) AS t FROM public.items;
CREATE FUNCTION public.price(p bigint) RETURNS numeric LANGUAGE sql AS $$ SELECT price FROM public.items WHERE id = p $$;
CREATE FUNCTION public.first_item() RETURNS SETOF public.items LANGUAGE sql AS $$ SELECT * FROM public.items LIMIT 1 $$;
CREATE TABLE public.items (id bigint PRIMARY KEY, price numeric CHECK (public.positive(price)));
CREATE FUNCTION public.positive(n numeric) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT n > 0 $$;`;
  const r = await convertSchema(dump);
  expect(r.statements.map((s) => s.object)).toEqual([
    'function public.positive',
    'table public.items',
    'function public.price',
    'function public.total',
    'view public.totals',
    'function public.first_item',
  ]);
  const db = await apply(r);
  await target.pg().query('INSERT INTO public.items VALUES (1, 2.5)', [], db);
  expect(await target.pg().query('SELECT t FROM public.totals', [], db)).toEqual([{ t: '5.0' }]);
});

test('partitions: their indexes and foreign keys move to the parent (merged), ALTERs on them are reported, nothing silently dropped', async () => {
  const dump = `
CREATE TABLE public.customer (id bigint PRIMARY KEY);
CREATE TABLE public.payment (id bigint NOT NULL, customer_id bigint, paid date NOT NULL) PARTITION BY RANGE (paid);
CREATE TABLE public.payment_2024 (id bigint NOT NULL, customer_id bigint, paid date NOT NULL);
CREATE TABLE public.payment_2025 PARTITION OF public.payment FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
ALTER TABLE ONLY public.payment ATTACH PARTITION public.payment_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
ALTER TABLE ONLY public.payment ADD CONSTRAINT payment_pkey PRIMARY KEY (id, paid);
ALTER TABLE ONLY public.payment_2025 ALTER COLUMN customer_id SET DEFAULT 0;
CREATE UNIQUE INDEX payment_2024_id ON public.payment_2024 USING btree (id);
CREATE INDEX payment_2024_customer ON public.payment_2024 USING btree (customer_id);
CREATE INDEX payment_2025_customer ON public.payment_2025 USING btree (customer_id);
ALTER TABLE ONLY public.payment_2024 ADD CONSTRAINT payment_2024_customer_fkey FOREIGN KEY (customer_id) REFERENCES public.customer(id);
ALTER TABLE ONLY public.payment_2025 ADD CONSTRAINT payment_2025_customer_fkey FOREIGN KEY (customer_id) REFERENCES public.customer(id);`;
  const r = await convertSchema(dump);
  expect(r.statements.filter((s) => s.phase === 'post-load').map((s) => s.sql)).toEqual([
    'CREATE INDEX ASYNC payment_2024_id ON public.payment (id)',
    'CREATE INDEX ASYNC payment_2024_customer ON public.payment (customer_id)',
    'ALTER TABLE public.payment ADD CONSTRAINT payment_2024_customer_fkey FOREIGN KEY (customer_id) REFERENCES public.customer(id) NOT VALID',
  ]);
  expect(rules(r, 'partition-index')).toHaveLength(3);
  expect(rules(r, 'partition-foreign-key')).toHaveLength(2);
  expect(rules(r, 'dropped-table-change')).toEqual([{ object: 'table public.payment_2025', severity: 'warning' }]);
  const db = await apply(r);
  const fks = await target.pg().query(`SELECT conrelid::regclass::text AS t, conname FROM pg_constraint WHERE contype = 'f'`, [], db);
  expect(fks).toEqual([{ t: 'payment', conname: 'payment_2024_customer_fkey' }]);
});

test('a table is never dropped for a dependency: it is kept and the expression to fix is named', async () => {
  const r = await convertSchema(`
CREATE TYPE public.pair AS (a integer, b integer);
CREATE TABLE public.x (id bigint PRIMARY KEY, p text, CONSTRAINT pair_ok CHECK (((p)::public.pair).a > 0));`);
  expect(r.statements.map((s) => s.object)).toEqual(['table public.x']);
  expect(r.findings.filter((f) => f.rule === 'dependent-object').map((f) => `${f.severity} ${f.object}: ${f.message}`)).toEqual([
    'error table public.x: an expression in it uses public.pair, which the converted DDL does not create',
  ]);
});
