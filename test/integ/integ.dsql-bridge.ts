/**
 * Pattern 3 on a real account (`npm run integ -- integ.dsql-bridge.ts`, see docs/verify-on-aws.md):
 * deploys the bridge without a DMS source (no DMS cost), prepares the DSQL database as admin
 * (runbook step 2 for one table, by a test-only function), puts one DMS-format full-load CSV object
 * (3 rows, one NULL) into the landing bucket and waits until the loader has written exactly those 3
 * rows to DSQL (S3 event -> SQS -> loader). About 10 minutes. The bridge RETAINS its DSQL cluster,
 * bucket, key and log groups by design; this test turns deletion protection off, and the doc lists
 * what to delete afterwards.
 */
import * as path from 'path';
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { DsqlBridge } from '../../lib/dsql-bridge';

const app = new App();
const stack = new Stack(app, 'DbOpsIntegDsqlBridge');
const bridge = new DsqlBridge(stack, 'Bridge', { deletionProtection: false, logRetention: logs.RetentionDays.ONE_DAY, loaderMaxConcurrency: 2 });

const adminLogs = new logs.LogGroup(stack, 'AdminLogs', { retention: logs.RetentionDays.ONE_DAY, removalPolicy: RemovalPolicy.DESTROY });
const admin = new NodejsFunction(stack, 'DsqlAdmin', {
  entry: path.join(__dirname, 'dsql-admin.ts'),
  runtime: lambda.Runtime.NODEJS_22_X,
  timeout: Duration.minutes(2),
  logGroup: adminLogs,
  bundling: { externalModules: [] },
});
admin.addToRolePolicy(new iam.PolicyStatement({ actions: ['dsql:DbConnectAdmin'], resources: [bridge.cluster.attrResourceArn] }));

const csv = ['Op,dms_commit_ts,id,item,qty', 'I,2026-11-30 12:00:00.000000,1,apple,3', 'I,2026-11-30 12:00:00.000000,2,"pear, green",@@DMS_NULL@@', 'I,2026-11-30 12:00:00.000000,3,plum,7', ''].join('\n');

const integ = new IntegTest(app, 'DsqlBridgeInteg', { testCases: [stack], stackUpdateWorkflow: false, diffAssets: false });
const setup = integ.assertions
  .invokeFunction({ functionName: admin.functionName, payload: JSON.stringify({ action: 'setup', endpoint: bridge.cluster.attrEndpoint, loaderRoleArn: bridge.loader.role!.roleArn, databaseRole: bridge.databaseRole }) })
  .expect(ExpectedResult.objectLike({ StatusCode: 200, Payload: { done: true } }));
const put = integ.assertions.awsApiCall('S3', 'putObject', {
  Bucket: bridge.landingBucket.bucketName,
  Key: `${bridge.landingPrefix}/public/orders/LOAD00000001.csv`,
  Body: csv,
});
put.provider.addToRolePolicy({ Effect: 'Allow', Action: ['kms:GenerateDataKey', 'kms:Encrypt'], Resource: [bridge.encryptionKey.keyArn] });
const loaded = integ.assertions
  .invokeFunction({ functionName: admin.functionName, payload: JSON.stringify({ action: 'count', endpoint: bridge.cluster.attrEndpoint }) })
  .expect(ExpectedResult.objectLike({ StatusCode: 200, Payload: { rows: 3 } }))
  .waitForAssertions({ totalTimeout: Duration.minutes(10), interval: Duration.seconds(30), backoffRate: 1 });
setup.next(put).next(loaded);

app.synth();
