/**
 * Secret mode against a Secrets Manager endpoint that misbehaves: a local HTTP listener on 127.0.0.1 stands in
 * for the service (the real Powertools/SDK client is pointed at it with AWS_ENDPOINT_URL_SECRETS_MANAGER), so the
 * SDK's own response parsing and the Powertools JSON transform are the real ones. No database is needed: every
 * case fails before a connection is opened (DB_PORT points at a closed port to prove it).
 *
 * moto cannot return a 500 or a malformed body on demand, and cannot hold a secret that is not what the
 * kit expects without also being the thing under test, hence the stand-in.
 */
import * as http from 'http';
import { AddressInfo } from 'net';
import { loadConfig } from '../../lambda/rds-proxy-query/config';
import { createQueryHandler, createQueryRuntime } from '../../lambda/rds-proxy-query/query-function';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app-user-AbCdEf';
/** A plaintext secret (someone pasted the bare password into the console): never JSON. */
const PLAINTEXT = 'Hunter2-Secret-Passw0rd-Do-Not-Leak';

type Reply = { status: number; body: string; contentType?: string };
let reply: Reply;
let requests = 0;
let server: http.Server;
let port: number;
const saved = { ...process.env };

beforeAll(async () => {
  server = http.createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => {
      res.writeHead(reply.status, { 'content-type': reply.contentType ?? 'application/x-amz-json-1.1' });
      res.end(reply.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${port}`,
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret-example',
    AWS_REGION: 'us-east-1',
  });
});

afterAll(async () => {
  for (const k of ['AWS_ENDPOINT_URL_SECRETS_MANAGER', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION']) delete process.env[k];
  Object.assign(process.env, saved);
  await new Promise<void>((r) => server.close(() => r()));
});

beforeEach(() => {
  requests = 0;
});

function handler() {
  return createQueryHandler(() =>
    createQueryRuntime(
      loadConfig({
        DB_HOST: '127.0.0.1',
        DB_PORT: '1',
        DB_NAME: 'appdb',
        DB_USER: 'app_user',
        CREDENTIAL_MODE: 'secret',
        SECRET_ARN,
        SECRET_TIMEOUT_MS: '2000',
        AWS_REGION: 'us-east-1',
      }),
    ),
  );
}

function secretValue(secretString: string): string {
  return JSON.stringify({ ARN: SECRET_ARN, Name: 'app-user', VersionId: 'v1', SecretString: secretString, VersionStages: ['AWSCURRENT'], CreatedDate: 1700000000 });
}

test('a secret that is not JSON fails with a typed error that quotes no part of the secret', async () => {
  reply = { status: 200, body: secretValue(PLAINTEXT) };
  const err = await handler()({ query: 'health' }).catch((e) => e);
  expect(requests).toBeGreaterThanOrEqual(1);
  expect(err.name).toMatch(/ConfigurationError|DatabaseUnavailableError/);
  expect(err.message).toMatch(/not a JSON object/);
  // Node's JSON.parse message quotes the first characters of its input ("Hunter2-Se"...); none may reach the caller.
  for (let i = 0; i + 6 <= PLAINTEXT.length; i++) expect(err.message).not.toContain(PLAINTEXT.slice(i, i + 6));
  expect(JSON.stringify(err)).not.toContain('Hunter2');
  let cause = err.cause;
  while (cause) {
    expect(String(cause.message)).not.toContain('Hunter2');
    cause = cause.cause;
  }
});

test('Secrets Manager answering 500 fails within the budget with a typed error naming the status', async () => {
  reply = { status: 500, body: JSON.stringify({ __type: 'InternalServiceError', message: 'We encountered an internal error.' }) };
  const t0 = Date.now();
  const err = await handler()({ query: 'health' }).catch((e) => e);
  expect(Date.now() - t0).toBeLessThan(2500);
  expect(err).toMatchObject({ name: 'DatabaseUnavailableError', message: expect.stringMatching(/could not read secret .*InternalServiceError|internal error/i) });
});

test('a malformed (non-JSON) response body fails with a typed error, not a crash or a hang', async () => {
  reply = { status: 200, body: '<html><body>proxy error</body></html>', contentType: 'text/html' };
  const t0 = Date.now();
  const err = await handler()({ query: 'health' }).catch((e) => e);
  expect(Date.now() - t0).toBeLessThan(2500);
  expect(err.name).toBe('DatabaseUnavailableError');
  expect(err.message).toMatch(/could not read secret/);
});
