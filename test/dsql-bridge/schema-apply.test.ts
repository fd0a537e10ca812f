/**
 * applyStatements (lambda/dsql-loader/schema-apply.ts) against a real PostgreSQL (embedded, one server for this
 * file): one statement per transaction in the chosen phases, CREATE INDEX ASYNC rewritten for PostgreSQL, an
 * existing object stops the apply naming it (nothing is dropped) or is skipped and listed with resume, and a
 * conflict (40001) is retried. DSQL's index jobs are emulated in PostgreSQL: a statement returning a `job_id`
 * row and a `sys.wait_for_job` procedure that records the call (the DSQL API this waits on; no local DSQL exists).
 */
import { Client } from 'pg';
import { applyStatements } from '../../lambda/dsql-loader/schema-apply';
import { ConvertedStatement } from '../../lambda/dsql-loader/schema-convert';
import { startPostgres, TestPostgres } from '../helpers/postgres';

let pg: TestPostgres;
let dbs = 0;

beforeAll(async () => {
  pg = await startPostgres();
}, 120_000);

afterAll(async () => {
  await pg?.stop();
});

async function freshDb(): Promise<Client> {
  const name = `apply_${(dbs += 1)}`;
  await pg.query(`CREATE DATABASE ${name}`);
  return pg.client(name);
}

const STATEMENTS: ConvertedStatement[] = [
  { phase: 'schema', object: 'schema app', sql: 'CREATE SCHEMA IF NOT EXISTS app' },
  { phase: 'schema', object: 'table app.t', sql: 'CREATE TABLE app.t (id bigint PRIMARY KEY, a int, b int)' },
  { phase: 'post-load', object: 'index app.t_a', sql: 'CREATE INDEX ASYNC t_a ON app.t (a)' },
  { phase: 'post-load', object: 'index app.t_b', sql: 'create unique index async t_b ON app.t (b)' },
];

const indexes = async (c: Client) =>
  (await c.query(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'app' ORDER BY 1`)).rows.map((r) => `${r.indexname}: ${r.indexdef}`);

test('phases: schema by default, then post-load with CREATE INDEX ASYNC built as a plain (unique) index on PostgreSQL; every statement logged', async () => {
  const c = await freshDb();
  try {
    const log: string[] = [];
    expect(await applyStatements(c, STATEMENTS, { target: 'postgres', log: (m) => log.push(m) })).toEqual({ applied: 2, indexJobs: [], skipped: [] });
    expect(await indexes(c)).toEqual(['t_pkey: CREATE UNIQUE INDEX t_pkey ON app.t USING btree (id)']);
    expect(await applyStatements(c, STATEMENTS, { target: 'postgres', phases: ['post-load'], log: (m) => log.push(m) })).toEqual({ applied: 2, indexJobs: [], skipped: [] });
    expect(await indexes(c)).toEqual([
      't_a: CREATE INDEX t_a ON app.t USING btree (a)',
      't_b: CREATE UNIQUE INDEX t_b ON app.t USING btree (b)',
      't_pkey: CREATE UNIQUE INDEX t_pkey ON app.t USING btree (id)',
    ]);
    expect(log).toEqual(['applied schema app', 'applied table app.t', 'applied index app.t_a', 'applied index app.t_b']);
    // Nothing to apply in a phase without statements.
    expect(await applyStatements(c, STATEMENTS.slice(0, 2), { target: 'postgres', phases: ['post-load'] })).toEqual({ applied: 0, indexJobs: [], skipped: [] });
  } finally {
    await c.end();
  }
});

test('an object that exists stops the apply naming it and what was applied before; with skipExisting it is listed and the rest applied', async () => {
  const c = await freshDb();
  try {
    await c.query('CREATE SCHEMA app; CREATE TABLE app.t (id bigint PRIMARY KEY, a int, b int); INSERT INTO app.t VALUES (1, 2, 3)');
    const stmts: ConvertedStatement[] = [
      { phase: 'schema', object: 'table app.u', sql: 'CREATE TABLE app.u (id bigint PRIMARY KEY)' },
      STATEMENTS[1],
      { phase: 'schema', object: 'view app.v', sql: 'CREATE VIEW app.v AS SELECT id FROM app.t' },
    ];
    await expect(applyStatements(c, stmts, { target: 'postgres' })).rejects.toThrow(
      'table app.t already exists on the target (relation "t" already exists); 1 statement(s) applied before it. Nothing was dropped. To finish a partial apply, re-run with --resume (skips objects that exist, without comparing them).\nstatement: CREATE TABLE app.t (id bigint PRIMARY KEY, a int, b int)',
    );
    expect((await c.query('SELECT count(*)::int AS n FROM app.t')).rows[0].n).toBe(1);
    const log: string[] = [];
    expect(await applyStatements(c, stmts, { target: 'postgres', skipExisting: true, log: (m) => log.push(m) })).toEqual({ applied: 1, indexJobs: [], skipped: ['table app.u', 'table app.t'] });
    expect(log).toEqual([
      'table app.u: already exists on the target, skipped (not compared with the dump)',
      'table app.t: already exists on the target, skipped (not compared with the dump)',
      'applied view app.v',
    ]);
    // The other "exists" codes: schema (42P06), constraint (42710), function (42723).
    const more: ConvertedStatement[] = [
      { phase: 'schema', object: 'schema app', sql: 'CREATE SCHEMA app' },
      { phase: 'schema', object: 'foreign key on app.t', sql: 'ALTER TABLE app.t ADD CONSTRAINT t_self FOREIGN KEY (a) REFERENCES app.t (id) NOT VALID' },
      { phase: 'schema', object: 'foreign key on app.t (again)', sql: 'ALTER TABLE app.t ADD CONSTRAINT t_self FOREIGN KEY (a) REFERENCES app.t (id) NOT VALID' },
      { phase: 'schema', object: 'function app.f', sql: 'CREATE FUNCTION app.f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$' },
      { phase: 'schema', object: 'function app.f (again)', sql: 'CREATE FUNCTION app.f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$' },
    ];
    expect(await applyStatements(c, more, { target: 'postgres', skipExisting: true })).toEqual({ applied: 2, indexJobs: [], skipped: ['schema app', 'foreign key on app.t (again)', 'function app.f (again)'] });
  } finally {
    await c.end();
  }
});

test('any other failure stops the apply naming the object, the error and the statement; nothing after it runs', async () => {
  const c = await freshDb();
  try {
    const stmts: ConvertedStatement[] = [
      { phase: 'schema', object: 'table public.ok', sql: 'CREATE TABLE public.ok (id bigint PRIMARY KEY)' },
      { phase: 'schema', object: 'table public.bad', sql: 'CREATE TABLE public.bad (id nosuchtype)' },
      { phase: 'schema', object: 'table public.after', sql: 'CREATE TABLE public.after (id bigint PRIMARY KEY)' },
    ];
    await expect(applyStatements(c, stmts, { target: 'postgres', skipExisting: true })).rejects.toThrow(
      'applying table public.bad failed: type "nosuchtype" does not exist; 1 statement(s) applied before it. Fix it in converted.sql or the dump, then re-run with --resume.\nstatement: CREATE TABLE public.bad (id nosuchtype)',
    );
    expect((await c.query(`SELECT relname FROM pg_class WHERE relname IN ('ok', 'bad', 'after') ORDER BY 1`)).rows).toEqual([{ relname: 'ok' }]);
    // target dsql keeps CREATE INDEX ASYNC (PostgreSQL does not know it: the error names the statement as sent).
    await expect(applyStatements(c, [{ phase: 'post-load', object: 'index public.i', sql: 'CREATE INDEX ASYNC i ON public.ok (id)' }], { target: 'dsql', phases: ['post-load'] })).rejects.toThrow(
      /^applying index public\.i failed: syntax error at or near "i"; 0 statement\(s\) applied before it\..*\nstatement: CREATE INDEX ASYNC i ON public\.ok \(id\)$/s,
    );
  } finally {
    await c.end();
  }
});

test('a serialization conflict (40001) is retried; an index job id returned by the statement is waited for with sys.wait_for_job', async () => {
  const c = await freshDb();
  try {
    await c.query(`CREATE SEQUENCE tries;
      CREATE FUNCTION public.flaky() RETURNS TABLE (job_id text) LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('tries') = 1 THEN RAISE EXCEPTION 'schema changed concurrently' USING ERRCODE = '40001'; END IF;
        RETURN QUERY SELECT 'job-42'::text;
      END $$;
      CREATE SCHEMA sys;
      CREATE TABLE sys.waited (job text);
      CREATE PROCEDURE sys.wait_for_job(j text) LANGUAGE sql AS $$ INSERT INTO sys.waited VALUES (j) $$;`);
    const log: string[] = [];
    const r = await applyStatements(c, [{ phase: 'post-load', object: 'index public.i', sql: 'SELECT * FROM public.flaky()' }], { target: 'dsql', phases: ['post-load'], log: (m) => log.push(m) });
    expect(r).toEqual({ applied: 1, indexJobs: ['job-42'], skipped: [] });
    expect((await c.query('SELECT job FROM sys.waited')).rows).toEqual([{ job: 'job-42' }]);
    expect(log).toEqual(['index public.i: waiting for index job job-42', 'applied index public.i']);
    expect((await c.query(`SELECT last_value::int AS n FROM tries`)).rows[0].n).toBe(2);
  } finally {
    await c.end();
  }
}, 30_000);
