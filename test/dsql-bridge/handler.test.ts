/**
 * The Lambda entry point as deployed (module-scope clients built from the environment the
 * construct sets). Paths that need no database: a malformed SQS message becomes a partial batch
 * failure (kept for the DLQ), an S3 test event is acknowledged, a wrong event shape gets a clear error.
 */
import type { SQSEvent } from 'aws-lambda';

const ENV = {
  DSQL_ENDPOINT: 'abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws',
  DSQL_REGION: 'us-east-1',
  DSQL_DB_ROLE: 'dsql_loader',
  LANDING_PREFIX: 'dms',
  QUARANTINE_PREFIX: 'quarantine',
  MAX_ROWS_PER_TXN: '3000',
  MAX_BYTES_PER_TXN: '8388608',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  POWERTOOLS_METRICS_DISABLED: 'true',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
};

function sqsEvent(bodies: string[]): SQSEvent {
  return {
    Records: bodies.map((body, i) => ({
      messageId: `m${i}`,
      receiptHandle: `r${i}`,
      body,
      attributes: {} as never,
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:landing',
      awsRegion: 'us-east-1',
    })),
  };
}

describe('handler', () => {
  const saved = { ...process.env };
  let handler: typeof import('../../lambda/dsql-loader/handler').handler;
  beforeAll(() => {
    Object.assign(process.env, ENV);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    handler = require('../../lambda/dsql-loader/handler').handler;
  });
  afterAll(() => {
    process.env = saved;
  });

  test('a message that is not JSON is a partial batch failure; an S3 test event is acknowledged', async () => {
    const r = await handler(sqsEvent(['not json', JSON.stringify({ Event: 's3:TestEvent' })]));
    expect(r).toEqual({ batchItemFailures: [{ itemIdentifier: 'm0' }] });
  });

  test('a wrong event shape gets a clear error', async () => {
    await expect(handler({ bucket: 42 } as never)).rejects.toThrow('expected an SQS event or { bucket, key, etag?, phase? }');
    await expect(handler({ bucket: 'b', key: 'dms/public/t/LOAD00000001.csv', phase: 'cdc' } as never)).rejects.toThrow('phase must be "full-load" or "all", got "cdc"');
  });
});
