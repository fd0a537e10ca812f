/**
 * db-bootstrap (the custom resource that creates the application role) against a real PostgreSQL
 * 17 over verified TLS. The "master user" here is, as on Aurora, NOT a superuser: a role with
 * CREATEROLE that owns the database — so the PostgreSQL 16+ rules for CREATEROLE users are real.
 *
 * Secrets are injected through `deps.fetchSecret` (the production default is Powertools
 * `getSecret`, exercised with its real cache in handler.test.ts); `npm test` must need Node only.
 */
import * as fs from 'fs';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { Client } from 'pg';
import { makeTestPki, startTlsPostgres, TestPki } from './handler-fixtures';
import { TestPostgres } from '../helpers/postgres';
import { ensureAppRole, scramSha256Verifier } from '../../lambda/rds-proxy-query/bootstrap';
import { isRetryableConnectError, onEvent } from '../../lambda/rds-proxy-query/db-bootstrap';
import { tlsOptions } from '../../lambda/rds-proxy-query/tls';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

const MASTER = { username: 'cluster_admin', password: 'master-Passw0rd-1' };
const APP = 'app_rw';
const MASTER_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:master-AbCdEf';
const APP_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app-GhIjKl';

let pki: TestPki;
let pg: TestPostgres;
let appSecret: { username: string; password: string };
let fetched: string[];

beforeAll(async () => {
  pki = makeTestPki();
  process.env.DB_TLS_CA_FILE = pki.caFile;
  pg = await startTlsPostgres(pki);
  await pg.query(`create role ${MASTER.username} login createrole password '${MASTER.password}'`);
  await pg.query(`create database appdb owner ${MASTER.username}`);
});

afterAll(async () => {
  delete process.env.DB_TLS_CA_FILE;
  await pg?.stop();
  if (pki) fs.rmSync(pki.dir, { recursive: true, force: true });
});

beforeEach(() => {
  fetched = [];
});

const fetchSecret = async (arn: string) => {
  fetched.push(arn);
  if (arn === MASTER_ARN) return { engine: 'postgres', host: 'localhost', port: pg.port, dbname: 'appdb', ...MASTER };
  if (arn === APP_ARN) return { ...appSecret };
  throw new Error(`ResourceNotFoundException: ${arn}`);
};

function event(type: 'Create' | 'Update' | 'Delete', props: Record<string, unknown> = {}, role = APP): CloudFormationCustomResourceEvent {
  const base = {
    ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider',
    ResponseURL: 'https://example.invalid/response',
    StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/DbOpsRdsProxyLambda/1',
    RequestId: 'req-1',
    LogicalResourceId: 'AppRole',
    ResourceType: 'Custom::AppRole',
    ResourceProperties: { ServiceToken: 'x', MasterSecretArn: MASTER_ARN, AppSecretArn: APP_ARN, DatabaseName: 'appdb', ...props },
  };
  if (type === 'Create') return { ...base, RequestType: 'Create' } as CloudFormationCustomResourceEvent;
  if (type === 'Update') return { ...base, RequestType: 'Update', PhysicalResourceId: `appdb/${role}`, OldResourceProperties: base.ResourceProperties } as CloudFormationCustomResourceEvent;
  return { ...base, RequestType: 'Delete', PhysicalResourceId: `appdb/${role}` } as CloudFormationCustomResourceEvent;
}

/** Logs in as `role` over verified TLS, like the proxy would. */
async function loginAs(role: string, password: string): Promise<Client> {
  const c = new Client({ host: 'localhost', port: pg.port, database: 'appdb', user: role, password, ssl: tlsOptions(pki.caFile) });
  await c.connect();
  return c;
}

async function loginAsMaster(): Promise<Client> {
  const c = new Client({ host: 'localhost', port: pg.port, database: 'appdb', user: MASTER.username, password: MASTER.password, ssl: tlsOptions(pki.caFile) });
  await c.connect();
  return c;
}

async function canLogin(role: string, password: string): Promise<boolean> {
  try {
    const c = await loginAs(role, password);
    await c.end();
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === '28P01') return false;
    throw e;
  }
}

/**
 * Each test owns its role and schema (so it runs alone: `npx jest <file> -t '<name>'`): a first Create for
 * `role` with schema `schema` and password `password`, as the first deploy would leave them.
 */
async function deployed(role: string, schema: string, password: string): Promise<void> {
  appSecret = { username: role, password };
  await onEvent(event('Create', { SchemaName: schema }, role), { fetchSecret });
  fetched = [];
}

describe('db-bootstrap onEvent', () => {
  test('Create makes a login role with the secret password, CONNECT, and schema app it owns; running it twice is harmless', async () => {
    appSecret = { username: APP, password: 'app-Passw0rd-first' };
    const r1 = await onEvent(event('Create'), { fetchSecret });
    expect(r1).toEqual({ PhysicalResourceId: `appdb/${APP}`, Data: { RoleName: APP, SchemaName: 'app', DatabaseName: 'appdb' } });
    expect(fetched).toEqual([MASTER_ARN, APP_ARN]);
    const r2 = await onEvent(event('Create'), { fetchSecret });
    expect(r2.PhysicalResourceId).toBe(r1.PhysicalResourceId);

    const c = await loginAs(APP, appSecret.password);
    try {
      await c.query('create table app.items (id int primary key, name text)');
      await c.query("insert into app.items values (1, 'kept')");
      expect((await c.query('select name from app.items')).rows).toEqual([{ name: 'kept' }]);
      const who = (await c.query("select current_user as u, (select nspowner::regrole::text from pg_namespace where nspname = 'app') as owner")).rows[0];
      expect(who).toEqual({ u: APP, owner: APP });
    } finally {
      await c.end();
    }
    const role = (await pg.query<{ rolcanlogin: boolean; rolsuper: boolean; rolcreaterole: boolean }>('select rolcanlogin, rolsuper, rolcreaterole from pg_roles where rolname = $1', [APP]))[0];
    expect(role).toEqual({ rolcanlogin: true, rolsuper: false, rolcreaterole: false });
    // The clear password was never stored or sent: the server holds a SCRAM verifier.
    const stored = await pg.query<{ rolpassword: string }>('select rolpassword from pg_authid where rolname = $1', [APP]);
    expect(stored[0].rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
  });

  test('Create on a role that already exists sets the secret\'s password (the secret is the source of truth for a new deployment)', async () => {
    const role = 'app_recreate';
    // Created by the master user (an earlier stack that was destroyed; its role was kept, as Delete keeps it).
    const m = await loginAsMaster();
    try {
      await m.query(`create role ${role} login password 'dba-chosen-Passw0rd'`);
    } finally {
      await m.end();
    }
    appSecret = { username: role, password: 'secret-Passw0rd-new' };
    await onEvent(event('Create', { SchemaName: 'recreate' }, role), { fetchSecret });
    expect(await canLogin(role, 'secret-Passw0rd-new')).toBe(true);
    expect(await canLogin(role, 'dba-chosen-Passw0rd')).toBe(false);
  });

  test('a role that someone else created (the master holds no ADMIN OPTION on it) is refused with what to run, and left as it was', async () => {
    const role = 'app_foreign';
    await pg.query(`create role ${role} login password 'dba-Passw0rd-1'`); // made by a superuser, not by the master
    appSecret = { username: role, password: 'secret-Passw0rd-2' };
    const err = await onEvent(event('Create', { SchemaName: 'foreign_s' }, role), { fetchSecret }).catch((e: Error) => e);
    expect((err as Error).message).toBe(
      `role "${role}" exists but the master user "${MASTER.username}" may not alter it (permission denied to alter role, SQLSTATE 42501): ` +
        'since PostgreSQL 16 a CREATEROLE user alters only roles it holds WITH ADMIN OPTION. ' +
        `Have a role that may run GRANT "${role}" TO "${MASTER.username}" WITH ADMIN OPTION, or name a new role in the app secret's "username".`,
    );
    expect(await canLogin(role, 'dba-Passw0rd-1')).toBe(true);
    expect(await pg.query('select 1 from pg_namespace where nspname = $1', ['foreign_s'], 'appdb')).toHaveLength(0);
  });

  test('Update re-applies grants but never resets the password (rotation may have changed it)', async () => {
    const role = 'app_update';
    await deployed(role, 'upd', 'app-Passw0rd-first');
    // A rotation changed the password in the database; the secret we read still shows the previous
    // value (e.g. an Update that runs between the rotation's setSecret and finishSecret steps).
    await pg.query(`alter role ${role} password 'rotated-Passw0rd-2'`);
    await pg.query(`revoke connect on database appdb from ${role}; revoke connect on database appdb from public; revoke usage, create on schema upd from ${role}`, [], 'appdb');
    await pg.query(`alter role ${role} nologin`);
    try {
      await onEvent(event('Update', { SchemaName: 'upd' }, role), { fetchSecret });

      expect(await canLogin(role, 'rotated-Passw0rd-2')).toBe(true);
      expect(await canLogin(role, 'app-Passw0rd-first')).toBe(false);
      const priv = await pg.query<{ connect: boolean; usage: boolean; create: boolean }>(
        "select has_database_privilege($1, 'appdb', 'CONNECT') as connect, has_schema_privilege($1, 'upd', 'USAGE') as usage, has_schema_privilege($1, 'upd', 'CREATE') as create",
        [role],
        'appdb',
      );
      expect(priv[0]).toEqual({ connect: true, usage: true, create: true });
    } finally {
      await pg.query('grant connect on database appdb to public');
    }
  });

  test('StatementTimeoutMs / IdleInTransactionTimeoutMs become the role defaults on Create and Update; a bad value is refused', async () => {
    const role = 'app_timeouts';
    appSecret = { username: role, password: 'app-Passw0rd-first' };
    const settings = async () =>
      (await pg.query<{ setconfig: string[] }>('select s.setconfig from pg_db_role_setting s join pg_roles r on r.oid = s.setrole where r.rolname = $1 and s.setdatabase = 0', [role]))[0]?.setconfig ?? [];
    await onEvent(event('Create', { SchemaName: 'tmo', StatementTimeoutMs: '4500', IdleInTransactionTimeoutMs: '4000' }, role), { fetchSecret });
    expect((await settings()).sort()).toEqual(['idle_in_transaction_session_timeout=4000', 'statement_timeout=4500']);
    await onEvent(event('Update', { SchemaName: 'tmo', StatementTimeoutMs: '2500', IdleInTransactionTimeoutMs: '2500' }, role), { fetchSecret });
    expect((await settings()).sort()).toEqual(['idle_in_transaction_session_timeout=2500', 'statement_timeout=2500']);
    // What a new session of the role gets from the server (no client SET).
    const c = await loginAs(role, appSecret.password);
    try {
      expect((await c.query('show statement_timeout')).rows[0].statement_timeout).toBe('2500ms');
    } finally {
      await c.end();
    }
    await expect(onEvent(event('Update', { SchemaName: 'tmo', StatementTimeoutMs: '5s; drop role x' }, role), { fetchSecret })).rejects.toThrow(
      /StatementTimeoutMs must be an integer number of milliseconds/,
    );
    expect((await settings()).sort()).toEqual(['idle_in_transaction_session_timeout=2500', 'statement_timeout=2500']);
    // Only the timeout that is given is set: an Update with one leaves the other as it is.
    await onEvent(event('Update', { SchemaName: 'tmo', StatementTimeoutMs: '1500' }, role), { fetchSecret });
    expect((await settings()).sort()).toEqual(['idle_in_transaction_session_timeout=2500', 'statement_timeout=1500']);
  });

  test('a DBA\'s per-database setting for the role (ALTER ROLE … IN DATABASE … SET statement_timeout = 0) does not silently cancel the configured timeouts', async () => {
    const role = 'app_perdb';
    await deployed(role, 'perdb', 'perdb-Passw0rd-2');
    // PostgreSQL applies role-and-database settings over role-wide ones, so a role-wide default alone loses.
    await pg.query(`alter role ${role} in database appdb set statement_timeout = 0`);
    await pg.query(`alter role ${role} in database appdb set idle_in_transaction_session_timeout = 0`);
    await onEvent(event('Update', { SchemaName: 'perdb', StatementTimeoutMs: '3500', IdleInTransactionTimeoutMs: '3000' }, role), { fetchSecret });
    const c = await loginAs(role, 'perdb-Passw0rd-2');
    try {
      expect((await c.query('show statement_timeout')).rows[0].statement_timeout).toBe('3500ms');
      expect((await c.query('show idle_in_transaction_session_timeout')).rows[0].idle_in_transaction_session_timeout).toBe('3s');
    } finally {
      await c.end();
    }
  });

  test('an existing role that cannot log in for other reasons (expired VALID UNTIL, CONNECTION LIMIT 0) is made usable by Update; a positive limit is kept', async () => {
    const role = 'app_locked';
    await deployed(role, 'locked', 'locked-Passw0rd-2');
    await pg.query(`alter role ${role} valid until '2000-01-01' connection limit 0`);
    expect(await canLogin(role, 'locked-Passw0rd-2').catch(() => false)).toBe(false);
    await onEvent(event('Update', { SchemaName: 'locked' }, role), { fetchSecret });
    expect(await canLogin(role, 'locked-Passw0rd-2')).toBe(true);
    const state = async () =>
      (await pg.query<{ rolconnlimit: number; until: string | null }>("select rolconnlimit, to_char(rolvaliduntil, 'YYYY') as until from pg_roles where rolname = $1", [role]))[0];
    expect(await state()).toEqual({ rolconnlimit: -1, until: null }); // 'infinity' formats as NULL year
    // A DBA's deliberate positive connection limit and a future expiry are theirs to keep.
    await pg.query(`alter role ${role} connection limit 50 valid until '2999-01-01'`);
    await onEvent(event('Update', { SchemaName: 'locked' }, role), { fetchSecret });
    expect(await state()).toEqual({ rolconnlimit: 50, until: '2999' });
  });

  test('Delete leaves the role, its schema and its data, and reads no secret', async () => {
    const role = 'app_delete';
    await deployed(role, 'del', 'delete-Passw0rd-1');
    const c = await loginAs(role, 'delete-Passw0rd-1');
    try {
      await c.query("create table del.items (id int primary key, name text); insert into del.items values (1, 'kept')");
    } finally {
      await c.end();
    }
    const r = await onEvent(event('Delete', {}, role), { fetchSecret });
    expect(r).toEqual({ PhysicalResourceId: `appdb/${role}` });
    expect(fetched).toEqual([]);
    expect(await pg.query('select 1 from pg_roles where rolname = $1', [role])).toHaveLength(1);
    expect(await pg.query('select name from del.items', [], 'appdb')).toEqual([{ name: 'kept' }]);
  });

  test('bad input fails with a message that names the problem, and changes nothing', async () => {
    const role = 'app_badinput';
    await deployed(role, 'bad', 'bad-Passw0rd-1');
    await expect(onEvent(event('Create', { MasterSecretArn: '', DatabaseName: undefined }), { fetchSecret })).rejects.toThrow(
      /ResourceProperties.MasterSecretArn is required; ResourceProperties.DatabaseName is required/,
    );
    appSecret = { username: MASTER.username, password: 'x' };
    await expect(onEvent(event('Create'), { fetchSecret })).rejects.toThrow(/must not be the master user/);
    appSecret = { username: role, password: '' };
    await expect(onEvent(event('Create', { SchemaName: 'bad' }, role), { fetchSecret })).rejects.toThrow(/non-empty "username" and "password"/);
    appSecret = { username: 'pg_monitor', password: 'x-Passw0rd' };
    await expect(onEvent(event('Create'), { fetchSecret })).rejects.toThrow(/reserved/);
    // A role that exists as a superuser is refused, and its password is left alone.
    await pg.query("create role app_super superuser login password 'super-Passw0rd-1'");
    appSecret = { username: 'app_super', password: 'other-Passw0rd' };
    await expect(onEvent(event('Create', { SchemaName: 'bad' }, 'app_super'), { fetchSecret })).rejects.toThrow(
      'role "app_super" exists and is a superuser; refusing to use it as the application role',
    );
    expect(await canLogin('app_super', 'super-Passw0rd-1')).toBe(true);
    // Nothing of the refused requests reached the deployed role.
    expect(await canLogin(role, 'bad-Passw0rd-1')).toBe(true);
  });

  test('an untrusted server certificate is rejected, and classed as not worth a retry', async () => {
    process.env.DB_TLS_CA_FILE = pki.otherCaFile;
    try {
      appSecret = { username: 'app_untrusted', password: 'whatever-Passw0rd' };
      const err = await onEvent(event('Create'), { fetchSecret, connectAttempts: 5 }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/cannot connect to localhost:\d+\/appdb as the master user: .*certificate/);
      expect(isRetryableConnectError((err as Error).cause)).toBe(false);
    } finally {
      process.env.DB_TLS_CA_FILE = pki.caFile;
    }
  });

  test('retry classification: network errors are retried; refused logins and TLS failures are not', () => {
    expect(isRetryableConnectError(Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isRetryableConnectError(Object.assign(new Error('getaddrinfo ENOTFOUND writer'), { code: 'ENOTFOUND' }))).toBe(true);
    expect(isRetryableConnectError(new Error('Connection terminated due to connection timeout'))).toBe(true);
    expect(isRetryableConnectError(Object.assign(new Error('password authentication failed'), { code: '28P01' }))).toBe(false);
    expect(isRetryableConnectError(Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }))).toBe(false);
  });
});

describe('ensureAppRole', () => {
  test('creates a role whose non-ASCII password works (sent for server-side hashing) and leaves an existing schema owner alone', async () => {
    await pg.query(`create schema shared authorization ${MASTER.username}`, [], 'appdb');
    const c = new Client({ host: 'localhost', port: pg.port, database: 'appdb', user: MASTER.username, password: MASTER.password, ssl: tlsOptions(pki.caFile) });
    await c.connect();
    try {
      const r = await ensureAppRole(c, { roleName: 'reporting', password: 'pässwörd-ü-1', databaseName: 'appdb', schemaName: 'shared', setPasswordIfExists: false });
      expect(r).toEqual({ roleCreated: true, passwordSet: true, schemaCreated: false, schemaName: 'shared' });
    } finally {
      await c.end();
    }
    const login = new Client({ host: 'localhost', port: pg.port, database: 'appdb', user: 'reporting', password: 'pässwörd-ü-1', ssl: tlsOptions(pki.caFile) });
    await login.connect();
    const owner = (await login.query("select nspowner::regrole::text as o, has_schema_privilege('shared', 'CREATE') as c from pg_namespace where nspname = 'shared'")).rows[0];
    await login.end();
    expect(owner).toEqual({ o: MASTER.username, c: true });
  });

  test('the SCRAM verifier has the format PostgreSQL stores', () => {
    const v = scramSha256Verifier('secret', 4096, Buffer.alloc(16, 1));
    expect(v).toMatch(/^SCRAM-SHA-256\$4096:AQEBAQEBAQEBAQEBAQEBAQ==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
  });
});
