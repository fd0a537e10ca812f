/**
 * Issue 8, IAM scoped by the run's tag instead of name prefixes (lib/kms-key-change grantStepPermissions).
 *
 * - Template: in every variant (instance/cluster, snapshot/blue-green, cross-Region, share) no Allow
 *   statement of the Steps role grants an RDS write on an RDS database/cluster/snapshot/deployment
 *   without the run-tag condition (test/kms-key-change/issue8-iam-scope.ts); a template with the
 *   condition removed fails the check.
 * - Evaluation (test/kit/iam.ts evaluate(), IAM's rules for Allow/conditions): a database that only
 *   shares the name prefix cannot be modified, snapshotted or given the run tag; the source gets the
 *   run tag (and the lock) only on its exact ARN and only with those two keys; resources carrying the
 *   tag can be renamed, and creates need the tag in the request.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { KmsKeyChangeStack, KmsKeyChangeStackProps } from '../../lib/kms-key-change';
import { testApp } from '../helpers/app';
import { evaluate, IamRequest, roleStatements, Statement } from '../kit/iam';
import { untaggedRdsWrites } from './issue8-iam-scope';

const env = { account: '123456789012', region: 'us-east-1' };
const SRC = 'arn:aws:kms:us-east-1:123456789012:key/1111aaaa-2222-bbbb-3333-cccc4444dddd';
const TGT = 'arn:aws:kms:us-east-1:123456789012:key/5555eeee-6666-ffff-7777-888899990000';
const base: KmsKeyChangeStackProps = { env, dbInstanceIdentifier: 'orders-db', sourceKeyArn: SRC, targetKeyArn: TGT };

function stepsStatements(props: Partial<KmsKeyChangeStackProps> = {}): Statement[] {
  const t = Template.fromStack(new KmsKeyChangeStack(testApp(), 'DbOpsKmsKeyChange', { ...base, ...props })).toJSON() as any;
  const fns = Object.entries(t.Resources).filter(([, r]: [string, any]) => r.Type === 'AWS::Lambda::Function' && /Steps/.test(JSON.stringify(r.Properties.Role)));
  expect(fns.length).toBeGreaterThan(0);
  return fns.flatMap(([, r]: [string, any]) => roleStatements(t, r.Properties.Role['Fn::GetAtt'][0]));
}

const cluster = { dbInstanceIdentifier: undefined, dbClusterIdentifier: 'orders-db' };
const west = { targetRegion: 'us-west-2', targetKeyArn: TGT.replace('us-east-1', 'us-west-2'), targetSecurityGroupIds: ['sg-0abc'] };
const VARIANTS: Record<string, Partial<KmsKeyChangeStackProps>> = {
  'instance, snapshot': {},
  'cluster, snapshot': cluster,
  'instance, cross-Region': west,
  'cluster, cross-Region': { ...cluster, ...west },
  'instance, share': { shareWithAccount: '210987654321' },
  'instance, blue-green': { method: 'blue-green' },
  'cluster, blue-green': { ...cluster, method: 'blue-green' },
};

describe.each(Object.entries(VARIANTS))('%s: every RDS write statement on an RDS resource carries the run-tag condition', (_name, props) => {
  const st = stepsStatements(props);
  test('no untagged RDS write', () => {
    expect(untaggedRdsWrites(st, 'orders-db')).toEqual([]);
  });
  test('no RDS write is scoped by a name prefix of the source (db:orders-db-*, cluster:orders-db-*)', () => {
    const prefixed = st.filter((s) => s.Effect === 'Allow' && s.Action.some((a) => a.startsWith('rds:') && !/^rds:(Describe|List)/.test(a)) && s.Resource.some((r) => /:(db|cluster):orders-db-\*$/.test(r)));
    expect(prefixed.map((s) => s.Sid)).toEqual([]);
  });
});

test('a deliberately broken template fails: the tag condition removed from the rename statement is reported', () => {
  const st = stepsStatements();
  expect(untaggedRdsWrites(st, 'orders-db')).toEqual([]);
  const broken = st.map((s) => (s.Sid === 'ApplySettingsAndRename' ? { ...s, Condition: undefined } : s));
  expect(untaggedRdsWrites(broken, 'orders-db')).toEqual([expect.objectContaining({ sid: 'ApplySettingsAndRename', actions: expect.arrayContaining(['rds:ModifyDBInstance', 'rds:AddRoleToDBInstance']) })]);
  // A tag condition for another database is no scope for this one.
  const other = st.map((s) => (s.Sid === 'SnapshotOfRunSource' ? { ...s, Condition: { StringEquals: { 'aws:ResourceTag/db-ops-kit:rekey-source': 'billing-db' } } } : s));
  expect(untaggedRdsWrites(other, 'orders-db').map((f) => f.sid)).toEqual(['SnapshotOfRunSource']);
});

describe('what the Steps role lets the function do (IAM evaluation of the synthesized policy)', () => {
  const arn = (type: string, name: string) => `arn:aws:rds:us-east-1:123456789012:${type}:${name}`;
  const TAG = 'db-ops-kit:rekey-source';
  const req = (action: string, resource: string, ctx: Record<string, string[]> = {}): IamRequest => ({ action, resource, context: ctx });
  const allowed = (st: Statement[], r: IamRequest) => evaluate(st, r, env).allowed;
  const tagged = { [`aws:ResourceTag/${TAG}`]: ['orders-db'] };
  const st = stepsStatements();
  const cst = stepsStatements(cluster);

  test('a database that only shares the name prefix is out of reach (was allowed by db:orders-db-*)', () => {
    for (const a of ['rds:ModifyDBInstance', 'rds:CreateDBSnapshot', 'rds:AddRoleToDBInstance']) expect(allowed(st, req(a, arn('db', 'orders-db-reporting')))).toBe(false);
    // ... nor can the role give it the run tag to get there.
    expect(allowed(st, req('rds:AddTagsToResource', arn('db', 'orders-db-reporting'), { 'aws:TagKeys': [TAG], [`aws:RequestTag/${TAG}`]: ['orders-db'] }))).toBe(false);
    // A neighbour in a cluster variant: members used to be allowed on db:* outright.
    expect(allowed(cst, req('rds:ModifyDBInstance', arn('db', 'someone-elses-instance')))).toBe(false);
    expect(allowed(cst, req('rds:ModifyDBCluster', arn('cluster', 'orders-db-analytics')))).toBe(false);
  });

  test('the bootstrap: the run tag and the lock go on exactly the source ARN, with those two keys only, and the tag value is the source', () => {
    const boot = { 'aws:TagKeys': [TAG, 'db-ops-kit:rekey-lock'], [`aws:RequestTag/${TAG}`]: ['orders-db'] };
    expect(allowed(st, req('rds:AddTagsToResource', arn('db', 'orders-db'), boot))).toBe(true);
    expect(allowed(st, req('rds:AddTagsToResource', arn('db', 'orders-db'), { ...boot, [`aws:RequestTag/${TAG}`]: ['billing-db'] }))).toBe(false);
    expect(allowed(st, req('rds:AddTagsToResource', arn('db', 'orders-db'), { ...boot, 'aws:TagKeys': [TAG, 'owner'] }))).toBe(false);
  });

  test('resources that carry the run tag can be changed; creates need the tag in the request', () => {
    expect(allowed(st, req('rds:ModifyDBInstance', arn('db', 'orders-db'), tagged))).toBe(true);
    expect(allowed(st, req('rds:ModifyDBInstance', arn('db', 'orders-db-pre-rekey-20261130030405'), tagged))).toBe(true);
    expect(allowed(st, req('rds:ModifyDBInstance', arn('db', 'orders-db')))).toBe(false); // untagged source: the bootstrap did not run
    const created = { [`aws:RequestTag/${TAG}`]: ['orders-db'], 'aws:TagKeys': ['team', TAG] };
    expect(allowed(st, req('rds:RestoreDBInstanceFromDBSnapshot', arn('db', 'orders-db-rekey-20261130030405'), created))).toBe(true);
    expect(allowed(st, req('rds:RestoreDBInstanceFromDBSnapshot', arn('db', 'orders-db-rekey-20261130030405'), { 'aws:TagKeys': ['team'] }))).toBe(false);
    expect(allowed(st, req('rds:RestoreDBInstanceFromDBSnapshot', arn('snapshot', 'orders-db-rekey-20261130030405-new'), { ...tagged, ...created }))).toBe(true);
    expect(allowed(st, req('rds:RestoreDBInstanceFromDBSnapshot', arn('snapshot', 'someone-elses-snapshot'), created))).toBe(false);
    // Tag-on-create is authorized as AddTagsToResource on the new name.
    expect(allowed(st, req('rds:AddTagsToResource', arn('db', 'orders-db-rekey-20261130030405'), created))).toBe(true);
    // Finalize: only the kit's tag keys on run resources.
    const fin = { ...tagged, [`aws:RequestTag/${TAG}`]: ['orders-db'], 'aws:TagKeys': ['db-ops-kit:rekey-run', TAG, 'db-ops-kit:rekey-role', 'db-ops-kit:rekey-kept'] };
    expect(allowed(st, req('rds:AddTagsToResource', arn('db', 'orders-db'), fin))).toBe(true);
    expect(allowed(st, req('rds:AddTagsToResource', arn('db', 'orders-db'), { ...fin, 'aws:TagKeys': ['owner', TAG] }))).toBe(false);
  });
});
