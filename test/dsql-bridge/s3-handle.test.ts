/**
 * The loader's S3/SQS side (handle.ts, s3-source.ts) as unit tests: objects in a moto S3 bucket
 * (versioned), messages in a moto SQS queue, rows in a real PostgreSQL (embedded; one server and one moto
 * for this file, one bucket and database per test). test/integration/dsql-bridge/pipeline.test.ts runs the
 * deployed handler end to end; these look at each decision: event shapes, skipped objects and their
 * metric, overwritten/deleted objects, CDC order waits and how soon a message comes back, quarantine
 * objects, the Lambda-timeout stop, and the environment checks.
 */
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { Client } from 'pg';
import { configFromEnv, handleEvent, HandleDeps, LoaderConfig, resetProgressCache } from '../../lambda/dsql-loader/handle';
import { DMS_CSV } from '../../lambda/dsql-loader/dms-format';
import { earlierKeys, loadS3Object, retrySoon } from '../../lambda/dsql-loader/s3-source';
import { Readable } from 'stream';
import { parseDmsKey } from '../../lambda/dsql-loader/dms-format';
import { MotoServer, startMoto } from '../helpers/moto';
import { startPostgres, TestPostgres } from '../helpers/postgres';
import { createDatabase, dmsCsv, testConnections } from './fixtures';

let moto: MotoServer;
let pg: TestPostgres;
let s3: S3Client;
let sqs: SQSClient;
const savedEnv = { ...process.env };


const HEADER = [DMS_CSV.opColumn, DMS_CSV.timestampColumn, 'id', 'name'];
const TS = '2026-11-30 10:00:00.000000';
const load = (rows: Array<[number, string]>) => dmsCsv(['id', 'name'], rows.map(([id, n]) => [String(id), n]));
const cdc = (rows: Array<[string, number, string]>) => dmsCsv(HEADER, rows.map(([op, id, n]) => [op, TS, String(id), n]));

/** The parsed DMS key of a landing key (prefix `dms`); a key that does not parse fails the test. */
function dmsKeyOf(k: string) {
  const parsed = parseDmsKey(k, 'dms');
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
}

let n = 0;
interface World {
  bucket: string;
  db: string;
  client: Client;
  deps: HandleDeps;
  logs: Array<[string, string, object]>;
  skipped: number;
  put(key: string, body: string): Promise<{ etag: string; versionId?: string }>;
  rows(): Promise<Array<{ id: number; name: string }>>;
  close(): Promise<void>;
}

async function world(config: Partial<LoaderConfig> = {}, extra: Partial<HandleDeps> = {}): Promise<World> {
  n += 1;
  const bucket = `landing-${n}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const db = `s3h${n}`;
  const client = await createDatabase(pg, db);
  await client.query('CREATE TABLE public.t (id bigint PRIMARY KEY, name text NOT NULL)');
  const connections = testConnections(pg, db);
  const logs: Array<[string, string, object]> = [];
  const w: World = {
    bucket,
    db,
    client,
    logs,
    skipped: 0,
    deps: {
      s3,
      sqs,
      connections,
      config: { landingPrefix: 'dms', quarantinePrefix: 'quarantine', limits: { maxRows: 3000, maxBytes: 8 * 1024 * 1024 }, nullValue: DMS_CSV.nullValue, timestampColumn: DMS_CSV.timestampColumn, ...config },
      metrics: { rowsLoaded: () => {}, rowsRejected: () => {}, retry: () => {}, lagSeconds: () => {}, objectSkipped: () => (w.skipped += 1) },
      log: {
        info: (m, e = {}) => logs.push(['info', m, e]),
        warn: (m, e = {}) => logs.push(['warn', m, e]),
        error: (m, e = {}) => logs.push(['error', m, e]),
      },
      ...extra,
    },
    async put(key, body) {
      const r = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      return { etag: r.ETag!, versionId: r.VersionId };
    },
    async rows() {
      return (await client.query<{ id: number; name: string }>('SELECT id::int, name FROM public.t ORDER BY id')).rows;
    },
    async close() {
      await connections.close();
      await client.end();
    },
  };
  return w;
}

function s3Message(messageId: string, bucket: string, key: string, opts: { versionId?: string; eTag?: string; queueArn?: string; receiptHandle?: string } = {}): SQSEvent['Records'][number] {
  return {
    messageId,
    receiptHandle: opts.receiptHandle ?? `rh-${messageId}`,
    body: JSON.stringify({ Records: [{ s3: { bucket: { name: bucket }, object: { key, versionId: opts.versionId, eTag: opts.eTag } } }] }),
    attributes: {} as never,
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: opts.queueArn ?? 'arn:aws:sqs:us-east-1:123456789012:no-such-queue',
    awsRegion: 'us-east-1',
  };
}

/** A real queue holding one received message: its ARN and receipt handle, and how to see whether it is visible again. */
async function queueWithMessage(name: string, visibilityTimeout = 600): Promise<{ arn: string; receiptHandle: string; visibleNow(): Promise<boolean> }> {
  const url = (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: String(visibilityTimeout) } }))).QueueUrl!;
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'm' }));
  const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1 }));
  const receiptHandle = got.Messages![0].ReceiptHandle!;
  return {
    arn,
    receiptHandle,
    async visibleNow() {
      const again = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1, WaitTimeSeconds: 0 }));
      return (again.Messages ?? []).length > 0;
    },
  };
}

describe('configFromEnv', () => {
  test('defaults: quarantine prefix, DSQL limits (3,000 rows, 8 MiB), the DMS NULL token and timestamp column, no schema override', () => {
    expect(configFromEnv({ LANDING_PREFIX: 'dms', TARGET_SCHEMA: '', QUARANTINE_PREFIX: '', MAX_ROWS_PER_TXN: '' })).toEqual({
      landingPrefix: 'dms',
      quarantinePrefix: 'quarantine',
      targetSchema: undefined,
      limits: { maxRows: 3000, maxBytes: 8 * 1024 * 1024 },
      nullValue: DMS_CSV.nullValue,
      timestampColumn: DMS_CSV.timestampColumn,
      csvDelimiter: undefined,
      csvRowDelimiter: undefined,
    });
  });

  test('every variable read; escapes in the CSV delimiters; the limits at their bounds accepted', () => {
    expect(
      configFromEnv({
        LANDING_PREFIX: 'land/dms',
        QUARANTINE_PREFIX: 'q',
        TARGET_SCHEMA: 'app',
        MAX_ROWS_PER_TXN: '2',
        MAX_BYTES_PER_TXN: String(10 * 1024 * 1024),
        CSV_NULL_VALUE: '~N~',
        CSV_TIMESTAMP_COLUMN: 'ts',
        CSV_DELIMITER: '\\t',
        CSV_ROW_DELIMITER: '\\r\\n',
      }),
    ).toEqual({ landingPrefix: 'land/dms', quarantinePrefix: 'q', targetSchema: 'app', limits: { maxRows: 2, maxBytes: 10 * 1024 * 1024 }, nullValue: '~N~', timestampColumn: 'ts', csvDelimiter: '\t', csvRowDelimiter: '\r\n' });
    expect(configFromEnv({ LANDING_PREFIX: 'd', MAX_ROWS_PER_TXN: '3000', MAX_BYTES_PER_TXN: '65536', CSV_DELIMITER: '|', CSV_ROW_DELIMITER: '\\r' })).toMatchObject({
      limits: { maxRows: 3000, maxBytes: 65536 },
      csvDelimiter: '|',
      csvRowDelimiter: '\r',
    });
    expect(configFromEnv({ LANDING_PREFIX: 'd', CSV_ROW_DELIMITER: '\\n' }).csvRowDelimiter).toBe('\n');
  });

  test('one error naming every bad variable', () => {
    const bad = () =>
      configFromEnv({ MAX_ROWS_PER_TXN: '3001', MAX_BYTES_PER_TXN: '65535', CSV_DELIMITER: '"', CSV_ROW_DELIMITER: ';' });
    expect(bad).toThrow(
      'dsql-loader configuration is invalid: CSV_DELIMITER must be one character other than a quote or line break, got "\\""; CSV_ROW_DELIMITER must be \\n, \\r\\n or \\r, got ";"; LANDING_PREFIX is not set; MAX_ROWS_PER_TXN must be an integer in 2..3000, got "3001"; MAX_BYTES_PER_TXN must be an integer in 65536..10485760, got "65535"',
    );
    expect(() => configFromEnv({ LANDING_PREFIX: 'd', MAX_ROWS_PER_TXN: '1' })).toThrow('MAX_ROWS_PER_TXN must be an integer in 2..3000, got "1"');
    expect(() => configFromEnv({ LANDING_PREFIX: 'd', MAX_ROWS_PER_TXN: '2.5' })).toThrow('MAX_ROWS_PER_TXN must be an integer in 2..3000, got "2.5"');
    expect(() => configFromEnv({ LANDING_PREFIX: 'd', MAX_BYTES_PER_TXN: String(10 * 1024 * 1024 + 1) })).toThrow('MAX_BYTES_PER_TXN must be an integer in 65536..10485760');
    for (const d of ['ab', '\\n', '\\r', ',,']) expect(() => configFromEnv({ LANDING_PREFIX: 'd', CSV_DELIMITER: d })).toThrow(`CSV_DELIMITER must be one character other than a quote or line break, got ${JSON.stringify(d)}`);
    expect(() => configFromEnv({ LANDING_PREFIX: 'd', CSV_ROW_DELIMITER: '\\t' })).toThrow('CSV_ROW_DELIMITER must be \\n, \\r\\n or \\r');
  });
});

// moto and PostgreSQL start only when a test below runs (configFromEnv needs neither), once for the file.
describe('handleEvent: an event of neither shape', () => {
  test.each([
    ['null', null],
    ['no key', { bucket: 'b' }],
    ['no bucket', { key: 'dms/public/t/LOAD00000001.csv' }],
    ['a bucket that is not a string', { bucket: 1, key: 'dms/public/t/LOAD00000001.csv' }],
    ['a key that is not a string', { bucket: 'b', key: ['dms/public/t/LOAD00000001.csv'] }],
  ])('%s: a clear error before anything is read', async (_, event) => {
    // No S3, SQS or database is reached: the dependencies are empty.
    await expect(handleEvent(event as never, {} as HandleDeps)).rejects.toThrow('expected an SQS event or { bucket, key, etag?, phase? }');
  });

  test.each([
    ['S3 invoking the function directly', { Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key: 'dms/public/t/LOAD00000001.csv' } } }] }, '"aws:s3"'],
    ['SNS invoking the function directly', { Records: [{ EventSource: 'aws:sns', Sns: { Message: '{}' } }] }, '"aws:sns"'],
    ['a record that is null', { Records: [null] }, 'null'],
  ])('%s: the whole invocation fails (so Lambda retries it or keeps it), nothing is read', async (_, event, source) => {
    await expect(handleEvent(event as never, {} as HandleDeps)).rejects.toThrow(`expected SQS messages from the loader's queue, got a record from ${source}: S3 and SNS must not invoke this function directly`);
  });

  test.each([['a string', 'hello'], ['a number', 42]])('%s as the event: the clear shape error', async (_, event) => {
    await expect(handleEvent(event as never, {} as HandleDeps)).rejects.toThrow('expected an SQS event or { bucket, key, etag?, phase? }');
  });

  test('a phase other than full-load or all is refused, naming it', async () => {
    await expect(handleEvent({ bucket: 'b', key: 'k', phase: 'cdc' as never }, {} as HandleDeps)).rejects.toThrow('phase must be "full-load" or "all", got "cdc"');
  });
});

describe('loadS3Object: how a failed or odd GetObject answer is read', () => {
  // A stub S3 client: moto always names a failed If-Match PreconditionFailed and always returns an ETag, so the
  // answers below (a 412 the SDK could not name, an object without ETag) cannot be produced with it. The object is a
  // LOAD file, so no earlier files are listed and the stub connection is never queried.
  const ref = { bucket: 'b', key: 'dms/public/t/LOAD00000001.csv', etag: '"e1"' };
  const depsFailing = (err: unknown) => ({
    s3: { send: async () => Promise.reject(err) } as unknown as S3Client,
    landingPrefix: 'dms',
    connections: { get: async () => ({}) } as never,
    loader: { quarantine: { put: async () => {} }, quarantinePrefix: 'q' },
  });
  const aws = (name: string, status: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

  test.each([
    ['PreconditionFailed with its 412', 'superseded', aws('PreconditionFailed', 412)],
    ['a 412 the SDK did not name', 'superseded', aws('Unknown', 412)],
    ['PreconditionFailed without a status', 'superseded', Object.assign(new Error('x'), { name: 'PreconditionFailed' })],
    ['NoSuchKey', 'gone', aws('NoSuchKey', 404)],
    ['NoSuchVersion', 'gone', aws('NoSuchVersion', 404)],
    ['an XML error code only', 'gone', { Code: 'NoSuchKey' }],
  ])('%s: skipped as %s', async (_, kind, err) => {
    // (The error is the last column: a title placeholder must not print it, its stack names the Stryker sandbox.)
    expect(await loadS3Object(ref, depsFailing(err))).toMatchObject({ status: 'skipped', kind });
  });

  test.each([
    ['AccessDenied', aws('AccessDenied', 403)],
    ['a 404 without a code (NotFound)', aws('NotFound', 404)],
  ])('%s: rethrown (the message is retried, the object kept)', async (_, err) => {
    await expect(loadS3Object(ref, depsFailing(err))).rejects.toBe(err);
  });

  test('an event with a VersionId whose HEAD is refused (403: a deleted key, asked without s3:ListBucket) lets GetObject decide', async () => {
    const sent: string[] = [];
    const s3 = {
      send: async (cmd: { constructor: { name: string } }) => {
        sent.push(cmd.constructor.name);
        throw cmd.constructor.name === 'HeadObjectCommand' ? aws('Forbidden', 403) : aws('NoSuchVersion', 404);
      },
    } as unknown as S3Client;
    expect(await loadS3Object({ ...ref, versionId: 'v1' }, { ...depsFailing(undefined), s3 })).toMatchObject({ status: 'skipped', kind: 'gone' });
    expect(sent).toEqual(['HeadObjectCommand', 'GetObjectCommand']);
  });

  test('an object without an ETag, and none listed: refused naming it, nothing loaded', async () => {
    const deps = { ...depsFailing(undefined), s3: { send: async () => ({ Body: Readable.from(['x']) }) } as unknown as S3Client };
    await expect(loadS3Object({ bucket: 'b', key: ref.key }, deps)).rejects.toThrow('s3://b/dms/public/t/LOAD00000001.csv has no ETag');
  });
});

describe('with moto S3/SQS and PostgreSQL', () => {
  beforeAll(async () => {
    [moto, pg] = await Promise.all([startMoto(), startPostgres()]);
    s3 = new S3Client({ forcePathStyle: true, region: 'us-east-1' });
    sqs = new SQSClient({ region: 'us-east-1' });
  }, 120_000);
  afterAll(async () => {
    s3?.destroy();
    sqs?.destroy();
    await Promise.all([moto?.stop(), pg?.stop()]);
    process.env = savedEnv;
  });

  describe('handleEvent: SQS messages with S3 event notifications', () => {
    beforeEach(() => resetProgressCache());

    test('a LOAD file with a URL-encoded key (+ is a space) loads into the table, creating the progress table first', async () => {
      const w = await world();
      try {
        await w.client.query('CREATE TABLE public."my t" (id bigint PRIMARY KEY, name text NOT NULL)');
        await w.put('dms/public/my t/LOAD00000001.csv', load([[1, 'a'], [2, 'b']]));
        const r = await handleEvent({ Records: [s3Message('m1', w.bucket, 'dms/public/my+t/LOAD00000001.csv')] }, w.deps);
        expect(r).toEqual({ batchItemFailures: [] });
        expect((await w.client.query('SELECT id::int, name FROM public."my t" ORDER BY id')).rows).toEqual([{ id: 1, name: 'a' }, { id: 2, name: 'b' }]);
        const progress = await w.client.query('SELECT object_key, records_committed::int AS n, done FROM dsql_loader.progress');
        expect(progress.rows).toEqual([{ object_key: 'dms/public/my t/LOAD00000001.csv', n: 2, done: true }]);
        expect(w.logs.find(([, m]) => m === 'object processed')?.[2]).toMatchObject({ status: 'loaded', objectKey: 'dms/public/my t/LOAD00000001.csv', rowsApplied: 2 });
      } finally {
        await w.close();
      }
    });

    test('a CDC file whose LOAD file is not loaded waits: a batch failure, back in waitRetrySeconds; the LOAD file then the retry load both in order', async () => {
      const w = await world({}, { waitRetrySeconds: 0 });
      try {
        await w.put('dms/public/t/LOAD00000001.csv', load([[1, 'a']]));
        await w.put('dms/public/t/20261130-100000000.csv', cdc([['U', 1, 'a2'], ['I', 2, 'b']]));
        const q = await queueWithMessage(`wait-${n}`);
        const first = await handleEvent({ Records: [s3Message('c1', w.bucket, 'dms/public/t/20261130-100000000.csv', { queueArn: q.arn, receiptHandle: q.receiptHandle })] }, w.deps);
        expect(first).toEqual({ batchItemFailures: [{ itemIdentifier: 'c1' }] });
        expect(await w.rows()).toEqual([]);
        expect(w.logs.some(([lvl, m]) => lvl === 'info' && m.includes('waits: 1 earlier file(s) of public.t are not loaded yet (first: dms/public/t/LOAD00000001.csv)'))).toBe(true);
        // waitRetrySeconds 0: ChangeMessageVisibility made the message visible again at once.
        expect(await q.visibleNow()).toBe(true);
        const second = await handleEvent(
          { Records: [s3Message('l1', w.bucket, 'dms/public/t/LOAD00000001.csv'), s3Message('c1', w.bucket, 'dms/public/t/20261130-100000000.csv')] },
          w.deps,
        );
        expect(second).toEqual({ batchItemFailures: [] });
        expect(await w.rows()).toEqual([{ id: 1, name: 'a2' }, { id: 2, name: 'b' }]);
      } finally {
        await w.close();
      }
    });

    test('a LOAD file rewritten under the same key (a DMS table reload) after it was loaded: a later CDC file waits for the new version, so a row the CDC file deletes stays deleted', async () => {
      const w = await world({}, { waitRetrySeconds: 0 });
      try {
        const v1 = await w.put('dms/public/t/LOAD00000001.csv', load([[1, 'a'], [2, 'b']]));
        expect(await handleEvent({ Records: [s3Message('l1', w.bucket, 'dms/public/t/LOAD00000001.csv', { versionId: v1.versionId })] }, w.deps)).toEqual({ batchItemFailures: [] });
        // The reload writes the table again under the same key (row 3 is new), then CDC deletes row 3.
        const v2 = await w.put('dms/public/t/LOAD00000001.csv', load([[1, 'a'], [2, 'b'], [3, 'c']]));
        await w.put('dms/public/t/20261130-100000000.csv', cdc([['D', 3, 'c']]));
        const early = await handleEvent({ Records: [s3Message('c1', w.bucket, 'dms/public/t/20261130-100000000.csv')] }, w.deps);
        expect(early).toEqual({ batchItemFailures: [{ itemIdentifier: 'c1' }] });
        expect(w.logs.filter(([, m]) => m.includes(' waits: ')).map(([, m]) => m)).toEqual([
          `dms/public/t/20261130-100000000.csv waits: 1 earlier file(s) of public.t are not loaded yet (first: dms/public/t/LOAD00000001.csv, rewritten since it was loaded: ETag ${v2.etag.replace(/"/g, '')})`,
        ]);
        const later = await handleEvent(
          { Records: [s3Message('l2', w.bucket, 'dms/public/t/LOAD00000001.csv', { versionId: v2.versionId }), s3Message('c1', w.bucket, 'dms/public/t/20261130-100000000.csv')] },
          w.deps,
        );
        expect(later).toEqual({ batchItemFailures: [] });
        expect(await w.rows()).toEqual([{ id: 1, name: 'a' }, { id: 2, name: 'b' }]);
      } finally {
        await w.close();
      }
    });

    test('by default a waiting file comes back after 30 s, not at once', async () => {
      const w = await world();
      try {
        await w.put('dms/public/t/LOAD00000001.csv', load([[1, 'a']]));
        await w.put('dms/public/t/20261130-100000000.csv', cdc([['I', 2, 'b']]));
        const q = await queueWithMessage(`wait-default-${n}`, 0);
        const r = await handleEvent({ Records: [s3Message('c1', w.bucket, 'dms/public/t/20261130-100000000.csv', { queueArn: q.arn, receiptHandle: q.receiptHandle })] }, w.deps);
        expect(r).toEqual({ batchItemFailures: [{ itemIdentifier: 'c1' }] });
        // The queue's own visibility timeout is 0: only the loader's ChangeMessageVisibility (30 s) hides it.
        expect(await q.visibleNow()).toBe(false);
      } finally {
        await w.close();
      }
    });

    test('a message that is not JSON and one that fails to load are batch failures, logged as errors; a test event and a good message are not', async () => {
      const w = await world();
      try {
        await w.put('dms/public/t/LOAD00000001.csv', load([[1, 'a']]));
        const r = await handleEvent(
          {
            Records: [
              { ...s3Message('bad', w.bucket, 'x'), body: '{not json' },
              { ...s3Message('test', w.bucket, 'x'), body: JSON.stringify({ Event: 's3:TestEvent' }) },
              s3Message('nobucket', `no-such-bucket-${n}`, 'dms/public/t/LOAD00000002.csv'),
              s3Message('ok', w.bucket, 'dms/public/t/LOAD00000001.csv'),
            ],
          },
          w.deps,
        );
        expect(r).toEqual({ batchItemFailures: [{ itemIdentifier: 'bad' }, { itemIdentifier: 'nobucket' }] });
        const errors = w.logs.filter(([lvl]) => lvl === 'error');
        expect(errors.map(([, m, e]) => [m, (e as { messageId: string }).messageId])).toEqual([
          ['message body is not JSON; it goes to the DLQ after its retries', 'bad'],
          ['loading failed; the message will be retried and the object is kept', 'nobucket'],
        ]);
        expect(String((errors[1][2] as { error: string }).error)).toContain('NoSuchBucket');
        expect(await w.rows()).toEqual([{ id: 1, name: 'a' }]);
      } finally {
        await w.close();
      }
    });

    test('a key that is not a DMS data file is left in place, counted (ObjectsSkipped) and warned about', async () => {
      const w = await world();
      try {
        await w.put('dms/public/t/notes.txt', 'hello');
        const r = await handleEvent({ Records: [s3Message('m', w.bucket, 'dms/public/t/notes.txt')] }, w.deps);
        expect(r).toEqual({ batchItemFailures: [] });
        expect(w.skipped).toBe(1);
        expect(w.logs.filter(([lvl]) => lvl === 'warn').map(([, m, e]) => [m, (e as { key: string }).key])).toEqual([['not a DMS data file: left in place, not loaded (ObjectsSkipped metric)', 'dms/public/t/notes.txt']]);
        expect((await s3.send(new ListObjectsV2Command({ Bucket: w.bucket }))).Contents?.map((o) => o.Key)).toEqual(['dms/public/t/notes.txt']);
      } finally {
        await w.close();
      }
    });

    test('a JSON message that is not an S3 event notification (an EventBridge event, null, no Records) is a batch failure logged with its start, not acknowledged; a test event is', async () => {
      const w = await world();
      try {
        // The shape of an EventBridge "Object Created" event (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html).
        const eventBridge = JSON.stringify({
          version: '0',
          id: '17793124-05d4-b198-2fde-7ededc63b103',
          'detail-type': 'Object Created',
          source: 'aws.s3',
          account: '123456789012',
          time: '2026-12-02T05:00:00Z',
          region: 'us-east-1',
          resources: [`arn:aws:s3:::${w.bucket}`],
          detail: { version: '0', bucket: { name: w.bucket }, object: { key: 'dms/public/t/LOAD00000001.csv', size: 5, etag: 'b1946ac92492d2347c6235b4d2611184', sequencer: '00617F08299329D189' }, reason: 'PutObject' },
        });
        const r = await handleEvent(
          {
            Records: [
              { ...s3Message('eb', w.bucket, 'x'), body: eventBridge },
              { ...s3Message('null', w.bucket, 'x'), body: 'null' },
              { ...s3Message('norecords', w.bucket, 'x'), body: JSON.stringify({ Records: 'none' }) },
              { ...s3Message('test', w.bucket, 'x'), body: JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: w.bucket }) },
            ],
          },
          w.deps,
        );
        expect(r).toEqual({ batchItemFailures: [{ itemIdentifier: 'eb' }, { itemIdentifier: 'null' }, { itemIdentifier: 'norecords' }] });
        const msg = 'message is not an S3 event notification (no Records); it goes to the DLQ after its retries';
        expect(w.logs).toEqual([
          ['error', msg, { messageId: 'eb', body: eventBridge.slice(0, 200) }],
          ['error', msg, { messageId: 'null', body: 'null' }],
          ['error', msg, { messageId: 'norecords', body: '{"Records":"none"}' }],
        ]);
        expect(eventBridge.length).toBeGreaterThan(200);
      } finally {
        await w.close();
      }
    });

    test('S3 events fanned out through SNS (the Notification envelope, without raw message delivery) load like direct ones; an envelope whose Message is not JSON is kept', async () => {
      const w = await world();
      try {
        await w.put('dms/public/t/LOAD00000001.csv', load([[1, 'a']]));
        // The envelope SNS writes to an SQS subscription (https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html).
        const envelope = (message: string) =>
          JSON.stringify({ Type: 'Notification', MessageId: 'da41e39f-ea4d-435a-b922-c6aae3915ebe', TopicArn: 'arn:aws:sns:us-east-1:123456789012:landing', Subject: 'Amazon S3 Notification', Message: message, Timestamp: '2026-12-02T05:00:00.000Z', SignatureVersion: '1' });
        const direct = s3Message('x', w.bucket, 'dms/public/t/LOAD00000001.csv');
        const r = await handleEvent(
          {
            Records: [
              { ...direct, messageId: 'sns', body: envelope(direct.body) },
              { ...direct, messageId: 'sns-test', body: envelope(JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent' })) },
              { ...direct, messageId: 'sns-bad', body: envelope('{not json') },
            ],
          },
          w.deps,
        );
        expect(r).toEqual({ batchItemFailures: [{ itemIdentifier: 'sns-bad' }] });
        expect(await w.rows()).toEqual([{ id: 1, name: 'a' }]);
        expect(w.logs.filter(([lvl]) => lvl === 'error')).toEqual([
          ['error', 'SNS Message in the message body is not JSON; it goes to the DLQ after its retries', { messageId: 'sns-bad', body: envelope('{not json').slice(0, 200) }],
        ]);
      } finally {
        await w.close();
      }
    });

    test('messages whose records are not S3 object records, or name no object, are kept with the reason; a test event with records is not taken for a test event', async () => {
      const w = await world();
      try {
        await w.put('dms/public/t/LOAD00000001.csv', load([[1, 'a']]));
        const good = JSON.parse(s3Message('x', w.bucket, 'dms/public/t/LOAD00000001.csv').body).Records[0];
        const body = (o: unknown) => ({ ...s3Message('x', w.bucket, 'x'), body: JSON.stringify(o) });
        const r = await handleEvent(
          {
            Records: [
              { ...body({ Records: [] }), messageId: 'empty' },
              { ...body({ Records: [null] }), messageId: 'null-record' },
              { ...body({ Records: [good, { eventSource: 'aws:dynamodb', dynamodb: {} }] }), messageId: 'dynamo' },
              { ...body({ Records: [{ s3: { bucket: { name: w.bucket }, object: { key: 'dms/public/t/100%.csv' } } }] }), messageId: 'percent' },
              { ...body({ Event: 's3:TestEvent', Records: [good] }), messageId: 'test-with-records' },
            ],
          },
          w.deps,
        );
        expect(r).toEqual({ batchItemFailures: ['empty', 'null-record', 'dynamo', 'percent'].map((itemIdentifier) => ({ itemIdentifier })) });
        expect(w.logs.filter(([lvl]) => lvl === 'error').map(([, m, e]) => [(e as { messageId: string }).messageId, m])).toEqual([
          ['empty', 'message is not an S3 event notification (no Records); it goes to the DLQ after its retries'],
          ['null-record', 'message is not an S3 event notification (record 1 has no s3.bucket.name and s3.object.key); it goes to the DLQ after its retries'],
          ['dynamo', 'message is not an S3 event notification (record 2 has no s3.bucket.name and s3.object.key); it goes to the DLQ after its retries'],
          ['percent', 'message is not an S3 event notification (record 1 has a key that is not URL-encoded as S3 writes it: "dms/public/t/100%.csv"); it goes to the DLQ after its retries'],
        ]);
        // The dynamo message's good first record was not loaded either (the message is kept whole); the test event's record was.
        expect(await w.rows()).toEqual([{ id: 1, name: 'a' }]);
        expect(w.logs.filter(([, m]) => m === 'object processed')).toHaveLength(1);
      } finally {
        await w.close();
      }
    });

    test('only ObjectCreated events load: a removed or expired DMS file is acknowledged with a note, its rows stay in DSQL', async () => {
      const w = await world();
      try {
        await w.put('dms/public/t/LOAD00000001.csv', load([[1, 'a']]));
        const rec = (eventName: string) => ({ ...JSON.parse(s3Message('x', w.bucket, 'dms/public/t/LOAD00000001.csv').body).Records[0], eventName });
        const msg = (id: string, eventName: string) => ({ ...s3Message(id, w.bucket, 'x'), body: JSON.stringify({ Records: [rec(eventName)] }) });
        const first = await handleEvent({ Records: [msg('put', 'ObjectCreated:Put')] }, w.deps);
        expect(first).toEqual({ batchItemFailures: [] });
        const r = await handleEvent({ Records: [msg('del', 'ObjectRemoved:DeleteMarkerCreated'), msg('exp', 'LifecycleExpiration:Delete')] }, w.deps);
        expect(r).toEqual({ batchItemFailures: [] });
        expect(w.logs.filter(([, m]) => m.startsWith('S3 event'))).toEqual([
          ['info', 'S3 event ObjectRemoved:DeleteMarkerCreated: not loaded (only ObjectCreated events load; deleting, expiring or restoring a file changes no rows in DSQL)', { bucket: w.bucket, key: 'dms/public/t/LOAD00000001.csv' }],
          ['info', 'S3 event LifecycleExpiration:Delete: not loaded (only ObjectCreated events load; deleting, expiring or restoring a file changes no rows in DSQL)', { bucket: w.bucket, key: 'dms/public/t/LOAD00000001.csv' }],
        ]);
        expect(w.skipped).toBe(0);
        expect(await w.rows()).toEqual([{ id: 1, name: 'a' }]);
      } finally {
        await w.close();
      }
    });

    test('an event name that is not an S3 event type (the configuration\'s s3:ObjectCreated:*, a number, null) is kept, not acknowledged', async () => {
      const w = await world();
      try {
        await w.put('dms/public/t/LOAD00000001.csv', load([[1, 'a']]));
        const rec = (eventName: unknown) => ({ ...JSON.parse(s3Message('x', w.bucket, 'dms/public/t/LOAD00000001.csv').body).Records[0], eventName });
        const msg = (id: string, eventName: unknown) => ({ ...s3Message(id, w.bucket, 'x'), body: JSON.stringify({ Records: [rec(eventName)] }) });
        const r = await handleEvent({ Records: [msg('conf', 's3:ObjectCreated:Put'), msg('num', 5), msg('null', null), msg('ok', 'ObjectCreated:CompleteMultipartUpload')] }, w.deps);
        expect(r).toEqual({ batchItemFailures: [{ itemIdentifier: 'conf' }, { itemIdentifier: 'num' }, { itemIdentifier: 'null' }] });
        expect(w.logs.filter(([lvl]) => lvl === 'error').map(([, m]) => m)).toEqual([
          'message is not an S3 event notification (record 1 has event name "s3:ObjectCreated:Put", which is not an S3 event type); it goes to the DLQ after its retries',
          'message is not an S3 event notification (record 1 has event name 5, which is not an S3 event type); it goes to the DLQ after its retries',
          'message is not an S3 event notification (record 1 has event name null, which is not an S3 event type); it goes to the DLQ after its retries',
        ]);
        expect(await w.rows()).toEqual([{ id: 1, name: 'a' }]);
      } finally {
        await w.close();
      }
    });

    test('a late event for a version that has been overwritten since (a retry, a DLQ redrive) is skipped as superseded: it cannot bring back a row a later CDC file deleted', async () => {
      const w = await world({}, { waitRetrySeconds: 0 });
      try {
        const v2 = await w.put('dms/public/t/LOAD00000001.csv', load([[1, 'a'], [2, 'b'], [3, 'c']]));
        const v3 = await w.put('dms/public/t/LOAD00000001.csv', load([[1, 'a'], [2, 'b'], [3, 'c'], [4, 'd']]));
        await w.put('dms/public/t/20261130-100000000.csv', cdc([['D', 3, 'c']]));
        const inOrder = await handleEvent(
          { Records: [s3Message('v3', w.bucket, 'dms/public/t/LOAD00000001.csv', { versionId: v3.versionId }), s3Message('c1', w.bucket, 'dms/public/t/20261130-100000000.csv')] },
          w.deps,
        );
        expect(inOrder).toEqual({ batchItemFailures: [] });
        expect((await w.rows()).map((r) => r.id)).toEqual([1, 2, 4]);
        const late = await handleEvent({ Records: [s3Message('v2', w.bucket, 'dms/public/t/LOAD00000001.csv', { versionId: v2.versionId })] }, w.deps);
        expect(late).toEqual({ batchItemFailures: [] });
        expect((await w.rows()).map((r) => r.id)).toEqual([1, 2, 4]);
        expect(w.logs.filter(([, m]) => m.startsWith('object overwritten'))).toEqual([
          [
            'info',
            'object overwritten since listed: its current version loads instead',
            { key: 'dms/public/t/LOAD00000001.csv', reason: `s3://${w.bucket}/dms/public/t/LOAD00000001.csv version ${v2.versionId} is no longer the current version (now ${v3.versionId}): not loaded; the current version loads from its own event` },
          ],
        ]);
        // Then the key is deleted (a cleanup after loading): HEAD finds no current version, but another version is loaded,
        // so the late event for the old one is still not loaded; it is counted (ObjectsSkipped) and warned about.
        await s3.send(new DeleteObjectCommand({ Bucket: w.bucket, Key: 'dms/public/t/LOAD00000001.csv' }));
        const afterDelete = await handleEvent({ Records: [s3Message('v2-again', w.bucket, 'dms/public/t/LOAD00000001.csv', { versionId: v2.versionId })] }, w.deps);
        expect(afterDelete).toEqual({ batchItemFailures: [] });
        expect((await w.rows()).map((r) => r.id)).toEqual([1, 2, 4]);
        expect(w.skipped).toBe(1);
        expect(w.logs.filter(([lvl]) => lvl === 'warn').map(([, , e]) => (e as { reason: string }).reason)).toEqual([
          `s3://${w.bucket}/dms/public/t/LOAD00000001.csv version ${v2.versionId} is not loaded: the key is deleted now and another version of it (ETag ${v3.etag.replace(/"/g, '')}) is already loaded, so this one could write old rows over later changes`,
        ]);
        // The current version's own event (redelivered) is already loaded; a deleted key's old version still loads by VersionId
        // when no other version of the key was loaded.
        const gone = await w.put('dms/public/t/LOAD00000002.csv', load([[5, 'e']]));
        await s3.send(new DeleteObjectCommand({ Bucket: w.bucket, Key: 'dms/public/t/LOAD00000002.csv' }));
        expect(await handleEvent({ Records: [s3Message('deleted', w.bucket, 'dms/public/t/LOAD00000002.csv', { versionId: gone.versionId })] }, w.deps)).toEqual({ batchItemFailures: [] });
        expect((await w.rows()).map((r) => r.id)).toEqual([1, 2, 4, 5]);
      } finally {
        await w.close();
      }
    });

    test('another version of a CDC file that is already applied (a copy in place) is refused with the exact way out, not replayed over newer changes', async () => {
      const w = await world();
      try {
        await w.put('dms/public/t/LOAD00000001.csv', load([[1, 'a']]));
        const c1 = await w.put('dms/public/t/20261130-100000000.csv', cdc([['U', 1, 'x']]));
        await w.put('dms/public/t/20261130-110000000.csv', cdc([['U', 1, 'y']]));
        const keys = ['dms/public/t/LOAD00000001.csv', 'dms/public/t/20261130-100000000.csv', 'dms/public/t/20261130-110000000.csv'];
        expect(await handleEvent({ Records: keys.map((k, i) => s3Message(`m${i}`, w.bucket, k)) }, w.deps)).toEqual({ batchItemFailures: [] });
        expect(await w.rows()).toEqual([{ id: 1, name: 'y' }]);
        // Rewritten in place with other bytes (another ETag).
        const again = await w.put('dms/public/t/20261130-100000000.csv', cdc([['U', 1, 'x'], ['U', 1, 'x']]));
        const r = await handleEvent({ Records: [s3Message('copy', w.bucket, 'dms/public/t/20261130-100000000.csv', { versionId: again.versionId })] }, w.deps);
        expect(r).toEqual({ batchItemFailures: [{ itemIdentifier: 'copy' }] });
        expect(await w.rows()).toEqual([{ id: 1, name: 'y' }]);
        const [old, now] = [c1.etag, again.etag].map((e) => e.replace(/"/g, ''));
        expect(w.logs.filter(([lvl]) => lvl === 'error').map(([, , e]) => (e as { error: string }).error)).toEqual([
          `Error: s3://${w.bucket}/dms/public/t/20261130-100000000.csv is a CDC file already applied as ETag ${old}; this version (ETag ${now}) was written after it (DMS never rewrites a CDC file: a copy in place?). Applying it again would replay its changes over newer ones, so it is not loaded and the message is kept; nothing else waits for it. If the copy is harmless, delete the message once it reaches the DLQ. To apply it anyway (its changes then override every later CDC file of the table): DELETE FROM dsql_loader.progress WHERE object_key = 'dms/public/t/20261130-100000000.csv' AND object_etag = '${old}'`,
        ]);
        // The rewritten CDC file does not hold the table: a later CDC file loads (an applied CDC file counts in any version).
        await w.put('dms/public/t/20261130-120000000.csv', cdc([['U', 1, 'z']]));
        expect(await handleEvent({ Records: [s3Message('later', w.bucket, 'dms/public/t/20261130-120000000.csv')] }, w.deps)).toEqual({ batchItemFailures: [] });
        expect(await w.rows()).toEqual([{ id: 1, name: 'z' }]);
      } finally {
        await w.close();
      }
    });

    test('a loaded object is neither counted as skipped nor warned about; the loader\'s transaction retries reach the log as warnings', async () => {
      const w = await world();
      try {
        // The server reports a connection-class error (08006) once: the loader retries on a new connection.
        await w.client.query('CREATE SEQUENCE public.attempts');
        await w.client.query(`CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN IF nextval('public.attempts') = 1 THEN RAISE EXCEPTION 'connection failure reported by the server' USING ERRCODE = '08006'; END IF; RETURN NEW; END $$`);
        await w.client.query('CREATE TRIGGER fail_once BEFORE INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION fail_once()');
        await w.put('dms/public/t/LOAD00000001.csv', load([[1, 'a']]));
        expect(await handleEvent({ Records: [s3Message('m', w.bucket, 'dms/public/t/LOAD00000001.csv')] }, w.deps)).toEqual({ batchItemFailures: [] });
        expect(await w.rows()).toEqual([{ id: 1, name: 'a' }]);
        expect(w.skipped).toBe(0);
        expect(w.logs.map(([lvl, m]) => `${lvl} ${m}`)).toEqual(['warn retrying transaction', 'info object processed']);
        expect(w.logs[0][2]).toEqual({ object: 'dms/public/t/LOAD00000001.csv', code: '08006', error: 'error: connection failure reported by the server' });
      } finally {
        await w.close();
      }
    });

    test('the progress table is looked up once per connection manager, not per object; again after resetProgressCache', async () => {
      const w = await world();
      try {
        for (const i of [1, 2, 3]) await w.put(`dms/public/t/LOAD0000000${i}.csv`, load([[i, String(i)]]));
        // A spy on the loader's real connection (the queries still run): counts the catalog lookups.
        const client = await w.deps.connections.get();
        const query = jest.spyOn(client, 'query');
        const lookups = () => query.mock.calls.filter(([sql]) => String(sql).includes('pg_tables')).length;
        const msgs = [1, 2, 3].map((i) => s3Message(`m${i}`, w.bucket, `dms/public/t/LOAD0000000${i}.csv`));
        expect(await handleEvent({ Records: msgs }, w.deps)).toEqual({ batchItemFailures: [] });
        expect(await handleEvent({ Records: msgs.slice(0, 1) }, w.deps)).toEqual({ batchItemFailures: [] });
        expect(lookups()).toBe(1);
        resetProgressCache();
        expect(await handleEvent({ Records: msgs.slice(0, 1) }, w.deps)).toEqual({ batchItemFailures: [] });
        expect(lookups()).toBe(2);
        expect((await w.rows()).map((r) => r.id)).toEqual([1, 2, 3]);
      } finally {
        await w.close();
      }
    });

    test('without an objectSkipped metric a skipped object is still warned about, not an error', async () => {
      const w = await world();
      try {
        const { objectSkipped: _, ...metrics } = w.deps.metrics;
        const deps = { ...w.deps, metrics };
        await w.put('dms/public/t/notes.txt', 'hello');
        expect(await handleEvent({ Records: [s3Message('m', w.bucket, 'dms/public/t/notes.txt')] }, deps)).toEqual({ batchItemFailures: [] });
        expect(await handleEvent({ bucket: w.bucket, key: 'dms/public/t/LOAD00000009.csv' }, deps)).toMatchObject({ status: 'skipped', kind: 'gone' });
        expect(w.logs.map(([lvl, m]) => `${lvl} ${m}`)).toEqual([
          'warn not a DMS data file: left in place, not loaded (ObjectsSkipped metric)',
          'warn object no longer exists: not loaded (ObjectsSkipped metric)',
        ]);
        expect(w.skipped).toBe(0);
      } finally {
        await w.close();
      }
    });

    test('stopping before the Lambda timeout: a batch failure made visible at once; the next delivery resumes where it stopped', async () => {
      // Time left before each transaction: enough for the first, then under the 60 s the loader keeps for committing.
      let asked = 0;
      const w = await world({ limits: { maxRows: 2, maxBytes: 8 * 1024 * 1024 } }, { remainingMs: () => (asked++ === 0 ? 60_001 : 60_000) });
      try {
        await w.put('dms/public/t/LOAD00000001.csv', load([[1, 'a'], [2, 'b'], [3, 'c']]));
        const q = await queueWithMessage(`timeout-${n}`);
        const r = await handleEvent({ Records: [s3Message('m', w.bucket, 'dms/public/t/LOAD00000001.csv', { queueArn: q.arn, receiptHandle: q.receiptHandle })] }, w.deps);
        expect(r).toEqual({ batchItemFailures: [{ itemIdentifier: 'm' }] });
        expect(await w.rows()).toEqual([{ id: 1, name: 'a' }]);
        expect(w.logs.filter(([, m]) => m.includes('stopped before'))).toEqual([['info', 'dms/public/t/LOAD00000001.csv: stopped before the Lambda timeout at record 1; the retry resumes there', {}]]);
        expect(await q.visibleNow()).toBe(true);
        const more = { ...w.deps, remainingMs: () => 61_000 };
        expect(await handleEvent({ Records: [s3Message('m', w.bucket, 'dms/public/t/LOAD00000001.csv')] }, more)).toEqual({ batchItemFailures: [] });
        expect(await w.rows()).toEqual([{ id: 1, name: 'a' }, { id: 2, name: 'b' }, { id: 3, name: 'c' }]);
      } finally {
        await w.close();
      }
    });
  });

  describe('handleEvent: Distributed Map items', () => {
    beforeEach(() => resetProgressCache());

    test('an item with the listed ETag loads that version; the full-load pass skips CDC files without counting them', async () => {
      const w = await world();
      try {
        const v = await w.put('dms/public/t/LOAD00000001.csv', load([[1, 'a']]));
        await w.put('dms/public/t/20261130-100000000.csv', cdc([['I', 2, 'b']]));
        const r = await handleEvent({ bucket: w.bucket, key: 'dms/public/t/LOAD00000001.csv', etag: v.etag, phase: 'full-load' }, w.deps);
        expect(r).toMatchObject({ status: 'loaded', etag: v.etag.replace(/"/g, ''), rowsApplied: 1 });
        const skip = await handleEvent({ bucket: w.bucket, key: 'dms/public/t/20261130-100000000.csv', phase: 'full-load' }, w.deps);
        expect(skip).toEqual({ status: 'skipped', kind: 'phase', reason: 'dms/public/t/20261130-100000000.csv is a CDC file: the second backfill pass loads it' });
        expect(w.skipped).toBe(0);
        expect(w.logs.filter(([, m]) => m === 'skipped in this pass')).toEqual([
          ['info', 'skipped in this pass', { key: 'dms/public/t/20261130-100000000.csv', reason: 'dms/public/t/20261130-100000000.csv is a CDC file: the second backfill pass loads it' }],
        ]);
        expect(await handleEvent({ bucket: w.bucket, key: 'dms/public/t/20261130-100000000.csv', phase: 'all' }, w.deps)).toMatchObject({ status: 'loaded', rowsApplied: 1 });
        expect(await w.rows()).toEqual([{ id: 1, name: 'a' }, { id: 2, name: 'b' }]);
        // In the full-load pass a non-DMS key is skipped quietly (the second pass counts it).
        expect(await handleEvent({ bucket: w.bucket, key: 'dms/readme.md', phase: 'full-load' }, w.deps)).toMatchObject({ status: 'skipped', kind: 'not-dms' });
        expect(w.skipped).toBe(0);
      } finally {
        await w.close();
      }
    });

    test('overwritten since listed (ETag no longer matches): skipped as superseded, not counted; the current version loads', async () => {
      const w = await world();
      try {
        const old = await w.put('dms/public/t/LOAD00000001.csv', load([[1, 'old']]));
        const current = await w.put('dms/public/t/LOAD00000001.csv', load([[1, 'new']]));
        const r = await handleEvent({ bucket: w.bucket, key: 'dms/public/t/LOAD00000001.csv', etag: old.etag }, w.deps);
        expect(r).toEqual({
          status: 'skipped',
          kind: 'superseded',
          reason: `s3://${w.bucket}/dms/public/t/LOAD00000001.csv ETag ${old.etag} was overwritten since it was listed: not loaded; the current version is loaded from its own event or the next backfill`,
        });
        expect(w.skipped).toBe(0);
        expect(w.logs.filter(([, m]) => m.startsWith('object overwritten'))).toEqual([
          ['info', 'object overwritten since listed: its current version loads instead', { key: 'dms/public/t/LOAD00000001.csv', reason: (r as { reason: string }).reason }],
        ]);
        expect(await w.rows()).toEqual([]);
        // The old version asked for by VersionId is superseded too; the current one by VersionId loads (VersionId wins over the ETag).
        expect(await handleEvent({ bucket: w.bucket, key: 'dms/public/t/LOAD00000001.csv', versionId: old.versionId }, w.deps)).toMatchObject({ status: 'skipped', kind: 'superseded' });
        const byVersion = await handleEvent({ bucket: w.bucket, key: 'dms/public/t/LOAD00000001.csv', versionId: current.versionId, etag: '"not-it"' }, w.deps);
        expect(byVersion).toMatchObject({ status: 'loaded', etag: current.etag.replace(/"/g, '') });
        expect(await w.rows()).toEqual([{ id: 1, name: 'new' }]);
      } finally {
        await w.close();
      }
    });

    test('deleted since listed (NoSuchKey) or a version gone (NoSuchVersion): skipped as gone, counted and warned', async () => {
      const w = await world();
      try {
        await w.put('dms/public/t/LOAD00000001.csv', load([[1, 'a']]));
        await s3.send(new DeleteObjectCommand({ Bucket: w.bucket, Key: 'dms/public/t/LOAD00000001.csv' }));
        const gone = await handleEvent({ bucket: w.bucket, key: 'dms/public/t/LOAD00000001.csv' }, w.deps);
        expect(gone).toEqual({ status: 'skipped', kind: 'gone', reason: `s3://${w.bucket}/dms/public/t/LOAD00000001.csv no longer exists (NoSuchKey): nothing to load` });
        const v = await w.put('dms/public/t/LOAD00000002.csv', load([[2, 'b']]));
        await s3.send(new DeleteObjectCommand({ Bucket: w.bucket, Key: 'dms/public/t/LOAD00000002.csv', VersionId: v.versionId }));
        const noVersion = await handleEvent({ bucket: w.bucket, key: 'dms/public/t/LOAD00000002.csv', versionId: v.versionId }, w.deps);
        expect(noVersion).toMatchObject({ status: 'skipped', kind: 'gone' });
        expect((noVersion as { reason: string }).reason).toMatch(new RegExp(`^s3://${w.bucket}/dms/public/t/LOAD00000002\\.csv version ${v.versionId} no longer exists \\(NoSuch(Version|Key)\\): nothing to load$`));
        expect(w.skipped).toBe(2);
        expect(w.logs.filter(([lvl, m]) => lvl === 'warn' && m === 'object no longer exists: not loaded (ObjectsSkipped metric)').map(([, , e]) => (e as { key: string }).key)).toEqual([
          'dms/public/t/LOAD00000001.csv',
          'dms/public/t/LOAD00000002.csv',
        ]);
      } finally {
        await w.close();
      }
    });

    test('a CDC item whose LOAD file is not loaded throws DsqlLoaderWaitError; a stop before the timeout throws DsqlLoaderTransientError', async () => {
      const w = await world({ limits: { maxRows: 2, maxBytes: 8 * 1024 * 1024 } });
      try {
        await w.put('dms/public/t/LOAD00000001.csv', load([[1, 'a'], [2, 'b'], [3, 'c']]));
        await w.put('dms/public/t/20261130-100000000.csv', cdc([['D', 1, 'a']]));
        await expect(handleEvent({ bucket: w.bucket, key: 'dms/public/t/20261130-100000000.csv' }, w.deps)).rejects.toMatchObject({ name: 'DsqlLoaderWaitError' });
        let asked = 0;
        const tight = { ...w.deps, remainingMs: () => (asked++ === 0 ? 90_000 : 1000) };
        await expect(handleEvent({ bucket: w.bucket, key: 'dms/public/t/LOAD00000001.csv' }, tight)).rejects.toMatchObject({
          name: 'DsqlLoaderTransientError',
          message: 'dms/public/t/LOAD00000001.csv: stopped before the Lambda timeout at record 1; the retry resumes there',
        });
        expect(await handleEvent({ bucket: w.bucket, key: 'dms/public/t/LOAD00000001.csv' }, w.deps)).toMatchObject({ status: 'loaded', resumedFrom: 1 });
        expect(await handleEvent({ bucket: w.bucket, key: 'dms/public/t/20261130-100000000.csv' }, w.deps)).toMatchObject({ status: 'loaded' });
        expect(await w.rows()).toEqual([{ id: 2, name: 'b' }, { id: 3, name: 'c' }]);
      } finally {
        await w.close();
      }
    });

    test('malformed rows go to a quarantine object in the same bucket (NDJSON, under the quarantine prefix); the good rows load', async () => {
      const w = await world({ quarantinePrefix: 'bad-rows' });
      try {
        const body = 'id,name\n1,a\nnot-a-number,b\n3,c\n';
        await w.put('dms/public/t/LOAD00000001.csv', body);
        const r = await handleEvent({ bucket: w.bucket, key: 'dms/public/t/LOAD00000001.csv' }, w.deps);
        expect(r).toMatchObject({ status: 'loaded', rowsApplied: 2, rowsRejected: 1 });
        const keys = (r as { quarantineKeys: string[] }).quarantineKeys;
        expect(keys).toHaveLength(1);
        expect(keys[0].startsWith('bad-rows/')).toBe(true);
        const head = await s3.send(new HeadObjectCommand({ Bucket: w.bucket, Key: keys[0] }));
        expect(head.ContentType).toBe('application/x-ndjson');
        const text = await (await s3.send(new GetObjectCommand({ Bucket: w.bucket, Key: keys[0] }))).Body!.transformToString();
        const lines = text.trim().split('\n').map((l) => JSON.parse(l));
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatchObject({ line: 3 });
        expect(await w.rows()).toEqual([{ id: 1, name: 'a' }, { id: 3, name: 'c' }]);
      } finally {
        await w.close();
      }
    });
  });

  describe('earlierKeys and retrySoon', () => {
    test('earlierKeys lists only files of the same table DMS wrote before this one (LOAD files, earlier CDC files), none for a LOAD file', async () => {
      const w = await world();
      try {
        for (const k of ['dms/public/t/LOAD00000001.csv', 'dms/public/t/LOAD00000002.csv', 'dms/public/t/20261130-090000000.csv', 'dms/public/t/20261130-100000000.csv', 'dms/public/t/20261130-110000000.csv', 'dms/public/t/notes.txt', 'dms/public/t2/LOAD00000001.csv']) {
          await w.put(k, 'x');
        }
        const key = dmsKeyOf('dms/public/t/20261130-100000000.csv');
        expect((await earlierKeys(s3, w.bucket, 'dms', key)).sort()).toEqual(['dms/public/t/20261130-090000000.csv', 'dms/public/t/LOAD00000001.csv', 'dms/public/t/LOAD00000002.csv']);
        const loadKey = dmsKeyOf('dms/public/t/LOAD00000002.csv');
        expect(await earlierKeys(s3, w.bucket, 'dms', loadKey)).toEqual([]);
      } finally {
        await w.close();
      }
    });

    test('retrySoon sets the visibility of the message on the queue the ARN names; a queue that does not exist is ignored', async () => {
      const q = await queueWithMessage(`retry-soon-${n}`);
      expect(await q.visibleNow()).toBe(false);
      await retrySoon(sqs, q.arn, q.receiptHandle, 0);
      expect(await q.visibleNow()).toBe(true);
      await expect(retrySoon(sqs, 'arn:aws:sqs:us-east-1:123456789012:does-not-exist', 'rh', 0)).resolves.toBeUndefined();
    });

    test('earlierKeys follows every page of the listing (2 keys a page here); a folder with nothing in it gives none', async () => {
      const w = await world();
      try {
        for (const k of ['dms/public/t/LOAD00000001.csv', 'dms/public/t/LOAD00000002.csv', 'dms/public/t/20261130-090000000.csv', 'dms/public/t/20261130-100000000.csv', 'dms/public/t/20261130-110000000.csv', 'dms/public/t/notes.txt']) {
          await w.put(k, 'x');
        }
        // The real moto listing, asked for 2 keys a page (S3 returns up to 1,000), so the continuation tokens are used.
        const listed: Array<string | undefined> = [];
        const paged = {
          send: (cmd: ListObjectsV2Command) => {
            cmd.input.MaxKeys = 2;
            listed.push(cmd.input.ContinuationToken);
            return s3.send(cmd);
          },
        } as unknown as S3Client;
        const key = dmsKeyOf('dms/public/t/20261130-110000000.csv');
        expect((await earlierKeys(paged, w.bucket, 'dms', key)).sort()).toEqual([
          'dms/public/t/20261130-090000000.csv',
          'dms/public/t/20261130-100000000.csv',
          'dms/public/t/LOAD00000001.csv',
          'dms/public/t/LOAD00000002.csv',
        ]);
        expect(listed).toHaveLength(3);
        const other = dmsKeyOf('dms/public/empty/20261130-110000000.csv');
        expect(await earlierKeys(s3, w.bucket, 'dms', other)).toEqual([]);
      } finally {
        await w.close();
      }
    });

    test('retrySoon looks a queue URL up once per queue ARN', async () => {
      const q = await queueWithMessage(`retry-once-${n}`);
      const send = jest.spyOn(sqs, 'send');
      try {
        await retrySoon(sqs, q.arn, q.receiptHandle, 600);
        await retrySoon(sqs, q.arn, q.receiptHandle, 0);
        expect(send.mock.calls.map(([c]) => c.constructor.name)).toEqual(['GetQueueUrlCommand', 'ChangeMessageVisibilityCommand', 'ChangeMessageVisibilityCommand']);
        expect(await q.visibleNow()).toBe(true);
      } finally {
        send.mockRestore();
      }
    });
  });
});
