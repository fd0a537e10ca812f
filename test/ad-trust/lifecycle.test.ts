/**
 * Lifecycle rules of ../shared/DESIGN.md as template checks, for every variant of the pattern-4 stacks the
 * app can build (step 1 and step 2 of the deploy, both engines, adopt flags):
 * 1. a resource kept after a destroy or a rollback (Retain / RetainExceptOnCreate) has no fixed physical
 *    name, so a redeploy never collides with it;
 * 2. what a kept resource references (Ref / Fn::GetAtt in its properties) is kept at least as long;
 * 3. deletion protection only where CloudFormation never deletes (Retain): otherwise a rollback or a
 *    stack deletion would end in ROLLBACK_FAILED / DELETE_FAILED;
 * 4. no Snapshot policy on a member of a global cluster (RDS refuses to delete it: DELETE_FAILED).
 * Each rule is shown to fail on a deliberately broken template at the end of this file.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { adTrustPattern } from '../../bin/ad-trust';
import { PatternContext } from '../../bin/context';
import { testApp } from '../helpers/app';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown>; DeletionPolicy?: string; DependsOn?: string[] }>;

/** The property that is the resource's own physical name, per type. */
const NAME_PROPERTY: Record<string, string> = {
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::RDS::GlobalCluster': 'GlobalClusterIdentifier',
  'AWS::RDS::DBCluster': 'DBClusterIdentifier',
  'AWS::RDS::DBInstance': 'DBInstanceIdentifier',
  'AWS::RDS::DBSubnetGroup': 'DBSubnetGroupName',
  'AWS::RDS::DBClusterParameterGroup': 'DBClusterParameterGroupName',
  'AWS::RDS::DBParameterGroup': 'DBParameterGroupName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::SecretsManager::Secret': 'Name',
  'AWS::EC2::SecurityGroup': 'GroupName',
  'AWS::KMS::Alias': 'AliasName',
  'AWS::DirectoryService::MicrosoftAD': 'Name',
};

/**
 * Names that are not unique identifiers. A directory's `Name` is its DNS domain: Directory Service gives
 * every directory its own ID (d-…), and the README's teardown says how to delete the retained one.
 */
const NOT_AN_IDENTIFIER = new Set(['AWS::DirectoryService::MicrosoftAD']);

const STRENGTH: Record<string, number> = { Retain: 2, RetainExceptOnCreate: 1 };

function strength(policy: string | undefined): number {
  return STRENGTH[policy ?? 'Delete'] ?? 0;
}

/**
 * Properties whose references a kept resource does not need to keep existing: the custom-resource
 * ServiceToken (used only while CloudFormation calls it), and principals in a resource policy (a key policy
 * naming a deleted role keeps working for everyone else; IAM shows the role's unique ID instead).
 */
const NOT_NEEDED = new Set(['ServiceToken', 'KeyPolicy', 'PolicyDocument']);

/** Resource IDs referenced (Ref / Fn::GetAtt) anywhere in `value`, except under {@link NOT_NEEDED} properties. */
function references(value: unknown, ids: Set<string>, out = new Set<string>(), key = ''): Set<string> {
  if (NOT_NEEDED.has(key)) return out;
  if (Array.isArray(value)) value.forEach((v) => references(v, ids, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'Ref' && typeof v === 'string' && ids.has(v)) out.add(v);
      else if (k === 'Fn::GetAtt' && Array.isArray(v) && ids.has(v[0])) out.add(v[0]);
      else references(v, ids, out, k);
    }
  }
  return out;
}

/** True when the value is a fixed string: no reference to the stack ID or to any resource of the template. */
function isFixedName(value: unknown, ids: Set<string>): boolean {
  if (value === undefined) return false;
  const json = JSON.stringify(value);
  if (json.includes('"Ref":"AWS::StackId"') || json.includes('"Ref":"AWS::StackName"')) return false;
  return references(value, ids).size === 0;
}

/** A custom resource's attributes are values copied at deploy time (lookups, cross-Region reads): keeping them is not needed. */
function isValueOnly(type: string): boolean {
  return type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource';
}

export function lifecycleProblems(resources: Resources): string[] {
  const ids = new Set(Object.keys(resources));
  const problems: string[] = [];
  const globalMembers = new Set<string>();
  for (const r of Object.values(resources)) {
    if (r.Type === 'AWS::RDS::GlobalCluster') for (const id of references(r.Properties?.SourceDBClusterIdentifier, ids)) globalMembers.add(id);
  }
  for (const [id, r] of Object.entries(resources)) {
    const kept = strength(r.DeletionPolicy);
    if (r.Type === 'AWS::RDS::DBCluster' && r.Properties?.GlobalClusterIdentifier !== undefined) globalMembers.add(id);
    if (kept > 0) {
      const nameProp = NAME_PROPERTY[r.Type];
      if (nameProp && !NOT_AN_IDENTIFIER.has(r.Type) && isFixedName(r.Properties?.[nameProp], ids)) {
        problems.push(`${id} (${r.Type}) is kept (${r.DeletionPolicy}) with the fixed name ${JSON.stringify(r.Properties?.[nameProp])}: a redeploy collides with it`);
      }
      for (const dep of references(r.Properties ?? {}, ids)) {
        const d = resources[dep];
        if (isValueOnly(d.Type)) continue;
        if (strength(d.DeletionPolicy) < kept) {
          problems.push(`${id} (${r.Type}, ${r.DeletionPolicy}) needs ${dep} (${d.Type}), which is ${d.DeletionPolicy ?? 'Delete'}d before it`);
        }
      }
    }
    if (r.Properties?.DeletionProtection === true && r.DeletionPolicy !== 'Retain') {
      problems.push(`${id} (${r.Type}) has deletion protection but DeletionPolicy ${r.DeletionPolicy ?? 'Delete'}: a rollback or stack deletion would fail on it`);
    }
  }
  for (const id of globalMembers) {
    const r = resources[id];
    if (r && (r.DeletionPolicy === 'Snapshot' || r.DeletionPolicy === undefined || r.DeletionPolicy === 'Delete')) {
      problems.push(`${id} is a member of a global cluster with DeletionPolicy ${r.DeletionPolicy ?? 'Delete'}: RDS refuses to delete it (DELETE_FAILED)`);
    }
  }
  return problems;
}


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

  test('no lifecycle rule is broken in either stack', () => {
    for (const [name, resources] of templates) expect({ name, problems: lifecycleProblems(resources) }).toEqual({ name, problems: [] });
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

describe('each rule fails on a deliberately broken template', () => {
  let synthesized: string;
  beforeAll(() => {
    synthesized = JSON.stringify(Template.fromStack(build({ 'adTrust:createTrust': true })[0]).toJSON().Resources);
  });
  const base = (): Resources => JSON.parse(synthesized);
  const find = (r: Resources, type: string) => Object.keys(r).find((id) => r[id].Type === type)!;

  test('a kept log group with a fixed name', () => {
    const r = base();
    const lg = find(r, 'AWS::Logs::LogGroup');
    r[lg] = { ...r[lg], DeletionPolicy: 'Retain', Properties: { ...r[lg].Properties, LogGroupName: '/aws/rds/cluster/db-ops-kit-kerberos-us-east-1/postgresql' } };
    expect(lifecycleProblems(r)).toEqual([expect.stringContaining(`${lg} (AWS::Logs::LogGroup) is kept (Retain) with the fixed name`)]);
  });

  test('a kept global cluster with a fixed identifier', () => {
    const r = base();
    const g = find(r, 'AWS::RDS::GlobalCluster');
    r[g].Properties!.GlobalClusterIdentifier = 'db-ops-kit-kerberos';
    expect(lifecycleProblems(r)).toEqual([expect.stringContaining('with the fixed name "db-ops-kit-kerberos"')]);
  });

  test('a kept cluster whose subnet group or security group is deleted', () => {
    const r = base();
    const sg = find(r, 'AWS::RDS::DBSubnetGroup');
    delete r[sg].DeletionPolicy;
    expect(lifecycleProblems(r)).toEqual([expect.stringMatching(new RegExp(`needs ${sg} \\(AWS::RDS::DBSubnetGroup\\), which is Deleted before it`))]);
  });

  test('a directory whose VPC is deleted', () => {
    const r = base();
    const vpc = find(r, 'AWS::EC2::VPC');
    delete r[vpc].DeletionPolicy;
    expect(lifecycleProblems(r).some((p) => p.includes(`needs ${vpc} (AWS::EC2::VPC)`))).toBe(true);
  });

  test('a kept resource that needs something only kept except on create', () => {
    const r = base();
    const key = find(r, 'AWS::KMS::Key');
    r[key].DeletionPolicy = 'RetainExceptOnCreate';
    expect(lifecycleProblems(r).some((p) => p.includes(`needs ${key} (AWS::KMS::Key), which is RetainExceptOnCreated before it`))).toBe(true);
  });

  test('deletion protection on a cluster CloudFormation may delete (the old Snapshot policy)', () => {
    const r = base();
    const c = find(r, 'AWS::RDS::DBCluster');
    r[c].DeletionPolicy = 'Snapshot';
    const problems = lifecycleProblems(r);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`${c} (AWS::RDS::DBCluster) has deletion protection but DeletionPolicy Snapshot`),
        expect.stringContaining(`${c} is a member of a global cluster with DeletionPolicy Snapshot`),
      ]),
    );
  });
});
