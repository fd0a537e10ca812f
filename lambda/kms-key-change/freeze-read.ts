/**
 * The read-only half of the write freeze (freeze.ts has the whole story): describing the source, the
 * freeze group and the DatabaseConnections metric, the quiet check and the proof that the freeze held.
 * No AWS write is imported here: the workflow's poll function (poll-handler.ts) bundles only
 * read-only modules, so its role can be read-only (DESIGN.md, Lifecycle: a role that only polls
 * cannot write).
 */
import { GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeSecurityGroupsCommand, SecurityGroup } from '@aws-sdk/client-ec2';
import { DescribeDBClustersCommand, DescribeDBInstancesCommand, DescribeDBSubnetGroupsCommand } from '@aws-sdk/client-rds';
import { call, Clients, describeOrUndefined } from './clients';
import { RekeyError, RekeyState, SourceKind } from './state';

export const ORIGINAL_SGS_TAG = 'db-ops-kit:rekey-original-security-groups';

/** Why a run has no enforced freeze, or undefined when it has one. */
export function freezeNotApplicable(s: RekeyState): string | undefined {
  // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/blue-green-deployments-switching.html (the switchover blocks writes)
  if (s.method !== 'snapshot') return 'blue/green: RDS replicates to green until the switchover and blocks writes during it';
  if (s.targetRegion || s.shareWithAccount) return 'no cutover in a cross-Region or shared run';
  if (!s.cutoverRequested) return 'rehearsal (no --cutover): the source keeps serving';
  return undefined;
}

export function freezeGroupName(s: Pick<RekeyState, 'sourceId' | 'runId'>): string {
  return `db-ops-kit-rekey-freeze-${s.sourceId}-${s.runId}`;
}

export interface DbView {
  readonly id: string;
  readonly kind: SourceKind;
  readonly status?: string;
  readonly keyId?: string;
  readonly vpcId?: string;
  readonly groups: Array<{ id: string; status?: string }>;
  /** Member instance ids (Aurora). */
  readonly members: string[];
}

/** The DB instance/cluster `id` as it is now, or undefined when no such resource exists. */
export async function describeDb(c: Clients, kind: SourceKind, id: string): Promise<DbView | undefined> {
  if (kind === 'instance') {
    const i = (await describeOrUndefined(() => c.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))))?.DBInstances?.[0];
    if (!i) return undefined;
    return {
      id,
      kind,
      status: i.DBInstanceStatus,
      keyId: i.StorageEncrypted ? i.KmsKeyId : undefined,
      vpcId: i.DBSubnetGroup?.VpcId,
      groups: (i.VpcSecurityGroups ?? []).map((g) => ({ id: g.VpcSecurityGroupId!, status: g.Status })),
      members: [],
    };
  }
  const cl = (await describeOrUndefined(() => c.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }))))?.DBClusters?.[0];
  if (!cl) return undefined;
  let vpcId: string | undefined;
  if (cl.DBSubnetGroup) {
    vpcId = (await describeOrUndefined(() => c.rds.send(new DescribeDBSubnetGroupsCommand({ DBSubnetGroupName: cl.DBSubnetGroup }))))?.DBSubnetGroups?.[0]?.VpcId;
  }
  return {
    id,
    kind,
    status: cl.Status,
    keyId: cl.StorageEncrypted ? cl.KmsKeyId : undefined,
    vpcId,
    groups: (cl.VpcSecurityGroups ?? []).map((g) => ({ id: g.VpcSecurityGroupId!, status: g.Status })),
    members: (cl.DBClusterMembers ?? []).map((m) => m.DBInstanceIdentifier!).filter(Boolean),
  };
}

export async function findFreezeGroup(c: Clients, s: RekeyState, vpcId: string): Promise<SecurityGroup | undefined> {
  const r = await call(() => c.ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }, { Name: 'group-name', Values: [freezeGroupName(s)] }] })));
  return r.SecurityGroups?.[0];
}

export async function groupById(c: Clients, id: string): Promise<SecurityGroup | undefined> {
  try {
    return (await call(() => c.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] })))).SecurityGroups?.[0];
  } catch (e) {
    if (/NotFound/.test((e as Error).name ?? '') || /NotFound/.test((e as Error).message ?? '')) return undefined;
    throw e;
  }
}

export const sameSet = (a: string[], b: string[]) => a.length === b.length && [...a].sort().join(',') === [...b].sort().join(',');

export interface ConnectionPoint {
  readonly id: string;
  readonly at: string;
  readonly max: number;
}

/**
 * `DatabaseConnections` (AWS/RDS, Maximum per minute) of the given instances/clusters since
 * `since`. RDS publishes it every minute
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html).
 */
export async function connectionsSince(c: Clients, targets: Array<{ dimension: 'DBInstanceIdentifier' | 'DBClusterIdentifier'; id: string }>, since: Date): Promise<ConnectionPoint[]> {
  const start = new Date(Math.floor(since.getTime() / 60_000) * 60_000);
  const end = new Date(Date.now() + 60_000);
  const out: ConnectionPoint[] = [];
  for (const t of targets) {
    const r = await call(() =>
      c.cw.send(
        new GetMetricStatisticsCommand({
          Namespace: 'AWS/RDS',
          MetricName: 'DatabaseConnections',
          Dimensions: [{ Name: t.dimension, Value: t.id }],
          StartTime: start,
          EndTime: end,
          Period: 60,
          Statistics: ['Maximum'],
        }),
      ),
    );
    for (const d of r.Datapoints ?? []) if (d.Timestamp && d.Maximum !== undefined) out.push({ id: t.id, at: new Date(d.Timestamp).toISOString(), max: d.Maximum });
  }
  return out.sort((a, b) => a.at.localeCompare(b.at));
}

/** What to read DatabaseConnections of: each instance (Aurora: each member, by the names given). */
function metricTargets(kind: SourceKind, id: string, memberIds: string[]): Array<{ dimension: 'DBInstanceIdentifier' | 'DBClusterIdentifier'; id: string }> {
  if (kind === 'instance') return [{ dimension: 'DBInstanceIdentifier', id }];
  return memberIds.map((m) => ({ dimension: 'DBInstanceIdentifier' as const, id: m }));
}

function sourceMembers(s: RekeyState): string[] {
  return s.source?.kind === 'cluster' ? s.source.cluster.members.map((m) => m.id) : [];
}

/** Waits for the freeze to be active and the source quiet. Returns [done, message]. */
export async function checkFreezeState(c: Clients, s: RekeyState, step: string): Promise<[boolean, string]> {
  const f = s.freeze;
  if (!f?.groupId) throw new RekeyError(step, s.sourceId, 'no freeze recorded in the state document', 'resume the run: freezeSource applies it');
  const db = await describeDb(c, s.kind, s.sourceId);
  if (!db) throw new RekeyError(step, s.sourceId, `no DB ${s.kind} of this name exists`, 'check the console');
  const groups = db.groups.map((g) => `${g.id} ${g.status ?? ''}`.trim()).join(', ') || '(none)';
  if (!(db.groups.length === 1 && db.groups[0].id === f.groupId && (db.groups[0].status ?? 'active') === 'active')) {
    return [false, `waiting for ${s.sourceId} to have only the freeze group ${f.groupId} active (now: ${groups})`];
  }
  const limit = s.maxConnections ?? 0;
  const points = await connectionsSince(c, metricTargets(s.kind, s.sourceId, sourceMembers(s)), new Date(f.appliedAt ?? Date.now()));
  if (points.length === 0) return [false, `clients of ${s.sourceId} are blocked; waiting for a DatabaseConnections datapoint since ${f.appliedAt} to prove it is quiet`];
  const latest = new Map<string, ConnectionPoint>();
  for (const p of points) latest.set(p.id, p);
  const busy = [...latest.values()].filter((p) => p.max > limit);
  if (busy.length > 0) {
    return [false, `clients of ${s.sourceId} are blocked, but connections opened before the freeze are still open (${busy.map((p) => `${p.id}: ${p.max} at ${p.at}`).join(', ')}; limit ${limit}); close them (stop the application or its pooler)`];
  }
  f.quietAt = new Date().toISOString();
  return [true, `${s.sourceId} is frozen and quiet (DatabaseConnections ${[...latest.values()].map((p) => `${p.id}=${p.max}`).join(', ')} at most ${limit}); the final snapshot is next`];
}

/**
 * Proof that the freeze held since the final snapshot, required before each cutover rename: the
 * original (under whatever name it has now) still has only the freeze group, the group still has
 * no inbound rule, and no DatabaseConnections datapoint since the snapshot exceeds the limit.
 * Throws `FreezeNotHeld` (nothing renamed by this step) otherwise.
 */
export async function assertFreezeHeld(c: Clients, s: RekeyState, step: string, stateFile = '<state file>'): Promise<string> {
  if (s.freezeOptOut) return `no enforced freeze (operator opted out: ${s.freezeOptOut})`;
  const refuse = (msg: string) => {
    throw new RekeyError(
      step,
      s.sourceId,
      `${msg}; writes made since the final snapshot of ${s.snapshotStartedAt ?? '(unknown)'} would be missing from the database clients are switched to, so this step changed nothing`,
      `retake the final snapshot: roll this run back (npm run kms-change -- --resume ${stateFile} --rollback: puts the original security groups back, releases the lock, keeps every copy), then start a new run with --cutover (a new freeze, a fresh final snapshot)`,
      'FreezeNotHeld',
    );
  };
  const f = s.freeze;
  if (!f?.groupId || !f.quietAt) return refuse('no enforced freeze was in place when the final snapshot was taken (a rehearsal copy, or the freeze never passed its quiet check)');
  if (!s.snapshotStartedAt || s.snapshotStartedAt < f.quietAt) return refuse(`the final snapshot (${s.snapshotStartedAt}) was requested before the freeze was proven quiet (${f.quietAt})`);
  const pre = s.names?.preRekeyId ?? `${s.sourceId}-pre-rekey-${s.runId}`;
  const renamed = await describeDb(c, s.kind, pre);
  const db = renamed ?? (await describeDb(c, s.kind, s.sourceId));
  if (!db) return refuse(`neither ${s.sourceId} nor ${pre} exists`);
  const ids = db.groups.map((g) => g.id);
  if (!(ids.length === 1 && ids[0] === f.groupId)) return refuse(`the security groups of ${db.id} are now ${ids.join(', ') || '(none)'}, not only the freeze group ${f.groupId}: clients could reach it after the final snapshot`);
  const g = await groupById(c, f.groupId);
  if (!g) return refuse(`the freeze group ${f.groupId} no longer exists`);
  if ((g.IpPermissions ?? []).length > 0) return refuse(`the freeze group ${f.groupId} now has ${(g.IpPermissions ?? []).length} inbound rule(s): clients could reach ${db.id}`);
  const members = sourceMembers(s);
  const names = s.kind === 'instance' ? [s.sourceId, pre] : [...members, ...members.map((m) => `${m}-pre-rekey-${s.runId}`)];
  const targets = names.flatMap((n) => metricTargets('instance', n, []));
  const points = await connectionsSince(c, targets, new Date(s.snapshotStartedAt));
  const busy = points.filter((p) => p.max > (s.maxConnections ?? 0));
  if (busy.length > 0) return refuse(`DatabaseConnections shows clients after the final snapshot (${busy.slice(0, 5).map((p) => `${p.id}: ${p.max} at ${p.at}`).join(', ')})`);
  return `freeze held since the final snapshot: ${db.id} has only ${f.groupId} (no inbound rules), no client connection since ${s.snapshotStartedAt}`;
}

