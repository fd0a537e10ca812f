import { Readable } from 'stream';
import { Client } from 'pg';
import { ConnectionManager } from '../../lambda/dsql-loader/connection';
import { DMS_CSV } from '../../lambda/dsql-loader/dms-format';
import { QuarantineSink } from '../../lambda/dsql-loader/loader';
import { TestPostgres } from '../helpers/postgres';

/**
 * The DSQL transaction limits, enforced by real PostgreSQL: statement-level triggers with
 * transition tables add the rows (and `pg_column_size` bytes) each statement modified to a
 * per-transaction counter (a transaction-local setting) and raise SQLSTATE 54000 above 3,000 rows
 * or 10 MiB — so a loader that exceeds a limit fails its test. The largest count per transaction
 * is kept in `dsql_limits.txn` for assertions.
 */
export async function installDsqlLimits(c: Client, tables: string[], limits = { rows: 3000, bytes: 10 * 1024 * 1024 }): Promise<void> {
  await c.query('CREATE SCHEMA IF NOT EXISTS dsql_limits');
  await c.query('CREATE TABLE IF NOT EXISTS dsql_limits.txn (xid bigint PRIMARY KEY, rows bigint NOT NULL, bytes bigint NOT NULL)');
  await c.query(`
    CREATE OR REPLACE FUNCTION dsql_limits.count_rows() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE n bigint; b bigint; total bigint; bytes bigint;
    BEGIN
      IF TG_OP = 'DELETE' THEN
        SELECT count(*), coalesce(sum(pg_column_size(o.*)), 0) INTO n, b FROM old_rows o;
      ELSE
        SELECT count(*), coalesce(sum(pg_column_size(x.*)), 0) INTO n, b FROM new_rows x;
      END IF;
      IF n = 0 THEN RETURN NULL; END IF;
      total := coalesce(nullif(current_setting('dsql_limits.rows', true), ''), '0')::bigint + n;
      bytes := coalesce(nullif(current_setting('dsql_limits.bytes', true), ''), '0')::bigint + b;
      PERFORM set_config('dsql_limits.rows', total::text, true);
      PERFORM set_config('dsql_limits.bytes', bytes::text, true);
      IF total > ${limits.rows} THEN
        RAISE EXCEPTION 'DSQL limit exceeded: % rows modified in one transaction (max ${limits.rows})', total USING ERRCODE = '54000';
      END IF;
      IF bytes > ${limits.bytes} THEN
        RAISE EXCEPTION 'DSQL limit exceeded: % bytes modified in one transaction (max ${limits.bytes})', bytes USING ERRCODE = '54000';
      END IF;
      INSERT INTO dsql_limits.txn VALUES (txid_current(), total, bytes)
        ON CONFLICT (xid) DO UPDATE SET rows = EXCLUDED.rows, bytes = EXCLUDED.bytes;
      RETURN NULL;
    END $fn$`);
  for (const t of tables) {
    const name = t.replace(/\W/g, '_');
    await c.query(`CREATE TRIGGER dsql_limit_ins_${name} AFTER INSERT ON ${t} REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION dsql_limits.count_rows()`);
    await c.query(`CREATE TRIGGER dsql_limit_upd_${name} AFTER UPDATE ON ${t} REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION dsql_limits.count_rows()`);
    await c.query(`CREATE TRIGGER dsql_limit_del_${name} AFTER DELETE ON ${t} REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION dsql_limits.count_rows()`);
  }
}

export async function largestTransaction(c: Client): Promise<{ rows: number; bytes: number; count: number }> {
  const r = await c.query<{ rows: string; bytes: string; n: string }>('SELECT coalesce(max(rows),0) AS rows, coalesce(max(bytes),0) AS bytes, count(*) AS n FROM dsql_limits.txn');
  return { rows: Number(r.rows[0].rows), bytes: Number(r.rows[0].bytes), count: Number(r.rows[0].n) };
}

/** RFC 4180 CSV as DMS writes it: SQL NULL is the unquoted CsvNullValue token; '' is an empty field. */
export function dmsCsv(header: string[], rows: (string | null)[][], nullValue: string = DMS_CSV.nullValue): string {
  const field = (v: string | null) => {
    if (v === null) return nullValue;
    return /[",\r\n]/.test(v) || v === nullValue ? `"${v.replace(/"/g, '""')}"` : v;
  };
  return [header, ...rows].map((r) => r.map(field).join(',')).join('\n') + '\n';
}

/** A body stream delivered in small chunks, like an S3 GetObject body. */
export function bodyOf(text: string, chunk = 777): Readable {
  const buf = Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) parts.push(buf.subarray(i, i + chunk));
  return Readable.from(parts);
}

export function memoryQuarantine(): QuarantineSink & { objects: Map<string, string>; lines(): Array<Record<string, unknown>> } {
  const objects = new Map<string, string>();
  return {
    objects,
    async put(key, body) {
      objects.set(key, body);
    },
    lines() {
      return [...objects.keys()]
        .sort()
        .flatMap((k) => objects.get(k)!.trim().split('\n'))
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    },
  };
}

/** A connection manager for a test database (password auth stands in for the IAM token). */
export function testConnections(pg: TestPostgres, database: string): ConnectionManager {
  return new ConnectionManager({
    token: async () => pg.password,
    connect: async (password) => {
      const c = new Client({ ...pg.config(database), password });
      await c.connect();
      return c;
    },
  });
}

export async function createDatabase(pg: TestPostgres, name: string): Promise<Client> {
  await pg.query(`CREATE DATABASE ${name}`);
  return pg.client(name);
}

/**
 * SQL select list that renders a row (composite `r`) the way DMS writes PostgreSQL values to CSV:
 * bytea as hexadecimal, timestamps in UTC without offset, booleans as true/false, the rest as text.
 */
export function dmsSelectList(columns: Array<{ name: string; type: string }>, rowExpr = 'r'): string {
  return columns
    .map(({ name, type }) => {
      const v = `(${rowExpr})."${name}"`;
      if (type === 'bytea') return `upper(encode(${v}, 'hex'))`;
      if (type === 'timestamptz') return `to_char(${v} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')`;
      if (type === 'bool') return `CASE WHEN ${v} THEN 'true' WHEN NOT ${v} THEN 'false' END`;
      return `${v}::text`;
    })
    .join(', ');
}

/** Reads a source table's column names and base types in order. */
export async function columnsOf(c: Client, table: string): Promise<Array<{ name: string; type: string }>> {
  const r = await c.query<{ name: string; type: string }>(
    `SELECT a.attname AS name, t.typname AS type FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [table],
  );
  return r.rows;
}

/** Full-load files of a source table as DMS writes them (Op=I, commit timestamp, columns), split by rows. */
export async function exportFullLoad(c: Client, table: string, rowsPerFile: number): Promise<string[]> {
  const cols = await columnsOf(c, table);
  const r = await c.query<{ f: (string | null)[] }>(`SELECT ARRAY[${dmsSelectList(cols, 't')}] AS f FROM ${table} t ORDER BY 1`);
  const header = [DMS_CSV.opColumn, DMS_CSV.timestampColumn, ...cols.map((x) => x.name)];
  const ts = '2026-11-30 01:00:00.000000';
  const files: string[] = [];
  for (let i = 0; i < r.rows.length; i += rowsPerFile) {
    files.push(dmsCsv(header, r.rows.slice(i, i + rowsPerFile).map((row) => ['I', ts, ...row.f])));
  }
  return files;
}

/** Starts CDC capture on a source table: every change lands in `<table>_changes` with its full row image. */
export async function captureChanges(c: Client, table: string): Promise<void> {
  const log = `${table}_changes`;
  await c.query(`CREATE TABLE ${log} (seq bigserial PRIMARY KEY, op char(1) NOT NULL, ts timestamptz NOT NULL DEFAULT clock_timestamp(), r ${table} NOT NULL)`);
  await c.query(`
    CREATE FUNCTION ${table.replace(/\W/g, '_')}_capture() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      IF TG_OP = 'DELETE' THEN INSERT INTO ${log} (op, r) VALUES ('D', OLD);
      ELSIF TG_OP = 'UPDATE' THEN INSERT INTO ${log} (op, r) VALUES ('U', NEW);
      ELSE INSERT INTO ${log} (op, r) VALUES ('I', NEW); END IF;
      RETURN NULL;
    END $fn$`);
  await c.query(`CREATE TRIGGER capture AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table.replace(/\W/g, '_')}_capture()`);
}

/** CDC files from the captured changes (in commit order), `changesPerFile` per file. */
export async function exportChanges(c: Client, table: string, changesPerFile: number): Promise<string[]> {
  const cols = await columnsOf(c, table);
  const r = await c.query<{ f: (string | null)[] }>(
    `SELECT ARRAY[op::text, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), ${dmsSelectList(cols)}] AS f FROM ${table}_changes ORDER BY seq`,
  );
  const header = [DMS_CSV.opColumn, DMS_CSV.timestampColumn, ...cols.map((x) => x.name)];
  const files: string[] = [];
  for (let i = 0; i < r.rows.length; i += changesPerFile) files.push(dmsCsv(header, r.rows.slice(i, i + changesPerFile).map((x) => x.f)));
  return files;
}

/** Every row of a table as text (NULL-safe), ordered by the key — for exact comparisons. */
export async function tableText(c: Client, table: string, orderBy: string): Promise<string[]> {
  await c.query("SET TIME ZONE 'UTC'");
  const r = await c.query<{ t: string }>(`SELECT t::text AS t FROM ${table} t ORDER BY ${orderBy}`);
  return r.rows.map((x) => x.t);
}

/** A finding the converter must report for the shop schema (test/dsql-bridge/fixtures/shop-*.sql): rule, object, severity. */
export type ExpectedFinding = [rule: string, object: string | RegExp, severity: string];

/** Every incompatibility of the shop schema, whether it arrives as a pg_dump file (--input) or via --source-url. */
export const SHOP_SCHEMA_FINDINGS: ExpectedFinding[] = [
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

/** The expected findings that `findings` lacks (an empty list means all are present). */
export function missingFindings(findings: Array<{ rule: string; object: string; severity: string }>, expected = SHOP_SCHEMA_FINDINGS): ExpectedFinding[] {
  return expected.filter(([rule, object, sev]) =>
    !findings.some((f) => f.rule === rule && f.severity === sev && (typeof object === 'string' ? f.object === object : object.test(f.object))),
  );
}
