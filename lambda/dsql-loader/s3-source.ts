import { Readable } from 'stream';
import { ChangeMessageVisibilityCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Client } from 'pg';
import { ConnectionManager } from './connection';
import { compareDmsFiles, DmsObjectKey, parseDmsKey } from './dms-format';
import { assertEarlierFilesLoaded, LoaderOptions, LoadResult, loadObject, otherDoneVersion, QuarantineSink } from './loader';
import { withRetry } from '../shared/retry';

/** One object to load, from an S3 event, an SQS message or a Distributed Map item. */
export interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
  readonly versionId?: string;
  /** ETag as S3 lists it (quotes allowed). */
  readonly etag?: string;
  /**
   * Backfill pass: `full-load` loads only LOAD files and skips CDC files (the first pass of the
   * backfill: in an S3 listing a table's CDC files, named by timestamp, sort before its LOAD files,
   * so one pass could fill every slot with CDC files waiting for LOAD files that never start).
   * @default - every DMS data file
   */
  readonly phase?: 'full-load' | 'all';
}

/** Quarantine objects in S3 (PutObject overwrites the same key, so a retried batch writes it once). */
export function s3Quarantine(s3: S3Client, bucket: string): QuarantineSink {
  return {
    async put(key, body) {
      await withRetry(() => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/x-ndjson' })));
    },
  };
}

/**
 * The table's files that DMS wrote before `dmsKey` (listed from S3, in DMS order), each with the
 * ETag of its current version (quotes removed, as the progress table stores it).
 */
export async function earlierFiles(s3: S3Client, bucket: string, prefix: string, dmsKey: DmsObjectKey): Promise<Array<{ key: string; etag: string; kind: DmsObjectKey['kind'] }>> {
  if (dmsKey.kind !== 'cdc') return [];
  const folder = dmsKey.key.slice(0, dmsKey.key.length - dmsKey.file.length);
  const out: Array<{ key: string; etag: string; kind: DmsObjectKey['kind'] }> = [];
  let token: string | undefined;
  do {
    const page = await withRetry(() => s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: folder, ContinuationToken: token })));
    for (const o of page.Contents ?? []) {
      const parsed = parseDmsKey(o.Key!, prefix);
      if (typeof parsed !== 'string' && compareDmsFiles(parsed, dmsKey) < 0) out.push({ key: parsed.key, etag: (o.ETag ?? '').replace(/"/g, ''), kind: parsed.kind });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

/** Keys of the table's files that DMS wrote before `dmsKey` (see {@link earlierFiles}). */
export async function earlierKeys(s3: S3Client, bucket: string, prefix: string, dmsKey: DmsObjectKey): Promise<string[]> {
  return (await earlierFiles(s3, bucket, prefix, dmsKey)).map((f) => f.key);
}

export interface S3LoadDeps {
  readonly s3: S3Client;
  readonly landingPrefix: string;
  readonly loader: Omit<LoaderOptions, 'connections'>;
  readonly connections: ConnectionManager;
}

export class SkipError extends Error {}

/** Why an object was not loaded: `not-dms` (not a DMS data file name), `phase` (the other backfill pass loads it), `gone` (the object or version no longer exists), `superseded` (overwritten since it was listed; the current version loads). */
export type SkipKind = 'not-dms' | 'phase' | 'gone' | 'superseded';
export interface Skipped {
  readonly status: 'skipped';
  readonly reason: string;
  readonly kind?: SkipKind;
}

/**
 * Loads one S3 object: parses its key, checks DMS order for CDC files, streams the exact object
 * version (VersionId, or IfMatch on the listed ETag) into the loader. Keys that are not DMS data
 * files are reported and left in place.
 */
export async function loadS3Object(ref: ObjectRef, deps: S3LoadDeps): Promise<LoadResult | Skipped> {
  const dmsKey = parseDmsKey(ref.key, deps.landingPrefix);
  if (typeof dmsKey === 'string') return { status: 'skipped', reason: dmsKey, kind: 'not-dms' };
  if (ref.phase === 'full-load' && dmsKey.kind !== 'full-load') return { status: 'skipped', reason: `${ref.key} is a CDC file: the second backfill pass loads it`, kind: 'phase' };
  let current: string | undefined | 'deleted';
  if (ref.versionId !== undefined) {
    // An event for a version that has since been overwritten (delivered late: a retry after the visibility
    // timeout, a DLQ redrive, a load resumed after a reload): loading it would write the old rows over the
    // changes applied after the newer version (a row a later CDC file deleted would come back).
    current = await currentVersion(deps.s3, ref.bucket, ref.key);
    if (current !== 'deleted' && current !== undefined && current !== ref.versionId) {
      return { status: 'skipped', kind: 'superseded', reason: `s3://${ref.bucket}/${ref.key} version ${ref.versionId} is no longer the current version (now ${current}): not loaded; the current version loads from its own event` };
    }
  }
  // A LOAD file must be done in its listed version (a reload rewrites it under the same key); a CDC file in any
  // version (DMS never rewrites one, and another version of an applied CDC file is refused below, so requiring it
  // would hold every later file of the table).
  const earlier = (await earlierFiles(deps.s3, ref.bucket, deps.landingPrefix, dmsKey)).map((f) => (f.kind === 'full-load' ? { key: f.key, etag: f.etag } : f.key));
  const client: Client = await deps.connections.get();
  await assertEarlierFilesLoaded(client, dmsKey, earlier);
  let obj;
  try {
    obj = await withRetry(() =>
      deps.s3.send(
        new GetObjectCommand({
          Bucket: ref.bucket,
          Key: ref.key,
          VersionId: ref.versionId,
          IfMatch: ref.versionId ? undefined : ref.etag,
        }),
      ),
    );
  } catch (e) {
    // The reference points at data that no longer exists: retrying cannot bring it back, and failing
    // would send an SQS message to the DLQ or fail the whole backfill map (ToleratedFailurePercentage 0).
    // - 412 PreconditionFailed on IfMatch: the object was overwritten since it was listed; its
    //   current version has its own event (and is in the next backfill listing).
    // - NoSuchKey / NoSuchVersion: deleted since (a delete marker, or a version expired by a
    //   lifecycle rule). Counted (ObjectsSkipped alarm) and logged by the handler.
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html (If-Match → 412; NoSuchKey, NoSuchVersion)
    const err = e as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
    const name = err.name ?? err.Code ?? '';
    const at = `s3://${ref.bucket}/${ref.key}${ref.versionId ? ` version ${ref.versionId}` : ref.etag ? ` ETag ${ref.etag}` : ''}`;
    if (name === 'PreconditionFailed' || err.$metadata?.httpStatusCode === 412) {
      return { status: 'skipped', kind: 'superseded', reason: `${at} was overwritten since it was listed: not loaded; the current version is loaded from its own event or the next backfill` };
    }
    if (name === 'NoSuchKey' || name === 'NoSuchVersion') {
      return { status: 'skipped', kind: 'gone', reason: `${at} no longer exists (${name}): nothing to load` };
    }
    throw e;
  }
  const etag = (obj.ETag ?? ref.etag ?? '').replace(/"/g, '');
  if (!etag) {
    (obj.Body as Readable | undefined)?.destroy();
    throw new Error(`s3://${ref.bucket}/${ref.key} has no ETag`);
  }
  if (current === 'deleted') {
    // The key is deleted now, so HEAD cannot say whether this version is the newest. If another version of the
    // key is loaded, this one is old or was superseded before the delete: loading it could write old rows over
    // later changes. Counted (ObjectsSkipped alarm) instead, so an operator can look.
    const other = await otherDoneVersion(client, dmsKey.key, etag);
    if (other !== undefined) {
      (obj.Body as Readable | undefined)?.destroy();
      return {
        status: 'skipped',
        kind: 'gone',
        reason: `s3://${ref.bucket}/${ref.key} version ${ref.versionId} is not loaded: the key is deleted now and another version of it (ETag ${other}) is already loaded, so this one could write old rows over later changes`,
      };
    }
  }
  if (dmsKey.kind === 'cdc') {
    // DMS names each CDC file by its time and never writes it twice; another version of a CDC file that is
    // already applied (a copy in place, a re-upload) would replay old changes over newer ones.
    const old = await otherDoneVersion(client, dmsKey.key, etag);
    if (old !== undefined) {
      (obj.Body as Readable | undefined)?.destroy();
      throw new Error(
        `s3://${ref.bucket}/${ref.key} is a CDC file already applied as ETag ${old}; this version (ETag ${etag}) was written after it (DMS never rewrites a CDC file: a copy in place?). Applying it again would replay its changes over newer ones, so it is not loaded and the message is kept; nothing else waits for it. If the copy is harmless, delete the message once it reaches the DLQ. To apply it anyway (its changes then override every later CDC file of the table): DELETE FROM dsql_loader.progress WHERE object_key = '${dmsKey.key.replace(/'/g, "''")}' AND object_etag = '${old}'`,
      );
    }
  }
  return loadObject({ dmsKey, etag, body: obj.Body as Readable }, { ...deps.loader, connections: deps.connections });
}

/**
 * The VersionId of the key's current version (undefined without versioning), or `deleted` when HEAD finds no
 * current version: 404, or 403, which S3 answers for a missing key to a caller without s3:ListBucket.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
 */
async function currentVersion(s3: S3Client, bucket: string, key: string): Promise<string | undefined | 'deleted'> {
  try {
    return (await withRetry(() => s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))).VersionId;
  } catch (e) {
    const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
    const status = err.$metadata?.httpStatusCode;
    if (status === 404 || status === 403 || err.name === 'NotFound' || err.name === 'NoSuchKey' || err.name === 'Forbidden') return 'deleted';
    throw e;
  }
}

const queueUrls = new Map<string, string>();

/**
 * Shortens the wait of an SQS message whose file waits for earlier files of its table. The queue
 * URL is looked up from the event source ARN (GetQueueUrl honours the SDK endpoint configuration).
 * Best effort: if it fails, the message simply returns after the queue's visibility timeout.
 */
export async function retrySoon(sqs: SQSClient, queueArn: string, receiptHandle: string, seconds: number): Promise<void> {
  try {
    let url = queueUrls.get(queueArn);
    if (!url) {
      const [, , , , account, name] = queueArn.split(':');
      url = (await sqs.send(new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }))).QueueUrl!;
      queueUrls.set(queueArn, url);
    }
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds }));
  } catch {
    /* the visibility timeout applies instead */
  }
}
