/** Restore phase: the re-keyed copy restored with the source's settings, Aurora members, settings applied afterwards. */
import { AddRoleToDBClusterCommand, AddRoleToDBInstanceCommand, CreateDBInstanceCommand, ModifyDBClusterCommand, ModifyDBInstanceCommand, RestoreDBClusterFromSnapshotCommand, RestoreDBInstanceFromDBSnapshotCommand } from '@aws-sdk/client-rds';
import { call, Clients } from './clients';
import type { CapturedInstance } from './settings';
import { addArtifact, RekeyError, RekeyState, restoreRegion } from './state';
import { getCluster, getInstance, kitTags, lockTags, names, need, ok, srcCluster, srcInstance, StepFn } from './step-base';

/** Settings of a restored/created instance that RestoreDBInstanceFromDBSnapshot accepts. */
function instanceRestoreParams(s: RekeyState, i: CapturedInstance) {
  const cross = !!s.targetRegion;
  return {
    DBInstanceClass: i.instanceClass,
    Port: i.port,
    MultiAZ: i.multiAZ,
    AvailabilityZone: cross ? undefined : i.availabilityZone,
    DBSubnetGroupName: i.subnetGroup,
    PubliclyAccessible: i.publiclyAccessible,
    AutoMinorVersionUpgrade: i.autoMinorVersionUpgrade,
    StorageType: i.storageType,
    // gp3 IOPS/throughput are taken from the snapshot when omitted; DescribeDBInstances reports the
    // gp3 baseline (3000 IOPS, 125 MiBps) even below the size where RDS lets you set them, and
    // passing those values back fails the restore (InvalidParameterCombination). io1/io2 keep theirs.
    Iops: i.storageType === 'gp3' ? undefined : i.iops,
    AllocatedStorage: i.allocatedStorage,
    // A default option group is what a restore gets anyway; naming it can fail for a cross-version default.
    OptionGroupName: i.optionGroup && !i.optionGroup.startsWith('default:') ? i.optionGroup : undefined,
    DBParameterGroupName: i.parameterGroup,
    VpcSecurityGroupIds: cross ? s.targetSecurityGroupIds : i.securityGroupIds.length ? i.securityGroupIds : undefined,
    CopyTagsToSnapshot: i.copyTagsToSnapshot,
    EnableIAMDatabaseAuthentication: i.iamAuth,
    EnableCloudwatchLogsExports: i.logExports.length ? i.logExports : undefined,
    DeletionProtection: i.deletionProtection,
    BackupRetentionPeriod: i.backupRetentionPeriod,
    PreferredBackupWindow: i.backupWindow,
    CACertificateIdentifier: i.caCertificate,
    NetworkType: i.networkType,
    EngineLifecycleSupport: i.engineLifecycleSupport,
    DedicatedLogVolume: i.dedicatedLogVolume,
    LicenseModel: i.licenseModel,
    ProcessorFeatures: i.processorFeatures?.length ? i.processorFeatures.map((f) => ({ Name: f.name, Value: f.value })) : undefined,
    ...(i.domain?.domain
      ? { Domain: i.domain.domain, DomainIAMRoleName: i.domain.iamRoleName }
      : i.domain?.fqdn
        ? { DomainFqdn: i.domain.fqdn, DomainOu: i.domain.ou, DomainAuthSecretArn: i.domain.authSecretArn, DomainDnsIps: i.domain.dnsIps }
        : {}),
  };
}

export const restore: StepFn = async (c, s) => {
  const step = 'restore';
  const n = names(s, step);
  const keyArn = need(s.targetKeyArn, step, 'target key');
  if (s.kind === 'instance') {
    const i = srcInstance(s, step);
    const existing = await getInstance(c.targetRds, n.newId);
    if (!existing) {
      await call(() =>
        c.targetRds.send(
          new RestoreDBInstanceFromDBSnapshotCommand({
            DBInstanceIdentifier: n.newId,
            DBSnapshotIdentifier: need(n.copySnapshot, step, 'copy snapshot'),
            ...instanceRestoreParams(s, i),
            Tags: [...i.tags, ...kitTags(s, 'rekeyed-copy'), ...lockTags(s)],
          }),
        ),
      );
    }
    addArtifact(s, { type: 'db-instance', id: n.newId, region: restoreRegion(s), role: 'new instance on the target key' });
    return ok(s, step, existing ? `${n.newId} already exists, reusing it` : `restoring ${n.newId} from ${n.copySnapshot}`);
  }
  const cl = srcCluster(s, step);
  const existing = await getCluster(c.targetRds, n.newId);
  if (!existing) {
    await call(() =>
      c.targetRds.send(
        new RestoreDBClusterFromSnapshotCommand({
          DBClusterIdentifier: n.newId,
          SnapshotIdentifier: n.copySnapshot ?? n.sourceSnapshot,
          Engine: cl.engine,
          EngineVersion: cl.engineVersion,
          KmsKeyId: keyArn,
          Port: cl.port,
          DBSubnetGroupName: cl.subnetGroup,
          VpcSecurityGroupIds: s.targetRegion ? s.targetSecurityGroupIds : cl.securityGroupIds.length ? cl.securityGroupIds : undefined,
          DBClusterParameterGroupName: cl.parameterGroup,
          EnableIAMDatabaseAuthentication: cl.iamAuth,
          EnableCloudwatchLogsExports: cl.logExports.length ? cl.logExports : undefined,
          DeletionProtection: cl.deletionProtection,
          CopyTagsToSnapshot: cl.copyTagsToSnapshot,
          BacktrackWindow: cl.backtrackWindow,
          BackupRetentionPeriod: cl.backupRetentionPeriod,
          PreferredBackupWindow: cl.backupWindow,
          ServerlessV2ScalingConfiguration: cl.serverlessV2,
          StorageType: cl.storageType,
          EngineLifecycleSupport: cl.engineLifecycleSupport,
          NetworkType: cl.networkType,
          ...(cl.domain?.domain ? { Domain: cl.domain.domain, DomainIAMRoleName: cl.domain.iamRoleName } : {}),
          Tags: [...cl.tags, ...kitTags(s, 'rekeyed-copy'), ...lockTags(s)],
        }),
      ),
    );
  }
  addArtifact(s, { type: 'db-cluster', id: n.newId, region: restoreRegion(s), role: 'new cluster on the target key' });
  return ok(s, step, existing ? `${n.newId} already exists, reusing it` : `restoring cluster ${n.newId} with ${keyArn}`);
};

/** Creates the members of a restored Aurora cluster: the writer first, the readers once it is up. */
async function ensureMembers(c: Clients, s: RekeyState, step: string): Promise<{ done: boolean; message: string }> {
  const n = names(s, step);
  const cl = srcCluster(s, step);
  const map = need(n.memberIds, step, 'member names');
  const writer = cl.members.find((m) => m.isClusterWriter) ?? cl.members[0];
  const ordered = [writer, ...cl.members.filter((m) => m !== writer)];
  const status: string[] = [];
  let allAvailable = true;
  for (const m of ordered) {
    const id = map[m.id];
    const have = await getInstance(c.targetRds, id);
    if (!have) {
      if (m !== writer) {
        const w = await getInstance(c.targetRds, map[writer.id]);
        if (w?.DBInstanceStatus !== 'available') {
          status.push(`${id}: waiting for the writer`);
          allAvailable = false;
          continue;
        }
      }
      await call(() =>
        c.targetRds.send(
          new CreateDBInstanceCommand({
            DBInstanceIdentifier: id,
            DBClusterIdentifier: n.newId,
            Engine: cl.engine,
            DBInstanceClass: need(m.instanceClass, step, `class of ${m.id}`),
            DBParameterGroupName: m.parameterGroup,
            AvailabilityZone: s.targetRegion ? undefined : m.availabilityZone,
            PubliclyAccessible: m.publiclyAccessible,
            AutoMinorVersionUpgrade: m.autoMinorVersionUpgrade,
            PreferredMaintenanceWindow: m.maintenanceWindow,
            PromotionTier: m.promotionTier,
            CACertificateIdentifier: m.caCertificate,
            CopyTagsToSnapshot: m.copyTagsToSnapshot,
            MonitoringInterval: m.monitoringInterval || undefined,
            MonitoringRoleArn: m.monitoringInterval ? m.monitoringRoleArn : undefined,
            ...(m.performanceInsights || m.performanceInsightsKmsKeyId
              ? { EnablePerformanceInsights: true, PerformanceInsightsKMSKeyId: s.targetKeyArn, PerformanceInsightsRetentionPeriod: m.performanceInsightsRetention }
              : {}),
            Tags: [...m.tags, ...kitTags(s, 'rekeyed-member')],
          }),
        ),
      );
      addArtifact(s, { type: 'db-instance', id, region: restoreRegion(s), role: `member of the new cluster (was ${m.id})` });
      status.push(`${id}: creating`);
      allAvailable = false;
    } else {
      addArtifact(s, { type: 'db-instance', id, region: restoreRegion(s), role: `member of the new cluster (was ${m.id})` });
      status.push(`${id}: ${have.DBInstanceStatus}`);
      if (have.DBInstanceStatus !== 'available') allAvailable = false;
    }
  }
  return { done: allAvailable, message: status.join(', ') };
}

export const checkRestore: StepFn = async (c, s) => {
  const step = 'checkRestore';
  const n = names(s, step);
  if (s.kind === 'instance') {
    const i = await getInstance(c.targetRds, n.newId);
    if (!i) throw new RekeyError(step, n.newId, 'the restored instance does not exist', 'resume the run; the restore step will start it again');
    s.progress = { step, status: i.DBInstanceStatus };
    if (i.DBInstanceStatus === 'available') return ok(s, step, `${n.newId} available`);
    if (['failed', 'incompatible-restore', 'incompatible-parameters', 'incompatible-network', 'storage-full'].includes(i.DBInstanceStatus ?? '')) {
      throw new RekeyError(step, n.newId, `restored instance status is "${i.DBInstanceStatus}"`, 'inspect it; the source is untouched');
    }
    return ok(s, step, `${n.newId} ${i.DBInstanceStatus}`, false);
  }
  const cl = await getCluster(c.targetRds, n.newId);
  if (!cl) throw new RekeyError(step, n.newId, 'the restored cluster does not exist', 'resume the run; the restore step will start it again');
  s.progress = { step, status: cl.Status };
  if (cl.Status !== 'available') {
    if (cl.Status === 'failed' || cl.Status?.startsWith('inaccessible')) throw new RekeyError(step, n.newId, `cluster status is "${cl.Status}"`, 'inspect it; the source is untouched');
    return ok(s, step, `${n.newId} ${cl.Status}`, false);
  }
  const m = await ensureMembers(c, s, step);
  return ok(s, step, `${n.newId} available; members ${m.message}`, m.done);
};

export const applySettings: StepFn = async (c, s) => {
  const step = 'applySettings';
  const n = names(s, step);
  if (s.kind === 'instance') {
    const i = srcInstance(s, step);
    await call(() =>
      c.targetRds.send(
        new ModifyDBInstanceCommand({
          DBInstanceIdentifier: n.newId,
          ApplyImmediately: true,
          PreferredMaintenanceWindow: i.maintenanceWindow,
          MaxAllocatedStorage: i.maxAllocatedStorage,
          ...(i.monitoringInterval ? { MonitoringInterval: i.monitoringInterval, MonitoringRoleArn: i.monitoringRoleArn } : {}),
          ...(i.performanceInsights || i.performanceInsightsKmsKeyId
            ? { EnablePerformanceInsights: true, PerformanceInsightsKMSKeyId: s.targetKeyArn, PerformanceInsightsRetentionPeriod: i.performanceInsightsRetention }
            : {}),
        }),
      ),
    );
    const have = new Set(((await getInstance(c.targetRds, n.newId))?.AssociatedRoles ?? []).map((r) => `${r.RoleArn}|${r.FeatureName}`));
    for (const r of i.associatedRoles) {
      if (have.has(`${r.roleArn}|${r.featureName}`)) continue;
      await call(() => c.targetRds.send(new AddRoleToDBInstanceCommand({ DBInstanceIdentifier: n.newId, RoleArn: r.roleArn, FeatureName: r.featureName })));
    }
    return ok(s, step, `applied maintenance window, storage autoscaling, monitoring, Performance Insights and ${i.associatedRoles.length} IAM role(s) to ${n.newId}`);
  }
  const cl = srcCluster(s, step);
  await call(() =>
    c.targetRds.send(
      new ModifyDBClusterCommand({ DBClusterIdentifier: n.newId, ApplyImmediately: true, PreferredMaintenanceWindow: cl.maintenanceWindow, ...(cl.httpEndpoint ? { EnableHttpEndpoint: true } : {}) }),
    ),
  );
  // CreateDBInstance took these already; asserting them again makes a resumed run converge too.
  for (const m of cl.members) {
    const memberId = need(n.memberIds, step, 'member names')[m.id];
    await call(() =>
      c.targetRds.send(
        new ModifyDBInstanceCommand({
          DBInstanceIdentifier: memberId,
          ApplyImmediately: true,
          PreferredMaintenanceWindow: m.maintenanceWindow,
          ...(m.monitoringInterval ? { MonitoringInterval: m.monitoringInterval, MonitoringRoleArn: m.monitoringRoleArn } : {}),
          ...(m.performanceInsights || m.performanceInsightsKmsKeyId
            ? { EnablePerformanceInsights: true, PerformanceInsightsKMSKeyId: s.targetKeyArn, PerformanceInsightsRetentionPeriod: m.performanceInsightsRetention }
            : {}),
        }),
      ),
    );
  }
  const have = new Set(((await getCluster(c.targetRds, n.newId))?.AssociatedRoles ?? []).map((r) => `${r.RoleArn}|${r.FeatureName}`));
  for (const r of cl.associatedRoles) {
    if (have.has(`${r.roleArn}|${r.featureName}`)) continue;
    await call(() => c.targetRds.send(new AddRoleToDBClusterCommand({ DBClusterIdentifier: n.newId, RoleArn: r.roleArn, FeatureName: r.featureName })));
  }
  return ok(s, step, `applied maintenance windows, monitoring, Performance Insights to ${cl.members.length} member(s) and ${cl.associatedRoles.length} IAM role(s) to ${n.newId}`);
};
