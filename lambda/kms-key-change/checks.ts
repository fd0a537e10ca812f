/**
 * The check (poll) steps that only read: each describes what a start step began and says whether to
 * poll again. Nothing here imports an AWS write, so the workflow's poll function (poll-handler.ts),
 * which bundles only this graph, runs on a role that cannot write (DESIGN.md, Lifecycle: a role that
 * only polls cannot write). The two checks that write are not here: checkRestore (creates the Aurora
 * members once the writer is up, restore-steps.ts) and checkRollbackSource (releases the run lock when
 * the rollback completes, cutover.ts); they run on the Steps function.
 */
import { DescribeBlueGreenDeploymentsCommand, DescribeDBClusterSnapshotsCommand, DescribeDBSnapshotsCommand, RDSClient, Tag } from '@aws-sdk/client-rds';
import { call, Clients, describeOrUndefined } from './clients';
import { checkFreezeState, freezeNotApplicable } from './freeze-read';
import { RekeyError, RekeyState } from './state';
import { getCluster, getInstance, names, need, ok, StepFn, StepResult } from './step-base';
import type { StepName } from './workflow';

export interface SnapshotInfo {
  status?: string;
  percent?: number;
  arn?: string;
  kmsKeyId?: string;
  createdAt?: Date;
  tags?: Tag[];
}

export async function getSnapshot(rds: RDSClient, kind: 'instance' | 'cluster', id: string): Promise<SnapshotInfo | undefined> {
  if (kind === 'instance') {
    const r = (await describeOrUndefined(() => rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: id }))))?.DBSnapshots?.[0];
    return r && { status: r.Status, percent: r.PercentProgress, arn: r.DBSnapshotArn, kmsKeyId: r.KmsKeyId, createdAt: r.SnapshotCreateTime, tags: r.TagList };
  }
  const r = (await describeOrUndefined(() => rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: id }))))?.DBClusterSnapshots?.[0];
  return r && { status: r.Status, percent: r.PercentProgress, arn: r.DBClusterSnapshotArn, kmsKeyId: r.KmsKeyId, createdAt: r.SnapshotCreateTime, tags: r.TagList };
}

export function snapshotProgress(s: RekeyState, step: string, id: string, snap: { status?: string; percent?: number } | undefined): StepResult {
  if (!snap) throw new RekeyError(step, id, 'snapshot not found', 'resume the run: the start step will create it again');
  s.progress = { step, percent: snap.percent, status: snap.status };
  if (snap.status === 'available') return ok(s, step, `${id} available`);
  if (snap.status === 'creating' || snap.status === 'copying' || snap.status === 'pending') {
    return ok(s, step, `${id} ${snap.status}${snap.percent !== undefined ? ` ${snap.percent}%` : ''}`, false);
  }
  throw new RekeyError(step, id, `snapshot status is "${snap.status}"`, 'inspect the snapshot in the console; the source is untouched, start a new run when fixed');
}

export const checkFreeze: StepFn = async (c, s) => {
  const step = 'checkFreeze';
  if (freezeNotApplicable(s) || s.freezeOptOut || (s.snapshotStartedAt && !s.freeze)) return ok(s, step, 'no freeze to check');
  if (s.freeze?.quietAt && s.snapshotStartedAt) return ok(s, step, `frozen and quiet since ${s.freeze.quietAt}`);
  const [done, message] = await checkFreezeState(c, s, step);
  s.progress = { step, status: done ? 'quiet' : 'waiting' };
  return ok(s, step, message, done);
};

export const checkSnapshot: StepFn = async (c, s) => {
  const id = names(s, 'checkSnapshot').sourceSnapshot;
  return snapshotProgress(s, 'checkSnapshot', id, await getSnapshot(c.rds, s.kind, id));
};

export const checkCopy: StepFn = async (c, s) => {
  const step = 'checkCopy';
  const n = names(s, step);
  if (!n.copySnapshot) return ok(s, step, 'no copy');
  const snap = await getSnapshot(c.targetRds, s.kind, n.copySnapshot);
  const r = snapshotProgress(s, step, n.copySnapshot, snap);
  if (r.done && snap?.kmsKeyId !== s.targetKeyArn) {
    throw new RekeyError(step, n.copySnapshot, `the copy is encrypted with ${snap?.kmsKeyId}, not ${s.targetKeyArn}`, 'check the key ARN and key policy; the source is untouched');
  }
  return r;
};

export const checkApply: StepFn = async (c, s) => {
  const step = 'checkApply';
  const n = names(s, step);
  const ids = s.kind === 'instance' ? [n.newId] : Object.values(need(n.memberIds, step, 'member names'));
  const pending: string[] = [];
  for (const id of ids) {
    const i = await getInstance(c.targetRds, id);
    const pmv = i?.PendingModifiedValues ? Object.values(i.PendingModifiedValues).filter((v) => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0)) : [];
    if (i?.DBInstanceStatus !== 'available' || pmv.length > 0) pending.push(`${id} ${i?.DBInstanceStatus ?? 'missing'}`);
  }
  if (s.kind === 'cluster') {
    const cl = await getCluster(c.targetRds, n.newId);
    if (cl?.Status !== 'available') pending.push(`${n.newId} ${cl?.Status}`);
  }
  s.progress = { step, status: pending.length ? pending.join(', ') : 'available' };
  return ok(s, step, pending.length ? `waiting: ${pending.join(', ')}` : 'settings applied', pending.length === 0);
};

export async function getBlueGreen(c: Clients, s: RekeyState, step: string) {
  const id = need(s.blueGreenId, step, 'blue/green deployment id');
  const r = await call(() => c.rds.send(new DescribeBlueGreenDeploymentsCommand({ BlueGreenDeploymentIdentifier: id })));
  const d = r.BlueGreenDeployments?.[0];
  if (!d) throw new RekeyError(step, id, 'blue/green deployment not found', 'check the console; the source is untouched');
  return d;
}

export const checkBlueGreen: StepFn = async (c, s) => {
  const step = 'checkBlueGreen';
  const d = await getBlueGreen(c, s, step);
  s.progress = { step, status: d.Status };
  if (d.Status === 'AVAILABLE') return ok(s, step, `green environment ${d.Target} available`);
  if (d.Status === 'PROVISIONING') return ok(s, step, `provisioning (${(d.Tasks ?? []).map((t) => `${t.Name}:${t.Status}`).join(', ')})`, false);
  throw new RekeyError(step, s.blueGreenId!, `blue/green status is "${d.Status}" ${d.StatusDetails ?? ''}`, 'inspect the deployment; the blue environment keeps serving');
}

export const checkSwitchover: StepFn = async (c, s) => {
  const step = 'checkSwitchover';
  const d = await getBlueGreen(c, s, step);
  s.progress = { step, status: d.Status };
  if (d.Status === 'SWITCHOVER_COMPLETED') {
    if (s.cutover) s.cutover.done = true;
    return ok(s, step, 'switchover completed; the old blue environment is kept with an -old suffix');
  }
  if (d.Status === 'SWITCHOVER_IN_PROGRESS' || d.Status === 'AVAILABLE') return ok(s, step, `switchover ${d.Status}`, false);
  throw new RekeyError(step, s.blueGreenId!, `switchover status is "${d.Status}"`, 'RDS rolls a failed switchover back; inspect the deployment');
};

/** Keeps the list of kept resources under their current names after a rename. */
export function renameArtifact(s: RekeyState, from: string, to: string, role?: string): void {
  const i = s.artifacts.findIndex((a) => a.id === from);
  if (i >= 0) s.artifacts[i] = { ...s.artifacts[i], id: to, ...(role ? { role } : {}) };
}

/** Polls until `fromId` is gone and `toId` is available. */
export async function renamed(c: RDSClient, kind: 'instance' | 'cluster', fromId: string, toId: string): Promise<boolean> {
  const gone = kind === 'instance' ? !(await getInstance(c, fromId)) : !(await getCluster(c, fromId));
  const there = kind === 'instance' ? (await getInstance(c, toId))?.DBInstanceStatus : (await getCluster(c, toId))?.Status;
  return gone && there === 'available';
}

export const checkRenameSource: StepFn = async (c, s) => {
  const step = 'checkRenameSource';
  const co = need(s.cutover, step, 'cutover record');
  let done = await renamed(c.rds, s.kind, s.sourceId, co.sourceRenamedTo);
  for (const m of co.memberRenames) done = done && (await renamed(c.rds, 'instance', m.from, m.to));
  return ok(s, step, done ? `${s.sourceId} is now ${co.sourceRenamedTo}` : `waiting for ${s.sourceId} → ${co.sourceRenamedTo}`, done);
};

export const checkRenameTarget: StepFn = async (c, s) => {
  const step = 'checkRenameTarget';
  const n = names(s, step);
  const co = need(s.cutover, step, 'cutover record');
  let done = await renamed(c.rds, s.kind, n.newId, s.sourceId);
  for (const m of co.memberRenames) done = done && (await renamed(c.rds, 'instance', n.memberIds![m.from], m.from));
  if (done && !co.done) {
    co.done = true;
    renameArtifact(s, n.newId, s.sourceId, `new ${s.kind} on the target key, now under the original name`);
    for (const m of co.memberRenames) renameArtifact(s, n.memberIds![m.from], m.from);
  }
  return ok(s, step, done ? `cutover complete: ${s.sourceId} now runs on ${s.targetKeyArn}` : `waiting for ${n.newId} → ${s.sourceId}`, done);
};

export const checkRollbackNew: StepFn = async (c, s) => {
  const step = 'checkRollbackNew';
  if (!s.cutover) return ok(s, step, 'no cutover to undo');
  const n = names(s, step);
  let done = await renamed(c.rds, s.kind, s.sourceId, n.newId);
  for (const m of s.cutover?.memberRenames ?? []) done = done && (await renamed(c.rds, 'instance', m.from, n.memberIds![m.from]));
  return ok(s, step, done ? `${s.sourceId} is free again` : `waiting for ${s.sourceId} → ${n.newId}`, done);
};

/** The steps the poll function runs (workflow.ts POLL_STEPS). */
export const POLL_STEP_FNS: Partial<Record<StepName, StepFn>> = {
  checkFreeze,
  checkSnapshot,
  checkCopy,
  checkApply,
  checkBlueGreen,
  checkSwitchover,
  checkRenameSource,
  checkRenameTarget,
  checkRollbackNew,
};
