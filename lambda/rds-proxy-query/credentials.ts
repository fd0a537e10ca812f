import type { Logger } from '@aws-lambda-powertools/logger';
import { ConfigurationError, DatabaseUnavailableError } from './errors';
import { parseSecretJson } from './secret-json';

export { parseSecretJson };

/** A user name and password (or IAM token) for one new connection. Never log `password`. */
export interface DbCredentials {
  readonly user: string;
  readonly password: string;
}

/**
 * Where a new connection gets its password. Implementations cache: the connection manager asks
 * only when it opens a connection, and asks with `forceRefresh` exactly once after the database
 * refused a login (the cached value may be stale after a rotation).
 */
export interface CredentialProvider {
  readonly mode: 'iam' | 'secret';
  /** `deadline` (ms since epoch): a remote call must give up by then. */
  get(opts?: { forceRefresh?: boolean; deadline?: number }): Promise<DbCredentials>;
}

/** What we need from `@aws-sdk/rds-signer`'s `Signer` (an interface so tests can control the token). */
export interface AuthTokenSigner {
  getAuthToken(): Promise<string>;
}

/** RDS IAM auth tokens are valid for 15 minutes after signing. */
export const IAM_TOKEN_LIFETIME_MS = 15 * 60_000;

export interface IamTokenCredentialsOptions {
  readonly user: string;
  readonly signer: AuthTokenSigner;
  /** Injected clock (ms since epoch). @default Date.now */
  readonly now?: () => number;
  /** Stop reusing a token this long before it expires. @default 3 minutes (a token is reused for 12 of its 15 minutes) */
  readonly refreshBeforeExpiryMs?: number;
}

/**
 * IAM mode: signs an RDS auth token (SigV4 presigned `connect` URL, computed locally from the
 * function role's credentials — no network call) and reuses it until shortly before it expires.
 * A token is only checked when a connection is opened, so a connection opened with a fresh
 * token stays valid after the token expires; the margin covers clock skew and slow connects.
 */
export class IamTokenCredentials implements CredentialProvider {
  readonly mode = 'iam' as const;
  private cached?: { token: string; reuseUntil: number };
  private readonly now: () => number;
  private readonly margin: number;

  constructor(private readonly opts: IamTokenCredentialsOptions) {
    this.now = opts.now ?? Date.now;
    this.margin = opts.refreshBeforeExpiryMs ?? 3 * 60_000;
    if (this.margin < 0 || this.margin >= IAM_TOKEN_LIFETIME_MS) {
      throw new ConfigurationError(`refreshBeforeExpiryMs must be from 0 to ${IAM_TOKEN_LIFETIME_MS - 1} ms, got ${this.margin}`);
    }
  }

  async get(opts: { forceRefresh?: boolean; deadline?: number } = {}): Promise<DbCredentials> {
    const t = this.now();
    if (!opts.forceRefresh && this.cached && t < this.cached.reuseUntil) {
      return { user: this.opts.user, password: this.cached.token };
    }
    let token: string;
    try {
      token = await this.opts.signer.getAuthToken();
    } catch (e) {
      throw new DatabaseUnavailableError(
        `could not sign an IAM database auth token for user "${this.opts.user}": ${(e as Error).message}. Check that the function role has credentials and rds-db:connect on the proxy.`,
        { cause: e },
      );
    }
    // Measured from before signing: the token's X-Amz-Date is at or after `t`.
    this.cached = { token, reuseUntil: t + IAM_TOKEN_LIFETIME_MS - this.margin };
    return { user: this.opts.user, password: token };
  }
}

/**
 * The real signer: `@aws-sdk/rds-signer` with the function role's default credential chain.
 *
 * The SDK packages are `require`d here, inside the factories, not imported at the top: each mode
 * evaluates only its own SDK code (the signer and its credential chain, or Powertools Parameters
 * and the Secrets Manager client), which keeps module init — the part of a cold start paid before
 * the first invocation — to pg and the logger. esbuild keeps such a require lazy in the bundle.
 */
export function createRdsSigner(opts: { hostname: string; port: number; user: string; region: string }): AuthTokenSigner {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Signer } = require('@aws-sdk/rds-signer') as typeof import('@aws-sdk/rds-signer');
  return new Signer({ hostname: opts.hostname, port: opts.port, username: opts.user, region: opts.region });
}

/** Returns the secret's parsed JSON; `forceFetch` bypasses any cache. */
export type SecretFetcher = (opts: { forceFetch: boolean }) => Promise<unknown>;

/**
 * The real fetcher: a Powertools Parameters `SecretsProvider` (one per execution environment, with its
 * SecretsManagerClient, reused by warm invocations), cached for `maxAgeSeconds`; returns the raw SecretString
 * ({@link parseSecretJson} parses it without quoting it).
 *
 * The client gets socket-level timeouts (`connectionTimeout`, `requestTimeout` of the SDK's Node HTTP
 * handler) and one attempt, so an endpoint that accepts the connection and never answers releases the
 * socket; {@link SecretCredentials} additionally bounds the whole call by SECRET_TIMEOUT_MS.
 * https://docs.aws.amazon.com/sdk-for-javascript/v3/developer-guide/node-configuring-maxsockets.html
 */
export function powertoolsSecretFetcher(secretArn: string, maxAgeSeconds: number, timeoutMs = 3000): SecretFetcher {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { SecretsProvider } = require('@aws-lambda-powertools/parameters/secrets') as typeof import('@aws-lambda-powertools/parameters/secrets');
  const provider = new SecretsProvider({
    clientConfig: { maxAttempts: 1, requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs } },
  });
  // The raw SecretString, parsed by parseSecretJson: Powertools' json transform passes on JSON.parse's message,
  // which quotes the first characters of a non-JSON secret (its password) into the caller's error and the logs.
  return ({ forceFetch }) => provider.get(secretArn, { maxAge: maxAgeSeconds, forceFetch });
}

/** Rejects with `onTimeout()` if `p` has not settled within `ms` (the timer never keeps the process alive). */
export function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), Math.max(0, ms));
    timer.unref?.();
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export interface SecretCredentialsOptions {
  readonly user: string;
  readonly secretArn: string;
  readonly fetch: SecretFetcher;
  readonly logger?: Logger;
  /** One secret fetch must finish within this (SECRET_TIMEOUT_MS). @default 3000 */
  readonly timeoutMs?: number;
}

/**
 * Secret mode: the password comes from the application role's Secrets Manager secret (the one
 * the rotation function rotates and the proxy reads), cached by Powertools for its max age. The
 * function never keeps its own copy of the password outside that cache, so after a rotation it
 * needs at most one forced refresh.
 */
export class SecretCredentials implements CredentialProvider {
  readonly mode = 'secret' as const;
  private warnedUserMismatch = false;

  constructor(private readonly opts: SecretCredentialsOptions) {}

  async get(opts: { forceRefresh?: boolean; deadline?: number } = {}): Promise<DbCredentials> {
    let value: unknown;
    const limit = this.opts.timeoutMs ?? 3000;
    const ms = opts.deadline === undefined ? limit : Math.min(limit, opts.deadline - Date.now());
    try {
      value = await withTimeout(
        this.opts.fetch({ forceFetch: opts.forceRefresh === true }),
        ms,
        () =>
          new DatabaseUnavailableError(
            `Secrets Manager did not answer within ${ms} ms (SECRET_TIMEOUT_MS=${limit}${ms < limit ? ', cut to what is left of the invocation' : ''}) reading secret ${this.opts.secretArn}. ` +
              'Check the route to Secrets Manager: its interface endpoint (security group admits this function on 443, private DNS on) or the NAT path.',
          ),
      );
    } catch (e) {
      if (e instanceof DatabaseUnavailableError) throw e;
      throw new DatabaseUnavailableError(
        `could not read secret ${this.opts.secretArn}: ${(e as Error).message}. Check secretsmanager:GetSecretValue (and kms:Decrypt) on the function role and the Secrets Manager VPC endpoint.`,
        { cause: e },
      );
    }
    const secret = parseSecretJson(value) as { username?: unknown; password?: unknown } | undefined;
    if (!secret || typeof secret !== 'object' || typeof secret.password !== 'string' || secret.password === '') {
      throw new ConfigurationError(`secret ${this.opts.secretArn} is not a JSON object with a non-empty "password" string`);
    }
    if (typeof secret.username === 'string' && secret.username !== this.opts.user && !this.warnedUserMismatch) {
      this.warnedUserMismatch = true;
      this.opts.logger?.warn('secret username differs from DB_USER; connecting as DB_USER', { secretUser: secret.username, dbUser: this.opts.user });
    }
    return { user: this.opts.user, password: secret.password };
  }
}
