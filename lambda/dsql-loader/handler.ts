import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DsqlSigner } from '@aws-sdk/dsql-signer';
import type { Context, SQSEvent } from 'aws-lambda';
import { Client } from 'pg';
import { ConnectionManager } from './connection';
import { configFromEnv, handleEvent } from './handle';
import { LoaderMetrics } from './loader';
import { ObjectRef } from './s3-source';
import { createLogger } from '../shared/logger';

// Module scope: warm invocations reuse clients, the signer and the DSQL connection.
const logger = createLogger('dsql-loader');
const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'DbOpsKit/DsqlBridge', serviceName: 'dsql-loader' });
const s3 = new S3Client({});
const sqs = new SQSClient({});
const config = configFromEnv(process.env);
const endpoint = process.env.DSQL_ENDPOINT ?? '';
const role = process.env.DSQL_DB_ROLE || 'dsql_loader';
const signer = new DsqlSigner({ hostname: endpoint, region: process.env.DSQL_REGION || process.env.AWS_REGION, expiresIn: 900 });
const connections = new ConnectionManager({
  token: () => signer.getDbConnectAuthToken(),
  connect: async (password) => {
    const c = new Client({ host: endpoint, port: 5432, user: role, password, database: 'postgres', ssl: { rejectUnauthorized: true }, connectionTimeoutMillis: 10_000 });
    await c.connect();
    return c;
  },
});
const loaderMetrics: LoaderMetrics = {
  rowsLoaded: (n) => n > 0 && metrics.addMetric('RowsLoaded', MetricUnit.Count, n),
  rowsRejected: (n) => n > 0 && metrics.addMetric('RowsRejected', MetricUnit.Count, n),
  retry: (reason) => metrics.addMetric(reason === 'conflict' ? 'ConflictRetries' : 'ConnectionRetries', MetricUnit.Count, 1),
  lagSeconds: (s) => metrics.addMetric('ReplicationLagSeconds', MetricUnit.Seconds, s),
  objectSkipped: () => metrics.addMetric('ObjectsSkipped', MetricUnit.Count, 1),
};

const log = {
  info: (msg: string, extra: object = {}) => logger.info(msg, { ...extra }),
  warn: (msg: string, extra: object = {}) => logger.warn(msg, { ...extra }),
  error: (msg: string, extra: object = {}) => logger.error(msg, { ...extra }),
};

/** Lambda entry point: SQS (S3 events) or a Distributed Map item; see handle.ts. */
export async function handler(event: SQSEvent | ObjectRef, context?: Context) {
  if (!endpoint) throw new Error('environment variable DSQL_ENDPOINT is not set (the DsqlBridge construct sets it)');
  try {
    return await handleEvent(event, { s3, sqs, connections, config, metrics: loaderMetrics, log, remainingMs: context ? () => context.getRemainingTimeInMillis() : undefined });
  } finally {
    metrics.publishStoredMetrics();
  }
}
