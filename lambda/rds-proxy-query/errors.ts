/**
 * Typed errors of the query function. Lambda reports a thrown error's `name` as `errorType`, so a
 * caller (or an alarm/metric filter) can tell bad input from an unreachable database without
 * parsing messages. Every message says what failed and what to do next; none contains a password
 * or an IAM token.
 */

/** The event is not a valid request: unknown query name, bad or unexpected params. Fix the caller. */
export class BadRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadRequestError';
  }
}

/** The function's environment is wrong (missing/invalid variable). Fix the deployment. */
export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}

/**
 * The database (proxy) could not be reached, refused the connection (e.g. its pool is exhausted), dropped
 * the connection, or the credentials could not be obtained in time. Retry later; check the proxy/cluster.
 * `code` is the SQLSTATE when the proxy or database answered with an error.
 */
export class DatabaseUnavailableError extends Error {
  readonly code?: string;
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(message, options);
    this.name = 'DatabaseUnavailableError';
    this.code = options?.code;
  }
}

/** The database rejected the credentials even after one fresh credential fetch. */
export class AuthenticationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuthenticationError';
  }
}

/** The query did not answer within QUERY_TIMEOUT_MS; the connection was discarded. */
export class QueryTimeoutError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QueryTimeoutError';
  }
}

/** The database answered with an SQL error (SQLSTATE in `code`). */
export class QueryFailedError extends Error {
  readonly code?: string;
  constructor(message: string, code: string | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QueryFailedError';
    this.code = code;
  }
}

/** SQLSTATEs PostgreSQL (and RDS Proxy) use when a login is refused: invalid_password, invalid_authorization_specification. */
export const AUTH_FAILURE_SQLSTATES: ReadonlySet<string> = new Set(['28P01', '28000']);

export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function isAuthFailure(err: unknown): boolean {
  const s = sqlState(err);
  return s !== undefined && AUTH_FAILURE_SQLSTATES.has(s);
}

/** At most `max` characters of caller input for a log line or an error message, with the original length. */
export function echo(value: unknown, max = 80): string {
  let s: string;
  try {
    s = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  if (s.length <= max) return s;
  // Never end on the first half of a surrogate pair: a lone surrogate is not valid UTF-16 and becomes U+FFFD
  // (or an escape) in the UTF-8 response and log line.
  const cut = /[\ud800-\udbff]/.test(s[max - 1]) ? max - 1 : max;
  return `${s.slice(0, cut)}… (${s.length} characters)`;
}
