import { Readable } from 'stream';
import { createGunzip } from 'zlib';
import Papa from 'papaparse';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { ConnectionManager, isConflictError, isConnectionError } from './connection';
import { DMS_CSV, DmsObjectKey } from './dms-format';
import { columnConverter, describeTable, Invalid, qualified, quoteIdent, TargetTable, valueBytes } from './target';
import { withRetry } from '../shared/retry';

/** Per-transaction budget. Defaults are Aurora DSQL's limits (bytes with a safety margin). */
export interface TxnLimits {
  /** Modified rows per transaction, including the progress row. @default 3000 */
  readonly maxRows: number;
  /** Estimated modified bytes per transaction (row + index overhead). @default 8 MiB */
  readonly maxBytes: number;
}

export const DEFAULT_LIMITS: TxnLimits = { maxRows: 3000, maxBytes: 8 * 1024 * 1024 };
/** Overhead added to every row in the byte estimate (tuple header, key prefix, alignment). */
export const ROW_OVERHEAD_BYTES = 64;
/** Fixed bytes of the progress row besides its text columns (counters, flags, timestamp, overhead). */
const PROGRESS_ROW_BYTES = 512;

/** Where malformed rows go (S3 in AWS; anything in tests). Put must be idempotent for a key. */
export interface QuarantineSink {
  put(key: string, body: string): Promise<void>;
}

/** Counters the handler turns into CloudWatch metrics. */
export interface LoaderMetrics {
  rowsLoaded(n: number): void;
  rowsRejected(n: number): void;
  retry(reason: 'conflict' | 'connection'): void;
  lagSeconds(s: number): void;
  /**
   * An object under the landing prefix that is not a DMS data file was left unloaded (a file name
   * the loader does not know could be data: the construct alarms on this).
   */
  objectSkipped?(): void;
}

export const NO_METRICS: LoaderMetrics = { rowsLoaded: () => {}, rowsRejected: () => {}, retry: () => {}, lagSeconds: () => {} };

export interface LoadObjectInput {
  readonly dmsKey: DmsObjectKey;
  /** ETag (without quotes) of the exact object version being loaded: the progress key. */
  readonly etag: string;
  /** The object body; streamed, never read whole. */
  readonly body: Readable;
}

export interface LoaderOptions {
  readonly connections: ConnectionManager;
  readonly quarantine: QuarantineSink;
  /** Folder for quarantine objects, e.g. `quarantine`. */
  readonly quarantinePrefix: string;
  /** Target schema for every table. @default - the schema in the DMS key */
  readonly targetSchema?: string;
  readonly limits?: TxnLimits;
  /** DMS CsvNullValue. @default DMS_CSV.nullValue */
  readonly nullValue?: string;
  /** DMS TimestampColumnName. @default DMS_CSV.timestampColumn */
  readonly timestampColumn?: string;
  /**
   * DMS CsvDelimiter of the endpoint that wrote the files (an existing endpoint may use another).
   * https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Target.S3.html#CHAP_Target.S3.Configuring
   * @default DMS_CSV.delimiter (",")
   */
  readonly csvDelimiter?: string;
  /** DMS CsvRowDelimiter of that endpoint. @default DMS_CSV.rowDelimiter ("\n") */
  readonly csvRowDelimiter?: string;
  readonly metrics?: LoaderMetrics;
  /** Stop between transactions when this returns false (Lambda time left); the next run resumes. */
  readonly keepGoing?: () => boolean;
  /** Load full-load batches with COPY FROM STDIN (falls back to INSERT when refused). @default true */
  readonly useCopy?: boolean;
  /** Attempts per transaction for conflicts and dropped connections. @default 8 */
  readonly attempts?: number;
  /** First retry delay in ms. @default 50 */
  readonly baseDelayMs?: number;
  /** Test hook: runs inside each transaction after the progress read (snapshot taken), before the data statements. */
  readonly afterSnapshot?: (client: Client, batchNo: number) => Promise<void>;
  /** Test hook: runs inside each transaction after the data statements, before the progress write. */
  readonly beforeCommit?: (client: Client, batchNo: number) => Promise<void>;
  readonly log?: (msg: string, extra?: Record<string, unknown>) => void;
}

export interface LoadResult {
  readonly status: 'loaded' | 'already-loaded' | 'incomplete';
  readonly objectKey: string;
  readonly etag: string;
  readonly table: string;
  /** Data records of the object committed so far (applied + rejected); for `incomplete`, where the next run resumes. */
  readonly records: number;
  /** Rows applied by this run. */
  readonly rowsApplied: number;
  /** Rows quarantined by this run. */
  readonly rowsRejected: number;
  readonly transactions: number;
  readonly retries: number;
  /** Records skipped because an earlier run had committed them. */
  readonly resumedFrom: number;
  readonly quarantineKeys: string[];
}

type Op = 'I' | 'U' | 'D';

interface Row {
  readonly ordinal: number;
  readonly line: number;
  readonly op: Op;
  readonly values: (string | null)[];
  readonly ts?: string;
  /** The parsed CSV fields as read (kept so a row the database rejects is quarantined with its raw text). */
  readonly record: string[];
}

interface Rejected {
  readonly ordinal: number;
  readonly line: number;
  readonly reason: string;
  readonly raw: string;
}

interface Batch {
  /** Records before this batch (committed position at its start). */
  readonly start: number;
  /** Records up to and including this batch. */
  end: number;
  rows: Row[];
  rejected: Rejected[];
  bytes: number;
  lastLine: number;
}

export const PROGRESS_DDL = [
  'CREATE SCHEMA IF NOT EXISTS dsql_loader',
  `CREATE TABLE IF NOT EXISTS dsql_loader.progress (
     object_key text NOT NULL,
     object_etag text NOT NULL,
     target_table text NOT NULL,
     records_committed bigint NOT NULL,
     last_line bigint NOT NULL,
     rows_applied bigint NOT NULL,
     rows_rejected bigint NOT NULL,
     done boolean NOT NULL,
     updated_at timestamptz NOT NULL,
     PRIMARY KEY (object_key, object_etag))`,
];

/**
 * Creates the progress table (one DDL statement per transaction, as DSQL requires) unless it
 * exists. The existence check comes first because PostgreSQL checks the CREATE privilege before
 * `IF NOT EXISTS`: the loader's role needs no CREATE right once an admin has created the table
 * (README, runbook step 2).
 */
export async function ensureProgressTable(client: Client): Promise<void> {
  const exists = await withRetry(
    () => client.query(`SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = 'dsql_loader' AND tablename = 'progress'`),
    { attempts: 5, baseDelayMs: 100, retryable: isConflictError },
  );
  if (exists.rows.length > 0) return;
  for (const ddl of PROGRESS_DDL) {
    await withRetry(() => client.query(ddl), { attempts: 5, baseDelayMs: 100, retryable: isConflictError });
  }
}

export class WaitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DsqlLoaderWaitError';
  }
}

/** An earlier file of the table: its key, or its key and the ETag of the version that must be done. */
export type EarlierFile = string | { readonly key: string; readonly etag: string };

/**
 * Refuses to load a CDC file while an earlier file of the same table (any full-load file, or a CDC
 * file that sorts before it) is not marked done in the progress table: files of one table are
 * applied in DMS order. `earlier` are the files DMS wrote before this one; with an ETag, that exact
 * version must be done (a LOAD file rewritten under the same key by a table reload is a new file
 * that the later CDC files must wait for), with a bare key any version.
 */
export async function assertEarlierFilesLoaded(client: Client, dmsKey: DmsObjectKey, earlier: EarlierFile[]): Promise<void> {
  if (dmsKey.kind !== 'cdc' || earlier.length === 0) return;
  const keys = earlier.map((f) => (typeof f === 'string' ? f : f.key));
  const done = await client.query<{ object_key: string; object_etag: string }>(
    'SELECT DISTINCT object_key, object_etag FROM dsql_loader.progress WHERE done AND object_key = ANY($1::text[])',
    [keys],
  );
  const doneKeys = new Set(done.rows.map((r) => r.object_key));
  const doneVersions = new Set(done.rows.map((r) => `${r.object_key}\n${r.object_etag}`));
  const pending = earlier.filter((f) => (typeof f === 'string' ? !doneKeys.has(f) : !doneVersions.has(`${f.key}\n${f.etag}`)));
  if (pending.length > 0) {
    const first = pending[0];
    const firstText = typeof first === 'string' ? first : doneKeys.has(first.key) ? `${first.key}, rewritten since it was loaded: ETag ${first.etag}` : first.key;
    throw new WaitError(`${dmsKey.key} waits: ${pending.length} earlier file(s) of ${dmsKey.schema}.${dmsKey.table} are not loaded yet (first: ${firstText})`);
  }
}

/** The ETag of a done version of `objectKey` other than `etag`, if the progress table has one. */
export async function otherDoneVersion(client: Client, objectKey: string, etag: string): Promise<string | undefined> {
  const r = await client.query<{ object_etag: string }>(
    'SELECT object_etag FROM dsql_loader.progress WHERE object_key = $1 AND done AND object_etag <> $2 LIMIT 1',
    [objectKey, etag],
  );
  return r.rows[0]?.object_etag;
}

/**
 * Loads one DMS CSV object into its target table: streams and parses it, converts values by the
 * target column types, and applies rows in transactions that stay within the row and byte limits.
 * Each transaction also advances the object's progress row, so a retry or crash resumes exactly
 * after the last committed transaction. Malformed rows are written to a quarantine object (before
 * the transaction that skips them commits) and counted.
 */
export async function loadObject(input: LoadObjectInput, opts: LoaderOptions): Promise<LoadResult> {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  if (limits.maxRows < 2) throw new Error('limits.maxRows must be at least 2 (one data row plus the progress row)');
  const nullValue = opts.nullValue ?? DMS_CSV.nullValue;
  const tsColumn = opts.timestampColumn ?? DMS_CSV.timestampColumn;
  const metrics = opts.metrics ?? NO_METRICS;
  const log = opts.log ?? (() => {});
  const { dmsKey, etag } = input;
  const schema = opts.targetSchema || dmsKey.schema;
  const tableName = `${schema}.${dmsKey.table}`;
  const attempts = opts.attempts ?? 8;

  let retries = 0;
  let copySupported = opts.useCopy ?? true;
  const retrying = async <T>(fn: (c: Client) => Promise<T>): Promise<T> =>
    withRetry(
      async () => {
        const c = await opts.connections.get();
        try {
          return await fn(c);
        } catch (e) {
          if (isConnectionError(e)) await opts.connections.discard();
          // Stryker disable next-line ArrowFunction: equivalent in practice, a ROLLBACK fails only on a connection that has ended, and ConnectionManager already drops a client on 'end' (loader-mutants.test.ts, 'the connection after a failed transaction')
          else await c.query('ROLLBACK').catch(() => opts.connections.discard());
          throw e;
        }
      },
      {
        attempts,
        baseDelayMs: opts.baseDelayMs ?? 50,
        maxDelayMs: 5000,
        retryable: (e) => isConflictError(e) || isConnectionError(e),
        onRetry: (e) => {
          retries += 1;
          metrics.retry(isConflictError(e) ? 'conflict' : 'connection');
          log('retrying transaction', { object: dmsKey.key, code: (e as { code?: string }).code, error: String(e) });
        },
      },
    );

  // Narrowed to the columns the file's header names once the header is read (mapHeader): a column
  // that exists only in DSQL is never written, so it keeps its DEFAULT on insert and its value on update.
  // The body is an open S3 response from here on. An error on it before csvChunks attaches its reader
  // (the connection reset while the table and the progress row are read) is kept and fails this load;
  // with no listener Node would raise it as an uncaught exception and end the process. A load that
  // fails before reading releases the body instead of leaving the connection open.
  let bodyError: Error | undefined;
  input.body.on('error', (e) => {
    bodyError ??= e;
  });
  let target: TargetTable;
  let progress: Awaited<ReturnType<typeof readProgress>>;
  try {
    target = await retrying((c) => describeTable(c, schema, dmsKey.table));
    progress = await retrying((c) => readProgress(c, dmsKey.key, etag));
  } catch (e) {
    input.body.destroy();
    throw e;
  }
  // A body that failed before it reached the loader (its error event already emitted) emits nothing
  // more: reading it would wait for an end that never comes.
  const failed = bodyError ?? input.body.errored;
  if (failed) throw failed;
  if (progress?.done) {
    input.body.destroy();
    return { status: 'already-loaded', objectKey: dmsKey.key, etag, table: tableName, records: progress.records, rowsApplied: 0, rowsRejected: 0, transactions: 0, retries, resumedFrom: progress.records, quarantineKeys: [] };
  }
  let committed = progress?.records ?? 0;
  const resumedFrom = committed;

  let text: Readable = input.body;
  if (dmsKey.gzip) {
    const gunzip = createGunzip();
    input.body.on('error', (e) => gunzip.destroy(e));
    text = input.body.pipe(gunzip);
  }
  let ordinalSeen = 0;

  let header: string[] | undefined;
  let mapping: { opIdx: number; tsIdx: number; colIdx: number[]; loaded: TargetTable } | undefined;
  let lastEndLine = 0;
  let batch = newBatch(committed, 0);
  let transactions = 0;
  let applied = 0;
  let rejectedTotal = 0;
  let batchNo = 0;
  let stopped = false;
  const quarantineKeys: string[] = [];
  let converters = target.columns.map(columnConverter);
  // Stryker disable next-line ArrowFunction: equivalent, mapHeader sets pkFlags again from the header, which is always read before the first row
  let pkFlags = target.columns.map((c) => target.primaryKey.includes(c.name));
  const perRowBytes = (values: (string | null)[]) => {
    let sum = ROW_OVERHEAD_BYTES;
    for (let i = 0; i < values.length; i += 1) sum += valueBytes(target.columns[i], values[i]);
    return sum * (1 + target.secondaryIndexes);
  };
  const maxDataRows = limits.maxRows - 1;
  // The progress row is written in the same transaction: its key (S3 keys reach 1,024 bytes) is
  // stored in the row and again in its primary-key index entry.
  const progressBytes = PROGRESS_ROW_BYTES + 2 * (Buffer.byteLength(dmsKey.key) + Buffer.byteLength(etag)) + Buffer.byteLength(tableName);
  const maxDataBytes = limits.maxBytes - progressBytes;

  const flush = async (b: Batch, done: boolean) => {
    if (b.rows.length === 0 && b.rejected.length === 0 && !done) return;
    batchNo += 1;
    const qKey = b.rejected.length > 0 ? quarantineKey(opts.quarantinePrefix, dmsKey.key, etag, b.start + 1, b.end) : undefined;
    if (qKey) {
      await opts.quarantine.put(qKey, b.rejected.map((r) => JSON.stringify({ object: dmsKey.key, etag, line: r.line, record: r.ordinal, reason: r.reason, raw: r.raw })).join('\n') + '\n');
    }
    const outcome = await commitBatch(b, done, batchNo);
    transactions += outcome.transactions;
    if (outcome.applied) {
      applied += b.rows.length - outcome.extraRejected.length;
      rejectedTotal += b.rejected.length + outcome.extraRejected.length;
      metrics.rowsLoaded(b.rows.length - outcome.extraRejected.length);
      metrics.rowsRejected(b.rejected.length + outcome.extraRejected.length);
      if (qKey || outcome.quarantineKey) quarantineKeys.push((outcome.quarantineKey ?? qKey)!);
      let lastTs: string | undefined;
      for (let i = b.rows.length - 1; i >= 0 && !lastTs; i -= 1) lastTs = b.rows[i].ts;
      if (lastTs) {
        const t = Date.parse(lastTs.includes('T') ? lastTs : `${lastTs.replace(' ', 'T')}Z`);
        if (Number.isFinite(t)) metrics.lagSeconds(Math.max(0, (Date.now() - t) / 1000));
      }
    }
    committed = b.end;
  };

  /**
   * Applies one batch in one transaction with the progress row, retrying conflicts and dropped
   * connections. Rows the database rejects (bad casts, constraint violations) are found by
   * bisection in rolled-back probe transactions, quarantined, and the rest is applied.
   */
  const commitBatch = async (
    b: Batch,
    done: boolean,
    no: number,
  ): Promise<{ applied: boolean; transactions: number; extraRejected: Rejected[]; quarantineKey?: string }> => {
    let rows = b.rows;
    let extraRejected: Rejected[] = [];
    let extraKey: string | undefined;
    let txns = 0;
    // Full-load batches go in with COPY FROM STDIN (fast); if a row already exists (DMS re-wrote a
    // LOAD file after a task restart) the batch is redone with INSERT … ON CONFLICT DO NOTHING.
    let useCopy = dmsKey.kind === 'full-load' && copySupported;
    let attempt = 0;
    let fastAllowed = true;
    for (;;) {
      try {
        const result = await retrying(async (c) => {
          attempt += 1;
          if (useCopy && fastAllowed && attempt === 1) {
            // Fast path, two round trips: BEGIN + COPY, then the guarded progress write + COMMIT.
            // The guard fails the transaction if the progress is not where this batch starts.
            await copyRows(c, target, rows, 'BEGIN ISOLATION LEVEL REPEATABLE READ; ');
            if (opts.afterSnapshot) await opts.afterSnapshot(c, no);
            if (opts.beforeCommit) await opts.beforeCommit(c, no);
            await writeProgress(c, dmsKey.key, etag, tableName, b.end, b.lastLine, rows.length, b.rejected.length + extraRejected.length, done, b.start);
            return 'committed' as const;
          }
          // One round trip: BEGIN and the progress read (simple protocol, escaped literals).
          const cur = await beginAndReadProgress(c, dmsKey.key, etag);
          const at = cur?.records ?? 0;
          if (cur?.done || at >= b.end) {
            // Committed before (by us before a dropped connection, or by a concurrent delivery).
            await c.query('ROLLBACK');
            return 'already' as const;
          }
          if (at !== b.start) {
            await c.query('ROLLBACK');
            throw new Error(`progress of ${dmsKey.key} is at record ${at}, expected ${b.start}: another loader is working on this object; retry later`);
          }
          if (opts.afterSnapshot) await opts.afterSnapshot(c, no);
          if (useCopy) await copyRows(c, target, rows);
          else await applyRows(c, target, dmsKey.kind, rows);
          if (opts.beforeCommit) await opts.beforeCommit(c, no);
          // One round trip: the progress write and COMMIT.
          await writeProgress(c, dmsKey.key, etag, tableName, b.end, b.lastLine, rows.length, b.rejected.length + extraRejected.length, done);
          return 'committed' as const;
        });
        txns += 1;
        return { applied: result === 'committed', transactions: txns, extraRejected, quarantineKey: extraKey };
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (String((e as Error).message).includes(PROGRESS_MOVED)) {
          fastAllowed = false; // read the progress first: committed already, or another loader is on it
          continue;
        }
        if (useCopy && (code === '23505' || code === '0A000' || code === '42601')) {
          if (code !== '23505') copySupported = false; // the server refuses COPY: use INSERT from now on
          useCopy = false;
          continue;
        }
        if (!isDataError(e)) throw e;
        // Find the rows the database refuses, quarantine them, and commit the rest.
        const bad = await findRejectedRows(rows);
        if (bad.length === 0) throw e;
        const badSet = new Set(bad.map((x) => x.row));
        extraRejected = extraRejected.concat(bad.map((x) => ({ ordinal: x.row.ordinal, line: x.row.line, reason: x.reason, raw: encodeCsvRecord(x.row.record, nullValue) })));
        rows = rows.filter((r) => !badSet.has(r));
        extraKey = quarantineKey(opts.quarantinePrefix, dmsKey.key, etag, b.start + 1, b.end) + '.db';
        await opts.quarantine.put(
          extraKey,
          extraRejected.map((r) => JSON.stringify({ object: dmsKey.key, etag, line: r.line, record: r.ordinal, reason: r.reason, raw: r.raw })).join('\n') + '\n',
        );
      }
    }
  };

  const findRejectedRows = async (rows: Row[]): Promise<Array<{ row: Row; reason: string }>> => {
    const probe = async (subset: Row[]): Promise<string | undefined> =>
      retrying(async (c) => {
        await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        try {
          await applyRows(c, target, dmsKey.kind, subset);
          return undefined;
        } catch (e) {
          if (isDataError(e)) return `database: ${(e as Error).message} (SQLSTATE ${(e as { code?: string }).code})`;
          throw e;
        } finally {
          await c.query('ROLLBACK');
        }
      });
    const out: Array<{ row: Row; reason: string }> = [];
    const bisect = async (subset: Row[]): Promise<void> => {
      const reason = await probe(subset);
      if (reason === undefined) return;
      if (subset.length === 1) {
        out.push({ row: subset[0], reason });
        return;
      }
      const mid = Math.floor(subset.length / 2);
      await bisect(subset.slice(0, mid));
      await bisect(subset.slice(mid));
    };
    await bisect(rows);
    return out;
  };

  let inflight: Promise<void> | undefined;
  const delimiter = opts.csvDelimiter ?? DMS_CSV.delimiter;
  const chunks = csvChunks(text, delimiter, opts.csvRowDelimiter ?? DMS_CSV.rowDelimiter);
  try {
    for await (const chunk of chunks) {
      for (let i = 0; i < chunk.rows.length; i += 1) {
        const record = chunk.rows[i];
        const startLine = lastEndLine + 1;
        let nl = 0;
        for (const f of record) if (f.indexOf('\n') >= 0) nl += f.split('\n').length - 1;
        lastEndLine = startLine + nl;
        if (record.length === 1 && record[0] === '') continue; // an empty line (e.g. the end of the file) is not a record
        if (!header) {
          header = record;
          if (header[0]?.charCodeAt(0) === 0xfeff) header[0] = header[0].slice(1);
          if (header.length === 1 && target.columns.length > 1) {
            // One field where the table has several: the endpoint that wrote the file uses another
            // CsvDelimiter (or CsvRowDelimiter) than the loader is configured for.
            throw new Error(
              `${dmsKey.key}: header ${JSON.stringify(header[0].replace(/\r$/, ''))} has one field: the file is not delimited by ${JSON.stringify(delimiter)}; set CSV_DELIMITER to the DMS endpoint's CsvDelimiter (and CSV_ROW_DELIMITER to its CsvRowDelimiter) on the loader function. Nothing was loaded; the object is kept.`,
            );
          }
          mapping = mapHeader(header, target, tsColumn, dmsKey.key);
          target = mapping.loaded;
          converters = target.columns.map(columnConverter);
          pkFlags = target.columns.map((c) => target.primaryKey.includes(c.name));
          batch.lastLine = lastEndLine;
          continue;
        }
        ordinalSeen += 1;
        if (ordinalSeen <= resumedFrom) continue; // committed by an earlier run
        const csvError = chunk.errors.get(i);
        const parsed: Row | Rejected = csvError
          ? { ordinal: ordinalSeen, line: startLine, reason: `CSV: ${csvError}`, raw: encodeCsvRecord(record, nullValue) }
          : toRow(record, startLine, ordinalSeen);
        if ('reason' in parsed) await addRejected(parsed);
        else await addRow(parsed);
        if (stopped) break;
      }
      if (stopped) break;
    }
    if (inflight) await inflight;
    inflight = undefined;
    if (!stopped) {
      if (!header) throw new Error(`${dmsKey.key} has no header row: the DMS endpoint must set AddColumnName=true`);
      await flush(batch, true);
    }
  } finally {
    if (inflight) await inflight.catch(() => undefined);
    await chunks.return(undefined);
    input.body.destroy();
  }

  return {
    status: stopped ? 'incomplete' : 'loaded',
    objectKey: dmsKey.key,
    etag,
    table: tableName,
    // Stopped: the records committed (where the next run resumes), not the ones read ahead into the batch it dropped.
    records: stopped ? committed : ordinalSeen,
    rowsApplied: applied,
    rowsRejected: rejectedTotal,
    transactions,
    retries,
    resumedFrom,
    quarantineKeys,
  };

  async function addRejected(r: Rejected) {
    if (batch.rejected.length + batch.rows.length >= maxDataRows) await flushOrStop();
    if (stopped) return;
    batch.rejected.push(r);
    batch.end = r.ordinal;
    batch.lastLine = lastEndLine;
  }

  async function addRow(r: Row) {
    const tooBig = dsqlRowLimitProblem(target, pkFlags, r.values);
    if (tooBig) {
      await addRejected({ ordinal: r.ordinal, line: r.line, reason: tooBig, raw: encodeCsvRecord(r.record, nullValue) });
      return;
    }
    const bytes = perRowBytes(r.values);
    if (bytes > maxDataBytes) {
      await addRejected({ ordinal: r.ordinal, line: r.line, reason: `row needs about ${bytes} bytes, more than one transaction may modify (${maxDataBytes})`, raw: encodeCsvRecord(r.record, nullValue) });
      return;
    }
    if (batch.rows.length + batch.rejected.length >= maxDataRows || batch.bytes + bytes > maxDataBytes) await flushOrStop();
    if (stopped) return;
    batch.rows.push(r);
    batch.bytes += bytes;
    batch.end = r.ordinal;
    batch.lastLine = lastEndLine;
  }

  /**
   * Hands the full batch to the database and keeps parsing the next one meanwhile (one transaction
   * in flight at a time, so transactions still commit in file order).
   */
  async function flushOrStop() {
    if (inflight) await inflight;
    inflight = undefined;
    if (opts.keepGoing && !opts.keepGoing()) {
      stopped = true;
      return;
    }
    const b = batch;
    batch = newBatch(b.end, b.lastLine);
    const p = flush(b, false);
    p.catch(() => undefined); // awaited before the next flush or at the end
    inflight = p;
  }

  function toRow(record: string[], line: number, ordinal: number): Row | Rejected {
    const m = mapping!;
    const rawText = (): string => encodeCsvRecord(record, nullValue);
    if (record.length !== header!.length) {
      return { ordinal, line, reason: `expected ${header!.length} fields as in the header, got ${record.length}`, raw: rawText() };
    }
    const op = (m.opIdx >= 0 ? record[m.opIdx] : 'I') as Op;
    if (op !== 'I' && op !== 'U' && op !== 'D') return { ordinal, line, reason: `unknown DMS operation "${record[m.opIdx]}" (expected I, U or D)`, raw: rawText() };
    if (dmsKey.kind === 'full-load' && op !== 'I') return { ordinal, line, reason: `operation ${op} in a full-load file`, raw: rawText() };
    const n = target.columns.length;
    const values: (string | null)[] = new Array(n);
    for (let i = 0; i < n; i += 1) {
      const idx = m.colIdx[i];
      if (idx < 0 || (op === 'D' && !pkFlags[i])) {
        values[i] = null; // not in the file, or a delete (which needs only the key)
        continue;
      }
      const field = record[idx];
      const v = converters[i](field === nullValue ? null : field);
      if (v instanceof Invalid) {
        // DMS writes SQL NULL as the unquoted null token; a source string equal to the token is
        // written the same way. In a NOT NULL column that is detectable: say so (README "NULL token").
        const hint = field === nullValue ? ` (the field is the CSV null token ${nullValue}: if the source holds this literal string, it cannot be told from NULL; see README "NULL token")` : '';
        return { ordinal, line, reason: v.reason + hint, raw: rawText() };
      }
      values[i] = v;
    }
    return { ordinal, line, op, values, ts: m.tsIdx >= 0 ? record[m.tsIdx] : undefined, record };
  }
}

/**
 * Parses a CSV stream with Papa Parse (RFC 4180: quoted delimiters, doubled quotes, line breaks
 * inside quotes) and yields its records chunk by chunk, pausing the parser while the consumer
 * works (backpressure: the object is never read whole). Per-record parse errors (a quote never
 * closed) come with the chunk, keyed by the record's index in it.
 */
async function* csvChunks(input: Readable, delimiter: string, rowDelimiter: string): AsyncGenerator<{ rows: string[][]; errors: Map<number, string> }> {
  const queue: Array<{ rows: string[][]; errors: Map<number, string> }> = [];
  let parser: Papa.Parser | undefined;
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  input.setEncoding('utf8');
  input.on('error', (e) => {
    failure = e;
    wake?.();
  });
  Papa.parse<string[]>(input as unknown as File, {
    delimiter,
    newline: rowDelimiter as Papa.ParseConfig['newline'],
    quoteChar: '"',
    escapeChar: '"',
    header: false,
    dynamicTyping: false,
    skipEmptyLines: false,
    chunk: (results, p) => {
      parser = p;
      // Pause both the parser and the source stream: Papa Parse's own pause stops parsing but
      // keeps queueing incoming data, which would buffer the whole object.
      p.pause();
      input.pause();
      const errors = new Map<number, string>();
      for (const e of results.errors) if (e.row !== undefined && e.code !== 'UndetectableDelimiter') errors.set(e.row, `${e.code}: ${e.message}`);
      queue.push({ rows: results.data, errors });
      wake?.();
    },
    complete: () => {
      ended = true;
      wake?.();
    },
    error: (e: Error) => {
      failure = e;
      wake?.();
    },
  });
  try {
    for (;;) {
      const next = queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (failure) throw failure;
      if (ended) return;
      const resume = parser;
      await new Promise<void>((res) => {
        wake = res;
        resume?.resume();
        input.resume();
      });
      wake = undefined;
    }
  } finally {
    if (!ended) parser?.abort();
  }
}

/**
 * Aurora DSQL's per-row limits (https://docs.aws.amazon.com/aurora-dsql/latest/userguide/CHAP_quotas.html):
 * a row holds at most 2 MiB, a column that is not part of an index at most 1 MiB, and the primary
 * key columns together at most 1 KiB; above them DSQL fails the statement with SQLSTATE 54000,
 * which is not a data error, so one such row would fail its whole batch on every retry and stall
 * the file (and every later CDC file of the table). Such a row is quarantined instead.
 * Returns the reason, or undefined when the row fits.
 */
export const DSQL_MAX_ROW_BYTES = 2 * 1024 * 1024;
export const DSQL_MAX_COLUMN_BYTES = 1024 * 1024;
export const DSQL_MAX_KEY_BYTES = 1024;

function dsqlRowLimitProblem(t: TargetTable, pkFlags: boolean[], values: (string | null)[]): string | undefined {
  let row = 0;
  let keyBytes = 0;
  for (let i = 0; i < values.length; i += 1) {
    const v = values[i];
    const stored = valueBytes(t.columns[i], v);
    row += stored;
    const data = v === null ? 0 : stored - (FIXED_TYPES.has(t.columns[i].base) ? 0 : 4);
    if (pkFlags[i]) keyBytes += data;
    else if (data > DSQL_MAX_COLUMN_BYTES) {
      return `column ${t.columns[i].name} holds ${data} bytes, above the DSQL column size limit (${DSQL_MAX_COLUMN_BYTES} bytes)`;
    }
  }
  if (keyBytes > DSQL_MAX_KEY_BYTES) return `primary key holds ${keyBytes} bytes, above the DSQL key size limit (${DSQL_MAX_KEY_BYTES} bytes)`;
  if (row > DSQL_MAX_ROW_BYTES) return `row holds about ${row} bytes, above the DSQL row size limit (${DSQL_MAX_ROW_BYTES} bytes)`;
  return undefined;
}

const FIXED_TYPES = new Set(['bool', 'int2', 'int4', 'int8', 'float4', 'float8', 'date', 'timestamp', 'timestamptz', 'time', 'uuid']);

/** A parsed record written back as one CSV line (for quarantine objects). */
function encodeCsvRecord(record: string[], nullValue: string): string {
  return record.map((f) => (f !== nullValue && /[",\r\n]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(DMS_CSV.delimiter);
}

function newBatch(start: number, lastLine: number): Batch {
  return { start, end: start, rows: [], rejected: [], bytes: 0, lastLine };
}

function quarantineKey(prefix: string, objectKey: string, etag: string, from: number, to: number): string {
  return `${prefix}/${objectKey}/${etag}/records-${String(from).padStart(10, '0')}-${String(to).padStart(10, '0')}.jsonl`;
}

/**
 * Maps the header to the target table. `loaded` is the target narrowed to the columns the file
 * carries (in table order), `colIdx[i]` the field of `loaded.columns[i]`. Columns that exist only in
 * the target are left out of every INSERT/COPY/UPDATE: a DSQL-only column keeps its DEFAULT on
 * insert and whatever the application wrote on update (writing NULL there would lose data).
 */
function mapHeader(header: string[], target: TargetTable, tsColumn: string, key: string): { opIdx: number; tsIdx: number; colIdx: number[]; loaded: TargetTable } {
  const opIdx = header.indexOf(DMS_CSV.opColumn);
  const tsIdx = header.indexOf(tsColumn);
  const known = new Set(target.columns.map((c) => c.name));
  const unknown = header.filter((h, i) => i !== opIdx && i !== tsIdx && !known.has(h));
  if (unknown.length > 0) {
    throw new Error(`${key}: header columns ${JSON.stringify(unknown)} do not exist in ${target.schema}.${target.table}; apply the converted schema or fix the table mapping`);
  }
  const colIdx = target.columns.map((c) => header.indexOf(c.name));
  const missingPk = target.primaryKey.filter((k) => colIdx[target.columns.findIndex((c) => c.name === k)] < 0);
  if (missingPk.length > 0) throw new Error(`${key}: primary key column(s) ${missingPk.join(', ')} missing from the header`);
  const keep = target.columns.map((_, i) => colIdx[i] >= 0);
  const loaded: TargetTable = { ...target, columns: target.columns.filter((_, i) => keep[i]) };
  return { opIdx, tsIdx, colIdx: colIdx.filter((_, i) => keep[i]), loaded };
}

/** Data exceptions, integrity violations and invalid text representations: the row is at fault. */
function isDataError(e: unknown): boolean {
  const code = (e as { code?: string })?.code ?? '';
  return code.startsWith('22') || code.startsWith('23');
}

async function readProgress(c: Client, key: string, etag: string): Promise<{ records: number; done: boolean } | undefined> {
  const r = await c.query<{ records_committed: string; done: boolean }>(
    'SELECT records_committed, done FROM dsql_loader.progress WHERE object_key = $1 AND object_etag = $2',
    [key, etag],
  );
  return r.rows[0] ? { records: Number(r.rows[0].records_committed), done: r.rows[0].done } : undefined;
}

async function beginAndReadProgress(c: Client, key: string, etag: string): Promise<{ records: number; done: boolean } | undefined> {
  const results = (await c.query(
    `BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT records_committed, done FROM dsql_loader.progress WHERE object_key = ${c.escapeLiteral(key)} AND object_etag = ${c.escapeLiteral(etag)}`,
  )) as unknown as Array<{ rows: Array<{ records_committed: string; done: boolean }> }>;
  const row = results[1].rows[0]; // two statements, two results
  return row ? { records: Number(row.records_committed), done: row.done } : undefined;
}

const PROGRESS_MOVED = 'dsql-loader: progress moved';

async function writeProgress(c: Client, key: string, etag: string, table: string, records: number, line: number, applied: number, rejected: number, done: boolean, guardStart?: number): Promise<void> {
  const int = (n: number) => String(Math.trunc(n));
  // With a guard, an existing progress row must be exactly at the batch start (and not done);
  // otherwise the cast fails and the whole transaction rolls back.
  const guarded = (col: string, value: string) =>
    guardStart === undefined ? value : `CASE WHEN p.records_committed = ${int(guardStart)} AND NOT p.done THEN ${value} ELSE ${col} + (${c.escapeLiteral(PROGRESS_MOVED + ' at ')} || p.records_committed)::bigint END`; // not a constant: evaluated only in this branch
  await c.query(
    `INSERT INTO dsql_loader.progress AS p (object_key, object_etag, target_table, records_committed, last_line, rows_applied, rows_rejected, done, updated_at)
     VALUES (${c.escapeLiteral(key)}, ${c.escapeLiteral(etag)}, ${c.escapeLiteral(table)}, ${int(records)}, ${int(line)}, ${int(applied)}, ${int(rejected)}, ${done ? 'true' : 'false'}, now())
     ON CONFLICT (object_key, object_etag) DO UPDATE
       SET records_committed = ${guarded('p.records_committed', 'EXCLUDED.records_committed')}, last_line = EXCLUDED.last_line,
           rows_applied = p.rows_applied + EXCLUDED.rows_applied, rows_rejected = p.rows_rejected + EXCLUDED.rows_rejected,
           done = EXCLUDED.done, updated_at = EXCLUDED.updated_at;
     COMMIT`,
  );
}

/**
 * Applies rows in file order: consecutive rows of the same kind go into one set-based statement
 * (`INSERT … SELECT FROM unnest(...)`), split when the operation changes or a key repeats (one
 * statement cannot touch a row twice). Full load: `ON CONFLICT DO NOTHING` (a re-delivered snapshot
 * row never overwrites a newer change). CDC: I/U upsert the after-image, D deletes by key.
 */
export async function applyRows(c: Client, t: TargetTable, kind: 'full-load' | 'cdc', rows: Row[]): Promise<void> {
  const pkIdx = t.primaryKey.map((k) => t.columns.findIndex((col) => col.name === k));
  let run: Row[] = [];
  let runKind: 'upsert' | 'delete' | undefined;
  let keys = new Set<string>();
  const flushRun = async () => {
    if (run.length === 0) return;
    if (runKind === 'delete') await c.query(deleteSql(t, pkIdx), pkIdx.map((i) => run.map((r) => r.values[i])));
    else await c.query(upsertSql(t, kind), t.columns.map((_, i) => run.map((r) => r.values[i])));
    run = [];
    keys = new Set();
  };
  for (const r of rows) {
    const k: 'upsert' | 'delete' = r.op === 'D' ? 'delete' : 'upsert';
    const key = JSON.stringify(pkIdx.map((i) => r.values[i]));
    if (k !== runKind || keys.has(key)) {
      await flushRun();
      runKind = k;
    }
    run.push(r);
    keys.add(key);
  }
  await flushRun();
}

/**
 * COPY FROM STDIN of one batch (CSV: an unquoted empty field is NULL, "" is the empty string).
 * Used for full-load batches: several times faster than INSERT, same transaction and limits.
 */
export async function copyRows(c: Client, t: TargetTable, rows: Row[], prefix = ''): Promise<void> {
  if (rows.length === 0) {
    if (prefix) await c.query(prefix);
    return;
  }
  const sql = cached(t, 'copy', () => `COPY ${qualified(t)} (${t.columns.map((col) => quoteIdent(col.name)).join(', ')}) FROM STDIN WITH (FORMAT csv)`);
  const stream = c.query(copyFrom(prefix + sql));
  const finished = new Promise<void>((resolve, reject) => {
    stream.on('finish', () => resolve());
    stream.on('error', reject);
  });
  let buf = '';
  for (const r of rows) {
    const v = r.values;
    for (let i = 0; i < v.length; i += 1) {
      const x = v[i];
      if (i > 0) buf += ',';
      if (x === null) continue;
      buf += x === '' || x === '\\.' || NEEDS_QUOTES.test(x) ? `"${x.replace(/"/g, '""')}"` : x;
    }
    buf += '\n';
    if (buf.length > 1 << 16) {
      if (!stream.write(buf)) await new Promise<void>((res, rej) => { stream.once('drain', res); stream.once('error', rej); });
      buf = '';
    }
  }
  stream.end(buf);
  await finished;
}

const NEEDS_QUOTES = /[",\r\n]/;

const sqlCache = new WeakMap<TargetTable, Map<string, string>>();

function cached(t: TargetTable, id: string, build: () => string): string {
  let m = sqlCache.get(t);
  if (!m) sqlCache.set(t, (m = new Map()));
  let s = m.get(id);
  if (!s) m.set(id, (s = build()));
  return s;
}

function upsertSql(t: TargetTable, kind: 'full-load' | 'cdc'): string {
  return cached(t, `upsert-${kind}`, () => {
    const cols = t.columns.map((c) => quoteIdent(c.name)).join(', ');
    const params = t.columns.map((_, i) => `$${i + 1}::text[]`).join(', ');
    const aliases = t.columns.map((_, i) => `v${i}`).join(', ');
    const casts = t.columns.map((c, i) => `v${i}::${c.type}`).join(', ');
    const conflict = t.primaryKey.map(quoteIdent).join(', ');
    const nonKey = t.columns.filter((c) => !t.primaryKey.includes(c.name));
    const action =
      kind === 'full-load' || nonKey.length === 0
        ? 'DO NOTHING'
        : `DO UPDATE SET ${nonKey.map((c) => `${quoteIdent(c.name)} = EXCLUDED.${quoteIdent(c.name)}`).join(', ')}`;
    return `INSERT INTO ${qualified(t)} (${cols}) SELECT ${casts} FROM unnest(${params}) AS u(${aliases}) ON CONFLICT (${conflict}) ${action}`;
  });
}

function deleteSql(t: TargetTable, pkIdx: number[]): string {
  return cached(t, 'delete', () => {
    const keyCols = t.primaryKey.map(quoteIdent).join(', ');
    const params = pkIdx.map((_, i) => `$${i + 1}::text[]`).join(', ');
    const aliases = pkIdx.map((_, i) => `k${i}`).join(', ');
    const casts = pkIdx.map((ci, i) => `k${i}::${t.columns[ci].type}`).join(', ');
    return `DELETE FROM ${qualified(t)} WHERE (${keyCols}) IN (SELECT ${casts} FROM unnest(${params}) AS u(${aliases}))`;
  });
}
