/**
 * The CLI's run paths (lambda/kms-key-change/cli.ts main) beyond argument parsing: what it prints and
 * writes, and its exit codes, for a finished rollback run again, --release-original, a rehearsal copy
 * resumed with --cutover, a failure (what exists now + the next commands), a refused preflight, a dry
 * run, and a rollback that another run's later cutover superseded. State files go to a temp
 * directory. RDS is the in-memory fake of ./fake-rds.ts (client mock) for the reasons given there;
 * the end-to-end CLI runs on moto are in test/integration/kms-key-change.
 */
import { DescribeKeyCommand, GetKeyPolicyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeDBClusterSnapshotsCommand, DescribeDBProxiesCommand, DescribeDBSnapshotsCommand, DescribeGlobalClustersCommand, RDSClient } from '@aws-sdk/client-rds';
import { EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main, USAGE } from '../../lambda/kms-key-change/cli';
import { captureInstance } from '../../lambda/kms-key-change/settings';
import { newState, RekeyState } from '../../lambda/kms-key-change/state';
import { LOCK_TAG } from '../../lambda/kms-key-change/workflow';
import { FakeRds } from './fake-rds';
import { ACCOUNT, DEFAULT_POLICY, instance, NEW_KEY, notFound, OLD_KEY } from './fixtures';

const stub = mockClient(RDSClient);
const kms = mockClient(KMSClient);
const ec2 = mockClient(EC2Client);
const cw = mockClient(CloudWatchClient);
let rds: FakeRds;
let dir: string;

const RUN = '20261130030405';
const PRE = `orders-pre-rekey-${RUN}`;
const NEWID = `orders-rekey-${RUN}`;
const inst = (id: string, key: string, over = {}) => instance({ DBInstanceIdentifier: id, DBInstanceArn: `arn:aws:rds:us-east-1:${ACCOUNT}:db:${id}`, KmsKeyId: key, ...over });

function runState(over: Partial<RekeyState> = {}): RekeyState {
  const s = newState({ kind: 'instance', sourceId: 'orders', kmsKey: NEW_KEY, region: 'us-east-1', now: new Date('2026-11-30T03:04:05Z') });
  return {
    ...s,
    account: ACCOUNT,
    targetKeyArn: NEW_KEY,
    sourceKeyArn: OLD_KEY,
    lastStep: 'finalize',
    source: { kind: 'instance', instance: captureInstance(instance()) },
    names: { sourceSnapshot: `${NEWID}-src`, copySnapshot: `${NEWID}-new`, newId: NEWID, preRekeyId: PRE },
    ...over,
  };
}
function stateFile(s: RekeyState, name = 'state.json'): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, JSON.stringify(s));
  return f;
}
async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

beforeEach(() => {
  stub.reset();
  kms.reset();
  ec2.reset();
  cw.reset();
  rds = new FakeRds(stub);
  stub.on(DescribeDBSnapshotsCommand).rejects(notFound('DBSnapshotNotFoundFault'));
  stub.on(DescribeDBClusterSnapshotsCommand).rejects(notFound('DBClusterSnapshotNotFoundFault'));
  cw.on(GetMetricStatisticsCommand).resolves({ Datapoints: [] });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kms-cli-'));
  process.env.REKEY_LOCK_SETTLE_MS = '0';
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('--rollback on a finished rollback touches nothing and says what exists now', async () => {
  rds.addInstance(inst('orders', OLD_KEY));
  rds.addInstance(inst(NEWID, NEW_KEY));
  const f = stateFile(runState({ rolledBack: { at: '2026-11-30T05:00:00.000Z', done: true } }));
  const r = await cli(['--resume', f, '--rollback']);
  expect(r.code).toBe(0);
  expect(r.out[0]).toBe(`Run ${RUN} was already rolled back at 2026-11-30T05:00:00.000Z; nothing was changed now. What exists now:`);
  expect(r.out[1]).toBe(`  orders: exists, available, source key ${OLD_KEY}, security groups sg-2, sg-1`);
  expect(rds.renames()).toEqual([]);
  expect(stub.calls().filter((c) => !/^Describe/.test(c.args[0].constructor.name))).toEqual([]);
});

test('--release-original puts the original groups back on the renamed original and saves the state; refused before a finished cutover', async () => {
  rds.addInstance(inst(PRE, OLD_KEY, { VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-freeze' }] }));
  const s = runState({ freeze: { groupId: 'sg-freeze', originalSecurityGroupIds: ['sg-1'] }, cutover: { at: 'T', sourceRenamedTo: PRE, memberRenames: [], done: true } });
  const f = stateFile(s);
  const r = await cli(['--resume', f, '--release-original']);
  expect(r.code).toBe(0);
  expect(r.out).toEqual([expect.stringMatching(new RegExp(`^${PRE}: original security groups sg-1 put back`))]);
  expect(rds.instances.get(PRE)!.VpcSecurityGroups!.map((g) => g.VpcSecurityGroupId)).toEqual(['sg-1']);
  expect(JSON.parse(fs.readFileSync(f, 'utf8')).freeze.released).toEqual({ at: expect.any(String), on: PRE });
  const g = stateFile({ ...s, cutover: undefined }, 'other.json');
  const bad = await cli(['--resume', g, '--release-original']);
  expect(bad.code).toBe(1);
  expect(bad.err).toEqual([expect.stringMatching(/^error: \[releaseOriginal\] orders: no finished cutover in this run/)]);
});

test('--resume --cutover of a rehearsal copy is refused (exit 2) with both ways on; nothing is changed', async () => {
  const f = stateFile(runState({ snapshotStartedAt: '2026-11-30T03:05:00.000Z', snapshotWritesStopped: false }));
  const r = await cli(['--resume', f, '--cutover']);
  expect(r.code).toBe(2);
  expect(r.err.join('\n')).toBe(
    `error: this run's snapshot was taken at 2026-11-30T03:05:00.000Z without --cutover (a rehearsal): the copy lacks every write made to orders since then.\n` +
      `  Either stop writes and start a new run with --cutover (a fresh snapshot; this run's resources are kept),\n` +
      `  or, only if no writes reached orders since 2026-11-30T03:05:00.000Z: npm run kms-change -- --resume ${f} --cutover --writes-stopped-since-snapshot`,
  );
  expect(stub.calls()).toHaveLength(0);
});

test('a failing resume prints the error, what exists now from AWS and the next commands for that state file (exit 1)', async () => {
  // The source is gone from under the run: the lock cannot be confirmed on any name.
  const f = stateFile(runState({ lastStep: 'checkApply', cutoverRequested: true }));
  const r = await cli(['--resume', f, '--poll-seconds', '0']);
  expect(r.code).toBe(1);
  expect(r.err[0]).toMatch(/^error: \[lock\] orders: none of orders, orders-pre-rekey-20261130030405, orders-rekey-20261130030405 exists in us-east-1\. Next: check the identifier and the Region; nothing was changed$/);
  expect(r.err.slice(1)).toEqual([
    'What exists now (described from AWS):',
    '  orders: does not exist',
    `  ${PRE}: does not exist`,
    `  ${NEWID}: does not exist`,
    `  snapshot ${NEWID}-src: does not exist`,
    `  snapshot ${NEWID}-new: does not exist`,
    'CLIENTS ARE AFFECTED: orders is not the original right now.',
    `Put the original back under orders: npm run kms-change -- --resume ${f} --rollback`,
    `or finish the cutover once the cause is fixed: npm run kms-change -- --resume ${f} --cutover`,
  ]);
});

test('a rollback superseded by a later run\'s cutover prints its own way on, not the generic next commands', async () => {
  const later = '20261205000000';
  rds.addInstance(inst('orders', 'arn:aws:kms:us-east-1:123456789012:key/later', { TagList: [{ Key: 'db-ops-kit:rekey-run', Value: later }, { Key: 'db-ops-kit:rekey-source', Value: 'orders' }] }));
  rds.addInstance(inst(PRE, OLD_KEY, { TagList: [{ Key: 'db-ops-kit:rekey-source', Value: 'orders' }] }));
  const f = stateFile(runState({ cutover: { at: '2026-11-30T04:00:00.000Z', sourceRenamedTo: PRE, memberRenames: [], done: true }, freezeOptOut: 'x', snapshotWritesStopped: true }));
  const r = await cli(['--resume', f, '--rollback', '--poll-seconds', '0']);
  expect(r.code).toBe(1);
  expect(r.err[0]).toMatch(/^error: \[rollbackRenameNew\] orders: orders is no longer run 20261130030405's re-keyed instance/);
  expect(r.err).toContain('What exists now (described from AWS):');
  expect(r.err.join('\n')).not.toMatch(/CLIENTS ARE AFFECTED|Continue once the cause is fixed/);
  expect(rds.renames()).toEqual([]);
});

test('a fresh run writes its state file where --state-file says; a preflight refusal exits 3 with the problems', async () => {
  rds.addInstance(inst('orders', OLD_KEY, { DBInstanceStatus: 'stopped' }));
  stub.on(DescribeDBProxiesCommand).resolves({ DBProxies: [] });
  stub.on(DescribeGlobalClustersCommand).resolves({ GlobalClusters: [] });
  kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'b', Arn: NEW_KEY, KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', KeyManager: 'CUSTOMER' } });
  kms.on(GetKeyPolicyCommand).resolves({ Policy: DEFAULT_POLICY });
  const sf = path.join(dir, 'sub', 'run.json');
  const r = await cli(['--db-instance', 'orders', '--kms-key', NEW_KEY, '--region', 'us-east-1', '--state-file', sf, '--poll-seconds', '0']);
  expect(r.code).toBe(3);
  expect(r.err.join('\n')).toMatch(/SOURCE_NOT_AVAILABLE/);
  expect(stub.calls().filter((c) => /^(AddTags|Create|Modify|Restore|Copy)/.test(c.args[0].constructor.name))).toEqual([]);
});

test('--dry-run prints the preflight result and the plan, writes no state file and changes nothing', async () => {
  rds.addInstance(inst('orders', OLD_KEY));
  stub.on(DescribeDBProxiesCommand).resolves({ DBProxies: [] });
  stub.on(DescribeGlobalClustersCommand).resolves({ GlobalClusters: [] });
  kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'b', Arn: NEW_KEY, KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', KeyManager: 'CUSTOMER' } });
  kms.on(GetKeyPolicyCommand).resolves({ Policy: DEFAULT_POLICY });
  const sf = path.join(dir, 'dry.json');
  const r = await cli(['--db-instance', 'orders', '--kms-key', NEW_KEY, '--region', 'us-east-1', '--dry-run', '--state-file', sf]);
  expect(r.err).toEqual([]);
  expect(r.code).toBe(0);
  expect(r.out[0]).toBe(`preflight passed: instance orders (${OLD_KEY}) → ${NEW_KEY}`);
  expect(r.out[1]).toMatch(/rds:CreateDBSnapshot orders-rekey-\d{14}-src \(source key\) in us-east-1/);
  expect(fs.existsSync(sf)).toBe(false);
  expect(stub.calls().filter((c) => !/^(Describe|List)/.test(c.args[0].constructor.name))).toEqual([]);
});

test('without a Region (no --region, no AWS_REGION) a new run exits 2 with usage', async () => {
  const saved = { r: process.env.AWS_REGION, d: process.env.AWS_DEFAULT_REGION };
  delete process.env.AWS_REGION;
  delete process.env.AWS_DEFAULT_REGION;
  try {
    const r = await cli(['--db-instance', 'orders', '--kms-key', NEW_KEY]);
    expect(r.code).toBe(2);
    expect(r.err.join('\n')).toBe(`error: no Region: pass --region or set AWS_REGION\n\n${USAGE}`);
    const b = await cli(['--db-instance', 'orders', '--break-lock', RUN]);
    expect(b.code).toBe(2);
    expect(b.err.join('\n')).toBe(`error: no Region: pass --region or set AWS_REGION\n\n${USAGE}`);
  } finally {
    if (saved.r !== undefined) process.env.AWS_REGION = saved.r;
    if (saved.d !== undefined) process.env.AWS_DEFAULT_REGION = saved.d;
  }
});

test('--break-lock releases the run\'s lock on the source and its -rekey- copy and says so; an AWS error exits 1', async () => {
  rds.addInstance(inst('orders', OLD_KEY, { TagList: [{ Key: LOCK_TAG, Value: RUN }] }));
  rds.addInstance(inst(NEWID, NEW_KEY, { TagList: [{ Key: LOCK_TAG, Value: RUN }] }));
  const r = await cli(['--db-instance', 'orders', '--region', 'us-east-1', '--break-lock', RUN]);
  expect(r.code).toBe(0);
  expect(r.out.slice(1)).toEqual([
    `  removed tag ${LOCK_TAG}=${RUN} from arn:aws:rds:us-east-1:${ACCOUNT}:db:orders`,
    `  removed tag ${LOCK_TAG}=${RUN} from arn:aws:rds:us-east-1:${ACCOUNT}:db:${NEWID}`,
    `Released. Run ${RUN} can still be resumed with its state file (it takes the lock again if no other run has it); its resources are kept.`,
  ]);
  expect(rds.instances.get('orders')!.TagList).toEqual([]);
  const none = await cli(['--db-cluster', 'ledger', '--region', 'us-east-1', '--break-lock', RUN]);
  expect(none.out.slice(1)).toEqual([`  no DB cluster named ledger / ledger-pre-rekey-${RUN} / ledger-rekey-${RUN} / ledger-old1 exists`, `Nothing to release: no lock of run ${RUN} found.`]);
  stub.reset();
  stub.onAnyCommand().rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }));
  const e = await cli(['--db-instance', 'orders', '--region', 'us-east-1', '--break-lock', RUN]);
  expect(e).toMatchObject({ code: 1, err: ['error: not authorized'] });
});
