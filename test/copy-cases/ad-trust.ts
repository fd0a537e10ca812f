import { CopyCase } from '../helpers/copy-app';

/**
 * A layout other than the kit's (src/constructs + src/handlers, found through `runtimeCodeDir`),
 * EXISTING VPCs in both Regions (isolated subnets), MySQL, selective authentication.
 */
export const copyCase: CopyCase = {
  pattern: 'ad-trust',
  folders: ['lib/ad-trust', 'lambda/ad-trust', 'lambda/shared'],
  layout: {
    'lib/ad-trust': 'src/constructs/ad-trust',
    'lambda/ad-trust': 'src/handlers/ad-trust',
    'lambda/shared': 'src/handlers/shared',
  },
  appSource: `
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AdTrustPrimaryStack, AdTrustReplicaStack } from './src/constructs/ad-trust';
const app = new App();
const runtimeCodeDir = path.join(__dirname, 'src', 'handlers', 'ad-trust');
const existingVpc = (scope: Stack, region: string, vpcId: string, cidr: string, subnets: string[]) =>
  ec2.Vpc.fromVpcAttributes(scope, 'ExistingVpc', { vpcId, vpcCidrBlock: cidr, availabilityZones: [region + 'a', region + 'b'], isolatedSubnetIds: subnets });
// fromVpcAttributes needs a scope before the pattern's stack exists: a stack of its own, literal values only.
const primaryScope = new Stack(app, 'Network', { env: { account: '123456789012', region: 'eu-west-1' } });
const primary = new AdTrustPrimaryStack(app, 'CopiedAdTrustPrimary', {
  env: { account: '123456789012', region: 'eu-west-1' },
  vpc: existingVpc(primaryScope, 'eu-west-1', 'vpc-0aa11bb22cc33dd44', '10.50.0.0/16', ['subnet-0a1a1a1a1a1a1a1a1', 'subnet-0b2b2b2b2b2b2b2b2']),
  domainName: 'aws.corp.example.org',
  replicaRegion: 'eu-central-1',
  replicaVpcCidr: '10.60.0.0/16',
  onPremDomainName: 'corp.example.org',
  onPremDnsIps: ['172.16.0.10'],
  onPremisesCidrs: ['172.16.0.0/12'],
  engine: 'aurora-mysql',
  createTrust: true,
  selectiveAuth: true,
  runtimeCodeDir,
});
const replicaScope = new Stack(app, 'ReplicaNetwork', { env: { account: '123456789012', region: 'eu-central-1' } });
new AdTrustReplicaStack(app, 'CopiedAdTrustReplica', {
  env: { account: '123456789012', region: 'eu-central-1' },
  primary,
  vpc: existingVpc(replicaScope, 'eu-central-1', 'vpc-0ee55ff66aa77bb88', '10.60.0.0/16', ['subnet-0c3c3c3c3c3c3c3c3', 'subnet-0d4d4d4d4d4d4d4d4']),
  runtimeCodeDir,
});
app.synth();
`,
  check(templates) {
    const p = Object.values<any>(templates.CopiedAdTrustPrimary.Resources);
    const r = Object.values<any>(templates.CopiedAdTrustReplica.Resources);
    expect(p.map((x) => x.Type)).toEqual(
      expect.arrayContaining(['AWS::DirectoryService::MicrosoftAD', 'Custom::ForestTrust', 'AWS::RDS::GlobalCluster', 'AWS::RDS::DBCluster', 'AWS::StepFunctions::StateMachine']),
    );
    expect([...p, ...r].map((x) => x.Type)).not.toContain('AWS::EC2::VPC');
    expect(r.map((x) => x.Type)).toEqual(expect.arrayContaining(['Custom::DirectoryRegion', 'AWS::RDS::DBCluster', 'AWS::RDS::DBInstance']));
    const ad = p.find((x) => x.Type === 'AWS::DirectoryService::MicrosoftAD').Properties;
    expect(ad.Edition).toBe('Enterprise');
    expect(ad.VpcSettings).toMatchObject({ VpcId: 'vpc-0aa11bb22cc33dd44', SubnetIds: ['subnet-0a1a1a1a1a1a1a1a1', 'subnet-0b2b2b2b2b2b2b2b2'] });
    expect(p.find((x) => x.Type === 'Custom::ForestTrust').Properties.SelectiveAuth).toBe('Enabled');
    const secondary = r.find((x) => x.Type === 'AWS::RDS::DBCluster').Properties;
    expect(secondary).toMatchObject({ Engine: 'aurora-mysql', StorageEncrypted: true });
    // The global cluster's identifier (with its per-creation suffix) comes from the primary through a cross-Region reference.
    expect(JSON.stringify(secondary.GlobalClusterIdentifier)).toMatch(/ExportsReader.*RefDatabaseGlobal/);
    expect(secondary.MasterUsername).toBeUndefined();
    const handlers = [...p, ...r].filter((x) => x.Type === 'AWS::Lambda::Function' && x.Properties.Runtime === 'nodejs22.x');
    expect(handlers).toHaveLength(4);
  },
};
