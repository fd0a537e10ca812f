/**
 * The schema converter (lambda/dsql-loader/schema-convert.ts) on small dumps, without PostgreSQL: for each
 * kind of input, the exact converted statements (phase, object, SQL — what `--apply` runs, in that order) and
 * the exact findings (severity, rule, object, line, message, fix — what the report tells the operator). Most
 * important: a `pg_dump --clean` dump's DROP/TRUNCATE/DELETE statements never reach the converted DDL.
 * The expected values were reviewed statement by statement; applying converted DDL to a real PostgreSQL is
 * tested in schema*.test.ts (embedded PostgreSQL), which also convert the real-world corpus.
 */
import { convertedSql, convertSchema, reportMarkdown } from '../../lambda/dsql-loader/schema-convert';

type Stmt = [phase: string, object: string, sql: string];
type Find = [severity: string, rule: string, object: string, line: number, message: string, fix: string];
interface Case {
  name: string;
  sql: string;
  statements: Stmt[];
  findings: Find[];
  summary: { statementsIn: number; statementsOut: number; errors: number; warnings: number; infos: number };
}

const CASES: Case[] = [
  {
    name: 'pg_dump --clean: every DROP, ALTER … DROP, TRUNCATE and DELETE is removed and reported, never kept or moved',
    sql: `ALTER TABLE IF EXISTS ONLY public.orders DROP CONSTRAINT IF EXISTS orders_pkey;
ALTER TABLE IF EXISTS public.orders ALTER COLUMN id DROP DEFAULT;
DROP INDEX IF EXISTS public.orders_total_idx;
DROP SEQUENCE IF EXISTS public.orders_id_seq;
DROP TABLE IF EXISTS public.orders;
drop schema if exists app cascade;
CREATE SCHEMA app;
CREATE TABLE public.orders (id bigint NOT NULL, total numeric);
ALTER TABLE ONLY public.orders ADD CONSTRAINT orders_pkey PRIMARY KEY (id);
TRUNCATE public.orders;
DELETE FROM public.orders WHERE id > 0;
WITH d AS (DELETE FROM public.orders RETURNING id) SELECT count(*) FROM d;
ALTER TABLE public.orders DROP COLUMN total;`,
    statements: [
      ['schema', 'schema app', 'CREATE SCHEMA IF NOT EXISTS app'],
      ['schema', 'table public.orders', "CREATE TABLE public.orders (\n    id bigint NOT NULL,\n    total numeric,\n    CONSTRAINT orders_pkey PRIMARY KEY (id)\n)"],
    ],
    findings: [
      ['warning', 'destructive-statement', 'ALTER TABLE IF EXISTS ONLY public.orders DROP CONSTRAINT', 1, 'ALTER TABLE AT_DropConstraint statement in the dump (pg_dump --clean writes one per object)', 'Removed: the converted DDL only creates. To rebuild a target, drop its objects yourself first; nothing here deletes data.'],
      ['warning', 'destructive-statement', 'ALTER TABLE IF EXISTS public.orders ALTER COLUMN id', 2, 'ALTER TABLE AT_ColumnDefault statement in the dump (pg_dump --clean writes one per object)', 'Removed: the converted DDL only creates. To rebuild a target, drop its objects yourself first; nothing here deletes data.'],
      ['warning', 'destructive-statement', 'DROP INDEX IF EXISTS public.orders_total_idx', 3, 'DROP statement in the dump (pg_dump --clean writes one per object)', 'Removed: the converted DDL only creates. To rebuild a target, drop its objects yourself first; nothing here deletes data.'],
      ['warning', 'destructive-statement', 'DROP SEQUENCE IF EXISTS public.orders_id_seq', 4, 'DROP statement in the dump (pg_dump --clean writes one per object)', 'Removed: the converted DDL only creates. To rebuild a target, drop its objects yourself first; nothing here deletes data.'],
      ['warning', 'destructive-statement', 'DROP TABLE IF EXISTS public.orders', 5, 'DROP statement in the dump (pg_dump --clean writes one per object)', 'Removed: the converted DDL only creates. To rebuild a target, drop its objects yourself first; nothing here deletes data.'],
      ['warning', 'destructive-statement', 'drop schema if exists app cascade', 6, 'DROP statement in the dump (pg_dump --clean writes one per object)', 'Removed: the converted DDL only creates. To rebuild a target, drop its objects yourself first; nothing here deletes data.'],
      ['warning', 'destructive-statement', 'TRUNCATE public.orders', 10, 'TRUNCATE statement in the dump', 'Removed: the converted DDL only creates. To rebuild a target, drop its objects yourself first; nothing here deletes data.'],
      ['warning', 'destructive-statement', 'DELETE FROM public.orders WHERE id > 0', 11, 'DELETE statement in the dump', 'Removed: the converted DDL only creates. To rebuild a target, drop its objects yourself first; nothing here deletes data.'],
      ['warning', 'destructive-statement', 'WITH d AS (DELETE FROM public.orders RETURNING id)', 12, 'DeleteStmt statement in the dump', 'Removed: the converted DDL only creates. To rebuild a target, drop its objects yourself first; nothing here deletes data.'],
      ['warning', 'destructive-statement', 'ALTER TABLE public.orders DROP COLUMN total', 13, 'ALTER TABLE AT_DropColumn statement in the dump (pg_dump --clean writes one per object)', 'Removed: the converted DDL only creates. To rebuild a target, drop its objects yourself first; nothing here deletes data.'],
    ],
    summary: { statementsIn: 13, statementsOut: 2, errors: 0, warnings: 10, infos: 0 },
  },
  {
    name: 'column types: jsonb → json, arrays → text, serials → identity, money → numeric, inet → text, extension types → text, enum → text + CHECK, domain → base type, unknown → text (error)',
    sql: `CREATE TYPE public.mood AS ENUM ('sad', 'ok');
ALTER TYPE public.mood ADD VALUE 'happy';
CREATE DOMAIN public.posint AS integer CHECK (VALUE > 0);
CREATE TABLE public.t (
  id bigserial PRIMARY KEY,
  a smallserial,
  b serial,
  doc jsonb,
  tags text[],
  nums _int4,
  arr integer ARRAY,
  price money,
  ip inet,
  h hstore,
  m public.mood NOT NULL,
  p public.posint,
  q "text",
  r pg_catalog.int4,
  x public.whatever,
  y character varying(20)
);`,
    statements: [
      ['schema', 'table public.t', "CREATE TABLE public.t (\n    id bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 65536) PRIMARY KEY,\n    a smallint GENERATED BY DEFAULT AS IDENTITY (CACHE 65536),\n    b integer GENERATED BY DEFAULT AS IDENTITY (CACHE 65536),\n    doc json,\n    tags text,\n    nums text,\n    arr text,\n    price numeric(19,2),\n    ip text,\n    h text,\n    m text NOT NULL CHECK (m IN ('sad', 'ok', 'happy')),\n    p integer,\n    q text,\n    r pg_catalog.int4,\n    x text,\n    y character varying(20)\n)"],
    ],
    findings: [
      ['warning', 'enum-type', 'type public.mood', 1, 'CREATE TYPE is not supported', 'Dropped; columns of this type become text with a CHECK of the labels.'],
      ['info', 'enum-type', 'type public.mood', 2, "ALTER TYPE … ADD VALUE 'happy'", 'The label is part of the CHECK that replaces the enum on its columns.'],
      ['warning', 'domain-type', 'domain public.posint', 3, 'CREATE DOMAIN is not supported', 'Dropped; columns of this domain use its base type.'],
      ['warning', 'serial', 'column public.t.id', 4, 'column type bigserial: SERIAL creates a sequence without the CACHE Aurora DSQL requires', 'Converted to bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 65536); use CACHE 1 if values must be dense and ordered.'],
      ['warning', 'serial', 'column public.t.a', 4, 'column type smallserial: SERIAL creates a sequence without the CACHE Aurora DSQL requires', 'Converted to smallint GENERATED BY DEFAULT AS IDENTITY (CACHE 65536); use CACHE 1 if values must be dense and ordered.'],
      ['warning', 'serial', 'column public.t.b', 4, 'column type serial: SERIAL creates a sequence without the CACHE Aurora DSQL requires', 'Converted to integer GENERATED BY DEFAULT AS IDENTITY (CACHE 65536); use CACHE 1 if values must be dense and ordered.'],
      ['warning', 'jsonb-column', 'column public.t.doc', 4, 'column type jsonb: JSONB is runtime-only in Aurora DSQL; JSON is a column type', 'Stored as json (text preserved); CHECKs, defaults and views that use it get an explicit ::jsonb cast; cast with ::jsonb in your queries too.'],
      ['warning', 'array-column', 'column public.t.tags', 4, 'column type text[]: arrays are runtime-only in Aurora DSQL', 'Stored as text in PostgreSQL array literal form ({a,b}); cast with ::type[] in queries (CHECKs and defaults on it are cast back for you), or normalize into a child table.'],
      ['warning', 'array-column', 'column public.t.nums', 4, 'column type _int4: arrays are runtime-only in Aurora DSQL', 'Stored as text in PostgreSQL array literal form ({a,b}); cast with ::type[] in queries (CHECKs and defaults on it are cast back for you), or normalize into a child table.'],
      ['warning', 'array-column', 'column public.t.arr', 4, 'column type integer ARRAY: arrays are runtime-only in Aurora DSQL', 'Stored as text in PostgreSQL array literal form ({a,b}); cast with ::type[] in queries (CHECKs and defaults on it are cast back for you), or normalize into a child table.'],
      ['warning', 'unsupported-type', 'column public.t.price', 4, 'column type money is not supported', 'Converted to numeric(19,2); DMS writes money as a number.'],
      ['warning', 'unsupported-type', 'column public.t.ip', 4, 'column type inet is not supported as a column type', 'Converted to text (the value keeps its text form); validate or parse it in the application. Expressions that use it are cast back to inet.'],
      ['warning', 'unsupported-type', 'column public.t.h', 4, 'column type hstore is not supported as a column type', 'Converted to text (the value keeps its text form); validate or parse it in the application.'],
      ['warning', 'enum-type', 'column public.t.m', 4, 'column type public.mood is an enum; CREATE TYPE is not supported', 'Converted to text with a CHECK constraint listing the labels.'],
      ['warning', 'domain-type', 'column public.t.p', 4, 'column type public.posint is a domain; CREATE DOMAIN is not supported', "Converted to its base type integer; re-create the domain's CHECK on the column if needed."],
      ['error', 'unknown-type', 'column public.t.x', 4, "column type public.whatever is not an Aurora DSQL type (an extension's or a dropped user type)", 'Stored as text (the value keeps its text form); choose a supported type (https://docs.aws.amazon.com/aurora-dsql/latest/userguide/working-with-postgresql-compatibility-supported-data-types.html) if the application needs one.'],
    ],
    summary: { statementsIn: 4, statementsOut: 1, errors: 1, warnings: 14, infos: 1 },
  },
  {
    name: 'column options: COLLATE removed, inline REFERENCES moved out, identity CACHE fixed, ALWAYS → BY DEFAULT, VIRTUAL → STORED, extension defaults replaced or removed',
    sql: `CREATE FUNCTION public.mine() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$;
CREATE TABLE public.c (
  id bigint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME public.c_id_seq START WITH 1 INCREMENT BY 1 CACHE 10) PRIMARY KEY,
  n text COLLATE pg_catalog."en_US" NOT NULL,
  o text COLLATE "C",
  owner bigint REFERENCES public.users (id) ON DELETE CASCADE,
  u uuid DEFAULT public.uuid_generate_v4(),
  u7 uuid DEFAULT uuidv7(),
  g uuid DEFAULT gen_random_uuid(),
  h text DEFAULT ext.hash('x'),
  k integer DEFAULT public.mine(),
  l numeric GENERATED ALWAYS AS (id * 2) VIRTUAL,
  l2 numeric GENERATED ALWAYS AS (id * 3),
  l3 numeric GENERATED ALWAYS AS (id * 4) STORED,
  z timestamptz DEFAULT pg_catalog.now()
);
CREATE TABLE public.d (id bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 1) PRIMARY KEY, e bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 100000), f bigint GENERATED BY DEFAULT AS IDENTITY);`,
    statements: [
      ['schema', 'function public.mine', 'CREATE FUNCTION public.mine() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$'],
      ['schema', 'table public.c', "CREATE TABLE public.c (\n    id bigint GENERATED BY DEFAULT AS IDENTITY (START WITH 1 INCREMENT BY 1 CACHE 65536) PRIMARY KEY,\n    n text NOT NULL,\n    o text,\n    owner bigint,\n    u uuid DEFAULT gen_random_uuid(),\n    u7 uuid DEFAULT gen_random_uuid(),\n    g uuid DEFAULT gen_random_uuid(),\n    h text,\n    k integer DEFAULT public.mine(),\n    l numeric GENERATED ALWAYS AS (id * 2) STORED,\n    l2 numeric GENERATED ALWAYS AS (id * 3) STORED,\n    l3 numeric GENERATED ALWAYS AS (id * 4) STORED,\n    z timestamptz DEFAULT pg_catalog.now()\n)"],
      ['schema', 'table public.d', "CREATE TABLE public.d (\n    id bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 1) PRIMARY KEY,\n    e bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 100000),\n    f bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 65536)\n)"],
      ['post-load', 'foreign key on public.c', 'ALTER TABLE public.c ADD FOREIGN KEY (owner) REFERENCES public.users (id) ON DELETE CASCADE NOT VALID'],
    ],
    findings: [
      ['warning', 'identity-always', 'column public.c.id', 2, 'GENERATED ALWAYS AS IDENTITY rejects the explicit values the migration loads', 'Converted to GENERATED BY DEFAULT AS IDENTITY; after cutover, set the identity above the largest loaded value.'],
      ['warning', 'sequence-cache', 'column public.c.id', 2, 'sequence CACHE 10: Aurora DSQL accepts CACHE 1 or >= 65536', 'Raised to CACHE 65536.'],
      ['warning', 'collation', 'column public.c.n', 2, 'column collation: Aurora DSQL uses the C collation only', 'Collation removed; text sorts and compares bytewise (C). Use lower()/expression indexes for case-insensitive search.'],
      ['warning', 'collation', 'column public.c.o', 2, 'column collation: Aurora DSQL uses the C collation only', 'Collation removed; text sorts and compares bytewise (C). Use lower()/expression indexes for case-insensitive search.'],
      ['warning', 'foreign-key', 'column public.c.owner', 2, 'inline foreign key', 'Moved out of CREATE TABLE: add it after the full load (NOT VALID), so load order between tables does not matter.'],
      ['warning', 'default-function', 'column public.c.u', 2, "default/generated expression calls public.uuid_generate_v4(), which does not exist in Aurora DSQL (an extension's, or PostgreSQL 18's)", 'Replaced by gen_random_uuid().'],
      ['warning', 'default-function', 'column public.c.u7', 2, "default/generated expression calls uuidv7(), which does not exist in Aurora DSQL (an extension's, or PostgreSQL 18's)", 'Replaced by gen_random_uuid() (a random UUIDv4, not time-ordered; generate v7 in the application if order matters).'],
      ['error', 'default-function', 'column public.c.h', 2, "default expression calls ext.hash(), which this dump does not create (an extension's function)", 'Default removed; the application must supply the value (or create an SQL function of that name first and add the default back).'],
      ['warning', 'generated-virtual', 'column public.c.l', 2, 'VIRTUAL generated column (PostgreSQL 18): Aurora DSQL has only GENERATED ALWAYS AS (…) STORED', 'Converted to STORED (computed on write). Leave the column out of the DMS table mapping: a generated column cannot be loaded.'],
      ['warning', 'generated-virtual', 'column public.c.l2', 2, 'VIRTUAL generated column (PostgreSQL 18): Aurora DSQL has only GENERATED ALWAYS AS (…) STORED', 'Converted to STORED (computed on write). Leave the column out of the DMS table mapping: a generated column cannot be loaded.'],
      ['warning', 'sequence-cache', 'column public.d.f', 17, 'sequence without explicit CACHE: Aurora DSQL requires CACHE 1 or >= 65536', 'Added CACHE 65536 (fast under concurrency; values have gaps). Use CACHE 1 for dense values.'],
    ],
    summary: { statementsIn: 3, statementsOut: 4, errors: 1, warnings: 10, infos: 0 },
  },
  {
    name: 'sequences: AS integer/smallint → bigint, CACHE added or raised, CACHE 1 kept with a note; OWNED BY and setval dropped',
    sql: `CREATE SEQUENCE public.s1 AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
CREATE SEQUENCE IF NOT EXISTS public.s2 AS smallint;
CREATE SEQUENCE public.s3 AS bigint CACHE 20;
CREATE SEQUENCE public.s4 CACHE 70000;
CREATE SEQUENCE s5 AS int8;
ALTER SEQUENCE public.s1 OWNED BY public.t.id;
SELECT pg_catalog.setval('public.s1', 42, true);`,
    statements: [
      ['schema', 'sequence public.s1', 'CREATE SEQUENCE public.s1 AS bigint START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1'],
      ['schema', 'sequence public.s2', 'CREATE SEQUENCE public.s2 AS bigint CACHE 65536'],
      ['schema', 'sequence public.s3', 'CREATE SEQUENCE public.s3 AS bigint CACHE 65536'],
      ['schema', 'sequence public.s4', 'CREATE SEQUENCE public.s4 CACHE 70000'],
      ['schema', 'sequence s5', 'CREATE SEQUENCE s5 AS int8 CACHE 65536'],
    ],
    findings: [
      ['warning', 'sequence-type', 'sequence public.s1', 1, 'sequence AS integer: Aurora DSQL sequences are bigint only', "Converted to AS bigint (its default MAXVALUE is bigint's; an explicit MAXVALUE is kept)."],
      ['info', 'sequence-cache', 'sequence public.s1', 1, 'CACHE 1 sequences are allowed but every nextval() is a distributed write', 'Keep CACHE 1 for dense values, or raise to CACHE 65536 for write-heavy tables.'],
      ['warning', 'sequence-cache', 'sequence public.s2', 2, 'sequence without explicit CACHE: Aurora DSQL requires CACHE 1 or >= 65536', 'Added CACHE 65536 (fast under concurrency; values have gaps). Use CACHE 1 for dense values.'],
      ['warning', 'sequence-type', 'sequence public.s2', 2, 'sequence AS smallint: Aurora DSQL sequences are bigint only', "Converted to AS bigint (its default MAXVALUE is bigint's; an explicit MAXVALUE is kept)."],
      ['warning', 'sequence-cache', 'sequence public.s3', 3, 'sequence CACHE 20: Aurora DSQL accepts CACHE 1 or >= 65536', 'Raised to CACHE 65536.'],
      ['warning', 'sequence-cache', 'sequence s5', 5, 'sequence without explicit CACHE: Aurora DSQL requires CACHE 1 or >= 65536', 'Added CACHE 65536 (fast under concurrency; values have gaps). Use CACHE 1 for dense values.'],
      ['info', 'dump-noise', '(dump)', 0, '2 statement(s) without meaning in DSQL were dropped: SET, OWNER TO, GRANT/REVOKE, COMMENT, OWNED BY, REPLICA IDENTITY', 'Re-create grants for DSQL roles (mapped with AWS IAM GRANT) after the migration.'],
    ],
    summary: { statementsIn: 7, statementsOut: 5, errors: 0, warnings: 5, infos: 2 },
  },
  {
    name: 'tables: duplicate, temporary, unlogged, partition of, without a column list, partitioned, LIKE, storage options, no primary key',
    sql: `CREATE TABLE public.a (id int PRIMARY KEY);
CREATE TABLE public.a (id int PRIMARY KEY, other int);
CREATE TEMP TABLE public.tmp (id int PRIMARY KEY);
CREATE UNLOGGED TABLE public.u (id int PRIMARY KEY) WITH (fillfactor = 70);
CREATE TABLE public.m (id int NOT NULL, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE public.m_2026 PARTITION OF public.m FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE public.copy AS SELECT * FROM public.a;
CREATE TABLE public.l (LIKE public.a, extra int);
CREATE TABLE public.nopk (a int) TABLESPACE fast;`,
    statements: [
      ['schema', 'table public.a', "CREATE TABLE public.a (\n    id int PRIMARY KEY\n)"],
      ['schema', 'table public.u', "CREATE TABLE public.u (\n    id int PRIMARY KEY\n)"],
      ['schema', 'table public.m', "CREATE TABLE public.m (\n    id int NOT NULL,\n    at date NOT NULL,\n    PRIMARY KEY (id, at)\n)"],
      ['schema', 'table public.l', "CREATE TABLE public.l (\n    extra int\n)"],
      ['schema', 'table public.nopk', "CREATE TABLE public.nopk (\n    a int\n)"],
    ],
    findings: [
      ['error', 'duplicate-object', 'table public.a', 2, 'table public.a is created twice in the dump (line 1 and here; pg_dumpall output of several databases?)', "This one is removed; the first definition is converted. Convert each database's dump separately."],
      ['error', 'temporary-table', 'table public.tmp', 3, 'temporary tables are not supported', 'Dropped; use a regular table or application memory.'],
      ['info', 'unlogged-table', 'table public.u', 4, 'UNLOGGED has no meaning in Aurora DSQL (all writes are durable)', 'Created as a regular table.'],
      ['info', 'storage-options', 'table public.u', 4, 'storage parameters and tablespaces do not apply', 'Removed.'],
      ['error', 'partitioned-table', 'table public.m', 5, 'partitioned tables are not supported', 'Created unpartitioned; DSQL distributes data by primary key itself. Load every partition into this table.'],
      ['error', 'partition', 'table public.m_2026', 6, 'partitions are not supported; this is a partition of another table', 'Dropped; its rows belong in the parent table — map the partition to the parent with a DMS rename rule (table-name) so they load there.'],
      ['error', 'unparsed', 'table public.copy', 7, 'CREATE TABLE without a column list (AS SELECT / OF type) is not supported', 'Write the table with explicit columns.'],
      ['error', 'unparsed', 'table public.l', 8, 'LIKE in CREATE TABLE is not converted', 'Expand the columns explicitly.'],
      ['info', 'storage-options', 'table public.nopk', 9, 'storage parameters and tablespaces do not apply', 'Removed.'],
      ['error', 'no-primary-key', 'table public.l', 8, 'table has no primary key: the loader cannot load it idempotently or apply updates and deletes', 'Add a primary key in the source (or in the converted DDL) before the full load.'],
      ['error', 'no-primary-key', 'table public.nopk', 9, 'table has no primary key: the loader cannot load it idempotently or apply updates and deletes', 'Add a primary key in the source (or in the converted DDL) before the full load.'],
    ],
    summary: { statementsIn: 9, statementsOut: 5, errors: 8, warnings: 0, infos: 3 },
  },
  {
    name: 'table constraints: primary key, unique, CHECK kept in CREATE TABLE; foreign keys after the load as NOT VALID; EXCLUDE dropped; PostgreSQL 18 NOT NULL constraints folded',
    sql: `CREATE TABLE public.p (
  id bigint,
  code text,
  parent bigint,
  during tstzrange,
  CONSTRAINT p_pkey PRIMARY KEY (id) USING INDEX TABLESPACE fast,
  UNIQUE (code),
  CONSTRAINT p_code_check CHECK (length(code) > 1) NOT VALID,
  CONSTRAINT p_parent_fkey FOREIGN KEY (parent) REFERENCES public.p (id) NOT VALID,
  EXCLUDE USING gist (during WITH &&),
  CONSTRAINT p_code_not_null NOT NULL code,
  NOT NULL nothere
);`,
    statements: [
      ['schema', 'table public.p', "CREATE TABLE public.p (\n    id bigint,\n    code text NOT NULL,\n    parent bigint,\n    during text,\n    CONSTRAINT p_pkey PRIMARY KEY (id),\n    UNIQUE (code),\n    CONSTRAINT p_code_check CHECK (length(code) > 1)\n)"],
      ['post-load', 'foreign key on public.p', 'ALTER TABLE public.p ADD CONSTRAINT p_parent_fkey FOREIGN KEY (parent) REFERENCES public.p (id) NOT VALID'],
    ],
    findings: [
      ['warning', 'unsupported-type', 'column public.p.during', 1, 'column type tstzrange is not supported as a column type', 'Converted to text (the value keeps its text form); validate or parse it in the application. Expressions that use it are cast back to tstzrange.'],
      ['warning', 'foreign-key', 'constraint p_parent_fkey on public.p', 1, 'foreign key moved after the full load', 'Added after the full load as NOT VALID; validate when the load is verified.'],
      ['error', 'exclusion-constraint', 'constraint (unnamed) on public.p', 1, 'exclusion constraints are not supported', 'Dropped; enforce the rule in the application.'],
      ['info', 'not-null-constraint', 'constraint p_code_not_null on public.p', 1, 'table-level NOT NULL constraint (PostgreSQL 18 syntax)', 'Folded into column code as NOT NULL (the constraint name is not kept).'],
      ['info', 'not-null-constraint', 'constraint (unnamed) on public.p', 1, 'table-level NOT NULL constraint (PostgreSQL 18 syntax)', 'Removed: column nothere is not defined before it; add NOT NULL to it by hand.'],
    ],
    summary: { statementsIn: 1, statementsOut: 2, errors: 1, warnings: 2, infos: 2 },
  },
  {
    name: 'ALTER TABLE: constraints, defaults, added columns, SET NOT NULL and identity folded into CREATE TABLE; partitions attached; RLS, triggers and unknown changes reported',
    sql: `CREATE TABLE public.o (id bigint NOT NULL, total numeric, note text);
CREATE TABLE public.o_2026 (id bigint NOT NULL);
ALTER TABLE ONLY public.o ADD CONSTRAINT o_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.o ADD CONSTRAINT o_total_check CHECK (total >= 0);
ALTER TABLE ONLY public.o ADD CONSTRAINT o_self_fkey FOREIGN KEY (id) REFERENCES public.o(id) NOT VALID;
ALTER TABLE ONLY public.missing ADD CONSTRAINT m_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.o ALTER COLUMN total SET DEFAULT 0;
ALTER TABLE public.o ADD COLUMN extra jsonb;
ALTER TABLE public.o ALTER COLUMN note SET NOT NULL;
ALTER TABLE public.o ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME public.o_id_seq CACHE 1);
ALTER TABLE ONLY public.o ATTACH PARTITION public.o_2026 FOR VALUES IN (1);
ALTER TABLE public.o_2026 ADD CONSTRAINT o_2026_check CHECK (id > 0);
ALTER TABLE public.o_2026 OWNER TO app;
ALTER TABLE public.o ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.o DISABLE TRIGGER ALL;
ALTER TABLE public.o REPLICA IDENTITY FULL;
ALTER TABLE public.o SET (autovacuum_enabled = false);
ALTER TABLE public.o RENAME COLUMN note TO remark;
ALTER TABLE public.gone ALTER COLUMN x SET STATISTICS 100;`,
    statements: [
      ['schema', 'table public.o', "CREATE TABLE public.o (\n    id bigint NOT NULL GENERATED BY DEFAULT AS IDENTITY (CACHE 1),\n    total numeric DEFAULT 0,\n    note text NOT NULL,\n    extra json,\n    CONSTRAINT o_pkey PRIMARY KEY (id),\n    CONSTRAINT o_total_check CHECK (total >= 0)\n)"],
      ['schema', 'table public.o', 'ALTER TABLE public.o RENAME COLUMN note TO remark'],
      ['post-load', 'foreign key on public.o', 'ALTER TABLE public.o ADD CONSTRAINT o_self_fkey FOREIGN KEY (id) REFERENCES public.o(id) NOT VALID'],
    ],
    findings: [
      ['warning', 'foreign-key', 'constraint o_self_fkey on public.o', 5, 'foreign keys can only be added to an existing DSQL table as NOT VALID', 'Added after the full load as NOT VALID; validate existing rows with ALTER TABLE … VALIDATE CONSTRAINT when the load is verified.'],
      ['error', 'unparsed', 'table public.missing', 6, 'constraint on unknown table public.missing', 'Create the table first; edit the converted DDL.'],
      ['warning', 'jsonb-column', 'column public.o.extra', 8, 'column type jsonb: JSONB is runtime-only in Aurora DSQL; JSON is a column type', 'Stored as json (text preserved); CHECKs, defaults and views that use it get an explicit ::jsonb cast; cast with ::jsonb in your queries too.'],
      ['info', 'alter-folded', 'column public.o.extra', 8, 'ALTER TABLE ADD COLUMN extra jsonb', 'Folded into CREATE TABLE (the column converted like the others): DSQL DDL runs one statement per transaction, and one CREATE is fewer.'],
      ['info', 'alter-folded', 'column public.o.note', 9, 'ALTER TABLE … SET NOT NULL', 'Folded into CREATE TABLE as NOT NULL.'],
      ['warning', 'identity-always', 'column public.o.id', 10, 'GENERATED ALWAYS AS IDENTITY rejects the explicit values the migration loads', 'Converted to GENERATED BY DEFAULT AS IDENTITY; after cutover, set the identity above the largest loaded value.'],
      ['error', 'partition', 'table public.o_2026', 11, 'partition of public.o: partitions are not supported', 'Dropped; its rows belong in public.o — map the partition to the parent with a DMS table-name rename rule so they load there.'],
      ['error', 'row-level-security', 'table public.o', 14, 'row-level security is not supported', 'Dropped; enforce row access in the application or with views and IAM-mapped roles.'],
      ['warning', 'unchecked', 'table public.o', 18, 'ALTER TABLE RENAME COLUMN note TO remark was not checked', 'Kept as is; review it before applying.'],
      ['warning', 'dropped-table-change', 'table public.gone', 19, 'ALTER TABLE ALTER COLUMN x SET STATISTICS 100: public.gone is not created by the converted DDL', 'Removed with the table it changes; the parent table has its own definition.'],
      ['info', 'dump-noise', '(dump)', 0, '4 statement(s) without meaning in DSQL were dropped: SET, OWNER TO, GRANT/REVOKE, COMMENT, OWNED BY, REPLICA IDENTITY', 'Re-create grants for DSQL roles (mapped with AWS IAM GRANT) after the migration.'],
    ],
    summary: { statementsIn: 19, statementsOut: 3, errors: 3, warnings: 5, infos: 3 },
  },
  {
    name: 'indexes: btree only, ordering and operator classes removed, partial indexes, json columns, expression casts, materialized views and partitions',
    sql: `CREATE TABLE public.i (id bigint PRIMARY KEY, name text, doc jsonb, tags text[], ip inet, at date);
CREATE TABLE public.ip (id bigint, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE public.ip_1 PARTITION OF public.ip FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE public.ip_2 PARTITION OF public.ip FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
CREATE MATERIALIZED VIEW public.mv AS SELECT id FROM public.i WITH NO DATA;
CREATE INDEX i_doc_gin ON public.i USING gin (doc);
CREATE INDEX i_name_desc ON public.i USING btree (name DESC NULLS LAST, at ASC);
CREATE INDEX i_name_pattern ON public.i (name text_pattern_ops);
CREATE UNIQUE INDEX i_name_active ON public.i (name) WHERE (at IS NOT NULL);
CREATE INDEX i_at_partial ON public.i (at) WHERE (id > 10);
CREATE INDEX i_doc ON public.i (doc);
CREATE INDEX i_doc_key ON public.i ((doc ->> 'k'));
CREATE INDEX i_tags ON public.i ((tags[1]));
CREATE INDEX i_net ON public.i (network(ip));
CREATE INDEX i_incl ON public.i (name) INCLUDE (at);
CREATE INDEX mv_id ON public.mv (id);
CREATE UNIQUE INDEX ip_1_id ON public.ip_1 (id);
CREATE UNIQUE INDEX ip_2_id ON public.ip_2 (id);
CREATE INDEX ON public.i (at);
ALTER INDEX public.ip_id ATTACH PARTITION public.ip_1_id;
ALTER INDEX public.i_at_partial SET STATISTICS 1000;
CREATE INDEX IF NOT EXISTS "I_Quoted" ON ONLY public.i USING btree (id);`,
    statements: [
      ['schema', 'table public.i', "CREATE TABLE public.i (\n    id bigint PRIMARY KEY,\n    name text,\n    doc json,\n    tags text,\n    ip text,\n    at date\n)"],
      ['schema', 'table public.ip', "CREATE TABLE public.ip (\n    id bigint,\n    at date,\n    PRIMARY KEY (id, at)\n)"],
      ['schema', 'view public.mv', 'CREATE VIEW public.mv AS SELECT id FROM public.i'],
      ['post-load', 'index public.i_name_desc', 'CREATE INDEX ASYNC i_name_desc ON public.i (name, at)'],
      ['post-load', 'index public.i_name_pattern', 'CREATE INDEX ASYNC i_name_pattern ON public.i (name)'],
      ['post-load', 'index public.i_at_partial', 'CREATE INDEX ASYNC i_at_partial ON public.i (at)'],
      ['post-load', 'index public.i_doc_key', "CREATE INDEX ASYNC i_doc_key ON public.i (((doc)::jsonb ->> 'k'))"],
      ['post-load', 'index public.i_net', 'CREATE INDEX ASYNC i_net ON public.i (network((ip)::inet))'],
      ['post-load', 'index public.i_incl', 'CREATE INDEX ASYNC i_incl ON public.i (name) INCLUDE (at)'],
      ['post-load', 'index public.ip_1_id', 'CREATE INDEX ASYNC ip_1_id ON public.ip (id)'],
      ['post-load', 'index public.I_Quoted', 'CREATE INDEX ASYNC "I_Quoted" ON public.i (id)'],
    ],
    findings: [
      ['warning', 'jsonb-column', 'column public.i.doc', 1, 'column type jsonb: JSONB is runtime-only in Aurora DSQL; JSON is a column type', 'Stored as json (text preserved); CHECKs, defaults and views that use it get an explicit ::jsonb cast; cast with ::jsonb in your queries too.'],
      ['warning', 'array-column', 'column public.i.tags', 1, 'column type text[]: arrays are runtime-only in Aurora DSQL', 'Stored as text in PostgreSQL array literal form ({a,b}); cast with ::type[] in queries (CHECKs and defaults on it are cast back for you), or normalize into a child table.'],
      ['warning', 'unsupported-type', 'column public.i.ip', 1, 'column type inet is not supported as a column type', 'Converted to text (the value keeps its text form); validate or parse it in the application. Expressions that use it are cast back to inet.'],
      ['error', 'partitioned-table', 'table public.ip', 2, 'partitioned tables are not supported', 'Created unpartitioned; DSQL distributes data by primary key itself. Load every partition into this table.'],
      ['error', 'partition', 'table public.ip_1', 3, 'partitions are not supported; this is a partition of another table', 'Dropped; its rows belong in the parent table — map the partition to the parent with a DMS rename rule (table-name) so they load there.'],
      ['error', 'partition', 'table public.ip_2', 4, 'partitions are not supported; this is a partition of another table', 'Dropped; its rows belong in the parent table — map the partition to the parent with a DMS rename rule (table-name) so they load there.'],
      ['error', 'materialized-view', 'view public.mv', 5, 'materialized views are not supported', 'Converted to a plain view (computed on read); for a cache, keep a table refreshed by a scheduled job.'],
      ['error', 'index-method', 'index public.i_doc_gin', 6, 'gin indexes are not supported (btree only)', "Dropped; for JSON or full-text search, index an expression (e.g. (doc->>'key')) with btree, or use a search service."],
      ['warning', 'index-order', 'index public.i_name_desc', 7, 'ASC/DESC/NULLS ordering in CREATE INDEX ASYNC is not supported', 'Removed; btree scans work in both directions.'],
      ['info', 'index-async', 'index public.i_name_desc', 7, 'secondary indexes are built asynchronously in Aurora DSQL', 'Converted to CREATE INDEX ASYNC and moved after the full load (loads write less; --apply waits for the index job).'],
      ['warning', 'index-opclass', 'index public.i_name_pattern', 8, 'operator class text_pattern_ops is not supported', 'Removed; the default btree operator class is used (C collation makes text_pattern_ops unnecessary).'],
      ['info', 'index-async', 'index public.i_name_pattern', 8, 'secondary indexes are built asynchronously in Aurora DSQL', 'Converted to CREATE INDEX ASYNC and moved after the full load (loads write less; --apply waits for the index job).'],
      ['error', 'partial-index', 'index public.i_name_active', 9, 'partial UNIQUE index (WHERE (at IS NOT NULL)): CREATE INDEX ASYNC has no WHERE clause', 'Removed: without its WHERE the uniqueness would apply to all rows and could reject loaded data. Enforce the rule in the application, or add a UNIQUE index on an expression that is NULL for the excluded rows.'],
      ['warning', 'partial-index', 'index public.i_at_partial', 10, 'partial index (WHERE (id > 10)): CREATE INDEX ASYNC has no WHERE clause', 'Created as a full index on the same keys (it serves the same queries; it is larger).'],
      ['info', 'index-async', 'index public.i_at_partial', 10, 'secondary indexes are built asynchronously in Aurora DSQL', 'Converted to CREATE INDEX ASYNC and moved after the full load (loads write less; --apply waits for the index job).'],
      ['error', 'json-index', 'index public.i_doc', 11, 'index on column doc, now json: json has no btree operator class', "Removed; index an expression such as ((col->>'key')) instead."],
      ['warning', 'cast-back', 'index public.i_doc_key', 12, '1 reference(s) to columns stored as json/text in index expressions', 'Cast back to the source type so the expression keeps its meaning (https://docs.aws.amazon.com/aurora-dsql/latest/userguide/working-with-postgresql-compatibility-supported-data-types.html: jsonb, arrays and inet are query-runtime types).'],
      ['info', 'index-async', 'index public.i_doc_key', 12, 'secondary indexes are built asynchronously in Aurora DSQL (expression keys are supported; their functions must be immutable)', 'Converted to CREATE INDEX ASYNC and moved after the full load (loads write less; --apply waits for the index job).'],
      ['error', 'index-expression', 'index public.i_tags', 13, 'index expression uses tags, an array column now stored as text: the cast back to an array is not immutable', 'Removed; index a generated STORED column computed from the text instead, or normalize the array into a child table.'],
      ['warning', 'cast-back', 'index public.i_net', 14, '1 reference(s) to columns stored as json/text in index expressions', 'Cast back to the source type so the expression keeps its meaning (https://docs.aws.amazon.com/aurora-dsql/latest/userguide/working-with-postgresql-compatibility-supported-data-types.html: jsonb, arrays and inet are query-runtime types).'],
      ['info', 'index-async', 'index public.i_net', 14, 'secondary indexes are built asynchronously in Aurora DSQL', 'Converted to CREATE INDEX ASYNC and moved after the full load (loads write less; --apply waits for the index job).'],
      ['info', 'index-async', 'index public.i_incl', 15, 'secondary indexes are built asynchronously in Aurora DSQL', 'Converted to CREATE INDEX ASYNC and moved after the full load (loads write less; --apply waits for the index job).'],
      ['warning', 'materialized-view-index', 'index public.mv_id', 16, 'index on materialized view public.mv, which is converted to a plain view', 'Removed: a view has no storage to index. Index the tables the view reads instead.'],
      ['warning', 'partition-index', 'index public.ip_1_id', 17, 'index on partition public.ip_1; partitions are dropped', 'Created on public.ip instead without UNIQUE (unique per partition is not unique across the table); identical indexes of sibling partitions are merged into one.'],
      ['info', 'index-async', 'index public.ip_1_id', 17, 'secondary indexes are built asynchronously in Aurora DSQL', 'Converted to CREATE INDEX ASYNC and moved after the full load (loads write less; --apply waits for the index job).'],
      ['warning', 'partition-index', 'index public.ip_2_id', 18, 'index on partition public.ip_2; partitions are dropped', 'Created on public.ip instead without UNIQUE (unique per partition is not unique across the table); identical indexes of sibling partitions are merged into one.'],
      ['info', 'index-async', 'index public.ip_2_id', 18, 'secondary indexes are built asynchronously in Aurora DSQL', 'Converted to CREATE INDEX ASYNC and moved after the full load (loads write less; --apply waits for the index job).'],
      ['info', 'index-async', 'index public.(unnamed)', 19, 'secondary indexes are built asynchronously in Aurora DSQL', 'Converted to CREATE INDEX ASYNC and moved after the full load (loads write less; --apply waits for the index job).'],
      ['info', 'index-option', 'index public.i_at_partial', 21, 'ALTER INDEX SET STATISTICS 1000: index options and statistics targets are not carried over', 'Removed; Aurora DSQL manages index storage and statistics itself.'],
      ['info', 'index-async', 'index public.I_Quoted', 22, 'secondary indexes are built asynchronously in Aurora DSQL', 'Converted to CREATE INDEX ASYNC and moved after the full load (loads write less; --apply waits for the index job).'],
      ['info', 'dump-noise', '(dump)', 0, '1 statement(s) without meaning in DSQL were dropped: SET, OWNER TO, GRANT/REVOKE, COMMENT, OWNED BY, REPLICA IDENTITY', 'Re-create grants for DSQL roles (mapped with AWS IAM GRANT) after the migration.'],
    ],
    summary: { statementsIn: 22, statementsOut: 11, errors: 8, warnings: 11, infos: 12 },
  },
  {
    name: 'functions: trigger functions, other languages and forbidden bodies are dropped with what uses them; dynamic SQL flagged; SQL bodies get casts',
    sql: `CREATE TABLE public.f (id bigint PRIMARY KEY, doc jsonb, v integer CHECK (public.bad(v)), w integer DEFAULT public.trg_fn());
CREATE FUNCTION public.trg_fn() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE FUNCTION public.py() RETURNS int LANGUAGE plpython3u AS $$ return 1 $$;
CREATE FUNCTION public.bad(x integer) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN TRUNCATE public.f; CREATE TEMP TABLE t1 (a int); RETURN true; END $$;
CREATE FUNCTION public.dyn() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'SELECT 1'; END $$;
CREATE FUNCTION public.keys(r bigint) RETURNS text LANGUAGE sql AS $$ SELECT jsonb_typeof(doc) FROM public.f WHERE id = r $$;
CREATE VIEW public.v_bad AS SELECT public.bad(1);
CREATE TRIGGER f_trg BEFORE INSERT ON public.f FOR EACH ROW EXECUTE FUNCTION public.trg_fn();
CREATE OR REPLACE PROCEDURE public.proc() LANGUAGE sql AS $$ SELECT 1 $$;`,
    statements: [
      ['schema', 'table public.f', "CREATE TABLE public.f (\n    id bigint PRIMARY KEY,\n    doc json,\n    v integer CHECK (public.bad(v)),\n    w integer\n)"],
      ['schema', 'function public.dyn', "CREATE FUNCTION public.dyn() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'SELECT 1'; END $$"],
      ['schema', 'function public.keys', 'CREATE FUNCTION public.keys(r bigint) RETURNS text LANGUAGE sql AS $$ SELECT jsonb_typeof((doc)::jsonb) FROM public.f WHERE id = r $$'],
      ['schema', 'procedure public.proc', 'CREATE OR REPLACE PROCEDURE public.proc() LANGUAGE sql AS $$ SELECT 1 $$'],
    ],
    findings: [
      ['warning', 'jsonb-column', 'column public.f.doc', 1, 'column type jsonb: JSONB is runtime-only in Aurora DSQL; JSON is a column type', 'Stored as json (text preserved); CHECKs, defaults and views that use it get an explicit ::jsonb cast; cast with ::jsonb in your queries too.'],
      ['error', 'default-function', 'column public.f.w', 1, "default expression calls public.trg_fn(), which this dump does not create (an extension's function)", 'Default removed; the application must supply the value (or create an SQL function of that name first and add the default back).'],
      ['error', 'trigger-function', 'function public.trg_fn', 2, 'trigger functions have no use: Aurora DSQL has no triggers', 'Dropped with its triggers; move the logic into the application or the loader step that writes these rows.'],
      ['error', 'function-language', 'function public.py', 3, 'LANGUAGE plpython3u is not supported (SQL and PL/pgSQL only)', 'Dropped; rewrite it in SQL or PL/pgSQL, or move it to the application.'],
      ['error', 'function-body', 'function public.bad', 4, 'the body runs TRUNCATE (TRUNCATE public.f); CREATE (CREATE TEMP TABLE t1 (a int)), which Aurora DSQL does not allow in a function', 'Function dropped; rewrite it without these statements (e.g. DELETE in batches instead of TRUNCATE) or move it to the application.'],
      ['warning', 'function-dynamic-sql', 'function public.dyn', 5, 'the body runs EXECUTE of a built string, which cannot be checked before it runs', 'Kept; make sure the statements it builds follow DSQL rules (no TRUNCATE, temp tables, DDL mixed with DML).'],
      ['info', 'plpgsql', 'function public.dyn', 5, 'PL/pgSQL function: its statements were checked for TRUNCATE, SAVEPOINT, VACUUM, temporary tables and DDL', 'Kept as is.'],
      ['error', 'trigger', 'trigger f_trg on public.f', 8, 'triggers are not supported', 'Dropped; move the logic into the application (or a scheduled job for derived data).'],
      ['warning', 'cast-back', 'function public.keys', 0, '1 reference(s) to columns stored as json/text (source jsonb/array) in expressions', 'Cast back explicitly (e.g. col::jsonb) so jsonb/array functions and operators keep working (https://docs.aws.amazon.com/aurora-dsql/latest/userguide/working-with-postgresql-compatibility-supported-data-types.html: jsonb and arrays are query-runtime types).'],
      ['error', 'dependent-object', 'table public.f', 1, 'an expression in it uses public.bad, which the converted DDL does not create', 'Table kept: remove or rewrite the expression that uses public.bad in converted.sql before applying.'],
      ['error', 'dependent-object', 'view public.v_bad', 0, 'uses public.bad, which the conversion dropped', 'Dropped with it; rewrite it without that dependency.'],
    ],
    summary: { statementsIn: 9, statementsOut: 4, errors: 7, warnings: 3, infos: 1 },
  },
  {
    name: 'dependency order: functions, views and tables are created after what they use; extension objects drop their users',
    sql: `CREATE VIEW public.v2 AS SELECT public.f2(1) AS x, * FROM public.v1;
CREATE VIEW public.v1 AS SELECT id FROM public.t1;
CREATE FUNCTION public.f2(a integer) RETURNS integer LANGUAGE sql AS $$ SELECT public.f1(a) $$;
CREATE FUNCTION public.f1(a integer) RETURNS integer LANGUAGE sql AS $$ SELECT a + 1 $$;
CREATE TABLE public.t1 (id bigint PRIMARY KEY, c integer CHECK (public.f1(c) > 0));
CREATE VIEW public.stats AS SELECT * FROM public.pg_stat_statements;
CREATE VIEW public.stats2 AS SELECT * FROM public.stats;
CREATE VIEW public.ext_only AS SELECT * FROM other.not_created;
CREATE FUNCTION public.tf(r public.t1) RETURNS bigint LANGUAGE sql AS $$ SELECT r.id $$;`,
    statements: [
      ['schema', 'function public.f1', 'CREATE FUNCTION public.f1(a integer) RETURNS integer LANGUAGE sql AS $$ SELECT a + 1 $$'],
      ['schema', 'table public.t1', "CREATE TABLE public.t1 (\n    id bigint PRIMARY KEY,\n    c integer CHECK (public.f1(c) > 0)\n)"],
      ['schema', 'view public.v1', 'CREATE VIEW public.v1 AS SELECT id FROM public.t1'],
      ['schema', 'function public.f2', 'CREATE FUNCTION public.f2(a integer) RETURNS integer LANGUAGE sql AS $$ SELECT public.f1(a) $$'],
      ['schema', 'view public.v2', 'CREATE VIEW public.v2 AS SELECT public.f2(1) AS x, * FROM public.v1'],
      ['schema', 'function public.tf', 'CREATE FUNCTION public.tf(r public.t1) RETURNS bigint LANGUAGE sql AS $$ SELECT r.id $$'],
    ],
    findings: [
      ['error', 'dependent-object', 'view public.stats', 0, "uses public.pg_stat_statements, which the converted DDL does not create (an extension's object)", 'Dropped with it; rewrite it without that dependency.'],
      ['error', 'dependent-object', 'view public.stats2', 0, "uses public.stats, which the converted DDL does not create (an extension's object)", 'Dropped with it; rewrite it without that dependency.'],
      ['error', 'dependent-object', 'view public.ext_only', 0, "uses other.not_created, which the converted DDL does not create (an extension's object)", 'Dropped with it; rewrite it without that dependency.'],
    ],
    summary: { statementsIn: 9, statementsOut: 6, errors: 3, warnings: 0, infos: 0 },
  },
  {
    name: 'views, materialized views, triggers, rules, policies and other objects DSQL does not have',
    sql: `CREATE TABLE public.w (id bigint PRIMARY KEY, doc jsonb);
CREATE VIEW public.wv AS SELECT id, doc -> 'a' AS a FROM public.w;
CREATE MATERIALIZED VIEW public.wm AS SELECT id FROM public.w WITH DATA;
REFRESH MATERIALIZED VIEW public.wm;
CREATE RULE r AS ON INSERT TO public.w DO INSTEAD NOTHING;
CREATE POLICY p ON public.w USING (true);
CREATE EVENT TRIGGER et ON ddl_command_start EXECUTE FUNCTION public.x();
CREATE PUBLICATION pub FOR ALL TABLES;
CREATE AGGREGATE public.agg(int) (SFUNC = int4pl, STYPE = int);
CREATE DATABASE other;
CREATE EXTENSION IF NOT EXISTS plpgsql WITH SCHEMA pg_catalog;
CREATE EXTENSION "uuid-ossp";
CREATE EXTENSION postgis;
COMMENT ON EXTENSION postgis IS 'x';
COMMENT ON TABLE public.w IS 'w';
GRANT SELECT ON public.w TO app;
REVOKE ALL ON public.w FROM PUBLIC;
ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO app;
DO $$ BEGIN PERFORM 1; END $$;
CALL public.proc();
CREATE ROLE app LOGIN;`,
    statements: [
      ['schema', 'table public.w', "CREATE TABLE public.w (\n    id bigint PRIMARY KEY,\n    doc json\n)"],
      ['schema', 'view public.wv', "CREATE VIEW public.wv AS SELECT id, (doc)::jsonb -> 'a' AS a FROM public.w"],
      ['schema', 'view public.wm', 'CREATE VIEW public.wm AS SELECT id FROM public.w'],
    ],
    findings: [
      ['warning', 'jsonb-column', 'column public.w.doc', 1, 'column type jsonb: JSONB is runtime-only in Aurora DSQL; JSON is a column type', 'Stored as json (text preserved); CHECKs, defaults and views that use it get an explicit ::jsonb cast; cast with ::jsonb in your queries too.'],
      ['error', 'materialized-view', 'view public.wm', 3, 'materialized views are not supported', 'Converted to a plain view (computed on read); for a cache, keep a table refreshed by a scheduled job.'],
      ['error', 'rule', 'CREATE RULE r AS', 5, 'CREATE RULE r AS is not supported', 'Dropped; rules are not supported — use views or application logic.'],
      ['error', 'row-level-security', 'CREATE POLICY p ON', 6, 'CREATE POLICY p ON is not supported', 'Dropped; row-level security is not supported.'],
      ['error', 'trigger', 'CREATE EVENT TRIGGER et', 7, 'CREATE EVENT TRIGGER et is not supported', 'Dropped; event triggers are not supported.'],
      ['error', 'replication', 'CREATE PUBLICATION pub FOR', 8, 'CREATE PUBLICATION pub FOR is not supported', 'Dropped; use DSQL streams or DMS for change data.'],
      ['error', 'unsupported-object', 'CREATE AGGREGATE public.agg(int) (SFUNC', 9, 'CREATE AGGREGATE public.agg(int) (SFUNC is not supported', 'Dropped; not supported or not needed in Aurora DSQL.'],
      ['error', 'database', 'CREATE DATABASE other', 10, 'CREATE DATABASE other is not supported', 'Dropped; Aurora DSQL has the single database postgres.'],
      ['info', 'extension', 'extension plpgsql', 11, 'plpgsql is built into Aurora DSQL', 'Dropped; nothing to do.'],
      ['error', 'extension', 'extension uuid-ossp', 12, 'extension uuid-ossp: Aurora DSQL does not support extensions', 'Dropped. Use gen_random_uuid() (built in) instead of uuid_generate_v4().'],
      ['error', 'extension', 'extension postgis', 13, 'extension postgis: Aurora DSQL does not support extensions', 'Dropped. Store geometry as text/bytea (WKT/WKB) and do spatial work in the application or a spatial service.'],
      ['error', 'unsupported-statement', 'DO $$ BEGIN PERFORM', 19, 'statement DO $$ BEGIN PERFORM (DoStmt) is not a schema object the converter knows', 'Removed from the converted DDL. If it is needed, review it and run it by hand after --apply (Aurora DSQL roles: CREATE ROLE plus AWS IAM GRANT).'],
      ['error', 'unsupported-statement', 'CALL public.proc()', 20, 'statement CALL public.proc() (CallStmt) is not a schema object the converter knows', 'Removed from the converted DDL. If it is needed, review it and run it by hand after --apply (Aurora DSQL roles: CREATE ROLE plus AWS IAM GRANT).'],
      ['error', 'unsupported-statement', 'CREATE ROLE app LOGIN', 21, 'statement CREATE ROLE app LOGIN (CreateRoleStmt) is not a schema object the converter knows', 'Removed from the converted DDL. If it is needed, review it and run it by hand after --apply (Aurora DSQL roles: CREATE ROLE plus AWS IAM GRANT).'],
      ['info', 'dump-noise', '(dump)', 0, '4 statement(s) without meaning in DSQL were dropped: SET, OWNER TO, GRANT/REVOKE, COMMENT, OWNED BY, REPLICA IDENTITY', 'Re-create grants for DSQL roles (mapped with AWS IAM GRANT) after the migration.'],
      ['warning', 'cast-back', 'view public.wv', 0, '1 reference(s) to columns stored as json/text (source jsonb/array) in expressions', 'Cast back explicitly (e.g. col::jsonb) so jsonb/array functions and operators keep working (https://docs.aws.amazon.com/aurora-dsql/latest/userguide/working-with-postgresql-compatibility-supported-data-types.html: jsonb and arrays are query-runtime types).'],
    ],
    summary: { statementsIn: 21, statementsOut: 3, errors: 12, warnings: 2, infos: 2 },
  },
  {
    name: 'SET search_path to other schemas is reported with the unqualified objects created after it; data statements are counted, never kept',
    sql: `SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);
CREATE TABLE public.q (id bigint PRIMARY KEY);
SET search_path = app, "$user", public;
CREATE TABLE plain (id bigint PRIMARY KEY);
CREATE TABLE public.qualified (id bigint PRIMARY KEY);
CREATE VIEW vplain AS SELECT 1 AS x;
RESET search_path;
CREATE TABLE after_reset (id bigint PRIMARY KEY);
SELECT pg_catalog.set_config('search_path', 'other', false);
CREATE SEQUENCE seqplain;
INSERT INTO public.q (id) VALUES (1), (2), (3);
INSERT INTO public.q VALUES (4);
UPDATE public.q SET id = 5 WHERE id = 4;
COPY public.q (id) FROM stdin;
7
8
\\.
INSERT INTO "My"."Tab" VALUES (1);`,
    statements: [
      ['schema', 'sequence seqplain', 'CREATE SEQUENCE seqplain CACHE 65536'],
      ['schema', 'table public.q', "CREATE TABLE public.q (\n    id bigint PRIMARY KEY\n)"],
      ['schema', 'table plain', "CREATE TABLE plain (\n    id bigint PRIMARY KEY\n)"],
      ['schema', 'table public.qualified', "CREATE TABLE public.qualified (\n    id bigint PRIMARY KEY\n)"],
      ['schema', 'table after_reset', "CREATE TABLE after_reset (\n    id bigint PRIMARY KEY\n)"],
      ['schema', 'view vplain', 'CREATE VIEW vplain AS SELECT 1 AS x'],
    ],
    findings: [
      ['warning', 'sequence-cache', 'sequence seqplain', 11, 'sequence without explicit CACHE: Aurora DSQL requires CACHE 1 or >= 65536', 'Added CACHE 65536 (fast under concurrency; values have gaps). Use CACHE 1 for dense values.'],
      ['warning', 'search-path', '(dump)', 4, 'SET search_path = app, public: 2 object(s) after it are not schema-qualified (table plain, view vplain) and are created in public by the converted DDL', 'Qualify them in the dump (pg_dump does), or edit converted.sql to put them in app.'],
      ['warning', 'search-path', '(dump)', 10, 'SET search_path = other: 1 object(s) after it are not schema-qualified (sequence seqplain) and are created in public by the converted DDL', 'Qualify them in the dump (pg_dump does), or edit converted.sql to put them in other.'],
      ['info', 'data-statement', 'data for public.q', 12, '4 data statement(s) (INSERT/UPDATE/COPY) with 6 row(s) in a schema dump (e.g. Rails structure.sql schema_migrations rows)', 'Removed from the DDL; the rows arrive with the full load like every other table.'],
      ['info', 'data-statement', 'data for "My"."Tab"', 19, '1 data statement(s) (INSERT/UPDATE/COPY) with 1 row(s) in a schema dump (e.g. Rails structure.sql schema_migrations rows)', 'Removed from the DDL; the rows arrive with the full load like every other table.'],
      ['info', 'dump-noise', '(dump)', 0, '5 statement(s) without meaning in DSQL were dropped: SET, OWNER TO, GRANT/REVOKE, COMMENT, OWNED BY, REPLICA IDENTITY', 'Re-create grants for DSQL roles (mapped with AWS IAM GRANT) after the migration.'],
    ],
    summary: { statementsIn: 16, statementsOut: 6, errors: 0, warnings: 3, infos: 3 },
  },
  {
    name: 'partitions: their indexes and foreign keys move to the parent (merged when identical); a foreign key to a dropped table is removed',
    sql: `CREATE TABLE public.pay (id bigint, cust bigint, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE public.pay_1 (id bigint NOT NULL, cust bigint, at date NOT NULL);
CREATE TABLE public.pay_2 (id bigint NOT NULL, cust bigint, at date NOT NULL);
CREATE TABLE public.cust (id bigint PRIMARY KEY);
CREATE TEMPORARY TABLE public.scratch (id bigint);
ALTER TABLE ONLY public.pay ATTACH PARTITION public.pay_1 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
ALTER TABLE ONLY public.pay ATTACH PARTITION public.pay_2 FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
ALTER TABLE ONLY public.pay_1 ADD CONSTRAINT pay_1_cust_fkey FOREIGN KEY (cust) REFERENCES public.cust(id);
ALTER TABLE ONLY public.pay_2 ADD CONSTRAINT pay_1_cust_fkey FOREIGN KEY (cust) REFERENCES public.cust(id);
ALTER TABLE ONLY public.cust ADD CONSTRAINT cust_pay_fkey FOREIGN KEY (id) REFERENCES public.pay_1(id);
ALTER TABLE ONLY public.cust ADD CONSTRAINT cust_scratch_fkey FOREIGN KEY (id) REFERENCES public.scratch(id);
CREATE INDEX pay_1_cust ON public.pay_1 (cust);
CREATE INDEX pay_2_cust ON public.pay_2 (cust);`,
    statements: [
      ['schema', 'table public.pay', "CREATE TABLE public.pay (\n    id bigint,\n    cust bigint,\n    at date,\n    PRIMARY KEY (id, at)\n)"],
      ['schema', 'table public.cust', "CREATE TABLE public.cust (\n    id bigint PRIMARY KEY\n)"],
      ['post-load', 'index public.pay_1_cust', 'CREATE INDEX ASYNC pay_1_cust ON public.pay (cust)'],
      ['post-load', 'foreign key on public.pay', 'ALTER TABLE public.pay ADD CONSTRAINT pay_1_cust_fkey FOREIGN KEY (cust) REFERENCES public.cust(id) NOT VALID'],
      ['post-load', 'foreign key on public.cust', 'ALTER TABLE public.cust ADD CONSTRAINT cust_pay_fkey FOREIGN KEY (id) REFERENCES public.pay(id) NOT VALID'],
    ],
    findings: [
      ['error', 'partitioned-table', 'table public.pay', 1, 'partitioned tables are not supported', 'Created unpartitioned; DSQL distributes data by primary key itself. Load every partition into this table.'],
      ['error', 'temporary-table', 'table public.scratch', 5, 'temporary tables are not supported', 'Dropped; use a regular table or application memory.'],
      ['error', 'partition', 'table public.pay_1', 6, 'partition of public.pay: partitions are not supported', 'Dropped; its rows belong in public.pay — map the partition to the parent with a DMS table-name rename rule so they load there.'],
      ['error', 'partition', 'table public.pay_2', 7, 'partition of public.pay: partitions are not supported', 'Dropped; its rows belong in public.pay — map the partition to the parent with a DMS table-name rename rule so they load there.'],
      ['warning', 'foreign-key', 'constraint pay_1_cust_fkey on public.pay_1', 8, 'foreign keys can only be added to an existing DSQL table as NOT VALID', 'Added after the full load as NOT VALID; validate existing rows with ALTER TABLE … VALIDATE CONSTRAINT when the load is verified.'],
      ['warning', 'foreign-key', 'constraint pay_1_cust_fkey on public.pay_2', 9, 'foreign keys can only be added to an existing DSQL table as NOT VALID', 'Added after the full load as NOT VALID; validate existing rows with ALTER TABLE … VALIDATE CONSTRAINT when the load is verified.'],
      ['warning', 'foreign-key', 'constraint cust_pay_fkey on public.cust', 10, 'foreign keys can only be added to an existing DSQL table as NOT VALID', 'Added after the full load as NOT VALID; validate existing rows with ALTER TABLE … VALIDATE CONSTRAINT when the load is verified.'],
      ['warning', 'foreign-key', 'constraint cust_scratch_fkey on public.cust', 11, 'foreign keys can only be added to an existing DSQL table as NOT VALID', 'Added after the full load as NOT VALID; validate existing rows with ALTER TABLE … VALIDATE CONSTRAINT when the load is verified.'],
      ['warning', 'partition-index', 'index public.pay_1_cust', 12, 'index on partition public.pay_1; partitions are dropped', 'Created on public.pay instead; identical indexes of sibling partitions are merged into one.'],
      ['info', 'index-async', 'index public.pay_1_cust', 12, 'secondary indexes are built asynchronously in Aurora DSQL', 'Converted to CREATE INDEX ASYNC and moved after the full load (loads write less; --apply waits for the index job).'],
      ['warning', 'partition-index', 'index public.pay_2_cust', 13, 'index on partition public.pay_2; partitions are dropped', 'Created on public.pay instead; identical indexes of sibling partitions are merged into one.'],
      ['info', 'index-async', 'index public.pay_2_cust', 13, 'secondary indexes are built asynchronously in Aurora DSQL', 'Converted to CREATE INDEX ASYNC and moved after the full load (loads write less; --apply waits for the index job).'],
      ['warning', 'partition-foreign-key', 'constraint pay_1_cust_fkey on public.pay_1', 0, 'foreign key of partition public.pay_1; partitions are dropped', 'Added to public.pay instead; identical keys of sibling partitions are merged into one.'],
      ['warning', 'partition-foreign-key', 'constraint pay_1_cust_fkey on public.pay_2', 0, 'foreign key of partition public.pay_2; partitions are dropped', 'Added to public.pay instead; identical keys of sibling partitions are merged into one.'],
      ['warning', 'partition-foreign-key', 'constraint cust_pay_fkey on public.cust', 0, 'foreign key referencing partition public.pay_1; partitions are dropped', 'Added to public.cust referencing public.pay instead; identical keys of sibling partitions are merged into one.'],
      ['error', 'dependent-object', 'constraint cust_scratch_fkey on public.cust', 0, 'foreign key on/to a table the conversion dropped', 'Removed; recreate it when both tables exist.'],
    ],
    summary: { statementsIn: 13, statementsOut: 5, errors: 5, warnings: 9, infos: 2 },
  },
  {
    name: 'inheritance: the child gets the parent columns (and their casts); a parent not in the dump is named',
    sql: `CREATE TABLE public.base (id bigint NOT NULL, doc jsonb, tags text[]);
ALTER TABLE ONLY public.base ADD CONSTRAINT base_pkey PRIMARY KEY (id);
CREATE TABLE public.child (extra text, CHECK (jsonb_typeof(doc) = 'object')) INHERITS (public.base);
CREATE TABLE public.orphan (x int) INHERITS (public.nowhere, public.base);
ALTER TABLE ONLY public.child ALTER COLUMN id SET DEFAULT 7;
CREATE INDEX child_doc ON public.child ((doc ->> 'k'));
CREATE INDEX child_tags ON public.child ((tags[1]));`,
    statements: [
      ['schema', 'table public.base', "CREATE TABLE public.base (\n    id bigint NOT NULL,\n    doc json,\n    tags text,\n    CONSTRAINT base_pkey PRIMARY KEY (id)\n)"],
      ['schema', 'table public.child', "CREATE TABLE public.child (\n    id bigint NOT NULL DEFAULT 7,\n    doc json,\n    tags text,\n    extra text,\n    CHECK (jsonb_typeof((doc)::jsonb) = 'object')\n)"],
      ['schema', 'table public.orphan', "CREATE TABLE public.orphan (\n    id bigint NOT NULL,\n    doc json,\n    tags text,\n    x int\n)"],
      ['post-load', 'index public.child_doc', "CREATE INDEX ASYNC child_doc ON public.child (((doc)::jsonb ->> 'k'))"],
    ],
    findings: [
      ['warning', 'jsonb-column', 'column public.base.doc', 1, 'column type jsonb: JSONB is runtime-only in Aurora DSQL; JSON is a column type', 'Stored as json (text preserved); CHECKs, defaults and views that use it get an explicit ::jsonb cast; cast with ::jsonb in your queries too.'],
      ['warning', 'array-column', 'column public.base.tags', 1, 'column type text[]: arrays are runtime-only in Aurora DSQL', 'Stored as text in PostgreSQL array literal form ({a,b}); cast with ::type[] in queries (CHECKs and defaults on it are cast back for you), or normalize into a child table.'],
      ['error', 'inheritance', 'table public.child', 3, 'table inheritance is not supported (INHERITS public.base)', 'Created without INHERITS, with the inherited columns id, doc, tags copied in. Rows of this table no longer show in queries of the parent: query both.'],
      ['error', 'inheritance', 'table public.orphan', 4, 'table inheritance is not supported (INHERITS public.nowhere, public.base)', 'Created without INHERITS, with the inherited columns id, doc, tags copied in; parent public.nowhere is not defined before it, so its columns are missing — add them. Rows of this table no longer show in queries of the parent: query both.'],
      ['warning', 'cast-back', 'index public.child_doc', 6, '1 reference(s) to columns stored as json/text in index expressions', 'Cast back to the source type so the expression keeps its meaning (https://docs.aws.amazon.com/aurora-dsql/latest/userguide/working-with-postgresql-compatibility-supported-data-types.html: jsonb, arrays and inet are query-runtime types).'],
      ['info', 'index-async', 'index public.child_doc', 6, 'secondary indexes are built asynchronously in Aurora DSQL (expression keys are supported; their functions must be immutable)', 'Converted to CREATE INDEX ASYNC and moved after the full load (loads write less; --apply waits for the index job).'],
      ['error', 'index-expression', 'index public.child_tags', 7, 'index expression uses tags, an array column now stored as text: the cast back to an array is not immutable', 'Removed; index a generated STORED column computed from the text instead, or normalize the array into a child table.'],
      ['error', 'no-primary-key', 'table public.child', 3, 'table has no primary key: the loader cannot load it idempotently or apply updates and deletes', 'Add a primary key in the source (or in the converted DDL) before the full load.'],
      ['error', 'no-primary-key', 'table public.orphan', 4, 'table has no primary key: the loader cannot load it idempotently or apply updates and deletes', 'Add a primary key in the source (or in the converted DDL) before the full load.'],
      ['warning', 'cast-back', 'table public.child', 3, '1 reference(s) to columns stored as json/text (source jsonb/array) in expressions', 'Cast back explicitly (e.g. col::jsonb) so jsonb/array functions and operators keep working (https://docs.aws.amazon.com/aurora-dsql/latest/userguide/working-with-postgresql-compatibility-supported-data-types.html: jsonb and arrays are query-runtime types).'],
    ],
    summary: { statementsIn: 7, statementsOut: 4, errors: 5, warnings: 4, infos: 1 },
  },
  {
    name: 'pg_dumpall: objects of several databases are named; a byte-order mark keeps the first statement',
    sql: `\uFEFFCREATE TABLE public.first (id bigint PRIMARY KEY);
\\connect one
CREATE TABLE public.a1 (id bigint PRIMARY KEY);
\\connect -reuse-previous=on "two"
CREATE TABLE public.a2 (id bigint PRIMARY KEY);
\\c three
CREATE ROLE r;`,
    statements: [
      ['schema', 'table public.first', "CREATE TABLE public.first (\n    id bigint PRIMARY KEY\n)"],
      ['schema', 'table public.a1', "CREATE TABLE public.a1 (\n    id bigint PRIMARY KEY\n)"],
      ['schema', 'table public.a2', "CREATE TABLE public.a2 (\n    id bigint PRIMARY KEY\n)"],
    ],
    findings: [
      ['error', 'unsupported-statement', 'CREATE ROLE r', 7, 'statement CREATE ROLE r (CreateRoleStmt) is not a schema object the converter knows', 'Removed from the converted DDL. If it is needed, review it and run it by hand after --apply (Aurora DSQL roles: CREATE ROLE plus AWS IAM GRANT).'],
      ['error', 'multiple-databases', '(dump)', 0, 'the dump holds objects of 2 databases (one, two); Aurora DSQL has one database (postgres) and the converter merges them into it', 'Dump and convert each database on its own (pg_dump --schema-only per database), then decide how their schemas share the cluster; objects created twice are removed and named.'],
    ],
    summary: { statementsIn: 4, statementsOut: 3, errors: 2, warnings: 0, infos: 0 },
  },
  {
    name: 'pg_dump --quote-all-identifiers: quoted built-in type names and quoted lower-case names are the same objects',
    sql: `CREATE TYPE "public"."status" AS ENUM ('a', 'b');
CREATE TABLE "public"."Items" ("id" "int8" NOT NULL, "state" "public"."status", "doc" "jsonb", "tags" "pg_catalog"."text"[], "Name" "text" COLLATE "pg_catalog"."default");
ALTER TABLE ONLY "public"."Items" ADD CONSTRAINT "Items_pkey" PRIMARY KEY ("id");
CREATE VIEW "public"."v" AS SELECT "id", ("state")::"public"."status" AS s, "state"::status AS t FROM "public"."Items";`,
    statements: [
      ['schema', 'table public."Items"', "CREATE TABLE public.\"Items\" (\n    \"id\" int8 NOT NULL,\n    \"state\" text CHECK (\"state\" IN ('a', 'b')),\n    \"doc\" json,\n    \"tags\" text,\n    \"Name\" text,\n    CONSTRAINT \"Items_pkey\" PRIMARY KEY (\"id\")\n)"],
      ['schema', 'view public.v', 'CREATE VIEW "public"."v" AS SELECT "id", ("state")::text AS s, "state"::text AS t FROM "public"."Items"'],
    ],
    findings: [
      ['warning', 'enum-type', 'type public.status', 1, 'CREATE TYPE is not supported', 'Dropped; columns of this type become text with a CHECK of the labels.'],
      ['warning', 'enum-type', 'column public."Items".state', 2, 'column type public.status is an enum; CREATE TYPE is not supported', 'Converted to text with a CHECK constraint listing the labels.'],
      ['warning', 'jsonb-column', 'column public."Items".doc', 2, 'column type jsonb: JSONB is runtime-only in Aurora DSQL; JSON is a column type', 'Stored as json (text preserved); CHECKs, defaults and views that use it get an explicit ::jsonb cast; cast with ::jsonb in your queries too.'],
      ['warning', 'array-column', 'column public."Items".tags', 2, 'column type pg_catalog.text[]: arrays are runtime-only in Aurora DSQL', 'Stored as text in PostgreSQL array literal form ({a,b}); cast with ::type[] in queries (CHECKs and defaults on it are cast back for you), or normalize into a child table.'],
      ['warning', 'collation', 'column public."Items".Name', 2, 'column collation: Aurora DSQL uses the C collation only', 'Collation removed; text sorts and compares bytewise (C). Use lower()/expression indexes for case-insensitive search.'],
    ],
    summary: { statementsIn: 4, statementsOut: 2, errors: 0, warnings: 5, infos: 0 },
  },
  {
    name: 'defaults: an extension function in a default with strings and parentheses is removed up to the next constraint; SET DEFAULT replaces the default',
    sql: `CREATE TABLE public.dflt (
  id bigint NOT NULL,
  a text DEFAULT ext.f('x DEFAULT (y) NOT NULL', (1)) NOT NULL,
  b text DEFAULT ext.g() CHECK (b <> ''),
  c text DEFAULT 'plain',
  d uuid DEFAULT "ext".uuid_generate_v1mc()
);
ALTER TABLE ONLY public.dflt ALTER COLUMN c SET DEFAULT ext.h();
ALTER TABLE ONLY public.dflt ALTER COLUMN id SET DEFAULT nextval('public.s'::regclass);
ALTER TABLE ONLY public.dflt ADD CONSTRAINT dflt_pkey PRIMARY KEY (id);
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE EXTENSION vector;
CREATE EXTENSION pg_trgm;
CREATE EXTENSION hstore;
CREATE EXTENSION citext;
CREATE EXTENSION "other_ext";`,
    statements: [
      ['schema', 'table public.dflt', "CREATE TABLE public.dflt (\n    id bigint NOT NULL DEFAULT nextval('public.s'::regclass),\n    a text NOT NULL,\n    b text CHECK (b <> ''),\n    c text,\n    d uuid DEFAULT gen_random_uuid(),\n    CONSTRAINT dflt_pkey PRIMARY KEY (id)\n)"],
    ],
    findings: [
      ['error', 'default-function', 'column public.dflt.a', 1, "default expression calls ext.f(), which this dump does not create (an extension's function)", 'Default removed; the application must supply the value (or create an SQL function of that name first and add the default back).'],
      ['error', 'default-function', 'column public.dflt.b', 1, "default expression calls ext.g(), which this dump does not create (an extension's function)", 'Default removed; the application must supply the value (or create an SQL function of that name first and add the default back).'],
      ['warning', 'default-function', 'column public.dflt.d', 1, "default/generated expression calls ext.uuid_generate_v1mc(), which does not exist in Aurora DSQL (an extension's, or PostgreSQL 18's)", 'Replaced by gen_random_uuid().'],
      ['error', 'default-function', 'column public.dflt.c', 8, "default expression calls ext.h(), which this dump does not create (an extension's function)", 'Default removed; the application must supply the value (or create an SQL function of that name first and add the default back).'],
      ['error', 'extension', 'extension pgcrypto', 11, 'extension pgcrypto: Aurora DSQL does not support extensions', 'Dropped. gen_random_uuid() and digest functions such as md5/sha256 are built in; encrypt in the application.'],
      ['error', 'extension', 'extension vector', 12, 'extension vector: Aurora DSQL does not support extensions', 'Dropped. pgvector is not available; keep embeddings in a vector store (e.g. OpenSearch, S3 Vectors).'],
      ['error', 'extension', 'extension pg_trgm', 13, 'extension pg_trgm: Aurora DSQL does not support extensions', 'Dropped. Trigram search is not available; use a search service or prefix (btree) lookups.'],
      ['error', 'extension', 'extension hstore', 14, 'extension hstore: Aurora DSQL does not support extensions', 'Dropped. Columns of type hstore become text; consider json.'],
      ['error', 'extension', 'extension citext', 15, 'extension citext: Aurora DSQL does not support extensions', 'Dropped. Columns of type citext become text; compare with lower() and an expression index.'],
      ['error', 'extension', 'extension other_ext', 16, 'extension other_ext: Aurora DSQL does not support extensions', 'Dropped. Replace what the application uses from it, or move that logic out of the database.'],
    ],
    summary: { statementsIn: 10, statementsOut: 1, errors: 9, warnings: 1, infos: 0 },
  },
];

describe('convertSchema', () => {
  test.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const r = await convertSchema(c.sql);
    expect(r.statements.map((s): Stmt => [s.phase, s.object, s.sql])).toEqual(c.statements);
    expect(r.findings.map((f): Find => [f.severity, f.rule, f.object, f.line, f.message, f.fix])).toEqual(c.findings);
    expect(r.summary).toEqual(c.summary);
  });

  test('a view or function over a mixed-case (quoted) table or function is kept, in dependency order', async () => {
    const r = await convertSchema(`CREATE VIEW "public"."ItemNames" AS SELECT "Name", public."Twice"("id") AS twice FROM "public"."Items";
CREATE FUNCTION public."Twice"(x bigint) RETURNS bigint LANGUAGE sql AS $$ SELECT x * 2 $$;
CREATE TABLE "public"."Items" ("id" bigint NOT NULL, "Name" text);
ALTER TABLE ONLY "public"."Items" ADD CONSTRAINT "Items_pkey" PRIMARY KEY ("id");`);
    expect(r.statements.map((s) => s.object)).toEqual(['table public."Items"', 'function public."Twice"', 'view public."ItemNames"']);
    expect(r.findings.filter((f) => f.rule === 'dependent-object')).toEqual([]);
  });
});

describe('convertedSql and reportMarkdown', () => {
  test('converted.sql: a header, each phase marked once, each statement after its object comment, terminated by ;', async () => {
    const r = await convertSchema('CREATE TABLE public.t (id bigint PRIMARY KEY, a int);\nCREATE INDEX t_a ON public.t (a);\nCREATE TABLE public.u (id bigint PRIMARY KEY);');
    expect(convertedSql(r)).toBe(
      [
        '-- Converted for Aurora DSQL by db-ops-kit (npm run dsql-schema). Apply one statement per transaction.',
        '',
        '-- Phase: schema (before the full load)',
        '',
        '-- table public.t',
        'CREATE TABLE public.t (\n    id bigint PRIMARY KEY,\n    a int\n);',
        '',
        '-- table public.u',
        'CREATE TABLE public.u (\n    id bigint PRIMARY KEY\n);',
        '',
        '-- Phase: post-load (after the full load is verified)',
        '',
        '-- index public.t_a',
        'CREATE INDEX ASYNC t_a ON public.t (a);',
        '',
      ].join('\n'),
    );
    expect(convertedSql({ findings: [], statements: [], summary: r.summary })).toBe('-- Converted for Aurora DSQL by db-ops-kit (npm run dsql-schema). Apply one statement per transaction.\n');
  });

  test('report.md: summary counts, findings sorted by severity then line, | and line breaks escaped, no line number for line 0', async () => {
    const r = await convertSchema('CREATE TABLE public.t (id bigint PRIMARY KEY, a int);\nCREATE INDEX t_a ON public.t (a);\nCREATE TRIGGER tr BEFORE INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION f();\nCREATE SEQUENCE public.s;\nGRANT ALL ON public.t TO x;');
    r.findings.push({ object: 'a|b', rule: 'x', severity: 'warning', message: 'one\ntwo', fix: 'p|q', line: 1 });
    expect(reportMarkdown(r, 'in.sql').split('\n')).toEqual([
      '# Aurora DSQL compatibility report: in.sql',
      '',
      '5 statements read, 3 converted statements (apply one per transaction). Findings: 1 error(s), 1 warning(s), 2 info.',
      '',
      '| severity | object | rule | finding | fix | line |',
      '|---|---|---|---|---|---|',
      '| error | trigger tr on public.t | trigger | triggers are not supported | Dropped; move the logic into the application (or a scheduled job for derived data). | 3 |',
      '| warning | a\\|b | x | one two | p\\|q | 1 |',
      '| warning | sequence public.s | sequence-cache | sequence without explicit CACHE: Aurora DSQL requires CACHE 1 or >= 65536 | Added CACHE 65536 (fast under concurrency; values have gaps). Use CACHE 1 for dense values. | 4 |',
      '| info | (dump) | dump-noise | 1 statement(s) without meaning in DSQL were dropped: SET, OWNER TO, GRANT/REVOKE, COMMENT, OWNED BY, REPLICA IDENTITY | Re-create grants for DSQL roles (mapped with AWS IAM GRANT) after the migration. |  |',
      '| info | index public.t_a | index-async | secondary indexes are built asynchronously in Aurora DSQL | Converted to CREATE INDEX ASYNC and moved after the full load (loads write less; --apply waits for the index job). | 2 |',
      '',
    ]);
  });
});
