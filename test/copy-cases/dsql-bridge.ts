import { CopyCase } from '../helpers/copy-app';

/**
 * Kit layout; custom prefixes/role/concurrency and a DMS source in an EXISTING VPC (the source
 * PostgreSQL's), so the construct builds the DMS source endpoint and serverless replication there.
 */
export const copyCase: CopyCase = {
  pattern: 'dsql-bridge',
  folders: ['lib/dsql-bridge', 'lambda/dsql-loader', 'lambda/shared'],
  appSource: `
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { DsqlBridge } from './lib/dsql-bridge';
const app = new App();
const stack = new Stack(app, 'CopiedDsqlBridge', { env: { account: '123456789012', region: 'eu-west-1' } });
const vpc = ec2.Vpc.fromVpcAttributes(stack, 'SourceVpc', {
  vpcId: 'vpc-0f1e2d3c4b5a69788',
  vpcCidrBlock: '10.80.0.0/16',
  availabilityZones: ['eu-west-1a', 'eu-west-1b'],
  privateSubnetIds: ['subnet-0123aaaa4567bbbb8', 'subnet-0123cccc4567dddd8'],
});
new DsqlBridge(stack, 'Bridge', {
  landingPrefix: 'cdc',
  databaseRole: 'loader',
  backfillMaxConcurrency: 4,
  source: {
    serverName: 'shop-db.internal.example.org',
    databaseName: 'shop',
    secret: secretsmanager.Secret.fromSecretNameV2(stack, 'SourceSecret', 'dms/shop-source'),
    vpc,
    schemas: ['public', 'sales'],
  },
});
app.synth();
`,
  check(templates) {
    const t = templates.CopiedDsqlBridge;
    const res = Object.values<any>(t.Resources);
    const types = res.map((r) => r.Type);
    expect(types).toEqual(expect.arrayContaining(['AWS::DSQL::Cluster', 'AWS::DMS::Endpoint', 'AWS::SQS::Queue', 'AWS::Lambda::Function', 'AWS::StepFunctions::StateMachine', 'AWS::DMS::ReplicationConfig']));
    expect(types).not.toContain('AWS::EC2::VPC');
    const fn = res.find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.DSQL_DB_ROLE);
    expect(fn.Properties.Environment.Variables).toMatchObject({ DSQL_DB_ROLE: 'loader', LANDING_PREFIX: 'cdc' });
    expect(fn.Properties.Runtime).toBe('nodejs22.x');
    const target = res.find((r) => r.Type === 'AWS::DMS::Endpoint' && r.Properties.EndpointType === 'target');
    expect(target.Properties.S3Settings.BucketFolder).toBe('cdc');
    const subnets = res.find((r) => r.Type === 'AWS::DMS::ReplicationSubnetGroup');
    expect(subnets.Properties.SubnetIds).toEqual(['subnet-0123aaaa4567bbbb8', 'subnet-0123cccc4567dddd8']);
  },
};
