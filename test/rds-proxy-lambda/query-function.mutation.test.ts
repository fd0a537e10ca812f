/**
 * The handler and the connection manager where the network says no: nothing listening, an endpoint that
 * accepts TCP and never answers, and a login-refusing endpoint on 127.0.0.1 that speaks just enough of the
 * PostgreSQL protocol (SSLRequest → TLS with a certificate for `localhost` from a CA made here → StartupMessage →
 * cleartext password request → ErrorResponse) to refuse a login with the SQLSTATE RDS Proxy or PostgreSQL would
 * send (28P01 bad password, 28000 IAM/authorization, 53300 borrow timeout, 3D000 no such database). It is a
 * stand-in like pool-standin.ts: a real PostgreSQL cannot be told to answer a given login with 53300, and it
 * records the user and password each login sent, which is what these tests assert (which credential was sent,
 * how often). Successful queries, dropped sessions and query timeouts are tested against a real PostgreSQL in
 * handler.test.ts and timeouts.test.ts.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as tls from 'tls';
import { loadConfig } from '../../lambda/rds-proxy-query/config';
import { ConnectionManager } from '../../lambda/rds-proxy-query/connection';
import { CredentialProvider } from '../../lambda/rds-proxy-query/credentials';
import { createQueryHandler, createQueryRuntime, DEADLINE_RESERVE_MS, runtimeFromEnvironment } from '../../lambda/rds-proxy-query/query-function';
import { tlsOptions } from '../../lambda/rds-proxy-query/tls';
import { onEvent } from '../../lambda/rds-proxy-query/db-bootstrap';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { createLogger } from '../../lambda/shared/logger';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Accepts TCP connections and never sends a byte. */
async function silentEndpoint(): Promise<{ port: number; accepted: () => number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let n = 0;
  const server = net.createServer((s) => {
    n++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => n,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Captures what the Powertools logger writes (JSON lines) while `fn` runs. */
async function captureLogs<T>(fn: () => Promise<T>): Promise<{ result: T; lines: Array<Record<string, any>> }> {
  const written: string[] = [];
  const capture = (c: any) => (written.push(String(c)), true);
  const spies = [jest.spyOn(process.stdout, 'write').mockImplementation(capture), jest.spyOn(process.stderr, 'write').mockImplementation(capture)];
  const saved = process.env.POWERTOOLS_LOG_LEVEL;
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
  try {
    const result = await fn();
    return { result, lines: written.join('').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)) };
  } finally {
    spies.forEach((s) => s.mockRestore());
    process.env.POWERTOOLS_LOG_LEVEL = saved;
  }
}

const ENV = { DB_NAME: 'appdb', DB_USER: 'app', AWS_REGION: 'us-east-1', DB_HOST: '127.0.0.1' };

describe('handler: errors, their log line and the invocation deadline', () => {
  let port: number;
  beforeAll(async () => {
    port = await closedPort();
  });

  function handlerFor(over: Record<string, string> = {}) {
    const logger = createLogger('rds-proxy-query');
    const tokens: string[] = [];
    const rt = createQueryRuntime(loadConfig({ ...ENV, DB_PORT: String(port), ...over }), {
      logger,
      signer: { getAuthToken: async () => (tokens.push('t'), 'token') },
    });
    return { handler: createQueryHandler(() => rt), rt, tokens };
  }

  test('a bad request is a warning with errorType BadRequestError (what the metric filter matches); nothing is signed', async () => {
    let tokens: string[] = [];
    const { result: err, lines } = await captureLogs(() => {
      const h = handlerFor();
      tokens = h.tokens;
      return h.handler({ query: 'nope' }).catch((e) => e);
    });
    expect(err.name).toBe('BadRequestError');
    const line = lines.find((l) => l.message === 'query failed');
    expect(line).toMatchObject({ level: 'WARN', errorType: 'BadRequestError', error: err.message, connectionsOpened: 0, credentialRefreshes: 0 });
    expect(tokens).toEqual([]);
  });

  test('a 200 KB query name gives a bounded error message and log line', async () => {
    const huge = 'q'.repeat(200_000);
    const { result: err, lines } = await captureLogs(() => handlerFor().handler({ query: huge, params: { [huge]: 1 } }).catch((e) => e));
    expect(err.name).toBe('BadRequestError');
    expect(err.message.length).toBeLessThan(400);
    expect(err.message).toContain('(200002 characters)');
    const line = lines.find((l) => l.message === 'query failed')!;
    expect(line.errorType).toBe('BadRequestError');
    expect(JSON.stringify(line).length).toBeLessThan(1500);
  });

  test('an unreachable database is an error-level line naming the endpoint, the timeout and what to check', async () => {
    let tokens: string[] = [];
    const { result: err, lines } = await captureLogs(() => {
      const h = handlerFor({ CONNECT_TIMEOUT_MS: '4000' });
      tokens = h.tokens;
      return h.handler({ query: 'health' }).catch((e) => e);
    });
    expect(err.name).toBe('DatabaseUnavailableError');
    expect(err.code).toBeUndefined();
    expect(err.message).toBe(
      `could not connect to 127.0.0.1:${port}/appdb (connect timeout CONNECT_TIMEOUT_MS=4000 ms): connect ECONNREFUSED 127.0.0.1:${port}. ` +
        "Check the proxy endpoint, its security group and the proxy's target health; the next invocation tries again.",
    );
    expect(err.cause).toMatchObject({ code: 'ECONNREFUSED' });
    expect(lines.find((l) => l.message === 'query failed')).toMatchObject({ level: 'ERROR', errorType: 'DatabaseUnavailableError', connectionsOpened: 0, credentialRefreshes: 0 });
    expect(tokens).toEqual(['t']);
  });

  test('less than the reserve + 50 ms left: a typed "no time left" error without dialling; enough left: it dials', async () => {
    expect(DEADLINE_RESERVE_MS).toBe(250);
    const { handler } = handlerFor();
    const late = await handler({ query: 'health' }, { getRemainingTimeInMillis: () => 280 }).catch((e) => e);
    expect(late.name).toBe('DatabaseUnavailableError');
    expect(late.message).toBe(`no time left in this invocation to connect on 127.0.0.1:${port}/appdb; the next invocation tries again`);
    const inTime = await handler({ query: 'health' }, { getRemainingTimeInMillis: () => 2_000 }).catch((e) => e);
    expect(inTime.message).toMatch(/^could not connect to .*ECONNREFUSED/);
    // a context without getRemainingTimeInMillis means no deadline
    const noFn = await handler({ query: 'health' }, {} as never).catch((e) => e);
    expect(noFn.message).toMatch(/^could not connect to .*ECONNREFUSED/);
  });

  test('the deadline bounds the connect: an endpoint that never answers fails when the invocation runs out, not after CONNECT_TIMEOUT_MS', async () => {
    const silent = await silentEndpoint();
    try {
      const logger = createLogger('rds-proxy-query');
      const rt = createQueryRuntime(loadConfig({ ...ENV, DB_PORT: String(silent.port), CONNECT_TIMEOUT_MS: '60000' }), { logger, signer: { getAuthToken: async () => 'token' } });
      const t0 = Date.now();
      const err = await createQueryHandler(() => rt)({ query: 'health' }, { getRemainingTimeInMillis: () => DEADLINE_RESERVE_MS + 400 }).catch((e) => e);
      const took = Date.now() - t0;
      expect(err.name).toBe('DatabaseUnavailableError');
      expect(err.message).toMatch(/^could not connect to 127\.0\.0\.1:\d+\/appdb \(connect timeout CONNECT_TIMEOUT_MS=60000 ms\): /);
      expect(took).toBeGreaterThanOrEqual(300);
      expect(took).toBeLessThan(10_000);
      expect(silent.accepted()).toBe(1);
    } finally {
      await silent.close();
    }
  });

  test('CONNECT_TIMEOUT_MS bounds a connect to an endpoint that never answers', async () => {
    const silent = await silentEndpoint();
    try {
      const { handler } = handlerFor({ DB_PORT: String(silent.port), CONNECT_TIMEOUT_MS: '300' });
      const t0 = Date.now();
      const err = await handler({ query: 'health' }).catch((e) => e);
      expect(err.message).toMatch(/^could not connect to 127\.0\.0\.1:\d+\/appdb \(connect timeout CONNECT_TIMEOUT_MS=300 ms\): timeout expired\. Check the proxy endpoint/);
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      await silent.close();
    }
  });

  test('a bad environment fails each invocation with the ConfigurationError (not an init crash) until it is fixed; a good runtime is built once', async () => {
    const env: NodeJS.ProcessEnv = { DB_NAME: 'appdb' };
    const logger = createLogger('rds-proxy-query');
    const handler = createQueryHandler(runtimeFromEnvironment(env, { logger, signer: { getAuthToken: async () => 'token' } }));
    for (let i = 0; i < 2; i++) {
      const err = await handler({ query: 'health' }).catch((e) => e);
      expect(err.name).toBe('ConfigurationError');
      expect(err.message).toContain('DB_HOST is required; DB_USER is required; AWS_REGION is required');
    }
    Object.assign(env, ENV, { DB_PORT: String(port) });
    await expect(handler({ query: 'health' })).rejects.toMatchObject({ name: 'DatabaseUnavailableError' });
    let built = 0;
    const once = createQueryHandler(() => {
      built++;
      return createQueryRuntime(loadConfig({ ...ENV, DB_PORT: String(port) }), { logger, signer: { getAuthToken: async () => 'token' } });
    });
    await once({ query: 'nope' }).catch(() => undefined);
    await once({ query: 'health' }).catch(() => undefined);
    expect(built).toBe(1);
  });

  test('an unreadable DB_TLS_CA_FILE is a ConfigurationError of the invocation', async () => {
    const handler = createQueryHandler(runtimeFromEnvironment({ ...ENV, DB_PORT: String(port), DB_TLS_CA_FILE: '/nonexistent/ca.pem' }));
    await expect(handler({ query: 'health' })).rejects.toMatchObject({ name: 'ConfigurationError', message: expect.stringContaining('DB_TLS_CA_FILE "/nonexistent/ca.pem" cannot be read') });
  });

  test('secret mode reads SECRET_ARN within SECRET_TIMEOUT_MS and names it when that fails', async () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf';
    const logger = createLogger('rds-proxy-query');
    const seen: boolean[] = [];
    const failing = createQueryRuntime(loadConfig({ ...ENV, DB_PORT: String(port), CREDENTIAL_MODE: 'secret', SECRET_ARN: arn }), {
      logger,
      fetchSecret: async ({ forceFetch }) => {
        seen.push(forceFetch);
        throw new Error('ResourceNotFoundException');
      },
    });
    await expect(createQueryHandler(() => failing)({ query: 'health' })).rejects.toMatchObject({
      name: 'DatabaseUnavailableError',
      message: expect.stringContaining(`could not read secret ${arn}: ResourceNotFoundException.`),
    });
    expect(seen).toEqual([false]);
    const hanging = createQueryRuntime(loadConfig({ ...ENV, DB_PORT: String(port), CREDENTIAL_MODE: 'secret', SECRET_ARN: arn, SECRET_TIMEOUT_MS: '150' }), {
      logger,
      fetchSecret: () => new Promise(() => undefined),
    });
    await expect(createQueryHandler(() => hanging)({ query: 'health' })).rejects.toMatchObject({
      message: expect.stringContaining(`within 150 ms (SECRET_TIMEOUT_MS=150) reading secret ${arn}`),
    });
    const ok = createQueryRuntime(loadConfig({ ...ENV, DB_PORT: String(port), CREDENTIAL_MODE: 'secret', SECRET_ARN: arn }), {
      logger,
      fetchSecret: async () => ({ username: 'app', password: 'pw' }),
    });
    expect(ok.credentials.mode).toBe('secret');
    await expect(ok.credentials.get()).resolves.toEqual({ user: 'app', password: 'pw' });
  });

  test('iam mode signs for DB_USER', async () => {
    const rt = createQueryRuntime(loadConfig({ ...ENV, DB_PORT: String(port), DB_USER: 'reader' }), { signer: { getAuthToken: async () => 'tok' } });
    expect(rt.credentials.mode).toBe('iam');
    await expect(rt.credentials.get()).resolves.toEqual({ user: 'reader', password: 'tok' });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// A login-refusing endpoint (see the file comment).

interface Login {
  user: string;
  database: string;
  password: string;
}

function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.concat([Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0`, 'utf8'), Buffer.from([0])]);
  const head = Buffer.alloc(5);
  head.write('E', 0);
  head.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([head, fields]);
}

class RefusingEndpoint {
  port = 0;
  readonly logins: Login[] = [];
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly pki: { cert: Buffer; key: Buffer }, private readonly refuse: (l: Login, n: number) => { code: string; message: string }) {
    this.server = net.createServer((s) => this.accept(s));
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => this.sockets.delete(s));
  }

  private accept(raw: net.Socket): void {
    this.track(raw);
    raw.once('data', (first) => {
      if (first.length < 8 || first.readInt32BE(4) !== 80877103) {
        raw.destroy(); // TLS is required
        return;
      }
      raw.write('S');
      const secure = new tls.TLSSocket(raw, { isServer: true, cert: this.pki.cert, key: this.pki.key });
      this.track(secure);
      let buf = Buffer.alloc(0);
      let login: Partial<Login> | undefined;
      let answered = false;
      secure.on('data', (b) => {
        if (answered) return; // e.g. the client's Terminate after our ErrorResponse
        buf = Buffer.concat([buf, b]);
        if (!login) {
          if (buf.length < 4 || buf.length < buf.readInt32BE(0)) return;
          const len = buf.readInt32BE(0);
          const kv = buf.subarray(8, len - 1).toString('utf8').split('\0');
          const o: Record<string, string> = {};
          for (let i = 0; i + 1 < kv.length; i += 2) o[kv[i]] = kv[i + 1];
          login = { user: o.user, database: o.database };
          buf = buf.subarray(len);
          const ask = Buffer.alloc(9);
          ask.write('R', 0);
          ask.writeInt32BE(8, 1);
          ask.writeInt32BE(3, 5); // AuthenticationCleartextPassword
          secure.write(ask);
          return;
        }
        if (buf.length < 5 || buf.length < 1 + buf.readInt32BE(1)) return;
        const l: Login = { ...(login as Login), password: buf.subarray(5, 1 + buf.readInt32BE(1) - 1).toString('utf8') };
        answered = true;
        this.logins.push(l);
        const { code, message } = this.refuse(l, this.logins.length);
        secure.end(errorResponse(code, message));
      });
    });
  }
}

describe('connection manager against a login-refusing endpoint', () => {
  let dir: string;
  let caFile: string;
  let cert: { cert: Buffer; key: Buffer };

  beforeAll(() => {
    // EC keys: fast to make. The server certificate names `localhost` (what the manager dials).
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbops-refuse-'));
    const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=refusing test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
    fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
    ssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext']);
    caFile = path.join(dir, 'ca.pem');
    cert = { cert: fs.readFileSync(path.join(dir, 'server.pem')), key: fs.readFileSync(path.join(dir, 'server.key')) };
  });

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Credentials that hand out `first` until a refresh is forced, then `fresh`; records each call. */
  function creds(mode: 'iam' | 'secret', first: string, fresh: string) {
    const calls: Array<{ forceRefresh?: boolean; deadline?: number }> = [];
    let refreshed = false;
    const provider: CredentialProvider = {
      mode,
      get: async (o = {}) => {
        calls.push(o);
        if (o.forceRefresh) refreshed = true;
        return { user: 'app_user', password: refreshed ? fresh : first };
      },
    };
    return { provider, calls };
  }

  function manager(port: number, credentials: CredentialProvider, over: { borrowTimeoutMs?: number } = {}) {
    const warn = jest.fn();
    const info = jest.fn();
    const m = new ConnectionManager({
      host: 'localhost',
      port,
      database: 'appdb',
      credentials,
      ssl: tlsOptions(caFile),
      connectTimeoutMs: 5000,
      queryTimeoutMs: 5000,
      logger: { warn, info, debug: jest.fn(), error: jest.fn() } as never,
      ...over,
    });
    return { m, warn, info };
  }

  test.each<['iam' | 'secret', string]>([
    ['iam', 'check rds-db:connect on the function role and that the proxy has IAM auth required for this user'],
    ['secret', "check that the secret holds the role's current password and that the proxy is registered with the same secret"],
  ])('%s mode: a refused login fetches fresh credentials exactly once, sends them, and a second refusal is an AuthenticationError', async (mode, advice) => {
    const ep = await new RefusingEndpoint(cert, (_l, n) => ({ code: n === 1 ? '28P01' : '28000', message: 'password authentication failed for user "app_user"' })).start();
    try {
      const { provider, calls } = creds(mode, 'stale', 'fresh');
      const { m, warn } = manager(ep.port, provider);
      const err = await m.query('select 1').catch((e) => e);
      expect(err.name).toBe('AuthenticationError');
      expect(err.message).toBe(
        `localhost:${ep.port}/appdb refused the login of "app_user" (28000) even with freshly fetched ${mode === 'iam' ? 'IAM token' : 'secret'}: ${advice}`,
      );
      expect(err.cause).toMatchObject({ code: '28000' });
      expect(ep.logins).toEqual([
        { user: 'app_user', database: 'appdb', password: 'stale' },
        { user: 'app_user', database: 'appdb', password: 'fresh' },
      ]);
      expect(calls).toEqual([{ deadline: undefined }, { forceRefresh: true, deadline: undefined }]);
      expect(m.stats()).toEqual({ connectionsOpened: 0, credentialRefreshes: 1 });
      expect(m.connected).toBe(false);
      expect(warn).toHaveBeenCalledWith('login refused; fetching fresh credentials once', { mode, user: 'app_user', sqlState: '28P01' });
    } finally {
      await ep.close();
    }
  });

  test('a pool that cannot lend a connection (53300) is a DatabaseUnavailableError naming the borrow timeout, without a credential refresh', async () => {
    const ep = await new RefusingEndpoint(cert, () => ({ code: '53300', message: 'Timed-out waiting to acquire database connection' })).start();
    try {
      const { provider, calls } = creds('iam', 'tok', 'tok2');
      const { m } = manager(ep.port, provider, { borrowTimeoutMs: 7000 });
      const err = await m.query('select 1').catch((e) => e);
      expect(err.name).toBe('DatabaseUnavailableError');
      expect(err.code).toBe('53300');
      expect(err.message).toBe(
        `localhost:${ep.port}/appdb refused the connection: Timed-out waiting to acquire database connection (SQLSTATE 53300). ` +
          "If the proxy's pool is exhausted (borrow timeout 7000 ms), lower the callers' concurrency (reserved concurrency) or raise maxConnectionsPercent / the cluster size; the next invocation tries again.",
      );
      expect(calls).toHaveLength(1);
      expect(ep.logins).toHaveLength(1);
      const { m: unnamed } = manager(ep.port, creds('iam', 'tok', 'tok2').provider);
      const err2 = await unnamed.query('select 1').catch((e) => e);
      expect(err2.message).toContain('(borrow timeout), lower');
    } finally {
      await ep.close();
    }
  });

  test('after one refresh, a refusal that is not about credentials is reported as such (not as an AuthenticationError)', async () => {
    const ep = await new RefusingEndpoint(cert, (_l, n) =>
      n === 1 ? { code: '28P01', message: 'password authentication failed' } : { code: '3D000', message: 'database "appdb" does not exist' },
    ).start();
    try {
      const { provider } = creds('secret', 'old', 'new');
      const { m } = manager(ep.port, provider);
      const err = await m.query('select 1').catch((e) => e);
      expect(err.name).toBe('DatabaseUnavailableError');
      expect(err.code).toBe('3D000');
      expect(err.message).toMatch(/^localhost:\d+\/appdb refused the connection: database "appdb" does not exist \(SQLSTATE 3D000\)\. /);
      expect(m.stats()).toEqual({ connectionsOpened: 0, credentialRefreshes: 1 });
    } finally {
      await ep.close();
    }
  });

  test('the deadline is passed to every credential fetch', async () => {
    const ep = await new RefusingEndpoint(cert, () => ({ code: '28P01', message: 'no' })).start();
    try {
      const { provider, calls } = creds('iam', 'a', 'b');
      const { m } = manager(ep.port, provider);
      const deadline = Date.now() + 30_000;
      await m.query('select 1', [], { deadline }).catch(() => undefined);
      expect(calls).toEqual([{ deadline }, { forceRefresh: true, deadline }]);
    } finally {
      await ep.close();
    }
  });

  describe('db-bootstrap connecting as the master user', () => {
    const MASTER_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:master-AbCdEf';
    const APP_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app-GhIjKl';
    const create = {
      RequestType: 'Create',
      ServiceToken: 'x',
      ResponseURL: 'https://example.invalid/response',
      StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/S/1',
      RequestId: 'r',
      LogicalResourceId: 'AppRole',
      ResourceType: 'Custom::AppRole',
      ResourceProperties: { ServiceToken: 'x', MasterSecretArn: MASTER_ARN, AppSecretArn: APP_ARN, DatabaseName: 'appdb' },
    } as CloudFormationCustomResourceEvent;
    const secrets = (master: Record<string, unknown>) => async (arn: string) =>
      arn === MASTER_ARN ? { host: 'localhost', username: 'cluster_admin', password: 'master-Passw0rd', ...master } : { username: 'app_rw', password: 'app-Passw0rd' };

    async function bootstrap(refuse: { code: string; message: string }, attempts: number, ca: string | undefined) {
      const ep = await new RefusingEndpoint(cert, () => refuse).start();
      const saved = process.env.DB_TLS_CA_FILE;
      if (ca) process.env.DB_TLS_CA_FILE = ca;
      else delete process.env.DB_TLS_CA_FILE;
      try {
        const { result: err, lines } = await captureLogs(() => onEvent(create, { fetchSecret: secrets({ port: ep.port }), connectAttempts: attempts }).catch((e: Error) => e));
        return { err: err as Error, ep, retries: lines.filter((l) => l.message === 'connect failed; retrying') };
      } finally {
        if (saved === undefined) delete process.env.DB_TLS_CA_FILE;
        else process.env.DB_TLS_CA_FILE = saved;
        await ep.close();
      }
    }

    test('a refused master login is not retried; the master secret\'s user and password are what was sent', async () => {
      const { err, ep, retries } = await bootstrap({ code: '28P01', message: 'password authentication failed for user "cluster_admin"' }, 5, caFile);
      expect(err.message).toBe(`db-bootstrap: cannot connect to localhost:${ep.port}/appdb as the master user: password authentication failed for user "cluster_admin"`);
      expect(err.cause).toMatchObject({ code: '28P01' });
      expect(ep.logins).toEqual([{ user: 'cluster_admin', database: 'appdb', password: 'master-Passw0rd' }]);
      expect(retries).toEqual([]);
    });

    test('a refusal that may pass (53300) is retried up to connectAttempts, each retry logged with its attempt number', async () => {
      const { err, ep, retries } = await bootstrap({ code: '53300', message: 'too many connections' }, 3, caFile);
      expect(err.message).toBe(`db-bootstrap: cannot connect to localhost:${ep.port}/appdb as the master user: too many connections`);
      expect(ep.logins).toHaveLength(3);
      expect(retries.map((l) => [l.level, l.attempt, l.error])).toEqual([
        ['WARN', 1, 'too many connections'],
        ['WARN', 2, 'too many connections'],
      ]);
    }, 30_000);

    test('a certificate the function does not trust is not retried', async () => {
      const { err, ep } = await bootstrap({ code: '28P01', message: 'unused' }, 5, undefined);
      expect(err.message).toMatch(new RegExp(`^db-bootstrap: cannot connect to localhost:${ep.port}/appdb as the master user: .*certificate`));
      expect(ep.logins).toEqual([]);
    });

    test('connectTimeoutMs bounds each attempt; the port defaults to 5432', async () => {
      const silent = await silentEndpoint();
      try {
        const t0 = Date.now();
        const err = await onEvent(create, { fetchSecret: secrets({ host: '127.0.0.1', port: silent.port }), connectAttempts: 1, connectTimeoutMs: 300 }).then(() => new Error('connected'), (e: Error) => e);
        expect(err.message).toBe(`db-bootstrap: cannot connect to 127.0.0.1:${silent.port}/appdb as the master user: timeout expired`);
        expect(Date.now() - t0).toBeLessThan(8_000);
      } finally {
        await silent.close();
      }
      const noPort = await onEvent(create, { fetchSecret: secrets({ host: '127.0.0.1' }), connectAttempts: 1, connectTimeoutMs: 500 }).then(() => new Error('connected'), (e: Error) => e);
      expect(noPort.message).toMatch(/^db-bootstrap: cannot connect to 127\.0\.0\.1:5432\/appdb as the master user: /);
    });
  });
});
