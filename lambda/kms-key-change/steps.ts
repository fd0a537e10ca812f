/**
 * The steps of the KMS key change as plain functions over injected clients and the JSON state
 * document. Each "start" step is idempotent (it looks before it creates, so a retry or a resumed
 * run never creates twice); each "check" step only reads and says whether to keep polling.
 * Nothing here deletes a database, snapshot or any other resource.
 */
import {
  AddRoleToDBClusterCommand,
  AddRoleToDBInstanceCommand,
  AddTagsToResourceCommand,
  CopyDBClusterSnapshotCommand,
  CopyDBSnapshotCommand,
  CreateBlueGreenDeploymentCommand,
  CreateDBClusterSnapshotCommand,
  CreateDBInstanceCommand,
  CreateDBSnapshotCommand,
  DBInstance,
  DescribeBlueGreenDeploymentsCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotsCommand,
  ModifyDBClusterCommand,
  ModifyDBClusterSnapshotAttributeCommand,
  ModifyDBInstanceCommand,
  ModifyDBSnapshotAttributeCommand,
  RDSClient,
  RestoreDBClusterFromSnapshotCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
  SwitchoverBlueGreenDeploymentCommand,
  Tag,
} from '@aws-sdk/client-rds';
import { call, Clients, describeOrUndefined } from './clients';
import {
  checkFreeze,
  checkRenameSource,
  checkRenameTarget,
  checkRollbackNew,
  checkRollbackSource,
  freezeSource,
  renameSource,
  renameTarget,
  rollbackRenameNew,
  rollbackRenameSource,
  rollbackUnfreeze,
} from './cutover';
import { acquireLock, LOCK_TAG } from './lock';
import { preflight } from './preflight';
import { captureCluster, captureInstance, CapturedInstance, CapturedSettings, parityIsClean, parityReport } from './settings';
import { addArtifact, RekeyError, RekeyState, restoreRegion } from './state';
import { getCluster, getInstance, kitTags, lockTags, names, need, ok, releaseLockOrWarn, src, srcCluster, srcInstance, StepFn, StepResult } from './step-common';
import type { StepName } from './workflow';

export type { StepFn, StepResult } from './step-common';
export * from './cutover';

interface SnapshotInfo {
  status?: string;
  percent?: number;
  arn?: string;
  kmsKeyId?: string;
  createdAt?: Date;
  tags?: Tag[];
}

async function getSnapshot(rds: RDSClient, kind: 'instance' | 'cluster', id: string): Promise<SnapshotInfo | undefined> {
  if (kind === 'instance') {
    const r = (await describeOrUndefined(() => rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: id }))))?.DBSnapshots?.[0];
    return r && { status: r.Status, percent: r.PercentProgress, arn: r.DBSnapshotArn, kmsKeyId: r.KmsKeyId, createdAt: r.SnapshotCreateTime, tags: r.TagList };
  }
  const r = (await describeOrUndefined(() => rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: id }))))?.DBClusterSnapshots?.[0];
  return r && { status: r.Status, percent: r.PercentProgress, arn: r.DBClusterSnapshotArn, kmsKeyId: r.KmsKeyId, createdAt: r.SnapshotCreateTime, tags: r.TagList };
}

/** Tag on the source snapshot recording whether writes were declared stopped when it was requested. */
const WRITES_STOPPED_TAG = 'db-ops-kit:rekey-writes-stopped';

function snapshotProgress(s: RekeyState, step: string, id: string, snap: { status?: string; percent?: number } | undefined): StepResult {
  if (!snap) throw new RekeyError(step, id, 'snapshot not found', 'resume the run: the start step will create it again');
  s.progress = { step, percent: snap.percent, status: snap.status };
  if (snap.status === 'available') return ok(s, step, `${id} available`);
  if (snap.status === 'creating' || snap.status === 'copying' || snap.status === 'pending') {
    return ok(s, step, `${id} ${snap.status}${snap.percent !== undefined ? ` ${snap.percent}%` : ''}`, false);
  }
  throw new RekeyError(step, id, `snapshot status is "${snap.status}"`, 'inspect the snapshot in the console; the source is untouched, start a new run when fixed');
}

// ---------------------------------------------------------------- snapshot method

export const createSnapshot: StepFn = async (c, s) => {
  const step = 'createSnapshot';
  const id = names(s, step).sourceSnapshot;
  const existing = await getSnapshot(c.rds, s.kind, id);
  if (!existing) {
    const Tags = [...kitTags(s, 'source-snapshot'), { Key: WRITES_STOPPED_TAG, Value: String(s.cutoverRequested === true) }];
    if (s.kind === 'instance') await call(() => c.rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: s.sourceId, DBSnapshotIdentifier: id, Tags })));
    else await call(() => c.rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: s.sourceId, DBClusterSnapshotIdentifier: id, Tags })));
  }
  if (!s.snapshotStartedAt) {
    // The new resource will hold the data as of this moment; writes after it stay only in the source.
    // A snapshot found from an earlier attempt (crash before the state was saved) keeps what was
    // declared when it was requested (its tag), not what the resumed run asks for now.
    s.snapshotStartedAt = existing?.createdAt ? new Date(existing.createdAt).toISOString() : new Date().toISOString();
    s.snapshotWritesStopped = existing ? existing.tags?.some((t) => t.Key === WRITES_STOPPED_TAG && t.Value === 'true') === true : s.cutoverRequested === true;
  }
  addArtifact(s, { type: s.kind === 'instance' ? 'db-snapshot' : 'db-cluster-snapshot', id, region: s.region, role: 'snapshot of the source (source key)' });
  return ok(
    s,
    step,
    `${existing ? `${id} already exists, reusing it` : `creating snapshot ${id}`}${s.snapshotWritesStopped ? '' : ' (rehearsal: writes to the source after this point will not be in the copy)'}`,
  );
};

export const checkSnapshot: StepFn = async (c, s) => {
  const id = names(s, 'checkSnapshot').sourceSnapshot;
  return snapshotProgress(s, 'checkSnapshot', id, await getSnapshot(c.rds, s.kind, id));
};

export const copySnapshot: StepFn = async (c, s) => {
  const step = 'copySnapshot';
  const n = names(s, step);
  if (!n.copySnapshot) return ok(s, step, 'no copy needed: the Aurora restore takes the target key directly');
  const keyArn = need(s.targetKeyArn, step, 'target key');
  const existing = await getSnapshot(c.targetRds, s.kind, n.copySnapshot);
  if (!existing) {
    const source = need(await getSnapshot(c.rds, s.kind, n.sourceSnapshot), step, `snapshot ${n.sourceSnapshot}`);
    const crossRegion = !!s.targetRegion;
    const from = crossRegion ? need(source.arn, step, 'source snapshot ARN') : n.sourceSnapshot;
    const Tags = kitTags(s, 'target-key-copy');
    if (s.kind === 'instance') {
      const og = srcInstance(s, step).optionGroup;
      await call(() =>
        c.targetRds.send(
          new CopyDBSnapshotCommand({
            SourceDBSnapshotIdentifier: from,
            TargetDBSnapshotIdentifier: n.copySnapshot,
            KmsKeyId: keyArn,
            Tags,
            ...(crossRegion ? { SourceRegion: s.region, ...(og && !og.startsWith('default:') ? { OptionGroupName: og } : {}) } : {}),
          }),
        ),
      );
    } else {
      await call(() =>
        c.targetRds.send(
          new CopyDBClusterSnapshotCommand({
            SourceDBClusterSnapshotIdentifier: from,
            TargetDBClusterSnapshotIdentifier: n.copySnapshot,
            KmsKeyId: keyArn,
            Tags,
            ...(crossRegion ? { SourceRegion: s.region } : {}),
          }),
        ),
      );
    }
  }
  addArtifact(s, { type: s.kind === 'instance' ? 'db-snapshot' : 'db-cluster-snapshot', id: n.copySnapshot, region: restoreRegion(s), role: 'copy encrypted with the target key' });
  return ok(s, step, existing ? `${n.copySnapshot} already exists, reusing it` : `copying ${n.sourceSnapshot} to ${n.copySnapshot} with ${keyArn}`);
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

export const shareSnapshot: StepFn = async (c, s) => {
  const step = 'shareSnapshot';
  if (!s.shareWithAccount) return ok(s, step, 'not shared (no --share-with-account)');
  const id = need(names(s, step).copySnapshot, step, 'copy snapshot');
  if (s.kind === 'instance') {
    await call(() => c.targetRds.send(new ModifyDBSnapshotAttributeCommand({ DBSnapshotIdentifier: id, AttributeName: 'restore', ValuesToAdd: [s.shareWithAccount!] })));
  } else {
    await call(() => c.targetRds.send(new ModifyDBClusterSnapshotAttributeCommand({ DBClusterSnapshotIdentifier: id, AttributeName: 'restore', ValuesToAdd: [s.shareWithAccount!] })));
  }
  return ok(s, step, `shared ${id} with account ${s.shareWithAccount}; in that account copy it with its own key and restore (this run ends here)`);
};

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

// ---------------------------------------------------------------- blue/green method

export const createBlueGreen: StepFn = async (c, s) => {
  const step = 'createBlueGreen';
  const keyArn = need(s.targetKeyArn, step, 'target key');
  const captured = src(s, step);
  if (!s.blueGreenId) {
    const arn = captured.kind === 'instance' ? captured.instance.arn : captured.cluster.arn;
    const replicaArns = captured.kind === 'instance' ? captured.instance.readReplicas.map((r) => (r.startsWith('arn:') ? r : arn.replace(/:db:[^:]+$/, `:db:${r}`))) : [];
    const name = `${s.sourceId.slice(0, 40)}-rekey-${s.runId}`;
    const r = await call(() =>
      c.rds.send(
        new CreateBlueGreenDeploymentCommand({
          BlueGreenDeploymentName: name,
          Source: arn,
          TargetResourceConfigurations: [arn, ...replicaArns].map((SourceArn) => ({ SourceArn, TargetKmsKeyId: keyArn })),
          Tags: kitTags(s, 'blue-green-deployment'),
        }),
      ),
    );
    s.blueGreenId = need(r.BlueGreenDeployment?.BlueGreenDeploymentIdentifier, step, 'blue/green deployment id');
    addArtifact(s, { type: 'blue-green-deployment', id: s.blueGreenId, region: s.region, role: `${name}: green environment on the target key` });
  }
  return ok(s, step, `blue/green deployment ${s.blueGreenId}`);
};

async function getBlueGreen(c: Clients, s: RekeyState, step: string) {
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

export const switchover: StepFn = async (c, s) => {
  const step = 'switchover';
  const d = await getBlueGreen(c, s, step);
  if (d.Status === 'AVAILABLE') {
    await call(() => c.rds.send(new SwitchoverBlueGreenDeploymentCommand({ BlueGreenDeploymentIdentifier: s.blueGreenId, SwitchoverTimeout: 300 })));
  }
  s.cutover = { at: new Date().toISOString(), sourceRenamedTo: `${s.sourceId}-old1 (named by RDS)`, memberRenames: [] };
  return ok(s, step, `switchover of ${s.blueGreenId} started`);
};

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

// ---------------------------------------------------------------- verify

async function captureTarget(c: Clients, s: RekeyState, step: string): Promise<{ settings: CapturedSettings; keyArn?: string; encrypted?: boolean; id: string; memberMap?: Record<string, string> }> {
  let id: string;
  let memberMap: Record<string, string> | undefined;
  if (s.method === 'blue-green') {
    const d = await getBlueGreen(c, s, step);
    id = need(d.Target, step, 'green target').split(':').pop()!;
    // Green members are named by RDS; SwitchoverDetails pairs each blue member with its green one.
    memberMap = Object.fromEntries(
      (d.SwitchoverDetails ?? [])
        .filter((x) => x.SourceMember?.includes(':db:') && x.TargetMember?.includes(':db:'))
        .map((x) => [x.SourceMember!.split(':').pop()!, x.TargetMember!.split(':').pop()!]),
    );
  } else {
    id = s.cutover?.done && !s.rolledBack ? s.sourceId : names(s, step).newId;
  }
  if (s.kind === 'instance') {
    const i = await getInstance(c.targetRds, id);
    if (!i) throw new RekeyError(step, id, 'new instance not found', 'resume the run from the restore step');
    const cap = captureInstance(i);
    return { settings: { kind: 'instance', instance: cap }, keyArn: cap.kmsKeyId, encrypted: cap.encrypted, id };
  }
  const cl = await getCluster(c.targetRds, id);
  if (!cl) throw new RekeyError(step, id, 'new cluster not found', 'resume the run from the restore step');
  const members: DBInstance[] = [];
  for (const m of cl.DBClusterMembers ?? []) {
    const i = await getInstance(c.targetRds, m.DBInstanceIdentifier!);
    if (i) members.push(i);
  }
  const cap = captureCluster(cl, members);
  return { settings: { kind: 'cluster', cluster: cap }, keyArn: cap.kmsKeyId, encrypted: cap.encrypted, id, memberMap };
}

/** Stores the parity report; `parityClean` false when the key is wrong or any setting differs. */
export const verify: StepFn = async (c, s) => {
  const step = 'verify';
  const t = await captureTarget(c, s, step);
  const memberMap = s.method === 'blue-green' ? t.memberMap : !(s.cutover?.done && !s.rolledBack) ? s.names?.memberIds : undefined;
  const lines = parityReport(src(s, step), t.settings, { crossRegion: !!s.targetRegion, memberMap });
  const keyOk = t.encrypted === true && t.keyArn === s.targetKeyArn;
  // Encrypting an unencrypted source is the point of the run: "encrypted" false → true is the intended difference.
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (/(^|: )encrypted$/.test(l.setting) && l.source === false && l.target === true && keyOk) lines[i] = { ...l, result: 'expected' };
  }
  lines.unshift({ setting: 'encryption key', source: s.sourceKeyArn ?? 'unencrypted', target: t.keyArn ?? 'unencrypted', result: keyOk ? 'expected' : 'differs' });
  if (s.method === 'snapshot') {
    // The snapshot method moves Performance Insights to the target key too; a PI key left on the
    // old key would keep the old key in use (and stop PI data from being readable if it is retired).
    const withPi = t.settings.kind === 'instance' ? [t.settings.instance] : t.settings.cluster.members;
    for (const m of withPi) {
      if (m.performanceInsights && m.performanceInsightsKmsKeyId && m.performanceInsightsKmsKeyId !== s.targetKeyArn) {
        lines.push({ setting: `${m.id}: Performance Insights key`, source: s.targetKeyArn ?? null, target: m.performanceInsightsKmsKeyId, result: 'differs' });
      }
    }
  }
  s.parity = lines;
  s.parityClean = keyOk && parityIsClean(lines);
  const bad = lines.filter((l) => l.result === 'differs').map((l) => l.setting);
  return ok(s, step, s.parityClean ? `${t.id} is encrypted with ${t.keyArn}; parity clean (${lines.length} settings)` : `${t.id}: parity NOT clean: ${bad.join(', ')}`);
};

// ---------------------------------------------------------------- finalize

/** Tags every resource of the run with its role and lists them; deletes nothing. */
export const finalize: StepFn = async (c, s) => {
  const step = 'finalize';
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
    `kept ${s.artifacts.length} resource(s): ${s.artifacts.map((a) => `${a.type} ${a.id} (${a.region})`).join('; ')}${released.length ? `; run lock released (${released.join(', ')})` : ''}`,
  );
};

/** Preflight (read-only), then the run lock: the first write of a run is the lock tag on the source. */
export const preflightStep: StepFn = async (c, s) => {
  const next = await preflight(c, s);
  await acquireLock(c, next);
  return ok(next, 'preflight', `preflight passed for ${s.kind} ${s.sourceId} → ${next.targetKeyArn}; run lock ${LOCK_TAG}=${next.runId} set`);
};

export const STEPS: Record<StepName, StepFn> = {
  preflight: preflightStep,
  freezeSource,
  checkFreeze,
  rollbackUnfreeze,
  createSnapshot,
  checkSnapshot,
  copySnapshot,
  checkCopy,
  shareSnapshot,
  restore,
  checkRestore,
  applySettings,
  checkApply,
  createBlueGreen,
  checkBlueGreen,
  verify,
  renameSource,
  checkRenameSource,
  renameTarget,
  checkRenameTarget,
  switchover,
  checkSwitchover,
  rollbackRenameNew,
  checkRollbackNew,
  rollbackRenameSource,
  checkRollbackSource,
  finalize,
};
