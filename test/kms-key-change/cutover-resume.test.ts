/**
 * Cutover and rollback of an Aurora cluster resumed from every in-between state (lambda/kms-key-change/
 * cutover.ts): each rename is issued only while the name still holds the database it is meant for, and
 * with ApplyImmediately (otherwise RDS defers it to the maintenance window and the cutover hangs with
 * the original renamed away). Also the refusals' details (a later run's cutover on a cluster, more than
 * five busy datapoints). Found by the StrykerJS run of 2026-12-01 (survivors of cutover.test.ts).
 * RDS is the in-memory fake of ./fake-rds.ts, which defers a rename sent without ApplyImmediately as
 * RDS does; CloudWatch and EC2 are client mocks (see cutover.test.ts for why not moto).
 */
import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import * as cutover from '../../lambda/kms-key-change/cutover';
import { captureCluster, captureInstance } from '../../lambda/kms-key-change/settings';
import { newState, RekeyState } from '../../lambda/kms-key-change/state';
import { FakeRds } from './fake-rds';
import { ACCOUNT, clients, cluster, instance, member, NEW_KEY, OLD_KEY } from './fixtures';

const stub = mockClient(RDSClient);
const ec2 = mockClient(EC2Client);
const cw = mockClient(CloudWatchClient);
let rds: FakeRds;

const RUN = '20261130030405';
const L = (id: string) => `${id}-pre-rekey-${RUN}`;
const R = (id: string) => `${id}-rekey-${RUN}`;
const inst = (id: string, key: string, over = {}) => instance({ DBInstanceIdentifier: id, DBInstanceArn: `arn:aws:rds:us-east-1:${ACCOUNT}:db:${id}`, KmsKeyId: key, ...over });
const clus = (id: string, key: string, over = {}) => cluster({ DBClusterIdentifier: id, DBClusterArn: `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:${id}`, KmsKeyId: key, ...over });
const MEMBERS = [{ from: 'ledger-1', to: L('ledger-1') }, { from: 'ledger-2', to: L('ledger-2') }];
const record = (over = {}) => ({ at: '2026-11-30T04:00:00.000Z', sourceRenamedTo: L('ledger'), memberRenames: MEMBERS, ...over });

function run(over: Partial<RekeyState> = {}): RekeyState {
  const s = newState({ kind: 'cluster', sourceId: 'ledger', kmsKey: NEW_KEY, region: 'us-east-1', now: new Date('2026-11-30T03:04:05Z') });
  return {
    ...s,
    account: ACCOUNT,
    targetKeyArn: NEW_KEY,
    sourceKeyArn: OLD_KEY,
    cutoverRequested: true,
    parityClean: true,
    freezeOptOut: 'test opt-out',
    snapshotWritesStopped: true,
    source: { kind: 'cluster', cluster: captureCluster(cluster(), [member('ledger-1'), member('ledger-2')]) },
    names: { sourceSnapshot: `${R('ledger')}-src`, newId: R('ledger'), memberIds: { 'ledger-1': R('ledger-1'), 'ledger-2': R('ledger-2') } },
    ...over,
  };
}
/** The original (old key) and the copy (new key) under the given names. */
function world(names: { cluster: [string, string]; members: Array<[string, string]> }) {
  rds.addCluster(clus(names.cluster[0], OLD_KEY));
  rds.addCluster(clus(names.cluster[1], NEW_KEY));
  for (const [orig, copy] of names.members) {
    rds.addInstance(inst(orig, OLD_KEY));
    rds.addInstance(inst(copy, NEW_KEY));
  }
}

beforeEach(() => {
  stub.reset();
  ec2.reset();
  cw.reset();
  rds = new FakeRds(stub);
  cw.on(GetMetricStatisticsCommand).resolves({ Datapoints: [] });
});

test('every rename is sent with ApplyImmediately (a deferred rename would leave the cutover half done until the maintenance window)', async () => {
  world({ cluster: ['ledger', R('ledger')], members: [['ledger-1', R('ledger-1')], ['ledger-2', R('ledger-2')]] });
  const a = await cutover.renameSource(clients(), run());
  const b = await cutover.renameTarget(clients(), a.state);
  b.state.cutover!.done = true;
  const c = await cutover.rollbackRenameNew(clients(), b.state);
  await cutover.rollbackRenameSource(clients(), c.state);
  const renames = stub.calls().map((x) => x.args[0].input as Record<string, unknown>).filter((i) => i.NewDBInstanceIdentifier || i.NewDBClusterIdentifier);
  expect(renames).toHaveLength(12);
  expect(renames.filter((i) => i.ApplyImmediately !== true)).toEqual([]);
  expect(rds.clusterKeys()).toEqual({ ledger: OLD_KEY, [R('ledger')]: NEW_KEY });
  expect(rds.instanceKeys()).toEqual({ 'ledger-1': OLD_KEY, [R('ledger-1')]: NEW_KEY, 'ledger-2': OLD_KEY, [R('ledger-2')]: NEW_KEY });
});

test('renameSource resumed after the cluster was renamed: the copy-keyed cluster under <id> is not renamed away', async () => {
  // An earlier attempt renamed the original and (after the crash) the copy already took the name.
  rds.addCluster(clus('ledger', NEW_KEY));
  rds.addCluster(clus(L('ledger'), OLD_KEY));
  rds.addInstance(inst('ledger-1', NEW_KEY));
  rds.addInstance(inst('ledger-2', NEW_KEY));
  await cutover.renameSource(clients(), run({ cutover: record() }));
  expect(rds.renames()).toEqual([]);
});

test('renameTarget resumed after the copy took the names: no rename is sent for a copy name that no longer exists', async () => {
  world({ cluster: [L('ledger'), 'ledger'], members: [[L('ledger-1'), 'ledger-1'], [L('ledger-2'), 'ledger-2']] });
  const r = await cutover.renameTarget(clients(), run({ cutover: record() }));
  expect(r.done).toBe(true);
  expect(rds.renames()).toEqual([]);
  // Only one member left to rename: only that one is sent.
  rds.instances.set(R('ledger-2'), rds.instances.get('ledger-2')!);
  rds.instances.delete('ledger-2');
  await cutover.renameTarget(clients(), run({ cutover: record() }));
  expect(rds.renames()).toEqual([`${R('ledger-2')} → ledger-2`]);
});

test('renameTarget asks the freeze proof while <id> still holds the original (or nothing and no target key is known)', async () => {
  rds.addCluster(clus('ledger', OLD_KEY));
  const s = run({ freezeOptOut: undefined, snapshotStartedAt: '2026-11-30T03:20:00.000Z', cutover: record() });
  await expect(cutover.renameTarget(clients(), s)).rejects.toMatchObject({ name: 'FreezeNotHeld' });
  rds.clusters.clear();
  await expect(cutover.renameTarget(clients(), { ...s, targetKeyArn: undefined })).rejects.toMatchObject({ name: 'FreezeNotHeld' });
  const i = { ...s, kind: 'instance' as const, sourceId: 'orders', source: { kind: 'instance' as const, instance: captureInstance(instance()) }, names: { sourceSnapshot: 'x', newId: R('orders') } };
  rds.addInstance(inst('orders', OLD_KEY));
  await expect(cutover.renameTarget(clients(), i)).rejects.toMatchObject({ name: 'FreezeNotHeld' });
  expect(rds.renames()).toEqual([]);
});

test('rollback (Aurora): the cluster and members under the original names are moved back only while they hold the copy', async () => {
  // The first rollback rename was done for the cluster and ledger-1; ledger-2 still holds the copy.
  rds.addCluster(clus('ledger', OLD_KEY));
  rds.addCluster(clus(R('ledger'), NEW_KEY));
  rds.addInstance(inst('ledger-1', OLD_KEY));
  rds.addInstance(inst('ledger-2', NEW_KEY));
  const r = await cutover.rollbackRenameNew(clients(), run({ cutover: record({ done: true }) }));
  expect(r.done).toBe(true);
  expect(rds.renames()).toEqual([`ledger-2 → ${R('ledger-2')}`]);
});

test('rollbackRenameSource resumed: a -pre-rekey- name already given back is not renamed again', async () => {
  rds.addCluster(clus('ledger', OLD_KEY));
  rds.addInstance(inst('ledger-1', OLD_KEY));
  rds.addInstance(inst(L('ledger-2'), OLD_KEY));
  await cutover.rollbackRenameSource(clients(), run({ cutover: record() }));
  expect(rds.renames()).toEqual([`${L('ledger-2')} → ledger-2`]);
});

test('a crashed Aurora cutover is found from the renamed cluster alone; with nothing renamed there is nothing to undo', async () => {
  rds.addCluster(clus('ledger', OLD_KEY));
  expect((await cutover.rollbackRenameNew(clients(), run())).message).toBe('no cutover to undo: ledger was never renamed');
  rds.clusters.set(L('ledger'), rds.clusters.get('ledger')!);
  rds.clusters.delete('ledger');
  const r = await cutover.rollbackRenameNew(clients(), run());
  expect(r.state.cutover).toEqual({ at: expect.any(String), sourceRenamedTo: L('ledger'), memberRenames: MEMBERS });
});

test('Aurora rollback refused when a later run cut the cluster over since (its run tag on <id>, this run\'s original still renamed away)', async () => {
  const later = '20261205000000';
  rds.addCluster(clus('ledger', 'arn:aws:kms:us-east-1:123456789012:key/later', { TagList: [{ Key: 'db-ops-kit:rekey-run', Value: later }] }));
  rds.addCluster(clus(L('ledger'), OLD_KEY));
  const e = await cutover.rollbackRenameNew(clients(), run({ cutover: record({ done: true }) })).catch((x) => x);
  expect(e.name).toBe('SupersededByLaterRun');
  expect(e.message).toContain(`ledger is no longer run ${RUN}'s re-keyed cluster: it carries db-ops-kit:rekey-run=${later}`);
  expect(e.message).toContain(`out/kms-change/rekey-ledger-${later}.json`);
  // A database without any tag list is not a later run's.
  rds.clusters.get('ledger')!.TagList = undefined;
  await expect(cutover.rollbackRenameSource(clients(), run({ cutover: record() }))).rejects.toMatchObject({ name: 'DBClusterAlreadyExistsFault' });
});

test('stranded writes: at most five busy datapoints are named, separated by commas; without a state file the command says <state file>', async () => {
  rds.addInstance(inst('orders', NEW_KEY));
  cw.on(GetMetricStatisticsCommand).resolves({ Datapoints: [1, 2, 3, 4, 5, 6].map((m) => ({ Timestamp: new Date(`2026-11-30T04:1${m}:00Z`), Maximum: m })) });
  const s = { ...run(), kind: 'instance' as const, sourceId: 'orders', source: { kind: 'instance' as const, instance: captureInstance(instance()) }, names: { sourceSnapshot: 'x', newId: R('orders') }, cutover: record({ sourceRenamedTo: L('orders'), memberRenames: [], done: true }) };
  const e = await cutover.rollbackRenameNew(clients(), s).catch((x) => x);
  expect(e.name).toBe('WritesSinceCutover');
  expect(e.message).toContain('since the cutover (orders: 1 at 2026-11-30T04:11:00.000Z, orders: 2 at 2026-11-30T04:12:00.000Z, orders: 3 at 2026-11-30T04:13:00.000Z, orders: 4 at 2026-11-30T04:14:00.000Z, orders: 5 at 2026-11-30T04:15:00.000Z); a rollback');
  expect(e.message).toContain('npm run kms-change -- --resume <state file> --rollback --writes-since-cutover-stay-in-copy');
});

test('checkRollbackSource (Aurora): waits for every member; when done keeps an earlier start time, drops the members\' -pre-rekey- artifacts', async () => {
  rds.addCluster(clus('ledger', OLD_KEY));
  rds.addInstance(inst('ledger-1', OLD_KEY));
  rds.addInstance(inst(L('ledger-2'), OLD_KEY));
  const s = run({ cutover: record(), rolledBack: { at: '2026-11-30T05:00:00.000Z' } });
  s.artifacts.push(
    { type: 'db-cluster', id: L('ledger'), region: 'us-east-1', role: 'the original source, renamed (old key, kept)' },
    { type: 'db-instance', id: L('ledger-1'), region: 'us-east-1', role: 'member ledger-1 of the original source, renamed (kept)' },
    { type: 'db-instance', id: L('ledger-2'), region: 'us-east-1', role: 'member ledger-2 of the original source, renamed (kept)' },
    { type: 'db-instance', id: 'ledger-1', region: 'us-east-1', role: 'member of the new cluster (was ledger-1)' },
  );
  const waiting = await cutover.checkRollbackSource(clients(), s);
  expect(waiting).toMatchObject({ done: false, message: 'waiting for the rename back' });
  expect(s.rolledBack).toEqual({ at: '2026-11-30T05:00:00.000Z' });
  rds.instances.set('ledger-2', rds.instances.get(L('ledger-2'))!);
  rds.instances.delete(L('ledger-2'));
  const done = await cutover.checkRollbackSource(clients(), s);
  expect(done.done).toBe(true);
  expect(done.state.lastStep).toBe('checkRollbackSource');
  expect(done.state.rolledBack).toEqual({ at: '2026-11-30T05:00:00.000Z', done: true });
  expect(done.state.artifacts).toEqual([{ type: 'db-instance', id: R('ledger-1'), region: 'us-east-1', role: 'member of the new cluster (was ledger-1)' }]);
  // Without an earlier start: the time of completion.
  const fresh = await cutover.checkRollbackSource(clients(), run({ cutover: record() }));
  expect(fresh.state.rolledBack).toEqual({ at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), done: true });
});

test('rollbackUnfreeze completes its own step (resumes go on after it) and names itself in a failure', async () => {
  rds.addCluster(clus('ledger', OLD_KEY, { VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-freeze' }] }));
  const r = await cutover.rollbackUnfreeze(clients(), run({ freezeOptOut: undefined, freeze: { groupId: 'sg-freeze', originalSecurityGroupIds: ['sg-1'] } }));
  expect(r.state.lastStep).toBe('rollbackUnfreeze');
  rds.clusters.clear();
  await expect(cutover.rollbackUnfreeze(clients(), run({ freezeOptOut: undefined, freeze: { groupId: 'sg-freeze', originalSecurityGroupIds: ['sg-1'] } }))).rejects.toThrow(/^\[rollbackUnfreeze\] ledger: no DB cluster of this name exists/);
});

test('instance rollback: the copy under <id> is moved back with ApplyImmediately (not deferred to the maintenance window)', async () => {
  rds.addInstance(inst('orders', NEW_KEY));
  rds.addInstance(inst(L('orders'), OLD_KEY));
  const s = { ...run(), kind: 'instance' as const, sourceId: 'orders', source: { kind: 'instance' as const, instance: captureInstance(instance()) }, names: { sourceSnapshot: 'x', newId: R('orders') }, cutover: record({ sourceRenamedTo: L('orders'), memberRenames: [], done: true }) };
  await cutover.rollbackRenameNew(clients(), s);
  expect(rds.instanceKeys()).toEqual({ [L('orders')]: OLD_KEY, [R('orders')]: NEW_KEY });
});

test('Aurora renameTarget after an interruption that already gave the copy cluster the name: finishes without asking the freeze proof', async () => {
  rds.addCluster(clus('ledger', NEW_KEY));
  rds.addCluster(clus(L('ledger'), OLD_KEY));
  const s = run({ freezeOptOut: undefined, snapshotStartedAt: '2026-11-30T03:20:00.000Z', cutover: record({ memberRenames: [] }) });
  const r = await cutover.renameTarget(clients(), s);
  expect(r.message).toBe(`ledger already is the re-keyed copy (the rename was issued before an interruption); finishing it; renaming ${R('ledger')} to ledger`);
  expect(ec2.calls()).toHaveLength(0);
});

test('Aurora renameTarget without member names in the state is refused naming them, after nothing but the cluster', async () => {
  world({ cluster: [L('ledger'), R('ledger')], members: [] });
  const s = run({ cutover: record() });
  await expect(cutover.renameTarget(clients(), { ...s, names: { ...s.names!, memberIds: undefined } })).rejects.toThrow('[renameTarget] member names: missing from the state document');
});
