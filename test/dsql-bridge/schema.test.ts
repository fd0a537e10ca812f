/**
 * Schema converter on a real `pg_dump --schema-only` (fixtures/shop-schema.sql: serial, identity,
 * foreign keys, triggers, PL/pgSQL and SQL functions, extensions, enum/domain types, partitions,
 * indexes incl. GIN and DESC, views, a materialized view, json/jsonb, arrays), the converted DDL
 * applied to PostgreSQL one statement per transaction, and the two CLIs end to end.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { applyStatements } from '../../lambda/dsql-loader/schema-apply';
import { convertedSql, convertSchema, reportMarkdown } from '../../lambda/dsql-loader/schema-convert';
import { splitSql } from '../../lambda/dsql-loader/sql-split';
import { REPO_ROOT } from '../helpers/copy-app';
import { startPostgres, TestPostgres } from '../helpers/postgres';

const run = promisify(execFile);
const DUMP = path.join(__dirname, 'fixtures', 'shop-schema.sql');
const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');

async function cli(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(TSX, [path.join(REPO_ROOT, 'lambda', 'dsql-loader', script), ...args], { cwd: REPO_ROOT, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e: any) {
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

let pg: TestPostgres;
beforeAll(async () => {
  pg = await startPostgres();
}, 120_000);
afterAll(async () => {
  await pg?.stop();
});

describe('splitSql', () => {
  test('keeps semicolons inside strings, dollar quotes, identifiers and comments; skips psql meta-commands and COPY data', () => {
    const sql = [
      '\\restrict abc',
      "-- comment; with semicolon",
      "SELECT 'a;b', E'it\\'s;', \"weird;name\" FROM t; /* block; /* nested; */ */",
      'CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END; $body$;',
      'COPY t (a) FROM stdin;',
      '1;2',
      '\\.',
      'CREATE TABLE x (a int);',
      '\\unrestrict abc',
    ].join('\n');
    const out = splitSql(sql);
    expect(out.map((s) => s.sql)).toEqual([
      "SELECT 'a;b', E'it\\'s;', \"weird;name\" FROM t",
      'CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END; $body$',
      'CREATE TABLE x (a int)',
    ]);
    expect(out.map((s) => s.line)).toEqual([3, 4, 8]);
  });
});

describe('convertSchema on a realistic pg_dump', () => {
  const result = convertSchema(fs.readFileSync(DUMP, 'utf8'));
  const has = (rule: string, object: string | RegExp, severity?: string) =>
    result.findings.some((f) => f.rule === rule && (typeof object === 'string' ? f.object === object : object.test(f.object)) && (!severity || f.severity === severity));

  test('names each incompatibility with object, rule, severity and fix', () => {
    const expected: Array<[string, string | RegExp, string]> = [
      ['extension', 'extension pgcrypto', 'error'],
      ['extension', 'extension citext', 'error'],
      ['trigger', 'trigger orders_audit on sales.orders', 'error'],
      ['trigger-function', 'function public.touch_audit', 'error'],
      ['partitioned-table', 'table sales.events', 'error'],
      ['partition', 'table sales.events_2026', 'error'],
      ['partition', 'table sales.events_2027', 'error'],
      ['materialized-view', 'view sales.daily_totals', 'error'],
      ['index-method', 'index public.products_search_idx', 'error'],
      ['no-primary-key', 'table public.audit_log', 'error'],
      ['enum-type', 'column sales.orders.status', 'warning'],
      ['domain-type', 'column public.products.price', 'warning'],
      ['jsonb-column', 'column public.customers.profile', 'warning'],
      ['array-column', 'column public.customers.tags', 'warning'],
      ['collation', 'column public.customers.name', 'warning'],
      ['unsupported-type', 'column public.customers.email', 'warning'],
      ['unsupported-type', 'column sales.orders.total', 'warning'],
      ['unsupported-type', 'column sales.orders.client_ip', 'warning'],
      ['sequence-cache', 'sequence public.invoice_no_seq', 'warning'],
      ['identity-always', 'column public.products.id', 'warning'],
      ['foreign-key', /^constraint orders_customer_id_fkey on sales.orders$/, 'warning'],
      ['foreign-key', /^constraint order_lines_order_id_fkey/, 'warning'],
      ['index-order', 'index sales.orders_customer_idx', 'warning'],
      ['index-async', 'index public.products_sku_key', 'info'],
      ['plpgsql', 'function public.next_invoice', 'info'],
    ];
    const missing = expected.filter(([rule, object, sev]) => !has(rule, object, sev));
    expect(missing).toEqual([]);
    for (const f of result.findings) {
      expect(f.fix.length).toBeGreaterThan(5);
      expect(f.message.length).toBeGreaterThan(5);
    }
    expect(result.summary.errors).toBe(result.findings.filter((f) => f.severity === 'error').length);
    const md = reportMarkdown(result, 'shop-schema.sql');
    expect(md).toContain('| error | trigger orders_audit on sales.orders | trigger |');
  });

  test('converted DDL: constraints folded into CREATE TABLE, CREATE INDEX ASYNC after the load, nothing unsupported left', () => {
    const sql = convertedSql(result);
    expect(sql).not.toMatch(/CREATE (EXTENSION|TRIGGER|TYPE|DOMAIN|MATERIALIZED)|PARTITION|USING gin|jsonb|::public\.order_status|\\restrict|OWNER TO|GRANT /i);
    const customers = result.statements.find((s) => s.object === 'table public.customers')!.sql;
    expect(customers).toContain('CONSTRAINT customers_pkey PRIMARY KEY (id)');
    expect(customers).toContain("DEFAULT nextval('public.customers_id_seq'::regclass)");
    expect(customers).toMatch(/profile json,/);
    const products = result.statements.find((s) => s.object === 'table public.products')!.sql;
    expect(products).toMatch(/GENERATED BY DEFAULT AS IDENTITY \([\s\S]*CACHE 1\)/);
    expect(result.statements.filter((s) => s.phase === 'post-load').map((s) => s.sql.split(' ').slice(0, 4).join(' '))).toEqual([
      'CREATE UNIQUE INDEX ASYNC',
      'CREATE INDEX ASYNC products_title_idx',
      'CREATE INDEX ASYNC orders_customer_idx',
      'ALTER TABLE sales.order_lines ADD',
      'ALTER TABLE sales.order_lines ADD',
      'ALTER TABLE sales.orders ADD',
    ]);
    expect(result.statements.every((s) => !/;\s*\S/.test(s.sql.replace(/\$\$[\s\S]*?\$\$/g, '')))).toBe(true); // one statement each
  });

  test('the converted DDL applies to PostgreSQL one statement per transaction (schema, then post-load)', async () => {
    await pg.query('CREATE DATABASE conv');
    const c = await pg.client('conv');
    try {
      const r1 = await applyStatements(c, result.statements, { target: 'postgres', phases: ['schema'] });
      const r2 = await applyStatements(c, result.statements, { target: 'postgres', phases: ['post-load'] });
      expect(r1.applied + r2.applied).toBe(result.statements.length);
      const tables = await c.query(`SELECT table_schema || '.' || table_name AS t FROM information_schema.tables WHERE table_schema IN ('public','sales') AND table_type = 'BASE TABLE' ORDER BY 1`);
      expect(tables.rows.map((x) => x.t)).toEqual(['public.audit_log', 'public.customers', 'public.products', 'sales.events', 'sales.order_lines', 'sales.orders']);
      const fks = await c.query(`SELECT conname, convalidated FROM pg_constraint WHERE contype = 'f' ORDER BY 1`);
      expect(fks.rows).toEqual([
        { conname: 'order_lines_order_id_fkey', convalidated: false },
        { conname: 'order_lines_product_id_fkey', convalidated: false },
        { conname: 'orders_customer_id_fkey', convalidated: false },
      ]);
      const idx = await c.query(`SELECT indexname FROM pg_indexes WHERE indexname IN ('products_sku_key','products_title_idx','orders_customer_idx') ORDER BY 1`);
      expect(idx.rows).toHaveLength(3);
      // The converted objects work: enum-as-text check, identity by default, the SQL function and the views.
      await c.query(`INSERT INTO public.customers (email, name) VALUES ('a@example.com', 'A')`);
      await c.query(`INSERT INTO public.products (id, sku, title, price) VALUES (10, 'S1', 'Thing', 9.5)`);
      await c.query(`INSERT INTO sales.orders (customer_id, status) VALUES (1, 'paid')`);
      await expect(c.query(`INSERT INTO sales.orders (customer_id, status) VALUES (1, 'lost')`)).rejects.toMatchObject({ code: '23514' });
      expect((await c.query(`SELECT count(*)::int AS n FROM sales.open_orders`)).rows[0].n).toBe(1);
      expect((await c.query(`SELECT public.order_total(1) AS n`)).rows[0].n).toBe('0');
    } finally {
      await c.end();
    }
  });
});

describe('CLIs', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dsql-schema-'));
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  test('dsql-schema: bad arguments exit 2 with usage', async () => {
    const r = await cli('schema-cli.ts', ['--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('usage: npm run dsql-schema');
    const r2 = await cli('schema-cli.ts', ['--input', DUMP, '--apply']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('--apply needs exactly one of --target-url or --dsql-endpoint');
  });

  test('dsql-schema --input … --apply --phase all: writes the report and applies', async () => {
    await pg.query('CREATE DATABASE cliconv');
    const url = `postgres://${pg.user}:${pg.password}@${pg.host}:${pg.port}/cliconv`;
    const r = await cli('schema-cli.ts', ['--input', DUMP, '--out-dir', out, '--apply', '--target-url', url, '--phase', 'all', '--fail-on-error']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(3); // applied, but the report has errors (--fail-on-error)
    expect(r.stdout).toContain('Applied ');
    const json = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
    expect(json.findings.length).toBeGreaterThan(20);
    expect(fs.readFileSync(path.join(out, 'converted.sql'), 'utf8')).toContain('CREATE INDEX ASYNC');
  });

  test('dsql-verify: exit 0 when equal, 1 with a diff when not, 2 on bad arguments', async () => {
    await pg.query('CREATE DATABASE vsrc');
    await pg.query('CREATE DATABASE vdst');
    for (const db of ['vsrc', 'vdst']) {
      await pg.query(`CREATE TABLE t (id int PRIMARY KEY, v text)`, [], db);
      await pg.query(`INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g`, [], db);
    }
    const url = (db: string) => `postgres://${pg.user}:${pg.password}@${pg.host}:${pg.port}/${db}`;
    const same = await cli('verify-cli.ts', ['--source-url', url('vsrc'), '--target-url', url('vdst'), '--schema', 'public', '--page-size', '300']);
    expect(same.code).toBe(0);
    expect(same.stdout).toMatch(/\| public\.t \| 1000 \| 1000 \| (\w+) \| \1 \| OK \|/);
    await pg.query(`UPDATE t SET v = NULL WHERE id = 500`, [], 'vdst');
    const diff = await cli('verify-cli.ts', ['--source-url', url('vsrc'), '--target-url', url('vdst'), '--tables', 'public.t']);
    expect(diff.code).toBe(1);
    expect(diff.stdout).toContain('1 row(s) with different content, e.g. keys ["500"]');
    const bad = await cli('verify-cli.ts', ['--source-url', url('vsrc'), '--tables', 'public.t']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('usage: npm run dsql-verify');
    // NULL-token pre-flight (source only): clean, then a source string equal to the token is named.
    const clean = await cli('verify-cli.ts', ['--null-token-only', '--source-url', url('vsrc'), '--schema', 'public']);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toContain('NULL token: no source string value in 1 table(s) equals @@DMS_NULL@@');
    await pg.query(`UPDATE t SET v = '@@DMS_NULL@@' WHERE id IN (7, 8)`, [], 'vsrc');
    const hit = await cli('verify-cli.ts', ['--null-token-only', '--source-url', url('vsrc'), '--tables', 'public.t']);
    expect(hit.code).toBe(1);
    expect(hit.stdout).toContain('| public.t | v | 2 |');
  });
});
