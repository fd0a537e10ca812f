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
import { CreateSecurityGroupCommand, DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import { ModifyDBClusterCommand, ModifyDBInstanceCommand } from '@aws-sdk/client-rds';
import { call, Clients } from './clients';
import { describeDb, findFreezeGroup, freezeGroupName, groupById, ORIGINAL_SGS_TAG, sameSet } from './freeze-read';
import { RekeyError, RekeyState, SourceKind } from './state';

export * from './freeze-read';

async function setGroups(c: Clients, kind: SourceKind, id: string, groups: string[]): Promise<void> {
  if (kind === 'instance') await call(() => c.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: id, VpcSecurityGroupIds: groups, ApplyImmediately: true })));
  else await call(() => c.rds.send(new ModifyDBClusterCommand({ DBClusterIdentifier: id, VpcSecurityGroupIds: groups, ApplyImmediately: true })));
}

/**
 * A group the kit created to freeze a source (its role tag or its name, freezeGroupName) that still blocks clients (no
 * inbound rules). A group with inbound rules admits clients whatever its name (a hand-made group named like the kit's, or
 * a freeze group someone opened): it is an ordinary original, and putting it back on rollback gives clients access.
 */
function isKitFreezeGroup(g: { GroupName?: string; Tags?: { Key?: string; Value?: string }[]; IpPermissions?: unknown[] }): boolean {
  if ((g.IpPermissions ?? []).length > 0) return false;
  return (g.GroupName ?? '').startsWith('db-ops-kit-rekey-freeze-') || (g.Tags ?? []).some((t) => t.Key === 'db-ops-kit:rekey-role');
}

/**
 * The source's only group is a kit freeze group (no inbound rules) whose tag naming the groups it replaced is gone, and
 * the state that recorded them is lost: recording the freeze group as the "original" would make a rollback put the
 * freeze back. Nothing is changed; the operator restores the groups or the tag.
 */
function originalsUnknown(step: string, s: RekeyState, what: string, groupId: string): RekeyError {
  const modify =
    s.kind === 'instance'
      ? `aws rds modify-db-instance --db-instance-identifier ${s.sourceId} --vpc-security-group-ids <your groups> --apply-immediately`
      : `aws rds modify-db-cluster --db-cluster-identifier ${s.sourceId} --vpc-security-group-ids <your groups> --apply-immediately`;
  return new RekeyError(
    step,
    s.sourceId,
    `the only security group of ${s.sourceId} is ${what}, which has no inbound rules, and its tag ${ORIGINAL_SGS_TAG}, which records the groups it replaced, is gone; the kit cannot tell which groups to put back, so it changed nothing (clients are still blocked)`,
    `put the source's own security groups back (${modify}) and run again, or put the tag back on the group (aws ec2 create-tags --resources ${groupId} --tags 'Key=${ORIGINAL_SGS_TAG},Value=<sg-a sg-b>') and run again`,
    'FreezeOriginalsUnknown',
  );
}

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
    if (current.length === 1 && group && group.GroupId === current[0] && fromTag === undefined && isKitFreezeGroup(group)) {
      throw originalsUnknown(step, s, `this run's freeze group ${group.GroupId}`, group.GroupId!);
    }
    if (current.length === 1 && !(group && group.GroupId === current[0])) {
      const other = await groupById(c, current[0]);
      const theirs = other?.Tags?.find((t) => t.Key === ORIGINAL_SGS_TAG)?.Value;
      if (theirs === undefined && other && isKitFreezeGroup(other)) {
        throw originalsUnknown(step, s, `the kit's freeze group ${other.GroupId} (${other.GroupName}) of an earlier run`, other.GroupId!);
      }
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

/**
 * The freeze of this run as AWS shows it, for a state document that has none (the run crashed
 * after the security groups were swapped, before the state was saved): the run's freeze group (by
 * name in the source's VPC) when it is the only group of `id`, with the originals from its tag.
 * Undefined when the run never froze `id`.
 */
export async function recoverFreeze(c: Clients, s: RekeyState, id: string, step = 'rollbackUnfreeze'): Promise<RekeyState['freeze']> {
  const db = await describeDb(c, s.kind, id);
  const vpcId = db?.vpcId ?? (db?.groups.length ? (await groupById(c, db.groups[0].id))?.VpcId : undefined);
  if (!db || !vpcId) return undefined;
  const group = await findFreezeGroup(c, s, vpcId);
  const fromTag = group?.Tags?.find((t) => t.Key === ORIGINAL_SGS_TAG)?.Value;
  // The run froze `id` (its no-ingress group is the only one) but the tag naming the originals is gone: "no freeze to
  // lift" would end the rollback with the source still frozen. Refuse, as applyFreeze does, with the commands.
  if (group?.GroupId && fromTag === undefined && sameSet(db.groups.map((g) => g.id), [group.GroupId]) && isKitFreezeGroup(group)) {
    throw originalsUnknown(step, { ...s, sourceId: id }, `this run's freeze group ${group.GroupId}`, group.GroupId);
  }
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
  let groups = f.originalSecurityGroupIds;
  if (groups.length === 0) {
    // The source had no security group before the freeze (some API views report none for a database
    // created without VpcSecurityGroupIds). RDS gives such a database the VPC's default group ("Default:
    // The default EC2 VPC security group for the DB subnet group's VPC",
    // https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html), and a
    // modify needs at least one group: put that one back instead of leaving the database frozen.
    const vpcId = f.vpcId ?? db.vpcId;
    const def = vpcId
      ? (await call(() => c.ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }, { Name: 'group-name', Values: ['default'] }] })))).SecurityGroups?.[0]?.GroupId
      : undefined;
    if (!def) {
      throw new RekeyError(step, id, `the original security group list is empty and the default security group of VPC ${vpcId ?? '(unknown)'} was not found; ${id} is still frozen (only ${f.groupId})`, `choose the groups yourself: aws rds modify-db-${s.kind === 'instance' ? 'instance' : 'cluster'} --db-${s.kind === 'instance' ? 'instance' : 'cluster'}-identifier ${id} --vpc-security-group-ids <group> --apply-immediately`);
    }
    groups = [def];
    const w = `${id} had no security group before the freeze; put back the VPC's default security group ${def} (what RDS assigns a database created without groups); check that it admits your clients`;
    if (!s.warnings.includes(w)) s.warnings.push(w);
  }
  await setGroups(c, s.kind, id, groups);
  f.released = { at: new Date().toISOString(), on: id };
  return `${id}: original security groups ${groups.join(', ')} put back (the empty freeze group ${f.groupId} is kept; delete it with aws ec2 delete-security-group --group-id ${f.groupId} once nothing uses it)`;
}

/** A write freeze was applied and its original security groups are not back yet. */
export function freezePending(s: Pick<RekeyState, 'freeze'>): boolean {
  return !!s.freeze?.groupId && !s.freeze.released;
}
