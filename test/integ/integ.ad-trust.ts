/**
 * Pattern 4 — @snapshot-only: `npm run integ` skips it; deploy it only by naming it
 * (`npm run integ -- integ.ad-trust.ts`) after reading the cost in docs/verify-on-aws.md. Two
 * AWS Managed Microsoft AD Enterprise Regions and an Aurora Global Database bill by the hour and
 * take 1.5-3 hours to create; no trust is created (it needs an on-premises forest: createTrust
 * false). Asserts the directory is Active in both Regions and the secondary cluster joined the
 * global database with the directory's Kerberos domain.
 */
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AdTrustPrimaryStack, AdTrustReplicaStack } from '../../lib/ad-trust';

const account = process.env.CDK_DEFAULT_ACCOUNT || '123456789012';
const primaryRegion = process.env.DBOPS_INTEG_PRIMARY_REGION ?? 'us-east-1';
const replicaRegion = process.env.DBOPS_INTEG_REPLICA_REGION ?? 'us-west-2';
const app = new App();
const primary = new AdTrustPrimaryStack(app, 'DbOpsIntegAdTrustPrimary', {
  env: { account, region: primaryRegion },
  vpcCidr: '10.91.0.0/16',
  availabilityZones: [`${primaryRegion}a`, `${primaryRegion}b`],
  domainName: 'integ.dbops.example.com',
  replicaRegion,
  replicaVpcCidr: '10.92.0.0/16',
  onPremDomainName: 'onprem.dbops.example.com',
  onPremDnsIps: ['192.168.10.10'],
  onPremisesCidrs: ['192.168.0.0/16'],
  createTrust: false,
  engine: 'aurora-postgresql',
  globalClusterIdentifier: 'dbops-integ-kerberos',
  readers: 0,
  logRetention: logs.RetentionDays.ONE_DAY,
});
const replica = new AdTrustReplicaStack(app, 'DbOpsIntegAdTrustReplica', {
  env: { account, region: replicaRegion },
  primary,
  vpcCidr: '10.92.0.0/16',
  availabilityZones: [`${replicaRegion}a`, `${replicaRegion}b`],
  logRetention: logs.RetentionDays.ONE_DAY,
});

// The assertions read the primary stack's directory id: cross-stack references need an explicit Region.
const assertionStack = new Stack(app, 'DbOpsIntegAdTrustAssert', { env: { account, region: primaryRegion } });
const integ = new IntegTest(app, 'AdTrustInteg', { testCases: [primary, replica], assertionStack, stackUpdateWorkflow: false, diffAssets: false });
integ.assertions
  .awsApiCall('DirectoryService', 'describeRegions', { DirectoryId: primary.directory.directoryId })
  .expect(
    ExpectedResult.objectLike({
      RegionsDescription: Match.arrayWith([
        Match.objectLike({ RegionName: primaryRegion, Status: 'Active' }),
        Match.objectLike({ RegionName: replicaRegion, Status: 'Active' }),
      ]),
    }),
  )
  .waitForAssertions({ totalTimeout: Duration.minutes(30) })
  .next(
    integ.assertions
      .awsApiCall('RDS', 'describeGlobalClusters', { GlobalClusterIdentifier: 'dbops-integ-kerberos' })
      .expect(ExpectedResult.objectLike({ GlobalClusters: [Match.objectLike({ Status: 'available', GlobalClusterMembers: Match.arrayWith([Match.objectLike({ IsWriter: false })]) })] })),
  );

app.synth();
