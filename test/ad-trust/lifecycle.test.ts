/**
 * Lifecycle of the pattern-4 stacks in the variants the kit-wide check (test/kit/lifecycle.test.ts, over
 * test/kit/stacks.ts) does not synthesize: step 2 of the deploy (createTrust) and aurora-mysql adopting an
 * existing trust and Region. The rules themselves are the kit's (test/kit/lifecycle.ts: no kept resource
 * with a fixed name, a kept resource's dependencies kept at least as long, deletion protection only with
 * Retain, no global-database member CloudFormation would delete), each shown to fail on a broken template
 * in test/kit/lifecycle.test.ts. What stays here is pattern 4's own: which resources it keeps, and the
 * trust's RetainExceptOnCreate.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { adTrustPattern } from '../../bin/ad-trust';
import { PatternContext } from '../../bin/context';
import { testApp } from '../helpers/app';
import { reconcile } from '../kit/findings';
import { lifecycleFindings } from '../kit/lifecycle';
import { Template as KitTemplate } from '../kit/stacks';

type Resources = KitTemplate['Resources'];

function build(overrides: Record<string, unknown>): Stack[] {
  const app = testApp({ context: overrides });
  const ctx = new PatternContext(app, 'adTrust');
  const stacks = adTrustPattern.build(app, ctx, undefined);
  ctx.check();
  return stacks;
}

const VARIANTS: Array<[string, Record<string, unknown>]> = [
  ['cdk.json as committed (step 1)', {}],
  ['step 2: createTrust', { 'adTrust:createTrust': true }],
  ['aurora-mysql with the trust, adopting both', { 'adTrust:engine': 'aurora-mysql', 'adTrust:createTrust': true, 'adTrust:adoptExistingTrust': true, 'adTrust:adoptExistingRegion': true }],
];

describe.each(VARIANTS)('%s', (_name, overrides) => {
  let templates: Array<[string, Resources]>;
  beforeAll(() => {
    templates = build(overrides).map((s) => [s.stackName, Template.fromStack(s).toJSON().Resources as Resources]);
  });

  test('no lifecycle rule is broken in either stack (beyond what test/kit/exceptions.ts accepts)', () => {
    const findings = templates.flatMap(([name, resources]) => lifecycleFindings(name, { Resources: resources }));
    // Entries for other stacks would be stale here; only unexplained findings count.
    expect(reconcile('lifecycle', findings).unexplained).toEqual([]);
  });

  test('kept: the directory, both clusters and their instances, the global cluster, the VPCs and subnets, the keys, secrets and the RDS role; nothing kept has a fixed identifier', () => {
    const kept = (resources: Resources, type: string) => Object.values(resources).filter((r) => r.Type === type).map((r) => r.DeletionPolicy);
    const [[, primary], [, replica]] = templates;
    const unexpected = (resources: Resources, type: string) => Object.entries(resources).filter(([, r]) => r.Type === type && r.DeletionPolicy !== 'Retain').map(([id]) => id);
    expect(unexpected(primary, 'AWS::SecretsManager::Secret')).toEqual([]);
    for (const type of ['AWS::DirectoryService::MicrosoftAD', 'AWS::RDS::GlobalCluster', 'AWS::RDS::DBCluster', 'AWS::RDS::DBInstance', 'AWS::EC2::VPC', 'AWS::EC2::Subnet', 'AWS::KMS::Key', 'AWS::SecretsManager::Secret', 'AWS::RDS::DBSubnetGroup']) {
      expect({ type, policies: [...new Set(kept(primary, type))] }).toEqual({ type, policies: ['Retain'] });
    }
    for (const type of ['AWS::RDS::DBCluster', 'AWS::RDS::DBInstance', 'AWS::EC2::VPC', 'AWS::EC2::Subnet', 'AWS::RDS::DBSubnetGroup', 'AWS::RDS::DBClusterParameterGroup', 'AWS::EC2::SecurityGroup']) {
      expect({ type, policies: [...new Set(kept(replica, type))] }).toEqual({ type, policies: ['Retain'] });
    }
    // The RDS directory role: the kept clusters use it (by name, in both Regions).
    const rdsRoles = Object.values(primary).filter((r) => r.Type === 'AWS::IAM::Role' && JSON.stringify(r.Properties?.ManagedPolicyArns ?? []).includes('AmazonRDSDirectoryServiceAccess'));
    expect(rdsRoles.map((r) => r.DeletionPolicy)).toEqual(['Retain']);
    // The Region is kept on deletion (the kept secondary needs its domain controllers) but removed when its own creation rolls back.
    expect(kept(replica, 'Custom::DirectoryRegion')).toEqual(['RetainExceptOnCreate']);
  });

  test('the trust (when present) is kept when it leaves the stack but removed when its own creation rolls back, with its ingress rules', () => {
    const [[, primary]] = templates;
    const trusts = Object.values(primary).filter((r) => r.Type === 'Custom::ForestTrust');
    if (!overrides['adTrust:createTrust']) {
      expect(trusts).toEqual([]);
      return;
    }
    expect(trusts.map((t) => t.DeletionPolicy)).toEqual(['RetainExceptOnCreate']);
    const ingress = Object.values(primary).filter((r) => r.Type === 'AWS::EC2::SecurityGroupIngress');
    expect(ingress.length).toBeGreaterThan(0);
    for (const r of ingress) expect(r.DeletionPolicy).toBe('RetainExceptOnCreate');
  });
});
