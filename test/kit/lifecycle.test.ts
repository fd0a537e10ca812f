/**
 * Lifecycle rules (test/kit/lifecycle.ts, /work/shared/DESIGN.md "Lifecycle") over every stack and
 * prop variant: no kept resource with a fixed name, a kept resource's dependencies kept too, deletion
 * protection only with Retain, every custom resource's delete path tested.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expectReconciled, mergeVariants, reconcile } from './findings';
import { SAMPLE_STACK_IDS, customResourceFindings, deleteTestsFor, evaluateName, lifecycleFindings, refsOf } from './lifecycle';
import { cloneTemplate, kitStacks } from './stacks';

const stacks = kitStacks();

test('every stack and variant follows the lifecycle rules (or the finding is listed in test/kit/exceptions.ts)', () => {
  const findings = stacks.flatMap((s) => [...lifecycleFindings(s.stackName, s.template), ...customResourceFindings(s.stackName, s.assemblyDir, s.template)].map((f) => ({ ...f, variant: s.variant })));
  expectReconciled(reconcile('lifecycle', mergeVariants(findings)));
});

describe('deliberately broken templates fail', () => {
  const dsql = stacks.find((s) => s.id === 'default/DbOpsDsqlBridge')!;
  const rules = (t: any) => lifecycleFindings('S', t).map((f) => `${f.rule} ${f.resource}`);

  test('a kept bucket with a fixed name; a name derived from another resource is not fixed', () => {
    const t = cloneTemplate(dsql.template);
    t.Resources.BrokenBucket = { Type: 'AWS::S3::Bucket', DeletionPolicy: 'Retain', Properties: { BucketName: 'my-fixed-bucket' } };
    t.Resources.DerivedLogs = { Type: 'AWS::Logs::LogGroup', DeletionPolicy: 'Retain', Properties: { LogGroupName: { 'Fn::Join': ['', ['/x/', { Ref: 'BrokenBucket' }]] } } };
    expect(rules(t)).toContain('retained-fixed-name S/BrokenBucket');
    expect(rules(t)).not.toContain('retained-fixed-name S/DerivedLogs');
  });

  test('a name derived from the stack ID is per deployment, not fixed; one from the stack name is fixed', () => {
    const t = cloneTemplate(dsql.template);
    const fromStackId = { 'Fn::Join': ['-', ['db', { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] }]] };
    t.Resources.PerDeployCluster = { Type: 'AWS::RDS::DBCluster', DeletionPolicy: 'Retain', Properties: { DBClusterIdentifier: fromStackId } };
    t.Resources.StackNameLogs = { Type: 'AWS::Logs::LogGroup', DeletionPolicy: 'Retain', Properties: { LogGroupName: { 'Fn::Join': ['', ['/x/', { Ref: 'AWS::StackName' }]] } } };
    expect(rules(t)).not.toContain('retained-fixed-name S/PerDeployCluster');
    expect(rules(t)).toContain('retained-fixed-name S/StackNameLogs');
  });

  test('a name that merely mentions the stack ID but takes a constant part of it is fixed', () => {
    const t = cloneTemplate(dsql.template);
    const split = (sep: string) => ({ 'Fn::Split': [sep, { Ref: 'AWS::StackId' }] });
    // `arn:aws:cloudformation:us` (the ARN up to the Region's first hyphen) and the stack NAME: the same for a redeploy.
    t.Resources.ArnHeadCluster = { Type: 'AWS::RDS::DBCluster', DeletionPolicy: 'Retain', Properties: { DBClusterIdentifier: { 'Fn::Join': ['-', ['db', { 'Fn::Select': [0, split('-')] }]] } } };
    t.Resources.StackNameLogs = { Type: 'AWS::Logs::LogGroup', DeletionPolicy: 'Retain', Properties: { LogGroupName: { 'Fn::Join': ['', ['/x/', { 'Fn::Select': [1, split('/')] }]] } } };
    t.Resources.SubStackId = { Type: 'AWS::Logs::LogGroup', DeletionPolicy: 'Retain', Properties: { LogGroupName: { 'Fn::Sub': '/x/${AWS::StackId}' } } };
    expect(rules(t)).toEqual(expect.arrayContaining(['retained-fixed-name S/ArnHeadCluster', 'retained-fixed-name S/StackNameLogs']));
    expect(rules(t)).not.toContain('retained-fixed-name S/SubStackId');
  });

  test('evaluateName: the pattern-1 default identifier under real stack IDs (including hyphenated stack names and aws-cn)', () => {
    const head = { 'Fn::Select': [0, { 'Fn::Split': ['-', { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] }] }] };
    const id = { 'Fn::Join': ['', ['dbopsrdsproxylambda-2141dd5f-', head]] };
    expect(evaluateName(id, 'arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/my-db-stack/1c2fa620-34ae-11f0-9b7c-0a1b2c3d4e5f')).toBe('dbopsrdsproxylambda-2141dd5f-1c2fa620');
    expect(evaluateName({ 'Fn::Sub': ['${A}-${AWS::Region}', { A: 'x' }] }, SAMPLE_STACK_IDS[0])).toBe('x-us-east-1');
    // Unknown to the evaluator (a resource reference): no value.
    expect(evaluateName({ 'Fn::Join': ['', [{ Ref: 'Other' }]] }, SAMPLE_STACK_IDS[0])).toBeUndefined();
  });

  test('a kept database whose subnet group, subnet and VPC are deleted on destroy', () => {
    const t = cloneTemplate(dsql.template);
    t.Resources.BrokenVpc = { Type: 'AWS::EC2::VPC', Properties: { CidrBlock: '10.0.0.0/16' } };
    t.Resources.BrokenSubnet = { Type: 'AWS::EC2::Subnet', Properties: { VpcId: { Ref: 'BrokenVpc' }, CidrBlock: '10.0.0.0/24' } };
    t.Resources.BrokenSubnetGroup = { Type: 'AWS::RDS::DBSubnetGroup', DeletionPolicy: 'Retain', Properties: { SubnetIds: [{ Ref: 'BrokenSubnet' }], DBSubnetGroupDescription: 'x' } };
    t.Resources.BrokenDb = { Type: 'AWS::RDS::DBCluster', DeletionPolicy: 'Retain', Properties: { Engine: 'aurora-postgresql', DBSubnetGroupName: { Ref: 'BrokenSubnetGroup' } } };
    expect(rules(t)).toEqual(expect.arrayContaining(['retained-dependency S/BrokenSubnetGroup->BrokenSubnet']));
    t.Resources.BrokenSubnet.DeletionPolicy = 'Retain';
    expect(rules(t)).toEqual(expect.arrayContaining(['retained-dependency S/BrokenSubnetGroup->BrokenVpc', 'retained-dependency S/BrokenDb->BrokenVpc']));
  });

  test('deletion protection with Snapshot or RetainExceptOnCreate fails, with Retain passes', () => {
    const t = cloneTemplate(dsql.template);
    t.Resources.BrokenDb = { Type: 'AWS::RDS::DBCluster', DeletionPolicy: 'Snapshot', Properties: { Engine: 'aurora-postgresql', DeletionProtection: true } };
    t.Resources.BrokenDsql = { Type: 'AWS::DSQL::Cluster', DeletionPolicy: 'RetainExceptOnCreate', Properties: { DeletionProtectionEnabled: true } };
    expect(rules(t)).toEqual(expect.arrayContaining(['deletion-protection S/BrokenDb', 'deletion-protection S/BrokenDsql']));
    t.Resources.BrokenDb.DeletionPolicy = 'Retain';
    expect(rules(t)).not.toContain('deletion-protection S/BrokenDb');
  });

  test('a kept resource needs its dependencies kept at least as long (Retain > RetainExceptOnCreate > Delete)', () => {
    const t = cloneTemplate(dsql.template);
    t.Resources.PartKey = { Type: 'AWS::KMS::Key', DeletionPolicy: 'RetainExceptOnCreate', Properties: {} };
    t.Resources.KeptDb = { Type: 'AWS::RDS::DBCluster', DeletionPolicy: 'Retain', Properties: { KmsKeyId: { 'Fn::GetAtt': ['PartKey', 'Arn'] } } };
    t.Resources.GoneSubnetGroup = { Type: 'AWS::RDS::DBSubnetGroup', Properties: { SubnetIds: [], DBSubnetGroupDescription: 'x' } };
    t.Resources.PartDb = { Type: 'AWS::RDS::DBCluster', DeletionPolicy: 'RetainExceptOnCreate', Properties: { DBSubnetGroupName: { Ref: 'GoneSubnetGroup' }, KmsKeyId: { Ref: 'PartKey' } } };
    expect(rules(t)).toEqual(expect.arrayContaining(['retained-dependency S/KeptDb->PartKey', 'retained-dependency S/PartDb->GoneSubnetGroup']));
    // RetainExceptOnCreate is enough for a RetainExceptOnCreate resource.
    expect(rules(t)).not.toContain('retained-dependency S/PartDb->PartKey');
  });

  test('kept parameter groups and security groups with fixed names', () => {
    const t = cloneTemplate(dsql.template);
    t.Resources.NamedParams = { Type: 'AWS::RDS::DBClusterParameterGroup', DeletionPolicy: 'Retain', Properties: { DBClusterParameterGroupName: 'app-params', Family: 'aurora-postgresql16', Description: 'x', Parameters: {} } };
    t.Resources.NamedSg = { Type: 'AWS::EC2::SecurityGroup', DeletionPolicy: 'Retain', Properties: { GroupName: 'db', GroupDescription: 'x' } };
    expect(rules(t)).toEqual(expect.arrayContaining(['retained-fixed-name S/NamedParams', 'retained-fixed-name S/NamedSg']));
  });

  test('a member of a global database that CloudFormation would delete or snapshot (pattern 4 template)', () => {
    const primary = stacks.find((s) => s.id === 'default/DbOpsAdTrustPrimary')!;
    expect(lifecycleFindings('S', primary.template).filter((f) => f.rule === 'global-member-deleted')).toEqual([]);
    const t = cloneTemplate(primary.template);
    const [clusterId] = Object.entries(t.Resources).find(([, r]) => r.Type === 'AWS::RDS::DBCluster')!;
    t.Resources[clusterId].DeletionPolicy = 'Snapshot';
    expect(rules(t).filter((r) => r.startsWith('global-member-deleted'))).toEqual([`global-member-deleted S/${clusterId}`]);
    const [globalId] = Object.entries(t.Resources).find(([, r]) => r.Type === 'AWS::RDS::GlobalCluster')!;
    t.Resources[globalId].Properties!.GlobalClusterIdentifier = 'db-ops-kit-kerberos';
    expect(rules(t)).toContain(`retained-fixed-name S/${globalId}`);
  });

  test('pattern 1: its kept cluster and log group pass only because of RETAIN and the per-deployment identifier', () => {
    const rds = stacks.find((s) => s.id === 'default/DbOpsRdsProxyLambda')!;
    const mine = (t: any) => rules(t).filter((r) => /RdsProxyLambda(Cluster|PostgresqlLogs)/.test(r));
    expect(mine(rds.template)).toEqual([]);
    const t = cloneTemplate(rds.template);
    const [clusterId] = Object.entries(t.Resources).find(([, r]) => r.Type === 'AWS::RDS::DBCluster')!;
    const [logsId] = Object.entries(t.Resources).find(([, r]) => JSON.stringify(r.Properties?.LogGroupName ?? '').includes('/postgresql'))!;
    // The earlier kit version: Snapshot + protection, identifier and log group from the construct path only.
    t.Resources[clusterId].DeletionPolicy = 'Snapshot';
    t.Resources[clusterId].Properties!.DBClusterIdentifier = 'dbopsrdsproxylambda-2141dd5f';
    t.Resources[logsId].Properties!.LogGroupName = '/aws/rds/cluster/dbopsrdsproxylambda-2141dd5f/postgresql';
    const found = mine(t);
    expect(found).toEqual(expect.arrayContaining([`deletion-protection S/${clusterId}`, `retained-fixed-name S/${logsId}`]));
    // ... and the kept instances would lose their cluster.
    expect(found.filter((r) => r.startsWith('retained-dependency')).length).toBeGreaterThan(0);
    // Kept, but its subnet group deleted under it.
    const t2 = cloneTemplate(rds.template);
    const [subnetGroupId] = Object.entries(t2.Resources).find(([, r]) => r.Type === 'AWS::RDS::DBSubnetGroup')!;
    t2.Resources[subnetGroupId].DeletionPolicy = 'Delete';
    expect(mine(t2)).toContain(`retained-dependency S/${clusterId}->${subnetGroupId}`);
  });

  test('pattern 1: a kept cluster whose master secret or KMS key a destroy deletes', () => {
    const rds = stacks.find((s) => s.id === 'default/DbOpsRdsProxyLambda')!;
    const [clusterId] = Object.entries(rds.template.Resources).find(([, r]) => r.Type === 'AWS::RDS::DBCluster')!;
    const cluster = rds.template.Resources[clusterId];
    const dep = (type: string) => [...refsOf(cluster.Properties, new Set(Object.keys(rds.template.Resources)))].find((d) => rds.template.Resources[d].Type === type)!;
    const secretId = dep('AWS::SecretsManager::Secret');
    const keyId = dep('AWS::KMS::Key');
    expect([secretId, keyId].every(Boolean)).toBe(true);
    expect(rules(rds.template).filter((r) => r.startsWith(`retained-dependency S/${clusterId}`))).toEqual([]);
    for (const gone of [secretId, keyId]) {
      const t = cloneTemplate(rds.template);
      t.Resources[gone].DeletionPolicy = 'Delete';
      delete t.Resources[gone].UpdateReplacePolicy;
      expect(rules(t)).toContain(`retained-dependency S/${clusterId}->${gone}`);
    }
  });

  test('a custom resource whose handler has no Delete test, and an AwsCustomResource that writes without onDelete', () => {
    const rds = stacks.find((s) => s.id === 'default/DbOpsRdsProxyLambda')!;
    // The real bootstrap handler is covered by test/rds-proxy-lambda/bootstrap.test.ts ...
    expect(customResourceFindings(rds.stackName, rds.assemblyDir, rds.template).filter((f) => f.resource.endsWith('Custom::DbOpsAppRole'))).toEqual([]);
    // ... and is not when that test is gone (the search runs over an empty test folder instead).
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'dbops-notests-'));
    try {
      expect(customResourceFindings(rds.stackName, rds.assemblyDir, rds.template, []).map((f) => f.resource)).toContain('DbOpsRdsProxyLambda/Custom::DbOpsAppRole');
      const fake = path.join(empty, 'x.test.ts');
      fs.writeFileSync(fake, "import { handler } from '../../lambda/rds-proxy-query/bootstrap';\ntest('create', () => handler({ RequestType: 'Create' }));\n");
      expect(deleteTestsFor(['lambda/rds-proxy-query/bootstrap'], [fake])).toEqual([]);
      fs.writeFileSync(fake, "import { handler } from '../../lambda/rds-proxy-query/bootstrap';\ntest('delete', () => handler({ RequestType: 'Delete' }));\n");
      expect(deleteTestsFor(['lambda/rds-proxy-query/bootstrap'], [fake])).toEqual([fake]);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
    const t = cloneTemplate(rds.template);
    t.Resources.BrokenAws = { Type: 'Custom::AWS', Properties: { ServiceToken: 'x', Create: '{"service":"SSM","action":"putParameter","parameters":{}}' } };
    expect(customResourceFindings('S', rds.assemblyDir, t).map((f) => f.resource)).toContain('S/BrokenAws');
  });
});
