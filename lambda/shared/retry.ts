import { backOff } from 'exponential-backoff';

/** Options for {@link withRetry}. */
export interface RetryOptions {
  /** Total attempts including the first. @default 5 */
  readonly attempts?: number;
  /** First delay in ms; doubles each attempt, with full jitter. @default 100 */
  readonly baseDelayMs?: number;
  /** Upper bound of one delay in ms. @default 5000 */
  readonly maxDelayMs?: number;
  /** Which errors are worth another attempt. @default {@link isTransientAwsError} */
  readonly retryable?: (err: unknown) => boolean;
  /** Called before each retry, e.g. to log or count it. */
  readonly onRetry?: (err: unknown, nextAttempt: number) => void;
}

/**
 * Runs `fn` with exponential backoff and full jitter (the `exponential-backoff` package), retrying
 * only errors that `retryable` accepts. The last error is rethrown unchanged.
 */
export async function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const retryable = opts.retryable ?? isTransientAwsError;
  const attempts = opts.attempts ?? 5;
  return backOff(fn, {
    numOfAttempts: attempts,
    startingDelay: opts.baseDelayMs ?? 100,
    maxDelay: opts.maxDelayMs ?? 5000,
    jitter: 'full',
    retry: (err, nextAttempt) => {
      if (!retryable(err)) return false;
      // exponential-backoff asks `retry` after the last attempt too; that failure is not retried, so no onRetry.
      // Stryker disable next-line BooleanLiteral: equivalent, exponential-backoff stops at numOfAttempts whatever `retry` returns
      if (nextAttempt >= attempts) return false;
      opts.onRetry?.(err, nextAttempt);
      return true;
    },
  });
}

const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
]);

/** True for AWS SDK v3 throttling errors, 5xx service errors and network timeouts/resets. */
export function isTransientAwsError(err: unknown): boolean {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  if (!e || typeof e !== 'object') return false;
  if (e.name && THROTTLING.has(e.name)) return true;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode ?? 0;
  if (status === 429 || status >= 500) return true;
  // Stryker disable next-line StringLiteral: equivalent, any fallback that is not one of the codes below gives false
  const code = e.code ?? e.name ?? '';
  return ['ECONNRESET', 'ETIMEDOUT', 'ECONNREFUSED', 'EPIPE', 'TimeoutError', 'RequestTimeout'].includes(code);
}
