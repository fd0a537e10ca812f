/**
 * The run lock: one live key-change run per source database.
 *
 * A run holds the lock by tagging the source DB instance / DB cluster with
 * `db-ops-kit:rekey-lock=<run id>` (RDS AddTagsToResource). Tags belong to the resource and follow
 * it through a rename, so during cutover the lock sits on the original (renamed to
 * `<id>-pre-rekey-<run>`) and on the re-keyed copy (tagged when it is restored, before it takes the
 * original's name): whatever answers to `<id>` at any moment of the run is locked.
 *
 * Acquiring is check, set, then check again: ListTagsForResource on every resource of the run; any
 * lock of another run refuses; our own (a resumed run, same run id) is fine; otherwise tag, wait a
 * few seconds (`REKEY_LOCK_SETTLE_MS`, default 5000) and read again. Two runs that both saw no lock
 * and both tagged see the same last-written value on the second read, and only its owner goes on.
 * RDS has no conditional tag write, so this is not a strict mutex, but it closes the window to the
 * time between one run's first read and its write (milliseconds), which is what matters for two
 * operators or two executions started minutes apart.
 *
 * The tag is removed by the run itself at finalize and when a rollback completes (only while it
 * still names this run), or by an operator with `kms-change --break-lock <run id>`. Removing a tag
 * deletes no data. The key is deliberately not `db-ops-kit:rekey-run`: that tag marks the resources
 * a run created and kept (finalize tags the re-keyed copy, which then answers to the original
 * name), so it cannot double as a lock.
 */
import { DBCluster, DBInstance, DescribeDBClustersCommand, DescribeDBInstancesCommand, ListTagsForResourceCommand, RDSClient, AddTagsToResourceCommand, RemoveTagsFromResourceCommand } from '@aws-sdk/client-rds';
import { call, Clients, describeOrUndefined, isNotFound } from './clients';
import { freezePending } from './freeze';
import { PreflightError, Problem } from './preflight';
import { RekeyError, RekeyState, SourceKind } from './state';
import { LOCK_TAG, RUN_SOURCE_TAG } from './workflow';

export { LOCK_TAG } from './workflow';

/**
 * A rollback after finalize (its lock released there) has renamed the original back to <id> and still
 * has to lift the freeze: <id> is this run's original exactly when it still carries this run's freeze
 * group (a kit-created group of this run; nobody else puts it on a database).
 */
async function frozenOriginalBack(c: Clients, s: RekeyState): Promise<boolean> {
  if (!s.rolledBack?.done || !freezePending(s)) return false;
  const groups =
    s.kind === 'instance'
      ? (await describeOrUndefined(() => c.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: s.sourceId }))))?.DBInstances?.[0]?.VpcSecurityGroups
      : (await describeOrUndefined(() => c.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: s.sourceId }))))?.DBClusters?.[0]?.VpcSecurityGroups;
  return (groups ?? []).some((g) => g.VpcSecurityGroupId === s.freeze!.groupId);
}

/** Pause between setting the lock tag and reading it back. `REKEY_LOCK_SETTLE_MS` overrides (tests use 0). */
export function lockSettleMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.REKEY_LOCK_SETTLE_MS;
  const v = raw === undefined || raw === '' ? NaN : Number(raw);
  return Number.isFinite(v) && v >= 0 ? v : 5000;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `20261130030405` → `2026-11-30 03:04:05 UTC` (the run id is the run's start time). */
export function runStartedAt(runId: string): string {
  return /^\d{14}$/.test(runId) ? `${runId.slice(0, 4)}-${runId.slice(4, 6)}-${runId.slice(6, 8)} ${runId.slice(8, 10)}:${runId.slice(10, 12)}:${runId.slice(12, 14)} UTC` : runId;
}

/** Identifiers (in the source Region) that may carry this run's lock: the source name, the name the original gets at cutover, the re-keyed copy. */
export function lockIds(s: RekeyState): string[] {
  const sameRegionCopy = !s.targetRegion && !s.shareWithAccount;
  // A blue/green switchover renames the old blue resources with the suffix -old1 (tags follow).
  const oldBlue = s.method === 'blue-green' ? `${s.sourceId}-old1` : undefined;
  const ids = [s.sourceId, s.names?.preRekeyId, sameRegionCopy ? s.names?.newId : undefined, oldBlue].filter((x): x is string => !!x);
  return [...new Set(ids)];
}

interface LockRead {
  readonly id: string;
  /** ARN of the resource, when it exists. */
  readonly arn?: string;
  /** False when no resource of that name exists. */
  readonly exists: boolean;
  /** Run id in the lock tag, if any. */
  readonly holder?: string;
  /** Value of the run tag (RUN_SOURCE_TAG), if any. */
  readonly runTag?: string;
}

/** The resource's ARN from DescribeDBInstances/DescribeDBClusters, or undefined when it does not exist. */
async function arnOf(rds: RDSClient, kind: SourceKind, id: string): Promise<string | undefined> {
  if (kind === 'instance') {
    const i: DBInstance | undefined = (await describeOrUndefined(() => rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))))?.DBInstances?.[0];
    return i?.DBInstanceArn;
  }
  const cl: DBCluster | undefined = (await describeOrUndefined(() => rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }))))?.DBClusters?.[0];
  return cl?.DBClusterArn;
}

/**
 * Existence comes from Describe (ListTagsForResource on a missing resource is not a reliable
 * "not found" everywhere), the tag from ListTagsForResource (the tagging API's own view).
 */
async function readLock(rds: RDSClient, kind: SourceKind, id: string): Promise<LockRead> {
  const arn = await arnOf(rds, kind, id);
  if (!arn) return { id, exists: false };
  try {
    const r = await call(() => rds.send(new ListTagsForResourceCommand({ ResourceName: arn })));
    return { id, arn, exists: true, holder: holderIn(r?.TagList), runTag: r?.TagList?.find((t) => t.Key === RUN_SOURCE_TAG)?.Value };
  } catch (e) {
    if (isNotFound(e)) return { id, exists: false };
    throw e;
  }
}

/** Preflight problem for a lock held by another run: names it and the ways forward. */
export function heldProblem(s: Pick<RekeyState, 'kind' | 'sourceId' | 'region'>, resource: string, holder: string): Problem {
  return {
    code: 'RUN_IN_PROGRESS',
    resource,
    message: `key-change run ${holder} (started ${runStartedAt(holder)}) holds the run lock (tag ${LOCK_TAG}=${holder}); a second run would snapshot, copy and restore the same database again and race the first one's cutover renames`,
    next:
      `let run ${holder} finish: resume it (npm run kms-change -- --resume <its state file, by default out/kms-change/rekey-${s.sourceId}-${holder}.json>, or redrive its Step Functions execution), or roll it back. ` +
      `Only if run ${holder} is dead and will never be resumed (no kms-change process and no RUNNING execution for it), release its lock with: ` +
      `npm run kms-change -- --db-${s.kind} ${s.sourceId} --region ${s.region} --break-lock ${holder}`,
  };
}

/** The lock's holder from a DescribeDB* TagList (preflight's read-only check; no extra call). */
export function holderIn(tags: Array<{ Key?: string; Value?: string }> | undefined): string | undefined {
  return tags?.find((t) => t.Key === LOCK_TAG)?.Value;
}

/**
 * Takes (or confirms) the lock for run `s.runId` on every existing resource of {@link lockIds}.
 * Throws {@link PreflightError} `RUN_IN_PROGRESS` when another run holds it or wins a race for it.
 * Returns the identifiers now locked by this run.
 */
export async function acquireLock(c: Clients, s: RekeyState, opts: { settleMs?: number } = {}): Promise<string[]> {
  const reads = await Promise.all(lockIds(s).map((id) => readLock(c.rds, s.kind, id)));
  const present = reads.filter((r) => r.exists);
  if (present.length === 0) {
    throw new RekeyError('lock', s.sourceId, `none of ${lockIds(s).join(', ')} exists in ${s.region}`, 'check the identifier and the Region; nothing was changed');
  }
  const others = present.filter((r) => r.holder && r.holder !== s.runId);
  if (others.length > 0) throw new PreflightError(others.map((r) => heldProblem(s, r.id, r.holder!)));
  const free = present.filter((r) => !r.holder);
  for (const r of free) {
    // The first write of a run: the lock, and on a resource that lacks it (the source, the first time
    // the kit works on it) the run tag that every later RDS write of the Steps role is scoped by. The
    // role may add the run tag only to exactly the configured source ARN (lib/kms-key-change).
    const Tags = [{ Key: LOCK_TAG, Value: s.runId }, ...(r.runTag === s.sourceId ? [] : [{ Key: RUN_SOURCE_TAG, Value: s.sourceId }])];
    try {
      await call(() => c.rds.send(new AddTagsToResourceCommand({ ResourceName: r.arn!, Tags })));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  // Every present resource is this run's now (another run's lock refused above).
  await tagRunMembers(c, s, new Set(present.map((r) => r.id)));
  if (free.length === 0) return present.map((r) => r.id);
  const settle = opts.settleMs ?? lockSettleMs();
  if (settle > 0) await sleep(settle);
  const again = await Promise.all(present.map((r) => readLock(c.rds, s.kind, r.id)));
  const lost = again.filter((r) => r.exists && r.holder !== s.runId);
  if (lost.length > 0) {
    const problems = lost.map((r) =>
      r.holder
        ? heldProblem(s, r.id, r.holder)
        : { code: 'RUN_LOCK_NOT_CONFIRMED', resource: r.id, message: `the ${LOCK_TAG} tag this run set is gone on the second read (another operator removed it)`, next: 'find out who is working on this database, then run again' },
    );
    throw new PreflightError(problems);
  }
  return again.filter((r) => r.exists).map((r) => r.id);
}

/**
 * The member instances a same-Region Aurora snapshot cutover renames, under every name they have in the
 * run: the source's members (`<member>`, then `<member>-pre-rekey-<run>`) and the copy's
 * (`<member>-rekey-<run>`, then `<member>`). The Steps role renames only run-tagged instances.
 */
function memberNames(s: RekeyState): string[] {
  if (s.kind !== 'cluster' || s.method !== 'snapshot' || s.targetRegion || s.shareWithAccount || s.source?.kind !== 'cluster') return [];
  const from = s.source.cluster.members.map((m) => m.id);
  return [...new Set([...from, ...from.map((id) => `${id}-pre-rekey-${s.runId}`), ...Object.values(s.names?.memberIds ?? {})])];
}

/**
 * Gives the run tag (that key only, the source's value only: the role's RunTagOnSourceMembers) to each
 * member instance of {@link memberNames} that lacks it and belongs to one of the run's clusters: to one
 * of `clusters` (already proven this run's), or, for a name that carries the run id
 * (`<m>-pre-rekey-<run>`, `<m>-rekey-<run>`: this run's own, as for clusters), to a cluster under one of
 * {@link lockIds} (a rollback after finalize renames the original back to `<id>` before its members, and
 * a redrive of that step holds no lock on `<id>`). Reads DescribeDBInstances (its TagList and
 * DBClusterIdentifier), not ListTagsForResource: the Steps role may list tags only on the run's cluster
 * ARNs (RunLockRead). An instance in no cluster or another cluster is never tagged, whatever its name.
 */
async function tagRunMembers(c: Clients, s: RekeyState, clusters: ReadonlySet<string>): Promise<string[]> {
  const fixed: string[] = [];
  const runClusters = new Set(lockIds(s));
  for (const id of memberNames(s)) {
    const i: DBInstance | undefined = (await describeOrUndefined(() => c.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))))?.DBInstances?.[0];
    const cl = i?.DBClusterIdentifier;
    if (!i?.DBInstanceArn || !cl) continue;
    if (!clusters.has(cl) && !(id.endsWith(`-${s.runId}`) && runClusters.has(cl))) continue;
    if (i.TagList?.some((t) => t.Key === RUN_SOURCE_TAG && t.Value === s.sourceId)) continue;
    try {
      await call(() => c.rds.send(new AddTagsToResourceCommand({ ResourceName: i.DBInstanceArn!, Tags: [{ Key: RUN_SOURCE_TAG, Value: s.sourceId }] })));
    } catch (e) {
      // Renamed or deleted since the describe: it is tagged under its new name on the next call, if it is still the run's.
      if (isNotFound(e)) continue;
      throw e;
    }
    fixed.push(id);
  }
  return fixed;
}

/**
 * Removes this run's lock tag from every resource of {@link lockIds} that still carries it with
 * this run's id (a lock another run took after a --break-lock is left alone). Returns what it
 * released.
 */
export async function releaseLock(c: Clients, s: RekeyState): Promise<string[]> {
  const released: string[] = [];
  for (const id of lockIds(s)) {
    const r = await readLock(c.rds, s.kind, id);
    if (r.exists && r.holder === s.runId) {
      await call(() => c.rds.send(new RemoveTagsFromResourceCommand({ ResourceName: r.arn!, TagKeys: [LOCK_TAG] })));
      released.push(id);
    }
  }
  return released;
}

export interface BreakLockResult {
  /** Lines saying what was found and done, for the operator. */
  readonly lines: string[];
  readonly released: string[];
  /** Resources whose lock names another run (left alone). */
  readonly heldByOther: Array<{ id: string; holder: string }>;
}

/**
 * Operator override for a stale lock: removes `db-ops-kit:rekey-lock=<runId>` from the source, from
 * run `runId`'s `-pre-rekey-`/`-rekey-` resources and from `<id>-old1` (the old blue environment a
 * blue/green run locks, {@link lockIds}), only where the tag names exactly that run.
 * Stops nothing and deletes nothing but the tag.
 */
export async function breakLock(rds: RDSClient, target: { kind: SourceKind; sourceId: string }, runId: string): Promise<BreakLockResult> {
  const ids = [target.sourceId, `${target.sourceId}-pre-rekey-${runId}`, `${target.sourceId}-rekey-${runId}`, `${target.sourceId}-old1`];
  const lines: string[] = [];
  const released: string[] = [];
  const heldByOther: Array<{ id: string; holder: string }> = [];
  for (const id of ids) {
    const r = await readLock(rds, target.kind, id);
    if (!r.exists) continue;
    if (r.holder === runId) {
      await call(() => rds.send(new RemoveTagsFromResourceCommand({ ResourceName: r.arn!, TagKeys: [LOCK_TAG] })));
      released.push(id);
      lines.push(`removed tag ${LOCK_TAG}=${runId} from ${r.arn}`);
    } else if (r.holder) {
      heldByOther.push({ id, holder: r.holder });
      lines.push(`left ${r.arn} alone: its lock names run ${r.holder} (started ${runStartedAt(r.holder)}), not ${runId}`);
    } else {
      lines.push(`${r.arn} has no run lock`);
    }
  }
  if (lines.length === 0) lines.push(`no ${target.kind === 'instance' ? 'DB instance' : 'DB cluster'} named ${ids.join(' / ')} exists`);
  return { lines, released, heldByOther };
}

/**
 * Puts the run tag (`db-ops-kit:rekey-source=<id>`) back on the source and on the re-keyed copy
 * (same Region) where this run holds the lock but the tag is gone or names something else: another
 * principal removed or overwrote it mid-run (a tag clean-up, a hand edit). The Steps role's RDS writes
 * are scoped by that tag, so without it every later write of the run (the cutover renames, lifting the
 * freeze, a rollback's renames) would be denied on every resume and redrive, leaving the source
 * frozen. The role may add it to exactly the source ARN, the run's `<id>-pre-rekey-*` original
 * (RunTagOnSource) and its `<id>-rekey-*` copy (TagOnCreate).
 * Returns the identifiers it re-tagged.
 */
export async function reassertRunTag(c: Clients, s: RekeyState): Promise<string[]> {
  // A finished rollback is over: run again it changes nothing (README), so a kept copy whose run tag
  // someone removed since (to take it out of the kit's reach) stays untagged. Not over while its last
  // step, rollbackUnfreeze, still has the freeze to lift from the original under <id> (the lock stays
  // on <id> until then, checkRollbackSource).
  if (s.rolledBack?.done && !freezePending(s)) return [];
  const sameRegion = !s.targetRegion && !s.shareWithAccount;
  // Names that carry this run's id are this run's even after its lock was released (a rollback after
  // finalize); the source name is re-tagged only under this run's lock.
  const ownNames = sameRegion ? [s.names?.newId, s.names?.preRekeyId].filter((x): x is string => !!x) : [];
  const fixed: string[] = [];
  const ours = new Set<string>();
  for (const id of [s.sourceId, ...ownNames]) {
    const r = await readLock(c.rds, s.kind, id);
    if (!r.exists) continue;
    if (r.holder !== s.runId && !(r.holder === undefined && (ownNames.includes(id) || (id === s.sourceId && (await frozenOriginalBack(c, s)))))) continue;
    ours.add(id);
    if (r.runTag === s.sourceId) continue;
    await call(() => c.rds.send(new AddTagsToResourceCommand({ ResourceName: r.arn!, Tags: [{ Key: RUN_SOURCE_TAG, Value: s.sourceId }] })));
    fixed.push(id);
  }
  // The Aurora members the renames modify (a redrive of a rename step re-runs only that step).
  fixed.push(...(await tagRunMembers(c, s, ours)));
  return fixed;
}
