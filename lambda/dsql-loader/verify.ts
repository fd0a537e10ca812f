import { createHash } from 'crypto';
import { Client } from 'pg';
import { describeTable, qualified, quoteIdent } from './target';

/** Result of comparing one table, source vs target. */
export interface TableVerification {
  readonly table: string;
  readonly sourceRows: number;
  readonly targetRows: number;
  /** Order-independent checksum over (primary key, row digest) of every row. */
  readonly sourceChecksum: string;
  readonly targetChecksum: string;
  /** Columns compared (present on both sides); columns only on one side are listed. */
  readonly columns: string[];
  readonly onlyInSource: string[];
  readonly onlyInTarget: string[];
  /** Primary keys (JSON) present in the source but not the target, and the reverse (first `sampleLimit`). */
  readonly missing: string[];
  readonly extra: string[];
  /** Primary keys whose row content differs (first `sampleLimit`). */
  readonly different: string[];
  readonly missingCount: number;
  readonly extraCount: number;
  readonly differentCount: number;
  readonly ok: boolean;
}

export interface VerifyOptions {
  /** Rows fetched per keyset page. @default 5000 */
  readonly pageSize?: number;
  /** Keys listed per kind of difference. @default 20 */
  readonly sampleLimit?: number;
}

const MOD = 1n << 64n;

/**
 * Compares a table in two databases row for row without holding either side in memory: both
 * sides are read in primary-key order (keyset pages); each row becomes (key, md5 of the row's
 * text form) — the text form distinguishes NULL from the empty string; both sessions use UTC so
 * timestamps print alike. Rows are matched by key, so the result names every missing, extra and
 * different key even when the two servers order text keys differently (collations).
 */
export async function verifyTable(source: Client, target: Client, schema: string, table: string, opts: VerifyOptions = {}): Promise<TableVerification> {
  const pageSize = opts.pageSize ?? 5000;
  const sample = opts.sampleLimit ?? 20;
  const [src, dst] = await Promise.all([describeTable(source, schema, table), describeTable(target, schema, table)]);
  const dstNames = new Set(dst.columns.map((c) => c.name));
  const srcNames = new Set(src.columns.map((c) => c.name));
  const columns = dst.columns.map((c) => c.name).filter((n) => srcNames.has(n));
  const pk = dst.primaryKey;
  await source.query("SET TIME ZONE 'UTC'");
  await target.query("SET TIME ZONE 'UTC'");

  const pending = { src: new Map<string, string>(), dst: new Map<string, string>() };
  const result = { missing: [] as string[], extra: [] as string[], different: [] as string[], missingCount: 0, extraCount: 0, differentCount: 0 };
  let srcSum = 0n;
  let dstSum = 0n;
  let srcRows = 0;
  let dstRows = 0;

  const pages = (c: Client, types: Map<string, string>) => keysetPages(c, schema, table, pk, columns, types, pageSize);
  const srcTypes = new Map(src.columns.map((c) => [c.name, c.type]));
  const dstTypes = new Map(dst.columns.map((c) => [c.name, c.type]));
  const srcIt = pages(source, srcTypes)[Symbol.asyncIterator]();
  const dstIt = pages(target, dstTypes)[Symbol.asyncIterator]();
  let srcDone = false;
  let dstDone = false;
  const match = (side: 'src' | 'dst', key: string, digest: string) => {
    const other = side === 'src' ? pending.dst : pending.src;
    const mine = side === 'src' ? pending.src : pending.dst;
    const theirs = other.get(key);
    if (theirs === undefined) {
      mine.set(key, digest);
      return;
    }
    other.delete(key);
    if (theirs !== digest) {
      result.differentCount += 1;
      if (result.different.length < sample) result.different.push(key);
    }
  };
  while (!srcDone || !dstDone) {
    const [a, b] = await Promise.all([srcDone ? undefined : srcIt.next(), dstDone ? undefined : dstIt.next()]);
    if (a) {
      if (a.done) srcDone = true;
      else
        for (const r of a.value) {
          srcRows += 1;
          srcSum = (srcSum + rowHash(r.key, r.digest)) % MOD;
          match('src', r.key, r.digest);
        }
    }
    if (b) {
      if (b.done) dstDone = true;
      else
        for (const r of b.value) {
          dstRows += 1;
          dstSum = (dstSum + rowHash(r.key, r.digest)) % MOD;
          match('dst', r.key, r.digest);
        }
    }
  }
  for (const k of [...pending.src.keys()].sort()) {
    result.missingCount += 1;
    if (result.missing.length < sample) result.missing.push(k);
  }
  for (const k of [...pending.dst.keys()].sort()) {
    result.extraCount += 1;
    if (result.extra.length < sample) result.extra.push(k);
  }
  const onlyInSource = src.columns.map((c) => c.name).filter((n) => !dstNames.has(n));
  const onlyInTarget = dst.columns.map((c) => c.name).filter((n) => !srcNames.has(n));
  return {
    table: `${schema}.${table}`,
    sourceRows: srcRows,
    targetRows: dstRows,
    sourceChecksum: srcSum.toString(16).padStart(16, '0'),
    targetChecksum: dstSum.toString(16).padStart(16, '0'),
    columns,
    onlyInSource,
    onlyInTarget,
    ...result,
    ok: srcRows === dstRows && srcSum === dstSum && result.missingCount + result.extraCount + result.differentCount === 0 && onlyInSource.length === 0,
  };
}

function rowHash(key: string, digest: string): bigint {
  return BigInt(`0x${createHash('sha256').update(key).update('\u0000').update(digest).digest('hex').slice(0, 16)}`);
}

async function* keysetPages(
  c: Client,
  schema: string,
  table: string,
  pk: string[],
  columns: string[],
  types: Map<string, string>,
  pageSize: number,
): AsyncGenerator<Array<{ key: string; digest: string }>> {
  const t = qualified({ schema, table });
  const keyList = pk.map(quoteIdent).join(', ');
  const keyText = pk.map((k) => `${quoteIdent(k)}::text AS ${quoteIdent(`k_${k}`)}`).join(', ');
  const rowText = `md5(ROW(${columns.map((col) => `${quoteIdent(col)}::text`).join(', ')})::text) AS digest`;
  const after = `(${keyList}) > (${pk.map((k, i) => `$${i + 1}::${types.get(k)}`).join(', ')})`;
  let last: string[] | undefined;
  for (;;) {
    const sql = `SELECT ${keyText}, ${rowText} FROM ${t} ${last ? `WHERE ${after}` : ''} ORDER BY ${keyList} LIMIT ${pageSize}`;
    const r = await c.query<Record<string, string>>(sql, last ?? []);
    if (r.rows.length === 0) return;
    yield r.rows.map((row) => ({ key: JSON.stringify(pk.map((k) => row[`k_${k}`])), digest: row.digest }));
    const lastRow = r.rows[r.rows.length - 1];
    last = pk.map((k) => lastRow[`k_${k}`]);
    if (r.rows.length < pageSize) return;
  }
}

/** Markdown report of a verification run, with a clear diff for tables that disagree. */
export function verificationMarkdown(results: TableVerification[]): string {
  const lines = ['| table | source rows | target rows | source checksum | target checksum | result |', '|---|---|---|---|---|---|'];
  for (const r of results) {
    lines.push(`| ${r.table} | ${r.sourceRows} | ${r.targetRows} | ${r.sourceChecksum} | ${r.targetChecksum} | ${r.ok ? 'OK' : 'DIFFERENT'} |`);
  }
  for (const r of results.filter((x) => !x.ok)) {
    lines.push('', `### ${r.table}`);
    if (r.onlyInSource.length) lines.push(`- columns only in the source: ${r.onlyInSource.join(', ')}`);
    if (r.onlyInTarget.length) lines.push(`- columns only in the target (not compared): ${r.onlyInTarget.join(', ')}`);
    if (r.missingCount) lines.push(`- ${r.missingCount} row(s) missing in the target, e.g. keys ${r.missing.join(' ')}`);
    if (r.extraCount) lines.push(`- ${r.extraCount} row(s) only in the target, e.g. keys ${r.extra.join(' ')}`);
    if (r.differentCount) lines.push(`- ${r.differentCount} row(s) with different content, e.g. keys ${r.different.join(' ')}`);
  }
  return lines.join('\n');
}

/** A source column holding values equal to the DMS CSV null token (they would load as NULL). */
export interface NullTokenCollision {
  readonly table: string;
  readonly column: string;
  readonly rows: number;
}

/**
 * Pre-flight for the NULL token: DMS writes SQL NULL as the unquoted `CsvNullValue` token, and a
 * source string equal to the token is written the same way — the loader cannot tell them apart
 * (in a NOT NULL column it quarantines the row; in a nullable column it would store NULL). This
 * scans every string-like column (text, varchar, char, enums, domains over them) of the given
 * source tables in one pass per table and returns each column with colliding rows. Run it before
 * the full load; on a hit, pick another token (`DMS_CSV.nullValue`, used by both the endpoint and
 * the loader) that no source value equals, or fix the data.
 */
export async function findNullTokenCollisions(source: Client, tables: Array<[string, string]>, token: string): Promise<NullTokenCollision[]> {
  const out: NullTokenCollision[] = [];
  for (const [schema, table] of tables) {
    const cols = await source.query<{ name: string }>(
      `SELECT a.attname AS name
         FROM pg_catalog.pg_attribute a
         JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype
        WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
          AND (t.typcategory IN ('S', 'E') OR bt.typcategory IN ('S', 'E'))
        ORDER BY a.attnum`,
      [schema, table],
    );
    if (cols.rows.length === 0) continue;
    const counts = cols.rows.map((c, i) => `count(*) FILTER (WHERE ${quoteIdent(c.name)}::text = $1) AS c${i}`).join(', ');
    const r = await source.query<Record<string, string>>(`SELECT ${counts} FROM ${qualified({ schema, table })}`, [token]);
    cols.rows.forEach((c, i) => {
      const n = Number(r.rows[0][`c${i}`]);
      if (n > 0) out.push({ table: `${schema}.${table}`, column: c.name, rows: n });
    });
  }
  return out;
}
