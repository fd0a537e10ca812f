/**
 * Pattern 1 on a real account (`npm run integ -- integ.rds-proxy-lambda.ts`, see docs/verify-on-aws.md):
 * deploys Aurora PostgreSQL (one Serverless v2 writer at 0.5 ACU), RDS Proxy with IAM auth and the
 * query Lambda in a new VPC, then invokes the function: `whoami` must answer through the proxy as
 * the application role (IAM token, never the master user). Destroyed afterwards; this test's
 * cluster has no deletion protection and no final snapshot, and its key is scheduled for deletion
 * (7 days) — the pattern's own defaults keep all three.
 */
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { RdsProxyLambda } from '../../lib/rds-proxy-lambda/rds-proxy-lambda';

const app = new App();
const stack = new Stack(app, 'DbOpsIntegRdsProxyLambda');
const key = new kms.Key(stack, 'Key', { enableKeyRotation: true, removalPolicy: RemovalPolicy.DESTROY, pendingWindow: Duration.days(7) });
const pattern = new RdsProxyLambda(stack, 'Pattern', {
  encryptionKey: key,
  credentialMode: 'iam',
  clusterProps: { removalPolicy: RemovalPolicy.DESTROY, deletionProtection: false, serverlessV2MinCapacity: 0.5, serverlessV2MaxCapacity: 1, backupRetention: Duration.days(1) },
  logRetention: logs.RetentionDays.ONE_DAY,
});

const integ = new IntegTest(app, 'RdsProxyLambdaInteg', {
  testCases: [stack],
  // A fresh deploy each run; the update workflow would deploy the previous snapshot first (twice the time).
  stackUpdateWorkflow: false,
  diffAssets: false,
});

// The promise: the function answers through the proxy, authenticated with an IAM token as the app role.
integ.assertions
  .invokeFunction({ functionName: pattern.fn.functionName, payload: JSON.stringify({ query: 'whoami' }) })
  .expect(
    ExpectedResult.objectLike({
      StatusCode: 200,
      // The assertion provider parses the function's JSON result (QueryResponse) before matching.
      Payload: Match.objectLike({ query: 'whoami', rows: Match.arrayWith([Match.objectLike({ current_user: pattern.appUsername, session_user: pattern.appUsername })]) }),
    }),
  )
  .next(
    integ.assertions
      .invokeFunction({ functionName: pattern.fn.functionName, payload: JSON.stringify({ query: 'health' }) })
      .expect(ExpectedResult.objectLike({ StatusCode: 200, Payload: Match.objectLike({ query: 'health', rowCount: 1 }) })),
  );

app.synth();
