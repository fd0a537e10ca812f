/**
 * The run lock through the cutover (lock.ts: "whatever answers to `<id>` at any moment of the run is
 * locked"). The cutover steps of STEPS (renameSource, checkRenameSource, renameTarget,
 * checkRenameTarget) move the names around; the lock tag `db-ops-kit:rekey-lock=<run>` must move with
 * the databases: after every step the database under `<id>` and the original under
 * `<id>-pre-rekey-<run>` carry this run's lock, and a second run that tries to take the lock on `<id>`
 * at that moment is refused and writes nothing. Driven the ways a run really gets there:
 *  - the Step Functions workflow: the lock is taken once (preflight), the copy is locked by its
 *    restore, the steps follow without a lock step in between;
 *  - the CLI resumed after every step with the lock released meanwhile (--break-lock): each resume
 *    takes it again on whatever of the run exists (lockIds);
 *  - a tag clean-up that removed the run tag before each cutover step: withRunTag/reassertRunTag put
 *    it back on what then answers to `<id>` and on the original (the Steps role writes only
 *    run-tagged resources).
 * RDS is the in-memory fake of ./fake-rds.ts (tags stay with a database through a rename, as in RDS).
 */
import { DBCluster, DBInstance, RDSClient, RestoreDBClusterFromSnapshotCommand, RestoreDBInstanceFromDBSnapshotCommand, Tag } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { acquireLock, breakLock, heldProblem } from '../../lambda/kms-key-change/lock';
import { PreflightError } from '../../lambda/kms-key-change/preflight';
import { runPhases, StoppedBefore } from '../../lambda/kms-key-change/runner';
import { newState, RekeyState, SourceKind } from '../../lambda/kms-key-change/state';
import { STEPS } from '../../lambda/kms-key-change/steps';
import { CUTOVER_PHASES, LOCK_TAG, RUN_SOURCE_TAG, StepName } from '../../lambda/kms-key-change/workflow';
import { FakeRds } from './fake-rds';
import { ACCOUNT, clients, cluster, instance, member, NEW_KEY, preflighted } from './fixtures';

const stub = mockClient(RDSClient);
let rds: FakeRds;
const RUN = '20261130030405';
const OTHER = '20261129220000';
const CUTOVER: StepName[] = ['renameSource', 'checkRenameSource', 'renameTarget', 'checkRenameTarget'];
const idOf = (kind: SourceKind) => (kind === 'instance' ? 'orders' : 'ledger');
const pre = (kind: SourceKind) => `${idOf(kind)}-pre-rekey-${RUN}`;
const copy = (kind: SourceKind) => `${idOf(kind)}-rekey-${RUN}`;

/** This run after a clean verify, cutover asked, same Region; freeze opted out so only the renames are in play. */
function ourRun(kind: SourceKind): RekeyState {
  const s = preflighted({}, kind);
  return { ...s, names: { ...s.names!, preRekeyId: pre(kind) }, cutoverRequested: true, parityClean: true, freezeOptOut: 'lock test', snapshotWritesStopped: true, lastStep: 'verify' };
}

/** A second run on the same source, at its preflight (names fixed, about to take the lock). */
function otherRun(kind: SourceKind): RekeyState {
  const s = newState({ kind, sourceId: idOf(kind), kmsKey: NEW_KEY, region: 'us-east-1', now: new Date('2026-11-29T22:00:00Z') });
  return { ...s, names: { sourceSnapshot: `${idOf(kind)}-rekey-${OTHER}-src`, newId: `${idOf(kind)}-rekey-${OTHER}`, preRekeyId: `${idOf(kind)}-pre-rekey-${OTHER}` } };
}

const dbs = (kind: SourceKind): Map<string, DBInstance | DBCluster> => (kind === 'instance' ? rds.instances : rds.clusters);
const holder = (d: DBInstance | DBCluster | undefined) => d?.TagList?.find((t) => t.Key === LOCK_TAG)?.Value;
const runTag = (d: DBInstance | DBCluster | undefined) => d?.TagList?.find((t) => t.Key === RUN_SOURCE_TAG)?.Value;

/** Name → which database answers to it (the original on the old key, the copy on the new one) and whose lock it carries. */
function lockView(kind: SourceKind): Record<string, { db: 'original' | 'copy'; lock: string | undefined }> {
  return Object.fromEntries([...dbs(kind).entries()].sort(([a], [b]) => a.localeCompare(b)).map(([id, d]) => [id, { db: d.KmsKeyId === NEW_KEY ? 'copy' : 'original', lock: holder(d) }]));
}

/** What each name should hold after `step` (the fake renames at once, so `<id>` is free between the two renames). */
function expectedAfter(kind: SourceKind, step: StepName | 'restore') {
  const locked = (db: 'original' | 'copy') => ({ db, lock: RUN });
  if (step === 'restore') return { [idOf(kind)]: locked('original'), [copy(kind)]: locked('copy') };
  if (step === 'renameSource' || step === 'checkRenameSource') return { [pre(kind)]: locked('original'), [copy(kind)]: locked('copy') };
  return { [idOf(kind)]: locked('copy'), [pre(kind)]: locked('original') };
}

const allTags = () => JSON.stringify([[...rds.instances.entries()].map(([id, d]) => [id, d.TagList]), [...rds.clusters.entries()].map(([id, d]) => [id, d.TagList])]);

/** Another run asks for the lock on `<id>` now: refused by this run's lock (or, with nothing under `<id>`, by there being nothing to lock); no tag written. */
async function expectOtherRunRefused(kind: SourceKind, step: string): Promise<void> {
  const before = allTags();
  const other = otherRun(kind);
  const e = await acquireLock(clients(), other, { settleMs: 0 }).then(
    () => new Error(`run ${OTHER} got the lock after ${step}`),
    (x: Error) => x,
  );
  if (dbs(kind).has(idOf(kind))) {
    expect(e).toBeInstanceOf(PreflightError);
    expect((e as PreflightError).problems).toEqual([heldProblem(other, idOf(kind), RUN)]);
  } else {
    expect(e.message).toContain(`[lock] ${idOf(kind)}: none of ${idOf(kind)}, `);
  }
  expect(allTags()).toBe(before);
}

/** The source (Aurora: with its two members) on the old key, without any kit tag. */
function source(kind: SourceKind): void {
  if (kind === 'instance') return rds.addInstance(instance());
  rds.addCluster(cluster());
  for (const m of ['ledger-1', 'ledger-2']) rds.addInstance(member(m, { TagList: [] }));
}

beforeEach(() => {
  stub.reset();
  rds = new FakeRds(stub);
  process.env.REKEY_LOCK_SETTLE_MS = '0'; // the resumes' acquireLock (runner.ts) reads it
  // The restores create the copy with the tags the step asks for (the lock among them, same Region).
  stub.on(RestoreDBInstanceFromDBSnapshotCommand).callsFake(async (i: { DBInstanceIdentifier: string; Tags: Tag[] }) => {
    rds.addInstance(instance({ DBInstanceIdentifier: i.DBInstanceIdentifier, DBInstanceArn: `arn:aws:rds:us-east-1:${ACCOUNT}:db:${i.DBInstanceIdentifier}`, KmsKeyId: NEW_KEY, TagList: i.Tags }));
    return {};
  });
  stub.on(RestoreDBClusterFromSnapshotCommand).callsFake(async (i: { DBClusterIdentifier: string; Tags: Tag[] }) => {
    rds.addCluster(cluster({ DBClusterIdentifier: i.DBClusterIdentifier, DBClusterArn: `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:${i.DBClusterIdentifier}`, KmsKeyId: NEW_KEY, TagList: i.Tags }));
    // The members checkRestore would create (they carry no lock: the lock sits on the cluster).
    for (const m of ['ledger-1', 'ledger-2']) rds.addInstance(member(`${m}-rekey-${RUN}`, { DBClusterIdentifier: i.DBClusterIdentifier, KmsKeyId: NEW_KEY, TagList: [] }));
    return {};
  });
});

/** The run up to the cutover as the workflow does it: the lock at preflight, then the restore of the copy. */
async function lockedAndRestored(kind: SourceKind): Promise<RekeyState> {
  source(kind);
  const s = ourRun(kind);
  expect(await acquireLock(clients(), s, { settleMs: 0 })).toEqual([idOf(kind)]);
  const r = await STEPS.restore(clients(), s);
  expect(lockView(kind)).toEqual(expectedAfter(kind, 'restore'));
  await expectOtherRunRefused(kind, 'restore');
  return { ...r.state, lastStep: 'verify' };
}

describe.each(['instance', 'cluster'] as const)('%s: the run lock stays on whatever answers to <id> through the cutover', (kind) => {
  test('workflow: lock taken at preflight, copy locked by its restore; after each cutover step <id> and the -pre-rekey- original are locked and another run is refused', async () => {
    let s = await lockedAndRestored(kind);
    for (const step of CUTOVER) {
      const r = await STEPS[step](clients(), JSON.parse(JSON.stringify(s)));
      expect(r.done).toBe(true);
      s = r.state;
      expect({ step, names: lockView(kind) }).toEqual({ step, names: expectedAfter(kind, step) });
      await expectOtherRunRefused(kind, step);
    }
    expect(s.cutover?.done).toBe(true);
  });

  test('CLI resumed after every cutover step with the lock broken meanwhile: each resume locks <id>, the -pre-rekey- original and the copy again', async () => {
    let s = await lockedAndRestored(kind);
    const stops: Array<StepName | undefined> = [...CUTOVER.slice(1), undefined];
    for (const [i, stopBefore] of stops.entries()) {
      // An operator took the run for dead and released its lock (lock.ts breakLock), then it is resumed.
      const broken = await breakLock(clients().rds, { kind, sourceId: idOf(kind) }, RUN);
      expect(broken.released.length).toBeGreaterThan(0);
      expect(Object.values(lockView(kind)).map((v) => v.lock)).not.toContain(RUN);
      s = await runPhases(clients(), s, [...CUTOVER_PHASES.snapshot], { pollMs: 0, stopBefore }).catch((e) => {
        if (e instanceof StoppedBefore) return e.state;
        throw e;
      });
      expect(s.lastStep).toBe(CUTOVER[i]);
      expect({ step: CUTOVER[i], names: lockView(kind) }).toEqual({ step: CUTOVER[i], names: expectedAfter(kind, CUTOVER[i]) });
      await expectOtherRunRefused(kind, CUTOVER[i]);
    }
    expect(s.cutover?.done).toBe(true);
  });

  test('a tag clean-up removed the run tag before each cutover step: the step puts it back on <id>, the -pre-rekey- original and the copy, and the lock stays', async () => {
    let s = await lockedAndRestored(kind);
    const runTags = () => Object.fromEntries([...dbs(kind).entries()].sort(([a], [b]) => a.localeCompare(b)).map(([id, d]) => [id, runTag(d)]));
    for (const step of CUTOVER) {
      if (step === 'renameSource' || step === 'renameTarget') {
        for (const d of dbs(kind).values()) d.TagList = d.TagList?.filter((t) => t.Key !== RUN_SOURCE_TAG);
      }
      s = (await STEPS[step](clients(), JSON.parse(JSON.stringify(s)))).state;
      const names = Object.keys(expectedAfter(kind, step));
      expect({ step, runTags: runTags() }).toEqual({ step, runTags: Object.fromEntries(names.sort().map((id) => [id, idOf(kind)])) });
      expect({ step, names: lockView(kind) }).toEqual({ step, names: expectedAfter(kind, step) });
    }
  });
});
