/**
 * What a restore does not carry over by itself: the settings of the source DB instance or cluster
 * that are captured before the snapshot and applied to the new resource, and the parity report
 * that compares both afterwards.
 */
import type { DBCluster, DBInstance, Tag } from '@aws-sdk/client-rds';
import type { ParityLine } from './state';

export interface CapturedInstance {
  id: string;
  arn: string;
  engine: string;
  engineVersion?: string;
  instanceClass?: string;
  allocatedStorage?: number;
  maxAllocatedStorage?: number;
  storageType?: string;
  iops?: number;
  storageThroughput?: number;
  multiAZ?: boolean;
  availabilityZone?: string;
  subnetGroup?: string;
  publiclyAccessible?: boolean;
  autoMinorVersionUpgrade?: boolean;
  port?: number;
  securityGroupIds: string[];
  parameterGroup?: string;
  optionGroup?: string;
  copyTagsToSnapshot?: boolean;
  iamAuth?: boolean;
  logExports: string[];
  deletionProtection?: boolean;
  backupRetentionPeriod?: number;
  backupWindow?: string;
  maintenanceWindow?: string;
  performanceInsights?: boolean;
  performanceInsightsKmsKeyId?: string;
  performanceInsightsRetention?: number;
  monitoringInterval?: number;
  monitoringRoleArn?: string;
  associatedRoles: Array<{ roleArn: string; featureName?: string }>;
  domain?: { domain?: string; iamRoleName?: string; fqdn?: string; ou?: string; authSecretArn?: string; dnsIps?: string[] };
  caCertificate?: string;
  networkType?: string;
  promotionTier?: number;
  clusterId?: string;
  isClusterWriter?: boolean;
  tags: Tag[];
  kmsKeyId?: string;
  encrypted?: boolean;
  status?: string;
  readReplicaSource?: string;
  readReplicas: string[];
  managedMasterSecret?: boolean;
  /** RDS Extended Support enrolment; a restore defaults to enrolled (charged past end of standard support). */
  engineLifecycleSupport?: string;
  dedicatedLogVolume?: boolean;
  licenseModel?: string;
  processorFeatures: Array<{ name?: string; value?: string }>;
  /** Database activity streams: a restore starts without one (re-enable it, then resume: verify runs again). */
  activityStream?: string;
  /** Regions the automated backups are replicated to (cross-Region automated backup replication). */
  backupReplicationRegions: string[];
  additionalStorageVolumes: Array<{ name?: string; allocatedStorage?: number; iops?: number; storageType?: string }>;
}

export interface CapturedCluster {
  id: string;
  arn: string;
  engine: string;
  engineVersion?: string;
  engineMode?: string;
  port?: number;
  subnetGroup?: string;
  securityGroupIds: string[];
  parameterGroup?: string;
  copyTagsToSnapshot?: boolean;
  iamAuth?: boolean;
  logExports: string[];
  deletionProtection?: boolean;
  backupRetentionPeriod?: number;
  backupWindow?: string;
  maintenanceWindow?: string;
  backtrackWindow?: number;
  associatedRoles: Array<{ roleArn: string; featureName?: string }>;
  domain?: { domain?: string; iamRoleName?: string };
  serverlessV2?: { MinCapacity?: number; MaxCapacity?: number };
  storageType?: string;
  tags: Tag[];
  kmsKeyId?: string;
  encrypted?: boolean;
  status?: string;
  globalClusterId?: string;
  replicationSource?: string;
  readReplicaClusters: string[];
  managedMasterSecret?: boolean;
  /** RDS Extended Support enrolment; a restore defaults to enrolled. */
  engineLifecycleSupport?: string;
  /** RDS Data API; not a restore parameter, applied with ModifyDBCluster. */
  httpEndpoint?: boolean;
  /** IPV4 or DUAL; passed to the restore. */
  networkType?: string;
  /** Database activity streams (not carried by a restore). */
  activityStream?: string;
  members: CapturedInstance[];
}

export type CapturedSettings = { kind: 'instance'; instance: CapturedInstance } | { kind: 'cluster'; cluster: CapturedCluster };

const sortedStrings = (xs: Array<string | undefined> | undefined): string[] => (xs ?? []).filter((x): x is string => !!x).sort();

/** Tags this kit adds to what it creates; never part of parity. */
export const KIT_TAG_PREFIX = 'db-ops-kit:';

export function userTags(tags: Tag[] | undefined): Tag[] {
  return (tags ?? [])
    .filter((t) => t.Key && !t.Key.startsWith(KIT_TAG_PREFIX) && !t.Key.startsWith('aws:'))
    .map((t) => ({ Key: t.Key, Value: t.Value ?? '' }))
    .sort((a, b) => String(a.Key).localeCompare(String(b.Key)));
}

export function captureInstance(i: DBInstance): CapturedInstance {
  const d = i.DomainMemberships?.[0];
  return {
    id: i.DBInstanceIdentifier!,
    arn: i.DBInstanceArn!,
    engine: i.Engine!,
    engineVersion: i.EngineVersion,
    instanceClass: i.DBInstanceClass,
    allocatedStorage: i.AllocatedStorage,
    maxAllocatedStorage: i.MaxAllocatedStorage,
    storageType: i.StorageType,
    iops: i.Iops,
    storageThroughput: i.StorageThroughput,
    multiAZ: i.MultiAZ,
    availabilityZone: i.MultiAZ ? undefined : i.AvailabilityZone,
    subnetGroup: i.DBSubnetGroup?.DBSubnetGroupName,
    publiclyAccessible: i.PubliclyAccessible,
    autoMinorVersionUpgrade: i.AutoMinorVersionUpgrade,
    port: i.Endpoint?.Port ?? i.DbInstancePort,
    securityGroupIds: sortedStrings(i.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId)),
    parameterGroup: i.DBParameterGroups?.[0]?.DBParameterGroupName,
    optionGroup: i.OptionGroupMemberships?.[0]?.OptionGroupName,
    copyTagsToSnapshot: i.CopyTagsToSnapshot,
    iamAuth: i.IAMDatabaseAuthenticationEnabled,
    logExports: sortedStrings(i.EnabledCloudwatchLogsExports),
    deletionProtection: i.DeletionProtection,
    backupRetentionPeriod: i.BackupRetentionPeriod,
    backupWindow: i.PreferredBackupWindow,
    maintenanceWindow: i.PreferredMaintenanceWindow,
    performanceInsights: i.PerformanceInsightsEnabled,
    performanceInsightsKmsKeyId: i.PerformanceInsightsKMSKeyId,
    performanceInsightsRetention: i.PerformanceInsightsRetentionPeriod,
    monitoringInterval: i.MonitoringInterval,
    monitoringRoleArn: i.MonitoringRoleArn,
    associatedRoles: (i.AssociatedRoles ?? []).map((r) => ({ roleArn: r.RoleArn!, featureName: r.FeatureName })),
    domain: d ? { domain: d.Domain, iamRoleName: d.IAMRoleName, fqdn: d.FQDN, ou: d.OU, authSecretArn: d.AuthSecretArn, dnsIps: d.DnsIps } : undefined,
    caCertificate: i.CACertificateIdentifier,
    networkType: i.NetworkType,
    promotionTier: i.PromotionTier,
    clusterId: i.DBClusterIdentifier,
    tags: userTags(i.TagList),
    // An unencrypted resource has no key, whatever KmsKeyId says (moto reports a placeholder there).
    kmsKeyId: i.StorageEncrypted ? i.KmsKeyId : undefined,
    encrypted: i.StorageEncrypted,
    status: i.DBInstanceStatus,
    readReplicaSource: i.ReadReplicaSourceDBInstanceIdentifier ?? i.ReadReplicaSourceDBClusterIdentifier,
    readReplicas: [...(i.ReadReplicaDBInstanceIdentifiers ?? []), ...(i.ReadReplicaDBClusterIdentifiers ?? [])],
    managedMasterSecret: !!i.MasterUserSecret,
    engineLifecycleSupport: i.EngineLifecycleSupport,
    dedicatedLogVolume: i.DedicatedLogVolume,
    licenseModel: i.LicenseModel,
    processorFeatures: (i.ProcessorFeatures ?? []).map((f) => ({ name: f.Name, value: f.Value })).sort((a, b) => String(a.name).localeCompare(String(b.name))),
    activityStream: i.ActivityStreamStatus,
    backupReplicationRegions: sortedStrings((i.DBInstanceAutomatedBackupsReplications ?? []).map((r) => r.DBInstanceAutomatedBackupsArn?.split(':')[3])),
    additionalStorageVolumes: (i.AdditionalStorageVolumes ?? [])
      .map((v) => ({ name: v.VolumeName, allocatedStorage: v.AllocatedStorage, iops: v.IOPS, storageType: (v as { StorageType?: string }).StorageType }))
      .sort((a, b) => String(a.name).localeCompare(String(b.name))),
  };
}

export function captureCluster(c: DBCluster, members: DBInstance[], globalClusterId?: string): CapturedCluster {
  const d = c.DomainMemberships?.[0];
  const writer = new Set((c.DBClusterMembers ?? []).filter((m) => m.IsClusterWriter).map((m) => m.DBInstanceIdentifier));
  const tiers = new Map((c.DBClusterMembers ?? []).map((m) => [m.DBInstanceIdentifier, m.PromotionTier]));
  return {
    id: c.DBClusterIdentifier!,
    arn: c.DBClusterArn!,
    engine: c.Engine!,
    engineVersion: c.EngineVersion,
    engineMode: c.EngineMode,
    port: c.Port,
    subnetGroup: c.DBSubnetGroup,
    securityGroupIds: sortedStrings(c.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId)),
    parameterGroup: c.DBClusterParameterGroup,
    copyTagsToSnapshot: c.CopyTagsToSnapshot,
    iamAuth: c.IAMDatabaseAuthenticationEnabled,
    logExports: sortedStrings(c.EnabledCloudwatchLogsExports),
    deletionProtection: c.DeletionProtection,
    backupRetentionPeriod: c.BackupRetentionPeriod,
    backupWindow: c.PreferredBackupWindow,
    maintenanceWindow: c.PreferredMaintenanceWindow,
    backtrackWindow: c.BacktrackWindow || undefined,
    associatedRoles: (c.AssociatedRoles ?? []).map((r) => ({ roleArn: r.RoleArn!, featureName: r.FeatureName })),
    domain: d ? { domain: d.Domain, iamRoleName: d.IAMRoleName } : undefined,
    serverlessV2: c.ServerlessV2ScalingConfiguration
      ? { MinCapacity: c.ServerlessV2ScalingConfiguration.MinCapacity, MaxCapacity: c.ServerlessV2ScalingConfiguration.MaxCapacity }
      : undefined,
    storageType: c.StorageType,
    tags: userTags(c.TagList),
    kmsKeyId: c.StorageEncrypted ? c.KmsKeyId : undefined,
    encrypted: c.StorageEncrypted,
    status: c.Status,
    globalClusterId,
    replicationSource: c.ReplicationSourceIdentifier,
    readReplicaClusters: c.ReadReplicaIdentifiers ?? [],
    managedMasterSecret: !!c.MasterUserSecret,
    engineLifecycleSupport: c.EngineLifecycleSupport,
    httpEndpoint: c.HttpEndpointEnabled,
    networkType: c.NetworkType,
    activityStream: c.ActivityStreamStatus,
    members: members
      .map((m) => ({ ...captureInstance(m), isClusterWriter: writer.has(m.DBInstanceIdentifier), promotionTier: tiers.get(m.DBInstanceIdentifier) ?? m.PromotionTier }))
      .sort((a, b) => a.id.localeCompare(b.id)),
  };
}

/** Settings that differ on purpose between source and target; reported as `expected`. */
const EXPECTED_INSTANCE = new Set(['id', 'arn', 'kmsKeyId', 'performanceInsightsKmsKeyId', 'status', 'clusterId', 'availabilityZone', 'readReplicas', 'readReplicaSource', 'managedMasterSecret']);
const EXPECTED_CLUSTER = new Set(['id', 'arn', 'kmsKeyId', 'status', 'members', 'readReplicaClusters', 'replicationSource', 'globalClusterId', 'managedMasterSecret']);
/** Regional settings: a cross-Region copy maps them instead of copying them. */
const REGIONAL = new Set(['securityGroupIds', 'subnetGroup', 'availabilityZone']);

function line(setting: string, source: unknown, target: unknown, expected: boolean): ParityLine {
  const same = JSON.stringify(source ?? null) === JSON.stringify(target ?? null);
  return { setting, source: source ?? null, target: target ?? null, result: same ? 'same' : expected ? 'expected' : 'differs' };
}

function compareObjects(prefix: string, a: object, b: object, expected: Set<string>, crossRegion: boolean): ParityLine[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => k !== 'members' && k !== 'isClusterWriter').sort();
  return keys.map((k) =>
    line(`${prefix}${k}`, (a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], expected.has(k) || (crossRegion && REGIONAL.has(k))),
  );
}

/**
 * Parity report: every captured setting of the source next to the new resource's. Only the key,
 * identifiers/ARNs, status and (cross-Region) Regional network settings may differ.
 */
export function parityReport(source: CapturedSettings, target: CapturedSettings, opts: { crossRegion?: boolean; memberMap?: Record<string, string> } = {}): ParityLine[] {
  const crossRegion = !!opts.crossRegion;
  if (source.kind === 'instance' && target.kind === 'instance') {
    return compareObjects('', source.instance, target.instance, EXPECTED_INSTANCE, crossRegion);
  }
  if (source.kind === 'cluster' && target.kind === 'cluster') {
    const lines = compareObjects('', source.cluster, target.cluster, EXPECTED_CLUSTER, crossRegion);
    const byId = new Map(target.cluster.members.map((m) => [m.id, m]));
    for (const m of source.cluster.members) {
      const tid = opts.memberMap?.[m.id] ?? m.id;
      const t = byId.get(tid);
      if (!t) {
        lines.push({ setting: `member ${m.id}`, source: m.id, target: null, result: 'differs' });
        continue;
      }
      lines.push(line(`member ${m.id}: writer`, !!m.isClusterWriter, !!t.isClusterWriter, false));
      lines.push(...compareObjects(`member ${m.id}: `, m, t, EXPECTED_INSTANCE, crossRegion));
    }
    const extra = target.cluster.members.filter((t) => !source.cluster.members.some((m) => (opts.memberMap?.[m.id] ?? m.id) === t.id));
    for (const t of extra) lines.push({ setting: `member ${t.id}`, source: null, target: t.id, result: 'differs' });
    return lines;
  }
  return [{ setting: 'kind', source: source.kind, target: target.kind, result: 'differs' }];
}

export function parityIsClean(lines: ParityLine[]): boolean {
  return lines.every((l) => l.result !== 'differs');
}

/** A fixed-width text rendering of the parity report for logs and the CLI. */
export function formatParity(lines: ParityLine[]): string {
  const show = (v: unknown) => {
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return s.length > 60 ? `${s.slice(0, 57)}...` : s;
  };
  const rows = lines.map((l) => [l.result === 'same' ? 'ok' : l.result === 'expected' ? 'changed' : 'DIFFERS', l.setting, show(l.source), show(l.target)]);
  const header = ['result', 'setting', 'source', 'new'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}
