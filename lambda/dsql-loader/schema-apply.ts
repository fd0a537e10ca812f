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
  /**
   * Resume a partial apply: a statement whose object already exists on the target (SQLSTATE 42P06, 42P07,
   * 42710, 42723) is skipped and listed in `skipped`, not compared with the dump. @default false - stop at it
   */
  readonly skipExisting?: boolean;
}

/** duplicate_schema, duplicate_table (tables, indexes, views, sequences), duplicate_object (constraints), duplicate_function. */
const EXISTS = new Set(['42P06', '42P07', '42710', '42723']);

export interface ApplyResult {
  readonly applied: number;
  readonly indexJobs: string[];
  /** Objects that already existed and were skipped (only with `skipExisting`). */
  readonly skipped: string[];
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
  const skipped: string[] = [];
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
      const code = (e as { code?: string }).code;
      if (code && EXISTS.has(code)) {
        if (opts.skipExisting) {
          skipped.push(st.object);
          log(`${st.object}: already exists on the target, skipped (not compared with the dump)`);
          continue;
        }
        throw new Error(`${st.object} already exists on the target (${(e as Error).message}); ${applied} statement(s) applied before it. Nothing was dropped. To finish a partial apply, re-run with --resume (skips objects that exist, without comparing them).\nstatement: ${sql}`);
      }
      throw new Error(`applying ${st.object} failed: ${(e as Error).message}; ${applied} statement(s) applied before it. Fix it in converted.sql or the dump, then re-run with --resume.\nstatement: ${sql}`);
    }
    applied += 1;
    log(`applied ${st.object}`);
  }
  return { applied, indexJobs: jobs, skipped };
}
