import { App, Stack } from 'aws-cdk-lib';
import { CIDR_RE, PatternContext, REGION_RE } from './context';
import { envFor, PatternDefinition } from './pattern';
import { DsqlBridgeSourceAttributes, DsqlBridgeStack } from '../lib/dsql-bridge';

const PREFIX_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;
const IDENT_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * `dsqlBridge:*` context. The DMS source is optional: set `dsqlBridge:sourceServerName` (and the
 * other `source*` keys) to also create the source endpoint and a DMS Serverless replication.
 */
export const dsqlBridgePattern: PatternDefinition = {
  key: 'dsqlBridge',
  stackNames: ['DbOpsDsqlBridge'],
  build(app: App, ctx: PatternContext, account: string | undefined): Stack[] {
    const region = ctx.string('region', { example: 'us-east-1', pattern: REGION_RE, description: 'Region of the DSQL cluster and bucket' });
    const landingPrefix = ctx.string('landingPrefix', { example: 'dms', pattern: PREFIX_RE, description: 'S3 folder DMS writes to' });
    const databaseRole = ctx.string('databaseRole', { example: 'dsql_loader', pattern: IDENT_RE, description: 'DSQL role the loader connects as' });
    const deletionProtection = ctx.boolean('deletionProtection', { default: true });
    const loaderMaxConcurrency = ctx.number('loaderMaxConcurrency', { example: 5, min: 2, max: 1000, default: 5 });
    const backfillMaxConcurrency = ctx.number('backfillMaxConcurrency', { example: 10, min: 1, max: 1000, default: 10 });
    const serverName = ctx.optionalString('sourceServerName', { example: 'pg.example.internal' });
    let source: DsqlBridgeSourceAttributes | undefined;
    if (serverName) {
      source = {
        serverName,
        port: ctx.number('sourcePort', { example: 5432, min: 1, max: 65535, default: 5432 }),
        databaseName: ctx.string('sourceDatabase', { example: 'app' }),
        secretArn: ctx.string('sourceSecretArn', { example: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:dms-source-AbCdEf', pattern: /^arn:aws[a-z-]*:secretsmanager:/ }),
        vpcId: ctx.string('sourceVpcId', { example: 'vpc-0123456789abcdef0', pattern: /^vpc-[0-9a-f]+$/ }),
        vpcCidr: ctx.string('sourceVpcCidr', { example: '10.0.0.0/16', pattern: CIDR_RE }),
        availabilityZones: ctx.stringList('sourceAvailabilityZones', { example: ['us-east-1a', 'us-east-1b'], required: true }),
        subnetIds: ctx.stringList('sourceSubnetIds', { example: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'], pattern: /^subnet-[0-9a-f]+$/, required: true }),
        schemas: ctx.stringList('sourceSchemas', { example: ['public'], pattern: IDENT_RE }),
      };
      if (source.schemas!.length === 0) source = { ...source, schemas: undefined };
    }
    // Account-wide DMS roles (dms-vpc-role, dms-cloudwatch-logs-role): created only on request (README, "DMS account roles").
    const createDmsAccountRoles = serverName ? ctx.boolean('createDmsAccountRoles', { default: false }) : false;
    // Report bad context as context problems before the construct validates the same values.
    ctx.check();
    const stack = new DsqlBridgeStack(app, 'DbOpsDsqlBridge', {
      env: envFor(account, region),
      bridge: { landingPrefix, databaseRole, deletionProtection, loaderMaxConcurrency, backfillMaxConcurrency, createDmsAccountRoles },
      source,
    });
    return [stack];
  },
};
