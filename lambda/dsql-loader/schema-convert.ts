import { castColumnRefs, destructiveKind, functionStatements, initParser, parseStatements, refsOf } from './schema-ast';
import { matchParen, quoteEnd, splitSql, splitTopLevel } from './sql-split';

/**
 * PostgreSQL → Aurora DSQL schema conversion: reads a `pg_dump --schema-only` script, reports
 * every incompatibility (object, rule, severity, fix) and produces DDL for DSQL — one statement per
 * transaction, `CREATE INDEX ASYNC`, constraints folded into `CREATE TABLE` (DSQL cannot add a
 * primary key later), foreign keys added `NOT VALID` after the full load.
 *
 * Rules reflect the Aurora DSQL documentation as of 2026-11 (pages in DSQL_DOCS, cited at each rule):
 * no extensions, triggers, partitions, inheritance, materialized views, TRUNCATE, temporary tables or
 * languages other than SQL/PL/pgSQL; sequences are bigint with CACHE 1 or >= 65536; JSON is a column
 * type but JSONB and arrays are runtime-only; generated columns are STORED only; indexes are btree
 * only, built asynchronously, with expression keys but no WHERE; foreign keys (2026-08) can be added
 * with `ALTER TABLE … ADD CONSTRAINT … NOT VALID`; the database uses the C collation.
 *
 * The output never contains DROP, TRUNCATE, DELETE or ALTER … DROP (each input one is removed with a
 * finding, and PostgreSQL's parser checks every output statement again), every change or removal has
 * a finding, and the schema phase is in dependency order (tables, functions, views — computed from
 * what each statement references), so it applies one statement per transaction without errors.
 */
export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  /** The object, e.g. `table public.orders`, `index public.orders_email_idx`. */
  readonly object: string;
  /** Stable rule id, e.g. `trigger`, `partitioned-table`. */
  readonly rule: string;
  /** error: not supported, dropped or changed in meaning; warning: converted; info: dropped noise or advice. */
  readonly severity: Severity;
  readonly message: string;
  readonly fix: string;
  /** Line of the statement in the input. */
  readonly line: number;
}

export interface ConvertedStatement {
  readonly sql: string;
  /** `schema` before the full load; `post-load` (secondary indexes, foreign keys) after it. */
  readonly phase: 'schema' | 'post-load';
  readonly object: string;
}

export interface ConversionResult {
  readonly findings: Finding[];
  readonly statements: ConvertedStatement[];
  readonly summary: { readonly statementsIn: number; readonly statementsOut: number; readonly errors: number; readonly warnings: number; readonly infos: number };
}

interface ColumnDef {
  name: string;
  type: string;
  rest: string;
}

interface TableDef {
  name: string;
  columns: ColumnDef[];
  constraints: string[];
  line: number;
  hasPk: boolean;
}

type Item = { kind: 'sql'; stmt: ConvertedStatement } | { kind: 'table'; table: TableDef };

const SUPPORTED_TYPES = new Set([
  'smallint', 'int2', 'integer', 'int', 'int4', 'bigint', 'int8', 'real', 'float4', 'double precision', 'float8', 'numeric', 'decimal', 'dec',
  'character', 'char', 'character varying', 'varchar', 'bpchar', 'text', 'bytea', 'boolean', 'bool', 'date', 'time', 'time without time zone',
  'time with time zone', 'timetz', 'timestamp', 'timestamp without time zone', 'timestamp with time zone', 'timestamptz', 'interval', 'uuid', 'json',
]);

const TEXT_FALLBACK = new Set(['inet', 'cidr', 'macaddr', 'macaddr8', 'xml', 'tsvector', 'tsquery', 'hstore', 'citext', 'ltree', 'point', 'line', 'lseg', 'box', 'path', 'polygon', 'circle', 'bit', 'bit varying', 'varbit', 'int4range', 'int8range', 'numrange', 'tsrange', 'tstzrange', 'daterange', 'oid', 'geometry', 'geography']);

/** Column types of extensions (converted to text; no cast back, the type does not exist without the extension). */
const EXTENSION_TYPES = new Set(['hstore', 'citext', 'ltree', 'geometry', 'geography']);

/** Statement kinds a function body may not run in Aurora DSQL. */
const FORBIDDEN_IN_FUNCTIONS = new Set(['TruncateStmt', 'TransactionStmt', 'VacuumStmt', 'DropStmt', 'AlterTableStmt', 'IndexStmt', 'CreateTableAsStmt', 'CreateSeqStmt', 'RenameStmt', 'DropdbStmt', 'CreatedbStmt', 'AlterSystemStmt']);

const ID = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)`;
const QNAME = String.raw`(?:${ID}\.)?${ID}`;

/** Documentation pages the rules below follow (checked 2026-11-30). */
export const DSQL_DOCS = {
  dataTypes: 'https://docs.aws.amazon.com/aurora-dsql/latest/userguide/working-with-postgresql-compatibility-supported-data-types.html',
  createSequence: 'https://docs.aws.amazon.com/aurora-dsql/latest/userguide/create-sequence-syntax-support.html',
  createIndex: 'https://docs.aws.amazon.com/aurora-dsql/latest/userguide/create-index-syntax-support.html',
  createTable: 'https://docs.aws.amazon.com/aurora-dsql/latest/userguide/create-table-syntax-support.html',
  unsupported: 'https://docs.aws.amazon.com/aurora-dsql/latest/userguide/working-with-postgresql-compatibility-unsupported-features.html',
  plpgsql: 'https://docs.aws.amazon.com/aurora-dsql/latest/userguide/working-with-plpgsql.html',
} as const;

/** Tables, views and functions extensions provide (objects using them cannot be created without the extension). */
const EXTENSION_OBJECTS = new Set(['pg_stat_statements', 'pg_stat_statements_info', 'pg_stat_statements_reset', 'pg_buffercache', 'geometry_columns', 'geography_columns', 'spatial_ref_sys', 'uuid_generate_v4', 'uuid_generate_v1', 'uuid_generate_v1mc', 'gen_salt', 'crypt', 'digest', 'hmac', 'pgp_sym_encrypt', 'pgp_sym_decrypt', 'similarity', 'word_similarity', 'unaccent', 'uuidv7']);

/** Functions of extensions the converter drops, with the built-in that replaces them (or none). */
const EXTENSION_FUNCTIONS: Record<string, string | undefined> = {
  gen_random_uuid: 'gen_random_uuid()',
  uuid_generate_v4: 'gen_random_uuid()',
  uuid_generate_v1: 'gen_random_uuid()',
  uuid_generate_v1mc: 'gen_random_uuid()',
  // PostgreSQL 18 built-in; DSQL is PostgreSQL 16-compatible and has no uuidv7().
  uuidv7: 'gen_random_uuid()',
  uuid_generate_v7: 'gen_random_uuid()',
};

export async function convertSchema(script: string): Promise<ConversionResult> {
  await initParser();
  // A dump saved by an editor with a byte-order mark must not lose its first statement.
  const stmts = splitSql(script.replace(/^\uFEFF/, ''));
  const findings: Finding[] = [];
  const items: Item[] = [];
  const sequences: ConvertedStatement[] = [];
  const post: ConvertedStatement[] = [];
  const tables = new Map<string, TableDef>();
  const enums = new Map<string, string[]>();
  const domains = new Map<string, string>();
  const droppedFunctions = new Set<string>();
  const droppedTables = new Set<string>();
  /** Partition -> its partitioned parent (the partition is dropped; its rows load into the parent). */
  const partitionParent = new Map<string, string>();
  /** Materialized views converted to plain views (indexes on them are dropped). */
  const matviews = new Set<string>();
  /** Columns whose stored type changed to one without the source type's functions/operators: table -> column -> source type to cast back to. */
  const castBack = new Map<string, Map<string, string>>();
  /** Columns now stored as json, per table (json has no btree operator class, so no plain index on them). */
  const jsonColumns = new Map<string, Set<string>>();
  let noise = 0;
  /** Types the DDL does not create (CREATE TYPE/DOMAIN are dropped; enum/domain columns become their base type). */
  const droppedTypes = new Set<string>();
  const dataStatements = new Map<string, { n: number; line: number; rows: number }>();
  /** SET search_path to schemas other than public, and the unqualified objects created while it was in effect. */
  type SearchPath = { path: string; line: number; objects: string[] };
  const searchPaths: SearchPath[] = [];
  let searchPath: SearchPath | undefined;

  const find = (object: string, rule: string, severity: Severity, message: string, fix: string, line: number) =>
    findings.push({ object, rule, severity, message, fix, line });

  // Pass 1: user-defined types columns may use, and the functions the dump creates.
  const userFunctions = new Set<string>();
  for (const s of stmts) {
    const fnm = new RegExp(String.raw`^CREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)\s+(${QNAME})\s*\(`, 'i').exec(s.sql);
    if (fnm && !/\bRETURNS\s+(event_)?trigger\b/i.test(s.sql) && /\bLANGUAGE\s+['"]?(sql|plpgsql)\b/i.test(s.sql)) userFunctions.add(normName(fnm[1]).includes('.') ? normName(fnm[1]) : `public.${normName(fnm[1])}`);
    const en = new RegExp(String.raw`^CREATE\s+TYPE\s+(${QNAME})\s+AS\s+ENUM\s*\(([\s\S]*)\)$`, 'i').exec(s.sql);
    if (en) enums.set(normName(en[1]), splitTopLevel(en[2]).map((x) => x.trim()));
    const add = new RegExp(String.raw`^ALTER\s+TYPE\s+(${QNAME})\s+ADD\s+VALUE\s+(?:IF\s+NOT\s+EXISTS\s+)?('(?:[^']|'')*')`, 'i').exec(s.sql);
    if (add && enums.has(normName(add[1])) && !enums.get(normName(add[1]))!.includes(add[2])) enums.get(normName(add[1]))!.push(add[2]);
    const dom = new RegExp(String.raw`^CREATE\s+DOMAIN\s+(${QNAME})\s+(?:AS\s+)?([\s\S]+?)(\s+(?:DEFAULT|CONSTRAINT|NOT\s+NULL|NULL|CHECK|COLLATE)\b[\s\S]*)?$`, 'i').exec(s.sql);
    if (dom) domains.set(normName(dom[1]), dom[2].trim());
  }

  const convertType = (type: string, object: string, line: number): { type: string; check?: string; castBack?: string } => {
    // pg_dump --quote-all-identifiers writes built-in type names quoted ("text", "jsonb", "pg_catalog"."int4").
    const t = type.trim().replace(/"([a-z_][a-z0-9_]*)"/g, '$1');
    const lower = t.toLowerCase().replace(/\s+/g, ' ');
    const base = lower.replace(/\(.*\)/, '').trim().replace(/^(pg_catalog|public)\./, '');
    // Arrays and JSONB are query-runtime types only; JSON is a column type: ${DSQL_DOCS.dataTypes}
    if (/\[\]$/.test(lower) || /^_/.test(lower) || /\barray\b/.test(lower)) {
      find(object, 'array-column', 'warning', `column type ${t}: arrays are runtime-only in Aurora DSQL`, 'Stored as text in PostgreSQL array literal form ({a,b}); cast with ::type[] in queries (CHECKs and defaults on it are cast back for you), or normalize into a child table.', line);
      const elem = lower.replace(/\[\]$/, '').replace(/^(pg_catalog|public)\./, '').replace(/\(.*\)/, '').trim();
      return { type: 'text', castBack: SUPPORTED_TYPES.has(elem) ? `${t.replace(/^pg_catalog\./i, '')}` : undefined };
    }
    if (base === 'jsonb') {
      find(object, 'jsonb-column', 'warning', 'column type jsonb: JSONB is runtime-only in Aurora DSQL; JSON is a column type', 'Stored as json (text preserved); CHECKs, defaults and views that use it get an explicit ::jsonb cast; cast with ::jsonb in your queries too.', line);
      return { type: 'json', castBack: 'jsonb' };
    }
    if (base === 'serial' || base === 'bigserial' || base === 'smallserial') {
      const it = base === 'bigserial' ? 'bigint' : base === 'smallserial' ? 'smallint' : 'integer';
      find(object, 'serial', 'warning', `column type ${base}: SERIAL creates a sequence without the CACHE Aurora DSQL requires`, `Converted to ${it} GENERATED BY DEFAULT AS IDENTITY (CACHE 65536); use CACHE 1 if values must be dense and ordered.`, line);
      return { type: `${it} GENERATED BY DEFAULT AS IDENTITY (CACHE 65536)` };
    }
    if (base === 'money') {
      find(object, 'unsupported-type', 'warning', 'column type money is not supported', 'Converted to numeric(19,2); DMS writes money as a number.', line);
      return { type: 'numeric(19,2)' };
    }
    if (TEXT_FALLBACK.has(base)) {
      // Built-in types (inet, ranges, geometric, tsvector…) still exist for expressions: CHECKs, views and
      // expression indexes that use the column get it cast back (inet is a query-runtime type in DSQL,
      // ${DSQL_DOCS.dataTypes}). Extension types (hstore, citext, geometry…) do not, and are not cast.
      const core = !EXTENSION_TYPES.has(base);
      find(object, 'unsupported-type', 'warning', `column type ${t} is not supported as a column type`, `Converted to text (the value keeps its text form); validate or parse it in the application.${core ? ` Expressions that use it are cast back to ${t.replace(/^pg_catalog\./i, '')}.` : ''}`, line);
      return { type: 'text', castBack: core ? t.replace(/^pg_catalog\./i, '') : undefined };
    }
    const key = normName(t);
    if (enums.has(key)) {
      find(object, 'enum-type', 'warning', `column type ${t} is an enum; CREATE TYPE is not supported`, 'Converted to text with a CHECK constraint listing the labels.', line);
      return { type: 'text', check: `IN (${enums.get(key)!.join(', ')})` };
    }
    if (domains.has(key)) {
      find(object, 'domain-type', 'warning', `column type ${t} is a domain; CREATE DOMAIN is not supported`, `Converted to its base type ${domains.get(key)}; re-create the domain's CHECK on the column if needed.`, line);
      return convertType(domains.get(key)!, object, line);
    }
    if (!SUPPORTED_TYPES.has(base.replace(/^pg_catalog\./, ''))) {
      find(object, 'unknown-type', 'error', `column type ${t} is not an Aurora DSQL type (an extension's or a dropped user type)`, `Stored as text (the value keeps its text form); choose a supported type (${DSQL_DOCS.dataTypes}) if the application needs one.`, line);
      return { type: 'text' };
    }
    return { type: t };
  };

  const parseColumn = (def: string, table: string, line: number): ColumnDef => {
    const m = new RegExp(String.raw`^(${ID})\s+([\s\S]*)$`).exec(def.trim());
    if (!m) return { name: def, type: '', rest: '' };
    const name = m[1];
    const tail = m[2];
    const kw = /\s(COLLATE|NOT\s+NULL|NULL|DEFAULT|CONSTRAINT|CHECK|PRIMARY\s+KEY|UNIQUE|REFERENCES|GENERATED)\b/i.exec(` ${tail}`);
    const typeText = kw ? ` ${tail}`.slice(0, kw.index).trim() : tail.trim();
    let rest = kw ? ` ${tail}`.slice(kw.index).trim() : '';
    const object = `column ${table}.${unquote(name)}`;
    if (/\bCOLLATE\s+\S+/i.test(rest)) {
      find(object, 'collation', 'warning', 'column collation: Aurora DSQL uses the C collation only', 'Collation removed; text sorts and compares bytewise (C). Use lower()/expression indexes for case-insensitive search.', line);
      rest = rest.replace(/\bCOLLATE\s+(?:"[^"]+"|\S+)(?:\.(?:"[^"]+"|\S+))?/gi, '').trim();
    }
    if (/\bREFERENCES\b/i.test(rest)) {
      find(object, 'foreign-key', 'warning', 'inline foreign key', 'Moved out of CREATE TABLE: add it after the full load (NOT VALID), so load order between tables does not matter.', line);
      // The clause (and its CONSTRAINT name, which would otherwise be left dangling) leaves the column
      // and becomes a post-load ALTER TABLE … ADD FOREIGN KEY … NOT VALID, like a table-level one.
      const inlineFk = new RegExp(String.raw`(?:\bCONSTRAINT\s+(${ID})\s+)?\bREFERENCES\s+\S+(\s*\([^)]*\))?(\s+(ON\s+(DELETE|UPDATE)\s+(CASCADE|RESTRICT|SET\s+NULL|SET\s+DEFAULT|NO\s+ACTION)|MATCH\s+\w+|DEFERRABLE|NOT\s+DEFERRABLE|INITIALLY\s+\w+))*`, 'gi');
      rest = rest
        .replace(inlineFk, (clause: string, cname: string | undefined) => {
          const ref = clause.slice(clause.search(/\bREFERENCES\b/i)).trim();
          post.push({ sql: `ALTER TABLE ${table} ADD ${cname ? `CONSTRAINT ${cname} ` : ''}FOREIGN KEY (${name}) ${ref} NOT VALID`, phase: 'post-load', object: `foreign key on ${table}` });
          return '';
        })
        .trim();
    }
    const conv = convertType(typeText, object, line);
    const colName = unquote(name);
    if (conv.castBack) {
      if (!castBack.has(table)) castBack.set(table, new Map());
      castBack.get(table)!.set(colName, conv.castBack);
    }
    if (conv.type === 'json') {
      if (!jsonColumns.has(table)) jsonColumns.set(table, new Set());
      jsonColumns.get(table)!.add(colName);
    }
    if (conv.check) rest = `${rest} CHECK (${name} ${conv.check})`.trim();
    return { name, type: conv.type, rest: fixDefaults(fixIdentity(rest, object, line), object, line) };
  };

  /**
   * Column defaults and generated columns: functions of dropped extensions are replaced by their built-in
   * equivalent or the default is removed; PostgreSQL 18 VIRTUAL generated columns become STORED, the only
   * kind DSQL's CREATE TABLE has (${DSQL_DOCS.createTable}).
   */
  const fixDefaults = (rest: string, object: string, line: number): string => {
    let r = rest;
    if (/\bGENERATED\s+ALWAYS\s+AS\s*\(/i.test(r) && !/\bAS\s+IDENTITY\b/i.test(r)) {
      const at = r.search(/\bGENERATED\s+ALWAYS\s+AS\s*\(/i);
      const open = r.indexOf('(', at);
      const close = matchParen(r, open);
      const after = r.slice(close + 1);
      if (/^\s*VIRTUAL\b/i.test(after) || !/^\s*STORED\b/i.test(after)) {
        find(object, 'generated-virtual', 'warning', 'VIRTUAL generated column (PostgreSQL 18): Aurora DSQL has only GENERATED ALWAYS AS (…) STORED', 'Converted to STORED (computed on write). Leave the column out of the DMS table mapping: a generated column cannot be loaded.', line);
        r = `${r.slice(0, close + 1)} STORED${after.replace(/^\s*VIRTUAL\b/i, '')}`;
      }
    }
    const refs = /\b(DEFAULT|GENERATED)\b/i.test(r) ? refsOf(`CREATE TABLE t (c int ${r.replace(/\bGENERATED\s+BY\s+DEFAULT\s+AS\s+IDENTITY\s*(\([^)]*\))?/i, '')})`) : undefined;
    const shorts = new Set([...(refs?.functions ?? [])].map((f) => f.split('.').pop()!));
    for (const short of shorts) {
      const qm = new RegExp(String.raw`("?[\w$]+"?)\.${short}\s*\(`, 'i').exec(r);
      const schema = qm ? normName(qm[1]) : undefined;
      if (schema === 'pg_catalog') continue;
      const fn = `${schema ?? 'public'}.${short}`;
      if (userFunctions.has(fn)) continue; // created from the dump; ordered before the table
      if (short in EXTENSION_FUNCTIONS) {
        if (short === 'gen_random_uuid' && !schema) continue; // built in
        find(object, 'default-function', 'warning', `default/generated expression calls ${schema ? fn : short}(), which does not exist in Aurora DSQL (an extension's, or PostgreSQL 18's)`, `Replaced by ${EXTENSION_FUNCTIONS[short]}${/7/.test(short) ? ' (a random UUIDv4, not time-ordered; generate v7 in the application if order matters)' : ''}.`, line);
        r = r.replace(new RegExp(String.raw`(?:"?[\w$]+"?\.)?${short}\s*\(\s*\)`, 'gi'), EXTENSION_FUNCTIONS[short]!);
        continue;
      }
      if (schema && new RegExp(String.raw`${short}\s*\(`, 'i').test(defaultExpression(r) ?? '')) {
        find(object, 'default-function', 'error', `default expression calls ${fn}(), which this dump does not create (an extension's function)`, 'Default removed; the application must supply the value (or create an SQL function of that name first and add the default back).', line);
        r = removeDefault(r);
      }
    }
    return r;
  };

  const fixIdentity = (rest: string, object: string, line: number): string => {
    let r = rest;
    if (/GENERATED\s+ALWAYS\s+AS\s+IDENTITY/i.test(r)) {
      find(object, 'identity-always', 'warning', 'GENERATED ALWAYS AS IDENTITY rejects the explicit values the migration loads', 'Converted to GENERATED BY DEFAULT AS IDENTITY; after cutover, set the identity above the largest loaded value.', line);
      r = r.replace(/GENERATED\s+ALWAYS\s+AS\s+IDENTITY/i, 'GENERATED BY DEFAULT AS IDENTITY');
    }
    const id = /AS\s+IDENTITY\s*(\(([\s\S]*?)\))?/i.exec(r);
    if (id) {
      const opts = (id[2] ?? '').replace(new RegExp(String.raw`\bSEQUENCE\s+NAME\s+${QNAME}`, 'i'), '').trim();
      const fixed = fixCache(opts, object, line);
      r = r.replace(id[0], `AS IDENTITY (${fixed})`);
    }
    return r;
  };

  const fixCache = (opts: string, object: string, line: number): string => {
    const m = /\bCACHE\s+(\d+)/i.exec(opts);
    if (!m) {
      find(object, 'sequence-cache', 'warning', 'sequence without explicit CACHE: Aurora DSQL requires CACHE 1 or >= 65536', 'Added CACHE 65536 (fast under concurrency; values have gaps). Use CACHE 1 for dense values.', line);
      return `${opts} CACHE 65536`.trim();
    }
    const n = Number(m[1]);
    if (n !== 1 && n < 65536) {
      find(object, 'sequence-cache', 'warning', `sequence CACHE ${n}: Aurora DSQL accepts CACHE 1 or >= 65536`, 'Raised to CACHE 65536.', line);
      return opts.replace(m[0], 'CACHE 65536');
    }
    return opts;
  };

  for (const s of stmts) {
    const sql = s.sql;
    const line = s.line;
    const up = sql.replace(/\s+/g, ' ').toUpperCase();
    let m: RegExpExecArray | null;

    // Converted DDL never destroys anything: a `pg_dump --clean` dump's DROP … IF EXISTS statements (and
    // any TRUNCATE/DELETE) are removed and reported, never moved or kept.
    const destructive = /^(DROP|TRUNCATE|DELETE)\b/i.test(sql) ? sql.split(/\s+/)[0].toUpperCase() : destructiveKind(sql);
    if (destructive) {
      find(firstWords(sql, 8), 'destructive-statement', 'warning', `${destructive} statement in the dump${/DELETE|TRUNCATE|Delete|Truncate|Merge/.test(destructive) ? '' : ' (pg_dump --clean writes one per object)'}`, 'Removed: the converted DDL only creates. To rebuild a target, drop its objects yourself first; nothing here deletes data.', line);
      continue;
    }
    if (/^(INSERT|UPDATE|COPY|SELECT\s+pg_catalog\.setval)\b/i.test(sql)) {
      if (!/^SELECT/i.test(sql)) {
        const target = /^(?:INSERT\s+INTO|UPDATE|COPY)\s+(?:ONLY\s+)?("(?:[^"]|"")+"(?:\."(?:[^"]|"")+")?|\S+)/i.exec(sql)?.[1] ?? '?';
        const d = dataStatements.get(target) ?? { n: 0, line, rows: 0 };
        dataStatements.set(target, { n: d.n + 1, line: d.line, rows: d.rows + (s.dataRows ?? insertRows(sql)) });
        continue;
      }
    }
    const sp = /^SET\s+(?:SESSION\s+|LOCAL\s+)?search_path\s*(?:=|TO)\s*([\s\S]*)$/i.exec(sql) ?? /^SELECT\s+pg_catalog\.set_config\s*\(\s*'search_path'\s*,\s*'((?:[^']|'')*)'/i.exec(sql) ?? (/^RESET\s+(search_path|ALL)\b/i.test(sql) ? ['', ''] : null);
    if (sp) {
      // The converter reads names as pg_dump writes them (qualified; unqualified = public), and --apply runs
      // with the target's default search_path: a dump that relies on its own SET search_path is reported.
      const path = sp[1].replace(/''/g, "'").split(',').map((x) => x.trim().replace(/^'(.*)'$/, '$1')).filter((x) => x && x !== "''" && !/^"?\$user"?$/.test(x) && x !== 'pg_catalog');
      searchPath = path.length && !(path.length === 1 && path[0] === 'public') ? { path: path.join(', '), line, objects: [] } : undefined;
      if (searchPath) searchPaths.push(searchPath);
    }
    if (searchPath) {
      const un = new RegExp(String.raw`^CREATE\s+(?:OR\s+REPLACE\s+)?(?:UNLOGGED\s+|MATERIALIZED\s+)?(TABLE|VIEW|FUNCTION|PROCEDURE|SEQUENCE|TYPE|DOMAIN)\s+(?:IF\s+NOT\s+EXISTS\s+)?(${ID})(\s*\.)?`, 'i').exec(sql);
      if (un && !un[3]) searchPath.objects.push(`${un[1].toLowerCase()} ${unquote(un[2])}`);
    }
    if (/^SET\s/i.test(sql) || /^SELECT\s+pg_catalog\.set_config\s*\(/i.test(sql) || /^RESET\s/i.test(sql)) {
      noise += 1;
      continue;
    }
    if (/^(ALTER\s+\w+(\s+\w+)?\s+\S+.*\s+OWNER\s+TO\s)/is.test(sql) || /^(GRANT|REVOKE)\s/i.test(sql) || /^COMMENT\s+ON\s/i.test(sql) || /^ALTER\s+DEFAULT\s+PRIVILEGES/i.test(sql)) {
      if (!/^COMMENT\s+ON\s+EXTENSION/i.test(sql)) noise += 1;
      continue;
    }
    if ((m = /^CREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?("?[\w-]+"?)/i.exec(sql))) {
      const ext = unquote(m[1]);
      if (ext === 'plpgsql') find(`extension ${ext}`, 'extension', 'info', 'plpgsql is built into Aurora DSQL', 'Dropped; nothing to do.', line);
      else find(`extension ${ext}`, 'extension', 'error', `extension ${ext}: Aurora DSQL does not support extensions`, extensionFix(ext), line);
      continue;
    }
    if ((m = new RegExp(String.raw`^CREATE\s+SCHEMA\s+(?:IF\s+NOT\s+EXISTS\s+)?(${ID})`, 'i').exec(sql))) {
      items.push({ kind: 'sql', stmt: { sql: `CREATE SCHEMA IF NOT EXISTS ${m[1]}`, phase: 'schema', object: `schema ${unquote(m[1])}` } });
      continue;
    }
    if ((m = new RegExp(String.raw`^CREATE\s+TYPE\s+(${QNAME})`, 'i').exec(sql))) {
      const isEnum = /\bAS\s+ENUM\b/i.test(sql);
      droppedTypes.add(normName(m[1]));
      find(`type ${normName(m[1])}`, isEnum ? 'enum-type' : 'user-type', isEnum ? 'warning' : 'error', 'CREATE TYPE is not supported', isEnum ? 'Dropped; columns of this type become text with a CHECK of the labels.' : 'Dropped; replace composite/range types with columns or a child table.', line);
      continue;
    }
    if ((m = new RegExp(String.raw`^ALTER\s+TYPE\s+(${QNAME})\s+ADD\s+VALUE\s+(?:IF\s+NOT\s+EXISTS\s+)?('(?:[^']|'')*')`, 'i').exec(sql)) && enums.has(normName(m[1]))) {
      find(`type ${normName(m[1])}`, 'enum-type', 'info', `ALTER TYPE … ADD VALUE ${m[2]}`, 'The label is part of the CHECK that replaces the enum on its columns.', line);
      continue;
    }
    if ((m = new RegExp(String.raw`^CREATE\s+DOMAIN\s+(${QNAME})`, 'i').exec(sql))) {
      droppedTypes.add(normName(m[1]));
      find(`domain ${normName(m[1])}`, 'domain-type', 'warning', 'CREATE DOMAIN is not supported', 'Dropped; columns of this domain use its base type.', line);
      continue;
    }
    if ((m = new RegExp(String.raw`^CREATE\s+SEQUENCE\s+(?:IF\s+NOT\s+EXISTS\s+)?(${QNAME})([\s\S]*)$`, 'i').exec(sql))) {
      const object = `sequence ${normName(m[1])}`;
      let opts = fixCache(m[2].trim(), object, line);
      // DSQL sequences are bigint only: "where data_type is BIGINT" (${DSQL_DOCS.createSequence}).
      const as = /\bAS\s+(smallint|integer|int[248]?|bigint)\b/i.exec(opts);
      if (as && !/^(bigint|int8)$/i.test(as[1])) {
        find(object, 'sequence-type', 'warning', `sequence AS ${as[1]}: Aurora DSQL sequences are bigint only`, 'Converted to AS bigint (its default MAXVALUE is bigint\'s; an explicit MAXVALUE is kept).', line);
        opts = opts.replace(as[0], 'AS bigint');
      }
      if (/\bCACHE\s+1\b/i.test(opts)) find(object, 'sequence-cache', 'info', 'CACHE 1 sequences are allowed but every nextval() is a distributed write', 'Keep CACHE 1 for dense values, or raise to CACHE 65536 for write-heavy tables.', line);
      sequences.push({ sql: `CREATE SEQUENCE ${m[1]} ${opts}`.trim(), phase: 'schema', object });
      continue;
    }
    if (new RegExp(String.raw`^ALTER\s+SEQUENCE\s+(?:IF\s+EXISTS\s+)?${QNAME}\s+OWNED\s+BY\s`, 'i').test(sql) || /^SELECT\s+pg_catalog\.setval\s*\(/i.test(sql)) {
      noise += 1;
      continue;
    }
    if ((m = new RegExp(String.raw`^CREATE\s+(?:(UNLOGGED|TEMP|TEMPORARY|GLOBAL\s+TEMPORARY|LOCAL\s+TEMPORARY)\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(${QNAME})\s*([\s\S]*)$`, 'i').exec(sql))) {
      const name = normName(m[2]);
      const object = `table ${name}`;
      let rest = m[3];
      if (tables.has(name)) {
        find(object, 'duplicate-object', 'error', `table ${name} is created twice in the dump (line ${tables.get(name)!.line} and here; pg_dumpall output of several databases?)`, 'This one is removed; the first definition is converted. Convert each database\'s dump separately.', line);
        continue;
      }
      if (m[1] && /TEMP/i.test(m[1])) {
        droppedTables.add(name); // not created: foreign keys and views that use it are removed with it, named
        find(object, 'temporary-table', 'error', 'temporary tables are not supported', 'Dropped; use a regular table or application memory.', line);
        continue;
      }
      if (m[1]) find(object, 'unlogged-table', 'info', 'UNLOGGED has no meaning in Aurora DSQL (all writes are durable)', 'Created as a regular table.', line);
      if (/^PARTITION\s+OF\b/i.test(rest)) {
        const parentName = normName(new RegExp(String.raw`^PARTITION\s+OF\s+(${QNAME})`, 'i').exec(rest)![1]);
        droppedTables.add(name);
        partitionParent.set(name, parentName);
        find(object, 'partition', 'error', 'partitions are not supported; this is a partition of another table', 'Dropped; its rows belong in the parent table — map the partition to the parent with a DMS rename rule (table-name) so they load there.', line);
        continue;
      }
      const open = rest.indexOf('(');
      const close = open >= 0 ? matchParen(rest, open) : -1;
      if (open < 0 || close < 0) {
        find(object, 'unparsed', 'error', 'CREATE TABLE without a column list (AS SELECT / OF type) is not supported', 'Write the table with explicit columns.', line);
        continue;
      }
      const body = rest.slice(open + 1, close);
      const tail = rest.slice(close + 1).trim();
      if (/PARTITION\s+BY/i.test(tail)) find(object, 'partitioned-table', 'error', 'partitioned tables are not supported', 'Created unpartitioned; DSQL distributes data by primary key itself. Load every partition into this table.', line);
      const inherits = /INHERITS\s*\(([^)]*)\)/i.exec(tail);
      if (/\bWITH\s*\(/i.test(tail) || /\bTABLESPACE\b/i.test(tail)) find(object, 'storage-options', 'info', 'storage parameters and tablespaces do not apply', 'Removed.', line);
      const table: TableDef = { name, columns: [], constraints: [], line, hasPk: false };
      for (const el of splitTopLevel(body)) {
        if (/^(CONSTRAINT\s|PRIMARY\s+KEY|UNIQUE\b|CHECK\b|FOREIGN\s+KEY|EXCLUDE\b|NOT\s+NULL\s)/i.test(el)) addConstraint(table, el, line);
        else if (/^LIKE\s/i.test(el)) find(object, 'unparsed', 'error', 'LIKE in CREATE TABLE is not converted', 'Expand the columns explicitly.', line);
        else {
          const col = parseColumn(el, name, line);
          if (/\bPRIMARY\s+KEY\b/i.test(col.rest)) table.hasPk = true;
          table.columns.push(col);
        }
      }
      if (inherits) {
        // pg_dump lists only a child's own columns; the inherited ones are copied in from the parents.
        const parents = splitTopLevel(inherits[1]).map(normName);
        const copied: string[] = [];
        const missing: string[] = [];
        for (const p of parents) {
          const parent = tables.get(p);
          if (!parent) {
            missing.push(p);
            continue;
          }
          const inherited = parent.columns.filter((c) => !table.columns.some((own) => own.name === c.name)).map((c) => ({ ...c }));
          table.columns.unshift(...inherited);
          copied.push(...inherited.map((c) => unquote(c.name)));
          for (const [col, cast] of castBack.get(p) ?? []) {
            if (!castBack.has(name)) castBack.set(name, new Map());
            castBack.get(name)!.set(col, cast);
          }
          for (const col of jsonColumns.get(p) ?? []) {
            if (!jsonColumns.has(name)) jsonColumns.set(name, new Set());
            jsonColumns.get(name)!.add(col);
          }
        }
        find(object, 'inheritance', 'error', `table inheritance is not supported (INHERITS ${parents.join(', ')})`, `Created without INHERITS${copied.length ? `, with the inherited columns ${copied.join(', ')} copied in` : ''}${missing.length ? `; parent ${missing.join(', ')} is not defined before it, so its columns are missing — add them` : ''}. Rows of this table no longer show in queries of the parent: query both.`, line);
      }
      tables.set(name, table);
      items.push({ kind: 'table', table });
      continue;
    }
    if ((m = new RegExp(String.raw`^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?(${QNAME})\s+([\s\S]*)$`, 'i').exec(sql))) {
      const name = normName(m[1]);
      const action = m[2].trim();
      const table = tables.get(name);
      const object = `table ${name}`;
      let a: RegExpExecArray | null;
      if ((a = /^ADD\s+(CONSTRAINT\s+\S+\s+)?([\s\S]+)$/i.exec(action)) && /^(PRIMARY\s+KEY|UNIQUE|CHECK|FOREIGN\s+KEY|EXCLUDE|NOT\s+NULL\s)/i.test(a[2])) {
        const el = `${a[1] ?? ''}${a[2]}`.trim();
        if (/FOREIGN\s+KEY/i.test(a[2])) {
          const fk = el.replace(/\s+NOT\s+VALID\s*$/i, '');
          post.push({ sql: `ALTER TABLE ${m[1]} ADD ${fk} NOT VALID`, phase: 'post-load', object: `foreign key on ${name}` });
          find(`constraint ${constraintName(el) ?? '?'} on ${name}`, 'foreign-key', 'warning', 'foreign keys can only be added to an existing DSQL table as NOT VALID', 'Added after the full load as NOT VALID; validate existing rows with ALTER TABLE … VALIDATE CONSTRAINT when the load is verified.', line);
        } else if (!table) {
          find(object, 'unparsed', 'error', `constraint on unknown table ${name}`, 'Create the table first; edit the converted DDL.', line);
        } else addConstraint(table, el, line);
        continue;
      }
      if ((a = new RegExp(String.raw`^ALTER\s+(?:COLUMN\s+)?(${ID})\s+SET\s+DEFAULT\s+([\s\S]+)$`, 'i').exec(action)) && table) {
        const col = table.columns.find((c) => c.name === a![1]);
        if (col) {
          // Replaces a default the column already has (an inherited column copied from its parent keeps the parent's).
          col.rest = fixDefaults(`${removeDefault(col.rest)} DEFAULT ${a[2]}`.trim(), `column ${name}.${unquote(col.name)}`, line);
          continue;
        }
      }
      if ((a = /^ADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?!CONSTRAINT\s|PRIMARY\s|UNIQUE\b|CHECK\b|FOREIGN\s|EXCLUDE\b)([\s\S]+)$/i.exec(action)) && table && !droppedTables.has(name)) {
        const col = parseColumn(a[1], name, line);
        if (!table.columns.some((c) => c.name === col.name)) {
          if (/\bPRIMARY\s+KEY\b/i.test(col.rest)) table.hasPk = true;
          table.columns.push(col);
        }
        find(`column ${name}.${unquote(col.name)}`, 'alter-folded', 'info', `ALTER TABLE ${action.replace(/\s+/g, ' ').slice(0, 60)}`, 'Folded into CREATE TABLE (the column converted like the others): DSQL DDL runs one statement per transaction, and one CREATE is fewer.', line);
        continue;
      }
      if ((a = new RegExp(String.raw`^ALTER\s+(?:COLUMN\s+)?(${ID})\s+SET\s+NOT\s+NULL\s*$`, 'i').exec(action)) && table) {
        const col = table.columns.find((c) => c.name === a![1]);
        if (col) {
          if (!/\bNOT\s+NULL\b/i.test(col.rest)) col.rest = `${col.rest} NOT NULL`.trim();
          find(`column ${name}.${unquote(col.name)}`, 'alter-folded', 'info', 'ALTER TABLE … SET NOT NULL', 'Folded into CREATE TABLE as NOT NULL.', line);
          continue;
        }
      }
      if ((a = new RegExp(String.raw`^ALTER\s+(?:COLUMN\s+)?(${ID})\s+ADD\s+(GENERATED\s+(?:ALWAYS|BY\s+DEFAULT)\s+AS\s+IDENTITY[\s\S]*)$`, 'i').exec(action)) && table) {
        const col = table.columns.find((c) => c.name === a![1]);
        if (col) {
          col.rest = fixIdentity(`${col.rest} ${a[2]}`.trim(), `column ${name}.${unquote(col.name)}`, line);
          continue;
        }
      }
      if ((a = new RegExp(String.raw`^ATTACH\s+PARTITION\s+(${QNAME})`, 'i').exec(action))) {
        const child = normName(a[1]);
        droppedTables.add(child);
        partitionParent.set(child, name);
        find(`table ${child}`, 'partition', 'error', `partition of ${name}: partitions are not supported`, `Dropped; its rows belong in ${name} — map the partition to the parent with a DMS table-name rename rule so they load there.`, line);
        continue;
      }
      if (/^(ENABLE|DISABLE|FORCE|NO\s+FORCE)\s+ROW\s+LEVEL\s+SECURITY/i.test(action)) {
        find(object, 'row-level-security', 'error', 'row-level security is not supported', 'Dropped; enforce row access in the application or with views and IAM-mapped roles.', line);
        continue;
      }
      if (/^(ENABLE|DISABLE)\s+(ALWAYS\s+|REPLICA\s+)?TRIGGER/i.test(action) || /^REPLICA\s+IDENTITY/i.test(action) || /^CLUSTER\s+ON/i.test(action) || /^SET\s+\(/i.test(action)) {
        noise += 1;
        continue;
      }
      if (!table || droppedTables.has(name)) {
        const why = partitionParent.has(name) ? `${name} is a partition of ${partitionParent.get(name)}, which is created unpartitioned` : `${name} is not created by the converted DDL`;
        find(object, 'dropped-table-change', 'warning', `ALTER TABLE ${action.slice(0, 60)}: ${why}`, 'Removed with the table it changes; the parent table has its own definition.', line);
        continue;
      }
      find(object, 'unchecked', 'warning', `ALTER TABLE ${action.slice(0, 60)} was not checked`, 'Kept as is; review it before applying.', line);
      items.push({ kind: 'sql', stmt: { sql, phase: 'schema', object } });
      continue;
    }
    if ((m = new RegExp(String.raw`^CREATE\s+(UNIQUE\s+)?INDEX\s+(?:ASYNC\s+)?(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(${ID})?\s*ON\s+(?:ONLY\s+)?(${QNAME})\s*(?:USING\s+(\w+)\s*)?(\([\s\S]*)$`, 'i').exec(sql))) {
      const idxName = m[2] ? unquote(m[2]) : '(unnamed)';
      const tableName = normName(m[3]);
      const schema = tableName.includes('.') ? `${tableName.split('.')[0]}.` : '';
      const object = `index ${schema}${idxName}`;
      const method = (m[4] ?? 'btree').toLowerCase();
      if (method !== 'btree') {
        find(object, 'index-method', 'error', `${method} indexes are not supported (btree only)`, method === 'gin' || method === 'gist' ? 'Dropped; for JSON or full-text search, index an expression (e.g. (doc->>\'key\')) with btree, or use a search service.' : 'Dropped; a btree index on the same columns usually serves.', line);
        continue;
      }
      const open = 0;
      const cols = m[5];
      const close = matchParen(cols, open);
      let list = cols.slice(1, close);
      const after = cols.slice(close + 1).trim();
      if (/\b(ASC|DESC|NULLS\s+(FIRST|LAST))\b/i.test(list)) {
        find(object, 'index-order', 'warning', 'ASC/DESC/NULLS ordering in CREATE INDEX ASYNC is not supported', 'Removed; btree scans work in both directions.', line);
        list = splitTopLevel(list).map((c) => c.replace(/\s+(ASC|DESC)\b/gi, '').replace(/\s+NULLS\s+(FIRST|LAST)\b/gi, '')).join(', ');
      }
      const opclass = /\s(\w+_ops)\b/.exec(list);
      if (opclass) {
        find(object, 'index-opclass', 'warning', `operator class ${opclass[1]} is not supported`, 'Removed; the default btree operator class is used (C collation makes text_pattern_ops unnecessary).', line);
        list = list.replace(/\s\w+_ops\b/g, '');
      }
      const where = /^(INCLUDE\s*\([^)]*\)\s*)?(NULLS\s+(?:NOT\s+)?DISTINCT\s*)?(WHERE\s[\s\S]*)?$/i.exec(after);
      let unique = !!m[1];
      let onTable = m[3];
      if (matviews.has(tableName)) {
        find(object, 'materialized-view-index', 'warning', `index on materialized view ${tableName}, which is converted to a plain view`, 'Removed: a view has no storage to index. Index the tables the view reads instead.', line);
        continue;
      }
      if (partitionParent.has(tableName)) {
        let root = tableName;
        while (partitionParent.has(root)) root = partitionParent.get(root)!;
        find(object, 'partition-index', 'warning', `index on partition ${tableName}; partitions are dropped`, `Created on ${root} instead${unique ? ' without UNIQUE (unique per partition is not unique across the table)' : ''}; identical indexes of sibling partitions are merged into one.`, line);
        unique = false;
        onTable = root;
      }
      // The current CREATE INDEX ASYNC syntax has key columns and (expressions), INCLUDE and NULLS [NOT]
      // DISTINCT, and no WHERE clause: ${DSQL_DOCS.createIndex}
      let predicate = where?.[3]?.trim();
      if (predicate) {
        if (unique) {
          find(object, 'partial-index', 'error', `partial UNIQUE index (${predicate.slice(0, 80)}): CREATE INDEX ASYNC has no WHERE clause`, 'Removed: without its WHERE the uniqueness would apply to all rows and could reject loaded data. Enforce the rule in the application, or add a UNIQUE index on an expression that is NULL for the excluded rows.', line);
          continue;
        }
        find(object, 'partial-index', 'warning', `partial index (${predicate.slice(0, 80)}): CREATE INDEX ASYNC has no WHERE clause`, 'Created as a full index on the same keys (it serves the same queries; it is larger).', line);
        predicate = undefined;
      }
      const jsonCols = jsonColumns.get(partitionParent.has(tableName) ? onTable : tableName);
      const plainJson = splitTopLevel(list).map((c) => unquote(c.trim())).find((c) => jsonCols?.has(c));
      if (plainJson) {
        find(object, 'json-index', 'error', `index on column ${plainJson}, now json: json has no btree operator class`, "Removed; index an expression such as ((col->>'key')) instead.", line);
        continue;
      }
      // Expression keys over columns now stored as json/text (jsonb, arrays, inet…) get the column cast back.
      const castCols = castBack.get(partitionParent.has(tableName) ? normName(onTable) : tableName);
      let arrayIndex: string | undefined;
      if (castCols) {
        let casts = 0;
        list = splitTopLevel(list)
          .map((el) => {
            if (new RegExp(String.raw`^${ID}$`).test(el.trim())) return el;
            const probe = `SELECT ${el} FROM ${onTable}`;
            if (!arrayIndex) arrayIndex = [...castCols].find(([c, t]) => /\[\]$/.test(t) && castColumnRefs(probe, new Map([[tableName, new Map([[c, t]])]])).count > 0)?.[0];
            const r = castColumnRefs(probe, new Map([[partitionParent.has(tableName) ? normName(onTable) : tableName, castCols]]));
            casts += r.count;
            return r.count ? r.sql.slice('SELECT '.length, r.sql.length - ` FROM ${onTable}`.length) : el;
          })
          .join(', ');
        if (arrayIndex) {
          // text -> text[] goes through array_in, which is STABLE: PostgreSQL refuses it in an index expression.
          find(object, 'index-expression', 'error', `index expression uses ${arrayIndex}, an array column now stored as text: the cast back to an array is not immutable`, 'Removed; index a generated STORED column computed from the text instead, or normalize the array into a child table.', line);
          continue;
        }
        if (casts) find(object, 'cast-back', 'warning', `${casts} reference(s) to columns stored as json/text in index expressions`, `Cast back to the source type so the expression keeps its meaning (${DSQL_DOCS.dataTypes}: jsonb, arrays and inet are query-runtime types).`, line);
      }
      const expression = splitTopLevel(list).some((c) => c.trim().startsWith('('));
      // INCLUDE and NULLS [NOT] DISTINCT are kept: without NULLS NOT DISTINCT a UNIQUE index would accept duplicate NULLs the source refused.
      const tailSql = [where?.[1], where?.[2]].filter((x) => x).map((x) => ` ${x!.trim()}`).join('');
      post.push({ sql: `CREATE ${unique ? 'UNIQUE ' : ''}INDEX ASYNC ${m[2] ?? ''} ON ${onTable} (${list})${tailSql}`.replace(/\s+/g, ' ').trim(), phase: 'post-load', object });
      find(object, 'index-async', 'info', `secondary indexes are built asynchronously in Aurora DSQL${expression ? ' (expression keys are supported; their functions must be immutable)' : ''}`, 'Converted to CREATE INDEX ASYNC and moved after the full load (loads write less; --apply waits for the index job).', line);
      continue;
    }
    if ((m = new RegExp(String.raw`^ALTER\s+INDEX\s+\S+\s+ATTACH\s+PARTITION`, 'i').exec(sql))) {
      noise += 1;
      continue;
    }
    if ((m = new RegExp(String.raw`^ALTER\s+INDEX\s+(?:IF\s+EXISTS\s+)?(${QNAME})\s+([\s\S]*)$`, 'i').exec(sql))) {
      // Statistics targets and storage options of an index (danbooru: ALTER INDEX … SET STATISTICS 3000);
      // the index itself is built after the load (or was dropped, with its own finding).
      find(`index ${normName(m[1])}`, 'index-option', 'info', `ALTER INDEX ${m[2].replace(/\s+/g, ' ').slice(0, 60)}: index options and statistics targets are not carried over`, 'Removed; Aurora DSQL manages index storage and statistics itself.', line);
      continue;
    }
    if ((m = new RegExp(String.raw`^CREATE\s+(?:OR\s+REPLACE\s+)?(FUNCTION|PROCEDURE)\s+(${QNAME})\s*\(`, 'i').exec(sql))) {
      const kind = m[1].toLowerCase();
      const object = `${kind} ${normName(m[2])}`;
      const lang = (/\bLANGUAGE\s+['"]?(\w+)['"]?/i.exec(sql)?.[1] ?? 'sql').toLowerCase();
      if (/\bRETURNS\s+(event_)?trigger\b/i.test(sql)) {
        droppedFunctions.add(normName(m[2]));
        find(object, 'trigger-function', 'error', 'trigger functions have no use: Aurora DSQL has no triggers', 'Dropped with its triggers; move the logic into the application or the loader step that writes these rows.', line);
        continue;
      }
      if (lang !== 'sql' && lang !== 'plpgsql') {
        find(object, 'function-language', 'error', `LANGUAGE ${lang} is not supported (SQL and PL/pgSQL only)`, 'Dropped; rewrite it in SQL or PL/pgSQL, or move it to the application.', line);
        continue;
      }
      // SQL and PL/pgSQL functions are supported (${DSQL_DOCS.plpgsql}; the translated "unsupported
      // features" pages still list PL/pgSQL, the English ones do not). The body runs under DSQL's rules: no
      // TRUNCATE, SAVEPOINT or VACUUM, no temporary tables, and DDL cannot share a transaction with DML
      // (${DSQL_DOCS.unsupported}). Checked statement by statement
      // with PostgreSQL's PL/pgSQL parser, not by pattern.
      const body = functionStatements(sql);
      const bad = body.statements.filter((st) => FORBIDDEN_IN_FUNCTIONS.has(st.kind) || (st.kind === 'CreateStmt' && /\bTEMP(ORARY)?\b/i.test(st.text)));
      if (bad.length) {
        droppedFunctions.add(normName(m[2]));
        find(object, 'function-body', 'error', `the body runs ${bad.map((b) => `${b.kind.replace(/Stmt$/, '').toUpperCase()} (${b.text})`).join('; ')}, which Aurora DSQL does not allow in a function`, 'Function dropped; rewrite it without these statements (e.g. DELETE in batches instead of TRUNCATE) or move it to the application.', line);
        continue;
      }
      if (body.dynamic) find(object, 'function-dynamic-sql', 'warning', 'the body runs EXECUTE of a built string, which cannot be checked before it runs', 'Kept; make sure the statements it builds follow DSQL rules (no TRUNCATE, temp tables, DDL mixed with DML).', line);
      if (lang === 'plpgsql') find(object, 'plpgsql', 'info', 'PL/pgSQL function: its statements were checked for TRUNCATE, SAVEPOINT, VACUUM, temporary tables and DDL', 'Kept as is.', line);
      items.push({ kind: 'sql', stmt: { sql, phase: 'schema', object } });
      continue;
    }
    if ((m = new RegExp(String.raw`^CREATE\s+(?:CONSTRAINT\s+)?TRIGGER\s+(${ID})\s[\s\S]*?\sON\s+(${QNAME})`, 'i').exec(sql))) {
      find(`trigger ${unquote(m[1])} on ${normName(m[2])}`, 'trigger', 'error', 'triggers are not supported', 'Dropped; move the logic into the application (or a scheduled job for derived data).', line);
      continue;
    }
    if ((m = new RegExp(String.raw`^CREATE\s+(?:OR\s+REPLACE\s+)?(?:(MATERIALIZED)\s+)?VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?(${QNAME})([\s\S]*)$`, 'i').exec(sql))) {
      const object = `view ${normName(m[2])}`;
      let body = m[3];
      if (m[1]) {
        matviews.add(normName(m[2]));
        find(object, 'materialized-view', 'error', 'materialized views are not supported', 'Converted to a plain view (computed on read); for a cache, keep a table refreshed by a scheduled job.', line);
        body = body.replace(/\s+WITH\s+(NO\s+)?DATA\s*$/i, '');
      }
      items.push({ kind: 'sql', stmt: { sql: `CREATE VIEW ${m[2]}${body}`, phase: 'schema', object } });
      continue;
    }
    if (/^REFRESH\s+MATERIALIZED\s+VIEW/i.test(sql)) continue;
    const unsupported: Array<[RegExp, string, string]> = [
      [/^CREATE\s+(OR\s+REPLACE\s+)?RULE\s+(\S+)/i, 'rule', 'Dropped; rules are not supported — use views or application logic.'],
      [/^CREATE\s+POLICY\s+(\S+)/i, 'row-level-security', 'Dropped; row-level security is not supported.'],
      [/^CREATE\s+EVENT\s+TRIGGER\s+(\S+)/i, 'trigger', 'Dropped; event triggers are not supported.'],
      [/^CREATE\s+(PUBLICATION|SUBSCRIPTION)\s+(\S+)/i, 'replication', 'Dropped; use DSQL streams or DMS for change data.'],
      [/^CREATE\s+(AGGREGATE|OPERATOR|COLLATION|CAST|CONVERSION|TEXT\s+SEARCH|FOREIGN|SERVER|USER\s+MAPPING|TABLESPACE|STATISTICS|LANGUAGE|ACCESS\s+METHOD)\b/i, 'unsupported-object', 'Dropped; not supported or not needed in Aurora DSQL.'],
      [/^TRUNCATE\b/i, 'truncate', 'Dropped; TRUNCATE is not supported — delete in batches of at most 3,000 rows.'],
      [/^CREATE\s+DATABASE\b/i, 'database', 'Dropped; Aurora DSQL has the single database postgres.'],
    ];
    const hit = unsupported.find(([re]) => re.test(sql));
    const agg = new RegExp(String.raw`^CREATE\s+(?:OR\s+REPLACE\s+)?AGGREGATE\s+(${QNAME})`, 'i').exec(sql);
    if (agg) droppedFunctions.add(normName(agg[1]));
    if (hit) {
      find(firstWords(sql), hit[1], 'error', `${firstWords(sql)} is not supported`, hit[2], line);
      continue;
    }
    // Anything else is not a schema object this converter knows (DO blocks and CALL/SELECT run code, roles
    // and their password hashes are cluster-wide, MERGE/WITH change data): removed and named, never applied
    // unchecked — a statement nobody reviewed must not reach a target that holds data.
    find(firstWords(sql), 'unsupported-statement', 'error', `statement ${firstWords(sql)} (${statementKind(sql)}) is not a schema object the converter knows`, 'Removed from the converted DDL. If it is needed, review it and run it by hand after --apply (Aurora DSQL roles: CREATE ROLE plus AWS IAM GRANT).', line);
    void up;
  }

  for (const p of searchPaths.filter((x) => x.objects.length)) {
    find('(dump)', 'search-path', 'warning', `SET search_path = ${p.path}: ${p.objects.length} object(s) after it are not schema-qualified (${p.objects.slice(0, 10).join(', ')}${p.objects.length > 10 ? ', …' : ''}) and are created in public by the converted DDL`, `Qualify them in the dump (pg_dump does), or edit converted.sql to put them in ${p.path.split(', ')[0]}.`, p.line);
  }
  // pg_dumpall output: objects of several databases (after \connect) would all land in one target database.
  const connects = script.split('\n').flatMap((l, k) => {
    const c = /^\\(?:connect|c)\s+(?:-reuse-previous=\S+\s+)?("(?:[^"]|"")+"|\S+)/.exec(l);
    return c ? [{ line: k + 1, db: unquote(c[1]) }] : [];
  });
  if (connects.length) {
    const withObjects = new Set<string>();
    for (const st of stmts) {
      const db = connects.filter((c) => c.line < st.line).pop()?.db;
      if (db && /^CREATE\s+(?!DATABASE|ROLE|USER|TABLESPACE)/i.test(st.sql)) withObjects.add(db);
    }
    if (withObjects.size > 1) {
      find('(dump)', 'multiple-databases', 'error', `the dump holds objects of ${withObjects.size} databases (${[...withObjects].join(', ')}); Aurora DSQL has one database (postgres) and the converter merges them into it`, 'Dump and convert each database on its own (pg_dump --schema-only per database), then decide how their schemas share the cluster; objects created twice are removed and named.', 0);
    }
  }
  for (const t of tables.values()) {
    if (!t.hasPk && !droppedTables.has(t.name) && !matviews.has(t.name)) {
      find(`table ${t.name}`, 'no-primary-key', 'error', 'table has no primary key: the loader cannot load it idempotently or apply updates and deletes', 'Add a primary key in the source (or in the converted DDL) before the full load.', t.line);
    }
  }
  for (const [target, d] of dataStatements) {
    find(`data for ${target}`, 'data-statement', 'info', `${d.n} data statement(s) (INSERT/UPDATE/COPY) with ${d.rows} row(s) in a schema dump (e.g. Rails structure.sql schema_migrations rows)`, 'Removed from the DDL; the rows arrive with the full load like every other table.', d.line);
  }
  if (noise > 0) {
    findings.push({ object: '(dump)', rule: 'dump-noise', severity: 'info', message: `${noise} statement(s) without meaning in DSQL were dropped: SET, OWNER TO, GRANT/REVOKE, COMMENT, OWNED BY, REPLICA IDENTITY`, fix: 'Re-create grants for DSQL roles (mapped with AWS IAM GRANT) after the migration.', line: 0 });
  }

  // Order for one-statement-per-transaction apply: schemas, sequences, then tables, functions, views
  // and other kept statements in dependency order (computed from what each statement refers to, with
  // PostgreSQL's parser: SQL function bodies and views are checked at CREATE, CHECKs and defaults may call
  // functions, functions may take a table's row type), then post-load indexes and foreign keys.
  const deEnum = (sql: string) => {
    let out = sql;
    for (const t of [...enums.keys(), ...domains.keys()]) {
      // Each part as written plain or "quoted" (pg_dump --quote-all-identifiers quotes every name).
      const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const part = (x: string) => (x.startsWith('"') ? esc(x) : `(?:${esc(x)}|"${esc(x)}")`);
      const parts = t.match(/"(?:[^"]|"")*"|[^."]+/g) ?? [t];
      const re = new RegExp(String.raw`::\s*(?:${parts.map(part).join(String.raw`\s*\.\s*`)}|${part(parts[parts.length - 1])})(?![\w$"])(\[\])?`, 'g');
      out = out.replace(re, (_m, arr) => `::${domains.has(t) ? domains.get(t) : 'text'}${arr ?? ''}`);
    }
    return out;
  };
  /** Casts columns stored as json/text back to jsonb/array where an expression uses them. */
  const withCasts = (sql: string, relations: Iterable<string>, object: string, line: number): string => {
    const cols = new Map<string, Map<string, string>>();
    for (const rel of relations) if (castBack.has(rel)) cols.set(rel, castBack.get(rel)!);
    const r = castColumnRefs(sql, cols);
    if (r.count > 0) find(object, 'cast-back', 'warning', `${r.count} reference(s) to columns stored as json/text (source jsonb/array) in expressions`, `Cast back explicitly (e.g. col::jsonb) so jsonb/array functions and operators keep working (${DSQL_DOCS.dataTypes}: jsonb and arrays are query-runtime types).`, line);
    return r.sql;
  };
  const statements: ConvertedStatement[] = [];
  const schemas = items.filter((i) => i.kind === 'sql' && i.stmt.object.startsWith('schema '));
  for (const i of schemas) if (i.kind === 'sql') statements.push(i.stmt);
  statements.push(...sequences);

  type Obj = { stmt: ConvertedStatement; key: string; deps: string[]; line: number };
  const objs: Obj[] = [];
  // Keys as PostgreSQL's parser reports references (refsOf): parts unquoted, case kept. The objects' names
  // are normName()s, which keep the quotes of a mixed-case part (public."Items"); without this a view or
  // function over a mixed-case table or function was dropped as using an object the DDL does not create.
  const keyOf = (name: string) => {
    const parts = (name.match(/"(?:[^"]|"")*"|[^."]+/g) ?? [name]).map(unquote);
    return (parts.length > 1 ? parts : ['public', ...parts]).join('.');
  };
  for (const i of items) {
    if (i.kind !== 'table' || droppedTables.has(i.table.name)) continue;
    const object = `table ${i.table.name}`;
    // A CHECK or default that calls a function the conversion dropped would fail the whole CREATE TABLE:
    // remove that constraint/default (reported), never the table.
    const goneFns = [...droppedFunctions].map((f) => f.split('.').pop()!);
    const callsGone = (text: string) => goneFns.find((f) => new RegExp(String.raw`(?:^|[^\w$])${f.replace(/[$]/g, '\\$')}\s*\(`, 'i').test(text));
    i.table.constraints = i.table.constraints.filter((c) => {
      const f = callsGone(c);
      if (f) find(`constraint ${constraintName(c) ?? '(unnamed)'} on ${i.table.name}`, 'dependent-object', 'error', `calls ${f}(), which the conversion dropped`, 'Constraint removed (the table is kept); enforce the rule in the application or rewrite it without that function.', i.table.line);
      return !f;
    });
    for (const col of i.table.columns) {
      const f = callsGone(defaultExpression(col.rest) ?? '');
      if (f) {
        find(`column ${i.table.name}.${unquote(col.name)}`, 'dependent-object', 'error', `default calls ${f}(), which the conversion dropped`, 'Default removed (the column is kept); the application must supply the value.', i.table.line);
        col.rest = removeDefault(col.rest);
      }
    }
    const sql = withCasts(deEnum(renderTable(i.table)), [i.table.name], object, i.table.line);
    const refs = refsOf(sql);
    objs.push({ stmt: { sql, phase: 'schema', object }, key: keyOf(i.table.name), deps: [...refs.functions, ...refs.types].filter((d) => d !== keyOf(i.table.name)), line: i.table.line });
  }
  for (const i of items) {
    if (i.kind !== 'sql' || schemas.includes(i)) continue;
    const name = i.stmt.object.replace(/^(function|procedure|view) /, '');
    let sql = deEnum(i.stmt.sql);
    let refs = refsOf(sql);
    if (i.stmt.object.startsWith('view ')) {
      sql = withCasts(sql, refs.relations, i.stmt.object, 0);
      refs = refsOf(sql);
    }
    // An SQL function's body is checked against its declared result at CREATE: cast converted columns back there too.
    const body = /^CREATE\b[\s\S]*?\bLANGUAGE\s+"?sql\b[\s\S]*?\bAS\s+(\$[A-Za-z_]*\$)([\s\S]*?)\1/i.exec(sql) ?? /^CREATE\b[\s\S]*?\bAS\s+(\$[A-Za-z_]*\$)([\s\S]*?)\1[\s\S]*\bLANGUAGE\s+"?sql\b/i.exec(sql);
    if (body && /^(function|procedure) /.test(i.stmt.object)) {
      const castBody = withCasts(body[2], refs.relations, i.stmt.object, 0);
      if (castBody !== body[2]) sql = sql.replace(`${body[1]}${body[2]}${body[1]}`, () => `${body[1]}${castBody}${body[1]}`);
    }
    objs.push({ stmt: { ...i.stmt, sql }, key: keyOf(name), deps: [...refs.relations, ...refs.functions, ...refs.types].filter((d) => d !== keyOf(name)), line: 0 });
  }
  // Objects that use a dropped function (trigger function, forbidden body) or a dropped table cannot be created.
  const gone = new Set<string>([...droppedFunctions].map(keyOf));
  for (const t of droppedTables) if (!partitionParent.has(t)) gone.add(keyOf(t));
  for (const t of droppedTypes) gone.add(keyOf(t));
  const droppedDeps = new Set(gone);
  // Relations an extension provides (its tables/views) or that nothing here creates: a view or SQL function
  // reading them cannot be created (PostgreSQL checks at CREATE).
  const created = new Set<string>([...objs.map((o) => o.key), ...sequences.map((q) => keyOf(q.object.replace(/^sequence /, '')))]);
  for (const o of objs) {
    for (const d of o.deps) {
      const short = d.split('.').pop()!;
      const isRelation = o.stmt.object.startsWith('view ') || o.stmt.object.startsWith('function ') || o.stmt.object.startsWith('procedure ');
      if (!isRelation || !d.includes('.') || created.has(d)) continue;
      if (EXTENSION_OBJECTS.has(short) || (!/^(pg_catalog|information_schema)\./.test(d) && !short.startsWith('pg_') && refsOf(o.stmt.sql).relations.has(d))) gone.add(d);
    }
  }
  for (let changed = true; changed; ) {
    changed = false;
    for (const o of objs) {
      const uses = o.deps.find((d) => gone.has(d) || gone.has(keyOf(d)));
      if (uses && o.stmt.object.startsWith('table ')) {
        // Never drop a table for a dependency: keep it and name what to remove (--apply then stops at it, naming it).
        if (!gone.has(`kept ${o.stmt.object}`)) {
          gone.add(`kept ${o.stmt.object}`);
          find(o.stmt.object, 'dependent-object', 'error', `an expression in it uses ${uses}, which the converted DDL does not create`, `Table kept: remove or rewrite the expression that uses ${uses} in converted.sql before applying.`, o.line);
        }
        continue;
      }
      if (uses && !gone.has(`${o.stmt.object}`)) {
        gone.add(o.key);
        gone.add(o.stmt.object);
        const why = droppedDeps.has(uses) || droppedDeps.has(keyOf(uses)) ? 'which the conversion dropped' : "which the converted DDL does not create (an extension's object)";
        find(o.stmt.object, 'dependent-object', 'error', `uses ${uses}, ${why}`, 'Dropped with it; rewrite it without that dependency.', o.line);
        changed = true;
      }
    }
  }
  const live = objs.filter((o) => !gone.has(o.stmt.object));
  const byKey = new Map<string, Obj[]>();
  for (const o of live) byKey.set(o.key, [...(byKey.get(o.key) ?? []), o]);
  const state = new Map<Obj, 'visiting' | 'done'>();
  const visit = (o: Obj) => {
    if (state.has(o)) return; // done, or a cycle (left in dump order)
    state.set(o, 'visiting');
    for (const d of o.deps) for (const dep of byKey.get(d) ?? byKey.get(keyOf(d)) ?? []) visit(dep);
    state.set(o, 'done');
    statements.push(o.stmt);
  };
  for (const o of live) visit(o);

  // Post-load: foreign keys and indexes of partitions move to the parent (merged when identical);
  // anything on a table the DDL does not create is reported and removed — never dropped silently.
  const rootOf = (t: string) => {
    let r = t;
    while (partitionParent.has(r)) r = partitionParent.get(r)!;
    return r;
  };
  const seen = new Set<string>();
  const postKept: ConvertedStatement[] = [];
  for (const p0 of post) {
    let p = p0;
    const fk = /^ALTER TABLE (\S+) ADD\s+(?:CONSTRAINT\s+(\S+)\s+)?([\s\S]*)$/i.exec(p.sql); // the constraint text keeps the dump's line breaks
    if (fk) {
      const t = normName(fk[1]);
      let body = fk[3];
      const ref = new RegExp(String.raw`REFERENCES\s+(${QNAME})`, 'i').exec(body);
      const refT = ref ? normName(ref[1]) : undefined;
      if (partitionParent.has(t) || (refT && partitionParent.has(refT))) {
        const root = rootOf(t);
        if (refT && partitionParent.has(refT)) body = body.replace(ref![1], rootOf(refT));
        find(`constraint ${fk[2] ?? '(unnamed)'} on ${t}`, 'partition-foreign-key', 'warning', `foreign key ${partitionParent.has(t) ? `of partition ${t}` : `referencing partition ${refT}`}; partitions are dropped`, `Added to ${root}${refT && partitionParent.has(refT) ? ` referencing ${rootOf(refT)}` : ''} instead; identical keys of sibling partitions are merged into one.`, 0);
        p = { ...p, sql: `ALTER TABLE ${root} ADD ${fk[2] ? `CONSTRAINT ${fk[2]} ` : ''}${body}`, object: `foreign key on ${root}` };
      } else if (droppedTables.has(t) || (refT && droppedTables.has(refT))) {
        find(`constraint ${fk[2] ?? '(unnamed)'} on ${t}`, 'dependent-object', 'error', `foreign key on/to a table the conversion dropped`, 'Removed; recreate it when both tables exist.', 0);
        continue;
      }
      const dedupe = `fk ${normName(p.sql.split(' ')[2])} ${body.replace(/\s+/g, ' ')}`;
      if (seen.has(dedupe)) continue;
      seen.add(dedupe);
    } else {
      const dedupe = p.sql.replace(/INDEX ASYNC (?:"(?:[^"]|"")+"|\S+) ON/i, 'INDEX ASYNC ON');
      if (seen.has(dedupe)) continue;
      seen.add(dedupe);
    }
    postKept.push(p);
  }
  statements.push(...postKept.filter((p) => p.object.startsWith('index ')), ...postKept.filter((p) => !p.object.startsWith('index ')));

  // Last line of defence: PostgreSQL's parser sees every converted statement; nothing destructive leaves.
  for (let k = statements.length - 1; k >= 0; k -= 1) {
    const kind = destructiveKind(statements[k].sql);
    if (kind) {
      find(statements[k].object, 'destructive-statement', 'error', `converted statement is destructive (${kind})`, 'Removed.', 0);
      statements.splice(k, 1);
    }
  }
  const count = (sev: Severity) => findings.filter((f) => f.severity === sev).length;
  return {
    findings,
    statements,
    summary: { statementsIn: stmts.length, statementsOut: statements.length, errors: count('error'), warnings: count('warning'), infos: count('info') },
  };

  function addConstraint(table: TableDef, el: string, line: number) {
    const object = `constraint ${constraintName(el) ?? '(unnamed)'} on ${table.name}`;
    if (/\bFOREIGN\s+KEY\b/i.test(el)) {
      const fk = el.replace(/\s+NOT\s+VALID\s*$/i, '');
      post.push({ sql: `ALTER TABLE ${table.name} ADD ${fk} NOT VALID`, phase: 'post-load', object: `foreign key on ${table.name}` });
      find(object, 'foreign-key', 'warning', 'foreign key moved after the full load', 'Added after the full load as NOT VALID; validate when the load is verified.', line);
      return;
    }
    if (/\bEXCLUDE\b/i.test(el)) {
      find(object, 'exclusion-constraint', 'error', 'exclusion constraints are not supported', 'Dropped; enforce the rule in the application.', line);
      return;
    }
    const nn = new RegExp(String.raw`^(?:CONSTRAINT\s+${ID}\s+)?NOT\s+NULL\s+(${ID})(\s+NO\s+INHERIT)?\s*$`, 'i').exec(el.trim());
    if (nn) {
      // PostgreSQL 18 writes named NOT NULL constraints at table level; PostgreSQL 16 (and DSQL) only know the column form.
      const col = table.columns.find((c) => c.name === nn[1]);
      find(object, 'not-null-constraint', 'info', 'table-level NOT NULL constraint (PostgreSQL 18 syntax)', col ? `Folded into column ${unquote(nn[1])} as NOT NULL (the constraint name is not kept).` : `Removed: column ${unquote(nn[1])} is not defined before it; add NOT NULL to it by hand.`, line);
      if (col && !/\bNOT\s+NULL\b/i.test(col.rest)) col.rest = `${col.rest} NOT NULL`.trim();
      return;
    }
    if (/\bPRIMARY\s+KEY\b/i.test(el)) table.hasPk = true;
    table.constraints.push(el.replace(/\s+NOT\s+VALID\s*$/i, '').replace(/\s+USING\s+INDEX\s+TABLESPACE\s+\S+/i, ''));
  }
}

/** Where `DEFAULT <expression>` starts and ends in a column definition tail. */
function defaultSpan(rest: string): { at: number; exprStart: number; end: number } | undefined {
  const at = rest.search(/\bDEFAULT\s/i);
  if (at < 0) return undefined;
  let i = at + 'DEFAULT'.length;
  let depth = 0;
  for (; i < rest.length; i += 1) {
    const ch = rest[i];
    if (ch === "'" || ch === '"') {
      i = quoteEnd(rest, i);
      continue;
    }
    if (ch === '(') depth += 1;
    if (ch === ')') depth -= 1;
    if (depth === 0 && /^\s+(NOT\s+NULL|NULL|CHECK|CONSTRAINT|GENERATED|PRIMARY\s+KEY|UNIQUE|REFERENCES)\b/i.test(rest.slice(i))) break;
  }
  return { at, exprStart: at + 'DEFAULT'.length, end: i };
}

/** The expression of `DEFAULT <expression>` in a column definition tail. */
function defaultExpression(rest: string): string | undefined {
  const span = defaultSpan(rest);
  return span ? rest.slice(span.exprStart, span.end).trim() : undefined;
}

/** Removes `DEFAULT <expression>` from a column definition tail. */
function removeDefault(rest: string): string {
  const span = defaultSpan(rest);
  if (!span) return rest;
  return `${rest.slice(0, span.at)}${rest.slice(span.end)}`.replace(/\s+/g, ' ').trim();
}

function renderTable(t: TableDef): string {
  const lines = [...t.columns.map((c) => `    ${c.name} ${c.type}${c.rest ? ` ${c.rest}` : ''}`), ...t.constraints.map((c) => `    ${c}`)];
  return `CREATE TABLE ${t.name} (\n${lines.join(',\n')}\n)`;
}

function constraintName(el: string): string | undefined {
  const m = /^CONSTRAINT\s+("(?:[^"]|"")+"|\S+)/i.exec(el.trim());
  return m ? unquote(m[1]) : undefined;
}

function unquote(s: string): string {
  return s.startsWith('"') ? s.slice(1, -1).replace(/""/g, '"') : s;
}

/** schema.name as PostgreSQL resolves it: unquoted parts fold to lower case; "quoted" parts keep their case, and a quoted plain lower-case name ("status", as --quote-all-identifiers writes) is the same as unquoted. Dots inside quotes do not split. */
function normName(s: string): string {
  const parts = s.trim().match(/"(?:[^"]|"")*"|[^."]+/g) ?? [s.trim()];
  return parts
    .map((p) => p.trim())
    .map((p) => (p.startsWith('"') ? (/^"[a-z_][a-z0-9_$]*"$/.test(p) ? p.slice(1, -1) : p) : p.toLowerCase()))
    .join('.');
}

/** Rows an INSERT … VALUES writes (its VALUES lists, by PostgreSQL's parser); 0 for UPDATE or INSERT … SELECT. */
function insertRows(sql: string): number {
  if (!/^INSERT/i.test(sql)) return 0;
  const p = parseStatements(sql);
  if ('error' in p) return 0;
  const sel = ((p.stmts[0]?.InsertStmt as Record<string, any> | undefined)?.selectStmt?.SelectStmt ?? {}) as { valuesLists?: unknown[] };
  return sel.valuesLists?.length ?? 0;
}

/** PostgreSQL's name for what a statement is (e.g. DoStmt, CreateRoleStmt), or "unparsable". */
function statementKind(sql: string): string {
  const p = parseStatements(sql);
  return 'error' in p ? `unparsable: ${p.error}` : p.stmts.map((x) => Object.keys(x)[0]).join(', ') || 'empty';
}

function firstWords(sql: string, n = 4): string {
  return sql.replace(/\s+/g, ' ').split(' ').slice(0, n).join(' ');
}

function extensionFix(ext: string): string {
  const known: Record<string, string> = {
    'uuid-ossp': 'Use gen_random_uuid() (built in) instead of uuid_generate_v4().',
    pgcrypto: 'gen_random_uuid() and digest functions such as md5/sha256 are built in; encrypt in the application.',
    postgis: 'Store geometry as text/bytea (WKT/WKB) and do spatial work in the application or a spatial service.',
    vector: 'pgvector is not available; keep embeddings in a vector store (e.g. OpenSearch, S3 Vectors).',
    pg_trgm: 'Trigram search is not available; use a search service or prefix (btree) lookups.',
    hstore: 'Columns of type hstore become text; consider json.',
    citext: 'Columns of type citext become text; compare with lower() and an expression index.',
  };
  return `Dropped. ${known[ext] ?? 'Replace what the application uses from it, or move that logic out of the database.'}`;
}

/** The report as markdown: a summary and one row per finding. */
export function reportMarkdown(result: ConversionResult, input: string): string {
  const s = result.summary;
  const rows = result.findings
    .slice()
    .sort((a, b) => sevRank(a.severity) - sevRank(b.severity) || a.line - b.line)
    .map((f) => `| ${f.severity} | ${esc(f.object)} | ${f.rule} | ${esc(f.message)} | ${esc(f.fix)} | ${f.line || ''} |`);
  return [
    `# Aurora DSQL compatibility report: ${input}`,
    '',
    `${s.statementsIn} statements read, ${s.statementsOut} converted statements (apply one per transaction). Findings: ${s.errors} error(s), ${s.warnings} warning(s), ${s.infos} info.`,
    '',
    '| severity | object | rule | finding | fix | line |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

/** Converted DDL as a script: one statement per transaction, phases marked. */
export function convertedSql(result: ConversionResult): string {
  const out: string[] = ['-- Converted for Aurora DSQL by db-ops-kit (npm run dsql-schema). Apply one statement per transaction.'];
  let phase = '';
  for (const st of result.statements) {
    if (st.phase !== phase) {
      phase = st.phase;
      out.push('', phase === 'schema' ? '-- Phase: schema (before the full load)' : '-- Phase: post-load (after the full load is verified)');
    }
    out.push('', `-- ${st.object}`, `${st.sql};`);
  }
  return out.join('\n') + '\n';
}

function sevRank(s: Severity): number {
  return s === 'error' ? 0 : s === 'warning' ? 1 : 2;
}

function esc(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
