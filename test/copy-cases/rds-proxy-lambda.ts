import { CopyCase } from '../helpers/copy-app';

/**
 * A layout other than the kit's: the construct under infra/, the runtime code under functions/
 * (with shared/ next to it), found through `runtimeCodeDir`. An existing VPC (private subnets with
 * egress, no Secrets Manager endpoint made by the construct), secret mode and custom sizes.
 */
export const copyCase: CopyCase = {
  pattern: 'rds-proxy-lambda',
  folders: ['lib/rds-proxy-lambda', 'lambda/rds-proxy-query', 'lambda/shared'],
  layout: {
    'lib/rds-proxy-lambda': 'infra/rds-proxy-lambda',
    'lambda/rds-proxy-query': 'functions/rds-proxy-query',
    'lambda/shared': 'functions/shared',
  },
  appSource: `
import * as path from 'path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { RdsProxyLambda } from './infra/rds-proxy-lambda/rds-proxy-lambda';
const app = new App();
const stack = new Stack(app, 'CopiedRdsProxy', { env: { account: '123456789012', region: 'eu-west-1' } });
const vpc = ec2.Vpc.fromVpcAttributes(stack, 'ExistingVpc', {
  vpcId: 'vpc-0a1b2c3d4e5f60718',
  vpcCidrBlock: '10.70.0.0/16',
  availabilityZones: ['eu-west-1a', 'eu-west-1b'],
  privateSubnetIds: ['subnet-0aaa1111bbbb22223', 'subnet-0ccc3333dddd44445'],
});
new RdsProxyLambda(stack, 'Orders', {
  existingVpc: vpc,
  credentialMode: 'secret',
  appUsername: 'orders_app',
  functionMemoryMb: 512,
  functionTimeout: Duration.seconds(20),
  logRetention: logs.RetentionDays.TWO_WEEKS,
  runtimeCodeDir: path.join(__dirname, 'functions', 'rds-proxy-query'),
});
app.synth();
`,
  check(templates) {
    const res = Object.values<any>(templates.CopiedRdsProxy.Resources);
    const types = res.map((r) => r.Type);
    expect(types).toEqual(expect.arrayContaining(['AWS::RDS::DBCluster', 'AWS::RDS::DBProxy', 'AWS::Lambda::Function', 'Custom::DbOpsAppRole']));
    expect(types).not.toContain('AWS::EC2::VPC');
    const fn = res.find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Handler === 'index.handler');
    expect(fn.Properties.Environment.Variables.CREDENTIAL_MODE).toBe('secret');
    expect(fn.Properties).toMatchObject({ Runtime: 'nodejs22.x', MemorySize: 512, Timeout: 20 });
    expect(fn.Properties.VpcConfig.SubnetIds).toEqual(['subnet-0aaa1111bbbb22223', 'subnet-0ccc3333dddd44445']);
  },
};
