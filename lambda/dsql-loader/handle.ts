import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ConnectionManager } from './connection';
import { DMS_CSV } from './dms-format';
import { ensureProgressTable, LoaderMetrics, LoadResult, TxnLimits, WaitError } from './loader';
import { loadS3Object, ObjectRef, retrySoon, s3Quarantine, Skipped } from './s3-source';

/** Loader settings, read from the environment the construct sets. */
export interface LoaderConfig {
  readonly landingPrefix: string;
  readonly quarantinePrefix: string;
  readonly targetSchema?: string;
  readonly limits: TxnLimits;
  readonly nullValue: string;
  readonly timestampColumn: string;
  /** DMS CsvDelimiter (env CSV_DELIMITER). @default "," */
  readonly csvDelimiter?: string;
  /** DMS CsvRowDelimiter (env CSV_ROW_DELIMITER; `\n`, `\r\n` and `\t` escapes accepted). @default "\n" */
  readonly csvRowDelimiter?: string;
}

/** Parses and checks the loader's environment; throws one error naming every bad variable. */
export function configFromEnv(env: NodeJS.ProcessEnv): LoaderConfig {
  const problems: string[] = [];
  const int = (name: string, def: number, min: number, max: number) => {
    const raw = env[name];
    const n = raw === undefined || raw === '' ? def : Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) problems.push(`${name} must be an integer in ${min}..${max}, got "${raw}"`);
    return n;
  };
  const unescape = (v: string) => v.replace(/\\r/g, '\r').replace(/\\n/g, '\n').replace(/\\t/g, '\t');
  const csvDelimiter = env.CSV_DELIMITER ? unescape(env.CSV_DELIMITER) : undefined;
  if (csvDelimiter !== undefined && (csvDelimiter.length !== 1 || /["\r\n]/.test(csvDelimiter))) problems.push(`CSV_DELIMITER must be one character other than a quote or line break, got ${JSON.stringify(env.CSV_DELIMITER)}`);
  const csvRowDelimiter = env.CSV_ROW_DELIMITER ? unescape(env.CSV_ROW_DELIMITER) : undefined;
  if (csvRowDelimiter !== undefined && !['\n', '\r\n', '\r'].includes(csvRowDelimiter)) problems.push(`CSV_ROW_DELIMITER must be \\n, \\r\\n or \\r, got ${JSON.stringify(env.CSV_ROW_DELIMITER)}`);
  const landingPrefix = env.LANDING_PREFIX ?? '';
  if (!landingPrefix) problems.push('LANDING_PREFIX is not set');
  const cfg: LoaderConfig = {
    landingPrefix,
    quarantinePrefix: env.QUARANTINE_PREFIX || 'quarantine',
    targetSchema: env.TARGET_SCHEMA || undefined,
    limits: { maxRows: int('MAX_ROWS_PER_TXN', 3000, 2, 3000), maxBytes: int('MAX_BYTES_PER_TXN', 8 * 1024 * 1024, 65536, 10 * 1024 * 1024) },
    nullValue: env.CSV_NULL_VALUE || DMS_CSV.nullValue,
    timestampColumn: env.CSV_TIMESTAMP_COLUMN || DMS_CSV.timestampColumn,
    csvDelimiter,
    csvRowDelimiter,
  };
  if (problems.length) throw new Error(`dsql-loader configuration is invalid: ${problems.join('; ')}`);
  return cfg;
}

export interface HandleDeps {
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly connections: ConnectionManager;
  readonly config: LoaderConfig;
  readonly metrics: LoaderMetrics;
  readonly log: { info(msg: string, extra?: object): void; warn(msg: string, extra?: object): void; error(msg: string, extra?: object): void };
  /** Milliseconds left in this invocation (Lambda context). */
  readonly remainingMs?: () => number;
  /** Seconds before an SQS message whose file waits for earlier files is received again. @default 30 */
  readonly waitRetrySeconds?: number;
}

export class TransientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DsqlLoaderTransientError';
  }
}

let progressReady = new WeakSet<ConnectionManager>();

async function loadRef(ref: ObjectRef, deps: HandleDeps): Promise<LoadResult | Skipped> {
  if (!progressReady.has(deps.connections)) {
    await ensureProgressTable(await deps.connections.get());
    progressReady.add(deps.connections);
  }
  const remaining = deps.remainingMs;
  const result = await loadS3Object(ref, {
    s3: deps.s3,
    connections: deps.connections,
    landingPrefix: deps.config.landingPrefix,
    loader: {
      quarantine: s3Quarantine(deps.s3, ref.bucket),
      quarantinePrefix: deps.config.quarantinePrefix,
      targetSchema: deps.config.targetSchema,
      limits: deps.config.limits,
      nullValue: deps.config.nullValue,
      timestampColumn: deps.config.timestampColumn,
      csvDelimiter: deps.config.csvDelimiter,
      csvRowDelimiter: deps.config.csvRowDelimiter,
      metrics: deps.metrics,
      // Leave 60 s to commit the current transaction and report; the next delivery resumes.
      keepGoing: remaining ? () => remaining() > 60_000 : undefined,
      log: (msg, extra) => deps.log.warn(msg, extra ?? {}),
    },
  });
  if (result.status === 'skipped' && result.kind === 'gone') {
    // Deleted (or the version expired) before it was loaded: counted so an alarm makes it visible.
    deps.metrics.objectSkipped?.();
    deps.log.warn(`object no longer exists: not loaded (ObjectsSkipped metric)`, { key: ref.key, versionId: ref.versionId, reason: result.reason });
  } else if (result.status === 'skipped' && result.kind === 'superseded') {
    deps.log.info('object overwritten since listed: its current version loads instead', { key: ref.key, reason: result.reason });
  } else if (result.status === 'skipped' && ref.phase !== 'full-load') {
    // Not a DMS data file name: kept in S3 but not loaded. Counted so an alarm makes it visible.
    deps.metrics.objectSkipped?.();
    deps.log.warn('not a DMS data file: left in place, not loaded (ObjectsSkipped metric)', { key: ref.key, reason: result.reason });
  } else if (result.status === 'skipped') deps.log.info('skipped in this pass', { key: ref.key, reason: result.reason });
  else deps.log.info('object processed', { ...result });
  if (result.status === 'incomplete') throw new TransientError(`${ref.key}: stopped before the Lambda timeout at record ${result.records}; the retry resumes there`);
  return result;
}

/** S3 event types other than ObjectCreated (acknowledged, nothing to load). */
const S3_OTHER_EVENTS = ['ObjectRemoved:', 'ObjectRestore:', 'LifecycleExpiration:', 'LifecycleTransition', 'IntelligentTiering', 'ObjectTagging:', 'ObjectAcl:', 'Replication:', 'ReducedRedundancyLostObject'];

type S3EventRecord = { eventName?: string; s3?: { bucket?: { name?: unknown }; object?: { key?: unknown; versionId?: string; eTag?: string } } };
type S3EventBody = { Records?: unknown; Event?: string };

/**
 * What one SQS message asks for: the objects to load, or why the message is not an S3 event
 * notification this loader can act on (`bad`, kept: batch failure, then the DLQ).
 */
function readMessage(body: S3EventBody | null, deps: HandleDeps): { refs: ObjectRef[] } | { bad: string } {
  // S3 sends s3:TestEvent (no Records) when the notification is configured: nothing to load.
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
  if (body?.Event === 's3:TestEvent' && body.Records === undefined) return { refs: [] };
  if (!Array.isArray(body?.Records)) return { bad: 'no Records' };
  const records = body.Records as Array<S3EventRecord | null>;
  if (records.length === 0) return { bad: 'no Records' };
  const refs: ObjectRef[] = [];
  for (let i = 0; i < records.length; i += 1) {
    const r = records[i];
    const bucket = r?.s3?.bucket?.name;
    const rawKey = r?.s3?.object?.key;
    if (typeof bucket !== 'string' || typeof rawKey !== 'string') return { bad: `record ${i + 1} has no s3.bucket.name and s3.object.key` };
    let key: string;
    try {
      // S3 URL-encodes the key in event notifications, with + for a space.
      key = decodeURIComponent(rawKey.replace(/\+/g, ' '));
    } catch {
      return { bad: `record ${i + 1} has a key that is not URL-encoded as S3 writes it: ${JSON.stringify(rawKey.slice(0, 200))}` };
    }
    const eventName: unknown = r!.eventName;
    if (eventName !== undefined && (typeof eventName !== 'string' || !eventName.startsWith('ObjectCreated:'))) {
      // Only new objects load. S3's other event types are acknowledged (deleting or expiring a DMS file removes
      // no rows from DSQL); a name S3 does not send (e.g. the configuration's "s3:ObjectCreated:*") is kept.
      // https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html
      if (typeof eventName !== 'string' || !S3_OTHER_EVENTS.some((p) => eventName.startsWith(p))) {
        return { bad: `record ${i + 1} has event name ${JSON.stringify(eventName)}, which is not an S3 event type` };
      }
      deps.log.info(`S3 event ${eventName}: not loaded (only ObjectCreated events load; deleting, expiring or restoring a file changes no rows in DSQL)`, { bucket, key });
      continue;
    }
    refs.push({ bucket, key, versionId: r!.s3!.object!.versionId, etag: r!.s3!.object!.eTag });
  }
  return { refs };
}

/**
 * Two event shapes: SQS messages carrying S3 event notifications (returns partial batch
 * failures; a file that waits for earlier files of its table comes back in `waitRetrySeconds`),
 * and a Distributed Map item `{ bucket, key, etag }` (throws `DsqlLoaderWaitError` /
 * `DsqlLoaderTransientError`, which the state machine retries).
 */
export async function handleEvent(event: SQSEvent | ObjectRef, deps: HandleDeps): Promise<SQSBatchResponse | LoadResult | Skipped> {
  if (event !== null && typeof event === 'object' && 'Records' in event && Array.isArray(event.Records)) {
    // S3 or SNS invoking the function directly (not through the queue) would get every object "failed" as a batch item
    // and the invocation counted a success: nothing retried, nothing in a DLQ. Refuse the whole event instead.
    const notSqs = (event.Records as unknown[]).find((m) => {
      const msg = m as { eventSource?: unknown; body?: unknown } | null;
      return typeof msg?.body !== 'string' || (msg.eventSource !== undefined && msg.eventSource !== 'aws:sqs');
    }) as { eventSource?: unknown; EventSource?: unknown } | null | undefined;
    if (notSqs !== undefined) {
      const source = notSqs?.eventSource ?? notSqs?.EventSource;
      throw new Error(`expected SQS messages from the loader's queue, got a record from ${JSON.stringify(source ?? null)}: S3 and SNS must not invoke this function directly (the DsqlBridge construct sends S3 events through its SQS queue). Nothing was loaded; the invocation fails so that it is retried or kept`);
    }
    const failures: SQSBatchResponse['batchItemFailures'] = [];
    for (const msg of event.Records) {
      let body: S3EventBody | null;
      let what = 'message body';
      try {
        body = JSON.parse(msg.body);
        // S3 -> SNS -> SQS fan-out without raw message delivery: the S3 event is the string Message of an
        // SNS Notification envelope. https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html
        const envelope = body as { Type?: unknown; Message?: unknown } | null;
        if (envelope?.Type === 'Notification' && typeof envelope.Message === 'string') {
          what = 'SNS Message in the message body';
          body = JSON.parse(envelope.Message);
        }
      } catch {
        deps.log.error(`${what} is not JSON; it goes to the DLQ after its retries`, { messageId: msg.messageId, body: msg.body.slice(0, 200) });
        failures.push({ itemIdentifier: msg.messageId });
        continue;
      }
      const read = readMessage(body, deps);
      if ('bad' in read) {
        // Anything else on the queue (an EventBridge event, a hand-sent message) is kept, not acknowledged.
        deps.log.error(`message is not an S3 event notification (${read.bad}); it goes to the DLQ after its retries`, { messageId: msg.messageId, body: msg.body.slice(0, 200) });
        failures.push({ itemIdentifier: msg.messageId });
        continue;
      }
      try {
        for (const ref of read.refs) await loadRef(ref, deps);
      } catch (e) {
        failures.push({ itemIdentifier: msg.messageId });
        if (e instanceof WaitError) {
          deps.log.info(e.message);
          await retrySoon(deps.sqs, msg.eventSourceARN, msg.receiptHandle, deps.waitRetrySeconds ?? 30);
        } else if (e instanceof TransientError) {
          // Stopped before the Lambda timeout with progress saved: resume right away.
          deps.log.info(e.message);
          await retrySoon(deps.sqs, msg.eventSourceARN, msg.receiptHandle, 0);
        } else {
          deps.log.error('loading failed; the message will be retried and the object is kept', { messageId: msg.messageId, error: String(e) });
        }
      }
    }
    return { batchItemFailures: failures };
  }
  const ref = event as ObjectRef;
  if (!ref || typeof ref !== 'object' || typeof ref.bucket !== 'string' || typeof ref.key !== 'string') throw new Error('expected an SQS event or { bucket, key, etag?, phase? }');
  if (ref.phase !== undefined && ref.phase !== 'full-load' && ref.phase !== 'all') throw new Error(`phase must be "full-load" or "all", got ${JSON.stringify(ref.phase)}`);
  return loadRef(ref, deps);
}

/** For tests: forget which connection managers have the progress table ensured. */
export function resetProgressCache(): void {
  progressReady = new WeakSet();
}
