/**
 * More small dumps for the schema converter (lambda/dsql-loader/schema-convert.ts), without PostgreSQL, with their
 * exact converted statements and findings (reviewed): CHECKs and defaults that call a function the conversion
 * drops, statements the converter does not know, data statements without rows, a long SET search_path list,
 * index tails (INCLUDE, NULLS NOT DISTINCT, WHERE), and pg_dumpall sections without objects.
 */
import { convertSchema } from '../../lambda/dsql-loader/schema-convert';

type Stmt = [phase: string, object: string, sql: string];
type Find = [severity: string, rule: string, object: string, line: number, message: string, fix: string];

const CASES: Array<{ name: string; sql: string; statements: Stmt[]; findings: Find[]; summary: Record<string, number> }> = [
  {
    name: 'a CHECK or default calling a function the conversion drops is removed and named; the table is kept',
    sql: `CREATE FUNCTION public.trunc$it(x integer) RETURNS integer LANGUAGE plpgsql AS $$ BEGIN TRUNCATE public.audit; RETURN x; END $$;
CREATE FUNCTION public.ok$(x integer) RETURNS integer LANGUAGE sql AS $$ SELECT x $$;
CREATE TABLE public.k (
  id bigint NOT NULL,
  v integer DEFAULT public.trunc$it(1),
  w integer DEFAULT public.ok$(2),
  CONSTRAINT k_v_check CHECK (public.trunc$it(v) > 0),
  CHECK (mytrunc$it(v) > 0),
  CONSTRAINT k_w_check CHECK (w > 0)
);
ALTER TABLE ONLY public.k ADD CONSTRAINT k_pkey PRIMARY KEY (id);`,
    statements: [
      ['schema', 'function public.ok$', 'CREATE FUNCTION public.ok$(x integer) RETURNS integer LANGUAGE sql AS $$ SELECT x $$'],
      ['schema', 'table public.k', "CREATE TABLE public.k (\n    id bigint NOT NULL,\n    v integer,\n    w integer DEFAULT public.ok$(2),\n    CHECK (mytrunc$it(v) > 0),\n    CONSTRAINT k_w_check CHECK (w > 0),\n    CONSTRAINT k_pkey PRIMARY KEY (id)\n)"],
    ],
    findings: [
      ['error', 'function-body', 'function public.trunc$it', 1, 'the body runs TRUNCATE (TRUNCATE public.audit), which Aurora DSQL does not allow in a function', 'Function dropped; rewrite it without these statements (e.g. DELETE in batches instead of TRUNCATE) or move it to the application.'],
      ['error', 'dependent-object', 'constraint k_v_check on public.k', 3, 'calls trunc$it(), which the conversion dropped', 'Constraint removed (the table is kept); enforce the rule in the application or rewrite it without that function.'],
      ['error', 'dependent-object', 'column public.k.v', 3, 'default calls trunc$it(), which the conversion dropped', 'Default removed (the column is kept); the application must supply the value.'],
    ],
    summary: { statementsIn: 4, statementsOut: 2, errors: 3, warnings: 0, infos: 0 },
  },
  {
    name: 'statements the converter does not know, data without rows, SELECT statements, many unqualified objects after SET search_path',
    sql: `SET search_path = app;
CREATE TABLE t1 (id bigint PRIMARY KEY);
CREATE TABLE t2 (id bigint PRIMARY KEY);
CREATE TABLE t3 (id bigint PRIMARY KEY);
CREATE TABLE t4 (id bigint PRIMARY KEY);
CREATE TABLE t5 (id bigint PRIMARY KEY);
CREATE TABLE t6 (id bigint PRIMARY KEY);
CREATE TABLE t7 (id bigint PRIMARY KEY);
CREATE TABLE t8 (id bigint PRIMARY KEY);
CREATE TABLE t9 (id bigint PRIMARY KEY);
CREATE TABLE t10 (id bigint PRIMARY KEY);
CREATE TABLE t11 (id bigint PRIMARY KEY);
SET search_path = '';
INSERT INTO public.q SELECT * FROM public.other;
UPDATE public.q SET a = 1;
SELECT pg_catalog.setval('public.s', 1);
SELECT 1;
FROBNICATE the database;
VACUUM public.q;
ALTER INDEX public.q_idx ATTACH PARTITION public.q_1_idx;
CREATE INDEX q_inc ON public.t1 USING btree (id) INCLUDE (id) WHERE (id > 0);
CREATE UNIQUE INDEX q_nd ON public.t1 (id) NULLS NOT DISTINCT;`,
    statements: [
      ['schema', 'table t1', "CREATE TABLE t1 (\n    id bigint PRIMARY KEY\n)"],
      ['schema', 'table t2', "CREATE TABLE t2 (\n    id bigint PRIMARY KEY\n)"],
      ['schema', 'table t3', "CREATE TABLE t3 (\n    id bigint PRIMARY KEY\n)"],
      ['schema', 'table t4', "CREATE TABLE t4 (\n    id bigint PRIMARY KEY\n)"],
      ['schema', 'table t5', "CREATE TABLE t5 (\n    id bigint PRIMARY KEY\n)"],
      ['schema', 'table t6', "CREATE TABLE t6 (\n    id bigint PRIMARY KEY\n)"],
      ['schema', 'table t7', "CREATE TABLE t7 (\n    id bigint PRIMARY KEY\n)"],
      ['schema', 'table t8', "CREATE TABLE t8 (\n    id bigint PRIMARY KEY\n)"],
      ['schema', 'table t9', "CREATE TABLE t9 (\n    id bigint PRIMARY KEY\n)"],
      ['schema', 'table t10', "CREATE TABLE t10 (\n    id bigint PRIMARY KEY\n)"],
      ['schema', 'table t11', "CREATE TABLE t11 (\n    id bigint PRIMARY KEY\n)"],
      ['post-load', 'index public.q_inc', 'CREATE INDEX ASYNC q_inc ON public.t1 (id) INCLUDE (id)'],
      ['post-load', 'index public.q_nd', 'CREATE UNIQUE INDEX ASYNC q_nd ON public.t1 (id) NULLS NOT DISTINCT'],
    ],
    findings: [
      ['error', 'unsupported-statement', 'SELECT 1', 17, 'statement SELECT 1 (SelectStmt) is not a schema object the converter knows', 'Removed from the converted DDL. If it is needed, review it and run it by hand after --apply (Aurora DSQL roles: CREATE ROLE plus AWS IAM GRANT).'],
      ['error', 'unsupported-statement', 'FROBNICATE the database', 18, 'statement FROBNICATE the database (unparsable: syntax error at or near "FROBNICATE") is not a schema object the converter knows', 'Removed from the converted DDL. If it is needed, review it and run it by hand after --apply (Aurora DSQL roles: CREATE ROLE plus AWS IAM GRANT).'],
      ['error', 'unsupported-statement', 'VACUUM public.q', 19, 'statement VACUUM public.q (VacuumStmt) is not a schema object the converter knows', 'Removed from the converted DDL. If it is needed, review it and run it by hand after --apply (Aurora DSQL roles: CREATE ROLE plus AWS IAM GRANT).'],
      ['warning', 'partial-index', 'index public.q_inc', 21, 'partial index (WHERE (id > 0)): CREATE INDEX ASYNC has no WHERE clause', 'Created as a full index on the same keys (it serves the same queries; it is larger).'],
      ['info', 'index-async', 'index public.q_inc', 21, 'secondary indexes are built asynchronously in Aurora DSQL', 'Converted to CREATE INDEX ASYNC and moved after the full load (loads write less; --apply waits for the index job).'],
      ['info', 'index-async', 'index public.q_nd', 22, 'secondary indexes are built asynchronously in Aurora DSQL', 'Converted to CREATE INDEX ASYNC and moved after the full load (loads write less; --apply waits for the index job).'],
      ['warning', 'search-path', '(dump)', 1, 'SET search_path = app: 11 object(s) after it are not schema-qualified (table t1, table t2, table t3, table t4, table t5, table t6, table t7, table t8, table t9, table t10, …) and are created in public by the converted DDL', 'Qualify them in the dump (pg_dump does), or edit converted.sql to put them in app.'],
      ['info', 'data-statement', 'data for public.q', 14, '2 data statement(s) (INSERT/UPDATE/COPY) with 0 row(s) in a schema dump (e.g. Rails structure.sql schema_migrations rows)', 'Removed from the DDL; the rows arrive with the full load like every other table.'],
      ['info', 'dump-noise', '(dump)', 0, '4 statement(s) without meaning in DSQL were dropped: SET, OWNER TO, GRANT/REVOKE, COMMENT, OWNED BY, REPLICA IDENTITY', 'Re-create grants for DSQL roles (mapped with AWS IAM GRANT) after the migration.'],
    ],
    summary: { statementsIn: 22, statementsOut: 13, errors: 3, warnings: 2, infos: 4 },
  },
  {
    name: 'pg_dumpall: a database whose section creates nothing is not counted; objects before the first connect line belong to no database',
    sql: `CREATE TABLE public.before (id bigint PRIMARY KEY);
\\connect template1
CREATE ROLE x;
\\connect "app db"
CREATE TABLE public.only_here (id bigint PRIMARY KEY);`,
    statements: [
      ['schema', 'table public.before', "CREATE TABLE public.before (\n    id bigint PRIMARY KEY\n)"],
      ['schema', 'table public.only_here', "CREATE TABLE public.only_here (\n    id bigint PRIMARY KEY\n)"],
    ],
    findings: [
      ['error', 'unsupported-statement', 'CREATE ROLE x', 3, 'statement CREATE ROLE x (CreateRoleStmt) is not a schema object the converter knows', 'Removed from the converted DDL. If it is needed, review it and run it by hand after --apply (Aurora DSQL roles: CREATE ROLE plus AWS IAM GRANT).'],
    ],
    summary: { statementsIn: 3, statementsOut: 2, errors: 1, warnings: 0, infos: 0 },
  },
];

test.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
  const r = await convertSchema(c.sql);
  expect(r.statements.map((s): Stmt => [s.phase, s.object, s.sql])).toEqual(c.statements);
  expect(r.findings.map((f): Find => [f.severity, f.rule, f.object, f.line, f.message, f.fix])).toEqual(c.findings);
  expect(r.summary).toEqual(c.summary);
});
