/**
 * Break-it pass on two changes: runPhases removing this run's lock again when a stale rollback is
 * refused SupersededByLaterRun (8119c56), and the Aurora member run tag of acquireLock/reassertRunTag
 * (13bed78, 96b2b87). An operator with an existing estate: finished runs, a later run on the same
 * source, the CLI resumed with old state files, Step Functions redrives, tag clean-ups.
 *
 * RDS is the in-memory fake of ./fake-rds.ts. `stepsRole()` adds, in the client handed to the steps,
 * the Steps role's IAM as lock-members-breakit.test.ts emulates it (ModifyDB* only on run-tagged
 * resources, ListTagsForResource only on cluster:<id>[-*], AddTagsToResource per RunTagOnSource /
 * RunTagOnSourceMembers / RunLockTag / TagOnCreate / TagRunResources, RemoveTagsFromResource per
 * RunLockTag) and moves a cluster's members along with a cluster rename (RDS reports the new cluster
 * identifier). `clients()` is the operator's CLI (no IAM limit, the fake's renames as they are).
 */
import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { acquireLock, breakLock } from '../../lambda/kms-key-change/lock';
import { phasesFor, runPhases } from '../../lambda/kms-key-change/runner';
import { newState, RekeyState } from '../../lambda/kms-key-change/state';
import { STEPS } from '../../lambda/kms-key-change/steps';
import { LOCK_TAG, ROLLBACK_PHASES, RUN_SOURCE_TAG, StepName } from '../../lambda/kms-key-change/workflow';
import { FakeRds } from './fake-rds';
import { carn, iarn, LATER, LATER_KEY, MEMBERS, ourRun, PRE, RUN, RUN_TAGS, runTag, SRC, stepsRoleOver, tag, fakeAuroraRestore } from './steps-role';
import { clients, cluster, instance, member, preflighted } from './fixtures';

const stub = mockClient(RDSClient);
const cw = mockClient(CloudWatchClient);
let rds: FakeRds;
const ROLLBACK: StepName[] = ROLLBACK_PHASES.flatMap((p) => [p.start, ...(p.check ? [p.check] : [])]);
const { denied, stepsRole, step } = stepsRoleOver(() => rds);

beforeEach(() => {
  stub.reset();
  cw.reset();
  cw.on(GetMetricStatisticsCommand).resolves({ Datapoints: [] });
  rds = new FakeRds(stub);
  denied.length = 0;
  process.env.REKEY_LOCK_SETTLE_MS = '0';
  fakeAuroraRestore(stub, rds);
});

/** The workflow (Steps role) through the cutover of run RUN; with `finalize`, through finalize (run lock released). */
async function cutOver(opts: { finalize: boolean }): Promise<RekeyState> {
  rds.addCluster(cluster({ TagList: [{ Key: 'team', Value: 'ledger' }] }));
  for (const m of MEMBERS) rds.addInstance(member(m, { TagList: [] }));
  let s = ourRun();
  await acquireLock(stepsRole(), s, { settleMs: 0 });
  s = { ...(await STEPS.restore(stepsRole(), s)).state, lastStep: 'verify' };
  for (const name of ['renameSource', 'checkRenameSource', 'renameTarget', 'checkRenameTarget', ...(opts.finalize ? ['finalize' as const] : [])] as const) s = await step(name, s);
  expect(denied).toEqual([]);
  return s;
}

/**
 * A later run on the same source renamed this run's copy (under `ledger`) to ledger-pre-rekey-<later>
 * with its members. With `renameTarget` it also moved its own copy (created with its run tags and its
 * lock) to `ledger` and finalized (lock gone); without, it stopped between its two renames (a crash, or
 * its renameTarget refused): nothing answers to `ledger`, its copy waits as ledger-rekey-<later>, locked.
 */
function laterRun(opts: { renameTarget: boolean; key?: string }): void {
  const laterPre = `ledger-pre-rekey-${LATER}`;
  const aCopy = rds.clusters.get(SRC)!;
  rds.clusters.delete(SRC);
  rds.addCluster({ ...aCopy, DBClusterIdentifier: laterPre, DBClusterArn: carn(laterPre), TagList: [...(aCopy.TagList ?? []).filter((t) => t.Key !== LOCK_TAG), { Key: LOCK_TAG, Value: LATER }] });
  for (const m of MEMBERS) {
    const i = rds.instances.get(m)!;
    rds.instances.delete(m);
    rds.addInstance({ ...i, DBInstanceIdentifier: `${m}-pre-rekey-${LATER}`, DBInstanceArn: iarn(`${m}-pre-rekey-${LATER}`), DBClusterIdentifier: laterPre });
  }
  const key = opts.key ?? LATER_KEY;
  if (opts.renameTarget) {
    rds.clusters.get(laterPre)!.TagList = rds.clusters.get(laterPre)!.TagList!.filter((t) => t.Key !== LOCK_TAG); // finalized
    rds.addCluster(cluster({ KmsKeyId: key, TagList: RUN_TAGS(LATER) }));
    for (const m of MEMBERS) rds.addInstance(member(m, { KmsKeyId: key, TagList: RUN_TAGS(LATER) }));
  } else {
    const laterCopy = `ledger-rekey-${LATER}`;
    rds.addCluster(cluster({ DBClusterIdentifier: laterCopy, DBClusterArn: carn(laterCopy), KmsKeyId: key, TagList: [...RUN_TAGS(LATER), { Key: LOCK_TAG, Value: LATER }] }));
    for (const m of MEMBERS) rds.addInstance(member(`${m}-rekey-${LATER}`, { DBClusterIdentifier: laterCopy, KmsKeyId: key, TagList: RUN_TAGS(LATER) }));
  }
}

/** The later run's own acquireLock on `ledger` (a third run, or its own resume): what it is refused with, if anything. */
async function nextRunRefusal(): Promise<string | undefined> {
  const next = { ...newState({ kind: 'cluster', sourceId: SRC, kmsKey: LATER_KEY, region: 'us-east-1', now: new Date('2026-12-20T00:00:00Z') }), names: { sourceSnapshot: 'x', newId: 'ledger-rekey-20261220000000', preRekeyId: 'ledger-pre-rekey-20261220000000' } };
  return acquireLock(clients(), next, { settleMs: 0 }).then(
    () => undefined,
    (e: Error) => e.message,
  );
}

describe('(b) other refusals of a CLI rollback after the resume took the lock', () => {
  // DEFECT (same class as the SupersededByLaterRun fix): `--resume <finished run> --rollback` takes the lock on <id> and the kept
  // original first (runPhases), then rollbackRenameNew refuses WritesSinceCutover (clients used the copy; nothing renamed) and
  // tells the operator "keep the cutover (nothing to do)". The lock of the finished run stays on the live database: every later
  // run on the source is refused RUN_IN_PROGRESS naming a run that finished long ago, until someone runs --break-lock.
  // Fix: in runPhases, release the lock on every refusal that changed nothing (WritesSinceCutover, SupersededByLaterRun, the
  // blue/green refusal below) when the run was finished before the resume (lastStep 'finalize' / the lock was free), or better:
  // run the rollback's read-only guards (assertIdStillThisRuns, assertNoWritesStranded, assertRollbackAllowed) before acquireLock.
  test('a finished run whose rollback is refused WritesSinceCutover ("keep the cutover (nothing to do)") leaves no lock: the next run is not refused', async () => {
    const a = await cutOver({ finalize: true });
    const renamesBefore = rds.renames().length;
    cw.on(GetMetricStatisticsCommand).resolves({ Datapoints: [{ Timestamp: new Date(), Maximum: 12 }] });
    const e = await runPhases(clients(), { ...a, lastStep: undefined }, [...ROLLBACK_PHASES], { pollMs: 0 }).catch((x: Error) => x);
    expect((e as Error).name).toBe('WritesSinceCutover');
    expect((e as Error).message).toContain('keep the cutover (nothing to do)');
    expect(rds.renames().length).toBe(renamesBefore); // nothing renamed
    // Observed: [lock] RUN_IN_PROGRESS: key-change run 20261130030405 ... holds the run lock (on ledger and ledger-pre-rekey-<run>).
    expect({ ledger: tag(rds.clusters.get(SRC), LOCK_TAG), pre: tag(rds.clusters.get(PRE), LOCK_TAG) }).toEqual({ ledger: undefined, pre: undefined });
    expect(await nextRunRefusal()).toBeUndefined();
  });

  // DEFECT: the same for a finished blue/green run: `--resume <bg state> --rollback` (the CLI accepts it) locks <id> (green, now
  // live) and <id>-old1, then rollbackRenameNew refuses "a blue/green switchover cannot be renamed back by this kit"; the lock
  // stays on the live database and the old blue. The --break-lock command does not even cover <id>-old1 (breakLock releases
  // <id>, <id>-pre-rekey-<run>, <id>-rekey-<run> only), so the old blue stays locked by a finished run after it too.
  // Fix: refuse a blue/green rollback before acquireLock (cli.ts or runPhases), and let breakLock cover lockIds' -old1 name.
  test('a finished blue/green run whose rollback is refused (cannot be renamed back) leaves no lock on <id> or <id>-old1', async () => {
    rds.addInstance(instance({ TagList: [{ Key: RUN_SOURCE_TAG, Value: 'orders' }] }));
    rds.addInstance(instance({ DBInstanceIdentifier: 'orders-old1', DBInstanceArn: iarn('orders-old1'), TagList: [{ Key: RUN_SOURCE_TAG, Value: 'orders' }] }));
    const bg = preflighted({ method: 'blue-green', names: undefined, blueGreenId: 'bgd-1', cutoverRequested: true, lastStep: 'finalize', cutover: { at: '2026-11-30T04:00:00Z', sourceRenamedTo: 'orders-old1', memberRenames: [], done: true } });
    const e = await runPhases(clients(), { ...bg, lastStep: undefined }, [...ROLLBACK_PHASES], { pollMs: 0 }).catch((x: Error) => x);
    expect((e as Error).message).toContain('cannot be renamed back by this kit');
    // Observed: both carry db-ops-kit:rekey-lock=20261130030405.
    expect({ orders: tag(rds.instances.get('orders'), LOCK_TAG), old1: tag(rds.instances.get('orders-old1'), LOCK_TAG) }).toEqual({ orders: undefined, old1: undefined });
  });
});

describe('(c) the --break-lock command the refusals give', () => {
  // DEFECT (pre-existing, lock.ts breakLock vs lockIds): a blue/green run's lock also sits on <id>-old1 (lockIds, taken by a
  // resume after the switchover, or left by the refused rollback above). A later blue/green run on the source is refused
  // RUN_IN_PROGRESS on <id>-old1 and told "release its lock with: ... --break-lock <run>"; that command releases <id>,
  // <id>-pre-rekey-<run> and <id>-rekey-<run> only, so it reports nothing to release there and the next attempt is refused
  // again with the same command. Fix: breakLock releases the same names as lockIds (add `${sourceId}-old1`), or takes the
  // resource named in the refusal.
  test('a lock of a dead run on <id>-old1: the --break-lock command of the refusal releases it', async () => {
    rds.addInstance(instance({ TagList: [{ Key: RUN_SOURCE_TAG, Value: 'orders' }] }));
    rds.addInstance(instance({ DBInstanceIdentifier: 'orders-old1', DBInstanceArn: iarn('orders-old1'), TagList: [{ Key: RUN_SOURCE_TAG, Value: 'orders' }, { Key: LOCK_TAG, Value: RUN }] }));
    const next = { ...newState({ kind: 'instance', sourceId: 'orders', kmsKey: LATER_KEY, region: 'us-east-1', method: 'blue-green', now: new Date('2026-12-20T00:00:00Z') }) };
    const refusal = await acquireLock(clients(), next, { settleMs: 0 }).then(() => '', (e: Error) => e.message);
    expect(refusal).toContain(`RUN_IN_PROGRESS orders-old1: key-change run ${RUN}`);
    expect(refusal).toContain(`--db-instance orders --region us-east-1 --break-lock ${RUN}`);
    // Observed: released [] ("orders-old1" is not one of the names breakLock looks at); the lock stays.
    expect((await breakLock(clients().rds, { kind: 'instance', sourceId: 'orders' }, RUN)).released).toEqual(['orders-old1']);
    expect(tag(rds.instances.get('orders-old1'), LOCK_TAG)).toBeUndefined();
  });
});

describe('(a)/(c) the stale-rollback guard the lock release relies on', () => {
  // DEFECT (low, pre-existing, cutover.ts assertIdStillThisRuns): the guard looks only at what answers to <id>. While a later
  // run is between its two renames (a crash, or its renameTarget refused by the freeze proof), nothing answers to <id>: this
  // run's lock step finds only its own kept original (the later run's locks sit on ledger-pre-rekey-<later> and
  // ledger-rekey-<later>, outside this run's lockIds) and locks it, rollbackRenameNew is not refused (nothing to rename), and
  // checkRollbackNew then waits for this run's copy under ledger-rekey-<run>, which the later run renamed to
  // ledger-pre-rekey-<later>: the CLI polls for days and ends "resume later with the state file" (a resume polls the same
  // check again, forever; a workflow execution polls until its history or timeout), instead of the SupersededByLaterRun
  // refusal with its "roll back the latest run instead" - and the lock release under review never runs, so this run's lock
  // stays on its kept original. Nothing is renamed (checked below), so no data risk.
  // Fix: assertIdStillThisRuns also refuses when <id> is absent and this run's copy (cutover done) is under neither <id> nor
  // its -rekey- name, or when a resource under <id>-pre-rekey-*/<id>-rekey-* carries another run's lock.
  // Still open (2026-12-01): telling this apart from a resume during this run's own rename (neither name answers for a while)
  // needs a listing of <id>-pre-rekey-*/<id>-rekey-* names, which the code avoids (no unnamed describes). No data risk.
  test.failing('CLI: a stale rollback while a later run is between its renames (nothing under <id>) is refused SupersededByLaterRun, not polled', async () => {
    const a = await cutOver({ finalize: true });
    laterRun({ renameTarget: false });
    const before = rds.renames().length;
    const e = await runPhases(clients(), { ...a, lastStep: undefined }, [...ROLLBACK_PHASES], { pollMs: 0, maxPolls: 3 }).catch((x: Error) => x);
    expect(rds.renames().slice(before)).toEqual([]);
    // Observed: Error "checkRollbackNew still not done after 3 polls; resume later with the state file"; lock 20261130030405 on ledger-pre-rekey-<run>.
    expect((e as Error).name).toBe('SupersededByLaterRun');
    expect(tag(rds.clusters.get(PRE), LOCK_TAG)).toBeUndefined();
  });

  // DEFECT (pre-existing, steps.ts finalize; the forward twin of the fixed stale rollback): run RUN cut over but its finalize
  // never ran (a crash; the CLI then says "--resume <file> --cutover"; in Step Functions, a failed finalize redriven within 14
  // days). A later run was refused RUN_IN_PROGRESS, its operator did what the refusal says (--break-lock RUN), cut over and
  // finalized. The stale resume then takes the lock on <id> (the later run's live database, free) and finalize tags it, by the
  // ARN of its renamed artifact, as this run's copy: db-ops-kit:rekey-run=RUN, rekey-role "new cluster on the target key, now
  // under the original name", and releases the lock; no error. From then on the stale-rollback guard reads the tag backwards:
  // the later run's own rollback is refused SupersededByLaterRun naming RUN as "a later key-change run" and sends the operator
  // to RUN's rollback, which passes the guard, locks the live database and polls checkRollbackNew forever (RUN's copy is not
  // on the live database's key, so nothing is renamed; interrupted, it leaves RUN's lock on the live database).
  // Fix: before finalize tags anything (and on a resume's lock step) refuse SupersededByLaterRun when <id> carries another
  // run's db-ops-kit:rekey-run; finalize should tag only resources whose rekey-run is absent or this run's.
  test('a stale finalize resume after a later run cut over does not relabel the later run\'s live database as this run\'s', async () => {
    const a = await cutOver({ finalize: false });
    expect((await breakLock(clients().rds, { kind: 'cluster', sourceId: SRC }, RUN)).released).toEqual([SRC, PRE]);
    laterRun({ renameTarget: true });
    const f = await runPhases(clients(), a, phasesFor(a, { cutover: true }), { pollMs: 0 }).catch((x: Error) => x);
    // Was (before the finalize check): no error, and 20261130030405 (and rekey-role "new cluster on the target key, now under the original name").
    expect((f as Error).name).toBe('SupersededByLaterRun');
    expect((f as Error).message).toContain(`[finalize] ledger: ledger carries db-ops-kit:rekey-run=${LATER}: key-change run ${LATER} cut over since, so ledger is that run's database, not this run's copy; nothing was tagged`);
    expect((f as Error).message).toContain(`run ${LATER}'s state file, by default out/kms-change/rekey-ledger-${LATER}.json, is the one to resume or roll back`);
    // The lock the stale resume set on the later run's database is removed again.
    expect(tag(rds.clusters.get(SRC), LOCK_TAG)).toBeUndefined();
    expect(tag(rds.clusters.get(SRC), 'db-ops-kit:rekey-run')).toBe(LATER);
    // Consequence: the later run's own rollback is refused SupersededByLaterRun naming this (earlier) run as "a later key-change run".
    const later: RekeyState = {
      ...ourRun(),
      runId: LATER,
      targetKeyArn: LATER_KEY,
      names: { sourceSnapshot: `ledger-rekey-${LATER}-src`, newId: `ledger-rekey-${LATER}`, preRekeyId: `ledger-pre-rekey-${LATER}`, memberIds: Object.fromEntries(MEMBERS.map((m) => [m, `${m}-rekey-${LATER}`])) },
      cutover: { at: '2026-12-05T00:10:00Z', sourceRenamedTo: `ledger-pre-rekey-${LATER}`, memberRenames: MEMBERS.map((m) => ({ from: m, to: `${m}-pre-rekey-${LATER}` })), done: true },
      rollbackStrandsWrites: 'test',
      lastStep: 'finalize',
    };
    const e = await STEPS.rollbackRenameNew(clients(), later).catch((x: Error) => x);
    expect((e as Error).name).not.toBe('SupersededByLaterRun');
  });
});

describe('(d) what a refused stale rollback leaves tagged', () => {
  // DEFECT (CLI path of the member tagging): a stale rollback refused SupersededByLaterRun ("nothing was renamed and no security
  // group was changed") first ran the lock step, and acquireLock tags every resource it locks with the run tag and, through
  // tagRunMembers, every member of those clusters: the later run's live database under <id> and its members, and this run's
  // kept original and its members, which the operator had taken out of the kit's reach by removing db-ops-kit:rekey-source
  // (README: "To take a kept resource out of the kit's reach, remove its db-ops-kit:rekey-source tag"). The refusal removes
  // the lock again but not these tags, and does not say it added them. The workflow path (lock-members-breakit "(a) ... stale
  // rollback of this run ... (workflow)") asserts the later run's members get no tag; through the CLI they do.
  // Fix: decide supersession (assertIdStillThisRuns, read-only) before anything is written: in runPhases before acquireLock
  // for rollback phases, and in rollbackRenameNew/rollbackRenameSource before withRunTag's reassertRunTag.
  test('CLI: a stale rollback refused SupersededByLaterRun adds no run tag to the later run\'s database, its members, or this run\'s kept original taken out of reach', async () => {
    const a = await cutOver({ finalize: true });
    laterRun({ renameTarget: true });
    // The operator took everything out of the kit's reach: the run tag is off every cluster and instance.
    for (const d of [...rds.instances.values(), ...rds.clusters.values()]) d.TagList = d.TagList?.filter((t) => t.Key !== RUN_SOURCE_TAG);
    stub.resetHistory();
    const e = await runPhases(clients(), { ...a, lastStep: undefined }, [...ROLLBACK_PHASES], { pollMs: 0 }).catch((x: Error) => x);
    expect((e as Error).name).toBe('SupersededByLaterRun');
    expect(tag(rds.clusters.get(SRC), LOCK_TAG)).toBeUndefined(); // the fix under review
    // Observed: ledger, ledger-pre-rekey-<run> (clusters) and ledger-1, ledger-2, ledger-1-pre-rekey-<run>, ledger-2-pre-rekey-<run>.
    const runTagged = [...rds.clusters.entries(), ...rds.instances.entries()].filter(([, d]) => runTag(d) !== undefined).map(([id]) => id);
    expect(runTagged).toEqual([]);
  });
});

describe('(d) redrives after the run tag is cleaned off', () => {
  // DEFECT (pre-existing, lock.ts reassertRunTag "if (s.rolledBack?.done) return []"): a workflow rollback after a frozen
  // cutover. checkRollbackSource gives the original its name back, sets rolledBack.done and releases the lock; the last step,
  // rollbackUnfreeze, is still to lift the freeze. If the run tag is cleaned off <id> in between (the tag clean-up threat
  // model withRunTag exists for), rollbackUnfreeze's ModifyDBCluster is denied on every redrive: reassertRunTag returns
  // before looking (rolledBack.done), and <id> holds no lock of this run any more. The original stays FROZEN under <id> (all
  // clients blocked); a new rollback execution is refused "already rolled back". Only the CLI resume gets through (its lock
  // step tags <id> again). Fix: in reassertRunTag return early only when the freeze is released too
  // (rolledBack.done && (!s.freeze?.groupId || s.freeze.released)), and count <id> as ours when rolledBack.done and the
  // original (old key) is under <id>.
  test('workflow rollback of a frozen cutover: run tag cleaned off after checkRollbackSource; the rollbackUnfreeze redrive lifts the freeze', async () => {
    let s = await cutOver({ finalize: true });
    // The cutover froze the original (kept frozen until --release-original); the rollback is to lift it under <id>.
    s = { ...s, freezeOptOut: undefined, freeze: { groupId: 'sg-freeze', originalSecurityGroupIds: ['sg-1'], appliedAt: '2026-11-30T03:10:00Z', quietAt: '2026-11-30T03:20:00Z' }, rollbackStrandsWrites: 'test' };
    rds.clusters.get(PRE)!.VpcSecurityGroups = [{ VpcSecurityGroupId: 'sg-freeze', Status: 'active' }];
    for (const name of ROLLBACK.filter((n) => n !== 'rollbackUnfreeze')) s = await step(name, s);
    expect(s.rolledBack?.done).toBe(true);
    for (const d of [...rds.instances.values(), ...rds.clusters.values()]) d.TagList = d.TagList?.filter((t) => t.Key !== RUN_SOURCE_TAG);
    // Observed: AccessDenied rds:ModifyDBCluster arn:...:cluster:ledger, on the first try and on every redrive.
    s = await step('rollbackUnfreeze', s).catch(() => step('rollbackUnfreeze', s));
    expect(rds.clusters.get(SRC)!.VpcSecurityGroups).toEqual([{ VpcSecurityGroupId: 'sg-1', Status: 'active' }]);
  });
});
