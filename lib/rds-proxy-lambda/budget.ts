/**
 * The query function's time budget, derived from the proxy's connection borrow timeout.
 *
 * RDS Proxy makes a client wait up to ConnectionBorrowTimeout for a pooled database connection when the
 * pool is at its limit, then answers with an error
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-connections.html#rds-proxy-connection-pooling-tuning.connectionborrowtimeout).
 * For the caller to see that answer — a clear "pool exhausted" — every client-side timeout that can be
 * running while the proxy makes it wait must be LONGER than the borrow timeout:
 *
 *   connect timeout   = borrow + margin
 *   query timeout     = borrow + statement_timeout + margin   (wait for a connection, then the statement)
 *   statement_timeout < query timeout, so the server cancels a long statement (and the connection stays
 *                       usable) before the client gives up on it
 *   idle_in_transaction_session_timeout = statement_timeout (below the client timeout too)
 *
 * and the designed path of one invocation must fit in the Lambda timeout:
 *
 *   secret fetch + connect timeout + query timeout + margin <= function timeout
 *
 * Retry paths (a dead connection replaced, a refused login after rotation) are cut to what is left of
 * the invocation at run time, so they end in a typed error rather than a Lambda timeout.
 */
/** Every timeout of one invocation, in milliseconds. */
export interface TimeoutBudget {
  readonly functionMs: number;
  readonly borrowMs: number;
  readonly connectMs: number;
  readonly statementMs: number;
  readonly idleInTransactionMs: number;
  readonly queryMs: number;
  readonly secretMs: number;
  readonly marginMs: number;
}

/** Time for the proxy's answer to travel back and for Lambda's own overhead. */
export const BUDGET_MARGIN_MS = 1000;

/** What the budget is computed from (milliseconds). */
export interface BudgetInput {
  /** The Lambda timeout. */
  readonly functionTimeoutMs: number;
  /**
   * RDS Proxy ConnectionBorrowTimeout.
   * @default - (functionTimeout − secret fetch − 3 × margin) / 3, whole seconds, 1–30
   */
  readonly borrowTimeoutMs?: number;
  /**
   * The application role's statement_timeout.
   * @default - what is left: functionTimeout − secret fetch − 3 × margin − 2 × borrow, at most 5 minutes
   */
  readonly statementTimeoutMs?: number;
  /**
   * The application role's idle_in_transaction_session_timeout.
   * @default - the statement timeout
   */
  readonly idleInTransactionTimeoutMs?: number;
}

/** The budget and every reason it does not fit (empty when it does). */
export function timeoutBudget(i: BudgetInput): { budget: TimeoutBudget; problems: string[] } {
  const m = BUDGET_MARGIN_MS;
  const T = i.functionTimeoutMs;
  const secretMs = Math.min(3000, Math.max(1000, Math.floor(T / 10)));
  const free = T - secretMs - 3 * m; // what borrow (twice: connect and query) and the statement share
  const borrowMs = i.borrowTimeoutMs ?? Math.max(1, Math.min(30, Math.floor(free / 3 / 1000))) * 1000;
  const statementMs = i.statementTimeoutMs ?? Math.max(100, Math.min(300_000, free - 2 * borrowMs));
  const idleInTransactionMs = i.idleInTransactionTimeoutMs ?? statementMs;
  const connectMs = borrowMs + m;
  const queryMs = borrowMs + statementMs + m;
  const needed = secretMs + connectMs + queryMs + m;
  const problems: string[] = [];
  if (needed > T) {
    problems.push(
      `functionTimeout (${T / 1000} s) is too short for borrowTimeout ${borrowMs / 1000} s and statementTimeout ${statementMs} ms: one invocation needs ` +
        `secret fetch ${secretMs} ms + connect (borrow + ${m} ms) ${connectMs} ms + query (borrow + statement + ${m} ms) ${queryMs} ms + ${m} ms = ${needed} ms; ` +
        'raise functionTimeout or lower borrowTimeout/statementTimeout',
    );
  }
  if (idleInTransactionMs >= queryMs) {
    problems.push(`idleInTransactionSessionTimeout (${idleInTransactionMs} ms) must be below the client query timeout (${queryMs} ms)`);
  }
  return { budget: { functionMs: T, borrowMs, connectMs, statementMs, idleInTransactionMs, queryMs, secretMs, marginMs: m }, problems };
}
