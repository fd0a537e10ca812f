/**
 * The enforced write freeze of a snapshot-method cutover.
 *
 * The snapshot method is only safe when nothing writes to the source between the final snapshot
 * and the cutover renames: every such write would stay behind in `<id>-pre-rekey-<run>`. A prompt
 * ("stop writes") is not enough, so the kit enforces and proves it:
 *
 * 1. `freezeSource` creates a security group in the source's VPC with no inbound rules (tagged
 *    with the run and with the source's original groups) and makes it the source's only VPC
 *    security group (ModifyDBInstance / ModifyDBCluster `VpcSecurityGroupIds`). The original group
 *    ids are recorded in the state document and on the freeze group's tag, so a crash between the
 *    swap and the state save still knows them.
 * 2. `checkFreeze` waits until RDS reports the freeze group alone and `active`, and until the
 *    CloudWatch `DatabaseConnections` metric of the source (and of each Aurora member) is at most
 *    `maxConnections` (default 0). Security groups are stateful: connections opened before the
 *    swap stay open ("Security group connection tracking", EC2 user guide:
 *    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-connection-tracking.html),
 *    so blocking new ones is not enough; the metric proves the old ones are gone too.
 * 3. Before each cutover rename, {@link assertFreezeHeld} proves the freeze held since the final
 *    snapshot: the source still has exactly the freeze group, the freeze group still has no inbound
 *    rule, and no `DatabaseConnections` datapoint since the snapshot exceeds the limit. Otherwise the
 *    cutover is refused (nothing renamed) and the operator is told how to retake the final snapshot.
 * 4. The original stays frozen after cutover (under `<id>-pre-rekey-<run>`), so nothing can write
 *    to it by a cached endpoint or an old connection string, until the operator releases it
 *    (`kms-change --resume <file> --release-original`). Rollback and abort put the original groups
 *    back on the source ({@link unfreeze}).
 *
 * Nothing here deletes anything; the empty freeze group is kept and reported.
 */
import { GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { CreateSecurityGroupCommand, DescribeSecurityGroupsCommand, SecurityGroup } from '@aws-sdk/client-ec2';
import { DescribeDBClustersCommand, DescribeDBInstancesCommand, DescribeDBSubnetGroupsCommand, ModifyDBClusterCommand, ModifyDBInstanceCommand } from '@aws-sdk/client-rds';
import { call, Clients, describeOrUndefined } from './clients';
import { RekeyError, RekeyState, SourceKind } from './state';

export const ORIGINAL_SGS_TAG = 'db-ops-kit:rekey-original-security-groups';

/** Why a run has no enforced freeze, or undefined when it has one. */
export function freezeNotApplicable(s: RekeyState): string | undefined {
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

async function setGroups(c: Clients, kind: SourceKind, id: string, groups: string[]): Promise<void> {
  if (kind === 'instance') await call(() => c.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: id, VpcSecurityGroupIds: groups, ApplyImmediately: true })));
  else await call(() => c.rds.send(new ModifyDBClusterCommand({ DBClusterIdentifier: id, VpcSecurityGroupIds: groups, ApplyImmediately: true })));
}

async function findFreezeGroup(c: Clients, s: RekeyState, vpcId: string): Promise<SecurityGroup | undefined> {
  const r = await call(() => c.ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }, { Name: 'group-name', Values: [freezeGroupName(s)] }] })));
  return r.SecurityGroups?.[0];
}

async function groupById(c: Clients, id: string): Promise<SecurityGroup | undefined> {
  try {
    return (await call(() => c.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] })))).SecurityGroups?.[0];
  } catch (e) {
    if (/NotFound/.test((e as Error).name ?? '') || /NotFound/.test((e as Error).message ?? '')) return undefined;
    throw e;
  }
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && [...a].sort().join(',') === [...b].sort().join(',');

/**
 * Blocks client access to the source: the kit's no-ingress group becomes its only security group.
 * Idempotent: finds the group it created before (by name in the VPC) and the originals from that
 * group's tag when the state was lost in a crash.
 */
export async function applyFreeze(c: Clients, s: RekeyState, step: string): Promise<string> {
  const described = await describeDb(c, s.kind, s.sourceId);
  if (!described) throw new RekeyError(step, s.sourceId, `no DB ${s.kind} of this name exists in ${s.region}`, 'check the identifier; nothing was changed');
  let db = described;
  if (!db.vpcId && db.groups.length > 0) {
    // No DB subnet group in the description (the default VPC as some API views show it): a VPC
    // security group belongs to exactly one VPC, and RDS requires the DB's groups to be in its VPC
    // (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_VPC.WorkingWithRDSInstanceinaVPC.html).
    const vpcId = (await groupById(c, db.groups[0].id))?.VpcId;
    if (vpcId) db = { ...db, vpcId };
  }
  if (!db.vpcId) {
    throw new RekeyError(
      step,
      s.sourceId,
      'the source has no VPC (no DB subnet group), so the kit cannot block client access with a security group',
      'block clients yourself, then run again with --no-freeze (you give up the kit\'s proof that no write reached the source after the final snapshot)',
      'FreezeUnavailable',
    );
  }
  let group = await findFreezeGroup(c, s, db.vpcId);
  if (!s.freeze) {
    const fromTag = group?.Tags?.find((t) => t.Key === ORIGINAL_SGS_TAG)?.Value;
    let current = db.groups.map((g) => g.id);
    // A run that died frozen (its lock broken, its state lost) left its own freeze group as the only
    // group: the groups to restore are the ones that group recorded, not the group itself.
    if (current.length === 1 && !(group && group.GroupId === current[0])) {
      const other = await groupById(c, current[0]);
      const theirs = other?.Tags?.find((t) => t.Key === ORIGINAL_SGS_TAG)?.Value;
      if (theirs !== undefined) {
        current = theirs.split(' ').filter(Boolean);
        s.warnings.push(`${s.sourceId} was still frozen by the kit's group ${other!.GroupId} (${other!.GroupName}) of an earlier run; recorded the groups that run replaced (${current.join(', ') || '(none)'}) as the originals`);
      }
    }
    s.freeze = { vpcId: db.vpcId, originalSecurityGroupIds: fromTag !== undefined && group && sameSet(db.groups.map((g) => g.id), [group.GroupId!]) ? fromTag.split(' ').filter(Boolean) : current };
  }
  const originals = s.freeze.originalSecurityGroupIds;
  if (!group) {
    const r = await call(() =>
      c.ec2.send(
        new CreateSecurityGroupCommand({
          GroupName: freezeGroupName(s),
          Description: `db-ops-kit KMS key change run ${s.runId}: blocks clients of ${s.sourceId} (no inbound rules)`,
          VpcId: db.vpcId,
          TagSpecifications: [
            {
              ResourceType: 'security-group',
              Tags: [
                { Key: 'db-ops-kit:rekey-run', Value: s.runId },
                { Key: 'db-ops-kit:rekey-source', Value: s.sourceId },
                { Key: 'db-ops-kit:rekey-role', Value: 'write freeze (no inbound rules)' },
                { Key: ORIGINAL_SGS_TAG, Value: originals.join(' ') },
              ],
            },
          ],
        }),
      ),
    );
    group = { GroupId: r.GroupId };
  }
  const f = s.freeze;
  f.groupId = group.GroupId!;
  if (!sameSet(db.groups.map((g) => g.id), [f.groupId])) {
    await setGroups(c, s.kind, s.sourceId, [f.groupId]);
    f.appliedAt = new Date().toISOString();
  }
  f.appliedAt ??= new Date().toISOString();
  return `blocked clients of ${s.sourceId}: its security groups ${f.originalSecurityGroupIds.join(', ') || '(none)'} replaced by ${f.groupId} (no inbound rules); the originals are put back by --rollback or --release-original`;
}

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

/**
 * The freeze of this run as AWS shows it, for a state document that has none (the run crashed
 * after the security groups were swapped, before the state was saved): the run's freeze group (by
 * name in the source's VPC) when it is the only group of `id`, with the originals from its tag.
 * Undefined when the run never froze `id`.
 */
export async function recoverFreeze(c: Clients, s: RekeyState, id: string): Promise<RekeyState['freeze']> {
  const db = await describeDb(c, s.kind, id);
  const vpcId = db?.vpcId ?? (db?.groups.length ? (await groupById(c, db.groups[0].id))?.VpcId : undefined);
  if (!db || !vpcId) return undefined;
  const group = await findFreezeGroup(c, s, vpcId);
  const fromTag = group?.Tags?.find((t) => t.Key === ORIGINAL_SGS_TAG)?.Value;
  if (!group?.GroupId || fromTag === undefined || !sameSet(db.groups.map((g) => g.id), [group.GroupId])) return undefined;
  return { vpcId, groupId: group.GroupId, originalSecurityGroupIds: fromTag.split(' ').filter(Boolean) };
}

/**
 * Puts the original security groups back on `id` (the source after a rollback or abort, or the
 * renamed original when the operator releases it). Only when it still has exactly the freeze
 * group; groups someone changed by hand are left alone and reported.
 */
export async function unfreeze(c: Clients, s: RekeyState, id: string, step: string): Promise<string> {
  const f = s.freeze;
  if (!f?.groupId) return `${id}: no freeze to lift`;
  if (f.released) return `${f.released.on}: original security groups already put back at ${f.released.at}`;
  const db = await describeDb(c, s.kind, id);
  if (!db) throw new RekeyError(step, id, `no DB ${s.kind} of this name exists`, 'check which name the original has now (the summary lists it)');
  const ids = db.groups.map((g) => g.id);
  if (!(ids.length === 1 && ids[0] === f.groupId)) {
    f.released = { at: new Date().toISOString(), on: id };
    return `${id} no longer has the freeze group (its groups are ${ids.join(', ') || '(none)'}); left as it is`;
  }
  if (f.originalSecurityGroupIds.length === 0) throw new RekeyError(step, id, 'the original security group list is empty; RDS needs at least one group', `choose the groups yourself: aws rds modify-db-${s.kind === 'instance' ? 'instance' : 'cluster'} --vpc-security-group-ids ...`);
  await setGroups(c, s.kind, id, f.originalSecurityGroupIds);
  f.released = { at: new Date().toISOString(), on: id };
  return `${id}: original security groups ${f.originalSecurityGroupIds.join(', ')} put back (the empty freeze group ${f.groupId} is kept; delete it with aws ec2 delete-security-group --group-id ${f.groupId} once nothing uses it)`;
}
