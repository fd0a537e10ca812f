import type { Logger } from '@aws-lambda-powertools/logger';
import { Client, QueryResult, QueryResultRow } from 'pg';
import type { ConnectionOptions } from 'tls';
import type { CredentialProvider, DbCredentials } from './credentials';
import { AuthenticationError, DatabaseUnavailableError, isAuthFailure, QueryFailedError, QueryTimeoutError, sqlState } from './errors';

export interface ConnectionManagerOptions {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly credentials: CredentialProvider;
  /** TLS options for pg (see `tls.ts`); TLS is always on. */
  readonly ssl: ConnectionOptions;
  /** Whole connect, TCP + TLS + authentication, must finish within this. */
  readonly connectTimeoutMs: number;
  /** Client-side limit per query (pg `query_timeout`); on expiry the connection is discarded. */
  readonly queryTimeoutMs: number;
  /** The proxy's ConnectionBorrowTimeout, named in the error a refused connection produces. */
  readonly borrowTimeoutMs?: number;
  readonly logger: Logger;
}

/** Counters for logs, tests and the benchmark. */
export interface ConnectionStats {
  /** Connections successfully opened by this manager. */
  readonly connectionsOpened: number;
  /** Times a refused login made us fetch fresh credentials. */
  readonly credentialRefreshes: number;
}

/**
 * Exactly one `pg.Client` per execution environment, opened lazily on the first query, reused by
 * every warm invocation, and discarded (then re-opened on the next query) after a connection
 * error or a query timeout. A Lambda environment handles one invocation at a time, so one
 * connection is the right pool size; RDS Proxy does the pooling towards the database.
 *
 * Keeping RDS Proxy able to multiplex (no pinning). The proxy pins a client connection to one
 * database connection for the rest of the session when it sees session state it cannot move
 * between database connections: `SET` (session-level), `PREPARE`/`EXECUTE`/`DEALLOCATE`/`DISCARD`,
 * temporary tables/sequences/views, cursors, `LISTEN`, `LOAD`, advisory locks, `nextval`/`setval`
 * (AWS docs, "Avoiding pinning an RDS Proxy"). This module therefore:
 * - sends no `SET` and no startup options beyond user/database (pg adds nothing else unless told);
 *   the per-query limit is enforced client-side (`query_timeout`) — a server-side cap belongs in
 *   the role's defaults (`ALTER ROLE app SET statement_timeout = ...`), applied by the server at
 *   login without any client `SET`;
 * - runs only unnamed parameterized statements (pg uses the unnamed statement of the extended
 *   protocol when a query has values but no `name`); RDS Proxy multiplexes those, while named
 *   prepared statements would pin (AWS Database Blog, "Amazon RDS Proxy multiplexing support for
 *   PostgreSQL extended query protocol", 2023);
 * - never creates temp tables, takes advisory locks, LISTENs or opens cursors.
 */
export class ConnectionManager {
  private client?: Client;
  private connecting?: Promise<Client>;
  private opened = 0;
  private refreshes = 0;

  constructor(private readonly opts: ConnectionManagerOptions) {}

  stats(): ConnectionStats {
    return { connectionsOpened: this.opened, credentialRefreshes: this.refreshes };
  }

  /** True while a connection is open and believed healthy. */
  get connected(): boolean {
    return this.client !== undefined;
  }

  /**
   * Runs one read-only parameterized statement. A connection that turns out to be dead when
   * reused (proxy idle timeout, failover) is replaced and the statement retried once — safe
   * because every statement this function runs is read-only.
   */
  query<R extends QueryResultRow = QueryResultRow>(text: string, values: unknown[] = [], opts: { deadline?: number } = {}): Promise<QueryResult<R>> {
    const { deadline } = opts;
    const existing = this.client;
    if (!existing) return this.open(deadline).then((client) => this.run<R>(client, text, values, deadline));
    // Warm path: promise chains rather than extra async/await layers.
    return this.run<R>(existing, text, values, deadline).catch((e: unknown) => {
      // Only a connection that failed (run() discarded it) is replaced; "no time left" leaves a healthy one in place.
      if (!(e instanceof DatabaseUnavailableError) || this.client === existing) throw e;
      this.opts.logger.warn('reused connection failed; reconnecting once', { error: e.message });
      return this.open(deadline).then((fresh) => this.run<R>(fresh, text, values, deadline));
    });
  }

  /**
   * `limit` cut to what is left before `deadline` (the invocation's end minus a reserve), so a retry path
   * (dead connection → reconnect → refused login → refetch → reconnect) still ends in a typed error
   * before Lambda kills the invocation.
   */
  private within(limit: number, deadline: number | undefined, what: string): number {
    if (deadline === undefined) return limit;
    const left = deadline - Date.now();
    if (left < 50) {
      throw new DatabaseUnavailableError(`no time left in this invocation to ${what} on ${this.where()}; the next invocation tries again`);
    }
    return Math.min(limit, left);
  }

  /** Closes the connection (tests, benchmark); the next query opens a new one. */
  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (c) await c.end().catch(() => undefined);
  }

  private run<R extends QueryResultRow>(client: Client, text: string, values: unknown[], deadline?: number): Promise<QueryResult<R>> {
    // Text + values, no `name`: pg sends an unnamed Parse/Bind/Execute (or a simple query when
    // there are no values). `query_timeout` is pg's client-side per-query limit (nothing is sent).
    let ms: number;
    try {
      ms = this.within(this.opts.queryTimeoutMs, deadline, 'run the query');
    } catch (e) {
      return Promise.reject(e);
    }
    return client.query<R>({ text, values, query_timeout: ms } as never).catch((e: unknown) => {
      const err = e as Error;
      if (err?.message === 'Query read timeout') {
        this.discard(client, 'query timeout');
        throw new QueryTimeoutError(
          `query did not finish within ${ms} ms (QUERY_TIMEOUT_MS=${this.opts.queryTimeoutMs}) on ${this.where()}; the connection was discarded and the next invocation opens a new one`,
          { cause: e },
        );
      }
      if (isConnectionError(e)) {
        this.discard(client, 'connection error');
        const code = sqlState(e);
        throw new DatabaseUnavailableError(`lost the connection to ${this.where()}: ${err.message}${code ? ` (SQLSTATE ${code})` : ''}`, { cause: e, code });
      }
      // The SQLSTATE goes in `code` and at the end of the message: Lambda's invocation result carries only
      // errorType and errorMessage, so a caller of the function sees it there.
      const code = sqlState(e);
      throw new QueryFailedError(`query failed on ${this.where()}: ${err.message}${code ? ` (SQLSTATE ${code})` : ''}`, code, { cause: e });
    });
  }

  private where(): string {
    return `${this.opts.host}:${this.opts.port}/${this.opts.database}`;
  }

  private open(deadline?: number): Promise<Client> {
    if (!this.connecting) {
      this.connecting = this.openWithOneRefresh(deadline).finally(() => {
        this.connecting = undefined;
      });
    }
    return this.connecting;
  }

  /**
   * Connects with the cached credentials; if the database refuses the login (SQLSTATE 28P01 /
   * 28000 — e.g. the secret was rotated since we cached it), fetches fresh credentials exactly
   * once and tries once more. A second refusal is an {@link AuthenticationError}: no loop.
   */
  private async openWithOneRefresh(deadline?: number): Promise<Client> {
    const creds = await this.opts.credentials.get({ deadline });
    try {
      return await this.connectOnce(creds, deadline);
    } catch (e) {
      if (!isAuthFailure(e)) throw this.unavailable(e);
      this.refreshes++;
      this.opts.logger.warn('login refused; fetching fresh credentials once', { mode: this.opts.credentials.mode, user: creds.user, sqlState: sqlState(e) });
      const fresh = await this.opts.credentials.get({ forceRefresh: true, deadline });
      try {
        return await this.connectOnce(fresh, deadline);
      } catch (e2) {
        if (isAuthFailure(e2)) {
          throw new AuthenticationError(
            `${this.where()} refused the login of "${fresh.user}" (${sqlState(e2)}) even with freshly fetched ${this.opts.credentials.mode === 'iam' ? 'IAM token' : 'secret'}: ` +
              (this.opts.credentials.mode === 'iam'
                ? 'check rds-db:connect on the function role and that the proxy has IAM auth required for this user'
                : 'check that the secret holds the role\'s current password and that the proxy is registered with the same secret'),
            { cause: e2 },
          );
        }
        throw this.unavailable(e2);
      }
    }
  }

  private unavailable(e: unknown): DatabaseUnavailableError {
    if (e instanceof DatabaseUnavailableError) return e;
    const msg = (e as Error)?.message ?? String(e);
    const code = sqlState(e);
    if (code) {
      // The proxy (or database) answered the connection with an error. RDS Proxy does this when no pooled
      // connection frees up within ConnectionBorrowTimeout; the client timeouts are set above the borrow
      // timeout so this answer, not a client-side timeout, is what the caller sees.
      return new DatabaseUnavailableError(
        `${this.where()} refused the connection: ${msg} (SQLSTATE ${code}). If the proxy's pool is exhausted (borrow timeout${this.opts.borrowTimeoutMs ? ` ${this.opts.borrowTimeoutMs} ms` : ''}), ` +
          'lower the callers\' concurrency (reserved concurrency) or raise maxConnectionsPercent / the cluster size; the next invocation tries again.',
        { cause: e, code },
      );
    }
    return new DatabaseUnavailableError(
      `could not connect to ${this.where()} (connect timeout CONNECT_TIMEOUT_MS=${this.opts.connectTimeoutMs} ms): ${msg}. Check the proxy endpoint, its security group and the proxy's target health; the next invocation tries again.`,
      { cause: e },
    );
  }

  private async connectOnce(creds: DbCredentials, deadline?: number): Promise<Client> {
    const connectMs = this.within(this.opts.connectTimeoutMs, deadline, 'connect');
    const client = new Client({
      host: this.opts.host,
      port: this.opts.port,
      database: this.opts.database,
      user: creds.user,
      password: creds.password,
      ssl: this.opts.ssl,
      connectionTimeoutMillis: connectMs,
      // Client-side, applied by pg to every query of this client; nothing is sent to the server.
      query_timeout: this.opts.queryTimeoutMs,
      keepAlive: true,
    });
    // Without an 'error' listener an idle connection dropped by the server would crash the process.
    client.on('error', (err) => {
      this.opts.logger.warn('connection error; it will be re-opened on the next query', { error: err.message, sqlState: sqlState(err) });
      if (this.client === client) this.client = undefined;
    });
    client.on('end', () => {
      if (this.client === client) this.client = undefined;
    });
    try {
      await client.connect();
    } catch (e) {
      destroy(client);
      throw e;
    }
    this.client = client;
    this.opened++;
    this.opts.logger.info('connected', { host: this.opts.host, port: this.opts.port, database: this.opts.database, user: creds.user, mode: this.opts.credentials.mode });
    return client;
  }

  private discard(client: Client, reason: string): void {
    if (this.client === client) this.client = undefined;
    this.opts.logger.warn('discarding connection', { reason });
    destroy(client);
  }
}

/** Ends a client without waiting for a peer that may never answer. */
function destroy(client: Client): void {
  client.end().catch(() => undefined);
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  setTimeout(() => stream?.destroy(), 1000).unref();
}

/** SQLSTATE classes/codes that mean the session is gone (connection exception, shutdown). */
const CONNECTION_SQLSTATES = /^(08|57P0[1-3])/;

function isConnectionError(e: unknown): boolean {
  const s = sqlState(e);
  if (s) return CONNECTION_SQLSTATES.test(s);
  // pg/Node errors without a SQLSTATE: socket resets, "Connection terminated unexpectedly",
  // "Client was closed and is not queryable", TLS errors.
  return true;
}
