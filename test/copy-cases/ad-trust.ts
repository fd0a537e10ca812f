import { CopyCase } from '../helpers/copy-app';

export const copyCase: CopyCase = {
  pattern: 'ad-trust',
  folders: ['lib/ad-trust', 'lambda/ad-trust', 'lambda/shared'],
  appSource: `
import { App } from 'aws-cdk-lib';
import { AdTrustPrimaryStack, AdTrustReplicaStack } from './lib/ad-trust';
const app = new App();
const primary = new AdTrustPrimaryStack(app, 'CopiedAdTrustPrimary', {
  env: { account: '123456789012', region: 'eu-west-1' },
  vpcCidr: '10.50.0.0/16',
  availabilityZones: ['eu-west-1a', 'eu-west-1b'],
  domainName: 'aws.corp.example.org',
  replicaRegion: 'eu-central-1',
  replicaVpcCidr: '10.60.0.0/16',
  onPremDomainName: 'corp.example.org',
  onPremDnsIps: ['172.16.0.10'],
  onPremisesCidrs: ['172.16.0.0/12'],
  engine: 'aurora-mysql',
  createTrust: true,
  selectiveAuth: true,
});
new AdTrustReplicaStack(app, 'CopiedAdTrustReplica', {
  env: { account: '123456789012', region: 'eu-central-1' },
  primary,
  vpcCidr: '10.60.0.0/16',
  availabilityZones: ['eu-central-1a', 'eu-central-1b'],
});
app.synth();
`,
  check(templates) {
    const p = Object.values<any>(templates.CopiedAdTrustPrimary.Resources);
    const r = Object.values<any>(templates.CopiedAdTrustReplica.Resources);
    expect(p.map((x) => x.Type)).toEqual(
      expect.arrayContaining(['AWS::DirectoryService::MicrosoftAD', 'Custom::ForestTrust', 'AWS::RDS::GlobalCluster', 'AWS::RDS::DBCluster', 'AWS::StepFunctions::StateMachine']),
    );
    expect(r.map((x) => x.Type)).toEqual(expect.arrayContaining(['Custom::DirectoryRegion', 'AWS::RDS::DBCluster', 'AWS::RDS::DBInstance']));
    expect(p.find((x) => x.Type === 'AWS::DirectoryService::MicrosoftAD').Properties.Edition).toBe('Enterprise');
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
