import { Client } from 'pg';

/**
 * Opens connections for the loader and recycles them before Aurora DSQL's limits: a connection
 * lives at most 60 minutes, and an IAM auth token (`@aws-sdk/dsql-signer`) is only checked when a
 * connection opens, so a token is reused for new connections until shortly before it expires.
 *
 * Everything time-related goes through `clock` so tests can drive it.
 */
export interface ConnectionManagerOptions {
  /** Opens a connection with the given password (the IAM token in AWS, a plain password in tests). */
  readonly connect: (password: string) => Promise<Client>;
  /** Generates a new auth token. */
  readonly token: () => Promise<string>;
  /** @default Date.now */
  readonly clock?: () => number;
  /** Recycle a connection older than this. @default 50 minutes (DSQL closes at 60) */
  readonly maxConnectionAgeMs?: number;
  /** Lifetime of a generated token. @default 15 minutes (the signer's default) */
  readonly tokenLifetimeMs?: number;
  /** Generate a new token when the cached one has less than this left. @default 2 minutes */
  readonly tokenRefreshMarginMs?: number;
  /**
   * Statements run on every new connection.
   * @default - `SET TIME ZONE 'UTC'`: DMS writes timestamps in UTC without an offset
   */
  readonly sessionSetup?: string[];
}

export class ConnectionManager {
  private client?: Client;
  private openedAt = 0;
  /** Set when the live connection emitted 'error' or 'end'; cleared when get() opens a new one. */
  private broken?: boolean;
  private token?: { value: string; expiresAt: number };
  private readonly clock: () => number;
  private readonly maxAge: number;
  private readonly tokenLifetime: number;
  private readonly tokenMargin: number;
  /** How many connections and tokens were created (metrics and tests). */
  public connectionsOpened = 0;
  public tokensGenerated = 0;

  constructor(private readonly opts: ConnectionManagerOptions) {
    this.clock = opts.clock ?? Date.now;
    this.maxAge = opts.maxConnectionAgeMs ?? 50 * 60_000;
    this.tokenLifetime = opts.tokenLifetimeMs ?? 15 * 60_000;
    this.tokenMargin = opts.tokenRefreshMarginMs ?? 2 * 60_000;
  }

  /** A live connection, opening a new one when there is none, it broke, or it is too old. */
  async get(): Promise<Client> {
    if (this.client && !this.broken && this.clock() - this.openedAt < this.maxAge) return this.client;
    await this.discard();
    const password = await this.currentToken();
    const client = await this.opts.connect(password);
    // pg emits 'error' when the server ends the connection (e.g. pg_terminate_backend); without a
    // listener that would crash the process. Mark it broken; the next get() reconnects.
    client.on('error', () => {
      if (this.client === client) this.broken = true;
    });
    client.on('end', () => {
      if (this.client === client) this.broken = true;
    });
    try {
      for (const sql of this.opts.sessionSetup ?? ["SET TIME ZONE 'UTC'"]) await client.query(sql);
    } catch (e) {
      await client.end().catch(() => undefined);
      throw e;
    }
    this.client = client;
    this.openedAt = this.clock();
    this.broken = false;
    this.connectionsOpened += 1;
    return client;
  }

  /** Closes the current connection (after an error, or before the age limit). */
  async discard(): Promise<void> {
    const c = this.client;
    this.client = undefined; // get() opens a new one and clears `broken`
    if (c) {
      await Promise.race([c.end().catch(() => undefined), new Promise((r) => setTimeout(r, 2000).unref())]);
    }
  }

  async close(): Promise<void> {
    await this.discard();
  }

  private async currentToken(): Promise<string> {
    const now = this.clock();
    if (!this.token || this.token.expiresAt - now < this.tokenMargin) {
      this.token = { value: await this.opts.token(), expiresAt: now + this.tokenLifetime };
      this.tokensGenerated += 1;
    }
    return this.token.value;
  }
}

/** SQLSTATEs and network errors after which the connection is unusable and must be replaced. */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (!e || typeof e !== 'object') return false;
  const code = e.code ?? '';
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return true;
  if (['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND'].includes(code)) return true;
  return /Connection terminated|connection ended|Client has encountered a connection error|not queryable/i.test(e.message ?? '');
}

/** Optimistic-concurrency conflicts (DSQL OC000/OC001, PostgreSQL serialization failure). */
export function isConflictError(err: unknown): boolean {
  const e = err as { code?: string };
  return !!e && typeof e === 'object' && (e.code === '40001' || e.code === '40P01');
}
