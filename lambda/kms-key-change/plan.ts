/**
 * plan (dry run): from a preflighted state, every API call the run will make, every setting it
 * re-applies, which steps need writes stopped, and a downtime estimate per method.
 */
import { RekeyState, restoreRegion } from './state';

export interface DowntimeEstimate {
  readonly method: 'snapshot' | 'blue-green';
  readonly minutes: number | null;
  readonly basis: string;
}

export interface Plan {
  readonly calls: string[];
  readonly reapplied: string[];
  readonly writesStopped: string[];
  readonly downtime: DowntimeEstimate[];
  readonly warnings: string[];
}

/**
 * Planning assumptions (minutes, GiB). Copy and restore time grow with the data; these are
 * conservative round numbers for gp2/gp3 storage in one Region, not measurements.
 */
export const ESTIMATE = {
  /** Re-encrypting snapshot copy throughput, GiB per minute (same Region). */
  copyGiBPerMin: 1.5,
  /** Cross-Region copies are slower: factor applied to the copy time. */
  crossRegionFactor: 2,
  /** First (full) instance snapshot, GiB per minute. */
  snapshotGiBPerMin: 3,
  /** Instance restore: fixed part, plus lazy loading (not counted: the instance is usable). */
  restoreMin: 15,
  /** Aurora cluster snapshot/restore do not scale with volume size the same way. */
  auroraSnapshotMin: 5,
  auroraRestoreMin: 20,
  auroraInstanceMin: 12,
  /** One rename: RDS documents that the new DNS name becomes effective in about 10 minutes and the instance is unavailable until then. */
  renameMin: 10,
  /** Blue/green switchover, documented as typically under a minute; padded. */
  switchoverMin: 1,
};

const round = (x: number) => Math.ceil(x);

export function estimateDowntime(s: RekeyState): DowntimeEstimate[] {
  const src = s.source;
  const out: DowntimeEstimate[] = [];
  if (src?.kind === 'instance') {
    const gib = src.instance.allocatedStorage ?? 0;
    const copy = (gib / ESTIMATE.copyGiBPerMin) * (s.targetRegion ? ESTIMATE.crossRegionFactor : 1);
    const snap = gib / ESTIMATE.snapshotGiBPerMin;
    const total = snap + copy + ESTIMATE.restoreMin + 2 * ESTIMATE.renameMin;
    out.push({
      method: 'snapshot',
      minutes: round(total),
      basis: `${gib} GiB: snapshot ~${round(snap)} min + copy ~${round(copy)} min + restore ~${ESTIMATE.restoreMin} min + 2 renames ~${2 * ESTIMATE.renameMin} min (writes stopped from snapshot to cutover)`,
    });
  } else if (src?.kind === 'cluster') {
    const members = src.cluster.members.length;
    const total = ESTIMATE.auroraSnapshotMin + (s.targetRegion || s.shareWithAccount ? 20 : 0) + ESTIMATE.auroraRestoreMin + ESTIMATE.auroraInstanceMin * (members > 1 ? 2 : 1) + 2 * ESTIMATE.renameMin;
    out.push({
      method: 'snapshot',
      minutes: round(total),
      basis: `Aurora, ${members} instance(s): snapshot ~${ESTIMATE.auroraSnapshotMin} min + restore ~${ESTIMATE.auroraRestoreMin} min + writer then readers ~${ESTIMATE.auroraInstanceMin * (members > 1 ? 2 : 1)} min + 2 renames (writes stopped from snapshot to cutover)`,
    });
  }
  out.push({ method: 'blue-green', minutes: ESTIMATE.switchoverMin, basis: 'switchover only; green is built from a live replica while the source keeps serving' });
  return out;
}

export function buildPlan(s: RekeyState): Plan {
  const n = s.names;
  const region = restoreRegion(s);
  const calls: string[] = [];
  const reapplied: string[] = [];
  const writesStopped: string[] = [];
  const src = s.source;
  if (!src || !n) throw new Error('plan needs a state that passed preflight');
  if (s.method === 'blue-green') {
    calls.push(`rds:CreateBlueGreenDeployment Source=${src.kind === 'instance' ? src.instance.arn : src.cluster.arn} TargetResourceConfigurations[].TargetKmsKeyId=${s.targetKeyArn}`);
    calls.push('rds:DescribeBlueGreenDeployments (poll until AVAILABLE)');
    calls.push('verify: DescribeDBInstances/DescribeDBClusters of the green target, parity report');
    calls.push('cutover (only when asked): rds:SwitchoverBlueGreenDeployment, poll until SWITCHOVER_COMPLETED');
    reapplied.push('none: RDS copies the whole configuration into the green environment');
    writesStopped.push('switchover only (RDS blocks writes while it switches, typically under a minute)');
    return { calls, reapplied, writesStopped, downtime: estimateDowntime(s), warnings: s.warnings };
  }
  const k = s.kind === 'instance' ? 'DB' : 'DBCluster';
  calls.push(`rds:Create${k}Snapshot ${n.sourceSnapshot} (source key) in ${s.region}`);
  if (n.copySnapshot) calls.push(`rds:Copy${k}Snapshot ${n.sourceSnapshot} → ${n.copySnapshot} KmsKeyId=${s.targetKeyArn} in ${region}${s.targetRegion ? ` (SourceRegion=${s.region})` : ''}`);
  if (s.shareWithAccount) {
    calls.push(`rds:Modify${k}SnapshotAttribute ${n.copySnapshot} restore += ${s.shareWithAccount} (the run ends; that account copies it with its own key)`);
  } else if (src.kind === 'instance') {
    calls.push(`rds:RestoreDBInstanceFromDBSnapshot ${n.newId} from ${n.copySnapshot}`);
    calls.push(`rds:ModifyDBInstance ${n.newId} (settings a restore cannot take)`);
    for (const r of src.instance.associatedRoles) calls.push(`rds:AddRoleToDBInstance ${r.roleArn} ${r.featureName ?? ''}`.trim());
  } else {
    calls.push(`rds:RestoreDBClusterFromSnapshot ${n.newId} from ${n.copySnapshot ?? n.sourceSnapshot} KmsKeyId=${s.targetKeyArn}`);
    for (const m of src.cluster.members) calls.push(`rds:CreateDBInstance ${n.memberIds?.[m.id]} (${m.isClusterWriter ? 'writer' : 'reader'}, ${m.instanceClass}, tier ${m.promotionTier ?? 1})`);
    calls.push(`rds:ModifyDBCluster ${n.newId} (maintenance window)`);
    for (const r of src.cluster.associatedRoles) calls.push(`rds:AddRoleToDBCluster ${r.roleArn} ${r.featureName ?? ''}`.trim());
  }
  if (!s.shareWithAccount) {
    calls.push('verify: describe the new resource, check the key, print the parity report');
    if (!s.targetRegion) {
      const pre = n.preRekeyId ?? `${s.sourceId}-pre-rekey-${s.runId}`;
      calls.push(`cutover (only when asked): rds:Modify${s.kind === 'instance' ? 'DBInstance' : 'DBCluster'} ${s.sourceId} → ${pre}, then ${n.newId} → ${s.sourceId}${s.kind === 'cluster' ? ' (and each member likewise)' : ''}`);
      calls.push(`rollback (only when asked): ${s.sourceId} → ${n.newId}, then ${pre} → ${s.sourceId}`);
    }
    calls.push('finalize: rds:AddTagsToResource on every resource of the run (nothing is deleted)');
  }
  // Not first in the list: preflight sets it before the calls above (and a dry run does not).
  calls.push(`run lock: tag ${s.sourceId} db-ops-kit:rekey-lock=${s.runId} when the run starts (rds:AddTagsToResource), removed at finalize / rollback (rds:RemoveTagsFromResource)`);
  const set = src.kind === 'instance' ? src.instance : src.cluster;
  const add = (label: string, v: unknown) => {
    if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) return;
    reapplied.push(`${label}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  };
  add('security groups', s.targetRegion ? s.targetSecurityGroupIds : set.securityGroupIds);
  add('subnet group', set.subnetGroup);
  add('parameter group', set.parameterGroup);
  if (src.kind === 'instance') {
    const i = src.instance;
    add('option group', i.optionGroup);
    add('instance class', i.instanceClass);
    add('storage', `${i.storageType ?? ''} ${i.allocatedStorage ?? ''} GiB${i.iops ? ` ${i.iops} IOPS` : ''}${i.maxAllocatedStorage ? `, autoscaling to ${i.maxAllocatedStorage}` : ''}`);
    add('Multi-AZ', i.multiAZ);
    add('Performance Insights', i.performanceInsights || i.performanceInsightsKmsKeyId ? `on, ${i.performanceInsightsRetention ?? 7} days, key → target key` : undefined);
    add('enhanced monitoring', i.monitoringInterval ? `${i.monitoringInterval}s via ${i.monitoringRoleArn}` : undefined);
    add('CA certificate', i.caCertificate);
    add('Kerberos domain', i.domain?.domain ?? i.domain?.fqdn);
  } else {
    const cl = src.cluster;
    add('backtrack window', cl.backtrackWindow);
    add('Serverless v2 capacity', cl.serverlessV2);
    add('Kerberos domain', cl.domain?.domain);
    for (const m of cl.members) {
      add(`member ${m.id}`, `${m.instanceClass}, tier ${m.promotionTier ?? 1}, PI ${m.performanceInsights || m.performanceInsightsKmsKeyId ? 'on (target key)' : 'off'}, monitoring ${m.monitoringInterval ?? 0}s`);
    }
  }
  add('log exports', set.logExports);
  add('IAM database authentication', set.iamAuth);
  add('IAM roles', set.associatedRoles.map((r) => `${r.roleArn}${r.featureName ? ` (${r.featureName})` : ''}`));
  add('deletion protection', set.deletionProtection);
  add('backups', `${set.backupRetentionPeriod ?? '?'} days, window ${set.backupWindow ?? 'default'}`);
  add('maintenance window', set.maintenanceWindow);
  add('copy tags to snapshots', set.copyTagsToSnapshot);
  add('tags', set.tags.map((t) => `${t.Key}=${t.Value}`));
  writesStopped.push(`from before ${n.sourceSnapshot} until cutover completes: the snapshot is the data the new ${s.kind} gets; writes after it stay only in the original. Stop writes before a cutover run starts (CLI --cutover; workflow: the writes-stopped gate before the snapshot). A rehearsal copy is refused at cutover unless you confirm no writes since its snapshot`);
  writesStopped.push(`during cutover: ${s.sourceId} is unreachable from the first rename until the second settles (about ${2 * ESTIMATE.renameMin} minutes: RDS makes a renamed endpoint's DNS name effective in about ${ESTIMATE.renameMin})`);
  return { calls, reapplied, writesStopped, downtime: estimateDowntime(s), warnings: s.warnings };
}

export function formatPlan(p: Plan): string {
  const lines = ['API calls, in order:', ...p.calls.map((c, i) => `  ${i + 1}. ${c}`), 'Settings re-applied to the new resource:', ...p.reapplied.map((r) => `  - ${r}`)];
  lines.push('Writes stopped:', ...p.writesStopped.map((w) => `  - ${w}`));
  lines.push('Estimated downtime:', ...p.downtime.map((d) => `  - ${d.method}: ${d.minutes === null ? 'unknown' : `~${d.minutes} min`} (${d.basis})`));
  if (p.warnings.length) lines.push('Warnings:', ...p.warnings.map((w) => `  - ${w}`));
  return lines.join('\n');
}
