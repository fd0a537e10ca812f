import { Client } from 'pg';
import { isConflictError } from './connection';
import { ConvertedStatement } from './schema-convert';
import { withRetry } from '../shared/retry';

export interface ApplyOptions {
  /** `dsql` keeps CREATE INDEX ASYNC and waits for its job; `postgres` builds indexes synchronously. */
  readonly target: 'dsql' | 'postgres';
  /** Which phases to apply. @default ['schema'] */
  readonly phases?: Array<ConvertedStatement['phase']>;
  readonly log?: (msg: string) => void;
}

export interface ApplyResult {
  readonly applied: number;
  readonly indexJobs: string[];
}

/**
 * Applies converted statements one per transaction (autocommit), as DSQL requires for DDL.
 * Schema-change conflicts (SQLSTATE 40001, OC001) are retried with jittered backoff. On DSQL,
 * `CREATE INDEX ASYNC` returns a job id; this waits for each job with `sys.wait_for_job`. Stops at
 * the first failing statement and names it.
 */
export async function applyStatements(client: Client, statements: ConvertedStatement[], opts: ApplyOptions): Promise<ApplyResult> {
  const phases = opts.phases ?? ['schema'];
  const log = opts.log ?? (() => {});
  const jobs: string[] = [];
  let applied = 0;
  for (const st of statements.filter((s) => phases.includes(s.phase))) {
    const sql = opts.target === 'postgres' ? st.sql.replace(/^CREATE\s+(UNIQUE\s+)?INDEX\s+ASYNC\b/i, (_m, u) => `CREATE ${u ?? ''}INDEX`) : st.sql;
    try {
      const r = await withRetry(() => client.query(sql), { attempts: 6, baseDelayMs: 200, retryable: isConflictError });
      const job = (r.rows?.[0] as { job_id?: string } | undefined)?.job_id;
      if (job) {
        jobs.push(job);
        log(`${st.object}: waiting for index job ${job}`);
        await client.query('CALL sys.wait_for_job($1)', [job]);
      }
    } catch (e) {
      throw new Error(`applying ${st.object} failed: ${(e as Error).message}\nstatement: ${sql}`);
    }
    applied += 1;
    log(`applied ${st.object}`);
  }
  return { applied, indexJobs: jobs };
}
