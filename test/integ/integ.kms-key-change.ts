/**
 * Pattern 2 on a real account (`npm run integ -- integ.kms-key-change.ts`, see docs/verify-on-aws.md):
 * deploys a small PostgreSQL instance (db.t4g.micro, 20 GiB gp3) encrypted with a source key, a
 * target key and the key-change workflow for that instance; then runs a rehearsal execution
 * (`{"cutover": false}`: snapshot, copy with the target key, restore, re-apply settings, verify —
 * verify fails the execution unless the copy is on the target key with the source's settings) and
 * waits for SUCCEEDED; the source must still be available on its old key (nothing touched). A
 * test-only function then deletes the run's copy and snapshots (names under this test's fixed
 * source id only) so the stack can be destroyed. About 45-75 minutes.
 */
import * as path from 'path';
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import { KmsKeyChangeWorkflow } from '../../lib/kms-key-change';

const SOURCE_ID = 'dbops-integ-rekey';
const app = new App();
const stack = new Stack(app, 'DbOpsIntegKmsKeyChange');
const keyProps = { enableKeyRotation: true, removalPolicy: RemovalPolicy.DESTROY, pendingWindow: Duration.days(7) };
const sourceKey = new kms.Key(stack, 'SourceKey', { ...keyProps, description: 'db-ops-kit integ: key the instance starts on' });
const targetKey = new kms.Key(stack, 'TargetKey', { ...keyProps, description: 'db-ops-kit integ: key the copy must end on' });
const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'Db', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }] });
const instance = new rds.DatabaseInstance(stack, 'Source', {
  instanceIdentifier: SOURCE_ID,
  engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 }),
  instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO),
  allocatedStorage: 20,
  storageType: rds.StorageType.GP3,
  storageEncryptionKey: sourceKey,
  vpc,
  vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
  backupRetention: Duration.days(1),
  deletionProtection: false,
  removalPolicy: RemovalPolicy.DESTROY,
});
const workflow = new KmsKeyChangeWorkflow(stack, 'Rekey', {
  dbInstanceIdentifier: SOURCE_ID,
  sourceKey,
  targetKey,
  pollInterval: Duration.seconds(30),
  logRetention: logs.RetentionDays.ONE_DAY,
});
workflow.node.addDependency(instance);

const cleanupLogs = new logs.LogGroup(stack, 'CleanupLogs', { retention: logs.RetentionDays.ONE_DAY, removalPolicy: RemovalPolicy.DESTROY });
const cleanup = new NodejsFunction(stack, 'Cleanup', {
  entry: path.join(__dirname, 'rekey-cleanup.ts'),
  runtime: lambda.Runtime.NODEJS_22_X,
  timeout: Duration.minutes(1),
  logGroup: cleanupLogs,
  bundling: { externalModules: [] },
});
cleanup.addToRolePolicy(new iam.PolicyStatement({ actions: ['rds:DescribeDBInstances', 'rds:DescribeDBSnapshots'], resources: ['*'] }));
cleanup.addToRolePolicy(
  new iam.PolicyStatement({
    actions: ['rds:DeleteDBInstance', 'rds:DeleteDBSnapshot'],
    resources: [`arn:${stack.partition}:rds:${stack.region}:${stack.account}:db:${SOURCE_ID}-rekey-*`, `arn:${stack.partition}:rds:${stack.region}:${stack.account}:snapshot:${SOURCE_ID}-rekey-*`],
  }),
);

const integ = new IntegTest(app, 'KmsKeyChangeInteg', { testCases: [stack], stackUpdateWorkflow: false, diffAssets: false });
const start = integ.assertions.awsApiCall('StepFunctions', 'startExecution', {
  stateMachineArn: workflow.stateMachine.stateMachineArn,
  input: JSON.stringify({ cutover: false }),
});
const finished = integ.assertions
  .awsApiCall('StepFunctions', 'describeExecution', { executionArn: start.getAttString('executionArn') })
  .expect(ExpectedResult.objectLike({ status: 'SUCCEEDED' }))
  .waitForAssertions({ totalTimeout: Duration.minutes(55), interval: Duration.minutes(1), backoffRate: 1 });
const sourceUntouched = integ.assertions
  .awsApiCall('RDS', 'describeDBInstances', { DBInstanceIdentifier: SOURCE_ID })
  .expect(ExpectedResult.objectLike({ DBInstances: [{ DBInstanceStatus: 'available', StorageEncrypted: true, KmsKeyId: sourceKey.keyArn }] }));
const cleaned = integ.assertions
  .invokeFunction({ functionName: cleanup.functionName, payload: JSON.stringify({ sourceId: SOURCE_ID }) })
  .expect(ExpectedResult.objectLike({ StatusCode: 200, Payload: { remaining: [] } }))
  .waitForAssertions({ totalTimeout: Duration.minutes(30), interval: Duration.minutes(1), backoffRate: 1 });
start.next(finished).next(sourceUntouched).next(cleaned);

app.synth();
