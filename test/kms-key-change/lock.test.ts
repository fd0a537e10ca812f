/**
 * The run lock (lambda/kms-key-change/lock.ts): acquired, refused, same-run resume, a lost race,
 * --break-lock, release at finalize and at rollback completion. Mocked with aws-sdk-client-mock
 * because a race between two writers and a held lock at exact moments cannot be staged in moto;
 * test/integration/kms-key-change/run-lock.test.ts runs two real runs against moto.
 */
import { DescribeKeyCommand, GetKeyPolicyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  AddTagsToResourceCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBProxiesCommand,
  DescribeDBSnapshotsCommand,
  DescribeGlobalClustersCommand,
  ListTagsForResourceCommand,
  RDSClient,
  RemoveTagsFromResourceCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { main } from '../../lambda/kms-key-change/cli';
import { acquireLock, LOCK_TAG, lockIds, lockSettleMs, reassertRunTag } from '../../lambda/kms-key-change/lock';
import { preflight, PreflightError } from '../../lambda/kms-key-change/preflight';
import { phasesFor, rollbackPhases, runPhases } from '../../lambda/kms-key-change/runner';
import { captureInstance } from '../../lambda/kms-key-change/settings';
import { newState, RekeyState } from '../../lambda/kms-key-change/state';
import * as steps from '../../lambda/kms-key-change/steps';
import { ACCOUNT, clients, DEFAULT_POLICY, instance, NEW_KEY, notFound, OLD_KEY } from './fixtures';

const rds = mockClient(RDSClient);
const kms = mockClient(KMSClient);
const RUN = '20261130030405';
const OTHER = '20261129220000';
const arn = (id: string) => `arn:aws:rds:us-east-1:${ACCOUNT}:db:${id}`;
const lock = (v: string) => ({ TagList: [{ Key: 'team', Value: 'orders' }, { Key: LOCK_TAG, Value: v }] });
const unlocked = { TagList: [{ Key: 'team', Value: 'orders' }] };

function preflighted(over: Partial<RekeyState> = {}): RekeyState {
  const s = newState({ kind: 'instance', sourceId: 'orders', kmsKey: NEW_KEY, region: 'us-east-1', now: new Date('2026-11-30T03:04:05Z') });
  return {
    ...s,
    account: ACCOUNT,
    targetKeyArn: NEW_KEY,
    sourceKeyArn: OLD_KEY,
    lastStep: 'preflight',
    source: { kind: 'instance', instance: captureInstance(instance()) },
    names: { sourceSnapshot: `orders-rekey-${RUN}-src`, copySnapshot: `orders-rekey-${RUN}-new`, newId: `orders-rekey-${RUN}`, preRekeyId: `orders-pre-rekey-${RUN}` },
    ...over,
  };
}

/** Everything a healthy instance preflight reads. */
function healthySource(tags = instance().TagList): void {
  rds.on(DescribeDBInstancesCommand).rejects(notFound());
  rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders' }).resolves({ DBInstances: [instance({ TagList: tags })] });
  rds.on(DescribeDBClustersCommand).rejects(notFound('DBClusterNotFoundFault'));
  rds.on(DescribeDBSnapshotsCommand).rejects(notFound('DBSnapshotNotFoundFault'));
  rds.on(DescribeDBClusterSnapshotsCommand).rejects(notFound('DBClusterSnapshotNotFoundFault'));
  rds.on(DescribeDBProxiesCommand).resolves({ DBProxies: [] });
  rds.on(DescribeGlobalClustersCommand).resolves({ GlobalClusters: [] });
  kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'b', Arn: NEW_KEY, KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', KeyManager: 'CUSTOMER' } });
  kms.on(GetKeyPolicyCommand).resolves({ Policy: DEFAULT_POLICY });
}

/** These DB instances exist (existence comes from DescribeDBInstances, the lock from ListTagsForResource). */
function present(...ids: string[]): void {
  for (const id of ids) rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: id }).resolves({ DBInstances: [instance({ DBInstanceIdentifier: id, DBInstanceArn: arn(id) })] });
}

beforeEach(() => {
  rds.reset();
  kms.reset();
  process.env.REKEY_LOCK_SETTLE_MS = '0';
  rds.on(DescribeDBInstancesCommand).rejects(notFound());
  rds.on(ListTagsForResourceCommand).rejects(notFound());
  rds.on(AddTagsToResourceCommand).resolves({});
  rds.on(RemoveTagsFromResourceCommand).resolves({});
});

const addCalls = () => rds.commandCalls(AddTagsToResourceCommand).map((c) => c.args[0].input);
const removeCalls = () => rds.commandCalls(RemoveTagsFromResourceCommand).map((c) => c.args[0].input);

test('preflight step acquires the lock: reads, tags the source with the run id, reads it back', async () => {
  healthySource();
  rds.on(ListTagsForResourceCommand, { ResourceName: arn('orders') }).resolvesOnce(unlocked).resolves(lock(RUN));
  const s = newState({ kind: 'instance', sourceId: 'orders', kmsKey: NEW_KEY, region: 'us-east-1', now: new Date('2026-11-30T03:04:05Z') });
  const r = await steps.preflightStep(clients(), s);
  expect(r.message).toContain(`run lock ${LOCK_TAG}=${RUN} set`);
  // The first lock brings the run tag, which scopes every later RDS write of the Steps role.
  expect(addCalls()).toEqual([{ ResourceName: arn('orders'), Tags: [{ Key: LOCK_TAG, Value: RUN }, { Key: 'db-ops-kit:rekey-source', Value: 'orders' }] }]);
  expect(rds.commandCalls(ListTagsForResourceCommand, { ResourceName: arn('orders') })).toHaveLength(2);
});

test('a lock held by another run refuses: preflight (read-only, dry run too) and acquire name the run and the way out', async () => {
  healthySource([{ Key: LOCK_TAG, Value: OTHER }]);
  const err = await preflight(clients(), newState({ kind: 'instance', sourceId: 'orders', kmsKey: NEW_KEY, region: 'us-east-1', now: new Date('2026-11-30T03:04:05Z') })).catch((e) => e);
  expect(err).toBeInstanceOf(PreflightError);
  expect(err.problems.map((p: { code: string }) => p.code)).toEqual(['RUN_IN_PROGRESS']);
  expect(err.message).toContain(`key-change run ${OTHER} (started 2026-11-29 22:00:00 UTC) holds the run lock`);
  expect(err.message).toContain(`by default out/kms-change/rekey-orders-${OTHER}.json`);
  expect(err.message).toContain(`npm run kms-change -- --db-instance orders --region us-east-1 --break-lock ${OTHER}`);

  rds.on(ListTagsForResourceCommand, { ResourceName: arn('orders') }).resolves(lock(OTHER));
  const e2 = await acquireLock(clients(), preflighted(), { settleMs: 0 }).catch((e) => e);
  expect(e2).toBeInstanceOf(PreflightError);
  expect(e2.problems[0]).toMatchObject({ code: 'RUN_IN_PROGRESS', resource: 'orders' });
  expect(addCalls()).toEqual([]);
});

test('same run resumes: its own lock passes without a write; a resume re-takes a released lock', async () => {
  present('orders');
  rds.on(ListTagsForResourceCommand, { ResourceName: arn('orders') }).resolves(lock(RUN));
  expect(await acquireLock(clients(), preflighted())).toEqual(['orders']);
  expect(addCalls()).toEqual([]);

  // A rehearsal finished (lock released) and is resumed with --cutover: runPhases takes the lock
  // again on the source and on the re-keyed copy before the first cutover step.
  rds.reset();
  rds.on(DescribeDBInstancesCommand).rejects(notFound());
  present('orders', `orders-rekey-${RUN}`);
  rds.on(ListTagsForResourceCommand).rejects(notFound());
  // After the write the resource carries the lock and the run tag acquireLock sent with it (so the
  // steps' run-tag check, lock.ts reassertRunTag, finds nothing to put back).
  const lockedAndTagged = { TagList: [...lock(RUN).TagList, { Key: 'db-ops-kit:rekey-source', Value: 'orders' }] };
  for (const id of ['orders', `orders-rekey-${RUN}`]) rds.on(ListTagsForResourceCommand, { ResourceName: arn(id) }).resolvesOnce(unlocked).resolves(lockedAndTagged);
  rds.on(AddTagsToResourceCommand).resolves({});
  const s = preflighted({ lastStep: 'verify', parityClean: true, snapshotWritesStopped: false });
  // Stops at renameSource's own guard (a rehearsal snapshot, no freeze) — after the lock was taken.
  await expect(runPhases(clients(), s, phasesFor(s, { cutover: true }), { pollMs: 0 })).rejects.toThrow(/no enforced freeze was in place/);
  expect(addCalls().map((a) => a.ResourceName).sort()).toEqual([arn('orders'), arn(`orders-rekey-${RUN}`)]);
});

test('a lost race refuses: both runs tagged, the read-back names the other run; its tag is left alone', async () => {
  present('orders');
  rds.on(ListTagsForResourceCommand, { ResourceName: arn('orders') }).resolvesOnce(unlocked).resolves(lock(OTHER));
  const e = await acquireLock(clients(), preflighted(), { settleMs: 1 }).catch((x) => x);
  expect(e).toBeInstanceOf(PreflightError);
  expect(e.problems[0]).toMatchObject({ code: 'RUN_IN_PROGRESS', resource: 'orders' });
  expect(removeCalls()).toEqual([]);
});

test('the re-keyed copy is locked from its restore (same Region), so it is locked when it takes the name', async () => {
  rds.on(DescribeDBInstancesCommand).rejects(notFound());
  rds.on(RestoreDBInstanceFromDBSnapshotCommand).resolves({});
  await steps.restore(clients(), preflighted());
  expect(rds.commandCalls(RestoreDBInstanceFromDBSnapshotCommand)[0].args[0].input.Tags).toContainEqual({ Key: LOCK_TAG, Value: RUN });
  rds.reset();
  rds.on(DescribeDBInstancesCommand).rejects(notFound());
  rds.on(RestoreDBInstanceFromDBSnapshotCommand).resolves({});
  await steps.restore(clients(), preflighted({ targetRegion: 'us-west-2', targetSecurityGroupIds: ['sg-9'], names: { sourceSnapshot: 's', copySnapshot: 'c', newId: 'orders' } }));
  expect(rds.commandCalls(RestoreDBInstanceFromDBSnapshotCommand)[0].args[0].input.Tags).not.toContainEqual({ Key: LOCK_TAG, Value: RUN });
  expect(lockIds(preflighted({ targetRegion: 'us-west-2', names: { sourceSnapshot: 's', newId: 'orders' } }))).toEqual(['orders']);
});

test('finalize releases only this run\'s lock, on the source, the renamed original and the copy', async () => {
  present('orders', `orders-pre-rekey-${RUN}`, `orders-rekey-${RUN}`);
  rds.on(ListTagsForResourceCommand, { ResourceName: arn('orders') }).resolves(lock(RUN));
  rds.on(ListTagsForResourceCommand, { ResourceName: arn(`orders-pre-rekey-${RUN}`) }).resolves(lock(RUN));
  rds.on(ListTagsForResourceCommand, { ResourceName: arn(`orders-rekey-${RUN}`) }).resolves(lock(OTHER));
  const r = await steps.finalize(clients(), preflighted());
  expect(removeCalls()).toEqual([
    { ResourceName: arn('orders'), TagKeys: [LOCK_TAG] },
    { ResourceName: arn(`orders-pre-rekey-${RUN}`), TagKeys: [LOCK_TAG] },
  ]);
  expect(r.message).toContain(`run lock released (orders, orders-pre-rekey-${RUN})`);
  // A failed release does not fail the finished run; it says how to release the lock.
  rds.on(RemoveTagsFromResourceCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
  const r2 = await steps.finalize(clients(), preflighted());
  expect(r2.state.warnings.join('\n')).toContain(`--break-lock ${RUN}`);
});

test('rollback completion releases the lock (before finalize runs)', async () => {
  const pre = `orders-pre-rekey-${RUN}`;
  present('orders');
  rds.on(ListTagsForResourceCommand, { ResourceName: arn('orders') }).resolves(lock(RUN));
  const s = preflighted({ cutover: { at: 'x', sourceRenamedTo: pre, memberRenames: [], done: true }, rolledBack: { at: 'y' } });
  const r = await steps.checkRollbackSource(clients(), s);
  expect(r.done).toBe(true);
  expect(removeCalls()).toEqual([{ ResourceName: arn('orders'), TagKeys: [LOCK_TAG] }]);
  expect(rollbackPhases().map((p) => p.start)).toContain('finalize');
});

describe('--break-lock', () => {
  async function cli(args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }
  beforeEach(() => present('orders'));

  test('says what it does, removes only the named run\'s tag, and nothing else', async () => {
    rds.on(ListTagsForResourceCommand, { ResourceName: arn('orders') }).resolves(lock(OTHER));
    const r = await cli(['--db-instance', 'orders', '--region', 'us-east-1', '--break-lock', OTHER]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Releasing the run lock of key-change run ${OTHER} (started 2026-11-29 22:00:00 UTC) on instance orders in us-east-1`);
    expect(r.out).toContain('This stops nothing and deletes nothing else');
    expect(r.out).toContain(`removed tag ${LOCK_TAG}=${OTHER} from ${arn('orders')}`);
    expect(removeCalls()).toEqual([{ ResourceName: arn('orders'), TagKeys: [LOCK_TAG] }]);
  });

  test('refuses to remove a lock that names a different run; nothing to do when there is none', async () => {
    rds.on(ListTagsForResourceCommand, { ResourceName: arn('orders') }).resolves(lock(RUN));
    const r = await cli(['--db-instance', 'orders', '--region', 'us-east-1', '--break-lock', OTHER]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`orders names run ${RUN}, not ${OTHER}; nothing was released`);
    expect(removeCalls()).toEqual([]);
    rds.on(ListTagsForResourceCommand, { ResourceName: arn('orders') }).resolves(unlocked);
    const r2 = await cli(['--db-instance', 'orders', '--region', 'us-east-1', '--break-lock', OTHER]);
    expect(r2.code).toBe(0);
    expect(r2.out).toContain(`Nothing to release: no lock of run ${OTHER} found`);
  });

  test.each([
    [['--db-instance', 'orders', '--break-lock', 'yesterday'], /14-digit run id/],
    [['--break-lock', OTHER], /--break-lock needs --db-instance or --db-cluster/],
    [['--db-instance', 'orders', '--kms-key', 'k', '--break-lock', OTHER], /--break-lock only releases a lock/],
  ])('%j exits 2', async (args, why) => {
    const r = await cli(args as string[]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(why as RegExp);
  });
});

test('settle pause: 5 s by default, REKEY_LOCK_SETTLE_MS overrides', () => {
  expect(lockSettleMs({})).toBe(5000);
  expect(lockSettleMs({ REKEY_LOCK_SETTLE_MS: '0' })).toBe(0);
  expect(lockSettleMs({ REKEY_LOCK_SETTLE_MS: 'soon' })).toBe(5000);
});

test('reassertRunTag: puts the run tag back only where this run holds the lock, only that key, on the exact ARN', async () => {
  rds.on(DescribeDBInstancesCommand).rejects(notFound());
  present('orders', `orders-rekey-${RUN}`);
  rds.on(AddTagsToResourceCommand).resolves({});
  // Source: our lock, run tag overwritten by someone else. Copy: another run's lock (after a --break-lock), no run tag.
  rds.on(ListTagsForResourceCommand, { ResourceName: arn('orders') }).resolves({ TagList: [...lock(RUN).TagList, { Key: 'db-ops-kit:rekey-source', Value: 'billing' }] });
  rds.on(ListTagsForResourceCommand, { ResourceName: arn(`orders-rekey-${RUN}`) }).resolves(lock(OTHER));
  expect(await reassertRunTag(clients(), preflighted())).toEqual(['orders']);
  expect(addCalls()).toEqual([{ ResourceName: arn('orders'), Tags: [{ Key: 'db-ops-kit:rekey-source', Value: 'orders' }] }]);
  // Nothing to do when the tag is in place.
  rds.resetHistory();
  rds.on(ListTagsForResourceCommand, { ResourceName: arn('orders') }).resolves({ TagList: [...lock(RUN).TagList, { Key: 'db-ops-kit:rekey-source', Value: 'orders' }] });
  expect(await reassertRunTag(clients(), preflighted())).toEqual([]);
  expect(addCalls()).toEqual([]);
});

test('reassertRunTag after the lock was released (a rollback after finalize): the run\'s own -pre-rekey- name gets the tag back, the source name does not', async () => {
  rds.on(DescribeDBInstancesCommand).rejects(notFound());
  present('orders', `orders-pre-rekey-${RUN}`);
  rds.on(AddTagsToResourceCommand).resolves({});
  rds.on(ListTagsForResourceCommand, { ResourceName: arn('orders') }).resolves(unlocked);
  rds.on(ListTagsForResourceCommand, { ResourceName: arn(`orders-pre-rekey-${RUN}`) }).resolves(unlocked);
  expect(await reassertRunTag(clients(), preflighted())).toEqual([`orders-pre-rekey-${RUN}`]);
  expect(addCalls()).toEqual([{ ResourceName: arn(`orders-pre-rekey-${RUN}`), Tags: [{ Key: 'db-ops-kit:rekey-source', Value: 'orders' }] }]);
  // Not for a cross-Region run (its names live in the other Region, and there is no rename).
  rds.resetHistory();
  expect(await reassertRunTag(clients(), preflighted({ targetRegion: 'eu-west-1' }))).toEqual([]);
  expect(addCalls()).toEqual([]);
});

test('reassertRunTag on a finished rollback changes nothing: a kept copy whose run tag was removed since (taken out of the kit\'s reach) stays untagged', async () => {
  rds.on(DescribeDBInstancesCommand).rejects(notFound());
  present('orders', `orders-rekey-${RUN}`);
  rds.on(AddTagsToResourceCommand).resolves({});
  rds.on(ListTagsForResourceCommand, { ResourceName: arn('orders') }).resolves(unlocked);
  rds.on(ListTagsForResourceCommand, { ResourceName: arn(`orders-rekey-${RUN}`) }).resolves(unlocked);
  expect(await reassertRunTag(clients(), preflighted({ rolledBack: { at: '2026-11-30T04:00:00Z', done: true } }))).toEqual([]);
  expect(addCalls()).toEqual([]);
  // While the rollback is still under way the run's own name does get it back.
  expect(await reassertRunTag(clients(), preflighted({ rolledBack: { at: '2026-11-30T04:00:00Z' } }))).toEqual([`orders-rekey-${RUN}`]);
});
