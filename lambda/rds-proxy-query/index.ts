/**
 * The query function (Lambda handler `index.handler`): runs one allowlisted, read-only query
 * (queries.ts) through RDS Proxy on a connection kept at module scope, authenticated with a cached
 * IAM token (CREDENTIAL_MODE=iam, default) or the application role's cached secret
 * (CREDENTIAL_MODE=secret). Event: `{ "query": "health" | "serverTime" | "whoami" | "tables",
 * "params": { ... } }`. Returns {@link QueryResponse}; failures are thrown as typed errors.
 *
 * Environment: DB_HOST, DB_PORT (5432), DB_NAME, DB_USER, CREDENTIAL_MODE (iam), SECRET_ARN,
 * SECRET_CACHE_TTL_SECONDS (300), CONNECT_TIMEOUT_MS (5000), QUERY_TIMEOUT_MS (10000),
 * DB_TLS_CA_FILE (optional extra CA bundle). See config.ts.
 */
import { createQueryHandler, runtimeFromEnvironment } from './query-function';

export type { QueryResponse } from './query-function';

export const handler = createQueryHandler(runtimeFromEnvironment());
