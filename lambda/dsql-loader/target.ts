import { Client } from 'pg';

/** One column of the target table. */
export interface TargetColumn {
  readonly name: string;
  /** `format_type()` of the column, used as the cast in SQL (keeps precision/length modifiers). */
  readonly type: string;
  /** Base type name (`pg_type.typname`), which picks the value check. */
  readonly base: string;
  readonly notNull: boolean;
}

export interface TargetTable {
  readonly schema: string;
  readonly table: string;
  readonly columns: TargetColumn[];
  readonly primaryKey: string[];
  /** Secondary indexes: every modified row also writes one entry per index (byte accounting). */
  readonly secondaryIndexes: number;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function qualified(t: { schema: string; table: string }): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;
}

/** Reads the columns, primary key and index count of a table. Throws a clear error if it is missing or has no primary key. */
export async function describeTable(client: Client, schema: string, table: string): Promise<TargetTable> {
  const cols = await client.query<{ name: string; type: string; base: string; notnull: boolean }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, t.typname AS base, a.attnotnull AS notnull
       FROM pg_catalog.pg_attribute a
       JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [schema, table],
  );
  if (cols.rows.length === 0) {
    throw new Error(`target table ${schema}.${table} does not exist: apply the converted schema first (npm run dsql-schema -- --apply)`);
  }
  const pk = await client.query<{ column_name: string }>(
    `SELECT kcu.column_name
       FROM information_schema.table_constraints tc
       JOIN information_schema.key_column_usage kcu
         ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema AND kcu.table_name = tc.table_name
      WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = $1 AND tc.table_name = $2
      ORDER BY kcu.ordinal_position`,
    [schema, table],
  );
  if (pk.rows.length === 0) {
    throw new Error(`target table ${schema}.${table} has no primary key: the loader needs one to load idempotently and apply updates/deletes`);
  }
  const idx = await client.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_catalog.pg_indexes WHERE schemaname = $1 AND tablename = $2`,
    [schema, table],
  );
  return {
    schema,
    table,
    columns: cols.rows.map((r) => ({ name: r.name, type: r.type, base: r.base, notNull: r.notnull })),
    primaryKey: pk.rows.map((r) => r.column_name),
    secondaryIndexes: Math.max(0, Number(idx.rows[0].n) - 1), // count(*) always returns one row
  };
}

const INT_RE = /^[+-]?\d+$/;
const NUM_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const SPECIAL_FLOAT = new Set(['NaN', 'Infinity', '-Infinity', '+Infinity', 'inf', '-inf']);
const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;
const UUID_RE = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;
const TRUE = new Set(['t', 'true', '1', 'y', 'yes', 'on']);
const FALSE = new Set(['f', 'false', '0', 'n', 'no', 'off']);
/** Fixed storage widths for the byte estimate; variable types use the text length. */
const FIXED_WIDTH: Record<string, number> = { bool: 1, int2: 2, int4: 4, int8: 8, float4: 4, float8: 8, date: 4, timestamp: 8, timestamptz: 8, time: 8, uuid: 16 };

/**
 * Converts one DMS CSV field (already NULL-resolved) into the text PostgreSQL casts to the column
 * type, or returns an error reason. The database still validates what it casts (dates, ranges);
 * these checks catch the common malformations cheaply and name the column.
 */
export function convertValue(col: TargetColumn, v: string | null): { value: string | null } | { error: string } {
  if (v === null) {
    return col.notNull ? { error: `column "${col.name}" is NOT NULL but the value is NULL` } : { value: null };
  }
  if (v.includes('\u0000')) return { error: `column "${col.name}": NUL characters cannot be stored in PostgreSQL text` };
  switch (col.base) {
    case 'bool': {
      const s = v.trim().toLowerCase();
      if (TRUE.has(s)) return { value: 'true' };
      if (FALSE.has(s)) return { value: 'false' };
      return { error: `column "${col.name}" (boolean): "${clip(v)}" is not a boolean` };
    }
    case 'int2':
    case 'int4':
    case 'int8':
      return INT_RE.test(v.trim()) ? { value: v.trim() } : { error: `column "${col.name}" (${col.type}): "${clip(v)}" is not an integer` };
    case 'numeric':
    case 'float4':
    case 'float8':
      return NUM_RE.test(v.trim()) || SPECIAL_FLOAT.has(v.trim()) ? { value: v.trim() } : { error: `column "${col.name}" (${col.type}): "${clip(v)}" is not a number` };
    case 'bytea': {
      // DMS writes binary (LOB) columns as hexadecimal text; accept PostgreSQL's \x form too.
      const hex = v.startsWith('\\x') ? v.slice(2) : v;
      return HEX_RE.test(hex) ? { value: `\\x${hex}` } : { error: `column "${col.name}" (bytea): value is not hexadecimal` };
    }
    case 'uuid':
      return UUID_RE.test(v.trim()) ? { value: v.trim() } : { error: `column "${col.name}" (uuid): "${clip(v)}" is not a UUID` };
    default:
      return { value: v };
  }
}

/** A value a column cannot take, with the reason (returned, not thrown: the loader quarantines the row). */
export class Invalid {
  constructor(public readonly reason: string) {}
}

export type Converter = (v: string | null) => string | null | Invalid;

/**
 * A converter for one column, chosen once per table: the hot path of the loader calls it for every
 * value, so it allocates nothing unless the value is invalid. Same rules as {@link convertValue}.
 */
export function columnConverter(col: TargetColumn): Converter {
  const nullable = !col.notNull;
  const nullError = `column "${col.name}" is NOT NULL but the value is NULL`;
  const nul = (v: string) => v.indexOf('\u0000') >= 0;
  const generic = (v: string | null): string | null | Invalid => {
    if (v === null) return nullable ? null : new Invalid(nullError);
    const r = convertValue(col, v);
    return 'error' in r ? new Invalid(r.error) : r.value;
  };
  switch (col.base) {
    case 'int2':
    case 'int4':
    case 'int8':
      return (v) => (v !== null && INT_RE.test(v) ? v : generic(v));
    case 'bool':
      return (v) => (v === 'true' || v === 'false' ? v : v === 't' ? 'true' : v === 'f' ? 'false' : generic(v));
    case 'numeric':
    case 'float4':
    case 'float8':
      return (v) => (v !== null && NUM_RE.test(v) ? v : generic(v));
    case 'bytea':
    case 'uuid':
      return generic;
    default:
      return (v) => (v === null ? (nullable ? null : new Invalid(nullError)) : nul(v) ? generic(v) : v);
  }
}

/** Estimated stored bytes of one value (text length for variable types). */
export function valueBytes(col: TargetColumn, v: string | null): number {
  if (v === null) return 1;
  const fixed = FIXED_WIDTH[col.base];
  if (fixed !== undefined) return fixed;
  if (col.base === 'bytea') return Math.ceil((v.length - 2) / 2) + 4;
  return Buffer.byteLength(v) + 4; // UTF-8 bytes
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
