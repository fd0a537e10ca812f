/**
 * The query function's plain modules, to the letter of what an operator or caller reads: every environment
 * variable's range and message (config.ts), every refusal of the allowlist (queries.ts), the SQLSTATE and echo
 * rules (errors.ts), the credential caches' edges (credentials.ts) and the custom resource's input checks
 * (db-bootstrap.ts, bootstrap.ts) — the cases the handler tests against PostgreSQL do not reach.
 * No database, no network: everything here is decided before a connection is opened.
 */
import { loadConfig } from '../../lambda/rds-proxy-query/config';
import { IamTokenCredentials, IAM_TOKEN_LIFETIME_MS, SecretCredentials, withTimeout } from '../../lambda/rds-proxy-query/credentials';
import {
  AuthenticationError,
  BadRequestError,
  ConfigurationError,
  DatabaseUnavailableError,
  echo,
  isAuthFailure,
  QueryFailedError,
  QueryTimeoutError,
  sqlState,
} from '../../lambda/rds-proxy-query/errors';
import { QUERIES, resolveQuery } from '../../lambda/rds-proxy-query/queries';
import { parseSecretJson } from '../../lambda/rds-proxy-query/secret-json';
import { ensureAppRole, passwordLiteral } from '../../lambda/rds-proxy-query/bootstrap';
import { isRetryableConnectError, onEvent } from '../../lambda/rds-proxy-query/db-bootstrap';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import type { ClientBase } from 'pg';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

const ENV = { DB_HOST: 'proxy.example', DB_NAME: 'appdb', DB_USER: 'app', AWS_REGION: 'eu-west-1' };

function configError(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigurationError);
    expect((e as Error).name).toBe('ConfigurationError');
    return (e as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('loadConfig: each variable, its range and its message', () => {
  test('the message names the function, every problem in order, and the fix', () => {
    expect(configError({})).toBe(
      'rds-proxy-query function is misconfigured: DB_HOST is required; DB_NAME is required; DB_USER is required; ' +
        'AWS_REGION is required to sign IAM database tokens (Lambda sets it). Fix the function\'s environment variables.',
    );
  });

  test('blank or whitespace-only required variables count as missing; values are trimmed', () => {
    expect(configError({ ...ENV, DB_HOST: '   ', DB_NAME: '' })).toContain('DB_HOST is required; DB_NAME is required. Fix');
    const c = loadConfig({ ...ENV, DB_HOST: ' proxy.example ', DB_NAME: ' appdb\t', DB_USER: ' app ', AWS_REGION: ' eu-west-1 ' });
    expect([c.host, c.database, c.user, c.region]).toEqual(['proxy.example', 'appdb', 'app', 'eu-west-1']);
  });

  test.each<[string, string, number, number, number]>([
    ['DB_PORT', 'port', 5432, 1, 65535],
    ['SECRET_CACHE_TTL_SECONDS', 'secretCacheTtlSeconds', 300, 0, 86_400],
    ['CONNECT_TIMEOUT_MS', 'connectTimeoutMs', 5000, 100, 900_000],
    ['QUERY_TIMEOUT_MS', 'queryTimeoutMs', 10_000, 100, 900_000],
    ['SECRET_TIMEOUT_MS', 'secretTimeoutMs', 3000, 100, 900_000],
  ])('%s: default, both ends accepted, one past each end and non-integers refused with the range', (name, key, def, min, max) => {
    const read = (v: string | undefined) => (loadConfig({ ...ENV, [name]: v }) as unknown as Record<string, number>)[key];
    expect(read(undefined)).toBe(def);
    expect(read('')).toBe(def);
    expect(read('  ')).toBe(def);
    expect(read(String(min))).toBe(min);
    expect(read(String(max))).toBe(max);
    expect(read(` ${min + 1} `)).toBe(min + 1);
    for (const bad of [String(min - 1), String(max + 1), `${min}.5`, 'ten', '1e400']) {
      expect(configError({ ...ENV, [name]: bad })).toContain(`${name} must be an integer from ${min} to ${max}, got "${bad}"`);
    }
  });

  test('BORROW_TIMEOUT_MS is optional (not named unless set) and, when set, 1000..3600000 ms', () => {
    expect(loadConfig(ENV).borrowTimeoutMs).toBeUndefined();
    expect(loadConfig({ ...ENV, BORROW_TIMEOUT_MS: ' ' }).borrowTimeoutMs).toBeUndefined();
    expect(loadConfig({ ...ENV, BORROW_TIMEOUT_MS: '1000' }).borrowTimeoutMs).toBe(1000);
    expect(loadConfig({ ...ENV, BORROW_TIMEOUT_MS: '3600000' }).borrowTimeoutMs).toBe(3_600_000);
    expect(configError({ ...ENV, BORROW_TIMEOUT_MS: '999' })).toContain('BORROW_TIMEOUT_MS must be an integer from 1000 to 3600000, got "999"');
    expect(configError({ ...ENV, BORROW_TIMEOUT_MS: '3600001' })).toContain('BORROW_TIMEOUT_MS must be an integer from 1000 to 3600000');
  });

  test('CREDENTIAL_MODE: iam by default (also when blank), case and spaces ignored, anything else refused with the raw value', () => {
    expect(loadConfig(ENV).credentialMode).toBe('iam');
    expect(loadConfig({ ...ENV, CREDENTIAL_MODE: '  ' }).credentialMode).toBe('iam');
    expect(loadConfig({ ...ENV, CREDENTIAL_MODE: ' IAM ' }).credentialMode).toBe('iam');
    expect(loadConfig({ ...ENV, CREDENTIAL_MODE: ' Secret ', SECRET_ARN: 'arn:s' }).credentialMode).toBe('secret');
    expect(configError({ ...ENV, CREDENTIAL_MODE: 'password' })).toContain('CREDENTIAL_MODE must be "iam" or "secret", got "password"');
  });

  test('secret mode needs SECRET_ARN (blank counts as missing) but no region; iam mode needs a region, AWS_DEFAULT_REGION will do', () => {
    const secret = { DB_HOST: 'h', DB_NAME: 'd', DB_USER: 'u', CREDENTIAL_MODE: 'secret' };
    expect(configError({ ...secret, SECRET_ARN: '  ' })).toBe(
      'rds-proxy-query function is misconfigured: SECRET_ARN is required when CREDENTIAL_MODE is "secret". Fix the function\'s environment variables.',
    );
    const c = loadConfig({ ...secret, SECRET_ARN: ' arn:aws:secretsmanager:eu-west-1:1:secret:app ' });
    expect([c.secretArn, c.region]).toEqual(['arn:aws:secretsmanager:eu-west-1:1:secret:app', undefined]);
    expect(loadConfig({ ...ENV, SECRET_ARN: ' ' }).secretArn).toBeUndefined();
    const { AWS_REGION: _r, ...noRegion } = ENV;
    expect(loadConfig({ ...noRegion, AWS_DEFAULT_REGION: ' ap-south-1 ' }).region).toBe('ap-south-1');
    expect(loadConfig({ ...noRegion, AWS_REGION: ' ', AWS_DEFAULT_REGION: 'ap-south-1' }).region).toBe('ap-south-1');
    expect(configError({ ...noRegion, AWS_REGION: ' ', AWS_DEFAULT_REGION: ' ' })).toContain('AWS_REGION is required to sign IAM database tokens');
  });

  test('DB_TLS_CA_FILE is trimmed; blank means none', () => {
    expect(loadConfig({ ...ENV, DB_TLS_CA_FILE: ' /opt/ca.pem ' }).tlsCaFile).toBe('/opt/ca.pem');
    expect(loadConfig({ ...ENV, DB_TLS_CA_FILE: ' ' }).tlsCaFile).toBeUndefined();
  });
});

function badRequest(event: unknown): string {
  try {
    resolveQuery(event);
  } catch (e) {
    expect(e).toBeInstanceOf(BadRequestError);
    expect((e as Error).name).toBe('BadRequestError');
    return (e as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(event)}`);
}

describe('resolveQuery: what a caller is told', () => {
  test('a non-object event names the expected shape and every allowed query', () => {
    const msg = 'event must be an object like {"query":"health"}; allowed queries: health, serverTime, whoami, tables';
    for (const e of [undefined, null, 0, 'health', true, [], [{ query: 'health' }]]) expect(badRequest(e)).toBe(msg);
  });

  test('extra event fields are named; query and params are the only ones allowed', () => {
    expect(badRequest({ query: 'health', sql: 'drop table x', limit: 1 })).toBe('unexpected event fields: "sql, limit" (allowed: query, params)');
    expect(badRequest({ query: 'nope' })).toBe('unknown query "nope"; allowed queries: health, serverTime, whoami, tables');
    expect(badRequest({})).toBe('unknown query undefined; allowed queries: health, serverTime, whoami, tables');
    expect(badRequest({ query: 7 })).toBe('unknown query 7; allowed queries: health, serverTime, whoami, tables');
  });

  test('params must be a plain object; absent or null params mean none', () => {
    expect(resolveQuery({ query: 'health', params: null }).values).toEqual([]);
    expect(badRequest({ query: 'health', params: 0 })).toBe('params must be an object, got 0');
    expect(badRequest({ query: 'health', params: [1] })).toBe('params must be an object, got [1]');
    expect(badRequest({ query: 'health', params: 'x' })).toBe('params must be an object, got "x"');
    expect(resolveQuery({ query: 'health', params: {} })).toEqual({ name: 'health', sql: QUERIES.health.sql, values: [] });
  });

  test.each(['health', 'serverTime', 'whoami'])('%s takes no params and names the ones it got', (query) => {
    expect(resolveQuery({ query })).toEqual({ name: query, sql: QUERIES[query].sql, values: [] });
    expect(badRequest({ query, params: { a: 1, b: 2 } })).toBe(`query "${query}" takes no params, got: "a, b"`);
  });

  test('tables: schema is an unquoted identifier of 1..63 characters, limit an integer 1..1000; all problems at once', () => {
    const ok = (params: Record<string, unknown>) => resolveQuery({ query: 'tables', params }).values;
    expect(ok({})).toEqual(['public', 100]);
    expect(ok({ schema: '_a$1', limit: 1 })).toEqual(['_a$1', 1]);
    expect(ok({ schema: 'S'.repeat(63), limit: 1000 })).toEqual(['S'.repeat(63), 1000]);
    expect(ok({ schema: 'z9' })).toEqual(['z9', 100]);
    const schemaMsg = (got: string) => `params.schema must be an identifier matching /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/ (e.g. "app"), got ${got}`;
    expect(badRequest({ query: 'tables', params: { schema: 's'.repeat(64) } })).toBe(`query "tables": ${schemaMsg(echo('s'.repeat(64)))}`);
    for (const schema of ['', '1abc', '$x', 'a-b', 'a b', 'ab\n', '\nab', 'é']) {
      expect(badRequest({ query: 'tables', params: { schema } })).toBe(`query "tables": ${schemaMsg(JSON.stringify(schema))}`);
    }
    expect(ok({ schema: null, limit: null })).toEqual(['public', 100]);
    expect(badRequest({ query: 'tables', params: { schema: false } })).toBe(`query "tables": ${schemaMsg('false')}`);
    for (const limit of [0, 1001, -1, 2.5, '10', false]) {
      expect(badRequest({ query: 'tables', params: { limit } })).toBe(`query "tables": params.limit must be an integer from 1 to 1000, got ${JSON.stringify(limit)}`);
    }
    expect(badRequest({ query: 'tables', params: { where: '1=1', order: 'x', schema: 7, limit: 0 } })).toBe(
      'query "tables": unknown params: "where, order" (allowed: schema, limit); ' +
        `${schemaMsg('7')}; params.limit must be an integer from 1 to 1000, got 0`,
    );
  });
});

describe('errors: SQLSTATE, auth failures, bounded echo', () => {
  test('sqlState accepts exactly five digits/capitals in a string `code`', () => {
    expect(sqlState({ code: '57P01' })).toBe('57P01');
    expect(sqlState(Object.assign(new Error('x'), { code: '08006' }))).toBe('08006');
    for (const code of ['57p01', '5701', '57P011', 'x57P01', 'ECONNRESET', 28000, undefined]) expect(sqlState({ code })).toBeUndefined();
    expect(sqlState(undefined)).toBeUndefined();
    expect(sqlState(null)).toBeUndefined();
  });

  test('auth failures: only 28P01 and 28000', () => {
    expect([isAuthFailure({ code: '28P01' }), isAuthFailure({ code: '28000' })]).toEqual([true, true]);
    for (const code of ['28P02', '42501', '3D000', undefined]) expect(isAuthFailure({ code })).toBe(false);
    expect(isAuthFailure(undefined)).toBe(false);
  });

  test('echo: JSON up to the bound unchanged, one past it cut with the original length; any value renders', () => {
    expect(echo('x'.repeat(78))).toBe(JSON.stringify('x'.repeat(78))); // 80 characters with the quotes
    expect(echo('x'.repeat(79))).toBe(`"${'x'.repeat(79)}… (81 characters)`);
    expect(echo('abcdef', 4)).toBe('"abc… (8 characters)');
    expect(echo({ a: [1] })).toBe('{"a":[1]}');
    expect(echo(undefined)).toBe('undefined');
    expect(echo(() => 1)).toBe('() => 1');
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(echo(circular)).toBe('[object Object]');
    expect(echo(10n)).toBe('10');
    // a surrogate pair straddling the cut is dropped whole; one that ends at the cut is kept whole
    expect(echo('ab😀cd', 4)).toBe('"ab… (8 characters)');
    expect(echo('a😀bc', 4)).toBe('"a😀… (7 characters)');
  });

  test('each error carries its errorType name, its code and its cause', () => {
    const cause = new Error('root');
    const cases: Array<[Error, string]> = [
      [new BadRequestError('m'), 'BadRequestError'],
      [new ConfigurationError('m'), 'ConfigurationError'],
      [new DatabaseUnavailableError('m', { cause, code: '53300' }), 'DatabaseUnavailableError'],
      [new AuthenticationError('m', { cause }), 'AuthenticationError'],
      [new QueryTimeoutError('m', { cause }), 'QueryTimeoutError'],
      [new QueryFailedError('m', '22012', { cause }), 'QueryFailedError'],
    ];
    for (const [e, name] of cases) expect([e.name, e.message, e instanceof Error]).toEqual([name, 'm', true]);
    expect((cases[2][0] as DatabaseUnavailableError).code).toBe('53300');
    expect((cases[5][0] as QueryFailedError).code).toBe('22012');
    expect(cases.slice(2).map(([e]) => e.cause)).toEqual([cause, cause, cause, cause]);
    expect(new DatabaseUnavailableError('m').code).toBeUndefined();
  });
});

describe('IAM token cache edges', () => {
  test('a token is reused strictly before lifetime minus margin (custom margin), re-signed at that instant', async () => {
    let now = 5_000;
    let n = 0;
    const creds = new IamTokenCredentials({ user: 'app', signer: { getAuthToken: async () => `t${++n}` }, now: () => now, refreshBeforeExpiryMs: 60_000 });
    expect(await creds.get()).toEqual({ user: 'app', password: 't1' });
    now = 5_000 + IAM_TOKEN_LIFETIME_MS - 60_000 - 1;
    expect((await creds.get({ forceRefresh: false })).password).toBe('t1');
    now += 1;
    expect((await creds.get()).password).toBe('t2');
    expect(IAM_TOKEN_LIFETIME_MS).toBe(900_000);
  });

  test('margins 0 and lifetime-1 ms are allowed; -1 and the lifetime are refused with the range', () => {
    const signer = { getAuthToken: async () => 't' };
    expect(() => new IamTokenCredentials({ user: 'app', signer, refreshBeforeExpiryMs: 0 })).not.toThrow();
    expect(() => new IamTokenCredentials({ user: 'app', signer, refreshBeforeExpiryMs: 899_999 })).not.toThrow();
    for (const m of [-1, 900_000]) {
      expect(() => new IamTokenCredentials({ user: 'app', signer, refreshBeforeExpiryMs: m })).toThrow(
        new ConfigurationError(`refreshBeforeExpiryMs must be from 0 to 899999 ms, got ${m}`),
      );
    }
  });

  test('a zero margin reuses the token up to 1 ms before the 15 minutes end', async () => {
    let now = 0;
    let n = 0;
    const creds = new IamTokenCredentials({ user: 'app', signer: { getAuthToken: async () => `t${++n}` }, now: () => now, refreshBeforeExpiryMs: 0 });
    await creds.get();
    now = IAM_TOKEN_LIFETIME_MS - 1;
    expect((await creds.get()).password).toBe('t1');
    now = IAM_TOKEN_LIFETIME_MS;
    expect((await creds.get()).password).toBe('t2');
  });

  test('a signing failure names the user, the signer\'s reason and the permission, keeps the cause, and caches nothing', async () => {
    const cause = new Error('Could not load credentials from any providers');
    let fail = true;
    const creds = new IamTokenCredentials({ user: 'app_user', signer: { getAuthToken: async () => (fail ? Promise.reject(cause) : 'tok') } });
    const err = await creds.get().catch((e) => e);
    expect(err).toBeInstanceOf(DatabaseUnavailableError);
    expect(err.message).toBe(
      'could not sign an IAM database auth token for user "app_user": Could not load credentials from any providers. Check that the function role has credentials and rds-db:connect on the proxy.',
    );
    expect(err.cause).toBe(cause);
    fail = false;
    expect(await creds.get()).toEqual({ user: 'app_user', password: 'tok' });
  });
});

describe('secret credentials edges', () => {
  const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf';
  const logger = () => ({ warn: jest.fn() });

  test('a username in the secret that differs from DB_USER is warned about once; DB_USER is what connects', async () => {
    const log = logger();
    const creds = new SecretCredentials({ user: 'app', secretArn: ARN, fetch: async () => JSON.stringify({ username: 'other', password: 'pw' }), logger: log as never });
    expect(await creds.get()).toEqual({ user: 'app', password: 'pw' });
    expect(await creds.get()).toEqual({ user: 'app', password: 'pw' });
    expect(log.warn.mock.calls).toEqual([['secret username differs from DB_USER; connecting as DB_USER', { secretUser: 'other', dbUser: 'app' }]]);
    const same = logger();
    await new SecretCredentials({ user: 'app', secretArn: ARN, fetch: async () => ({ username: 'app', password: 'pw' }), logger: same as never }).get();
    await new SecretCredentials({ user: 'app', secretArn: ARN, fetch: async () => ({ username: 7, password: 'pw' }), logger: same as never }).get();
    expect(same.warn).not.toHaveBeenCalled();
  });

  test('forceFetch is false unless a refresh is forced', async () => {
    const seen: boolean[] = [];
    const creds = new SecretCredentials({ user: 'app', secretArn: ARN, fetch: async ({ forceFetch }) => (seen.push(forceFetch), { password: 'pw' }) });
    await creds.get();
    await creds.get({});
    await creds.get({ forceRefresh: false });
    await creds.get({ forceRefresh: true });
    expect(seen).toEqual([false, false, false, true]);
  });

  test.each<[string, unknown]>([
    ['not JSON', 'hunter2-not-json'],
    ['JSON null', 'null'],
    ['a JSON string', '"pw"'],
    ['an empty password', { password: '' }],
    ['a numeric password', { password: 12345 }],
    ['no password', { username: 'app' }],
    ['undefined', undefined],
  ])('a secret that is %s is a ConfigurationError naming the secret, quoting none of it', async (_n, value) => {
    const err = await new SecretCredentials({ user: 'app', secretArn: ARN, fetch: async () => value }).get().catch((e) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(err.message).toBe(`secret ${ARN} is not a JSON object with a non-empty "password" string`);
  });

  test('a fetch failure names the secret, the reason and the permissions, keeping the cause; a typed one passes through', async () => {
    const cause = new Error('AccessDeniedException: not authorized');
    const err = await new SecretCredentials({ user: 'app', secretArn: ARN, fetch: async () => Promise.reject(cause) }).get().catch((e) => e);
    expect(err).toBeInstanceOf(DatabaseUnavailableError);
    expect(err.message).toBe(
      `could not read secret ${ARN}: AccessDeniedException: not authorized. Check secretsmanager:GetSecretValue (and kms:Decrypt) on the function role and the Secrets Manager VPC endpoint.`,
    );
    expect(err.cause).toBe(cause);
    const typed = new DatabaseUnavailableError('already typed');
    await expect(new SecretCredentials({ user: 'app', secretArn: ARN, fetch: async () => Promise.reject(typed) }).get()).rejects.toBe(typed);
  });

  test('the timeout message says SECRET_TIMEOUT_MS, and whether the invocation deadline cut it', async () => {
    const never = () => new Promise<never>(() => undefined);
    const t0 = Date.now();
    const plain = await new SecretCredentials({ user: 'app', secretArn: ARN, fetch: never, timeoutMs: 120 }).get().catch((e) => e);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    expect(plain).toBeInstanceOf(DatabaseUnavailableError);
    expect(plain.message).toBe(
      `Secrets Manager did not answer within 120 ms (SECRET_TIMEOUT_MS=120) reading secret ${ARN}. ` +
        'Check the route to Secrets Manager: its interface endpoint (security group admits this function on 443, private DNS on) or the NAT path.',
    );
    const cut = await new SecretCredentials({ user: 'app', secretArn: ARN, fetch: never, timeoutMs: 60_000 }).get({ deadline: Date.now() + 150 }).catch((e) => e);
    expect(cut.message).toMatch(new RegExp(`^Secrets Manager did not answer within 1[0-5]\\d ms \\(SECRET_TIMEOUT_MS=60000, cut to what is left of the invocation\\) reading secret ${ARN}\\. `));
    // a deadline later than the limit does not stretch it
    const t1 = Date.now();
    const long = await new SecretCredentials({ user: 'app', secretArn: ARN, fetch: never, timeoutMs: 100 }).get({ deadline: Date.now() + 60_000 }).catch((e) => e);
    expect(long.message).toContain('within 100 ms (SECRET_TIMEOUT_MS=100) reading');
    expect(Date.now() - t1).toBeLessThan(5_000);
  });

  test('without timeoutMs the limit is 3 s', async () => {
    const err = await new SecretCredentials({ user: 'app', secretArn: ARN, fetch: () => new Promise(() => undefined) })
      .get({ deadline: Date.now() + 100 })
      .catch((e) => e);
    expect(err.message).toContain('(SECRET_TIMEOUT_MS=3000, cut to what is left of the invocation)');
  });

  test('withTimeout: the value when in time, the timeout error when late, a negative budget fails at once', async () => {
    await expect(withTimeout(Promise.resolve(42), 1_000, () => new Error('late'))).resolves.toBe(42);
    await expect(withTimeout(new Promise(() => undefined), 10, () => new Error('late'))).rejects.toThrow('late');
    const t0 = Date.now();
    await expect(withTimeout(new Promise(() => undefined), -5_000, () => new Error('no time'))).rejects.toThrow('no time');
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  test('parseSecretJson: objects pass, JSON strings parse, other strings give undefined', () => {
    const o = { password: 'x' };
    expect(parseSecretJson(o)).toBe(o);
    expect(parseSecretJson('{"password":"x"}')).toEqual(o);
    expect(parseSecretJson('{password: x}')).toBeUndefined();
  });
});

describe('db-bootstrap input checks (before any connection)', () => {
  const MASTER_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:master-AbCdEf';
  const APP_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app-GhIjKl';

  function ev(type: 'Create' | 'Update' | 'Delete', props: Record<string, unknown>): CloudFormationCustomResourceEvent {
    const base = {
      ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider',
      ResponseURL: 'https://example.invalid/response',
      StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/S/1',
      RequestId: 'r',
      LogicalResourceId: 'AppRole',
      ResourceType: 'Custom::AppRole',
      ResourceProperties: { ServiceToken: 'x', ...props },
    };
    if (type === 'Create') return { ...base, RequestType: 'Create' } as CloudFormationCustomResourceEvent;
    if (type === 'Update') return { ...base, RequestType: 'Update', PhysicalResourceId: 'appdb/app', OldResourceProperties: base.ResourceProperties } as CloudFormationCustomResourceEvent;
    return { ...base, RequestType: 'Delete', PhysicalResourceId: 'appdb/app' } as CloudFormationCustomResourceEvent;
  }

  const okProps = { MasterSecretArn: MASTER_ARN, AppSecretArn: APP_ARN, DatabaseName: 'appdb' };

  test('Delete returns the physical id it was given and reads nothing, even with no properties', async () => {
    const fetchSecret = jest.fn();
    await expect(onEvent(ev('Delete', {}), { fetchSecret })).resolves.toEqual({ PhysicalResourceId: 'appdb/app' });
    expect(fetchSecret).not.toHaveBeenCalled();
  });

  test('every missing or malformed property is named at once (blank counts as missing), before any secret is read', async () => {
    const fetchSecret = jest.fn();
    const err = await onEvent(ev('Update', { MasterSecretArn: ' ', AppSecretArn: 7, StatementTimeoutMs: '10s', IdleInTransactionTimeoutMs: '-1' }), { fetchSecret }).catch((e) => e);
    expect(err.message).toBe(
      'db-bootstrap: ResourceProperties.MasterSecretArn is required; ResourceProperties.AppSecretArn is required; ResourceProperties.DatabaseName is required; ' +
        'ResourceProperties.StatementTimeoutMs must be an integer number of milliseconds, got "10s"; ' +
        'ResourceProperties.IdleInTransactionTimeoutMs must be an integer number of milliseconds, got "-1"',
    );
    const long = await onEvent(ev('Create', { ...okProps, StatementTimeoutMs: `1${'x'.repeat(100)}` }), { fetchSecret }).catch((e) => e);
    expect(long.message).toBe(`db-bootstrap: ResourceProperties.StatementTimeoutMs must be an integer number of milliseconds, got "1${'x'.repeat(39)}"`);
    expect(fetchSecret).not.toHaveBeenCalled();
  });

  test('a master secret without host/username/password or with a bad port is refused naming its ARN; the app secret needs username and password', async () => {
    const master = { host: 'writer.example', port: 5432, username: 'admin', password: 'pw' };
    const run = (m: unknown, app: unknown) =>
      onEvent(ev('Create', okProps), { fetchSecret: async (arn) => (arn === MASTER_ARN ? m : app), connectAttempts: 1 }).catch((e: Error) => e.message);
    const masterMsg = `db-bootstrap: master secret ${MASTER_ARN} must be JSON with "host", "port", "username" and "password" (the RDS-generated cluster secret is)`;
    for (const m of [undefined, { ...master, host: 1 }, { ...master, username: undefined }, { ...master, password: null }, { ...master, port: 'x' }, { ...master, port: 54.5 }]) {
      expect(await run(m, { username: 'app', password: 'pw' })).toBe(masterMsg);
    }
    const appMsg = `db-bootstrap: app secret ${APP_ARN} must be JSON with non-empty "username" and "password"`;
    for (const app of [undefined, { username: 'app' }, { password: 'pw' }, { username: '', password: 'pw' }, { username: 'app', password: 7 }]) {
      expect(await run(master, app)).toBe(appMsg);
    }
  });

  test('retry classification by SQLSTATE, TLS error code and certificate wording', () => {
    const err = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});
    expect(isRetryableConnectError(err('x', '28000'))).toBe(false);
    for (const code of ['ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE']) {
      expect([code, isRetryableConnectError(err('handshake failed', code))]).toEqual([code, false]);
    }
    expect(isRetryableConnectError(err('handshake failed', 'XCERT_'))).toBe(true);
    for (const m of ['unable to get local issuer Certificate', 'self signed certificate', "Hostname/IP does not match certificate's altnames"]) {
      expect([m, isRetryableConnectError(err(m))]).toEqual([m, false]);
    }
    expect(isRetryableConnectError(err('the database system is starting up', '57P03'))).toBe(true);
    expect(isRetryableConnectError(undefined)).toBe(true);
  });
});

describe('ensureAppRole input checks (refused before the client is used)', () => {
  const unused = {
    query: () => {
      throw new Error('the client must not be used for refused input');
    },
  } as unknown as ClientBase;
  const spec = { roleName: 'app_rw', password: 'pw', databaseName: 'appdb', setPasswordIfExists: true };
  const refused = (over: Record<string, unknown>) => ensureAppRole(unused, { ...spec, ...over } as never).then(() => 'accepted', (e: Error) => e.message);

  test.each(['pg_monitor', 'PG_x', 'rdsadmin', 'rds_superuser', 'postgres', 'Postgres', 'public', 'none', 'current_user', 'session_user', 'current_role'])(
    'role name %s is reserved',
    async (roleName) => {
      expect(await refused({ roleName })).toBe(`cannot bootstrap the application role: role name "${roleName}" is reserved (pg_*, rds*, postgres, public)`);
    },
  );

  test('names: non-empty strings of at most 63 bytes without NUL, all problems at once; timeouts 0..2^31-1 integers', async () => {
    expect(await refused({ roleName: '', databaseName: 7, schemaName: 'a\0b', password: '' })).toBe(
      'cannot bootstrap the application role: role name must be a non-empty string; database name must be a non-empty string; ' +
        'schema name contains a NUL character; password must be a non-empty string',
    );
    const long = 'é'.repeat(32); // 32 characters, 64 bytes
    expect(await refused({ roleName: long })).toBe(`cannot bootstrap the application role: role name "${long}" is longer than 63 bytes`);
    expect(await refused({ statementTimeoutMs: -1, idleInTransactionTimeoutMs: 2_147_483_648 })).toBe(
      'cannot bootstrap the application role: statementTimeoutMs must be an integer number of milliseconds (0 = off), got -1; ' +
        'idleInTransactionTimeoutMs must be an integer number of milliseconds (0 = off), got 2147483648',
    );
    expect(await refused({ statementTimeoutMs: 1.5 })).toContain('statementTimeoutMs must be an integer number of milliseconds (0 = off), got 1.5');
  });

  test('names just inside the rules get past the checks (the client is then used)', async () => {
    for (const over of [
      { roleName: 'postgres_app' },
      { roleName: 'app_pg_x' },
      { roleName: 'my_rds' },
      { roleName: 'publicity' },
      { roleName: 'nonexistent' },
      { roleName: 'r'.repeat(63) },
      { statementTimeoutMs: 0, idleInTransactionTimeoutMs: 2_147_483_647 },
    ]) {
      expect([over, await refused(over)]).toEqual([over, 'the client must not be used for refused input']);
    }
  });

  test('passwordLiteral: printable ASCII becomes a SCRAM verifier, anything else an escaped literal', () => {
    expect(passwordLiteral('plain-Passw0rd ~')).toMatch(/^'SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}='$/);
    expect(passwordLiteral("pässwörd'")).toBe("'pässwörd'''");
    expect(passwordLiteral('tab\tpw')).toBe("'tab\tpw'");
  });
});
