/**
 * Lifecycle rules (test/kit/lifecycle.ts, /work/shared/DESIGN.md "Lifecycle") over every stack and
 * prop variant: no kept resource with a fixed name, a kept resource's dependencies kept too, deletion
 * protection only with Retain, every custom resource's delete path tested.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expectReconciled, mergeVariants, reconcile } from './findings';
import { customResourceFindings, deleteTestsFor, lifecycleFindings } from './lifecycle';
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
