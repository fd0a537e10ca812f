import * as crypto from 'crypto';
import { ClientBase, escapeIdentifier, escapeLiteral } from 'pg';
import { sqlState } from './errors';

/** What {@link ensureAppRole} makes sure exists. */
export interface AppRoleSpec {
  /** The application role (from the app secret's `username`). */
  readonly roleName: string;
  /** The app secret's current password; used only when the role is created or `setPasswordIfExists`. */
  readonly password: string;
  /** The database the role may connect to and where the schema lives (the client must be connected to it). */
  readonly databaseName: string;
  /** @default 'app' */
  readonly schemaName?: string;
  /**
   * Set the password of a role that already exists. True on CloudFormation Create (the secret is the
   * source of truth for a new deployment), false on Update: after a rotation the secret and the
   * database already agree, and an Update that ran between the rotation's setSecret and finishSecret
   * steps would put the previous password back and lock the proxy out.
   */
  readonly setPasswordIfExists: boolean;
  /**
   * The role's default `statement_timeout` in ms (`ALTER ROLE … SET`, applied by the server at every login,
   * so clients send no `SET` and RDS Proxy does not pin). Applied on Create and Update, role-wide and for
   * `databaseName` (which overrides any earlier per-database value). @default - left as is
   */
  readonly statementTimeoutMs?: number;
  /** The role's default `idle_in_transaction_session_timeout` in ms. @default - left as is */
  readonly idleInTransactionTimeoutMs?: number;
}

export interface AppRoleResult {
  readonly roleCreated: boolean;
  readonly passwordSet: boolean;
  readonly schemaCreated: boolean;
  readonly schemaName: string;
}

const RESERVED_ROLE = /^(pg_|rds|postgres$|public$|none$|current_user$|session_user$|current_role$)/i;

/** Names must be non-empty, at most 63 bytes (PostgreSQL's NAMEDATALEN-1) and free of NUL. */
function nameProblem(kind: string, name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return `${kind} must be a non-empty string`;
  if (Buffer.byteLength(name, 'utf8') > 63) return `${kind} "${name}" is longer than 63 bytes`;
  if (name.includes('\0')) return `${kind} contains a NUL character`;
  return undefined;
}

/**
 * Idempotently creates the application role with LOGIN, grants CONNECT on the database, creates
 * schema `app` owned by the role (or grants USAGE, CREATE on an existing one without taking it
 * from its owner), in one transaction on a client connected as the master user to `databaseName`.
 *
 * Identifiers go through pg's `escapeIdentifier`; DDL cannot take bind parameters. The password
 * is sent as a SCRAM-SHA-256 verifier computed here (as psql's \password does), so the clear
 * password never appears in a statement that `log_statement = 'ddl'` or pg_stat_statements would
 * record; a password outside printable ASCII (never produced by Secrets Manager's generator) is
 * sent as an escaped literal instead, because its SASLprep normalization is the server's job.
 *
 * IAM note: clients authenticate to RDS Proxy with IAM, and the proxy logs in to the database with
 * this role's secret, so the role needs no `rds_iam` membership.
 */
export async function ensureAppRole(client: ClientBase, spec: AppRoleSpec): Promise<AppRoleResult> {
  const schemaName = spec.schemaName ?? 'app';
  const problems = [nameProblem('role name', spec.roleName), nameProblem('database name', spec.databaseName), nameProblem('schema name', schemaName)].filter(
    (p): p is string => p !== undefined,
  );
  if (typeof spec.roleName === 'string' && RESERVED_ROLE.test(spec.roleName)) problems.push(`role name "${spec.roleName}" is reserved (pg_*, rds*, postgres, public)`);
  if (typeof spec.password !== 'string' || spec.password.length === 0) problems.push('password must be a non-empty string');
  for (const [k, v] of [['statementTimeoutMs', spec.statementTimeoutMs], ['idleInTransactionTimeoutMs', spec.idleInTransactionTimeoutMs]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 2_147_483_647)) problems.push(`${k} must be an integer number of milliseconds (0 = off), got ${v}`);
  }
  if (problems.length > 0) throw new Error(`cannot bootstrap the application role: ${problems.join('; ')}`);

  const role = escapeIdentifier(spec.roleName);
  const schema = escapeIdentifier(schemaName);
  await client.query('begin');
  try {
    const me = (await client.query<{ user: string; db: string; superuser: boolean; version: number }>(
      "select current_user as user, current_database() as db, (select rolsuper from pg_roles where rolname = current_user) as superuser, current_setting('server_version_num')::int as version",
    )).rows[0];
    if (me.db !== spec.databaseName) throw new Error(`connected to database "${me.db}", expected "${spec.databaseName}"`);
    if (me.user === spec.roleName) throw new Error(`the application role "${spec.roleName}" must not be the master user "${me.user}": use a separate app secret`);

    const existing = (
      await client.query<{ rolsuper: boolean; expired: boolean; connlimit: number }>(
        'select rolsuper, coalesce(rolvaliduntil <= now(), false) as expired, rolconnlimit as connlimit from pg_roles where rolname = $1',
        [spec.roleName],
      )
    ).rows[0];
    if (existing?.rolsuper) throw new Error(`role "${spec.roleName}" exists and is a superuser; refusing to use it as the application role`);
    let passwordSet = false;
    if (!existing) {
      await client.query(`create role ${role} with login password ${passwordLiteral(spec.password)}`);
      passwordSet = true;
    } else {
      await client.query(`alter role ${role} with login`).catch((e: unknown) => {
        throw notAdminError(e, spec.roleName, me.user);
      });
      // Like NOLOGIN, an expired password (VALID UNTIL in the past) or CONNECTION LIMIT 0 locks the proxy out;
      // a future expiry or a positive limit is a DBA's deliberate choice and is kept.
      // https://www.postgresql.org/docs/current/sql-createrole.html
      if (existing.expired) await client.query(`alter role ${role} valid until 'infinity'`);
      if (existing.connlimit === 0) await client.query(`alter role ${role} connection limit -1`);
      if (spec.setPasswordIfExists) {
        await client.query(`alter role ${role} with password ${passwordLiteral(spec.password)}`);
        passwordSet = true;
      }
    }
    await client.query(`grant connect on database ${escapeIdentifier(spec.databaseName)} to ${role}`);
    // Role defaults for every database, and for this database too: PostgreSQL applies a role-and-database
    // setting over a role-wide one, so an existing `ALTER ROLE … IN DATABASE … SET statement_timeout = 0`
    // (a DBA's, or an older deploy's) would otherwise silently cancel the configured timeout.
    // https://www.postgresql.org/docs/current/sql-alterrole.html (values are validated integers: no quoting issue)
    const db = escapeIdentifier(spec.databaseName);
    for (const [setting, ms] of [['statement_timeout', spec.statementTimeoutMs], ['idle_in_transaction_session_timeout', spec.idleInTransactionTimeoutMs]] as const) {
      if (ms === undefined) continue;
      await client.query(`alter role ${role} set ${setting} = ${ms}`);
      await client.query(`alter role ${role} in database ${db} set ${setting} = ${ms}`);
    }

    // CREATE SCHEMA ... AUTHORIZATION needs the master to be able to SET ROLE to the app role. On
    // Aurora the master is not a superuser; since PostgreSQL 16 creating a role gives its creator
    // only ADMIN OPTION (no SET), so the master grants itself membership first.
    if (!me.superuser) {
      const priv = me.version >= 160000 ? 'SET' : 'MEMBER';
      const can = (await client.query<{ ok: boolean }>(`select pg_has_role(current_user, $1, '${priv}') as ok`, [spec.roleName])).rows[0].ok;
      if (!can) await client.query(`grant ${role} to current_user`);
    }
    const ns = (await client.query('select 1 from pg_namespace where nspname = $1', [schemaName])).rows[0];
    if (!ns) await client.query(`create schema ${schema} authorization ${role}`);
    await client.query(`grant usage, create on schema ${schema} to ${role}`);
    await client.query('commit');
    return { roleCreated: !existing, passwordSet, schemaCreated: !ns, schemaName };
  } catch (e) {
    await client.query('rollback').catch(() => undefined);
    throw e;
  }
}

/**
 * Since PostgreSQL 16 a CREATEROLE user may alter only roles it holds WITH ADMIN OPTION (the roles it created
 * itself); a role a DBA made by hand is refused with 42501. Say so and what to run, instead of pg's bare message.
 * https://www.postgresql.org/docs/16/sql-alterrole.html
 */
function notAdminError(e: unknown, roleName: string, master: string): unknown {
  if (sqlState(e) !== '42501') return e;
  return new Error(
    `role "${roleName}" exists but the master user "${master}" may not alter it (${(e as Error).message}, SQLSTATE 42501): ` +
      'since PostgreSQL 16 a CREATEROLE user alters only roles it holds WITH ADMIN OPTION. ' +
      `Have a role that may run GRANT ${escapeIdentifier(roleName)} TO ${escapeIdentifier(master)} WITH ADMIN OPTION, or name a new role in the app secret's "username".`,
    { cause: e },
  );
}

/** `'SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>'` for printable-ASCII passwords, else the escaped clear password. */
export function passwordLiteral(password: string): string {
  return escapeLiteral(/^[\x20-\x7e]+$/.test(password) ? scramSha256Verifier(password) : password);
}

/** The verifier PostgreSQL stores for SCRAM-SHA-256 (RFC 5802/7677; same format as libpq's PQencryptPasswordConn). */
export function scramSha256Verifier(password: string, iterations = 4096, salt: Buffer = crypto.randomBytes(16)): string {
  const salted = crypto.pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = crypto.createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = crypto.createHash('sha256').update(clientKey).digest();
  const serverKey = crypto.createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
