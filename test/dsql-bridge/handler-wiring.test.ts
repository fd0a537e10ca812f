/**
 * How the deployed entry point wires its module-scope parts into handleEvent: the DSQL connection (whole `pg`
 * Client config, the IAM token as password), the CloudWatch metrics it publishes (Powertools EMF on stdout, read
 * back and checked value by value), the log wrappers, and the Lambda time left.
 *
 * Mocks, and why: `pg`'s Client and `@aws-sdk/dsql-signer` are replaced because the deployed connect goes to an
 * Aurora DSQL endpoint on port 5432 with TLS verified against public roots and a SigV4 token — no local server
 * can accept that; the fakes record the whole connect input instead. `handleEvent` is replaced (only it; the
 * rest of handle.ts is real) so the test can call the dependencies the handler passes in; handleEvent itself is
 * tested against moto and PostgreSQL in s3-handle.test.ts.
 */
import type { Context } from 'aws-lambda';

const pgClients: Array<{ config: Record<string, unknown>; queries: string[] }> = [];
jest.mock('pg', () => ({
  Client: class {
    readonly rec: { config: Record<string, unknown>; queries: string[] };
    constructor(config: Record<string, unknown>) {
      this.rec = { config, queries: [] };
      pgClients.push(this.rec);
    }
    async connect() {}
    async query(sql: string) {
      this.rec.queries.push(sql);
      return { rows: [] };
    }
    on() {}
    async end() {}
  },
}));

const signers: Array<Record<string, unknown>> = [];
jest.mock('@aws-sdk/dsql-signer', () => ({
  DsqlSigner: class {
    constructor(opts: Record<string, unknown>) {
      signers.push(opts);
    }
    async getDbConnectAuthToken() {
      return `signed-token-${signers.length}`;
    }
  },
}));

const handleEvent = jest.fn();
jest.mock('../../lambda/dsql-loader/handle', () => ({ ...jest.requireActual('../../lambda/dsql-loader/handle'), handleEvent: (...a: unknown[]) => handleEvent(...a) }));

type HandlerModule = typeof import('../../lambda/dsql-loader/handler');
type Deps = import('../../lambda/dsql-loader/handle').HandleDeps;

const ENV = {
  DSQL_ENDPOINT: 'abcdefghijklmnopqrstuvwxyz.dsql.eu-west-1.on.aws',
  DSQL_REGION: 'eu-west-1',
  LANDING_PREFIX: 'dms',
  POWERTOOLS_LOG_LEVEL: 'INFO',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
};
const saved = { ...process.env };

function load(env: Record<string, string | undefined> = {}): HandlerModule {
  process.env = { ...saved, ...ENV, ...env };
  delete process.env.POWERTOOLS_METRICS_DISABLED;
  delete process.env.POWERTOOLS_METRICS_NAMESPACE;
  delete process.env.POWERTOOLS_DEV;
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
  let mod: HandlerModule | undefined;
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require('../../lambda/dsql-loader/handler');
  });
  return mod!;
}

/** Runs `fn` with stdout/stderr captured; returns the JSON lines written (Powertools logger and EMF metrics). */
async function captured(fn: () => Promise<unknown>): Promise<{ lines: Array<Record<string, unknown>>; result: unknown; error: unknown }> {
  let out = '';
  const spies = [process.stdout, process.stderr].map((s) => jest.spyOn(s, 'write').mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true)));
  let result: unknown;
  let error: unknown;
  try {
    result = await fn();
  } catch (e) {
    error = e;
  } finally {
    for (const s of spies) s.mockRestore();
  }
  return { lines: out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)), result, error };
}

const emf = (lines: Array<Record<string, unknown>>) => lines.filter((l) => '_aws' in l);

beforeEach(() => {
  pgClients.length = 0;
  signers.length = 0;
  handleEvent.mockReset();
});
afterAll(() => {
  process.env = saved;
});

test('the DSQL connection: endpoint, port 5432, role dsql_loader by default, the signed IAM token as password, verified TLS, 10 s connect timeout', async () => {
  const { handler } = load({ DSQL_DB_ROLE: undefined });
  handleEvent.mockImplementation(async (_e, deps: Deps) => {
    await deps.connections.get();
    return { batchItemFailures: [] };
  });
  await captured(() => handler({ Records: [] } as never));
  expect(signers).toEqual([{ hostname: ENV.DSQL_ENDPOINT, region: 'eu-west-1', expiresIn: 900 }]);
  expect(pgClients).toEqual([
    {
      config: { host: ENV.DSQL_ENDPOINT, port: 5432, user: 'dsql_loader', password: 'signed-token-1', database: 'postgres', ssl: { rejectUnauthorized: true }, connectionTimeoutMillis: 10_000 },
      queries: ["SET TIME ZONE 'UTC'"],
    },
  ]);
});

test('DSQL_DB_ROLE names the database role; without DSQL_REGION the signer uses AWS_REGION', async () => {
  const { handler } = load({ DSQL_DB_ROLE: 'loader_role', DSQL_REGION: undefined });
  handleEvent.mockImplementation(async (_e, deps: Deps) => {
    await deps.connections.get();
    return { batchItemFailures: [] };
  });
  await captured(() => handler({ Records: [] } as never));
  expect(signers).toEqual([{ hostname: ENV.DSQL_ENDPOINT, region: 'us-east-1', expiresIn: 900 }]);
  expect(pgClients.map((c) => c.config.user)).toEqual(['loader_role']);
});

test('the event, the configuration from the environment and the Lambda time left reach handleEvent; its result is returned', async () => {
  const { handler } = load({ QUARANTINE_PREFIX: 'bad-rows', MAX_ROWS_PER_TXN: '1000' });
  const seen: unknown[] = [];
  handleEvent.mockImplementation(async (e, deps: Deps) => {
    seen.push(e, deps.config, deps.remainingMs?.());
    return { batchItemFailures: [{ itemIdentifier: 'm1' }] };
  });
  const event = { bucket: 'landing', key: 'dms/public/t/LOAD00000001.csv', etag: 'abc' };
  const context = { getRemainingTimeInMillis: () => 123_456 } as Context;
  const { result } = await captured(() => handler(event, context));
  expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
  expect(seen).toEqual([
    event,
    {
      landingPrefix: 'dms',
      quarantinePrefix: 'bad-rows',
      targetSchema: undefined,
      limits: { maxRows: 1000, maxBytes: 8 * 1024 * 1024 },
      nullValue: '@@DMS_NULL@@',
      timestampColumn: 'dms_commit_ts',
      csvDelimiter: undefined,
      csvRowDelimiter: undefined,
    },
    123_456,
  ]);
  // Without a context (a direct invoke in tests or a CLI) there is no time limit to watch.
  handleEvent.mockImplementation(async (_e, deps: Deps) => deps.remainingMs);
  expect((await captured(() => handler(event))).result).toBeUndefined();
});

test('loader metrics become CloudWatch metrics (EMF) in namespace DbOpsKit/DsqlBridge: zero counts are not published; they are flushed even when the load fails', async () => {
  const { handler } = load();
  handleEvent.mockImplementation(async (_e, deps: Deps) => {
    deps.metrics.rowsLoaded(3);
    deps.metrics.rowsLoaded(0);
    deps.metrics.rowsRejected(2);
    deps.metrics.rowsRejected(0);
    deps.metrics.retry('conflict');
    deps.metrics.retry('connection');
    deps.metrics.retry('connection');
    deps.metrics.lagSeconds(1.5);
    deps.metrics.objectSkipped?.();
    throw new Error('load failed');
  });
  const { lines, error } = await captured(() => handler({ Records: [] } as never));
  expect(error).toEqual(new Error('load failed'));
  const [m, ...more] = emf(lines);
  expect(more).toEqual([]);
  expect(m).toMatchObject({ service: 'dsql-loader', RowsLoaded: 3, RowsRejected: 2, ConflictRetries: 1, ConnectionRetries: [1, 1], ReplicationLagSeconds: 1.5, ObjectsSkipped: 1 });
  const aws = m._aws as { CloudWatchMetrics: Array<{ Namespace: string; Metrics: Array<{ Name: string; Unit: string }> }> };
  expect(aws.CloudWatchMetrics[0].Namespace).toBe('DbOpsKit/DsqlBridge');
  expect(aws.CloudWatchMetrics[0].Metrics).toEqual([
    { Name: 'RowsLoaded', Unit: 'Count' },
    { Name: 'RowsRejected', Unit: 'Count' },
    { Name: 'ConflictRetries', Unit: 'Count' },
    { Name: 'ConnectionRetries', Unit: 'Count' },
    { Name: 'ReplicationLagSeconds', Unit: 'Seconds' },
    { Name: 'ObjectsSkipped', Unit: 'Count' },
  ]);
  // Only zero counts: nothing to publish.
  handleEvent.mockImplementation(async (_e, deps: Deps) => {
    deps.metrics.rowsLoaded(0);
    deps.metrics.rowsRejected(0);
    return { batchItemFailures: [] };
  });
  expect(emf((await captured(() => handler({ Records: [] } as never))).lines).filter((l) => 'RowsLoaded' in l || 'RowsRejected' in l)).toEqual([]);
});

test('the log functions handleEvent gets write structured lines with the extra fields', async () => {
  const { handler } = load();
  handleEvent.mockImplementation(async (_e, deps: Deps) => {
    deps.log.info('object processed', { key: 'k1', rows: 2 });
    deps.log.warn('not a DMS data file', { key: 'k2' });
    deps.log.error('loading failed', { messageId: 'm3' });
    deps.log.info('no extra');
    return { batchItemFailures: [] };
  });
  const { lines } = await captured(() => handler({ Records: [] } as never));
  const logs = lines.filter((l) => 'level' in l).map(({ level, message, key, rows, messageId }) => ({ level, message, key, rows, messageId }));
  expect(logs).toEqual([
    { level: 'INFO', message: 'object processed', key: 'k1', rows: 2, messageId: undefined },
    { level: 'WARN', message: 'not a DMS data file', key: 'k2', rows: undefined, messageId: undefined },
    { level: 'ERROR', message: 'loading failed', key: undefined, rows: undefined, messageId: 'm3' },
    { level: 'INFO', message: 'no extra', key: undefined, rows: undefined, messageId: undefined },
  ]);
});
