import { ConfigurationError } from './errors';

/** How the function authenticates to the proxy. */
export type CredentialMode = 'iam' | 'secret';

/** The query function's settings, read once per execution environment from its environment variables. */
export interface QueryFunctionConfig {
  /** `DB_HOST`: the RDS Proxy endpoint (a host name, so TLS hostname verification is meaningful). */
  readonly host: string;
  /** `DB_PORT` @default 5432 */
  readonly port: number;
  /** `DB_NAME` */
  readonly database: string;
  /** `DB_USER`: the application role (never the master user). */
  readonly user: string;
  /** `CREDENTIAL_MODE` @default 'iam' */
  readonly credentialMode: CredentialMode;
  /** `SECRET_ARN`: the application role's secret; required when credentialMode is 'secret'. */
  readonly secretArn?: string;
  /** `SECRET_CACHE_TTL_SECONDS` @default 300 */
  readonly secretCacheTtlSeconds: number;
  /** `AWS_REGION` (set by Lambda); used to sign IAM tokens. */
  readonly region?: string;
  /** `CONNECT_TIMEOUT_MS` @default 5000 */
  readonly connectTimeoutMs: number;
  /** `QUERY_TIMEOUT_MS` @default 10000 */
  readonly queryTimeoutMs: number;
  /** `SECRET_TIMEOUT_MS`: one Secrets Manager call (connect + answer) must finish within this. @default 3000 */
  readonly secretTimeoutMs: number;
  /** `BORROW_TIMEOUT_MS`: the proxy's ConnectionBorrowTimeout, named in errors. @default - not named */
  readonly borrowTimeoutMs?: number;
  /** `DB_TLS_CA_FILE`: extra trusted CA bundle (PEM) added to Node's default roots. @default - Node's roots only */
  readonly tlsCaFile?: string;
}

function intVar(env: NodeJS.ProcessEnv, name: string, def: number, min: number, max: number, problems: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
    return def;
  }
  return n;
}

/**
 * Reads and validates the environment. Collects every problem and throws one
 * {@link ConfigurationError} that names each variable, so one deploy fixes them all.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): QueryFunctionConfig {
  const problems: string[] = [];
  const req = (name: string): string => {
    const v = env[name]?.trim();
    if (!v) problems.push(`${name} is required`);
    return v ?? '';
  };
  const host = req('DB_HOST');
  const database = req('DB_NAME');
  const user = req('DB_USER');
  const port = intVar(env, 'DB_PORT', 5432, 1, 65535, problems);
  const modeRaw = (env.CREDENTIAL_MODE ?? 'iam').trim().toLowerCase() || 'iam';
  let credentialMode: CredentialMode = 'iam';
  if (modeRaw === 'iam' || modeRaw === 'secret') credentialMode = modeRaw;
  else problems.push(`CREDENTIAL_MODE must be "iam" or "secret", got "${env.CREDENTIAL_MODE}"`);
  const secretArn = env.SECRET_ARN?.trim() || undefined;
  if (credentialMode === 'secret' && !secretArn) problems.push('SECRET_ARN is required when CREDENTIAL_MODE is "secret"');
  const region = env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || undefined;
  if (credentialMode === 'iam' && !region) problems.push('AWS_REGION is required to sign IAM database tokens (Lambda sets it)');
  const config: QueryFunctionConfig = {
    host,
    port,
    database,
    user,
    credentialMode,
    secretArn,
    secretCacheTtlSeconds: intVar(env, 'SECRET_CACHE_TTL_SECONDS', 300, 0, 86_400, problems),
    region,
    connectTimeoutMs: intVar(env, 'CONNECT_TIMEOUT_MS', 5000, 100, 900_000, problems),
    queryTimeoutMs: intVar(env, 'QUERY_TIMEOUT_MS', 10_000, 100, 900_000, problems),
    secretTimeoutMs: intVar(env, 'SECRET_TIMEOUT_MS', 3000, 100, 900_000, problems),
    borrowTimeoutMs: env.BORROW_TIMEOUT_MS?.trim() ? intVar(env, 'BORROW_TIMEOUT_MS', 0, 1000, 3_600_000, problems) : undefined,
    tlsCaFile: env.DB_TLS_CA_FILE?.trim() || undefined,
  };
  if (problems.length > 0) {
    throw new ConfigurationError(`rds-proxy-query function is misconfigured: ${problems.join('; ')}. Fix the function's environment variables.`);
  }
  return config;
}
