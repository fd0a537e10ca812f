import { BadRequestError, echo } from './errors';

/**
 * The only statements this function runs: a small allowlist of read-only, parameterized queries.
 * The event names one and passes its params; no SQL text ever comes from the event. Params are
 * validated here and sent as bind values ($1, $2), never spliced into SQL.
 *
 * Add a query: add an entry with its SQL (read-only, no session state — see connection.ts for
 * what pins RDS Proxy) and a `bind` that validates every param and rejects unknown ones.
 */
export interface QueryDefinition {
  readonly description: string;
  readonly sql: string;
  /** Validates `params` (already known to be a plain object) and returns the bind values. */
  bind(params: Record<string, unknown>): unknown[];
}

/** A validated request: the statement and values to run. */
export interface ResolvedQuery {
  readonly name: string;
  readonly sql: string;
  readonly values: unknown[];
}

function noParams(name: string) {
  return (params: Record<string, unknown>): unknown[] => {
    const keys = Object.keys(params);
    if (keys.length > 0) throw new BadRequestError(`query "${name}" takes no params, got: ${echo(keys.join(', '))}`);
    return [];
  };
}

/** PostgreSQL identifiers as users type them (unquoted): letters, digits, _ and $, at most 63 bytes. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

export const QUERIES: Readonly<Record<string, QueryDefinition>> = {
  health: {
    description: 'Liveness check: select 1.',
    sql: 'select 1 as ok',
    bind: noParams('health'),
  },
  serverTime: {
    description: "The database server's clock (transaction start time) and time zone.",
    sql: "select now() as server_time, current_setting('TimeZone') as time_zone",
    bind: noParams('serverTime'),
  },
  whoami: {
    description:
      'Who the session is: the role (the application role, never the master user), database, server version and whether this hop uses TLS. Behind RDS Proxy, backend_pid and ssl describe the proxy-to-database connection the proxy lent for this transaction.',
    sql:
      'select current_user as current_user, session_user as session_user, current_database() as database, ' +
      "current_setting('server_version') as server_version, pg_backend_pid() as backend_pid, " +
      'coalesce(s.ssl, false) as ssl, s.version as tls_version ' +
      'from (select 1) one left join pg_stat_ssl s on s.pid = pg_backend_pid()',
    bind: noParams('whoami'),
  },
  tables: {
    description: 'Tables and views the role can see in one schema. params: { schema?: identifier (default "public"), limit?: 1..1000 (default 100) }.',
    sql:
      'select table_name, table_type from information_schema.tables where table_schema = $1 order by table_name limit $2',
    bind(params) {
      const unknown = Object.keys(params).filter((k) => k !== 'schema' && k !== 'limit');
      const problems: string[] = [];
      if (unknown.length > 0) problems.push(`unknown params: ${echo(unknown.join(', '))} (allowed: schema, limit)`);
      const schema = params.schema ?? 'public';
      if (typeof schema !== 'string' || !IDENTIFIER.test(schema)) {
        problems.push(`params.schema must be an identifier matching ${IDENTIFIER} (e.g. "app"), got ${echo(schema)}`);
      }
      const limit = params.limit ?? 100;
      if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 1000) {
        problems.push(`params.limit must be an integer from 1 to 1000, got ${echo(limit)}`);
      }
      if (problems.length > 0) throw new BadRequestError(`query "tables": ${problems.join('; ')}`);
      return [schema, limit];
    },
  },
};

/**
 * Validates an invocation event `{ "query": "<name>", "params": { ... } }` against the allowlist.
 * Throws {@link BadRequestError} naming what is wrong and what is allowed.
 */
export function resolveQuery(event: unknown): ResolvedQuery {
  if (!event || typeof event !== 'object' || Array.isArray(event)) {
    throw new BadRequestError(`event must be an object like {"query":"health"}; allowed queries: ${Object.keys(QUERIES).join(', ')}`);
  }
  const e = event as Record<string, unknown>;
  const extra = Object.keys(e).filter((k) => k !== 'query' && k !== 'params');
  if (extra.length > 0) throw new BadRequestError(`unexpected event fields: ${echo(extra.join(', '))} (allowed: query, params)`);
  const name = e.query;
  if (typeof name !== 'string' || !Object.prototype.hasOwnProperty.call(QUERIES, name)) {
    throw new BadRequestError(`unknown query ${echo(name)}; allowed queries: ${Object.keys(QUERIES).join(', ')}`);
  }
  const params = e.params ?? {};
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new BadRequestError(`params must be an object, got ${echo(params)}`);
  }
  const def = QUERIES[name];
  return { name, sql: def.sql, values: def.bind(params as Record<string, unknown>) };
}
