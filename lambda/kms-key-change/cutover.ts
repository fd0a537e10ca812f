/**
 * Cutover and rollback of the snapshot method: the renames, guarded by the proof that the write
 * freeze held since the final snapshot (freeze.ts), and the steps that apply and lift the freeze.
 * Nothing here deletes a resource.
 */
import { ModifyDBClusterCommand, ModifyDBInstanceCommand } from '@aws-sdk/client-rds';
import { renameArtifact, renamed } from './checks';
import { call, Clients } from './clients';
import { applyFreeze, assertFreezeHeld, connectionsSince, freezeNotApplicable, freezePending, recoverFreeze, unfreeze } from './freeze';
import { addArtifact, RekeyError, RekeyState, SUPERSEDED } from './state';
import { getCluster, getInstance, keyOf, names, need, ok, rekeyRunOnId, releaseLockOrWarn, srcCluster, StepFn } from './step-common';

// The read-only checks of these phases live in checks.ts (the poll function's graph); re-exported here.
export { checkFreeze, checkRenameSource, checkRenameTarget, checkRollbackNew } from './checks';

// ---------------------------------------------------------------- cutover and rollback (snapshot method)

async function assertCutoverAllowed(c: Clients, s: RekeyState, step: string): Promise<string> {
  if (s.targetRegion || s.shareWithAccount) throw new RekeyError(step, s.sourceId, 'cutover by rename applies only to a same-Region, same-account copy', 'point clients at the new endpoint instead');
  if (!s.parityClean) throw new RekeyError(step, s.sourceId, 'the parity report is not clean', 'resume the run: verify runs again; fix the differences it names on the new resource first');
  if (s.freezeOptOut) {
    // No enforced freeze: the operator's declaration is all there is.
    if (!s.snapshotWritesStopped && !s.cutover) {
      throw new RekeyError(
        step,
        s.sourceId,
        `the copy holds the data as of the snapshot taken at ${s.snapshotStartedAt ?? '(unknown)'} in a run that did not ask for cutover; every write made to ${s.sourceId} since then would be missing from the database clients are switched to`,
        'start a new run with --cutover (the kit freezes writes and takes a fresh snapshot)',
        'WritesNotStoppedBeforeSnapshot',
      );
    }
    return `no enforced freeze (operator opted out: ${s.freezeOptOut})`;
  }
  return assertFreezeHeld(c, s, step, s.stateFile);
}

/** The cutover record; names fixed by the run id, not the clock, so a crashed cutover resumes (or rolls back) with the same names. */
function cutoverRecord(s: RekeyState, step: string): NonNullable<RekeyState['cutover']> {
  const to = names(s, step).preRekeyId ?? `${s.sourceId}-pre-rekey-${s.runId}`;
  const members = s.kind === 'cluster' ? srcCluster(s, step).members.map((m) => ({ from: m.id, to: `${m.id}-pre-rekey-${s.runId}` })) : [];
  return { at: new Date().toISOString(), sourceRenamedTo: to, memberRenames: members };
}

export const renameSource: StepFn = async (c, s) => {
  const step = 'renameSource';
  const proof = await assertCutoverAllowed(c, s, step);
  if (!s.cutover) s.cutover = cutoverRecord(s, step);
  const to = s.cutover.sourceRenamedTo;
  if (s.kind === 'instance') {
    const cur = await getInstance(c.rds, s.sourceId);
    if (cur && keyOf(cur) === s.sourceKeyArn) {
      await call(() => c.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: s.sourceId, NewDBInstanceIdentifier: to, ApplyImmediately: true })));
    }
  } else {
    const cur = await getCluster(c.rds, s.sourceId);
    if (cur && keyOf(cur) === s.sourceKeyArn) {
      await call(() => c.rds.send(new ModifyDBClusterCommand({ DBClusterIdentifier: s.sourceId, NewDBClusterIdentifier: to, ApplyImmediately: true })));
    }
    for (const m of s.cutover.memberRenames) {
      if (await getInstance(c.rds, m.from).then((i) => i && keyOf(i) === s.sourceKeyArn)) {
        await call(() => c.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: m.from, NewDBInstanceIdentifier: m.to, ApplyImmediately: true })));
      }
    }
  }
  addArtifact(s, { type: s.kind === 'instance' ? 'db-instance' : 'db-cluster', id: to, region: s.region, role: 'the original source, renamed (old key, kept)' });
  for (const m of s.cutover.memberRenames) addArtifact(s, { type: 'db-instance', id: m.to, region: s.region, role: `member ${m.from} of the original source, renamed (kept)` });
  return ok(s, step, `${proof}; renaming ${s.sourceId} to ${to}`);
};

export const renameTarget: StepFn = async (c, s) => {
  const step = 'renameTarget';
  const n = names(s, step);
  const co = need(s.cutover, step, 'cutover record');
  // The original is renamed but still frozen; prove that again before clients get the copy. When
  // the rename of the copy to <id> was already issued (the step crashed or timed out after the call,
  // and this is a resume or a redrive), clients may already write to the copy under <id>: the proof
  // ran before that call, and asking again would read the copy's own connections as a broken freeze
  // and send the operator to a rollback that strands those writes.
  const current = s.kind === 'instance' ? await getInstance(c.rds, s.sourceId) : await getCluster(c.rds, s.sourceId);
  const alreadyIssued = current !== undefined && keyOf(current) === s.targetKeyArn;
  const proof = co.done
    ? 'cutover already done'
    : alreadyIssued
      ? `${s.sourceId} already is the re-keyed copy (the rename was issued before an interruption); finishing it`
      : await assertCutoverAllowed(c, s, step);
  if (s.kind === 'instance') {
    if (await getInstance(c.rds, n.newId)) {
      await call(() => c.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: n.newId, NewDBInstanceIdentifier: s.sourceId, ApplyImmediately: true })));
    }
  } else {
    if (await getCluster(c.rds, n.newId)) {
      await call(() => c.rds.send(new ModifyDBClusterCommand({ DBClusterIdentifier: n.newId, NewDBClusterIdentifier: s.sourceId, ApplyImmediately: true })));
    }
    for (const m of co.memberRenames) {
      const newMember = need(n.memberIds, step, 'member names')[m.from];
      if (await getInstance(c.rds, newMember)) {
        await call(() => c.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: newMember, NewDBInstanceIdentifier: m.from, ApplyImmediately: true })));
      }
    }
  }
  return ok(s, step, `${proof}; renaming ${n.newId} to ${s.sourceId}`);
};

function assertRollbackAllowed(s: RekeyState, step: string): void {
  if (s.method !== 'snapshot') throw new RekeyError(step, s.sourceId, 'a blue/green switchover cannot be renamed back by this kit', 'the old blue environment is kept with an -old1 suffix; create a new blue/green deployment from it or rename it manually');
  if (s.rolledBack?.done) throw new RekeyError(step, s.sourceId, `already rolled back at ${s.rolledBack.at}; ${s.sourceId} is the original again`, 'nothing to do; the re-keyed copy is kept under its -rekey- name');
}

/**
 * The cutover to roll back. A cutover that crashed right after its first rename call (before the
 * state was saved) has no record, yet the source is already renamed: look for the run's
 * `-pre-rekey-` names and rebuild the record, so rollback works from that state too.
 */
async function cutoverToRollBack(c: Clients, s: RekeyState, step: string): Promise<NonNullable<RekeyState['cutover']> | undefined> {
  if (s.cutover) return s.cutover;
  if (!s.names || !s.source || s.targetRegion || s.shareWithAccount) return undefined;
  const rec = cutoverRecord(s, step);
  const renamedAway =
    (s.kind === 'instance' ? await getInstance(c.rds, rec.sourceRenamedTo) : await getCluster(c.rds, rec.sourceRenamedTo)) !== undefined ||
    (await Promise.all(rec.memberRenames.map((m) => getInstance(c.rds, m.to)))).some((i) => i !== undefined);
  return renamedAway ? rec : undefined;
}

/**
 * A completed run's state file stays usable, and everything it touched keeps the run tag, so its
 * rollback stays permitted long after a LATER run cut over the same source again. Then `<id>` is that
 * later run's database (tagged `db-ops-kit:rekey-run=<later run>`) while this run's original still sits
 * under `<id>-pre-rekey-<this run>`: renaming would put an old database back under `<id>` and lifting
 * this run's freeze would overwrite the later database's security groups. Refuses, nothing changed.
 */
async function assertIdStillThisRuns(c: Clients, s: RekeyState, step: string, co: NonNullable<RekeyState['cutover']>): Promise<void> {
  const run = await rekeyRunOnId(c.rds, s);
  if (run === undefined || run === s.runId) return;
  const originalAway = s.kind === 'instance' ? await getInstance(c.rds, co.sourceRenamedTo) : await getCluster(c.rds, co.sourceRenamedTo);
  if (!originalAway) return; // the original has its name back (a rollback resumed after its second rename)
  throw new RekeyError(
    step,
    s.sourceId,
    `${s.sourceId} is no longer run ${s.runId}'s re-keyed ${s.kind}: it carries db-ops-kit:rekey-run=${run} (a later key-change run cut over since), and this run's original is still ${co.sourceRenamedTo}; nothing was renamed and no security group was changed`,
    `roll back the latest run instead (its state file, by default out/kms-change/rekey-${s.sourceId}-${run}.json, with --rollback; workflow: a new execution with {"rollback": true, "state": <that run's last state>}); ${co.sourceRenamedTo} is kept as it is`,
    SUPERSEDED,
  );
}

/**
 * A rollback moves the re-keyed copy away from `<id>`. Once the copy answers to `<id>` clients may
 * have written to it; those writes would not be in the original that gets the name back. Refuses
 * (nothing renamed) when DatabaseConnections of the copy under `<id>` exceeded the limit since the
 * cutover began, unless the operator confirmed (`rollbackStrandsWrites`).
 */
async function assertNoWritesStranded(c: Clients, s: RekeyState, step: string, co: NonNullable<RekeyState['cutover']>): Promise<void> {
  if (s.rollbackStrandsWrites) return;
  const cur = s.kind === 'instance' ? await getInstance(c.rds, s.sourceId) : await getCluster(c.rds, s.sourceId);
  if (!cur || keyOf(cur) !== s.targetKeyArn) return; // the copy is not under <id>: no client could reach it by that name
  const ids = s.kind === 'instance' ? [s.sourceId] : co.memberRenames.map((m) => m.from);
  const points = await connectionsSince(c, ids.map((id) => ({ dimension: 'DBInstanceIdentifier' as const, id })), new Date(co.at));
  const busy = points.filter((p) => p.max > (s.maxConnections ?? 0));
  if (busy.length === 0) return;
  throw new RekeyError(
    step,
    s.sourceId,
    `clients used the re-keyed ${s.kind} under ${s.sourceId} since the cutover (${busy.slice(0, 5).map((p) => `${p.id}: ${p.max} at ${p.at}`).join(', ')}); a rollback gives ${s.sourceId} back to the original, which lacks every write they made, so nothing was renamed`,
    `keep the cutover (nothing to do), or stop those clients and roll back anyway, their writes staying only in the copy (kept as ${names(s, step).newId}): npm run kms-change -- --resume ${s.stateFile ?? '<state file>'} --rollback --writes-since-cutover-stay-in-copy (workflow: a new execution with {"rollback": true, "rollbackWritesSinceCutoverStayInCopy": true, "state": <last state>})`,
    'WritesSinceCutover',
  );
}

export const rollbackRenameNew: StepFn = async (c, s) => {
  const step = 'rollbackRenameNew';
  assertRollbackAllowed(s, step);
  s.rolledBack = s.rolledBack ?? { at: new Date().toISOString() };
  const co = await cutoverToRollBack(c, s, step);
  // No cutover started (an abort before the renames): nothing to rename; the freeze is lifted below.
  if (!co) return ok(s, step, `no cutover to undo: ${s.sourceId} was never renamed`);
  s.cutover = co;
  const n = names(s, step);
  await assertIdStillThisRuns(c, s, step, co);
  await assertNoWritesStranded(c, s, step, co);
  if (s.kind === 'instance') {
    const cur = await getInstance(c.rds, s.sourceId);
    if (cur && keyOf(cur) === s.targetKeyArn) await call(() => c.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: s.sourceId, NewDBInstanceIdentifier: n.newId, ApplyImmediately: true })));
  } else {
    const cur = await getCluster(c.rds, s.sourceId);
    if (cur && keyOf(cur) === s.targetKeyArn) await call(() => c.rds.send(new ModifyDBClusterCommand({ DBClusterIdentifier: s.sourceId, NewDBClusterIdentifier: n.newId, ApplyImmediately: true })));
    for (const m of s.cutover.memberRenames) {
      const i = await getInstance(c.rds, m.from);
      if (i && keyOf(i) === s.targetKeyArn) await call(() => c.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: m.from, NewDBInstanceIdentifier: n.memberIds![m.from], ApplyImmediately: true })));
    }
  }
  return ok(s, step, `moving the re-keyed ${s.kind} back to ${n.newId}`);
};

/**
 * The read-only refusals of {@link rollbackRenameNew} (blue/green, already rolled back, superseded by a
 * later run, writes stranded in the copy), for the CLI to run before its lock step (runner.ts): a
 * rollback refused there must not first put this run's lock and run tag on what answers to <id> now
 * (a later run's database, a kept original taken out of the kit's reach). Changes nothing.
 */
export async function rollbackPrecheck(c: Clients, s: RekeyState): Promise<void> {
  const step = 'rollbackRenameNew';
  assertRollbackAllowed(s, step);
  const co = await cutoverToRollBack(c, s, step);
  if (!co) return;
  await assertIdStillThisRuns(c, s, step, co);
  await assertNoWritesStranded(c, s, step, co);
}

export const rollbackRenameSource: StepFn = async (c, s) => {
  const step = 'rollbackRenameSource';
  assertRollbackAllowed(s, step);
  if (!s.cutover) return ok(s, step, 'no cutover to undo');
  const co = s.cutover;
  await assertIdStillThisRuns(c, s, step, co);
  if (s.kind === 'instance') {
    if (await getInstance(c.rds, co.sourceRenamedTo)) await call(() => c.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: co.sourceRenamedTo, NewDBInstanceIdentifier: s.sourceId, ApplyImmediately: true })));
  } else {
    if (await getCluster(c.rds, co.sourceRenamedTo)) await call(() => c.rds.send(new ModifyDBClusterCommand({ DBClusterIdentifier: co.sourceRenamedTo, NewDBClusterIdentifier: s.sourceId, ApplyImmediately: true })));
    for (const m of co.memberRenames) {
      if (await getInstance(c.rds, m.to)) await call(() => c.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: m.to, NewDBInstanceIdentifier: m.from, ApplyImmediately: true })));
    }
  }
  return ok(s, step, `renaming ${co.sourceRenamedTo} back to ${s.sourceId}`);
};

export const checkRollbackSource: StepFn = async (c, s) => {
  const step = 'checkRollbackSource';
  if (!s.cutover) return ok(s, step, 'no cutover to undo');
  const co = s.cutover;
  let done = await renamed(c.rds, s.kind, co.sourceRenamedTo, s.sourceId);
  for (const m of co.memberRenames) done = done && (await renamed(c.rds, 'instance', m.to, m.from));
  if (done) {
    s.rolledBack = { ...(s.rolledBack ?? { at: new Date().toISOString() }), done: true };
    co.done = false;
    // The renamed original has its name back; it is no longer a resource of this run.
    const gone = new Set([co.sourceRenamedTo, ...co.memberRenames.map((m) => m.to)]);
    for (let i = s.artifacts.length - 1; i >= 0; i--) if (gone.has(s.artifacts[i].id)) s.artifacts.splice(i, 1);
    renameArtifact(s, s.sourceId, names(s, step).newId, `new ${s.kind} on the target key (moved aside by rollback)`);
    for (const m of co.memberRenames) renameArtifact(s, m.from, names(s, step).memberIds![m.from]);
    // The lock stays on <id> while rollbackUnfreeze still has the freeze to lift there (it releases the
    // lock then): a redrive of that step after a tag clean-up re-tags <id> only under this run's lock.
    if (!freezePending(s)) await releaseLockOrWarn(c, s);
  }
  return ok(s, step, done ? `rolled back: ${s.sourceId} is the original (source key) again; the re-keyed copy is kept as ${names(s, step).newId}` : 'waiting for the rename back', done);
};

// ---------------------------------------------------------------- the write freeze

export const freezeSource: StepFn = async (c, s) => {
  const step = 'freezeSource';
  const why = freezeNotApplicable(s);
  if (why) return ok(s, step, `no write freeze: ${why}`);
  if (s.freezeOptOut) {
    const w = `no enforced write freeze (operator opted out: ${s.freezeOptOut}); writes that reach ${s.sourceId} after the final snapshot are missing from the new ${s.kind}`;
    if (!s.warnings.includes(w)) s.warnings.push(w);
    return ok(s, step, w);
  }
  if (s.snapshotStartedAt) {
    // The final snapshot was taken before any freeze (a rehearsal resumed with --cutover): freezing
    // now would not bring the missing writes into the copy; cutover refuses such a copy.
    return ok(s, step, `no freeze now: the snapshot was already taken at ${s.snapshotStartedAt} without one; cutover will refuse this copy`);
  }
  return ok(s, step, await applyFreeze(c, s, step));
};

/** Rollback and abort: the original groups go back on the source (it has its own name again). */
export const rollbackUnfreeze: StepFn = async (c, s) => {
  const step = 'rollbackUnfreeze';
  // A crash right after the swap leaves no freeze record; the run's group and its tag say what to restore.
  if (!s.freeze?.groupId && !freezeNotApplicable(s) && !s.freezeOptOut) s.freeze = await recoverFreeze(c, s, s.sourceId);
  if (!s.freeze?.groupId) {
    // The last rollback phase: with nothing to lift the rollback (or an abort before any cutover) is over too.
    s.rolledBack = { ...(s.rolledBack ?? { at: new Date().toISOString() }), done: true };
    return ok(s, step, 'no freeze to lift');
  }
  const msg = await unfreeze(c, s, s.sourceId, step);
  s.rolledBack = { ...(s.rolledBack ?? { at: new Date().toISOString() }), done: true };
  await releaseLockOrWarn(c, s);
  return ok(s, step, msg);
};

/** After cutover: lifts the freeze from the renamed original (`<id>-pre-rekey-<run>`), on the operator's request. */
export async function releaseOriginal(c: Clients, s: RekeyState): Promise<string> {
  const step = 'releaseOriginal';
  if (!s.cutover?.done || s.rolledBack) throw new RekeyError(step, s.sourceId, 'no finished cutover in this run; the original still answers to its own name', 'to lift the freeze from the source use --rollback');
  return unfreeze(c, s, s.cutover.sourceRenamedTo, step);
}
