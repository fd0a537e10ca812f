/**
 * Break-it pass on the Aurora member run tag (lock.ts tagRunMembers, from acquireLock and
 * reassertRunTag): for a same-Region snapshot run on a cluster, the members get
 * `db-ops-kit:rekey-source=<id>` under every name the cutover gives them (<m>, <m>-pre-rekey-<run>,
 * <m>-rekey-<run>), read with DescribeDBInstances and tagged only when their DBClusterIdentifier is one
 * of the run's clusters.
 *
 * RDS is the in-memory fake of ./fake-rds.ts with two additions, both made in the client handed to the
 * steps (`stepsRole()`), not in the fake:
 *  - the Steps role's IAM (lib/kms-key-change grantStepPermissions), reduced to the statements these
 *    steps use: ModifyDB* only on run-tagged resources (ApplySettingsAndRename), ListTagsForResource
 *    only on cluster:<id> and cluster:<id>-* (RunLockRead), AddTagsToResource per RunTagOnSource,
 *    RunTagOnSourceMembers, RunLockTag, TagOnCreate and TagRunResources, RemoveTagsFromResource per
 *    RunLockTag. A denied call throws AccessDenied and is listed in `denied`;
 *  - a cluster rename moves its member instances along (their DBClusterIdentifier names the cluster's
 *    new identifier, as DescribeDBInstances reports it in RDS); the fake alone leaves the old one.
 * A "crash" is an error thrown right after a given call went through (a Lambda timeout mid-step); the
 * state is not saved, so the redrive re-runs the step from the state it started with.
 */
import { AddTagsToResourceCommand, DBCluster, DBInstance, DescribeDBInstancesCommand, ListTagsForResourceCommand, ModifyDBClusterCommand, ModifyDBInstanceCommand, RDSClient, RemoveTagsFromResourceCommand } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { acquireLock, reassertRunTag } from '../../lambda/kms-key-change/lock';
import { PreflightError } from '../../lambda/kms-key-change/preflight';
import { runPhases } from '../../lambda/kms-key-change/runner';
import { captureCluster } from '../../lambda/kms-key-change/settings';
import { newState, RekeyState, SUPERSEDED } from '../../lambda/kms-key-change/state';
import { STEPS } from '../../lambda/kms-key-change/steps';
import { LOCK_TAG, ROLLBACK_PHASES, RUN_SOURCE_TAG, StepName } from '../../lambda/kms-key-change/workflow';
import { FakeRds } from './fake-rds';
import { carn, iarn, LATER, LATER_KEY, MEMBERS, ourRun, PRE, RUN, RUN_TAGS, runTag, SRC, stepsRoleOver, fakeAuroraRestore } from './steps-role';
import { clients, cluster, member, NEW_KEY, notFound } from './fixtures';

const stub = mockClient(RDSClient);
let rds: FakeRds;
const COPY = `ledger-rekey-${RUN}`;
const { denied, stepsRole, step } = stepsRoleOver(() => rds);
type Cmd = { input: Record<string, unknown> };

/** The source on the old key, no kit tag, its two members. */
function source(): void {
  rds.addCluster(cluster({ TagList: [{ Key: 'team', Value: 'ledger' }] }));
  for (const m of MEMBERS) rds.addInstance(member(m, { TagList: [] }));
}

/** A tag clean-up by another principal: the run tag removed from every DB instance (and, with `clusters`, every cluster). */
function stripRunTag(opts: { clusters?: boolean } = {}): void {
  const all: Array<DBInstance | DBCluster> = [...rds.instances.values(), ...(opts.clusters ? rds.clusters.values() : [])];
  for (const d of all) d.TagList = d.TagList?.filter((t) => t.Key !== RUN_SOURCE_TAG);
}

const instanceView = () => Object.fromEntries([...rds.instances.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([id, d]) => [id, { key: d.KmsKeyId === NEW_KEY ? 'copy' : 'original', cluster: d.DBClusterIdentifier }]));
const taggedArns = () => stub.commandCalls(AddTagsToResourceCommand).map((c) => c.args[0].input.ResourceName);

beforeEach(() => {
  stub.reset();
  rds = new FakeRds(stub);
  denied.length = 0;
  process.env.REKEY_LOCK_SETTLE_MS = '0';
  // The restore creates the copy with the tags the step asks for; the members checkRestore creates carry the kit tags (run tag among them).
  fakeAuroraRestore(stub, rds);
});

/** The workflow up to the cutover: lock at preflight (Steps role), restore of the copy. */
async function lockedAndRestored(): Promise<RekeyState> {
  source();
  const s = ourRun();
  expect(await acquireLock(stepsRole(), s, { settleMs: 0 })).toEqual([SRC]);
  const r = await STEPS.restore(stepsRole(), s);
  return { ...r.state, lastStep: 'verify' };
}

/** The workflow through cutover and finalize (run lock released). */
async function cutOverAndFinalized(): Promise<RekeyState> {
  let s = await lockedAndRestored();
  for (const name of ['renameSource', 'checkRenameSource', 'renameTarget', 'checkRenameTarget', 'finalize'] as const) s = await step(name, s);
  expect(instanceView()).toEqual({
    'ledger-1': { key: 'copy', cluster: SRC },
    [`ledger-1-pre-rekey-${RUN}`]: { key: 'original', cluster: PRE },
    'ledger-2': { key: 'copy', cluster: SRC },
    [`ledger-2-pre-rekey-${RUN}`]: { key: 'original', cluster: PRE },
  });
  expect([...rds.clusters.values()].map((d) => d.TagList?.find((t) => t.Key === LOCK_TAG))).toEqual([undefined, undefined]);
  expect(denied).toEqual([]);
  return s;
}

/** After this run finished: a later run on the same source cut over and finalized. This run's copy became ledger-pre-rekey-<later> (with its members), the later copy answers to ledger. */
function laterRunCutOver(): void {
  const laterPre = `ledger-pre-rekey-${LATER}`;
  const aCopy = rds.clusters.get(SRC)!;
  rds.clusters.delete(SRC);
  rds.addCluster({ ...aCopy, DBClusterIdentifier: laterPre, DBClusterArn: carn(laterPre) });
  for (const m of MEMBERS) {
    const i = rds.instances.get(m)!;
    rds.instances.delete(m);
    rds.addInstance({ ...i, DBInstanceIdentifier: `${m}-pre-rekey-${LATER}`, DBInstanceArn: iarn(`${m}-pre-rekey-${LATER}`), DBClusterIdentifier: laterPre });
    rds.addInstance(member(m, { KmsKeyId: LATER_KEY, TagList: RUN_TAGS(LATER) }));
  }
  rds.addCluster(cluster({ KmsKeyId: LATER_KEY, TagList: RUN_TAGS(LATER) }));
}

const ROLLBACK: StepName[] = ROLLBACK_PHASES.flatMap((p) => [p.start, ...(p.check ? [p.check] : [])]);

describe('(a) nothing tagged that is not the run\'s or the source\'s member', () => {
  test('lock and re-assert tag the source\'s members only; instances that merely carry a member name, or joined the source after preflight, are left alone', async () => {
    source();
    // Named like the run's members, but of another cluster / of no cluster; a member added to the source after preflight (not renamed by the cutover).
    rds.addInstance(member(`ledger-1-rekey-${RUN}`, { DBClusterIdentifier: 'billing', TagList: [{ Key: 'team', Value: 'billing' }] }));
    rds.addInstance(member(`ledger-2-pre-rekey-${RUN}`, { DBClusterIdentifier: undefined, TagList: [] }));
    rds.addInstance(member('ledger-3', { TagList: [] }));
    // A cluster named like a later run's copy (another run id), with a member under that run's member name.
    rds.addCluster(cluster({ DBClusterIdentifier: `ledger-rekey-${LATER}`, DBClusterArn: carn(`ledger-rekey-${LATER}`), TagList: [] }));
    rds.addInstance(member(`ledger-1-rekey-${LATER}`, { DBClusterIdentifier: `ledger-rekey-${LATER}`, TagList: [] }));
    const s = ourRun();
    await acquireLock(stepsRole(), s, { settleMs: 0 });
    await reassertRunTag(stepsRole(), s);
    expect(taggedArns()).toEqual([carn(SRC), iarn('ledger-1'), iarn('ledger-2')]);
    expect(denied).toEqual([]);
    for (const id of [`ledger-1-rekey-${RUN}`, `ledger-2-pre-rekey-${RUN}`, 'ledger-3', `ledger-1-rekey-${LATER}`]) expect([id, runTag(rds.instances.get(id))]).toEqual([id, undefined]);
  });

  test('a member removed from the source after preflight is skipped (DescribeDBInstances NotFound), not an error', async () => {
    source();
    rds.instances.delete('ledger-2');
    const s = ourRun();
    await acquireLock(stepsRole(), s, { settleMs: 0 });
    await expect(reassertRunTag(stepsRole(), s)).resolves.toEqual([]);
    expect(taggedArns()).toEqual([carn(SRC), iarn('ledger-1')]);
  });

  test('a second run on the same source while this one holds the lock: refused before any member is tagged', async () => {
    await lockedAndRestored();
    stripRunTag();
    stub.resetHistory();
    const other = { ...newState({ kind: 'cluster', sourceId: SRC, kmsKey: NEW_KEY, region: 'us-east-1', now: new Date('2026-12-05T00:00:00Z') }), source: ourRun().source, names: { sourceSnapshot: 'x', newId: `ledger-rekey-${LATER}`, preRekeyId: `ledger-pre-rekey-${LATER}`, memberIds: {} } };
    await expect(acquireLock(stepsRole(), other, { settleMs: 0 })).rejects.toBeInstanceOf(PreflightError);
    expect(taggedArns()).toEqual([]);
  });

  test('a later run on the same source after this one finished tags the database under <id> and its members, never this run\'s kept original or its members (run tag removed to keep them out of reach)', async () => {
    await cutOverAndFinalized();
    // The operator takes the kept original out of the kit's reach.
    for (const id of [`ledger-1-pre-rekey-${RUN}`, `ledger-2-pre-rekey-${RUN}`]) rds.instances.get(id)!.TagList = [];
    rds.clusters.get(PRE)!.TagList = [];
    stub.resetHistory();
    const copyNow = rds.clusters.get(SRC)!;
    const b: RekeyState = {
      ...newState({ kind: 'cluster', sourceId: SRC, kmsKey: LATER_KEY, region: 'us-east-1', now: new Date('2026-12-05T00:00:00Z') }),
      source: { kind: 'cluster', cluster: captureCluster(copyNow, MEMBERS.map((m) => rds.instances.get(m)!)) },
      names: { sourceSnapshot: 'x', newId: `ledger-rekey-${LATER}`, preRekeyId: `ledger-pre-rekey-${LATER}`, memberIds: Object.fromEntries(MEMBERS.map((m) => [m, `${m}-rekey-${LATER}`])) },
    };
    stripRunTag(); // and someone cleaned the run tag off every instance meanwhile
    await acquireLock(stepsRole(), b, { settleMs: 0 });
    await reassertRunTag(stepsRole(), b);
    expect(taggedArns()).toEqual([carn(SRC), iarn('ledger-1'), iarn('ledger-2')]);
    expect(rds.clusters.get(PRE)!.TagList).toEqual([]);
  });

  test('a stale rollback of this run after a later run cut over (workflow): refused SupersededByLaterRun; the later run\'s databases and members get no tag', async () => {
    const a = await cutOverAndFinalized();
    laterRunCutOver();
    stripRunTag();
    stub.resetHistory();
    const e = await STEPS.rollbackRenameNew(stepsRole(), { ...a, rollbackStrandsWrites: 'test' }).catch((x: Error) => x);
    expect((e as Error).name).toBe(SUPERSEDED);
    expect(taggedArns().filter((arn) => !arn!.includes(`pre-rekey-${RUN}`))).toEqual([]);
    for (const id of [...MEMBERS, ...MEMBERS.map((m) => `${m}-pre-rekey-${LATER}`)]) expect([id, runTag(rds.instances.get(id))]).toEqual([id, undefined]);
    expect(rds.renames()).toEqual([]);
  });

  test('cross-Region, shared and blue/green runs: reassertRunTag tags no member either, whatever instances carry the member names', async () => {
    source();
    rds.addCluster(cluster({ DBClusterIdentifier: COPY, DBClusterArn: carn(COPY), TagList: [{ Key: LOCK_TAG, Value: RUN }] }));
    for (const m of MEMBERS) rds.addInstance(member(`${m}-rekey-${RUN}`, { DBClusterIdentifier: COPY, TagList: [] }));
    rds.clusters.get(SRC)!.TagList = [{ Key: LOCK_TAG, Value: RUN }];
    for (const over of [{ targetRegion: 'us-west-2' }, { shareWithAccount: '210987654321' }, { method: 'blue-green' as const }]) {
      stub.resetHistory();
      await reassertRunTag(clients(), ourRun(over));
      expect([over, taggedArns().filter((a) => a!.includes(':db:'))]).toEqual([over, []]);
    }
  });
});

describe('(b) redrives and resumes are not denied by the Steps role', () => {
  test.each([
    ['after the cluster rename', (cmd: Cmd) => cmd instanceof ModifyDBClusterCommand && !!cmd.input.NewDBClusterIdentifier],
    ['after the first member rename', (cmd: Cmd) => cmd instanceof ModifyDBInstanceCommand && !!cmd.input.NewDBInstanceIdentifier],
  ])('workflow cutover: each rename step crashes %s, the run tag is cleaned off everything, the redrive completes', async (_label, crashAt) => {
    let s = await lockedAndRestored();
    for (const name of ['renameSource', 'renameTarget'] as const) {
      stripRunTag({ clusters: true });
      let crashed = false;
      const crash = stepsRole({ crashAfter: (cmd) => !crashed && crashAt(cmd) && (crashed = true) });
      await expect(STEPS[name](crash, JSON.parse(JSON.stringify(s)))).rejects.toThrow('Task timed out');
      stripRunTag({ clusters: true });
      s = await step(name, s); // the redrive
      s = await step(name === 'renameSource' ? 'checkRenameSource' : 'checkRenameTarget', s);
    }
    expect(denied).toEqual([]);
    expect(s.cutover?.done).toBe(true);
    expect(instanceView()).toEqual({
      'ledger-1': { key: 'copy', cluster: SRC },
      [`ledger-1-pre-rekey-${RUN}`]: { key: 'original', cluster: PRE },
      'ledger-2': { key: 'copy', cluster: SRC },
      [`ledger-2-pre-rekey-${RUN}`]: { key: 'original', cluster: PRE },
    });
  });

  test('workflow rollback after finalize, every member loses the run tag before each rollback step: completes with at most one redrive per step', async () => {
    // Observed: the first rollbackRenameNew is denied on the first member, after the cluster rename went through (the copy's
    // members are under <m> in <id>, which this run no longer locks); the redrive finds them in <id>-rekey-<run> and re-tags them.
    let s: RekeyState = { ...(await cutOverAndFinalized()), rollbackStrandsWrites: 'test' };
    for (const name of ROLLBACK) {
      if (!name.startsWith('check')) stripRunTag(); // before each start step: the copy's and the original's members
      s = await step(name, s).catch(() => step(name, s));
    }
    expect(s.rolledBack?.done).toBe(true);
    expect(instanceView()).toEqual({
      'ledger-1': { key: 'original', cluster: SRC },
      [`ledger-1-rekey-${RUN}`]: { key: 'copy', cluster: COPY },
      'ledger-2': { key: 'original', cluster: SRC },
      [`ledger-2-rekey-${RUN}`]: { key: 'copy', cluster: COPY },
    });
  });

  // Found by this break-it pass (was test.failing): a workflow rollback after finalize (run lock released) whose
  // rollbackRenameSource crashed after renaming the original cluster back to <id> and before renaming its members, with the
  // members' run tag removed before the redrive, was denied on every redrive (<id> is not in reassertRunTag's `ours`; the
  // frozen original stayed frozen). tagRunMembers now also tags an instance whose own name carries the run id when its
  // cluster is one of lockIds(s).
  test('workflow rollback after finalize: rollbackRenameSource crashed after the cluster rename, members lost the run tag; the redrive completes', async () => {
    let s: RekeyState = { ...(await cutOverAndFinalized()), rollbackStrandsWrites: 'test' };
    for (const name of ['rollbackRenameNew', 'checkRollbackNew'] as const) s = await step(name, s);
    let crashed = false;
    const crash = stepsRole({ crashAfter: (cmd) => !crashed && cmd instanceof ModifyDBClusterCommand && cmd.input.NewDBClusterIdentifier === SRC && (crashed = true) });
    await expect(STEPS.rollbackRenameSource(crash, JSON.parse(JSON.stringify(s)))).rejects.toThrow('Task timed out');
    stripRunTag();
    s = await step('rollbackRenameSource', s); // the redrive: AccessDenied on rds:ModifyDBInstance ledger-1-pre-rekey-<run>
    s = await step('checkRollbackSource', s);
    expect(denied).toEqual([]);
    expect(instanceView()['ledger-1']).toEqual({ key: 'original', cluster: SRC });
  });

  test('the same state resumed by the CLI instead (runPhases takes the lock on <id> first): the rollback completes', async () => {
    const s: RekeyState = { ...(await cutOverAndFinalized()), rollbackStrandsWrites: 'test' };
    const a = await step('checkRollbackNew', await step('rollbackRenameNew', s));
    let crashed = false;
    const crash = stepsRole({ crashAfter: (cmd) => !crashed && cmd instanceof ModifyDBClusterCommand && cmd.input.NewDBClusterIdentifier === SRC && (crashed = true) });
    await expect(STEPS.rollbackRenameSource(crash, JSON.parse(JSON.stringify(a)))).rejects.toThrow('Task timed out');
    stripRunTag();
    const final = await runPhases(stepsRole(), a, [...ROLLBACK_PHASES], { pollMs: 0 });
    expect(final.rolledBack?.done).toBe(true);
    expect(denied).toEqual([]);
    expect(instanceView()['ledger-1']).toEqual({ key: 'original', cluster: SRC });
  });
});

describe('(c) errors', () => {
  test('reassertRunTag: a DescribeDBInstances error other than NotFound on a member name is not swallowed (the step fails, a redrive retries)', async () => {
    await lockedAndRestored();
    stub.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: `ledger-1-pre-rekey-${RUN}` }).rejects(Object.assign(new Error('boom'), { name: 'InvalidParameterCombination' }));
    await expect(reassertRunTag(stepsRole(), ourRun())).rejects.toThrow('boom');
    stub.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: `ledger-1-pre-rekey-${RUN}` }).rejects(notFound());
    await expect(reassertRunTag(stepsRole(), ourRun())).resolves.toEqual([]);
  });

  test('members are only ever read with DescribeDBInstances by the Steps role: no ListTagsForResource on a db: ARN through a whole cutover and rollback', async () => {
    let s: RekeyState = { ...(await cutOverAndFinalized()), rollbackStrandsWrites: 'test' };
    for (const name of ROLLBACK) s = await step(name, s);
    expect(stub.commandCalls(ListTagsForResourceCommand).map((c) => c.args[0].input.ResourceName).filter((a) => a!.includes(':db:'))).toEqual([]);
    expect(denied).toEqual([]);
  });
});

describe('pre-existing, found on the way (not from the member change)', () => {
  // Found by this break-it pass (was test.failing, pre-existing): a stale CLI rollback from this run's state file after a later
  // run cut over the same source and finalized. runPhases took the run lock before the first rollback step, and acquireLock
  // found the later run's database under <id> free: it put THIS run's lock on it; rollbackRenameNew then refused
  // (SupersededByLaterRun, nothing renamed) and the lock stayed, so the next run was refused RUN_IN_PROGRESS naming a finished
  // run. runPhases now runs the rollback's read-only refusals before its lock step (rollbackPrecheck), so a refused rollback
  // writes nothing; a refusal that comes later (a resume past rollbackRenameNew) removes the lock it set again and says so.
  // The workflow path (no lock step on a rollback) never set it.
  test('CLI: a stale rollback refused SupersededByLaterRun writes nothing: no lock, no tag on the later run\'s database under <id>', async () => {
    const a = await cutOverAndFinalized();
    laterRunCutOver();
    stub.resetHistory();
    const e = await runPhases(clients(), { ...a, rollbackStrandsWrites: 'test', lastStep: undefined }, [...ROLLBACK_PHASES], { pollMs: 0 }).catch((x: Error) => x);
    expect((e as Error).name).toBe(SUPERSEDED);
    expect(rds.clusters.get(SRC)!.TagList?.find((t) => t.Key === LOCK_TAG)).toBeUndefined();
    expect(stub.commandCalls(AddTagsToResourceCommand)).toHaveLength(0);
    expect((e as Error).message).toMatch(/nothing was renamed and no security group was changed\. Next: roll back the latest run instead/);
    expect((e as Error).message).not.toMatch(/run lock/);
  });

  test('CLI: refused SupersededByLaterRun after the lock step (a resume past rollbackRenameNew): the lock it set is removed again and said; a failed removal gives --break-lock', async () => {
    const a = await cutOverAndFinalized();
    laterRunCutOver();
    const resumed = { ...a, rollbackStrandsWrites: 'test', rolledBack: { at: '2026-12-06T00:00:00Z' }, lastStep: 'checkRollbackNew' };
    const e = await runPhases(clients(), resumed, [...ROLLBACK_PHASES], { pollMs: 0 }).catch((x: Error) => x);
    expect((e as Error).name).toBe(SUPERSEDED);
    expect([...rds.clusters.values()].filter((d) => d.TagList?.some((t) => t.Key === LOCK_TAG && t.Value === RUN)).map((d) => d.DBClusterIdentifier)).toEqual([]);
    expect((e as Error).message).toMatch(new RegExp(`nothing was renamed.*; the run lock this resume set \\(db-ops-kit:rekey-lock=${RUN}\\) was removed again from ledger, ledger-pre-rekey-${RUN}\\. Next: roll back the latest run instead`));
    stub.on(RemoveTagsFromResourceCommand).rejects(Object.assign(new Error('no'), { name: 'AccessDenied' }));
    const f = await runPhases(clients(), resumed, [...ROLLBACK_PHASES], { pollMs: 0 }).catch((x: Error) => x);
    expect((f as Error).name).toBe(SUPERSEDED);
    expect((f as Error).message).toContain(`; this run's lock tag could not be removed again (AccessDenied: no); remove it with: npm run kms-change -- --db-cluster ledger --region us-east-1 --break-lock ${RUN}. Next: roll back the latest run instead`);
  });
});
