/**
 * The run lock (lambda/kms-key-change/lock.ts) on the paths lock.test.ts does not take: an Aurora
 * source (cluster ARNs, the members' run tag), the names that may carry the lock per kind of run, a
 * resource that vanishes between the describe and the tag call, the lock removed by someone during
 * the settle pause, and --break-lock on a cluster. RDS is the in-memory fake of ./fake-rds.ts
 * (tags by ARN), for the reasons given in lock.test.ts; the two-run race on moto is in
 * test/integration/kms-key-change/run-lock.test.ts.
 */
import { AddTagsToResourceCommand, ListTagsForResourceCommand, RDSClient, RemoveTagsFromResourceCommand } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { acquireLock, breakLock, heldProblem, lockIds, reassertRunTag, releaseLock, runStartedAt } from '../../lambda/kms-key-change/lock';
import { PreflightError } from '../../lambda/kms-key-change/preflight';
import { captureCluster } from '../../lambda/kms-key-change/settings';
import { newState, RekeyState } from '../../lambda/kms-key-change/state';
import { LOCK_TAG, RUN_SOURCE_TAG } from '../../lambda/kms-key-change/workflow';
import { FakeRds } from './fake-rds';
import { ACCOUNT, clients, cluster, instance, member, NEW_KEY, notFound } from './fixtures';

const stub = mockClient(RDSClient);
let rds: FakeRds;
const RUN = '20261130030405';
const OTHER = '20261129220000';
const carn = (id: string) => `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:${id}`;
const iarn = (id: string) => `arn:aws:rds:us-east-1:${ACCOUNT}:db:${id}`;

function clusterRun(over: Partial<RekeyState> = {}): RekeyState {
  const s = newState({ kind: 'cluster', sourceId: 'ledger', kmsKey: NEW_KEY, region: 'us-east-1', now: new Date('2026-11-30T03:04:05Z') });
  return {
    ...s,
    source: { kind: 'cluster', cluster: captureCluster(cluster(), [member('ledger-1'), member('ledger-2')]) },
    names: { sourceSnapshot: `ledger-rekey-${RUN}-src`, newId: `ledger-rekey-${RUN}`, preRekeyId: `ledger-pre-rekey-${RUN}`, memberIds: {} },
    ...over,
  };
}

beforeEach(() => {
  stub.reset();
  rds = new FakeRds(stub);
  rds.addCluster(cluster({ TagList: [{ Key: 'team', Value: 'ledger' }] }));
  rds.addInstance(member('ledger-1', { TagList: [] }));
  rds.addInstance(member('ledger-2', { TagList: [{ Key: RUN_SOURCE_TAG, Value: 'ledger' }] }));
});

test('lockIds: the source, the -pre-rekey- name and the same-Region copy; the -old1 name of a blue/green run; no copy across Regions or accounts', () => {
  expect(lockIds(clusterRun())).toEqual(['ledger', `ledger-pre-rekey-${RUN}`, `ledger-rekey-${RUN}`]);
  expect(lockIds(clusterRun({ targetRegion: 'us-west-2' }))).toEqual(['ledger', `ledger-pre-rekey-${RUN}`]);
  expect(lockIds(clusterRun({ shareWithAccount: '210987654321' }))).toEqual(['ledger', `ledger-pre-rekey-${RUN}`]);
  expect(lockIds(clusterRun({ method: 'blue-green', names: undefined }))).toEqual(['ledger', 'ledger-old1']);
  expect(lockIds(clusterRun({ names: { sourceSnapshot: 'x', newId: 'ledger' } }))).toEqual(['ledger']);
});

test('runStartedAt and the held-lock problem name the run, its start and both ways on', () => {
  expect(runStartedAt(RUN)).toBe('2026-11-30 03:04:05 UTC');
  expect(runStartedAt('not-a-run')).toBe('not-a-run');
  expect(heldProblem({ kind: 'cluster', sourceId: 'ledger', region: 'us-east-1' }, 'ledger', OTHER)).toEqual({
    code: 'RUN_IN_PROGRESS',
    resource: 'ledger',
    message: `key-change run ${OTHER} (started 2026-11-29 22:00:00 UTC) holds the run lock (tag ${LOCK_TAG}=${OTHER}); a second run would snapshot, copy and restore the same database again and race the first one's cutover renames`,
    next:
      `let run ${OTHER} finish: resume it (npm run kms-change -- --resume <its state file, by default out/kms-change/rekey-ledger-${OTHER}.json>, or redrive its Step Functions execution), or roll it back. ` +
      `Only if run ${OTHER} is dead and will never be resumed (no kms-change process and no RUNNING execution for it), release its lock with: ` +
      `npm run kms-change -- --db-cluster ledger --region us-east-1 --break-lock ${OTHER}`,
  });
});

test('Aurora: the lock and the run tag go on the cluster ARN; members get the run tag only (those that lack it), so cutover may rename them', async () => {
  const locked = await acquireLock(clients(), clusterRun(), { settleMs: 0 });
  expect(locked).toEqual(['ledger']);
  expect(stub.commandCalls(AddTagsToResourceCommand).map((c) => c.args[0].input)).toEqual([
    { ResourceName: carn('ledger'), Tags: [{ Key: LOCK_TAG, Value: RUN }, { Key: RUN_SOURCE_TAG, Value: 'ledger' }] },
    { ResourceName: iarn('ledger-1'), Tags: [{ Key: RUN_SOURCE_TAG, Value: 'ledger' }] },
  ]);
  expect(rds.clusters.get('ledger')!.TagList).toEqual([{ Key: 'team', Value: 'ledger' }, { Key: LOCK_TAG, Value: RUN }, { Key: RUN_SOURCE_TAG, Value: 'ledger' }]);
  // Resumed: the lock is confirmed without a write (and without the settle pause).
  stub.resetHistory();
  expect(await acquireLock(clients(), clusterRun(), { settleMs: 60_000 })).toEqual(['ledger']);
  expect(stub.commandCalls(AddTagsToResourceCommand)).toHaveLength(0);
});

test('members are read with DescribeDBInstances only: the Steps role may list tags on the run\'s cluster ARNs only (RunLockRead), never on a db: ARN', async () => {
  await acquireLock(clients(), clusterRun(), { settleMs: 0 });
  await reassertRunTag(clients(), clusterRun());
  const listed = stub.commandCalls(ListTagsForResourceCommand).map((c) => c.args[0].input.ResourceName);
  expect(listed.length).toBeGreaterThan(0);
  expect(listed.filter((a) => !a?.startsWith(carn('')))).toEqual([]);
});

test('an instance under a member\'s name that is not a member of the run\'s cluster is never tagged (lock and re-assert)', async () => {
  rds.instances.delete('ledger-1');
  rds.addInstance(member('ledger-1', { DBClusterIdentifier: 'billing', TagList: [] }));
  await acquireLock(clients(), clusterRun(), { settleMs: 0 });
  await reassertRunTag(clients(), clusterRun());
  expect(stub.commandCalls(AddTagsToResourceCommand).map((c) => c.args[0].input.ResourceName)).toEqual([carn('ledger')]);
  expect(rds.instances.get('ledger-1')!.TagList).toEqual([]);
});

test('reassertRunTag puts the run tag back on the run\'s members under every name of the cutover (a redrive of a rename re-runs only that step)', async () => {
  const s = clusterRun({ names: { sourceSnapshot: 'x', newId: `ledger-rekey-${RUN}`, preRekeyId: `ledger-pre-rekey-${RUN}`, memberIds: { 'ledger-1': `ledger-1-rekey-${RUN}`, 'ledger-2': `ledger-2-rekey-${RUN}` } } });
  await acquireLock(clients(), s, { settleMs: 0 });
  // Mid-cutover: the original renamed with one member, the copy with its members; a clean-up stripped every member's run tag.
  rds.clusters.set(`ledger-pre-rekey-${RUN}`, { ...rds.clusters.get('ledger')!, DBClusterIdentifier: `ledger-pre-rekey-${RUN}`, DBClusterArn: carn(`ledger-pre-rekey-${RUN}`) });
  rds.clusters.delete('ledger');
  rds.clusters.set(`ledger-rekey-${RUN}`, { ...cluster({ DBClusterIdentifier: `ledger-rekey-${RUN}`, DBClusterArn: carn(`ledger-rekey-${RUN}`) }), TagList: [{ Key: LOCK_TAG, Value: RUN }, { Key: RUN_SOURCE_TAG, Value: 'ledger' }] });
  rds.instances.clear();
  rds.addInstance(member(`ledger-1-pre-rekey-${RUN}`, { DBClusterIdentifier: `ledger-pre-rekey-${RUN}`, TagList: [] }));
  rds.addInstance(member('ledger-2', { DBClusterIdentifier: `ledger-pre-rekey-${RUN}`, TagList: [{ Key: RUN_SOURCE_TAG, Value: 'billing' }] }));
  rds.addInstance(member(`ledger-1-rekey-${RUN}`, { DBClusterIdentifier: `ledger-rekey-${RUN}`, TagList: [] }));
  rds.addInstance(member(`ledger-2-rekey-${RUN}`, { DBClusterIdentifier: `ledger-rekey-${RUN}`, TagList: [{ Key: RUN_SOURCE_TAG, Value: 'ledger' }] }));
  stub.resetHistory();
  const fixed = await reassertRunTag(clients(), s);
  expect(fixed).toEqual(['ledger-2', `ledger-1-pre-rekey-${RUN}`, `ledger-1-rekey-${RUN}`]);
  for (const id of ['ledger-2', `ledger-1-pre-rekey-${RUN}`, `ledger-1-rekey-${RUN}`, `ledger-2-rekey-${RUN}`]) {
    expect([id, rds.instances.get(id)!.TagList!.find((t) => t.Key === RUN_SOURCE_TAG)?.Value]).toEqual([id, 'ledger']);
  }
  expect(stub.commandCalls(AddTagsToResourceCommand).every((c) => JSON.stringify(c.args[0].input.Tags) === JSON.stringify([{ Key: RUN_SOURCE_TAG, Value: 'ledger' }]))).toBe(true);
  // A member renamed or deleted between the describe and the tag call is skipped, not an error.
  rds.instances.get(`ledger-1-rekey-${RUN}`)!.TagList = [];
  stub.on(AddTagsToResourceCommand, { ResourceName: iarn(`ledger-1-rekey-${RUN}`) }).rejects(notFound('DBInstanceNotFoundFault'));
  expect(await reassertRunTag(clients(), s)).toEqual([]);
  stub.on(AddTagsToResourceCommand, { ResourceName: iarn(`ledger-1-rekey-${RUN}`) }).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
  await expect(reassertRunTag(clients(), s)).rejects.toThrow('denied');
  // A finished rollback re-tags nothing.
  rds.instances.get(`ledger-1-rekey-${RUN}`)!.TagList = [];
  stub.resetHistory();
  expect(await reassertRunTag(clients(), { ...s, rolledBack: { at: 'x', done: true } } as RekeyState)).toEqual([]);
  expect(stub.commandCalls(AddTagsToResourceCommand)).toHaveLength(0);
});

test('members are not tagged for a cross-Region, shared or blue/green run, nor when the state has no captured cluster', async () => {
  for (const over of [{ targetRegion: 'us-west-2' }, { shareWithAccount: '210987654321' }, { method: 'blue-green' as const }, { source: undefined }]) {
    rds.clusters.get('ledger')!.TagList = [];
    stub.resetHistory();
    await acquireLock(clients(), clusterRun(over), { settleMs: 0 });
    expect(stub.commandCalls(AddTagsToResourceCommand).map((c) => c.args[0].input.ResourceName)).toEqual([carn('ledger')]);
  }
});

test('a source that already carries the run tag gets only the lock; a member that is gone is skipped', async () => {
  rds.clusters.get('ledger')!.TagList = [{ Key: RUN_SOURCE_TAG, Value: 'ledger' }];
  rds.instances.delete('ledger-1');
  await acquireLock(clients(), clusterRun(), { settleMs: 0 });
  expect(stub.commandCalls(AddTagsToResourceCommand).map((c) => c.args[0].input)).toEqual([{ ResourceName: carn('ledger'), Tags: [{ Key: LOCK_TAG, Value: RUN }] }]);
});

test('nothing of the run exists: refused naming every name and the Region, nothing written', async () => {
  rds.clusters.clear();
  await expect(acquireLock(clients(), clusterRun(), { settleMs: 0 })).rejects.toThrow(
    `[lock] ledger: none of ledger, ledger-pre-rekey-${RUN}, ledger-rekey-${RUN} exists in us-east-1. Next: check the identifier and the Region; nothing was changed`,
  );
  expect(stub.commandCalls(AddTagsToResourceCommand)).toHaveLength(0);
});

test('a resource deleted between the describe and the tag call is not an error; its ListTags NotFound counts as absent', async () => {
  rds.addCluster(cluster({ DBClusterIdentifier: `ledger-pre-rekey-${RUN}`, DBClusterArn: carn(`ledger-pre-rekey-${RUN}`) }));
  stub.on(ListTagsForResourceCommand, { ResourceName: carn(`ledger-pre-rekey-${RUN}`) }).rejects(notFound('DBClusterNotFoundFault'));
  stub.on(AddTagsToResourceCommand, { ResourceName: carn('ledger') }).callsFakeOnce(async () => {
    rds.clusters.delete('ledger'); // deleted by someone right after the first read
    throw notFound('DBClusterNotFoundFault');
  });
  // The first read sees only the source (the -pre-rekey- name's ListTags says NotFound); its tag call finds it gone; nothing is left to lock.
  await expect(acquireLock(clients(), clusterRun(), { settleMs: 0 })).resolves.toEqual([]);
  rds.addCluster(cluster());
  stub.on(AddTagsToResourceCommand, { ResourceName: carn('ledger') }).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
  await expect(acquireLock(clients(), clusterRun(), { settleMs: 0 })).rejects.toThrow('denied');
  stub.on(ListTagsForResourceCommand, { ResourceName: carn(`ledger-pre-rekey-${RUN}`) }).rejects(Object.assign(new Error('throttled hard'), { name: 'AccessDenied' }));
  await expect(acquireLock(clients(), clusterRun(), { settleMs: 0 })).rejects.toThrow('throttled hard');
});

test('the lock removed by someone during the settle pause: RUN_LOCK_NOT_CONFIRMED, naming who to ask', async () => {
  stub.on(AddTagsToResourceCommand).resolves({}); // the tag call "succeeds" but the tag is not there on the second read
  const e = await acquireLock(clients(), clusterRun(), { settleMs: 1 }).catch((x) => x);
  expect(e).toBeInstanceOf(PreflightError);
  expect(e.problems).toEqual([
    { code: 'RUN_LOCK_NOT_CONFIRMED', resource: 'ledger', message: `the ${LOCK_TAG} tag this run set is gone on the second read (another operator removed it)`, next: 'find out who is working on this database, then run again' },
  ]);
});

test('releaseLock removes this run\'s lock from the cluster only where it names this run', async () => {
  rds.clusters.get('ledger')!.TagList = [{ Key: LOCK_TAG, Value: RUN }];
  rds.addCluster(cluster({ DBClusterIdentifier: `ledger-rekey-${RUN}`, DBClusterArn: carn(`ledger-rekey-${RUN}`), TagList: [{ Key: LOCK_TAG, Value: OTHER }] }));
  expect(await releaseLock(clients(), clusterRun())).toEqual(['ledger']);
  expect(stub.commandCalls(RemoveTagsFromResourceCommand).map((c) => c.args[0].input)).toEqual([{ ResourceName: carn('ledger'), TagKeys: [LOCK_TAG] }]);
  expect(rds.clusters.get(`ledger-rekey-${RUN}`)!.TagList).toEqual([{ Key: LOCK_TAG, Value: OTHER }]);
});

test('breakLock on a cluster: each name reported; a lock of another run left alone; nothing found said as such', async () => {
  rds.clusters.get('ledger')!.TagList = [{ Key: LOCK_TAG, Value: OTHER }];
  rds.addCluster(cluster({ DBClusterIdentifier: `ledger-rekey-${OTHER}`, DBClusterArn: carn(`ledger-rekey-${OTHER}`), TagList: [] }));
  rds.addCluster(cluster({ DBClusterIdentifier: `ledger-pre-rekey-${OTHER}`, DBClusterArn: carn(`ledger-pre-rekey-${OTHER}`), TagList: [{ Key: LOCK_TAG, Value: RUN }] }));
  const r = await breakLock(clients().rds, { kind: 'cluster', sourceId: 'ledger' }, OTHER);
  expect(r).toEqual({
    lines: [`removed tag ${LOCK_TAG}=${OTHER} from ${carn('ledger')}`, `left ${carn(`ledger-pre-rekey-${OTHER}`)} alone: its lock names run ${RUN} (started 2026-11-30 03:04:05 UTC), not ${OTHER}`, `${carn(`ledger-rekey-${OTHER}`)} has no run lock`],
    released: ['ledger'],
    heldByOther: [{ id: `ledger-pre-rekey-${OTHER}`, holder: RUN }],
  });
  expect(await breakLock(clients().rds, { kind: 'instance', sourceId: 'nothing' }, OTHER)).toEqual({
    lines: [`no DB instance named nothing / nothing-pre-rekey-${OTHER} / nothing-rekey-${OTHER} / nothing-old1 exists`],
    released: [],
    heldByOther: [],
  });
  void instance;
});
