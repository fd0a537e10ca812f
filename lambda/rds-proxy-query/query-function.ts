import type { Logger } from '@aws-lambda-powertools/logger';
import { createLogger } from '../shared/logger';
import { loadConfig, QueryFunctionConfig } from './config';
import { ConnectionManager } from './connection';
import {
  AuthTokenSigner,
  createRdsSigner,
  CredentialProvider,
  IamTokenCredentials,
  powertoolsSecretFetcher,
  SecretCredentials,
  SecretFetcher,
} from './credentials';
import { resolveQuery } from './queries';
import { tlsOptions } from './tls';

/**
 * What a successful invocation returns. Failures are thrown as typed errors (errors.ts), so Lambda
 * reports `errorType` = `BadRequestError` | `ConfigurationError` | `DatabaseUnavailableError` |
 * `AuthenticationError` | `QueryTimeoutError` | `QueryFailedError` and `errorMessage` says what to do.
 */
export interface QueryResponse {
  readonly query: string;
  readonly rowCount: number;
  readonly rows: Record<string, unknown>[];
  /** Time spent in the database call, including a connect when one was needed. */
  readonly durationMs: number;
}

/** The module-scope state of one execution environment. */
export interface QueryRuntime {
  readonly config: QueryFunctionConfig;
  readonly credentials: CredentialProvider;
  readonly connection: ConnectionManager;
  readonly logger: Logger;
}

/** Overrides for tests and the benchmark; production uses none of them. */
export interface QueryRuntimeOverrides {
  readonly logger?: Logger;
  /** IAM mode: the token signer. @default - `@aws-sdk/rds-signer` with the function role's credentials */
  readonly signer?: AuthTokenSigner;
  /** IAM mode: clock for the token cache. @default Date.now */
  readonly now?: () => number;
  /** Secret mode: how to read the secret. @default - Powertools `getSecret` with maxAge = SECRET_CACHE_TTL_SECONDS */
  readonly fetchSecret?: SecretFetcher;
}

/** Builds credentials + connection manager from the config. Opens nothing yet. */
export function createQueryRuntime(config: QueryFunctionConfig, o: QueryRuntimeOverrides = {}): QueryRuntime {
  const logger = o.logger ?? createLogger('rds-proxy-query');
  const credentials: CredentialProvider =
    config.credentialMode === 'iam'
      ? new IamTokenCredentials({
          user: config.user,
          signer: o.signer ?? createRdsSigner({ hostname: config.host, port: config.port, user: config.user, region: config.region ?? '' }),
          now: o.now,
        })
      : new SecretCredentials({
          user: config.user,
          secretArn: config.secretArn ?? '',
          fetch: o.fetchSecret ?? powertoolsSecretFetcher(config.secretArn ?? '', config.secretCacheTtlSeconds, config.secretTimeoutMs),
          logger,
          timeoutMs: config.secretTimeoutMs,
        });
  const connection = new ConnectionManager({
    host: config.host,
    port: config.port,
    database: config.database,
    credentials,
    ssl: tlsOptions(config.tlsCaFile),
    connectTimeoutMs: config.connectTimeoutMs,
    queryTimeoutMs: config.queryTimeoutMs,
    borrowTimeoutMs: config.borrowTimeoutMs,
    logger,
  });
  return { config, credentials, connection, logger };
}

/** Runs one validated request on the runtime's connection. */
export function runQuery(rt: QueryRuntime, event: unknown, deadline?: number): Promise<QueryResponse> {
  let q: ReturnType<typeof resolveQuery>;
  try {
    q = resolveQuery(event);
  } catch (e) {
    return Promise.reject(e);
  }
  const t0 = performance.now();
  return rt.connection.query(q.sql, q.values, { deadline }).then((res) => {
    const durationMs = Math.round((performance.now() - t0) * 1000) / 1000;
    rt.logger.debug('query done', { query: q.name, rowCount: res.rowCount, durationMs });
    return { query: q.name, rowCount: res.rowCount ?? res.rows.length, rows: res.rows, durationMs };
  });
}

/**
 * Returns a Lambda handler that creates its runtime on first use (so a bad environment fails the
 * invocation with a ConfigurationError that names the variables, instead of an opaque init
 * crash) and keeps it for every later invocation of this execution environment.
 */
/** What the handler reads from the Lambda context: the time left, to keep every remote call inside it. */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

/** Time kept back from the invocation's end so the typed error (and its log line) still gets out. */
export const DEADLINE_RESERVE_MS = 250;

export function createQueryHandler(init: () => QueryRuntime): (event: unknown, context?: InvocationContext) => Promise<QueryResponse> {
  let rt: QueryRuntime | undefined;
  const onError = (runtime: QueryRuntime, e: unknown): never => {
    const err = e as Error;
    const level = err.name === 'BadRequestError' ? 'warn' : 'error';
    runtime.logger[level]('query failed', { errorType: err.name, error: err.message, ...runtime.connection.stats() });
    throw e;
  };
  // A plain promise chain rather than another async/await layer: this is the warm path.
  return (event: unknown, context?: InvocationContext) => {
    const deadline = typeof context?.getRemainingTimeInMillis === 'function' ? Date.now() + context.getRemainingTimeInMillis() - DEADLINE_RESERVE_MS : undefined;
    let runtime: QueryRuntime;
    try {
      runtime = rt ??= init();
    } catch (e) {
      return Promise.reject(e);
    }
    return runQuery(runtime, event, deadline).catch((e: unknown) => onError(runtime, e));
  };
}

/** The default runtime factory: environment variables, real signer / Powertools secret cache. */
export function runtimeFromEnvironment(env: NodeJS.ProcessEnv = process.env, o: QueryRuntimeOverrides = {}): () => QueryRuntime {
  return () => createQueryRuntime(loadConfig(env), o);
}
