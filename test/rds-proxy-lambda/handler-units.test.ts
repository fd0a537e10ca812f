/** Plain-module tests of the query function (no database): config, allowlist, credential caches, TLS options. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tls from 'tls';
import { loadConfig } from '../../lambda/rds-proxy-query/config';
import { createRdsSigner, IamTokenCredentials, SecretCredentials } from '../../lambda/rds-proxy-query/credentials';
import { BadRequestError, isAuthFailure } from '../../lambda/rds-proxy-query/errors';
import { QUERIES, resolveQuery } from '../../lambda/rds-proxy-query/queries';
import { tlsOptions } from '../../lambda/rds-proxy-query/tls';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

describe('loadConfig', () => {
  const env = { DB_HOST: 'proxy.example', DB_NAME: 'appdb', DB_USER: 'app', AWS_REGION: 'eu-west-1' };

  test('defaults: iam mode, port 5432, 5 s connect, 10 s query, 300 s secret cache, 3 s secret call', () => {
    expect(loadConfig(env)).toEqual({
      host: 'proxy.example', port: 5432, database: 'appdb', user: 'app', credentialMode: 'iam', secretArn: undefined,
      secretCacheTtlSeconds: 300, region: 'eu-west-1', connectTimeoutMs: 5000, queryTimeoutMs: 10000, secretTimeoutMs: 3000, borrowTimeoutMs: undefined, tlsCaFile: undefined,
    });
  });

  test('secret mode needs SECRET_ARN; every problem is reported at once', () => {
    expect(() => loadConfig({ ...env, CREDENTIAL_MODE: 'secret' })).toThrow('SECRET_ARN is required when CREDENTIAL_MODE is "secret"');
    expect(() => loadConfig({ CREDENTIAL_MODE: 'iam', DB_PORT: '70000', SECRET_CACHE_TTL_SECONDS: '-1' })).toThrow(
      /DB_HOST is required; DB_NAME is required; DB_USER is required; DB_PORT must be an integer from 1 to 65535, got "70000"; AWS_REGION is required.*SECRET_CACHE_TTL_SECONDS must be an integer/,
    );
  });
});

describe('query allowlist', () => {
  test('every allowlisted statement is a single read-only select with no session-state statements', () => {
    for (const [name, q] of Object.entries(QUERIES)) {
      expect([name, /^select\s/i.test(q.sql)]).toEqual([name, true]);
      expect(q.sql).not.toMatch(/;|\b(set|prepare|listen|create|insert|update|delete|pg_advisory|nextval|setval)\b/i);
    }
  });

  test('tables validates and binds its params; defaults apply', () => {
    expect(resolveQuery({ query: 'tables' }).values).toEqual(['public', 100]);
    expect(resolveQuery({ query: 'tables', params: { schema: 'app', limit: 5 } }).values).toEqual(['app', 5]);
    for (const params of [{ schema: 'a b' }, { schema: 7 }, { limit: 0 }, { limit: 1.5 }, { limit: '10' }, { other: 1 }]) {
      expect(() => resolveQuery({ query: 'tables', params })).toThrow(BadRequestError);
    }
  });

  test('no way to smuggle SQL or reach prototype keys', () => {
    for (const query of ['constructor', 'toString', '__proto__', 'health; drop table x']) {
      expect(() => resolveQuery({ query })).toThrow(/unknown query/);
    }
    expect(() => resolveQuery({ query: 'health', params: [] })).toThrow(/params must be an object/);
    expect(() => resolveQuery(null)).toThrow(BadRequestError);
  });
});

describe('IamTokenCredentials', () => {
  test('reuses a token for 12 of its 15 minutes, then signs a new one; forceRefresh always signs', async () => {
    let now = 1_000_000;
    let n = 0;
    const signer = { getAuthToken: jest.fn(async () => `token-${++n}`) };
    const creds = new IamTokenCredentials({ user: 'app', signer, now: () => now });
    expect(await creds.get()).toEqual({ user: 'app', password: 'token-1' });
    now += 12 * 60_000 - 1;
    expect((await creds.get()).password).toBe('token-1');
    now += 1;
    expect((await creds.get()).password).toBe('token-2');
    expect((await creds.get({ forceRefresh: true })).password).toBe('token-3');
    expect(signer.getAuthToken).toHaveBeenCalledTimes(3);
  });

  test('a signing failure is a clear DatabaseUnavailableError; a bad margin is refused', async () => {
    const creds = new IamTokenCredentials({ user: 'app', signer: { getAuthToken: async () => Promise.reject(new Error('Could not load credentials from any providers')) } });
    await expect(creds.get()).rejects.toMatchObject({ name: 'DatabaseUnavailableError', message: expect.stringContaining('rds-db:connect') });
    expect(() => new IamTokenCredentials({ user: 'app', signer: { getAuthToken: async () => 't' }, refreshBeforeExpiryMs: 15 * 60_000 })).toThrow(/refreshBeforeExpiryMs/);
  });

  test('the real @aws-sdk/rds-signer signs locally: a presigned connect URL for the proxy host and user', async () => {
    const signer = createRdsSigner({ hostname: 'proxy.example', port: 5432, user: 'app', region: 'eu-west-1' });
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' });
    try {
      const token = await signer.getAuthToken();
      expect(token).toMatch(/^proxy\.example:5432\/\?Action=connect&DBUser=app&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F\d{8}%2Feu-west-1%2Frds-db%2Faws4_request&X-Amz-Date=\d{8}T\d{6}Z&X-Amz-Expires=900&/);
    } finally {
      process.env = saved;
    }
  });
});

describe('SecretCredentials', () => {
  test('reads the password, passes forceFetch through, rejects malformed secrets', async () => {
    const fetch = jest.fn(async ({ forceFetch }: { forceFetch: boolean }) => ({ username: 'app', password: forceFetch ? 'fresh' : 'cached' }));
    const creds = new SecretCredentials({ user: 'app', secretArn: 'arn:s', fetch });
    expect(await creds.get()).toEqual({ user: 'app', password: 'cached' });
    expect(await creds.get({ forceRefresh: true })).toEqual({ user: 'app', password: 'fresh' });
    const bad = new SecretCredentials({ user: 'app', secretArn: 'arn:s', fetch: async () => 'not json' });
    await expect(bad.get()).rejects.toMatchObject({ name: 'ConfigurationError', message: expect.stringContaining('"password"') });
    const failing = new SecretCredentials({ user: 'app', secretArn: 'arn:s', fetch: async () => Promise.reject(new Error('AccessDeniedException')) });
    await expect(failing.get()).rejects.toMatchObject({ name: 'DatabaseUnavailableError', message: expect.stringContaining('secretsmanager:GetSecretValue') });
  });
});

describe('tlsOptions and errors', () => {
  test('always verifies; an extra CA file is added to the default roots, not substituted for them', () => {
    expect(tlsOptions()).toEqual({ rejectUnauthorized: true });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbops-tls-'));
    try {
      const file = path.join(dir, 'ca.pem');
      fs.writeFileSync(file, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
      const o = tlsOptions(file);
      expect(o.rejectUnauthorized).toBe(true);
      expect((o.ca as string[]).length).toBe(tls.rootCertificates.length + 1);
      fs.writeFileSync(file, 'garbage');
      expect(() => tlsOptions(file)).toThrow(/contains no PEM certificate/);
      expect(() => tlsOptions(path.join(dir, 'missing.pem'))).toThrow(/cannot be read/);
    } finally {
      // also when an assertion fails (every mutant this test kills): mutation runs left 15 of these in /tmp
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('auth failures are recognised by SQLSTATE only', () => {
    expect(isAuthFailure({ code: '28P01' })).toBe(true);
    expect(isAuthFailure({ code: '28000' })).toBe(true);
    expect(isAuthFailure({ code: '57P01' })).toBe(false);
    expect(isAuthFailure(new Error('password authentication failed'))).toBe(false);
  });
});
