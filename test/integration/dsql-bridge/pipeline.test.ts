/**
 * End to end on this machine: DMS-format files put into a versioned S3 bucket (moto), S3 event
 * notifications delivered to SQS (moto), the loader's event handler driven like the Lambda
 * poller, loading into PostgreSQL (the local stand-in for DSQL, with the 3,000-row limit enforced),
 * quarantine objects written back to S3; then the verifier compares source and target row for row.
 * Also: the synthesized template passes cfn-lint.
 */
import { spawnSync } from 'child_process';
import { testApp } from '../../helpers/app';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutBucketNotificationConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { Client } from 'pg';
import { handleEvent, HandleDeps, resetProgressCache } from '../../../lambda/dsql-loader/handle';
import { verifyTable } from '../../../lambda/dsql-loader/verify';
import { DsqlBridgeStack } from '../../../lib/dsql-bridge';
import { startMoto, MotoServer } from '../../helpers/moto';
import { startPostgres, TestPostgres } from '../../helpers/postgres';
import { captureChanges, createDatabase, exportChanges, exportFullLoad, installDsqlLimits, largestTransaction, testConnections } from '../../dsql-bridge/fixtures';

const BUCKET = 'landing';
const DDL = `CREATE TABLE public.accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric(14,2), opened timestamptz, flags bytea, active boolean)`;

let moto: MotoServer;
let pg: TestPostgres;
let s3: S3Client;
let sqs: SQSClient;
let src: Client;
let dst: Client;
let queueUrl: string;
let queueArn: string;

beforeAll(async () => {
  [moto, pg] = await Promise.all([startMoto(), startPostgres()]);
  s3 = new S3Client({ forcePathStyle: true, region: 'us-east-1' });
  sqs = new SQSClient({ region: 'us-east-1' });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: BUCKET, VersioningConfiguration: { Status: 'Enabled' } }));
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'landing-events' }))).QueueUrl!;
  queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  await s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: BUCKET,
      NotificationConfiguration: { QueueConfigurations: [{ QueueArn: queueArn, Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'dms/' }] } } }] },
    }),
  );
  src = await createDatabase(pg, 'src');
  dst = await createDatabase(pg, 'dst');
  await src.query(DDL);
  await dst.query(DDL);
}, 180_000);

afterAll(async () => {
  await src?.end();
  await dst?.end();
  await Promise.all([moto?.stop(), pg?.stop()]);
});

/** Receives what is visible and hands it to the handler like the Lambda SQS poller (batch size 1). */
async function pollOnce(deps: HandleDeps): Promise<{ received: number; failed: number }> {
  const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 60 }));
  let failed = 0;
  for (const m of r.Messages ?? []) {
    const event: SQSEvent = {
      Records: [
        {
          messageId: m.MessageId!,
          receiptHandle: m.ReceiptHandle!,
          body: m.Body!,
          attributes: {} as never,
          messageAttributes: {},
          md5OfBody: m.MD5OfBody!,
          eventSource: 'aws:sqs',
          eventSourceARN: queueArn,
          awsRegion: 'us-east-1',
        },
      ],
    };
    const res = (await handleEvent(event, deps)) as { batchItemFailures: unknown[] };
    if (res.batchItemFailures.length === 0) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle! }));
    else failed += 1;
  }
  return { received: r.Messages?.length ?? 0, failed };
}

test('S3 → SQS → loader → PostgreSQL: full load + CDC in DMS order, quarantine in S3, target equals source', async () => {
  await installDsqlLimits(dst, ['public.accounts']);
  await src.query(`INSERT INTO accounts SELECT g, 'owner, "' || g || E'"\n', g * 10.5, timestamptz '2026-01-01 00:00+00' + g * interval '1 hour', CASE WHEN g % 7 = 0 THEN NULL ELSE decode(lpad(to_hex(g), 8, '0'), 'hex') END, g % 2 = 0 FROM generate_series(1, 6500) g`);
  const full = await exportFullLoad(src, 'accounts', 4000);
  await captureChanges(src, 'accounts');
  await src.query(`UPDATE accounts SET balance = balance + 1, owner = owner || ' ✓' WHERE id % 3 = 0`);
  await src.query(`DELETE FROM accounts WHERE id % 11 = 0`);
  await src.query(`INSERT INTO accounts VALUES (7000, '', NULL, NULL, ''::bytea, NULL)`);
  await src.query(`UPDATE accounts SET active = NOT active WHERE id % 3 = 0 AND id < 300`);
  const cdc = await exportChanges(src, 'accounts', 1500);
  expect(cdc.length).toBeGreaterThanOrEqual(2);

  let skipped = 0;
  const deps: HandleDeps = {
    s3,
    sqs,
    connections: testConnections(pg, 'dst'),
    config: { landingPrefix: 'dms', quarantinePrefix: 'quarantine', limits: { maxRows: 3000, maxBytes: 8 * 1024 * 1024 }, nullValue: '@@DMS_NULL@@', timestampColumn: 'dms_commit_ts' },
    metrics: { rowsLoaded: () => {}, rowsRejected: () => {}, retry: () => {}, lagSeconds: () => {}, objectSkipped: () => (skipped += 1) },
    log: { info: () => {}, warn: () => {}, error: () => {} },
    waitRetrySeconds: 0,
  };
  resetProgressCache();
  try {
    // CDC files arrive first (out of order), then the full load; plus one file with a malformed line and one stray key.
    const put = (Key: string, Body: string) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body }));
    for (const [i, body] of cdc.entries()) await put(`dms/public/accounts/20261130-04000000${i}.csv`, body);
    for (const [i, body] of full.entries()) await put(`dms/public/accounts/LOAD0000000${i + 1}.csv`, body);
    const bad = cdc[0].split('\n')[0] + '\nI,2026-11-30 04:00:00.000000,not-a-number,x,1,,,true\n';
    await put(`dms/public/accounts/20261130-050000000.csv`, bad);
    await put(`dms/README.txt`, 'not a DMS file');

    let rounds = 0;
    let waits = 0;
    for (;;) {
      const r = await pollOnce(deps);
      waits += r.failed;
      if (r.received === 0) {
        const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
        if (Number(attrs.Attributes!.ApproximateNumberOfMessages) + Number(attrs.Attributes!.ApproximateNumberOfMessagesNotVisible) === 0) break;
        await new Promise((res) => setTimeout(res, 200));
      }
      rounds += 1;
      expect(rounds).toBeLessThan(200);
    }
    expect(waits).toBeGreaterThan(0); // CDC files waited for the full load
    expect(skipped).toBe(1); // dms/README.txt: kept, not loaded, counted (ObjectsSkipped alarm)

    const v = await verifyTable(src, dst, 'public', 'accounts');
    expect(v).toMatchObject({ ok: true, missingCount: 0, extraCount: 0, differentCount: 0 });
    expect((await largestTransaction(dst)).rows).toBeLessThanOrEqual(3000);

    // The malformed line is in a quarantine object with its line number and reason; the source objects are all kept.
    const q = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'quarantine/' }));
    expect(q.Contents?.length).toBe(1);
    const body = await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: q.Contents![0].Key! }))).Body!.transformToString();
    const line = JSON.parse(body.trim());
    expect(line).toMatchObject({ object: 'dms/public/accounts/20261130-050000000.csv', line: 2 });
    expect(line.reason).toMatch(/column "id" \(integer\): "not-a-number" is not an integer/);
    const kept = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: 'dms/' }));
    expect(kept.DeleteMarkers ?? []).toHaveLength(0);
    expect(kept.Versions?.length).toBe(cdc.length + full.length + 2);

    // A backfill (Distributed Map item) of an object already loaded changes nothing.
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'dms/public/accounts/LOAD' }));
    const again = await handleEvent({ bucket: BUCKET, key: listed.Contents![0].Key!, etag: listed.Contents![0].ETag }, deps);
    expect(again).toMatchObject({ status: 'already-loaded' });
    expect((await verifyTable(src, dst, 'public', 'accounts')).ok).toBe(true);
  } finally {
    await deps.connections.close();
  }
});

test('backfill (Distributed Map items in S3 listing order): pass 1 loads the parallel-load LOAD_<segment>_ files, pass 2 the CDC files in DMS order', async () => {
  // In a listing, a table's CDC files (yyyyMMdd-…) sort before its LOAD files. A single pass with
  // bounded concurrency would fill its slots with CDC files waiting for LOAD files never started.
  const bucket = 'backfill'; // no event notifications: only the state machine's items drive the loader
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await src.query(`CREATE TABLE public.ledger (id int PRIMARY KEY, memo text, amount numeric(12,2))`);
  const dst2 = await createDatabase(pg, 'dst_backfill');
  await dst2.query(`CREATE TABLE public.ledger (id int PRIMARY KEY, memo text, amount numeric(12,2))`);
  await src.query(`INSERT INTO ledger SELECT g, CASE WHEN g % 5 = 0 THEN NULL ELSE 'memo ' || g END, g / 4.0 FROM generate_series(1, 5000) g`);
  const full = await exportFullLoad(src, 'ledger', 3000);
  await captureChanges(src, 'ledger');
  await src.query(`UPDATE ledger SET amount = amount * 2, memo = '' WHERE id % 4 = 0`);
  await src.query(`DELETE FROM ledger WHERE id % 9 = 0`);
  await src.query(`INSERT INTO ledger SELECT g, 'late', 1 FROM generate_series(5001, 5100) g`);
  await src.query(`UPDATE ledger SET memo = 'again' WHERE id BETWEEN 5001 AND 5050`);
  const cdc = await exportChanges(src, 'ledger', 400);
  expect(cdc.length).toBeGreaterThanOrEqual(3);
  for (const [i, body] of cdc.entries()) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `dms/public/ledger/20261130-06000000${i}.csv`, Body: body }));
  // The full load came from a parallel load (one segment per file): LOAD_<segment>_<counter> names.
  for (const [i, body] of full.entries()) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `dms/public/ledger/LOAD_${i + 1}_00000001.csv`, Body: body }));
  const deps: HandleDeps = {
    s3,
    sqs,
    connections: testConnections(pg, 'dst_backfill'),
    config: { landingPrefix: 'dms', quarantinePrefix: 'quarantine', limits: { maxRows: 3000, maxBytes: 8 * 1024 * 1024 }, nullValue: '@@DMS_NULL@@', timestampColumn: 'dms_commit_ts' },
    metrics: { rowsLoaded: () => {}, rowsRejected: () => {}, retry: () => {}, lagSeconds: () => {} },
    log: { info: () => {}, warn: () => {}, error: () => {} },
  };
  resetProgressCache();
  try {
    const items = (await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'dms/' }))).Contents!.map((o) => ({ bucket, key: o.Key!, etag: o.ETag }));
    expect(items.map((i) => i.key.split('/').pop())).toEqual([...cdc.map((_, i) => `20261130-06000000${i}.csv`), ...full.map((_, i) => `LOAD_${i + 1}_00000001.csv`)]);
    // The first item of a single pass cannot make progress: it waits for LOAD files listed after it.
    await expect(handleEvent({ ...items[0], phase: 'all' }, deps)).rejects.toMatchObject({ name: 'DsqlLoaderWaitError' });
    const pass1 = [];
    for (const item of items) pass1.push(await handleEvent({ ...item, phase: 'full-load' }, deps));
    expect(pass1.map((r) => (r as { status: string }).status)).toEqual([...cdc.map(() => 'skipped'), ...full.map(() => 'loaded')]);
    const pass2 = [];
    for (const item of items) pass2.push(await handleEvent({ ...item, phase: 'all' }, deps)); // no WaitError: in order
    expect(pass2.map((r) => (r as { status: string }).status)).toEqual([...cdc.map(() => 'loaded'), ...full.map(() => 'already-loaded')]);
    expect(await verifyTable(src, dst2, 'public', 'ledger')).toMatchObject({ ok: true, missingCount: 0, extraCount: 0, differentCount: 0 });
  } finally {
    await deps.connections.close();
    await dst2.end();
  }
});

test('objects since overwritten or deleted: the stale event / backfill item is skipped and counted (not a failed map item, not a DLQ message); the current version loads', async () => {
  // An operator's estate: DMS re-wrote a LOAD file (task restart) between the backfill's listing and
  // its item; a lifecycle rule expired a noncurrent version before its event was processed; an
  // object was deleted after the listing. Each reference points at data that no longer exists.
  const bucket = 'estate-versions'; // no event notifications: the test hands the events over itself
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const dst3 = await createDatabase(pg, 'dst_versions');
  await dst3.query(`CREATE TABLE public.notes (id int PRIMARY KEY, body text)`);
  const skippedKeys: string[] = [];
  const warnings: string[] = [];
  const deps: HandleDeps = {
    s3,
    sqs,
    connections: testConnections(pg, 'dst_versions'),
    config: { landingPrefix: 'dms', quarantinePrefix: 'quarantine', limits: { maxRows: 3000, maxBytes: 8 * 1024 * 1024 }, nullValue: '@@DMS_NULL@@', timestampColumn: 'dms_commit_ts' },
    metrics: { rowsLoaded: () => {}, rowsRejected: () => {}, retry: () => {}, lagSeconds: () => {}, objectSkipped: () => skippedKeys.push('x') },
    log: { info: () => {}, warn: (m) => warnings.push(m), error: () => {} },
    waitRetrySeconds: 0,
  };
  resetProgressCache();
  const put = async (Key: string, Body: string) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body }));
  const s3Event = (key: string, versionId?: string, eTag?: string): SQSEvent => ({
    Records: [
      {
        messageId: 'm1',
        receiptHandle: 'r1',
        body: JSON.stringify({ Records: [{ s3: { bucket: { name: bucket }, object: { key: encodeURIComponent(key).replace(/%2F/g, '/'), versionId, eTag } } }] }),
        attributes: {} as never,
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: queueArn,
        awsRegion: 'us-east-1',
      },
    ],
  });
  try {
    // 1. Backfill item listed with the first version's ETag; DMS then overwrote the object.
    const v1 = await put('dms/public/notes/LOAD00000001.csv', 'Op,id,body\nI,1,first\n');
    const listed = (await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'dms/' }))).Contents![0];
    await put('dms/public/notes/LOAD00000001.csv', 'Op,id,body\nI,1,second\nI,2,second\n');
    const stale = await handleEvent({ bucket, key: listed.Key!, etag: listed.ETag, phase: 'all' }, deps);
    expect(stale).toMatchObject({ status: 'skipped' });
    expect((stale as { reason: string }).reason).toMatch(/overwritten/);
    // The current version loads (its own event, or the next backfill).
    const cur = (await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'dms/' }))).Contents![0];
    expect(await handleEvent({ bucket, key: cur.Key!, etag: cur.ETag, phase: 'all' }, deps)).toMatchObject({ status: 'loaded', rowsApplied: 2 });

    // 2. An SQS event for a version that no longer exists (noncurrent version expired) and is not the current one:
    //    acknowledged as superseded (the current version loads), not counted.
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'dms/public/notes/LOAD00000001.csv', VersionId: v1.VersionId }));
    const gone = await handleEvent(s3Event('dms/public/notes/LOAD00000001.csv', v1.VersionId, listed.ETag!.replace(/"/g, '')), deps);
    expect(gone).toEqual({ batchItemFailures: [] });

    // 3. A backfill item whose object was deleted after the listing (a delete marker now).
    await put('dms/public/notes/LOAD00000002.csv', 'Op,id,body\nI,3,third\n');
    const l2 = (await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'dms/public/notes/LOAD00000002' }))).Contents![0];
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: l2.Key! }));
    const deleted = await handleEvent({ bucket, key: l2.Key!, etag: l2.ETag, phase: 'all' }, deps);
    expect(deleted).toMatchObject({ status: 'skipped' });
    expect((deleted as { reason: string }).reason).toMatch(/no longer exists/);

    // Gone objects are counted (ObjectsSkipped alarm) and logged; the overwritten ones are not (their current version loads).
    expect(skippedKeys).toHaveLength(1);
    expect(warnings.filter((w) => /no longer exists/.test(w))).toHaveLength(1);
    expect((await dst3.query('SELECT id, body FROM public.notes ORDER BY id')).rows).toEqual([
      { id: 1, body: 'second' },
      { id: 2, body: 'second' },
    ]);
  } finally {
    await deps.connections.close();
    await dst3.end();
  }
});

test('keys as S3 event notifications encode them (space as "+", "+" as %2B, UTF-8 percent-encoded), a schema with a dot and a table with a space, plus and unicode', async () => {
  // S3 event notification keys are URL-encoded form values:
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
  const bucket = 'estate-names';
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const dst4 = await createDatabase(pg, 'dst_names');
  await dst4.query(`CREATE SCHEMA "sales.eu"`);
  await dst4.query(`CREATE TABLE "sales.eu"."order lines+ü" (id int PRIMARY KEY, "unit price" numeric(8,2))`);
  const deps: HandleDeps = {
    s3,
    sqs,
    connections: testConnections(pg, 'dst_names'),
    config: { landingPrefix: 'dms', quarantinePrefix: 'quarantine', limits: { maxRows: 3000, maxBytes: 8 * 1024 * 1024 }, nullValue: '@@DMS_NULL@@', timestampColumn: 'dms_commit_ts' },
    metrics: { rowsLoaded: () => {}, rowsRejected: () => {}, retry: () => {}, lagSeconds: () => {} },
    log: { info: () => {}, warn: () => {}, error: () => {} },
    waitRetrySeconds: 0,
  };
  resetProgressCache();
  const key = 'dms/sales.eu/order lines+ü/LOAD00000001.csv';
  const v = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'Op,id,unit price\nI,1,2.50\nI,2,3.75\n' }));
  const encoded = key.split('/').map((p) => encodeURIComponent(p).replace(/%20/g, '+')).join('/');
  expect(encoded).toBe('dms/sales.eu/order+lines%2B%C3%BC/LOAD00000001.csv');
  const body = JSON.stringify({ Records: [{ s3: { bucket: { name: bucket }, object: { key: encoded, versionId: v.VersionId } } }] });
  try {
    const msg = { messageId: 'm1', receiptHandle: 'r1', body, attributes: {} as never, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: queueArn, awsRegion: 'us-east-1' };
    // Delivered twice (S3 delivers at least once) and with a test event in between.
    const r = await handleEvent({ Records: [msg, { ...msg, messageId: 'm2', body: JSON.stringify({ Event: 's3:TestEvent' }) }, { ...msg, messageId: 'm3' }] }, deps);
    expect(r).toEqual({ batchItemFailures: [] });
    expect((await dst4.query(`SELECT id, "unit price"::text AS p FROM "sales.eu"."order lines+ü" ORDER BY id`)).rows).toEqual([
      { id: 1, p: '2.50' },
      { id: 2, p: '3.75' },
    ]);
  } finally {
    await deps.connections.close();
    await dst4.end();
  }
});

test.each([
  ['DbOpsDsqlBridgeWithSource', false],
  ['DbOpsDsqlBridgeWithAccountRoles', true],
])('cfn-lint: the variant with a DMS source and DMS Serverless replication (not in cdk.json) is clean too: %s', (name, createDmsAccountRoles) => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsql-cfnlint-'));
  try {
    const app = testApp({ outdir });
    new DsqlBridgeStack(app, name, {
      bridge: { createDmsAccountRoles },
      env: { account: '123456789012', region: 'us-east-1' },
      source: {
        serverName: 'pg.internal',
        databaseName: 'app',
        secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:dms-source-AbCdEf',
        vpcId: 'vpc-0123456789abcdef0',
        vpcCidr: '10.0.0.0/16',
        availabilityZones: ['us-east-1a', 'us-east-1b'],
        subnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
      },
    });
    app.synth();
    const file = path.join(outdir, `${name}.template.json`);
    // Same accepted checks as test/integration/cfn-lint.test.ts (W3005 from CDK constructs, W3010 explicit AZs).
    const r = spawnSync('cfn-lint', ['--format', 'parseable', '--ignore-checks', 'W3005', 'W3010', '--', file], { encoding: 'utf8' });
    if (r.error) throw new Error(`cfn-lint could not run (pip install cfn-lint): ${r.error.message}`);
    expect({ status: r.status, findings: r.stdout.trim().split('\n').filter(Boolean) }).toEqual({ status: 0, findings: [] });
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
});
