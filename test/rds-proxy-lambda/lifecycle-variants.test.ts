/**
 * The kit's lifecycle rules (test/kit/lifecycle.ts) over prop variants of RdsProxyLambda that the kit-wide
 * registry (test/kit/stacks.ts, cdk.json context only) cannot express: every removal policy the construct
 * accepts, an own key, two instances in one stack, a nested stack — and an operator's own VPC defined in the
 * same stack, which a destroy deletes under the kept cluster.
 */
import { NestedStack, RemovalPolicy, Stack, aws_ec2 as ec2, aws_kms as kms } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Construct } from 'constructs';
import { testApp } from '../helpers/app';
import { RdsProxyLambda } from '../../lib/rds-proxy-lambda/rds-proxy-lambda';
import { isClusterIdentifier } from '../../lib/rds-proxy-lambda/validation';
import { SAMPLE_STACK_IDS, evaluateName, lifecycleFindings } from '../kit/lifecycle';
import { render } from '../kit/iam';

const env = { account: '123456789012', region: 'us-east-1' };
const azs = ['us-east-1a', 'us-east-1b'];
const findings = (s: Stack) => lifecycleFindings(s.stackName, Template.fromStack(s).toJSON() as any).map((f) => `${f.rule} ${f.resource}`);

const variants: Array<[string, (s: Construct) => void]> = [
  ['RETAIN (default)', (s) => new RdsProxyLambda(s, 'P', { availabilityZones: azs })],
  [
    'RETAIN_ON_UPDATE_OR_DELETE, protection off',
    (s) => new RdsProxyLambda(s, 'P', { availabilityZones: azs, clusterProps: { removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE, deletionProtection: false } }),
  ],
  ['SNAPSHOT, protection off', (s) => new RdsProxyLambda(s, 'P', { availabilityZones: azs, clusterProps: { removalPolicy: RemovalPolicy.SNAPSHOT, deletionProtection: false } })],
  ['DESTROY, protection off', (s) => new RdsProxyLambda(s, 'P', { availabilityZones: azs, clusterProps: { removalPolicy: RemovalPolicy.DESTROY, deletionProtection: false } })],
  ['own key', (s) => new RdsProxyLambda(s, 'P', { availabilityZones: azs, encryptionKey: new kms.Key(s, 'OwnKey', { enableKeyRotation: true }) })],
  [
    'two instances in one stack',
    (s) => {
      new RdsProxyLambda(s, 'P', { availabilityZones: azs });
      new RdsProxyLambda(s, 'Q', { availabilityZones: azs, vpcCidr: '10.30.0.0/16' });
    },
  ],
];

describe.each(variants)('%s', (_name, make) => {
  test('no lifecycle finding (no kept resource with a fixed name, every kept resource keeps what it needs, protection only with Retain)', () => {
    const s = new Stack(testApp(), 'Variant', { env });
    make(s);
    expect(findings(s)).toEqual([]);
  });
});

test('RETAIN_ON_UPDATE_OR_DELETE: what the cluster needs follows the same policy (kept on destroy and replacement, deleted with a rolled-back create)', () => {
  const s = new Stack(testApp(), 'Variant', { env });
  new RdsProxyLambda(s, 'P', { availabilityZones: azs, clusterProps: { removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE, deletionProtection: false } });
  const t = Template.fromStack(s).toJSON();
  const policyOf = (type: string) => Object.values<any>(t.Resources).filter((r) => r.Type === type).map((r) => r.DeletionPolicy);
  for (const type of ['AWS::RDS::DBCluster', 'AWS::RDS::DBInstance', 'AWS::RDS::DBSubnetGroup', 'AWS::RDS::DBClusterParameterGroup', 'AWS::EC2::VPC', 'AWS::EC2::Subnet', 'AWS::IAM::Role']) {
    expect([type, ...new Set(policyOf(type).filter((p) => p !== undefined))]).toEqual([type, 'RetainExceptOnCreate']);
  }
});

test('in a nested stack the identifier comes from the nested stack\'s own ID, and the rules hold', () => {
  const parent = new Stack(testApp(), 'Parent', { env });
  const child = new NestedStack(parent, 'Child');
  new RdsProxyLambda(child, 'P', { availabilityZones: azs });
  expect(findings(child)).toEqual([]);
});

describe('an operator VPC defined in the same stack (existingVpc: new ec2.Vpc(...))', () => {
  const build = (retainVpc: boolean) => {
    const s = new Stack(testApp(), 'Byo', { env });
    const vpc = new ec2.Vpc(s, 'TheirVpc', { availabilityZones: azs, subnetConfiguration: [{ name: 'db', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    new RdsProxyLambda(s, 'P', { existingVpc: vpc });
    // The operator's choice, possibly made after the construct exists: the kit checks at synth, not at construction.
    if (retainVpc) for (const c of [vpc, ...vpc.isolatedSubnets]) (c.node.defaultChild as any).applyRemovalPolicy(RemovalPolicy.RETAIN);
    return s;
  };
  const warning = Match.stringLikeRegexp('existingVpc .* is deleted by a destroy of this stack');

  test('the kit does not touch it, so the kept cluster would lose its VPC and subnets on destroy: synth warns with what to do', () => {
    const s = build(false);
    const t = Template.fromStack(s);
    t.hasResource('AWS::EC2::VPC', Match.not(Match.objectLike({ DeletionPolicy: Match.anyValue() })));
    const w = Annotations.fromStack(s).findWarning('*', warning);
    expect(w).toHaveLength(1);
    expect(String(w[0].entry.data)).toMatch(/TheirVpc.*TheirVpc\/dbSubnet1.*TheirVpc\/dbSubnet2.*RemovalPolicy\.RETAIN.*deletionProtection: false/s);
    // The lifecycle rule sees the same thing.
    expect(findings(s)).toEqual(expect.arrayContaining([expect.stringMatching(/^retained-dependency Byo\/PCluster[0-9A-F]+->TheirVpc/)]));
  });

  test('a VPC from another stack of the app (cross-stack reference): the warning names that stack; an imported VPC gets none', () => {
    const app = testApp();
    const net = new Stack(app, 'Network', { env });
    const vpc = new ec2.Vpc(net, 'Shared', { availabilityZones: azs, subnetConfiguration: [{ name: 'db', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    const s = new Stack(app, 'Db', { env });
    new RdsProxyLambda(s, 'P', { existingVpc: vpc });
    const w = Annotations.fromStack(s).findWarning('*', Match.stringLikeRegexp('existingVpc .* is deleted by a destroy of stack Network'));
    expect(w).toHaveLength(1);
    const imported = new Stack(testApp(), 'Imp', { env });
    const ivpc = ec2.Vpc.fromVpcAttributes(imported, 'V', { vpcId: 'vpc-0123456789abcdef1', availabilityZones: azs, isolatedSubnetIds: ['subnet-1', 'subnet-2'], vpcCidrBlock: '10.1.0.0/16' });
    new RdsProxyLambda(imported, 'P', { existingVpc: ivpc });
    expect(Annotations.fromStack(imported).findWarning('*', Match.stringLikeRegexp('is deleted by a destroy'))).toHaveLength(0);
  });

  test('kept by the operator (RemovalPolicy.RETAIN on the VPC and subnets): no warning, no finding', () => {
    const s = build(true);
    expect(Annotations.fromStack(s).findWarning('*', warning)).toHaveLength(0);
    expect(findings(s)).toEqual([]);
  });
});

describe('the default cluster identifier, evaluated under real stack IDs, is a valid DBClusterIdentifier and its log group follows it', () => {
  // https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html (DBClusterIdentifier:
  // 1–63 letters, digits or hyphens; first a letter; no trailing hyphen, no two consecutive hyphens)
  const cases: Array<[string, string]> = [
    ['DbOpsRdsProxyLambda', 'RdsProxyLambda'],
    ['S', '9lives'],
    ['X'.repeat(120), 'Some-Very--Long-Construct-Id-That-Goes-On-And-On-'],
    ['Prod-Stack', 'orders_db-'],
  ];
  const evaluated = (stackName: string, id: string) => {
    const s = new Stack(testApp(), stackName, { env });
    new RdsProxyLambda(new Construct(s, 'Team-'), id, { availabilityZones: azs });
    const t = Template.fromStack(s).toJSON();
    const cluster = Object.values<any>(t.Resources).find((r) => r.Type === 'AWS::RDS::DBCluster');
    const logs = Object.values<any>(t.Resources).filter((r) => r.Type === 'AWS::Logs::LogGroup' && r.Properties.LogGroupName);
    return { expr: cluster.Properties.DBClusterIdentifier, logNames: logs.map((l) => l.Properties.LogGroupName) };
  };
  test.each(cases)('stack %s, construct %s', (stackName, id) => {
    const { expr, logNames } = evaluated(stackName, id);
    const ids = SAMPLE_STACK_IDS.map((sid) => evaluateName(expr, sid)!);
    for (const [i, cid] of ids.entries()) {
      expect(isClusterIdentifier(cid)).toBe(true);
      expect(logNames.map((n) => evaluateName(n, SAMPLE_STACK_IDS[i]))).toEqual([`/aws/rds/cluster/${cid}/postgresql`]);
    }
    // New for a redeploy under a new stack ID.
    expect(ids[0]).not.toBe(ids[1]);
  });
  test('the check catches a broken expression (the ARN head instead of the UUID head)', () => {
    const { expr } = evaluated('S', 'P');
    const broken = JSON.parse(JSON.stringify(expr).replace('{"Fn::Select":[2,', '{"Fn::Select":[0,'));
    expect(isClusterIdentifier(evaluateName(broken, SAMPLE_STACK_IDS[0])!)).toBe(false);
  });
});

test('an own key defined in the app that a destroy schedules for deletion: the kept cluster would become unreadable, so synth warns', () => {
  const build = (policy: RemovalPolicy) => {
    const s = new Stack(testApp(), 'OwnKey', { env });
    const key = new kms.Key(s, 'TheirKey', { enableKeyRotation: true, removalPolicy: policy });
    new RdsProxyLambda(s, 'P', { availabilityZones: azs, encryptionKey: key });
    return s;
  };
  const warning = Match.stringLikeRegexp('encryptionKey .*TheirKey.* is scheduled for deletion by a destroy of this stack');
  const broken = build(RemovalPolicy.DESTROY);
  expect(Annotations.fromStack(broken).findWarning('*', warning)).toHaveLength(1);
  expect(findings(broken)).toEqual(expect.arrayContaining([expect.stringMatching(/^retained-dependency OwnKey\/PCluster[0-9A-F]+->TheirKey/)]));
  const kept = build(RemovalPolicy.RETAIN);
  expect(Annotations.fromStack(kept).findWarning('*', warning)).toHaveLength(0);
  expect(findings(kept)).toEqual([]);
});


// CDK's restrict-default-SG handler RE-ADDS the default security group's rules (all egress, ingress from itself)
// when it gets a Delete event (aws-cdk-lib custom-resource-handlers/dist/aws-ec2/restrict-default-security-group-handler:
// `case "Delete": return grant(...)`). A destroy that keeps the kit VPC must not send it that event, or the kept
// VPC's default security group is open again (Security Hub EC2.2). A custom resource with DeletionPolicy Retain gets
// no Delete event: https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
test.each([
  ['RETAIN (default)', undefined, 'Retain'],
  ['RETAIN_ON_UPDATE_OR_DELETE', RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE, 'RetainExceptOnCreate'],
  ['SNAPSHOT', RemovalPolicy.SNAPSHOT, 'Delete'],
] as const)('%s: the kit VPC\'s default-security-group restriction is kept exactly when the VPC is', (_n, removalPolicy, expected) => {
  const s = new Stack(testApp(), 'Variant', { env });
  new RdsProxyLambda(s, 'P', { availabilityZones: azs, ...(removalPolicy ? { clusterProps: { removalPolicy, deletionProtection: false } } : {}) });
  const t = Template.fromStack(s).toJSON();
  const of = (type: string) => Object.values<any>(t.Resources).filter((r) => r.Type === type).map((r) => r.DeletionPolicy ?? 'Delete');
  expect(of('AWS::EC2::VPC')).toEqual([expected]);
  expect(of('Custom::VpcRestrictDefaultSG')).toEqual([expected]);
});

// The kept key outlives every role of the stack: only a key-policy statement for the account itself keeps it usable and
// administrable (the account's IAM policies then decide), e.g. to restore the kept cluster's snapshots.
// https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam
const accountRootAdmin = (key: any): boolean =>
  (key.Properties.KeyPolicy.Statement as any[]).some(
    (st) =>
      st.Effect === 'Allow' &&
      st.Action === 'kms:*' &&
      !st.Condition &&
      /^arn:aws:iam::(123456789012|\$\{AWS::AccountId\}):root$/.test(render(st.Principal?.AWS)),
  );
test('the kept key stays usable by the account after destroy: an unconditioned kms:* for the account root (and not without it)', () => {
  const s = new Stack(testApp(), 'Variant', { env });
  new RdsProxyLambda(s, 'P', { availabilityZones: azs });
  const keys = Object.values<any>(Template.fromStack(s).toJSON().Resources).filter((r) => r.Type === 'AWS::KMS::Key');
  expect(keys.map((k) => [k.DeletionPolicy, accountRootAdmin(k)])).toEqual([['Retain', true]]);
  const broken = JSON.parse(JSON.stringify(keys[0]));
  broken.Properties.KeyPolicy.Statement = broken.Properties.KeyPolicy.Statement.filter((st: any) => st.Action !== 'kms:*');
  expect(accountRootAdmin(broken)).toBe(false);
});
