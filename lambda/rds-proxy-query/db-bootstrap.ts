/**
 * Custom-resource handler (CDK Provider framework `onEvent`) that creates the application role in
 * the cluster at deploy time, so neither the function nor the proxy ever uses the master user.
 *
 * ResourceProperties:
 * - `MasterSecretArn`: the cluster's master secret (JSON: host, port, username, password, dbname);
 *   we connect to its `host` (the writer endpoint) as the master user.
 * - `AppSecretArn`: the application role's secret (JSON: username, password).
 * - `DatabaseName`: the database to grant CONNECT on and create schema `app` in.
 * - `SchemaName` (optional): @default 'app'
 * - `StatementTimeoutMs`, `IdleInTransactionTimeoutMs` (optional, integer strings): the role's default
 *   `statement_timeout` / `idle_in_transaction_session_timeout` (ALTER ROLE … SET), applied on Create and Update.
 *
 * Create: create the role (LOGIN, the app secret's current password) or, if it already exists,
 * set that password; grant CONNECT; create schema `app` owned by the role. Running it twice is
 * harmless. Update: re-apply LOGIN and the grants, never the password — rotation may have
 * changed it, and Secrets Manager is then the only holder of the current value (see bootstrap.ts).
 * Delete: does nothing — it never drops the role, its schema or any data; removing them is the
 * operator's explicit choice after the stack is gone.
 *
 * TLS: always verified. Aurora's certificates come from the RDS CAs, which are not in Node's
 * public roots; the Lambda Node.js 20+ runtimes ship them at /var/runtime/ca-cert.pem and load them
 * only when NODE_EXTRA_CA_CERTS=/var/runtime/ca-cert.pem, which the construct sets for this
 * function (AWS Compute Blog, "Node.js 20.x runtime now available in AWS Lambda", Nov 2023).
 * DB_TLS_CA_FILE adds a CA bundle (tests).
 */
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { Client } from 'pg';
import { withRetry } from '../shared/retry';
import { createLogger } from '../shared/logger';
import { ensureAppRole } from './bootstrap';
import { parseSecretJson } from './secret-json';
import { isAuthFailure } from './errors';
import { tlsOptions } from './tls';

let cachedLogger: ReturnType<typeof createLogger> | undefined;
/** Created on first use, so the log level is read from the environment the handler runs in. */
const log = () => (cachedLogger ??= createLogger('rds-proxy-db-bootstrap'));

/** The Provider framework's onEvent response. */
export interface OnEventResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string>;
}

interface MasterSecret {
  host: string;
  port: number;
  username: string;
  password: string;
}

/** Seams for tests; production uses the defaults. */
export interface BootstrapDeps {
  /** Returns the secret's parsed JSON, always fresh. @default Powertools getSecret with forceFetch */
  readonly fetchSecret?: (arn: string) => Promise<unknown>;
  /** @default 10000 */
  readonly connectTimeoutMs?: number;
  /** Attempts to connect while the new cluster may still be settling. @default 5 */
  readonly connectAttempts?: number;
}

// Raw string, parsed without quoting it: JSON.parse's message (passed on by Powertools' json transform) quotes
// the start of a non-JSON secret, which would put part of a password into the stack's events.
const defaultFetch = async (arn: string) => parseSecretJson(await getSecret(arn, { forceFetch: true }));

export async function onEvent(event: CloudFormationCustomResourceEvent, deps: BootstrapDeps = {}): Promise<OnEventResponse> {
  log().info('event', { requestType: event.RequestType, logicalResourceId: event.LogicalResourceId });
  if (event.RequestType === 'Delete') {
    log().info('delete: leaving the application role, its schema and all data in place');
    return { PhysicalResourceId: event.PhysicalResourceId };
  }
  const props = event.ResourceProperties as Record<string, unknown>;
  const problems: string[] = [];
  const str = (k: string, required = true): string | undefined => {
    const v = props[k];
    if (typeof v === 'string' && v.trim() !== '') return v.trim();
    if (required) problems.push(`ResourceProperties.${k} is required`);
    return undefined;
  };
  const masterArn = str('MasterSecretArn');
  const appArn = str('AppSecretArn');
  const databaseName = str('DatabaseName');
  const schemaName = str('SchemaName', false) ?? 'app';
  const msProp = (k: string): number | undefined => {
    const v = str(k, false);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) {
      problems.push(`ResourceProperties.${k} must be an integer number of milliseconds, got "${v.slice(0, 40)}"`);
      return undefined;
    }
    return Number(v);
  };
  const statementTimeoutMs = msProp('StatementTimeoutMs');
  const idleInTransactionTimeoutMs = msProp('IdleInTransactionTimeoutMs');
  if (problems.length > 0) throw new Error(`db-bootstrap: ${problems.join('; ')}`);

  const fetch = deps.fetchSecret ?? defaultFetch;
  const master = parseMaster(await fetch(masterArn!), masterArn!);
  const app = (await fetch(appArn!)) as { username?: unknown; password?: unknown };
  if (!app || typeof app.username !== 'string' || typeof app.password !== 'string' || !app.username || !app.password) {
    throw new Error(`db-bootstrap: app secret ${appArn} must be JSON with non-empty "username" and "password"`);
  }
  const client = await withRetry(
    async () => {
      const c = new Client({
        host: master.host,
        port: master.port,
        user: master.username,
        password: master.password,
        database: databaseName,
        ssl: tlsOptions(process.env.DB_TLS_CA_FILE),
        connectionTimeoutMillis: deps.connectTimeoutMs ?? 10_000,
      });
      c.on('error', (err) => log().warn('connection error', { error: err.message }));
      try {
        await c.connect();
        return c;
      } catch (e) {
        await c.end().catch(() => undefined);
        throw e;
      }
    },
    {
      attempts: deps.connectAttempts ?? 5,
      baseDelayMs: 500,
      retryable: isRetryableConnectError,
      onRetry: (e, n) => log().warn('connect failed; retrying', { attempt: n, error: (e as Error).message }),
    },
  ).catch((e) => {
    throw new Error(`db-bootstrap: cannot connect to ${master.host}:${master.port}/${databaseName} as the master user: ${(e as Error).message}`, { cause: e });
  });
  try {
    const result = await ensureAppRole(client, {
      roleName: app.username,
      password: app.password,
      databaseName: databaseName!,
      schemaName,
      setPasswordIfExists: event.RequestType === 'Create',
      statementTimeoutMs,
      idleInTransactionTimeoutMs,
    });
    log().info('application role ready', { role: app.username, database: databaseName, ...result });
    return {
      PhysicalResourceId: `${databaseName}/${app.username}`,
      Data: { RoleName: app.username, SchemaName: result.schemaName, DatabaseName: databaseName! },
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A refused login or a failed TLS verification will not fix itself; network errors (a new cluster's DNS, a reboot) might. */
export function isRetryableConnectError(e: unknown): boolean {
  if (isAuthFailure(e)) return false;
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string' && /^(ERR_TLS_|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_)/.test(code)) return false;
  return !/certificate|self.signed|altname/i.test(String((e as Error)?.message));
}

function parseMaster(value: unknown, arn: string): MasterSecret {
  const s = value as Record<string, unknown> | undefined;
  const port = Number(s?.port ?? 5432);
  if (!s || typeof s.host !== 'string' || typeof s.username !== 'string' || typeof s.password !== 'string' || !Number.isInteger(port)) {
    throw new Error(`db-bootstrap: master secret ${arn} must be JSON with "host", "port", "username" and "password" (the RDS-generated cluster secret is)`);
  }
  return { host: s.host, port, username: s.username, password: s.password };
}
