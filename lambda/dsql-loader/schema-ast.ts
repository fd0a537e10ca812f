/**
 * PostgreSQL's own parser (libpg-query, the PostgreSQL 18 grammar compiled to WebAssembly — no native
 * build, no download at install) for the checks a regex cannot do reliably: what a statement is, which
 * tables, functions and types it refers to (dependency order), what a PL/pgSQL or SQL function body
 * runs, and where in a statement a column is referenced (so a cast can be inserted at that spot).
 */
import { loadModule, parsePlPgSQLSync, parseSync } from 'libpg-query';

let loaded: Promise<void> | undefined;

/** Loads the parser's WebAssembly module once; every other function here needs it. */
export function initParser(): Promise<void> {
  loaded ??= loadModule();
  return loaded;
}

type Node = Record<string, unknown>;

/** Parses SQL into raw statements (`{ CreateStmt: … }`), or returns the parser's error message. */
export function parseStatements(sql: string): { stmts: Node[] } | { error: string } {
  try {
    const r = parseSync(sql) as { stmts?: Array<{ stmt: Node }> };
    return { stmts: (r.stmts ?? []).map((s) => s.stmt) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** Calls `fn(key, value)` for every object node in the tree (depth first). */
export function walk(node: unknown, fn: (key: string, value: Node) => void): void {
  if (Array.isArray(node)) {
    for (const n of node) walk(n, fn);
    return;
  }
  if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node as Node)) {
      if (v && typeof v === 'object' && !Array.isArray(v)) fn(k, v as Node);
      walk(v, fn);
    }
  }
}

function names(list: unknown): string[] {
  return Array.isArray(list) ? list.map((x) => ((x as Node).String as Node | undefined)?.sval as string).filter((x) => x !== undefined) : [];
}

/** Default schema for unqualified names in a pg_dump (its search_path is empty, so names are qualified anyway). */
const qualify = (parts: string[]): string => (parts.length >= 2 ? parts.slice(-2).join('.') : `public.${parts[0]}`);

export interface Refs {
  /** Tables/views read or written (`schema.name`, lower case as PostgreSQL folds them). */
  readonly relations: Set<string>;
  /** Functions called (`schema.name`; unqualified calls are listed as `public.name` and as the bare name). */
  readonly functions: Set<string>;
  /** Non-catalog types named (`schema.name`): row types of tables, dropped enum/domain types, extension types. */
  readonly types: Set<string>;
  /** Statement node kinds seen, e.g. TruncateStmt, DeleteStmt, CreateStmt. */
  readonly kinds: Set<string>;
}

/** What the SQL refers to. SQL-language function bodies are parsed too (PostgreSQL checks them at CREATE). */
export function refsOf(sql: string): Refs {
  const refs: Refs = { relations: new Set(), functions: new Set(), types: new Set(), kinds: new Set() };
  const parsed = parseStatements(sql);
  if ('error' in parsed) return refs;
  collect(parsed.stmts, refs);
  return refs;
}

function collect(tree: unknown, refs: Refs): void {
  const ctes = new Set<string>();
  walk(tree, (key, v) => {
    if (key === 'CommonTableExpr' && typeof v.ctename === 'string') ctes.add(v.ctename);
  });
  walk(tree, (key, v) => {
    if (/Stmt$/.test(key)) refs.kinds.add(key);
    if (key === 'RangeVar' || key === 'relation' || key === 'view') {
      const rel = v.relname as string | undefined;
      if (rel && !(v.schemaname === undefined && ctes.has(rel))) refs.relations.add(qualify([...(v.schemaname ? [v.schemaname as string] : []), rel]));
    }
    if (key === 'FuncCall') {
      const parts = names(v.funcname);
      if (parts.length && parts[0] !== 'pg_catalog') {
        refs.functions.add(qualify(parts));
        if (parts.length === 1) refs.functions.add(parts[0]);
      }
    }
    if (key === 'TypeName' || key === 'typeName' || key === 'returnType' || key === 'argType') {
      const parts = names(v.names);
      if (parts.length && parts[0] !== 'pg_catalog') refs.types.add(qualify(parts));
    }
    if (key === 'CreateFunctionStmt') {
      const lang = functionLanguage(v);
      const body = functionBody(v);
      if (body !== undefined && lang === 'sql') {
        const inner = parseStatements(body);
        if (!('error' in inner)) collect(inner.stmts, refs);
      }
    }
  });
}

function functionLanguage(stmt: Node): string {
  for (const o of (stmt.options as Node[] | undefined) ?? []) {
    const d = o.DefElem as Node | undefined;
    if (d?.defname === 'language') return String(((d.arg as Node).String as Node).sval).toLowerCase();
  }
  return 'sql';
}

function functionBody(stmt: Node): string | undefined {
  for (const o of (stmt.options as Node[] | undefined) ?? []) {
    const d = o.DefElem as Node | undefined;
    if (d?.defname === 'as') {
      const items = ((d.arg as Node).List as Node | undefined)?.items as Node[] | undefined;
      return items?.[0] ? String((items[0].String as Node).sval) : undefined;
    }
  }
  return undefined;
}

/**
 * The statements a function runs, as statement kinds with a short text, for the destructive/unsupported
 * check: every SQL statement of a PL/pgSQL body (PL/pgSQL's own parser), or every statement of an SQL body.
 * `dynamic` is true when the body runs EXECUTE of a string that cannot be checked before it runs.
 */
export function functionStatements(createSql: string): { statements: Array<{ kind: string; text: string }>; dynamic: boolean; error?: string } {
  const parsed = parseStatements(createSql);
  if ('error' in parsed) return { statements: [], dynamic: false, error: parsed.error };
  const fn = parsed.stmts[0]?.CreateFunctionStmt as Node | undefined;
  if (!fn) return { statements: [], dynamic: false };
  const lang = functionLanguage(fn);
  const texts: string[] = [];
  let dynamic = false;
  if (lang === 'plpgsql') {
    let tree: unknown;
    try {
      tree = parsePlPgSQLSync(createSql);
    } catch (e) {
      return { statements: [], dynamic: false, error: (e as Error).message };
    }
    walk(tree, (key, v) => {
      if (key === 'PLpgSQL_stmt_dynexecute' || key === 'PLpgSQL_stmt_dynfors') dynamic = true;
      if (key === 'PLpgSQL_expr' && typeof v.query === 'string' && (v.parseMode === 0 || v.parseMode === undefined)) texts.push(v.query);
    });
  } else if (lang === 'sql') {
    const body = functionBody(fn);
    if (body) texts.push(body);
  }
  const statements: Array<{ kind: string; text: string }> = [];
  for (const t of texts) {
    const p = parseStatements(t);
    if ('error' in p) continue; // a PL/pgSQL expression fragment, not a statement
    for (const s of p.stmts) statements.push({ kind: Object.keys(s)[0], text: t.trim().replace(/\s+/g, ' ').slice(0, 80) });
  }
  return { statements, dynamic };
}

/**
 * Inserts `::cast` after each reference to a converted column in the expressions of `sql`, at the
 * positions PostgreSQL's parser reports. `byRelation` maps a relation (`schema.table`) to its converted
 * columns and the type to cast back to. A qualified reference (`j.data`) is cast only when its qualifier
 * is an alias or name of a relation that has that converted column; an unqualified one when some relation
 * in the statement has it. Returns the new SQL and how many references were cast. Keeps CHECKs, defaults,
 * views and SQL function bodies that apply jsonb/array functions or operators to a column now stored as
 * json/text working.
 */
export function castColumnRefs(sql: string, byRelation: Map<string, Map<string, string>>): { sql: string; count: number } {
  const parsed = parseStatements(sql);
  if ('error' in parsed || byRelation.size === 0) return { sql, count: 0 };
  const aliases = new Map<string, string>(); // alias or bare table name -> relation
  walk(parsed.stmts, (key, v) => {
    if (key !== 'RangeVar' && key !== 'relation') return;
    const rel = v.relname as string | undefined;
    if (!rel) return;
    const full = qualify([...(v.schemaname ? [v.schemaname as string] : []), rel]);
    aliases.set(rel, full);
    const alias = (v.alias as Node | undefined)?.aliasname;
    if (typeof alias === 'string') aliases.set(alias, full);
  });
  const union = new Map<string, string>();
  for (const cols of byRelation.values()) for (const [c, t] of cols) union.set(c, t);
  const hits: Array<{ start: number; end: number; cast: string }> = [];
  walk(parsed.stmts, (key, v) => {
    if (key !== 'ColumnRef') return;
    const fields = names(v.fields);
    const col = fields[fields.length - 1];
    if (col === undefined || typeof v.location !== 'number') return;
    let cast: string | undefined;
    if (fields.length >= 2) {
      const rel = aliases.get(fields[fields.length - 2]);
      cast = rel ? byRelation.get(rel)?.get(col) : undefined;
    } else cast = union.get(col);
    if (!cast) return;
    // The reference's text: identifiers separated by dots, each plain or "quoted".
    const m = /^(?:(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)\s*\.\s*)*(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)/.exec(sql.slice(v.location));
    if (m) hits.push({ start: v.location, end: v.location + m[0].length, cast });
  });
  let out = sql;
  let count = 0;
  for (const h of hits.sort((a, b) => b.start - a.start)) {
    // Already cast to the same type (e.g. a converted dump run through again): leave it.
    if (new RegExp(String.raw`^\s*\)?\s*::\s*${h.cast.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'i').test(out.slice(h.end))) continue;
    out = `${out.slice(0, h.start)}(${out.slice(h.start, h.end)})::${h.cast}${out.slice(h.end)}`;
    count += 1;
  }
  return { sql: out, count };
}

const DESTRUCTIVE_KINDS = new Set(['DropStmt', 'TruncateStmt', 'DeleteStmt', 'DropdbStmt', 'DropOwnedStmt', 'DropRoleStmt', 'DropTableSpaceStmt', 'DropSubscriptionStmt']);

/** Destructive statement kinds the converted DDL must never contain (at the top of a statement or nested in it). */
export function destructiveKind(sql: string): string | undefined {
  const parsed = parseStatements(sql.replace(/^CREATE\s+(UNIQUE\s+)?INDEX\s+ASYNC\b/i, (_m, u) => `CREATE ${u ?? ''}INDEX`));
  if ('error' in parsed) return undefined;
  for (const s of parsed.stmts) {
    const kind = Object.keys(s)[0];
    if (DESTRUCTIVE_KINDS.has(kind)) return kind;
    // Nested: a DELETE inside WITH (… RETURNING), a MERGE … WHEN MATCHED THEN DELETE. Function and DO
    // bodies are strings in the tree, not nodes: they are checked on their own (functionStatements).
    let nested: string | undefined;
    walk(s, (key, v) => {
      if (nested) return;
      if (DESTRUCTIVE_KINDS.has(key)) nested = key;
      if (key === 'MergeWhenClause' && v.commandType === 'CMD_DELETE') nested = 'MergeStmt DELETE';
    });
    if (nested) return nested;
    if (kind === 'AlterTableStmt') {
      for (const c of ((s.AlterTableStmt as Node).cmds as Node[]) ?? []) {
        const cmd = c.AlterTableCmd as Node;
        const sub = String(cmd.subtype);
        if (/^AT_Drop/.test(sub) || (sub === 'AT_ColumnDefault' && cmd.def === undefined)) return `ALTER TABLE ${sub}`;
      }
    }
  }
  return undefined;
}
