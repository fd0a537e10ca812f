/**
 * Template layer for pattern 4 (multi-Region Managed AD trust + Kerberos for Aurora Global Database):
 * security-relevant properties of both stacks, synth-time validation of bad props, cdk-nag, snapshots.
 */
import * as fs from 'fs';
import { testApp } from '../helpers/app';
import * as path from 'path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { adTrustPattern } from '../../bin/ad-trust';
import { PatternContext } from '../../bin/context';
import { DirectoryRegionReplication, TRUST_PORTS } from '../../lib/ad-trust/custom-resources';
import { AdTrustPrimaryStack, AdTrustPrimaryStackProps, AdTrustReplicaStack } from '../../lib/ad-trust/stacks';
import { cidrsOverlap } from '../../lib/ad-trust/validation';
import { nagFindings } from '../helpers/nag';

const CDK_CONTEXT = JSON.parse(fs.readFileSync(path.join(__dirname, '../../cdk.json'), 'utf8')).context as Record<string, unknown>;

function contextFor(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const ctx = Object.fromEntries(Object.entries(CDK_CONTEXT).filter(([k]) => k.startsWith('adTrust:')));
  return { ...ctx, ...overrides };
}

/** Builds the pattern exactly as bin/db-ops-kit.ts does, from cdk.json context (+ overrides). */
function buildPattern(app: App, overrides: Record<string, unknown> = {}): Stack[] {
  for (const [k, v] of Object.entries(contextFor(overrides))) app.node.setContext(k, v);
  const ctx = new PatternContext(app, 'adTrust');
  const stacks = adTrustPattern.build(app, ctx, undefined);
  ctx.check();
  return stacks;
}

const BASE: AdTrustPrimaryStackProps = {
  env: { region: 'us-east-1' },
  vpcCidr: '10.10.0.0/16',
  availabilityZones: ['us-east-1a', 'us-east-1b'],
  domainName: 'corp.aws.example.com',
  replicaRegion: 'us-west-2',
  replicaVpcCidr: '10.30.0.0/16',
  onPremDomainName: 'onprem.example.com',
  onPremDnsIps: ['192.168.10.10', '192.168.10.11'],
  onPremisesCidrs: ['192.168.0.0/16'],
  engine: 'aurora-postgresql',
};

function primaryWith(overrides: Partial<AdTrustPrimaryStackProps>): () => AdTrustPrimaryStack {
  return () => new AdTrustPrimaryStack(testApp(), 'P', { ...BASE, ...overrides });
}

describe('the committed cdk.json is deploy step 1: both stacks, nothing outside the account', () => {
  let primary: Template;
  beforeAll(() => {
    expect(CDK_CONTEXT['adTrust:createTrust']).toBe(false);
    expect(CDK_CONTEXT['adTrust:adoptExistingTrust']).toBe(false);
    expect(CDK_CONTEXT['adTrust:adoptExistingRegion']).toBe(false);
    const [p] = buildPattern(testApp());
    primary = Template.fromStack(p);
  });

  test('no trust, no conditional forwarder, no trust handler; the trust password secret exists for the on-premises side', () => {
    expect(Object.keys(primary.findResources('Custom::ForestTrust'))).toHaveLength(0);
    const fns = Object.values<any>(primary.findResources('AWS::Lambda::Function')).map((f) => f.Properties.Description ?? '');
    expect(fns.filter((d) => /Forest trust/.test(d))).toEqual([]);
    // The on-premises DNS servers (which a VPC without a route to on-premises cannot reach) appear only in an output.
    const resources = JSON.stringify(primary.toJSON().Resources);
    expect(resources).not.toContain('192.168.10.10');
    expect(primary.toJSON().Outputs.TrustPasswordSecretArn.Value).toEqual({ Ref: expect.stringMatching(/^TrustPassword/) });
    expect(primary.toJSON().Outputs.TrustId).toBeUndefined();
  });
});

describe('pattern adTrust from cdk.json context, step 2 (createTrust=true, aurora-postgresql)', () => {
  let primary: Template;
  let replica: Template;
  let templates: string[];

  beforeAll(() => {
    const app = testApp();
    const [p, r] = buildPattern(app, { 'adTrust:createTrust': true });
    expect(p.stackName).toBe('DbOpsAdTrustPrimary');
    expect(r.stackName).toBe('DbOpsAdTrustReplica');
    expect(p.region).toBe('us-east-1');
    expect(r.region).toBe('us-west-2');
    primary = Template.fromStack(p);
    replica = Template.fromStack(r);
    templates = [JSON.stringify(primary.toJSON()), JSON.stringify(replica.toJSON())];
  });

  test('AWS Managed Microsoft AD is Enterprise edition with a generated, dynamically referenced Admin password', () => {
    primary.hasResourceProperties('AWS::DirectoryService::MicrosoftAD', {
      Edition: 'Enterprise',
      Name: 'corp.aws.example.com',
      Password: { 'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: Match.stringLikeRegexp('^DirectoryAdminPassword') }, ':SecretString:password::}}']] },
      VpcSettings: Match.objectLike({ SubnetIds: [Match.anyValue(), Match.anyValue()] }),
    });
    primary.hasResource('AWS::DirectoryService::MicrosoftAD', { DeletionPolicy: 'Retain' });
    primary.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ GenerateStringKey: 'password', SecretStringTemplate: '{"username":"Admin"}', PasswordLength: 32 }),
      KmsKeyId: Match.anyValue(),
    });
  });

  test('the trust password appears in no template and in no custom-resource property; only the secret ARN does', () => {
    for (const t of templates) {
      expect(t).not.toMatch(/"TrustPassword"\s*:/);
      // Dynamic references ({{resolve:secretsmanager:…}}) exist only for the directory Admin password,
      // never for the trust secret: the trust password is resolved nowhere in CloudFormation.
      const resolves = t.match(/\{\{resolve:secretsmanager:[^}]*\}\}|"\{\{resolve:secretsmanager:",\{"Ref":"[A-Za-z0-9]+"\}/g) ?? [];
      for (const r of resolves) expect(r).not.toMatch(/"Ref":"TrustPassword/);
    }
    expect(templates[0]).toMatch(/"\{\{resolve:secretsmanager:",\{"Ref":"DirectoryAdminPassword/);
    const trusts = primary.findResources('Custom::ForestTrust');
    expect(Object.keys(trusts)).toHaveLength(1);
    const props = Object.values<any>(trusts)[0].Properties;
    expect(Object.keys(props).sort()).toEqual(['AdoptExisting', 'ConditionalForwarderIpAddrs', 'DirectoryId', 'RemoteDomainName', 'SelectiveAuth', 'ServiceToken', 'TrustPasswordSecretArn']);
    expect(props.AdoptExisting).toBe('false');
    expect(props.TrustPasswordSecretArn).toEqual({ Ref: expect.stringMatching(/^TrustPassword/) });
    expect(props.ConditionalForwarderIpAddrs).toEqual(['192.168.10.10', '192.168.10.11']);
    expect(props.RemoteDomainName).toBe('onprem.example.com');
    expect(props.SelectiveAuth).toBe('Disabled');
    // The generated trust secret has no literal value: Secrets Manager generates it.
    const secret = primary.toJSON().Resources[props.TrustPasswordSecretArn.Ref];
    expect(secret.Properties.SecretString).toBeUndefined();
    expect(secret.Properties.GenerateSecretString.PasswordLength).toBe(32);
    expect(secret.DeletionPolicy).toBe('Retain');
  });

  test('only the onEvent handler may read the trust secret', () => {
    const policies = Object.entries<any>(primary.findResources('AWS::IAM::Policy')).filter(([, p]) =>
      JSON.stringify(p.Properties.PolicyDocument).includes('secretsmanager:GetSecretValue'),
    );
    expect(policies).toHaveLength(1);
    expect(JSON.stringify(policies[0][1].Properties.Roles)).toMatch(/TrustHandlersonEventRole/);
    const read = (policies[0][1].Properties.PolicyDocument.Statement as any[]).find((st) => [st.Action].flat().includes('secretsmanager:GetSecretValue'));
    expect(read.Resource).toEqual({ Ref: expect.stringMatching(/^TrustPassword/) });
    // kms:Decrypt for that role only through Secrets Manager (key policy of the secret's key).
    const keyStatements = Object.values<any>(primary.findResources('AWS::KMS::Key')).flatMap((k) => k.Properties.KeyPolicy.Statement as any[]);
    const decrypt = keyStatements.filter((st) => JSON.stringify(st.Principal ?? {}).includes('TrustHandlersonEventRole'));
    expect(decrypt).toHaveLength(1);
    expect(decrypt[0]).toMatchObject({ Action: 'kms:Decrypt', Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' } } });
  });

  test('trust and Kerberos ports are opened on the directory security group from the on-premises CIDRs only', () => {
    const rules = Object.values<any>(primary.findResources('AWS::EC2::SecurityGroupIngress')).map((r) => r.Properties);
    expect(rules).toHaveLength(TRUST_PORTS.length);
    for (const p of TRUST_PORTS) {
      expect(rules).toContainEqual(expect.objectContaining({ IpProtocol: p.protocol, FromPort: p.from, ToPort: p.to, CidrIp: '192.168.0.0/16' }));
    }
    for (const r of rules) {
      expect(r.CidrIp).toBe('192.168.0.0/16');
      expect(r.GroupId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^DirectorySecurityGroup/), 'DirectoryDescriptions.0.VpcSettings.SecurityGroupId'] });
    }
    expect(rules.map((r) => `${r.IpProtocol}/${r.FromPort}`)).toEqual(expect.arrayContaining(['tcp/88', 'udp/88', 'tcp/53', 'udp/53', 'tcp/389', 'tcp/445', 'tcp/464']));
    // The trust is created only after the ports are open.
    const trust = Object.values<any>(primary.findResources('Custom::ForestTrust'))[0];
    expect(trust.DependsOn.filter((d: string) => d.startsWith('TrustOnPrem'))).toHaveLength(TRUST_PORTS.length);
    // The replica Region's domain controllers get the same rules (clients fail over to them).
    const replicaRules = Object.values<any>(replica.findResources('AWS::EC2::SecurityGroupIngress')).map((r) => r.Properties);
    expect(replicaRules).toHaveLength(TRUST_PORTS.length);
    for (const r of replicaRules) expect(r.GroupId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^DirectoryRegion/), 'SecurityGroupId'] });
  });

  test('database security groups as the Aurora Kerberos setup guide documents: all traffic within the directory\'s VPC and from the directory\'s security group; clients on the database port only', () => {
    for (const [t, directorySg] of [
      [primary, { 'Fn::GetAtt': [expect.stringMatching(/^DirectorySecurityGroup/), 'DirectoryDescriptions.0.VpcSettings.SecurityGroupId'] }],
      [replica, { 'Fn::GetAtt': [expect.stringMatching(/^DirectoryRegionReady/), 'SecurityGroupId'] }],
    ] as const) {
      const sgs = Object.values<any>(t.findResources('AWS::EC2::SecurityGroup')).map((r) => r.Properties);
      expect(sgs).toHaveLength(1);
      const vpcId = Object.keys(t.findResources('AWS::EC2::VPC'))[0];
      const inVpc = { 'Fn::GetAtt': [vpcId, 'CidrBlock'] };
      expect(sgs[0].SecurityGroupIngress).toHaveLength(3);
      expect(sgs[0].SecurityGroupIngress).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ CidrIp: '192.168.0.0/16', FromPort: 5432, ToPort: 5432, IpProtocol: 'tcp' }),
          expect.objectContaining({ CidrIp: inVpc, IpProtocol: '-1' }),
          expect.objectContaining({ SourceSecurityGroupId: directorySg, IpProtocol: '-1' }),
        ]),
      );
      expect(sgs[0].SecurityGroupEgress).toEqual([expect.objectContaining({ CidrIp: inVpc, IpProtocol: '-1' })]);
    }
  });

  test('the directory-access role is trusted by rds.amazonaws.com and directoryservice.rds.amazonaws.com', () => {
    const roles = Object.values<any>(primary.findResources('AWS::IAM::Role')).filter((r) => JSON.stringify(r.Properties.ManagedPolicyArns ?? []).includes('AmazonRDSDirectoryServiceAccess'));
    expect(roles).toHaveLength(1);
    const statements = roles[0].Properties.AssumeRolePolicyDocument.Statement;
    // @aws-cdk/aws-iam:minimizePolicies (cdk.json) may merge the two statements into one with both principals.
    expect(statements.flatMap((s: any) => [s.Principal.Service].flat()).sort()).toEqual(['directoryservice.rds.amazonaws.com', 'rds.amazonaws.com']);
    // Only on behalf of this account (confused-deputy guard).
    for (const st of statements) expect(st).toMatchObject({ Action: 'sts:AssumeRole', Effect: 'Allow', Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } } });
    expect(roles[0].Properties.ManagedPolicyArns).toEqual([{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess']] }]);
  });

  test('Kerberos on both clusters: same directory, the access role, customer-managed keys, TLS required', () => {
    const p = Object.values<any>(primary.findResources('AWS::RDS::DBCluster'))[0];
    expect(p.Properties).toMatchObject({
      Engine: 'aurora-postgresql',
      EngineVersion: '16.6',
      Domain: { Ref: expect.stringMatching(/^Directory/) },
      DomainIAMRoleName: { Ref: expect.stringMatching(/^DirectoryAccessRole/) },
      StorageEncrypted: true,
      KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^DatabaseKey/), 'Arn'] },
      DeletionProtection: true,
      EnableIAMDatabaseAuthentication: true,
    });
    expect(p.DeletionPolicy).toBe('Retain');
    const s = Object.values<any>(replica.findResources('AWS::RDS::DBCluster'))[0];
    expect(s.Properties).toMatchObject({
      Engine: 'aurora-postgresql',
      EngineVersion: '16.6',
      StorageEncrypted: true,
      KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^DatabaseKey/), 'Arn'] },
      DeletionProtection: true,
    });
    // Same directory ID and role, carried across Regions by CDK's cross-Region references (SSM).
    expect(JSON.stringify(s.Properties.Domain)).toMatch(/ExportsReader.*RefDirectory/);
    expect(JSON.stringify(s.Properties.DomainIAMRoleName)).toMatch(/ExportsReader.*RefDirectoryAccessRole/);
    expect(JSON.stringify(s.Properties.GlobalClusterIdentifier)).toMatch(/ExportsReader.*RefDatabaseGlobal/);
    expect(s.DeletionPolicy).toBe('Retain');
    for (const t of [primary, replica]) t.hasResourceProperties('AWS::RDS::DBClusterParameterGroup', { Parameters: { 'rds.force_ssl': '1' } });
    primary.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    replica.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  test('the secondary carries no master credentials', () => {
    const s = Object.values<any>(replica.findResources('AWS::RDS::DBCluster'))[0].Properties;
    for (const k of ['MasterUsername', 'MasterUserPassword', 'ManageMasterUserPassword', 'MasterUserSecret', 'SnapshotIdentifier']) expect(s[k]).toBeUndefined();
    expect(Object.keys(replica.findResources('AWS::SecretsManager::Secret'))).toHaveLength(0);
  });

  test('the global cluster is created from the primary and kept', () => {
    primary.hasResource('AWS::RDS::GlobalCluster', {
      Properties: { GlobalClusterIdentifier: { 'Fn::Join': ['-', ['db-ops-kit-kerberos', Match.objectLike({ 'Fn::Select': Match.anyValue() })]] }, SourceDBClusterIdentifier: Match.anyValue(), DeletionProtection: true },
      DeletionPolicy: 'Retain',
    });
    // The suffix is the first group of the stack ID's UUID: new for every creation of the stack.
    const id = Object.values<any>(primary.findResources('AWS::RDS::GlobalCluster'))[0].Properties.GlobalClusterIdentifier['Fn::Join'][1][1];
    expect(JSON.stringify(id)).toContain('"Ref":"AWS::StackId"');
  });

  test('AddRegion: a chain of custom resources waits >= 180 minutes in total, each under CloudFormation\'s one-hour limit; the secondary waits for the last', () => {
    const region = Object.entries<any>(replica.findResources('Custom::DirectoryRegion'));
    expect(region).toHaveLength(1);
    const [regionId, res] = region[0];
    expect(res.Properties).toMatchObject({ PrimaryRegion: 'us-east-1', RegionName: 'us-west-2', VpcId: { Ref: expect.any(String) }, Stage: 'replicate', AdoptExisting: 'false' });
    expect(res.DeletionPolicy).toBe('RetainExceptOnCreate');
    expect(res.Properties.SubnetIds).toHaveLength(2);
    const waits = Object.entries<any>(replica.findResources('Custom::DirectoryRegionWait'));
    const ready = Object.entries<any>(replica.findResources('Custom::DirectoryRegionReady'));
    expect(ready).toHaveLength(1);
    const chain = [[regionId, res], ...waits.sort(([a], [b]) => a.localeCompare(b)), ready[0]];
    expect(chain).toHaveLength(4);
    const [readyId, readyRes] = ready[0];
    expect(readyRes.Properties).toMatchObject({ Stage: 'wait', SoftDeadlineSeconds: '0', RegionName: 'us-west-2', ReplicateId: { Ref: regionId } });
    // Each link depends on the one before it (and so is deleted before it: the waits let a Region being built finish first).
    // (by DependsOn, or by a Ref in its properties, which CloudFormation orders the same way; cfn-lint W3005
    // flags a DependsOn that repeats a Ref).
    const dependsOn = (r: any, on: string) => [...(r.DependsOn ?? []), ...(JSON.stringify(r.Properties).includes(`{"Ref":"${on}"}`) ? [on] : [])];
    for (let i = 1; i < chain.length; i++) expect(dependsOn(chain[i][1], chain[i - 1][0])).toContain(chain[i - 1][0]);
    const round = Number(res.Properties.RoundSeconds);
    for (const [, r] of chain) {
      expect(r.Properties.ServiceToken).toEqual(res.Properties.ServiceToken);
      expect(Number(r.Properties.RoundSeconds)).toBe(round);
      expect(r.Properties.ServiceTimeout ?? 3600).toBeLessThanOrEqual(3600);
    }
    // Every link hands over 5 minutes before its deadline; the last one then fails with the Region's status
    // (lambda/ad-trust/add-region-handler.ts) instead of the bare framework timeout. The polling adds up to >= 180 minutes.
    const polledSeconds = chain.reduce((sum, [, r]) => sum + (Number(r.Properties.SoftDeadlineSeconds) || round - 300), 0);
    expect(polledSeconds).toBeGreaterThanOrEqual(180 * 60);
    expect(round).toBeLessThanOrEqual(55 * 60);
    const sm = Object.values<any>(replica.findResources('AWS::StepFunctions::StateMachine'))[0];
    const def = JSON.stringify(sm.Properties.DefinitionString);
    expect(def).toMatch(/\\"IntervalSeconds\\":60/);
    expect(def).toContain(`\\"MaxAttempts\\":${round / 60}`); // one-minute polls per resource: under the one-hour limit
    expect(sm.Properties.LoggingConfiguration.Level).toBe('ALL');
    const cluster = Object.values<any>(replica.findResources('AWS::RDS::DBCluster'))[0];
    // The last link of the chain, which itself follows every link back to the replicate resource.
    expect(cluster.DependsOn).toContain(readyId);
    // DNS IPs and the security group come from the resource that completes only when the Region is Active.
    expect(JSON.stringify(replica.toJSON().Outputs.ReplicaDnsIps.Value)).toContain(readyId);
    const fns = Object.values<any>(replica.findResources('AWS::Lambda::Function')).filter((f) => /Replicate directory/.test(f.Properties.Description ?? ''));
    expect(fns).toHaveLength(2);
    for (const f of fns) {
      expect(f.Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], TracingConfig: { Mode: 'Active' } });
    }
  });

  test('pollers (isComplete) get separate roles without the onEvent writes: the trust poller only reads, the Region poller may only remove', () => {
    const actionsByRole = (t: Template) => {
      const out: Record<string, string[]> = {};
      for (const p of Object.values<any>(t.findResources('AWS::IAM::Policy'))) {
        for (const role of p.Properties.Roles) {
          const name = role.Ref as string;
          out[name] = [...(out[name] ?? []), ...(p.Properties.PolicyDocument.Statement as any[]).flatMap((st) => [st.Action].flat())];
        }
      }
      return out;
    };
    const WRITE = /^(ds:(Create|Delete|Update|Add|Remove|Reset|Enable|Disable)|ec2:(Create|Delete|Authorize|Revoke|Modify)|secretsmanager:GetSecretValue)/;
    const p = actionsByRole(primary);
    const trustPoller = Object.keys(p).find((r) => /^TrustHandlersisCompleteRole/.test(r))!;
    const trustWriter = Object.keys(p).find((r) => /^TrustHandlersonEventRole/.test(r))!;
    expect(p[trustPoller].filter((a) => a.startsWith('ds:'))).toEqual(['ds:DescribeTrusts']);
    expect(p[trustPoller].filter((a) => WRITE.test(a))).toEqual([]);
    expect(p[trustWriter]).toEqual(expect.arrayContaining(['ds:CreateTrust', 'ds:DeleteTrust', 'ds:DescribeTrusts']));
    const r = actionsByRole(replica);
    const regionPoller = Object.keys(r).find((x) => /^DirectoryRegionHandlersisCompleteRole/.test(x))!;
    const regionWriter = Object.keys(r).find((x) => /^DirectoryRegionHandlersonEventRole/.test(x))!;
    // The one write of the Region poller: RemoveRegion (and the EC2 deletes it needs) for a Region whose removal waited for it to become Active.
    expect(r[regionPoller].filter((a) => WRITE.test(a)).sort()).toEqual(['ds:RemoveRegion', 'ec2:DeleteNetworkInterface', 'ec2:DeleteSecurityGroup', 'ec2:RevokeSecurityGroupEgress', 'ec2:RevokeSecurityGroupIngress']);
    expect(r[regionPoller]).not.toContain('ds:AddRegion');
    expect(r[regionWriter]).toEqual(expect.arrayContaining(['ds:AddRegion', 'ds:RemoveRegion', 'ec2:CreateNetworkInterface']));
  });

  test('every AWS call in the handler code is allowed to the role that makes it (commands read from lambda/ad-trust/*.ts, so a new call without IAM fails here)', () => {
    const actionsByRole = (t: Template) => {
      const out: Record<string, string[]> = {};
      for (const pol of Object.values<any>(t.findResources('AWS::IAM::Policy'))) {
        for (const role of pol.Properties.Roles) out[role.Ref] = [...(out[role.Ref] ?? []), ...(pol.Properties.PolicyDocument.Statement as any[]).flatMap((st) => [st.Action].flat())];
      }
      return out;
    };
    const calls = (file: string) => {
      const src = fs.readFileSync(path.join(__dirname, '../../lambda/ad-trust', file), 'utf8');
      const prefix = (cmd: string) => (/SecretValue/.test(cmd) ? 'secretsmanager' : 'ds');
      return [...new Set([...src.matchAll(/new (\w+)Command\(/g)].map((m) => `${prefix(m[1])}:${m[1]}`))].sort();
    };
    const role = (byRole: Record<string, string[]>, re: RegExp) => byRole[Object.keys(byRole).find((r) => re.test(r))!];
    const p = actionsByRole(primary);
    const r = actionsByRole(replica);
    // onEvent runs every function of the module; the pollers only the reads (and RemoveRegion for the Region poller).
    expect(calls('trust.ts')).toEqual(['ds:CreateTrust', 'ds:DeleteTrust', 'ds:DescribeTrusts', 'ds:UpdateConditionalForwarder', 'ds:UpdateTrust', 'secretsmanager:GetSecretValue']);
    expect(role(p, /^TrustHandlersonEventRole/)).toEqual(expect.arrayContaining(calls('trust.ts')));
    expect(role(p, /^TrustHandlersisCompleteRole/)).toEqual(expect.arrayContaining(['ds:DescribeTrusts']));
    expect(role(r, /^DirectoryRegionHandlersonEventRole/)).toEqual(expect.arrayContaining(calls('add-region.ts')));
    expect(role(r, /^DirectoryRegionHandlersisCompleteRole/)).toEqual(expect.arrayContaining(['ds:DescribeRegions', 'ds:DescribeDirectories', 'ds:RemoveRegion']));
  });

  test('IAM of the handlers follows the Service Authorization Reference: list/read actions without resource-level permissions get "*"', () => {
    const statements = (t: Template) =>
      Object.values<any>(t.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement as any[]);
    const actionsOf = (st: any) => [st.Action].flat();
    // ds:DescribeDirectories (List) and ds:DescribeTrusts (Read) have no resource types: scoped to an ARN they are denied.
    for (const [t, action] of [[replica, 'ds:DescribeDirectories'], [primary, 'ds:DescribeTrusts']] as const) {
      const withAction = statements(t).filter((st) => actionsOf(st).includes(action));
      expect(withAction.length).toBeGreaterThan(0);
      for (const st of withAction) expect(st.Resource).toBe('*');
    }
    // Writes stay scoped to the directory.
    for (const action of ['ds:CreateTrust', 'ds:DeleteTrust']) {
      const st = statements(primary).find((x) => actionsOf(x).includes(action))!;
      expect(JSON.stringify(st.Resource)).toContain(':directory/');
      expect(st.Resource).not.toBe('*');
    }
    for (const action of ['ds:AddRegion', 'ds:RemoveRegion', 'ds:DescribeRegions']) {
      const st = statements(replica).find((x) => actionsOf(x).includes(action))!;
      expect(st.Resource).not.toBe('*');
      expect(JSON.stringify(st.Resource)).toContain(':ds:us-east-1:');
      expect(JSON.stringify(st.Resource)).toContain(':ds:us-west-2:');
    }
    // AddRegion/RemoveRegion need the EC2 calls that build and remove the domain controllers' ENIs and group.
    const ec2 = statements(replica).find((x) => actionsOf(x).includes('ec2:CreateNetworkInterface'))!;
    expect(actionsOf(ec2)).toEqual(expect.arrayContaining(['ec2:CreateSecurityGroup', 'ec2:AuthorizeSecurityGroupIngress', 'ec2:DeleteNetworkInterface', 'ec2:DeleteSecurityGroup', 'ec2:DescribeSubnets', 'ec2:DescribeVpcs']));
    expect(ec2.Condition).toEqual({ StringEquals: { 'aws:RequestedRegion': ['us-west-2', 'us-east-1'] } });
  });

  test('primary: flow logs and the directory security group lookup log with the directory key, whose policy lets CloudWatch Logs of this account use it (CT.CLOUDWATCH.PR.3)', () => {
    const groups = primary.findResources('AWS::Logs::LogGroup');
    const keyOf = (re: RegExp) => groups[Object.keys(groups).find((id) => re.test(id))!].Properties.KmsKeyId;
    for (const re of [/^FlowLogs/, /^DirectorySecurityGroupLogs/]) expect(keyOf(re)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^DirectoryKey/), 'Arn'] });
    const keys = primary.findResources('AWS::KMS::Key');
    const dirKey = keys[Object.keys(keys).find((id) => /^DirectoryKey/.test(id))!];
    const logsSt = dirKey.Properties.KeyPolicy.Statement.filter((st: any) => st.Principal?.Service === 'logs.us-east-1.amazonaws.com');
    expect(logsSt).toHaveLength(1);
    expect(JSON.stringify(logsSt[0].Condition)).toContain('kms:EncryptionContext:aws:logs:arn');
  });

  test('replica: flow logs and the Region-replication handler, provider and waiter logs with the replica logs key (CT.CLOUDWATCH.PR.3)', () => {
    const groups = replica.findResources('AWS::Logs::LogGroup');
    const ids = Object.keys(groups).filter((id) => /^FlowLogs|^DirectoryRegionHandlers/.test(id));
    expect(ids).toHaveLength(5);
    for (const id of ids) expect(groups[id].Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^LogsKey/), 'Arn'] });
    const keys = replica.findResources('AWS::KMS::Key');
    const logsKey = keys[Object.keys(keys).find((id) => /^LogsKey/.test(id))!];
    expect(logsKey.DeletionPolicy).toBe('Retain');
    const st = logsKey.Properties.KeyPolicy.Statement;
    expect(st.filter((x: any) => x.Principal?.Service === 'logs.us-west-2.amazonaws.com' && JSON.stringify(x.Condition).includes('kms:EncryptionContext:aws:logs:arn'))).toHaveLength(1);
    expect(st.some((x: any) => x.Effect === 'Deny' && x.Action === 'kms:CreateGrant')).toBe(true);
  });

  test('every log group has a retention', () => {
    for (const t of [primary, replica]) {
      for (const lg of Object.values<any>(t.findResources('AWS::Logs::LogGroup'))) expect(lg.Properties.RetentionInDays).toBeGreaterThan(0);
    }
    // Named after the cluster, whose identifier carries the per-creation suffix; the same expression in both places.
    for (const t of [primary, replica]) {
      const cluster = Object.values<any>(t.findResources('AWS::RDS::DBCluster'))[0].Properties.DBClusterIdentifier;
      t.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: { 'Fn::Join': ['', ['/aws/rds/cluster/', cluster, '/postgresql']] } });
      expect(JSON.stringify(cluster)).toContain('"Ref":"AWS::StackId"');
    }
  });

  test('outputs feed the krb5.conf generator', () => {
    expect(Object.keys(primary.toJSON().Outputs)).toEqual(
      expect.arrayContaining(['DirectoryId', 'DirectoryDomainName', 'DirectoryDnsIps', 'OnPremDomainName', 'OnPremDnsIps', 'DatabaseEngine', 'PrimaryClusterEndpoint', 'TrustPasswordSecretArn']),
    );
    expect(Object.keys(replica.toJSON().Outputs)).toEqual(expect.arrayContaining(['ReplicaDnsIps', 'SecondaryClusterEndpoint', 'SecondaryReaderEndpoint']));
  });

  test('the VPC CIDRs of the two Regions do not overlap', () => {
    const a = Object.values<any>(primary.findResources('AWS::EC2::VPC'))[0].Properties.CidrBlock;
    const b = Object.values<any>(replica.findResources('AWS::EC2::VPC'))[0].Properties.CidrBlock;
    expect(cidrsOverlap(a, b)).toBe(false);
  });

  test('snapshots', () => {
    expect(primary.toJSON()).toMatchSnapshot();
    expect(replica.toJSON()).toMatchSnapshot();
  });
});

describe('aurora-mysql and options', () => {
  test('aurora-mysql engine with TLS enforced and Kerberos on both clusters; createTrust=false leaves no trust but keeps the secret', () => {
    const app = testApp();
    const [p, r] = buildPattern(app, { 'adTrust:engine': 'aurora-mysql', 'adTrust:createTrust': 'false' });
    const primaryLookups = Object.keys(Template.fromStack(p).findResources('Custom::AWS'));
    expect(primaryLookups).toHaveLength(1); // the directory security group (the database security group accepts it)
    const primary = Template.fromStack(p);
    const replica = Template.fromStack(r);
    for (const t of [primary, replica]) {
      t.hasResourceProperties('AWS::RDS::DBCluster', { Engine: 'aurora-mysql', EngineVersion: '8.0.mysql_aurora.3.08.0', Domain: Match.anyValue(), DomainIAMRoleName: Match.anyValue() });
      t.hasResourceProperties('AWS::RDS::DBClusterParameterGroup', { Parameters: { require_secure_transport: 'ON' } });
    }
    expect(Object.keys(primary.findResources('Custom::ForestTrust'))).toHaveLength(0);
    // The trust secret exists already, so the on-premises side can be set up before the AWS side.
    expect(primary.toJSON().Outputs.TrustPasswordSecretArn.Value).toEqual({ Ref: expect.stringMatching(/^TrustPassword/) });
    expect(primary.toJSON().Outputs.TrustId).toBeUndefined();
  });

  test('selective authentication is passed to CreateTrust', () => {
    const stack = primaryWith({ selectiveAuth: true, createTrust: true })();
    Template.fromStack(stack).hasResourceProperties('Custom::ForestTrust', { SelectiveAuth: 'Enabled' });
  });
});

describe('another Region pair (break-it review)', () => {
  test('eu-west-1 -> eu-central-1: the Region handlers are scoped to those two Regions (DS ARNs and aws:RequestedRegion), nothing still names us-east-1/us-west-2', () => {
    const [p, r] = buildPattern(testApp(), {
      'adTrust:primaryRegion': 'eu-west-1',
      'adTrust:replicaRegion': 'eu-central-1',
      'adTrust:primaryAvailabilityZones': 'eu-west-1a,eu-west-1b',
      'adTrust:replicaAvailabilityZones': 'eu-central-1a,eu-central-1b',
      'adTrust:createTrust': true,
    });
    expect([p.region, r.region]).toEqual(['eu-west-1', 'eu-central-1']);
    const replica = Template.fromStack(r);
    const statements = Object.values<any>(replica.findResources('AWS::IAM::Policy')).flatMap((x) => x.Properties.PolicyDocument.Statement as any[]);
    const add = statements.find((st) => [st.Action].flat().includes('ds:AddRegion'));
    expect(JSON.stringify(add.Resource)).toContain(':ds:eu-west-1:');
    expect(JSON.stringify(add.Resource)).toContain(':ds:eu-central-1:');
    const ec2 = statements.find((st) => [st.Action].flat().includes('ec2:CreateNetworkInterface'));
    expect(ec2.Condition).toEqual({ StringEquals: { 'aws:RequestedRegion': ['eu-central-1', 'eu-west-1'] } });
    replica.hasResourceProperties('Custom::DirectoryRegion', { PrimaryRegion: 'eu-west-1', RegionName: 'eu-central-1' });
    for (const t of [Template.fromStack(p), replica]) expect(JSON.stringify(t.toJSON())).not.toMatch(/us-east-1|us-west-2/);
  });

  test('an opt-in primary Region (ap-east-1) fails synth naming the Region', () => {
    expect(() => buildPattern(testApp(), { 'adTrust:primaryRegion': 'ap-east-1', 'adTrust:primaryAvailabilityZones': 'ap-east-1a,ap-east-1b' })).toThrow(/ap-east-1/);
  });
});

describe('bad props fail synth with a clear message', () => {
  test('Standard edition with a replica Region', () => {
    expect(primaryWith({ edition: 'Standard' })).toThrow(/P\/Directory: invalid props:[\s\S]*edition Standard cannot be replicated to other Regions \(us-west-2\)/);
  });

  test('custom-resource waits longer than CloudFormation allows', () => {
    const build = (total: number) => () => {
      const stack = new Stack(testApp(), 'R', { env: { region: 'us-west-2' } });
      const vpc = new ec2.Vpc(stack, 'Vpc', { availabilityZones: ['us-west-2a', 'us-west-2b'], natGateways: 0, subnetConfiguration: [{ name: 'D', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
      new DirectoryRegionReplication(stack, 'Region', { directoryId: 'd-1234567890', primaryRegion: 'us-east-1', vpc, totalTimeout: Duration.minutes(total) });
    };
    expect(build(301)).toThrow(/R\/Region: invalid props:[\s\S]*totalTimeout must be 10 to 300 minutes .*CloudFormation stops a custom resource after one hour/);
    expect(build(5)).toThrow(/totalTimeout must be 10 to 300 minutes/);
    expect(build(300)).not.toThrow();
  });

  test('an opt-in replica Region (no multi-Region replication there)', () => {
    expect(primaryWith({ replicaRegion: 'eu-south-1' })).toThrow(/replica Region eu-south-1 is an opt-in Region; Directory Service multi-Region replication is unavailable there/);
    expect(primaryWith({ replicaRegion: 'eu-west-1' })).not.toThrow();
  });

  test('overlapping CIDRs (primary/replica, and VPC/on-premises)', () => {
    expect(primaryWith({ replicaVpcCidr: '10.10.128.0/17' })).toThrow(/primary vpcCidr 10\.10\.0\.0\/16 overlaps replicaVpcCidr 10\.10\.128\.0\/17/);
    expect(primaryWith({ onPremisesCidrs: ['10.0.0.0/8'] })).toThrow(/overlaps onPremisesCidrs\[0\] 10\.0\.0\.0\/8/);
    const app = testApp();
    const p = new AdTrustPrimaryStack(app, 'P', BASE);
    expect(() => new AdTrustReplicaStack(app, 'R', { env: { region: 'us-west-2' }, primary: p, vpcCidr: '10.10.0.0/24' })).toThrow(
      /R: invalid props:[\s\S]*replica vpcCidr 10\.10\.0\.0\/24 overlaps primary vpcCidr 10\.10\.0\.0\/16/,
    );
  });

  test('more than 4 on-premises DNS IPs', () => {
    expect(primaryWith({ createTrust: true, onPremDnsIps: ['192.168.1.1', '192.168.1.2', '192.168.1.3', '192.168.1.4', '192.168.1.5'] })).toThrow(
      /P\/Trust: invalid props:[\s\S]*remoteDnsIps takes 1 to 4 on-premises DNS server addresses/,
    );
    expect(primaryWith({ createTrust: true, onPremDnsIps: ['192.168.1.300'] })).toThrow(/remoteDnsIps entry "192\.168\.1\.300" is not an IPv4 address/);
  });

  test('malformed domain names', () => {
    expect(primaryWith({ domainName: 'corp' })).toThrow(/domainName "corp" must be a fully qualified domain name/);
    expect(primaryWith({ domainName: 'bad_name.example.com' })).toThrow(/domainName "bad_name\.example\.com"/);
    expect(primaryWith({ onPremDomainName: '-onprem.example.com' })).toThrow(/onPremDomainName "-onprem\.example\.com" must be a fully qualified domain name/);
    expect(primaryWith({ onPremDomainName: 'corp.aws.example.com' })).toThrow(/domainName and onPremDomainName must differ/);
  });

  test('same Region for both stacks, 0.0.0.0/0 on-premises, vpc and vpcCidr together', () => {
    expect(primaryWith({ replicaRegion: 'us-east-1' })).toThrow(/replicaRegion must differ from the stack's Region us-east-1/);
    expect(primaryWith({ onPremisesCidrs: ['0.0.0.0/0'] })).toThrow(/overlaps|must not contain 0\.0\.0\.0\/0/);
    const app = testApp();
    const vpcStack = new Stack(app, 'V', { env: { region: 'us-east-1' } });
    const vpc = new ec2.Vpc(vpcStack, 'Vpc');
    expect(() => new AdTrustPrimaryStack(app, 'P', { ...BASE, vpc })).toThrow(/give either vpc \(bring your own\) or vpcCidr \(a new VPC\), not both/);
  });

  test('bad cdk.json context names every bad key', () => {
    expect(() => buildPattern(testApp(), { 'adTrust:engine': 'oracle', 'adTrust:onPremDnsIps': 'dns1', 'adTrust:primaryRegion': 'mars' })).toThrow(
      /adTrust:primaryRegion[\s\S]*adTrust:onPremDnsIps[\s\S]*adTrust:engine/,
    );
  });
});

test('cdk-nag (AwsSolutions + Serverless) has no unacknowledged finding in either stack, for both engines', () => {
  expect(nagFindings((app) => buildPattern(app))).toEqual([]);
  expect(nagFindings((app) => buildPattern(app, { 'adTrust:createTrust': true }))).toEqual([]);
  expect(nagFindings((app) => buildPattern(app, { 'adTrust:engine': 'aurora-mysql', 'adTrust:createTrust': true }))).toEqual([]);
});
