/**
 * The deployed entry point without the environment the construct sets: DSQL_ENDPOINT missing fails every
 * invocation with a message naming the variable (before any event is looked at), and a bad loader setting
 * fails the module load (cold start) naming it. Each case loads handler.ts afresh (jest.isolateModules).
 */
type HandlerModule = typeof import('../../lambda/dsql-loader/handler');

const BASE = {
  DSQL_REGION: 'us-east-1',
  LANDING_PREFIX: 'dms',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  POWERTOOLS_METRICS_DISABLED: 'true',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
};

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

function load(env: Record<string, string | undefined>): HandlerModule {
  process.env = { ...saved, ...BASE, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
  let mod: HandlerModule | undefined;
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require('../../lambda/dsql-loader/handler');
  });
  return mod!;
}

test('without DSQL_ENDPOINT every invocation fails naming the variable, whatever the event', async () => {
  const { handler } = load({ DSQL_ENDPOINT: undefined });
  const expected = 'environment variable DSQL_ENDPOINT is not set (the DsqlBridge construct sets it)';
  await expect(handler({ Records: [] } as never)).rejects.toThrow(expected);
  await expect(handler({ bucket: 'b', key: 'dms/public/t/LOAD00000001.csv' })).rejects.toThrow(expected);
  const empty = load({ DSQL_ENDPOINT: '' });
  await expect(empty.handler({ Records: [] } as never)).rejects.toThrow(expected);
});

test('with DSQL_ENDPOINT an empty SQS batch is answered without touching the database', async () => {
  const { handler } = load({ DSQL_ENDPOINT: 'abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws' });
  await expect(handler({ Records: [] } as never)).resolves.toEqual({ batchItemFailures: [] });
});

test('a bad loader setting fails the cold start naming it', () => {
  expect(() => load({ DSQL_ENDPOINT: 'x.dsql.us-east-1.on.aws', MAX_ROWS_PER_TXN: '5000' })).toThrow('dsql-loader configuration is invalid: MAX_ROWS_PER_TXN must be an integer in 2..3000, got "5000"');
});

test('the structured error log of a malformed message names the message (powertools JSON on stdout/stderr)', async () => {
  const { handler } = load({ DSQL_ENDPOINT: 'x.dsql.us-east-1.on.aws', POWERTOOLS_LOG_LEVEL: 'INFO' });
  let out = '';
  // The logger writes JSON lines to stdout, errors to stderr: both captured.
  const spies = [process.stdout, process.stderr].map((s) => jest.spyOn(s, 'write').mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true)));
  try {
    const event = { Records: [{ messageId: 'msg-7', receiptHandle: 'r', body: 'not json', eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:q' }] };
    expect(await handler(event as never)).toEqual({ batchItemFailures: [{ itemIdentifier: 'msg-7' }] });
  } finally {
    for (const s of spies) s.mockRestore();
  }
  const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  expect(lines.find((l) => l.level === 'ERROR')).toMatchObject({ message: 'message body is not JSON; it goes to the DLQ after its retries', messageId: 'msg-7', service: 'dsql-loader' });
});
