import { App, Stack } from 'aws-cdk-lib';
import { ACCOUNT_RE, PatternContext, REGION_RE } from './context';
import { envFor, PatternDefinition } from './pattern';
import { KmsKeyChangeStack } from '../lib/kms-key-change';

/** At most 38 characters: cutover renames the source to `<id>-pre-rekey-<14 digits>` (63 at most). */
const ID_RE = /^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,37}$/;
const KEY_ARN_RE = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;

/** Pattern 2: KMS key change. Context keys `kmsKeyChange:*` (see cdk.json). */
export const kmsKeyChangePattern: PatternDefinition = {
  key: 'kmsKeyChange',
  stackNames: ['DbOpsKmsKeyChange'],
  build(app: App, ctx: PatternContext, account: string | undefined): Stack[] {
    const region = ctx.string('region', { example: 'us-east-1', pattern: REGION_RE });
    const instance = ctx.optionalString('dbInstanceIdentifier', { example: 'orders-db', pattern: ID_RE, description: 'RDS DB instance to re-key (or set dbClusterIdentifier)' });
    const cluster = ctx.optionalString('dbClusterIdentifier', { example: 'ledger-cluster', pattern: ID_RE, description: 'Aurora DB cluster to re-key (or set dbInstanceIdentifier)' });
    if (!instance && !cluster) {
      ctx.string('dbInstanceIdentifier', { example: 'orders-db', pattern: ID_RE, description: 'set exactly one of kmsKeyChange:dbInstanceIdentifier and kmsKeyChange:dbClusterIdentifier' });
    } else if (instance && cluster) {
      ctx.string('dbClusterIdentifier', { example: '', pattern: /^$/, description: 'must be empty when kmsKeyChange:dbInstanceIdentifier is set (exactly one of the two)' });
    }
    const sourceKeyArn = ctx.string('sourceKeyArn', { example: 'arn:aws:kms:us-east-1:123456789012:key/1111aaaa-2222-bbbb-3333-cccc4444dddd', pattern: KEY_ARN_RE, description: 'ARN of the key the database uses today' });
    const targetKeyArn = ctx.string('targetKeyArn', { example: 'arn:aws:kms:us-east-1:123456789012:key/5555eeee-6666-ffff-7777-888899990000', pattern: KEY_ARN_RE, description: 'ARN of the key to move to' });
    const method = ctx.string('method', { example: 'snapshot', pattern: /^(snapshot|blue-green)$/ }) as 'snapshot' | 'blue-green';
    const targetRegion = ctx.optionalString('targetRegion', { example: 'us-west-2', pattern: REGION_RE });
    const shareWithAccount = ctx.optionalString('shareWithAccount', { example: '210987654321', pattern: ACCOUNT_RE });
    const targetSecurityGroupIds = ctx.stringList('targetSecurityGroupIds', { example: ['sg-0123456789abcdef0'], pattern: /^sg-[0-9a-f]+$/ });
    const passRoleArns = ctx.stringList('passRoleArns', { example: ['arn:aws:iam::123456789012:role/rds-monitoring-role'], pattern: /^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/ });
    ctx.check();
    return [
      new KmsKeyChangeStack(app, 'DbOpsKmsKeyChange', {
        env: envFor(account, region),
        dbInstanceIdentifier: instance,
        dbClusterIdentifier: cluster,
        sourceKeyArn,
        targetKeyArn,
        method,
        targetRegion,
        shareWithAccount,
        targetSecurityGroupIds: targetSecurityGroupIds.length ? targetSecurityGroupIds : undefined,
        passRoleArns,
      }),
    ];
  },
};
