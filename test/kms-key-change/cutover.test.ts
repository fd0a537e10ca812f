/**
 * Cutover and rollback of the snapshot method (lambda/kms-key-change/cutover.ts) and their read-only
 * checks (checks.ts): which name holds which database after each step, the exact renames sent, and
 * the refusals that keep a database from being renamed away under clients (a later run's cutover, a
 * copy clients wrote to, a freeze that did not hold).
 *
 * RDS is the in-memory fake of ./fake-rds.ts on aws-sdk-client-mock, EC2 and CloudWatch are client
 * mocks: moto renames without the states a resumed or crashed cutover meets, publishes no
 * DatabaseConnections metric, and a moto server would be started again for every mutant of a
 * mutation run. The end-to-end renames run on moto in test/integration/kms-key-change
 * (snapshot-method, freeze, stale-rollback).
 */
import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { CreateSecurityGroupCommand, DescribeSecurityGroupsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeBlueGreenDeploymentsCommand, DescribeDBClusterSnapshotsCommand, DescribeDBSnapshotsCommand, ModifyDBInstanceCommand, RDSClient, RemoveTagsFromResourceCommand } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import * as checks from '../../lambda/kms-key-change/checks';
import * as cutover from '../../lambda/kms-key-change/cutover';
import { ORIGINAL_SGS_TAG } from '../../lambda/kms-key-change/freeze';
import { captureCluster, captureInstance } from '../../lambda/kms-key-change/settings';
import { newState, RekeyState } from '../../lambda/kms-key-change/state';
import { LOCK_TAG } from '../../lambda/kms-key-change/workflow';
import { FakeRds } from './fake-rds';
import { ACCOUNT, clients, cluster, instance, member, NEW_KEY, OLD_KEY } from './fixtures';

const rdsStub = mockClient(RDSClient);
const ec2 = mockClient(EC2Client);
const cw = mockClient(CloudWatchClient);
let rds: FakeRds;

const RUN = '20261130030405';
const PRE = `orders-pre-rekey-${RUN}`;
const NEWID = `orders-rekey-${RUN}`;
const RUN_TAGS = (run = RUN) => [{ Key: 'db-ops-kit:rekey-run', Value: run }, { Key: 'db-ops-kit:rekey-source', Value: 'orders' }];
const inst = (id: string, key: string, over = {}) => instance({ DBInstanceIdentifier: id, DBInstanceArn: `arn:aws:rds:us-east-1:${ACCOUNT}:db:${id}`, KmsKeyId: key, ...over });
const clus = (id: string, key: string, over = {}) => cluster({ DBClusterIdentifier: id, DBClusterArn: `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:${id}`, KmsKeyId: key, ...over });

function preflighted(over: Partial<RekeyState> = {}, kind: 'instance' | 'cluster' = 'instance'): RekeyState {
  const s = newState({ kind, sourceId: kind === 'instance' ? 'orders' : 'ledger', kmsKey: NEW_KEY, region: 'us-east-1', now: new Date('2026-11-30T03:04:05Z') });
  return {
    ...s,
    account: ACCOUNT,
    targetKeyArn: NEW_KEY,
    sourceKeyArn: OLD_KEY,
    cutoverRequested: true,
    parityClean: true,
    lastStep: 'checkApply',
    source: kind === 'instance' ? { kind: 'instance', instance: captureInstance(instance()) } : { kind: 'cluster', cluster: captureCluster(cluster(), [member('ledger-1'), member('ledger-2')]) },
    names:
      kind === 'instance'
        ? { sourceSnapshot: `orders-rekey-${RUN}-src`, copySnapshot: `orders-rekey-${RUN}-new`, newId: NEWID }
        : { sourceSnapshot: `ledger-rekey-${RUN}-src`, newId: `ledger-rekey-${RUN}`, memberIds: { 'ledger-1': `ledger-1-rekey-${RUN}`, 'ledger-2': `ledger-2-rekey-${RUN}` } },
    ...over,
  };
}
/** A run that gave up the enforced freeze and declared writes stopped: the renames are tested on their own. */
const optedOut = (over: Partial<RekeyState> = {}, kind: 'instance' | 'cluster' = 'instance') => preflighted({ freezeOptOut: 'test opt-out', snapshotWritesStopped: true, ...over }, kind);
const cutoverRec = (over = {}) => ({ at: '2026-11-30T04:00:00.000Z', sourceRenamedTo: PRE, memberRenames: [] as Array<{ from: string; to: string }>, ...over });

beforeEach(() => {
  rdsStub.reset();
  ec2.reset();
  cw.reset();
  rds = new FakeRds(rdsStub);
  cw.on(GetMetricStatisticsCommand).resolves({ Datapoints: [] });
});

describe('renameSource / renameTarget (instance)', () => {
  test('the full cutover: the original goes to -pre-rekey-<run>, the copy takes the name; artifacts and messages say so', async () => {
    rds.addInstance(inst('orders', OLD_KEY));
    rds.addInstance(inst(NEWID, NEW_KEY));
    const a = await cutover.renameSource(clients(), optedOut());
    expect(rds.instanceKeys()).toEqual({ [NEWID]: NEW_KEY, [PRE]: OLD_KEY });
    expect(a).toMatchObject({ done: true, message: `no enforced freeze (operator opted out: test opt-out); renaming orders to ${PRE}` });
    expect(a.state.cutover).toEqual({ at: expect.stringMatching(/^\d{4}-/), sourceRenamedTo: PRE, memberRenames: [] });
    expect(a.state.lastStep).toBe('renameSource');
    expect(a.state.artifacts).toEqual([{ type: 'db-instance', id: PRE, region: 'us-east-1', role: 'the original source, renamed (old key, kept)' }]);
    expect(await checks.checkRenameSource(clients(), a.state)).toMatchObject({ done: true, message: `orders is now ${PRE}` });

    const b = await cutover.renameTarget(clients(), a.state);
    expect(rds.instanceKeys()).toEqual({ orders: NEW_KEY, [PRE]: OLD_KEY });
    expect(b.message).toBe(`no enforced freeze (operator opted out: test opt-out); renaming ${NEWID} to orders`);
    expect(rdsStub.commandCalls(ModifyDBInstanceCommand).map((c) => c.args[0].input)).toEqual([
      { DBInstanceIdentifier: 'orders', NewDBInstanceIdentifier: PRE, ApplyImmediately: true },
      { DBInstanceIdentifier: NEWID, NewDBInstanceIdentifier: 'orders', ApplyImmediately: true },
    ]);
    b.state.artifacts.push({ type: 'db-instance', id: NEWID, region: 'us-east-1', role: 'new instance on the target key' });
    const c = await checks.checkRenameTarget(clients(), b.state);
    expect(c).toMatchObject({ done: true, message: `cutover complete: orders now runs on ${NEW_KEY}` });
    expect(c.state.cutover?.done).toBe(true);
    expect(c.state.artifacts.find((x) => x.id === 'orders')).toEqual({ type: 'db-instance', id: 'orders', region: 'us-east-1', role: 'new instance on the target key, now under the original name' });
  });

  test('renameSource takes the -pre-rekey- name preflight fixed (names.preRekeyId), and reuses the saved cutover record on resume', async () => {
    rds.addInstance(inst('orders', OLD_KEY));
    const s = optedOut({ names: { ...preflighted().names!, preRekeyId: 'orders-old' } });
    const a = await cutover.renameSource(clients(), s);
    expect(rds.instanceKeys()).toEqual({ 'orders-old': OLD_KEY });
    const at = a.state.cutover!.at;
    const again = await cutover.renameSource(clients(), a.state);
    expect(again.state.cutover!.at).toBe(at);
    expect(rds.renames()).toEqual(['orders → orders-old']);
  });

  test('renameSource does not rename a database that is not on the source key (the copy already under <id>, or unencrypted)', async () => {
    rds.addInstance(inst('orders', NEW_KEY));
    await cutover.renameSource(clients(), optedOut());
    rds.instances.get('orders')!.KmsKeyId = OLD_KEY;
    rds.instances.get('orders')!.StorageEncrypted = false;
    await cutover.renameSource(clients(), optedOut());
    expect(rds.renames()).toEqual([]);
  });

  test('renameSource refuses for a cross-Region or shared run, and without a clean parity report', async () => {
    rds.addInstance(inst('orders', OLD_KEY));
    await expect(cutover.renameSource(clients(), optedOut({ shareWithAccount: '210987654321' }))).rejects.toThrow(
      '[renameSource] orders: cutover by rename applies only to a same-Region, same-account copy. Next: point clients at the new endpoint instead',
    );
    await expect(cutover.renameSource(clients(), optedOut({ parityClean: undefined }))).rejects.toThrow(
      '[renameSource] orders: the parity report is not clean. Next: resume the run: verify runs again; fix the differences it names on the new resource first',
    );
    expect(rds.renames()).toEqual([]);
  });

  test('an opted-out run whose snapshot was not declared writes-stopped is refused with the snapshot time and WritesNotStoppedBeforeSnapshot', async () => {
    rds.addInstance(inst('orders', OLD_KEY));
    const e = await cutover.renameSource(clients(), optedOut({ snapshotWritesStopped: false, snapshotStartedAt: undefined })).catch((x) => x);
    expect(e.name).toBe('WritesNotStoppedBeforeSnapshot');
    expect(e.message).toBe(
      '[renameSource] orders: the copy holds the data as of the snapshot taken at (unknown) in a run that did not ask for cutover; every write made to orders since then would be missing from the database clients are switched to. Next: start a new run with --cutover (the kit freezes writes and takes a fresh snapshot)',
    );
    expect(rds.renames()).toEqual([]);
  });

  test('with the enforced freeze: the proof is checked before each rename and quoted; a broken freeze refuses naming the state file', async () => {
    const frozen = { VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-freeze', Status: 'active' }] };
    rds.addInstance(inst('orders', OLD_KEY, frozen));
    rds.addInstance(inst(NEWID, NEW_KEY));
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: 'sg-freeze', IpPermissions: [] }] });
    const s = preflighted({
      stateFile: 'out/kms-change/s.json',
      snapshotStartedAt: '2026-11-30T03:20:00.000Z',
      freeze: { groupId: 'sg-freeze', originalSecurityGroupIds: ['sg-1'], quietAt: '2026-11-30T03:15:00.000Z' },
    });
    const a = await cutover.renameSource(clients(), s);
    expect(a.message).toBe(`freeze held since the final snapshot: orders has only sg-freeze (no inbound rules), no client connection since 2026-11-30T03:20:00.000Z; renaming orders to ${PRE}`);
    // Someone opens the freeze group before the second rename: refused, the copy keeps its -rekey- name.
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: 'sg-freeze', IpPermissions: [{ IpProtocol: '-1' }] }] });
    const e = await cutover.renameTarget(clients(), a.state).catch((x) => x);
    expect(e.name).toBe('FreezeNotHeld');
    expect(e.message).toContain(`the freeze group sg-freeze now has 1 inbound rule(s): clients could reach ${PRE}`);
    expect(e.message).toContain('npm run kms-change -- --resume out/kms-change/s.json --rollback');
    expect(rds.instanceKeys()).toEqual({ [NEWID]: NEW_KEY, [PRE]: OLD_KEY });
  });

  test('renameTarget after an interruption that already gave the copy the name: finishes without asking the freeze again', async () => {
    rds.addInstance(inst('orders', NEW_KEY));
    rds.addInstance(inst(PRE, OLD_KEY));
    // No freeze proof possible (nothing recorded): asking it would refuse.
    const s = preflighted({ cutover: cutoverRec(), snapshotStartedAt: '2026-11-30T03:20:00.000Z' });
    const r = await cutover.renameTarget(clients(), s);
    expect(r.message).toBe(`orders already is the re-keyed copy (the rename was issued before an interruption); finishing it; renaming ${NEWID} to orders`);
    expect(rds.renames()).toEqual([]);
    expect(ec2.calls()).toHaveLength(0);
    const done = await cutover.renameTarget(clients(), { ...s, cutover: cutoverRec({ done: true }) });
    expect(done.message).toMatch(/^cutover already done; /);
  });

  test('renameTarget refuses without a cutover record', async () => {
    await expect(cutover.renameTarget(clients(), optedOut())).rejects.toThrow('[renameTarget] cutover record: missing from the state document');
  });

  test('checkRenameSource / checkRenameTarget wait while a name is still taken or the database is not available', async () => {
    rds.addInstance(inst('orders', OLD_KEY));
    rds.addInstance(inst(PRE, OLD_KEY, { DBInstanceStatus: 'renaming' }));
    const s = optedOut({ cutover: cutoverRec() });
    expect(await checks.checkRenameSource(clients(), s)).toMatchObject({ done: false, message: `waiting for orders → ${PRE}` });
    rds.instances.delete('orders');
    expect((await checks.checkRenameSource(clients(), s)).done).toBe(false);
    rds.instances.get(PRE)!.DBInstanceStatus = 'available';
    expect((await checks.checkRenameSource(clients(), s)).done).toBe(true);
    rds.addInstance(inst(NEWID, NEW_KEY));
    expect(await checks.checkRenameTarget(clients(), s)).toMatchObject({ done: false, message: `waiting for ${NEWID} → orders` });
    expect(s.cutover?.done).toBeUndefined();
  });
});

describe('renameSource / renameTarget (Aurora)', () => {
  const L = (id: string) => `${id}-pre-rekey-${RUN}`;
  function world() {
    rds.addCluster(clus('ledger', OLD_KEY));
    rds.addCluster(clus(`ledger-rekey-${RUN}`, NEW_KEY));
    for (const m of ['ledger-1', 'ledger-2']) {
      rds.addInstance(inst(m, OLD_KEY, { DBClusterIdentifier: 'ledger' }));
      rds.addInstance(inst(`${m}-rekey-${RUN}`, NEW_KEY, { DBClusterIdentifier: `ledger-rekey-${RUN}` }));
    }
  }

  test('the cluster and each member are renamed away, then the copy and its members take the names; rollback reverses both', async () => {
    world();
    const a = await cutover.renameSource(clients(), optedOut({}, 'cluster'));
    expect(a.state.cutover?.memberRenames).toEqual([{ from: 'ledger-1', to: L('ledger-1') }, { from: 'ledger-2', to: L('ledger-2') }]);
    expect(rds.clusterKeys()).toEqual({ [L('ledger')]: OLD_KEY, [`ledger-rekey-${RUN}`]: NEW_KEY });
    expect(a.state.artifacts.map((x) => [x.type, x.id, x.role])).toEqual([
      ['db-cluster', L('ledger'), 'the original source, renamed (old key, kept)'],
      ['db-instance', L('ledger-1'), 'member ledger-1 of the original source, renamed (kept)'],
      ['db-instance', L('ledger-2'), 'member ledger-2 of the original source, renamed (kept)'],
    ]);
    expect((await checks.checkRenameSource(clients(), a.state)).done).toBe(true);
    const b = await cutover.renameTarget(clients(), a.state);
    expect(rds.clusterKeys()).toEqual({ ledger: NEW_KEY, [L('ledger')]: OLD_KEY });
    expect(rds.instanceKeys()).toEqual({ 'ledger-1': NEW_KEY, [L('ledger-1')]: OLD_KEY, 'ledger-2': NEW_KEY, [L('ledger-2')]: OLD_KEY });
    b.state.artifacts.push({ type: 'db-instance', id: `ledger-1-rekey-${RUN}`, region: 'us-east-1', role: 'member of the new cluster (was ledger-1)' });
    const c = await checks.checkRenameTarget(clients(), b.state);
    expect(c.done).toBe(true);
    expect(c.state.artifacts.find((x) => x.id === 'ledger-1')?.role).toBe('member of the new cluster (was ledger-1)');

    const r1 = await cutover.rollbackRenameNew(clients(), c.state);
    expect(r1.message).toBe(`moving the re-keyed cluster back to ledger-rekey-${RUN}`);
    expect((await checks.checkRollbackNew(clients(), r1.state)).done).toBe(true);
    await cutover.rollbackRenameSource(clients(), r1.state);
    expect(rds.clusterKeys()).toEqual({ ledger: OLD_KEY, [`ledger-rekey-${RUN}`]: NEW_KEY });
    expect(rds.instanceKeys()).toEqual({ 'ledger-1': OLD_KEY, [`ledger-1-rekey-${RUN}`]: NEW_KEY, 'ledger-2': OLD_KEY, [`ledger-2-rekey-${RUN}`]: NEW_KEY });
    const done = await cutover.checkRollbackSource(clients(), r1.state);
    expect(done).toMatchObject({ done: true, message: `rolled back: ledger is the original (source key) again; the re-keyed copy is kept as ledger-rekey-${RUN}` });
  });

  test('a member already renamed (resume) or not on the source key is not renamed again', async () => {
    world();
    rds.instances.get('ledger-2')!.KmsKeyId = NEW_KEY;
    await cutover.renameSource(clients(), optedOut({}, 'cluster'));
    expect(rds.renames()).toEqual([`cluster ledger → ${L('ledger')}`, `ledger-1 → ${L('ledger-1')}`]);
  });

  test('checks wait for every member, not only the cluster', async () => {
    world();
    const s = optedOut({ cutover: cutoverRec({ sourceRenamedTo: L('ledger'), memberRenames: [{ from: 'ledger-1', to: L('ledger-1') }] }) }, 'cluster');
    await cutover.renameSource(clients(), s);
    rds.instances.get(L('ledger-1'))!.DBInstanceStatus = 'renaming';
    expect((await checks.checkRenameSource(clients(), s)).done).toBe(false);
    rds.instances.get(L('ledger-1'))!.DBInstanceStatus = 'available';
    expect((await checks.checkRenameSource(clients(), s)).done).toBe(true);
    await cutover.renameTarget(clients(), s);
    rds.instances.get('ledger-1')!.DBInstanceStatus = 'renaming';
    expect((await checks.checkRenameTarget(clients(), s)).done).toBe(false);
  });
});

describe('rollback', () => {
  function afterCutover(over: Partial<RekeyState> = {}) {
    rds.addInstance(inst('orders', NEW_KEY, { TagList: [...RUN_TAGS(), { Key: LOCK_TAG, Value: RUN }] }));
    rds.addInstance(inst(PRE, OLD_KEY, { TagList: RUN_TAGS() }));
    return optedOut({ cutover: cutoverRec({ done: true }), ...over });
  }

  test('rollback after a finished cutover: the copy moves back to -rekey-, the original gets its name, the lock is released', async () => {
    const s = afterCutover();
    s.artifacts.push({ type: 'db-instance', id: PRE, region: 'us-east-1', role: 'the original source, renamed (old key, kept)' });
    s.artifacts.push({ type: 'db-instance', id: 'orders', region: 'us-east-1', role: 'new instance on the target key, now under the original name' });
    const a = await cutover.rollbackRenameNew(clients(), s);
    expect(a).toMatchObject({ done: true, message: `moving the re-keyed instance back to ${NEWID}` });
    expect(rds.instanceKeys()).toEqual({ [NEWID]: NEW_KEY, [PRE]: OLD_KEY });
    expect(await checks.checkRollbackNew(clients(), a.state)).toMatchObject({ done: true, message: 'orders is free again' });
    const b = await cutover.rollbackRenameSource(clients(), a.state);
    expect(b.message).toBe(`renaming ${PRE} back to orders`);
    expect(rds.instanceKeys()).toEqual({ orders: OLD_KEY, [NEWID]: NEW_KEY });
    const c = await cutover.checkRollbackSource(clients(), b.state);
    expect(c).toMatchObject({ done: true, message: `rolled back: orders is the original (source key) again; the re-keyed copy is kept as ${NEWID}` });
    expect(c.state.rolledBack).toEqual({ at: expect.any(String), done: true });
    expect(c.state.cutover?.done).toBe(false);
    expect(c.state.artifacts).toEqual([{ type: 'db-instance', id: NEWID, region: 'us-east-1', role: 'new instance on the target key (moved aside by rollback)' }]);
    // The copy carried the run lock under the original name; it moved with it and is released now.
    expect(rdsStub.commandCalls(RemoveTagsFromResourceCommand).map((x) => x.args[0].input)).toEqual([{ ResourceName: `arn:aws:rds:us-east-1:${ACCOUNT}:db:${NEWID}`, TagKeys: [LOCK_TAG] }]);
    expect(rds.renames()).toEqual([`orders → ${NEWID}`, `${PRE} → orders`]);
  });

  test('checkRollbackSource / checkRollbackNew wait while the names are not settled; no cutover: nothing to undo', async () => {
    const s = afterCutover();
    expect(await checks.checkRollbackNew(clients(), s)).toMatchObject({ done: false, message: `waiting for orders → ${NEWID}` });
    expect(await cutover.checkRollbackSource(clients(), s)).toMatchObject({ done: false, message: 'waiting for the rename back' });
    expect(s.rolledBack).toBeUndefined();
    expect(await checks.checkRollbackNew(clients(), optedOut())).toMatchObject({ done: true, message: 'no cutover to undo' });
    expect(await cutover.checkRollbackSource(clients(), optedOut())).toMatchObject({ done: true, message: 'no cutover to undo' });
    expect(await cutover.rollbackRenameSource(clients(), optedOut())).toMatchObject({ done: true, message: 'no cutover to undo' });
  });

  test('a lock release that fails leaves a warning with the --break-lock command instead of failing the finished rollback', async () => {
    rds.addInstance(inst('orders', OLD_KEY, { TagList: [{ Key: LOCK_TAG, Value: RUN }] }));
    rds.addInstance(inst(NEWID, NEW_KEY));
    rdsStub.on(RemoveTagsFromResourceCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
    const s = optedOut({ cutover: cutoverRec() });
    const r = await cutover.checkRollbackSource(clients(), s);
    expect(r.done).toBe(true);
    expect(r.state.warnings).toEqual([`could not remove the run lock (${LOCK_TAG}=${RUN}): AccessDenied; release it with: npm run kms-change -- --db-instance orders --region us-east-1 --break-lock ${RUN}`]);
    await cutover.checkRollbackSource(clients(), r.state);
    expect(r.state.warnings).toHaveLength(1);
  });

  test('refused, nothing renamed: a LATER run cut over the same source since (SupersededByLaterRun), naming that run\'s state file', async () => {
    const later = '20261205000000';
    rds.addInstance(inst('orders', 'arn:aws:kms:us-east-1:123456789012:key/later', { TagList: RUN_TAGS(later) }));
    rds.addInstance(inst(PRE, OLD_KEY));
    const e = await cutover.rollbackRenameNew(clients(), optedOut({ cutover: cutoverRec({ done: true }) })).catch((x) => x);
    expect(e.name).toBe('SupersededByLaterRun');
    expect(e.message).toBe(
      `[rollbackRenameNew] orders: orders is no longer run ${RUN}'s re-keyed instance: it carries db-ops-kit:rekey-run=${later} (a later key-change run cut over since), and this run's original is still ${PRE}; nothing was renamed and no security group was changed. Next: roll back the latest run instead (its state file, by default out/kms-change/rekey-orders-${later}.json, with --rollback; workflow: a new execution with {"rollback": true, "state": <that run's last state>}); ${PRE} is kept as it is`,
    );
    await expect(cutover.rollbackRenameSource(clients(), optedOut({ cutover: cutoverRec({ done: true }) }))).rejects.toMatchObject({ name: 'SupersededByLaterRun' });
    expect(rds.renames()).toEqual([]);
  });

  test('not refused: the same run\'s tag, an untagged database, or the original already back (a resumed rollback)', async () => {
    rds.addInstance(inst('orders', OLD_KEY, { TagList: RUN_TAGS('20261205000000') }));
    // The original has its name back, nothing holds PRE: the later run's tag on <id> is not this run's business.
    await expect(cutover.rollbackRenameSource(clients(), optedOut({ cutover: cutoverRec() }))).resolves.toMatchObject({ done: true });
    rds.instances.get('orders')!.TagList = [];
    rds.addInstance(inst(PRE, OLD_KEY));
    await expect(cutover.rollbackRenameSource(clients(), optedOut({ cutover: cutoverRec() }))).rejects.toMatchObject({ name: 'DBInstanceAlreadyExistsFault' });
  });

  test('refused, nothing renamed: clients used the copy under <id> since the cutover (WritesSinceCutover); confirmed: goes ahead', async () => {
    const s = afterCutover({ stateFile: 'out/kms-change/rekey-orders.json' });
    cw.on(GetMetricStatisticsCommand).resolves({ Datapoints: [{ Timestamp: new Date('2026-11-30T04:10:00Z'), Maximum: 7 }] });
    const e = await cutover.rollbackRenameNew(clients(), s).catch((x) => x);
    expect(e.name).toBe('WritesSinceCutover');
    expect(e.message).toBe(
      `[rollbackRenameNew] orders: clients used the re-keyed instance under orders since the cutover (orders: 7 at 2026-11-30T04:10:00.000Z); a rollback gives orders back to the original, which lacks every write they made, so nothing was renamed. Next: keep the cutover (nothing to do), or stop those clients and roll back anyway, their writes staying only in the copy (kept as ${NEWID}): npm run kms-change -- --resume out/kms-change/rekey-orders.json --rollback --writes-since-cutover-stay-in-copy (workflow: a new execution with {"rollback": true, "rollbackWritesSinceCutoverStayInCopy": true, "state": <last state>})`,
    );
    expect(cw.commandCalls(GetMetricStatisticsCommand)[0].args[0].input).toMatchObject({ Dimensions: [{ Name: 'DBInstanceIdentifier', Value: 'orders' }], StartTime: new Date('2026-11-30T04:00:00.000Z') });
    expect(rds.renames()).toEqual([]);
    // Within maxConnections: not a write.
    await expect(cutover.rollbackRenameNew(clients(), { ...s, maxConnections: 7, rolledBack: undefined })).resolves.toMatchObject({ done: true });
    rdsStub.resetHistory();
    rds.instances.set('orders', rds.instances.get(NEWID)!);
    rds.instances.delete(NEWID);
    rds.instances.get('orders')!.DBInstanceIdentifier = 'orders';
    const confirmed = await cutover.rollbackRenameNew(clients(), { ...s, rollbackStrandsWrites: 'confirmed', rolledBack: undefined });
    expect(confirmed.done).toBe(true);
    expect(rds.renames()).toEqual([`orders → ${NEWID}`]);
  });

  test('Aurora: the stranded-writes check reads each member under the original member names', async () => {
    rds.addCluster(clus('ledger', NEW_KEY));
    const s = optedOut({ cutover: cutoverRec({ sourceRenamedTo: `ledger-pre-rekey-${RUN}`, memberRenames: [{ from: 'ledger-1', to: `ledger-1-pre-rekey-${RUN}` }, { from: 'ledger-2', to: `ledger-2-pre-rekey-${RUN}` }] }) }, 'cluster');
    cw.on(GetMetricStatisticsCommand, { Dimensions: [{ Name: 'DBInstanceIdentifier', Value: 'ledger-2' }] }).resolves({ Datapoints: [{ Timestamp: new Date('2026-11-30T04:10:00Z'), Maximum: 1 }] });
    await expect(cutover.rollbackRenameNew(clients(), s)).rejects.toThrow(/clients used the re-keyed cluster under ledger since the cutover \(ledger-2: 1 at 2026-11-30T04:10:00.000Z\)/);
    expect(cw.commandCalls(GetMetricStatisticsCommand).map((c) => c.args[0].input.Dimensions![0].Value)).toEqual(['ledger-1', 'ledger-2']);
  });

  test('no stranded-writes check when the copy is not under <id> (the first rename of the rollback is done)', async () => {
    rds.addInstance(inst('orders', OLD_KEY));
    cw.on(GetMetricStatisticsCommand).resolves({ Datapoints: [{ Timestamp: new Date(), Maximum: 9 }] });
    await expect(cutover.rollbackRenameNew(clients(), optedOut({ cutover: cutoverRec() }))).resolves.toMatchObject({ done: true });
    expect(cw.calls()).toHaveLength(0);
    expect(rds.renames()).toEqual([]);
  });

  test('crash after the first cutover rename (no record): rebuilt from the -pre-rekey- names, also from a member alone (Aurora)', async () => {
    rds.addInstance(inst(`ledger-1-pre-rekey-${RUN}`, OLD_KEY));
    const r = await cutover.rollbackRenameNew(clients(), optedOut({}, 'cluster'));
    expect(r.state.cutover).toEqual({ at: expect.any(String), sourceRenamedTo: `ledger-pre-rekey-${RUN}`, memberRenames: [{ from: 'ledger-1', to: `ledger-1-pre-rekey-${RUN}` }, { from: 'ledger-2', to: `ledger-2-pre-rekey-${RUN}` }] });
    expect(r.state.rolledBack).toEqual({ at: expect.any(String) });
  });

  test('no record and nothing renamed away, or a cross-Region/shared run, or no names yet: nothing to undo', async () => {
    await expect(cutover.rollbackRenameNew(clients(), optedOut())).resolves.toMatchObject({ done: true, message: 'no cutover to undo: orders was never renamed' });
    // With the -pre-rekey- name taken (by anything): these runs cannot have renamed it.
    rds.addInstance(inst(PRE, OLD_KEY));
    for (const s of [optedOut({ targetRegion: 'us-west-2' }), optedOut({ shareWithAccount: '210987654321' }), optedOut({ names: undefined }), optedOut({ source: undefined })]) {
      await expect(cutover.rollbackRenameNew(clients(), s)).resolves.toMatchObject({ done: true, message: 'no cutover to undo: orders was never renamed' });
      expect(s.cutover).toBeUndefined();
    }
  });

  test('refused for blue/green and once done, with the message', async () => {
    await expect(cutover.rollbackRenameSource(clients(), optedOut({ method: 'blue-green', cutover: cutoverRec() }))).rejects.toThrow(
      '[rollbackRenameSource] orders: a blue/green switchover cannot be renamed back by this kit. Next: the old blue environment is kept with an -old1 suffix; create a new blue/green deployment from it or rename it manually',
    );
    await expect(cutover.rollbackRenameSource(clients(), optedOut({ cutover: cutoverRec(), rolledBack: { at: 'T', done: true } }))).rejects.toThrow(
      '[rollbackRenameSource] orders: already rolled back at T; orders is the original again. Next: nothing to do; the re-keyed copy is kept under its -rekey- name',
    );
    // A rollback started but not finished may be resumed.
    rds.addInstance(inst(PRE, OLD_KEY));
    await expect(cutover.rollbackRenameSource(clients(), optedOut({ cutover: cutoverRec(), rolledBack: { at: 'T' } }))).resolves.toMatchObject({ done: true });
    expect(rds.renames()).toEqual([`${PRE} → orders`]);
  });
});

describe('freezeSource, rollbackUnfreeze, releaseOriginal', () => {
  test('freezeSource: not for a rehearsal/blue-green/cross-Region run; an opt-out is warned once; a snapshot taken before any freeze is not frozen now', async () => {
    expect((await cutover.freezeSource(clients(), preflighted({ cutoverRequested: false }))).message).toBe('no write freeze: rehearsal (no --cutover): the source keeps serving');
    const s = preflighted({ freezeOptOut: 'flag --no-freeze at T' });
    const w = 'no enforced write freeze (operator opted out: flag --no-freeze at T); writes that reach orders after the final snapshot are missing from the new instance';
    expect((await cutover.freezeSource(clients(), s)).message).toBe(w);
    await cutover.freezeSource(clients(), s);
    expect(s.warnings).toEqual([w]);
    expect((await cutover.freezeSource(clients(), preflighted({ snapshotStartedAt: '2026-11-30T03:00:00.000Z' }))).message).toBe(
      'no freeze now: the snapshot was already taken at 2026-11-30T03:00:00.000Z without one; cutover will refuse this copy',
    );
    expect(rdsStub.calls()).toHaveLength(0);
    expect(ec2.calls()).toHaveLength(0);
  });

  test('freezeSource applies the freeze and completes the step', async () => {
    rds.addInstance(inst('orders', OLD_KEY, { DBSubnetGroup: { VpcId: 'vpc-1' } }));
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
    ec2.on(CreateSecurityGroupCommand).resolves({ GroupId: 'sg-freeze' });
    const r = await cutover.freezeSource(clients(), preflighted());
    expect(r).toMatchObject({ done: true, message: expect.stringMatching(/^blocked clients of orders: its security groups sg-2, sg-1 replaced by sg-freeze/) });
    expect(r.state.lastStep).toBe('freezeSource');
    expect(rds.instances.get('orders')!.VpcSecurityGroups).toEqual([{ VpcSecurityGroupId: 'sg-freeze', Status: 'active' }]);
  });

  test('rollbackUnfreeze puts the originals back (also when the record was lost in a crash), marks the rollback done and releases the lock', async () => {
    rds.addInstance(inst('orders', OLD_KEY, { DBSubnetGroup: { VpcId: 'vpc-1' }, VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-freeze' }], TagList: [{ Key: LOCK_TAG, Value: RUN }] }));
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: 'sg-freeze', Tags: [{ Key: ORIGINAL_SGS_TAG, Value: 'sg-2 sg-1' }] }] });
    const r = await cutover.rollbackUnfreeze(clients(), preflighted());
    expect(r.message).toMatch(/^orders: original security groups sg-2, sg-1 put back/);
    expect(rds.instances.get('orders')!.VpcSecurityGroups!.map((g) => g.VpcSecurityGroupId)).toEqual(['sg-2', 'sg-1']);
    expect(r.state.rolledBack).toEqual({ at: expect.any(String), done: true });
    expect(rds.instances.get('orders')!.TagList).toEqual([]);
  });

  test('rollbackUnfreeze: nothing to lift for a run that never froze (rehearsal, opted out, or nothing found)', async () => {
    expect((await cutover.rollbackUnfreeze(clients(), preflighted({ cutoverRequested: false }))).message).toBe('no freeze to lift');
    expect((await cutover.rollbackUnfreeze(clients(), preflighted({ freezeOptOut: 'x' }))).message).toBe('no freeze to lift');
    expect(rdsStub.calls()).toHaveLength(0);
    rds.addInstance(inst('orders', OLD_KEY, { DBSubnetGroup: { VpcId: 'vpc-1' } }));
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
    const r = await cutover.rollbackUnfreeze(clients(), preflighted());
    expect(r.message).toBe('no freeze to lift');
    // The last rollback phase: nothing to lift ends the rollback (an abort before any cutover), as lifting one does.
    expect(r.state.rolledBack).toEqual({ at: expect.any(String), done: true });
  });

  test('releaseOriginal lifts the freeze from the renamed original only after a finished cutover that was not rolled back', async () => {
    const f = { groupId: 'sg-freeze', originalSecurityGroupIds: ['sg-1'] };
    const refusal = '[releaseOriginal] orders: no finished cutover in this run; the original still answers to its own name. Next: to lift the freeze from the source use --rollback';
    await expect(cutover.releaseOriginal(clients(), preflighted({ freeze: f }))).rejects.toThrow(refusal);
    await expect(cutover.releaseOriginal(clients(), preflighted({ freeze: f, cutover: cutoverRec() }))).rejects.toThrow(refusal);
    await expect(cutover.releaseOriginal(clients(), preflighted({ freeze: f, cutover: cutoverRec({ done: true }), rolledBack: { at: 'T' } }))).rejects.toThrow(refusal);
    rds.addInstance(inst(PRE, OLD_KEY, { VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-freeze' }] }));
    rds.addInstance(inst('orders', NEW_KEY, { VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-freeze' }] }));
    const msg = await cutover.releaseOriginal(clients(), preflighted({ freeze: f, cutover: cutoverRec({ done: true }) }));
    expect(msg).toMatch(new RegExp(`^${PRE}: original security groups sg-1 put back`));
    expect(rds.instances.get(PRE)!.VpcSecurityGroups!.map((g) => g.VpcSecurityGroupId)).toEqual(['sg-1']);
    expect(rds.instances.get('orders')!.VpcSecurityGroups!.map((g) => g.VpcSecurityGroupId)).toEqual(['sg-freeze']);
  });
});

describe('checks.ts: snapshots, freeze, apply, blue/green', () => {
  test('snapshotProgress: creating/copying/pending poll with percent; available done; missing or failed raise', async () => {
    const s = optedOut();
    expect(checks.snapshotProgress(s, 'checkCopy', 'snap', { status: 'copying', percent: 12 })).toMatchObject({ done: false, message: 'snap copying 12%' });
    expect(checks.snapshotProgress(s, 'checkCopy', 'snap', { status: 'pending' })).toMatchObject({ done: false, message: 'snap pending' });
    expect(s.progress).toEqual({ step: 'checkCopy', percent: undefined, status: 'pending' });
    expect(checks.snapshotProgress(s, 'checkCopy', 'snap', { status: 'creating', percent: 0 })).toMatchObject({ done: false, message: 'snap creating 0%' });
    expect(checks.snapshotProgress(s, 'checkCopy', 'snap', { status: 'available', percent: 100 })).toMatchObject({ done: true, message: 'snap available' });
    expect(s.lastStep).toBe('checkCopy');
    expect(() => checks.snapshotProgress(s, 'checkCopy', 'snap', undefined)).toThrow('[checkCopy] snap: snapshot not found. Next: resume the run: the start step will create it again');
    expect(() => checks.snapshotProgress(s, 'checkCopy', 'snap', { status: 'incompatible-restore' })).toThrow('[checkCopy] snap: snapshot status is "incompatible-restore". Next: inspect the snapshot in the console; the source is untouched, start a new run when fixed');
  });

  test('getSnapshot maps instance and cluster snapshots; checkCopy of an Aurora copy checks its key; no copy: nothing to check', async () => {
    const created = new Date('2026-11-30T03:05:00Z');
    rdsStub.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: 'available', PercentProgress: 100, DBSnapshotArn: 'arn:s', KmsKeyId: NEW_KEY, SnapshotCreateTime: created, TagList: [{ Key: 'a', Value: 'b' }] }] });
    expect(await checks.getSnapshot(clients().rds, 'instance', 'x')).toEqual({ status: 'available', percent: 100, arn: 'arn:s', kmsKeyId: NEW_KEY, createdAt: created, tags: [{ Key: 'a', Value: 'b' }] });
    rdsStub.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [{ Status: 'available', PercentProgress: 100, DBClusterSnapshotArn: 'arn:c', KmsKeyId: OLD_KEY, SnapshotCreateTime: created, TagList: [] }] });
    expect(await checks.getSnapshot(clients().rds, 'cluster', 'x')).toEqual({ status: 'available', percent: 100, arn: 'arn:c', kmsKeyId: OLD_KEY, createdAt: created, tags: [] });
    const s = optedOut({}, 'cluster');
    await expect(checks.checkCopy(clients(), { ...s, names: { ...s.names!, copySnapshot: 'ledger-copy' } })).rejects.toThrow(`[checkCopy] ledger-copy: the copy is encrypted with ${OLD_KEY}, not ${NEW_KEY}. Next: check the key ARN and key policy; the source is untouched`);
    expect(await checks.checkCopy(clients(), s)).toMatchObject({ done: true, message: 'no copy' });
    rdsStub.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [{ Status: 'copying', KmsKeyId: OLD_KEY }] });
    expect(await checks.checkCopy(clients(), { ...s, names: { ...s.names!, copySnapshot: 'ledger-copy' } })).toMatchObject({ done: false });
  });

  test('checkFreeze: nothing to check without a freeze; done once quiet and snapshotted; otherwise the quiet check decides', async () => {
    expect((await checks.checkFreeze(clients(), preflighted({ cutoverRequested: false }))).message).toBe('no freeze to check');
    expect((await checks.checkFreeze(clients(), preflighted({ freezeOptOut: 'x' }))).message).toBe('no freeze to check');
    expect((await checks.checkFreeze(clients(), preflighted({ snapshotStartedAt: 'T' }))).message).toBe('no freeze to check');
    const f = { groupId: 'sg-freeze', originalSecurityGroupIds: [], quietAt: '2026-11-30T03:15:00.000Z', appliedAt: '2026-11-30T03:10:00.000Z' };
    expect(await checks.checkFreeze(clients(), preflighted({ freeze: f, snapshotStartedAt: 'T' }))).toMatchObject({ done: true, message: 'frozen and quiet since 2026-11-30T03:15:00.000Z' });
    expect(rdsStub.calls()).toHaveLength(0);
    rds.addInstance(inst('orders', OLD_KEY, { VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-freeze', Status: 'active' }] }));
    const waiting = await checks.checkFreeze(clients(), preflighted({ freeze: f }));
    expect(waiting).toMatchObject({ done: false });
    expect(waiting.state.progress).toEqual({ step: 'checkFreeze', status: 'waiting' });
    cw.on(GetMetricStatisticsCommand).resolves({ Datapoints: [{ Timestamp: new Date(), Maximum: 0 }] });
    const quiet = await checks.checkFreeze(clients(), preflighted({ freeze: f }));
    expect(quiet).toMatchObject({ done: true, message: expect.stringMatching(/^orders is frozen and quiet/) });
    expect(quiet.state.progress).toEqual({ step: 'checkFreeze', status: 'quiet' });
  });

  test('checkApply (Aurora): every member and the cluster must be available without pending changes', async () => {
    const s = optedOut({}, 'cluster');
    rds.addCluster(clus(`ledger-rekey-${RUN}`, NEW_KEY, { Status: 'modifying' }));
    rds.addInstance(inst(`ledger-1-rekey-${RUN}`, NEW_KEY, { PendingModifiedValues: { ProcessorFeatures: [], DBInstanceClass: undefined } }));
    const r = await checks.checkApply(clients(), s);
    expect(r).toMatchObject({ done: false, message: `waiting: ledger-2-rekey-${RUN} missing, ledger-rekey-${RUN} modifying` });
    rds.addInstance(inst(`ledger-2-rekey-${RUN}`, NEW_KEY, { PendingModifiedValues: { MonitoringInterval: 0 } }));
    rds.clusters.get(`ledger-rekey-${RUN}`)!.Status = 'available';
    expect((await checks.checkApply(clients(), s)).message).toBe(`waiting: ledger-2-rekey-${RUN} available`);
    rds.instances.get(`ledger-2-rekey-${RUN}`)!.PendingModifiedValues = { PendingCloudwatchLogsExports: undefined };
    expect(await checks.checkApply(clients(), s)).toMatchObject({ done: true, message: 'settings applied' });
    expect(s.progress).toEqual({ step: 'checkApply', status: 'available' });
  });

  test('blue/green: switchover completes, waits while in progress, raises on failure; a missing deployment raises', async () => {
    const s = optedOut({ method: 'blue-green', blueGreenId: 'bgd-1', cutover: cutoverRec() });
    rdsStub.on(DescribeBlueGreenDeploymentsCommand).resolves({ BlueGreenDeployments: [{ Status: 'SWITCHOVER_COMPLETED' }] });
    expect(await checks.checkSwitchover(clients(), s)).toMatchObject({ done: true, message: 'switchover completed; the old blue environment is kept with an -old suffix' });
    expect(s.cutover?.done).toBe(true);
    rdsStub.on(DescribeBlueGreenDeploymentsCommand).resolves({ BlueGreenDeployments: [{ Status: 'AVAILABLE' }] });
    expect(await checks.checkSwitchover(clients(), s)).toMatchObject({ done: false, message: 'switchover AVAILABLE' });
    rdsStub.on(DescribeBlueGreenDeploymentsCommand).resolves({ BlueGreenDeployments: [{ Status: 'SWITCHOVER_FAILED' }] });
    await expect(checks.checkSwitchover(clients(), s)).rejects.toThrow('[checkSwitchover] bgd-1: switchover status is "SWITCHOVER_FAILED". Next: RDS rolls a failed switchover back; inspect the deployment');
    rdsStub.on(DescribeBlueGreenDeploymentsCommand).resolves({ BlueGreenDeployments: [{ Status: 'AVAILABLE', Target: 'arn:green' }] });
    expect(await checks.checkBlueGreen(clients(), s)).toMatchObject({ done: true, message: 'green environment arn:green available' });
    rdsStub.on(DescribeBlueGreenDeploymentsCommand).resolves({ BlueGreenDeployments: [{ Status: 'PROVISIONING', Tasks: [{ Name: 'CREATING_READ_REPLICA_OF_SOURCE', Status: 'IN_PROGRESS' }] }] });
    expect(await checks.checkBlueGreen(clients(), s)).toMatchObject({ done: false, message: 'provisioning (CREATING_READ_REPLICA_OF_SOURCE:IN_PROGRESS)' });
    expect(rdsStub.commandCalls(DescribeBlueGreenDeploymentsCommand).at(-1)!.args[0].input).toEqual({ BlueGreenDeploymentIdentifier: 'bgd-1' });
    rdsStub.on(DescribeBlueGreenDeploymentsCommand).resolves({ BlueGreenDeployments: [] });
    await expect(checks.checkBlueGreen(clients(), s)).rejects.toThrow('[checkBlueGreen] bgd-1: blue/green deployment not found. Next: check the console; the source is untouched');
    await expect(checks.checkBlueGreen(clients(), optedOut({ method: 'blue-green' }))).rejects.toThrow('[checkBlueGreen] blue/green deployment id: missing from the state document');
  });
});
