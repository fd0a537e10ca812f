/**
 * The steps of the KMS key change as plain functions over injected clients and the JSON state
 * document, split along the workflow's phases: snapshot-steps.ts, restore-steps.ts,
 * blue-green-steps.ts, verify.ts, cutover.ts (cutover, rollback, the freeze) and checks.ts (the
 * read-only polls). This module has finalize, the preflight step and the step table, and re-exports
 * every step. Each "start" step is idempotent (it looks before it creates, so a retry or a resumed
 * run never creates twice); each "check" step says whether to keep polling. Nothing here deletes a
 * database, snapshot or any other resource.
 */
import { AddTagsToResourceCommand } from '@aws-sdk/client-rds';
import { createBlueGreen, switchover } from './blue-green-steps';
import { checkApply, checkBlueGreen, checkCopy, checkFreeze, checkRenameSource, checkRenameTarget, checkRollbackNew, checkSnapshot, checkSwitchover } from './checks';
import { call } from './clients';
import { checkRollbackSource, freezeSource, renameSource, renameTarget, rollbackRenameNew, rollbackRenameSource, rollbackUnfreeze } from './cutover';
import { acquireLock, LOCK_TAG, reassertRunTag } from './lock';
import { preflight } from './preflight';
import { applySettings, checkRestore, restore } from './restore-steps';
import { copySnapshot, createSnapshot, shareSnapshot } from './snapshot-steps';
import { RekeyError, SUPERSEDED } from './state';
import { kitTags, need, ok, rekeyRunOnId, releaseLockOrWarn, StepFn } from './step-common';
import { verify } from './verify';
import type { StepName } from './workflow';

export type { StepFn, StepResult } from './step-common';
export * from './cutover';
export * from './checks';
export * from './snapshot-steps';
export * from './restore-steps';
export * from './blue-green-steps';
export * from './verify';

/** Tags every resource of the run with its role and lists them; deletes nothing. */
export const finalize: StepFn = async (c, s) => {
  const step = 'finalize';
  // After this run's cutover, <id> is its copy (restored with db-ops-kit:rekey-run=<this run>). Another
  // run's value there means a later run cut over since (this run's lock was broken): tagging by the
  // artifacts' ARNs would label that run's live database as this run's copy, and its own rollback would
  // then be refused as superseded by this one. Refuses; nothing tagged.
  if (s.cutover?.done && s.method === 'snapshot' && !s.targetRegion && !s.shareWithAccount) {
    const other = await rekeyRunOnId(c.rds, s);
    if (other !== undefined && other !== s.runId) {
      throw new RekeyError(
        step,
        s.sourceId,
        `${s.sourceId} carries db-ops-kit:rekey-run=${other}: key-change run ${other} cut over since, so ${s.sourceId} is that run's database, not this run's copy; nothing was tagged`,
        `nothing to finalize for run ${s.runId}: its resources stay as they are (${s.artifacts.map((a) => a.id).join(', ') || 'none recorded'}); run ${other}'s state file, by default out/kms-change/rekey-${s.sourceId}-${other}.json, is the one to resume or roll back`,
        SUPERSEDED,
      );
    }
  }
  for (const a of s.artifacts) {
    if (a.type === 'blue-green-deployment') continue;
    const client = a.region === s.region ? c.rds : c.targetRds;
    const account = need(s.account, step, 'account');
    const typ = { 'db-snapshot': 'snapshot', 'db-cluster-snapshot': 'cluster-snapshot', 'db-instance': 'db', 'db-cluster': 'cluster' }[a.type];
    const partition = (s.source?.kind === 'instance' ? s.source.instance.arn : s.source?.cluster.arn)?.split(':')[1] ?? 'aws';
    const arn = `arn:${partition}:rds:${a.region}:${account}:${typ}:${a.id}`;
    try {
      await call(() => client.send(new AddTagsToResourceCommand({ ResourceName: arn, Tags: [...kitTags(s, a.role.slice(0, 250)), { Key: 'db-ops-kit:rekey-kept', Value: 'delete only when you no longer need it' }] })));
    } catch (e) {
      // A renamed resource's ARN changes; report instead of failing the whole run.
      s.warnings.push(`could not tag ${arn}: ${(e as Error).name}`);
    }
  }
  const released = await releaseLockOrWarn(c, s);
  return ok(
    s,
    step,
    `${s.artifacts.length ? `kept ${s.artifacts.length} resource(s): ${s.artifacts.map((a) => `${a.type} ${a.id} (${a.region})`).join('; ')}` : 'nothing to keep: this run created no resources'}${released.length ? `; run lock released (${released.join(', ')})` : ''}` +
      // What the operator gave up, in the final report too (not only in the state).
      `${s.freezeOptOut ? `; NO ENFORCED WRITE FREEZE (${s.freezeOptOut})` : ''}${s.rollbackStrandsWrites ? `; rollback confirmed although writes stay in the copy (${s.rollbackStrandsWrites})` : ''}`,
  );
};

/** Preflight (read-only), then the run lock: the first write of a run is the lock tag on the source. */
export const preflightStep: StepFn = async (c, s) => {
  const next = await preflight(c, s);
  await acquireLock(c, next);
  return ok(next, 'preflight', `preflight passed for ${s.kind} ${s.sourceId} → ${next.targetKeyArn}; run lock ${LOCK_TAG}=${next.runId} set`);
};

/**
 * The steps that write to the source or to the re-keyed copy first make sure the run tag is still
 * there (lock.ts reassertRunTag): a workflow redrive re-runs only the failed step, so this cannot wait
 * for the lock step of a resume.
 */
const withRunTag =
  (fn: StepFn): StepFn =>
  async (c, s) => {
    await reassertRunTag(c, s);
    return fn(c, s);
  };

export const STEPS: Record<StepName, StepFn> = {
  preflight: preflightStep,
  freezeSource: withRunTag(freezeSource),
  checkFreeze,
  rollbackUnfreeze: withRunTag(rollbackUnfreeze),
  createSnapshot: withRunTag(createSnapshot),
  checkSnapshot,
  copySnapshot,
  checkCopy,
  shareSnapshot,
  restore,
  checkRestore,
  applySettings: withRunTag(applySettings),
  checkApply,
  createBlueGreen: withRunTag(createBlueGreen),
  checkBlueGreen,
  verify,
  renameSource: withRunTag(renameSource),
  checkRenameSource,
  renameTarget: withRunTag(renameTarget),
  checkRenameTarget,
  switchover: withRunTag(switchover),
  checkSwitchover,
  rollbackRenameNew: withRunTag(rollbackRenameNew),
  checkRollbackNew,
  rollbackRenameSource: withRunTag(rollbackRenameSource),
  checkRollbackSource,
  finalize,
};
