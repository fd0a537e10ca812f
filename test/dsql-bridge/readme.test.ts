/**
 * lib/dsql-bridge/README.md against the templates: the output names it uses exist (and every output
 * is listed), the teardown list is exactly what the template retains, and the DMS account-role
 * commands name the roles and policies the construct itself would create.
 */
import * as fs from 'fs';
import * as path from 'path';
import { testApp } from '../helpers/app';
import { Template } from 'aws-cdk-lib/assertions';
import { DsqlBridgeStack, DsqlBridgeStackProps } from '../../lib/dsql-bridge';

const README = fs.readFileSync(path.join(__dirname, '../../lib/dsql-bridge/README.md'), 'utf8');
const ENV = { account: '123456789012', region: 'us-east-1' };
const SOURCE: DsqlBridgeStackProps['source'] = {
  serverName: 'pg.internal',
  databaseName: 'app',
  secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:dms-source-AbCdEf',
  vpcId: 'vpc-0123456789abcdef0',
  vpcCidr: '10.0.0.0/16',
  availabilityZones: ['us-east-1a', 'us-east-1b'],
  subnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
};

type Cfn = { Resources: Record<string, any>; Outputs: Record<string, any> };
const synth = (props: Omit<DsqlBridgeStackProps, 'env'> = {}) =>
  Template.fromStack(new DsqlBridgeStack(testApp(), 'DbOpsDsqlBridge', { env: ENV, ...props })).toJSON() as Cfn;

/** Rows of the markdown table that follows `heading`, first column without backticks. */
export function tableColumn(md: string, heading: string): string[] {
  const start = md.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`no section "${heading}"`);
  const rest = md.slice(start + heading.length + 2);
  const next = rest.search(/\n## /);
  const rows = (next < 0 ? rest : rest.slice(0, next)).split('\n').filter((l) => l.startsWith('| `'));
  return rows.map((l) => l.split('|')[1].trim().replace(/`/g, ''));
}

/** Output names the prose refers to: `<Name output>` and `OutputKey=='Name'`. */
export function outputReferences(md: string): string[] {
  return [...md.matchAll(/<(\w+) output>/g), ...md.matchAll(/OutputKey=='(\w+)'/g), ...md.matchAll(/`<(\w+Arn)>`|<(\w+Arn)>/g)]
    .map((m) => m[1] ?? m[2])
    .filter((x): x is string => Boolean(x) && x !== 'DLQ');
}

const retainedIds = (t: Cfn) =>
  Object.entries(t.Resources)
    .filter(([, r]) => r.DeletionPolicy === 'Retain')
    .map(([id]) => id.replace(/^DsqlBridge/, '').replace(/[0-9A-F]{8}$/, ''));

describe('lib/dsql-bridge/README.md agrees with the template', () => {
  const plain = synth();
  const full = synth({ source: SOURCE, bridge: { createDmsAccountRoles: true } });

  test('the "Stack outputs" table lists exactly the stack outputs', () => {
    expect(tableColumn(README, '## Stack outputs').sort()).toEqual(Object.keys(plain.Outputs).sort());
    expect(Object.keys(full.Outputs).sort()).toEqual(Object.keys(plain.Outputs).sort());
  });

  test('every output the text refers to exists', () => {
    const refs = outputReferences(README);
    expect(refs.length).toBeGreaterThanOrEqual(4);
    expect(refs.filter((r) => !(r in plain.Outputs))).toEqual([]);
  });

  test('the teardown table is exactly what the template retains (every variant)', () => {
    const listed = tableColumn(README, '## Deploy / teardown').sort();
    expect([...new Set([...retainedIds(plain), ...retainedIds(full)])].sort()).toEqual(listed);
  });

  test('the DMS account-role commands name the roles and managed policies the construct would create', () => {
    const roles = Object.values(full.Resources).filter((r) => r.Type === 'AWS::IAM::Role' && typeof r.Properties.RoleName === 'string');
    expect(roles).toHaveLength(2);
    for (const r of roles) {
      const name = r.Properties.RoleName as string;
      const policy = JSON.stringify(r.Properties.ManagedPolicyArns).match(/policy\/service-role\/(\w+)/)![1];
      expect(README).toContain(`aws iam get-role --role-name ${name} `);
      expect(README).toContain(`aws iam create-role --role-name ${name} `);
      expect(README).toContain(`aws iam attach-role-policy --role-name ${name} --policy-arn arn:aws:iam::aws:policy/service-role/${policy}\n`);
      const trust = README.match(new RegExp(`create-role --role-name ${name} --assume-role-policy-document '([^']+)'`))![1];
      expect(JSON.parse(trust).Statement).toEqual(r.Properties.AssumeRolePolicyDocument.Statement);
    }
  });

  test('the checks catch a stale README', () => {
    const stale = README.replace('| `LoaderRoleArn` |', '| `LoaderRole` |').replace('| `BackfillLogs` |', '| `StateMachineLogs` |');
    expect(tableColumn(stale, '## Stack outputs')).toContain('LoaderRole');
    expect(tableColumn(stale, '## Stack outputs').sort()).not.toEqual(Object.keys(plain.Outputs).sort());
    expect(tableColumn(stale, '## Deploy / teardown')).toContain('StateMachineLogs');
    expect(outputReferences('point your task at the `<S3TargetEndpoint output>`').filter((r) => !(r in plain.Outputs))).toEqual(['S3TargetEndpoint']);
  });
});
