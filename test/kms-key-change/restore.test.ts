/**
 * The snapshot, copy, restore and settings steps (lambda/kms-key-change/snapshot-steps.ts,
 * restore-steps.ts) and finalize (steps.ts): the exact inputs RDS receives. moto accepts and ignores
 * several of them (the security groups and key of a restore, KmsKeyId of a copy, the tags), so a
 * dropped setting only shows in the command input; aws-sdk-client-mock records it. The same steps
 * run end to end on moto in test/integration/kms-key-change.
 */
import {
  AddRoleToDBClusterCommand,
  AddTagsToResourceCommand,
  CopyDBClusterSnapshotCommand,
  CopyDBSnapshotCommand,
  CreateDBClusterSnapshotCommand,
  CreateDBInstanceCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  ListTagsForResourceCommand,
  ModifyDBClusterCommand,
  ModifyDBClusterSnapshotAttributeCommand,
  ModifyDBInstanceCommand,
  ModifyDBSnapshotAttributeCommand,
  RDSClient,
  RemoveTagsFromResourceCommand,
  RestoreDBClusterFromSnapshotCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { captureCluster, captureInstance } from '../../lambda/kms-key-change/settings';
import * as steps from '../../lambda/kms-key-change/steps';
import { LOCK_TAG } from '../../lambda/kms-key-change/workflow';
import { ACCOUNT, clients, cluster, instance, member, NEW_KEY, notFound, preflighted } from './fixtures';

const rds = mockClient(RDSClient);
const RUN = '20261130030405';
const WEST_KEY = NEW_KEY.replace('us-east-1', 'us-west-2');
const kit = (role: string) => [
  { Key: 'db-ops-kit:rekey-run', Value: RUN },
  { Key: 'db-ops-kit:rekey-source', Value: 'ledger' },
  { Key: 'db-ops-kit:rekey-role', Value: role },
];

beforeEach(() => rds.reset());

describe('Aurora restore', () => {
  test('same Region: the whole RestoreDBClusterFromSnapshot input — the target key, the source\'s security groups and settings, kit and lock tags', async () => {
    rds.on(DescribeDBClustersCommand).rejects(notFound('DBClusterNotFoundFault'));
    rds.on(RestoreDBClusterFromSnapshotCommand).resolves({});
    const src = cluster({
      VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-b' }, { VpcSecurityGroupId: 'sg-a' }],
      CopyTagsToSnapshot: true,
      BacktrackWindow: 3600,
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 8 },
      StorageType: 'aurora-iopt1',
      EngineLifecycleSupport: 'open-source-rds-extended-support-disabled',
      NetworkType: 'IPV4',
      DomainMemberships: [{ Domain: 'd-123', IAMRoleName: 'rds-ad', Status: 'joined' }],
    });
    const s = preflighted({}, 'cluster', { kind: 'cluster', cluster: captureCluster(src, [member('ledger-1')]) });
    const r = await steps.restore(clients(), s);
    expect(rds.commandCalls(RestoreDBClusterFromSnapshotCommand).map((c) => c.args[0].input)).toEqual([
      {
        DBClusterIdentifier: `ledger-rekey-${RUN}`,
        SnapshotIdentifier: `ledger-rekey-${RUN}-src`,
        Engine: 'aurora-postgresql',
        EngineVersion: '16.4',
        KmsKeyId: NEW_KEY,
        Port: 5432,
        DBSubnetGroupName: 'db-private',
        VpcSecurityGroupIds: ['sg-a', 'sg-b'],
        DBClusterParameterGroupName: 'apg16-ledger',
        EnableIAMDatabaseAuthentication: true,
        EnableCloudwatchLogsExports: ['postgresql'],
        DeletionProtection: true,
        CopyTagsToSnapshot: true,
        BacktrackWindow: 3600,
        BackupRetentionPeriod: 7,
        PreferredBackupWindow: '03:00-04:00',
        ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 8 },
        StorageType: 'aurora-iopt1',
        EngineLifecycleSupport: 'open-source-rds-extended-support-disabled',
        NetworkType: 'IPV4',
        Domain: 'd-123',
        DomainIAMRoleName: 'rds-ad',
        Tags: [{ Key: 'team', Value: 'ledger' }, ...kit('rekeyed-copy'), { Key: LOCK_TAG, Value: RUN }],
      },
    ]);
    expect(r.message).toBe(`restoring cluster ledger-rekey-${RUN} with ${NEW_KEY}`);
    expect(r.state.artifacts).toEqual([{ type: 'db-cluster', id: `ledger-rekey-${RUN}`, region: 'us-east-1', role: 'new cluster on the target key' }]);
  });

  test('cross-Region: from the copy, with the groups given for the target Region, no lock tag; a source without groups or log exports sends none', async () => {
    rds.on(DescribeDBClustersCommand).rejects(notFound('DBClusterNotFoundFault'));
    rds.on(RestoreDBClusterFromSnapshotCommand).resolves({});
    const base = preflighted({ targetRegion: 'us-west-2', targetKeyArn: WEST_KEY, targetSecurityGroupIds: ['sg-west'] }, 'cluster');
    const s = { ...base, names: { ...base.names!, copySnapshot: `ledger-rekey-${RUN}-new` } };
    await steps.restore(clients(), s);
    const input = rds.commandCalls(RestoreDBClusterFromSnapshotCommand)[0].args[0].input;
    expect(input).toMatchObject({ SnapshotIdentifier: `ledger-rekey-${RUN}-new`, KmsKeyId: WEST_KEY, VpcSecurityGroupIds: ['sg-west'] });
    expect(input.Tags).toEqual([{ Key: 'team', Value: 'ledger' }, ...kit('rekeyed-copy')]);
    expect(s.artifacts[0].region).toBe('us-west-2');
    const bare = preflighted({}, 'cluster', { kind: 'cluster', cluster: captureCluster(cluster({ VpcSecurityGroups: [], EnabledCloudwatchLogsExports: [] }), [member('ledger-1')]) });
    await steps.restore(clients(), bare);
    const i2 = rds.commandCalls(RestoreDBClusterFromSnapshotCommand)[1].args[0].input;
    expect(i2.VpcSecurityGroupIds).toBeUndefined();
    expect(i2.EnableCloudwatchLogsExports).toBeUndefined();
    expect(i2).not.toHaveProperty('Domain');
  });

  test('an existing cluster of that name is reused, not restored again', async () => {
    rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ DBClusterIdentifier: `ledger-rekey-${RUN}` })] });
    const r = await steps.restore(clients(), preflighted({}, 'cluster'));
    expect(r.message).toBe(`ledger-rekey-${RUN} already exists, reusing it`);
    expect(rds.commandCalls(RestoreDBClusterFromSnapshotCommand)).toHaveLength(0);
    expect(r.state.artifacts).toHaveLength(1);
  });

  test('checkRestore: a failed or inaccessible cluster stops the run naming it; a missing one says to resume; creating polls', async () => {
    const s = preflighted({}, 'cluster');
    rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ Status: 'creating' })] });
    expect(await steps.checkRestore(clients(), s)).toMatchObject({ done: false, message: `ledger-rekey-${RUN} creating` });
    expect(s.progress).toEqual({ step: 'checkRestore', status: 'creating' });
    rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ Status: 'inaccessible-encryption-credentials' })] });
    await expect(steps.checkRestore(clients(), s)).rejects.toThrow(`[checkRestore] ledger-rekey-${RUN}: cluster status is "inaccessible-encryption-credentials". Next: inspect it; the source is untouched`);
    rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ Status: 'failed' })] });
    await expect(steps.checkRestore(clients(), s)).rejects.toThrow('cluster status is "failed"');
    rds.on(DescribeDBClustersCommand).rejects(notFound('DBClusterNotFoundFault'));
    await expect(steps.checkRestore(clients(), s)).rejects.toThrow(`[checkRestore] ledger-rekey-${RUN}: the restored cluster does not exist. Next: resume the run; the restore step will start it again`);
    expect(rds.commandCalls(CreateDBInstanceCommand)).toHaveLength(0);
  });

  test('members: the writer (not the first listed) is created first, with the whole CreateDBInstance input; readers once it is available; done when all are', async () => {
    const writerSecond = cluster({ DBClusterMembers: [{ DBInstanceIdentifier: 'ledger-1', IsClusterWriter: false, PromotionTier: 1 }, { DBInstanceIdentifier: 'ledger-2', IsClusterWriter: true, PromotionTier: 0 }] });
    const m2 = member('ledger-2', { MonitoringInterval: 0, PerformanceInsightsEnabled: false, PerformanceInsightsKMSKeyId: undefined, TagList: [{ Key: 'tier', Value: 'writer' }] });
    const s = preflighted({}, 'cluster', { kind: 'cluster', cluster: captureCluster(writerSecond, [member('ledger-1'), m2]) });
    rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ DBClusterIdentifier: `ledger-rekey-${RUN}` })] });
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    rds.on(CreateDBInstanceCommand).resolves({});
    const a = await steps.checkRestore(clients(), s);
    expect(a).toMatchObject({ done: false, message: `ledger-rekey-${RUN} available; members ledger-2-rekey-${RUN}: creating, ledger-1-rekey-${RUN}: waiting for the writer` });
    expect(rds.commandCalls(CreateDBInstanceCommand).map((c) => c.args[0].input)).toEqual([
      {
        DBInstanceIdentifier: `ledger-2-rekey-${RUN}`,
        DBClusterIdentifier: `ledger-rekey-${RUN}`,
        Engine: 'aurora-postgresql',
        DBInstanceClass: 'db.r6g.large',
        DBParameterGroupName: 'default.aurora-postgresql16',
        AvailabilityZone: 'us-east-1a',
        PubliclyAccessible: false,
        AutoMinorVersionUpgrade: true,
        PreferredMaintenanceWindow: 'sun:05:00-sun:06:00',
        PromotionTier: 0,
        CACertificateIdentifier: 'rds-ca-rsa2048-g1',
        CopyTagsToSnapshot: true,
        MonitoringInterval: undefined,
        MonitoringRoleArn: undefined,
        Tags: [{ Key: 'tier', Value: 'writer' }, ...kit('rekeyed-member')],
      },
    ]);
    expect(a.state.artifacts.map((x) => [x.id, x.role])).toEqual([[`ledger-2-rekey-${RUN}`, 'member of the new cluster (was ledger-2)']]);
    // The writer is up: the reader is created (with PI on the TARGET key and monitoring).
    rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: `ledger-2-rekey-${RUN}` }).resolves({ DBInstances: [member(`ledger-2-rekey-${RUN}`)] });
    const b = await steps.checkRestore(clients(), a.state);
    expect(b.done).toBe(false);
    expect(rds.commandCalls(CreateDBInstanceCommand)[1].args[0].input).toMatchObject({
      DBInstanceIdentifier: `ledger-1-rekey-${RUN}`,
      PromotionTier: 1,
      MonitoringInterval: 60,
      MonitoringRoleArn: `arn:aws:iam::${ACCOUNT}:role/rds-monitoring`,
      EnablePerformanceInsights: true,
      PerformanceInsightsKMSKeyId: NEW_KEY,
      PerformanceInsightsRetentionPeriod: 7,
    });
    // Both exist, one still creating: not done; both available: done, nothing created again.
    rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: `ledger-1-rekey-${RUN}` }).resolves({ DBInstances: [member(`ledger-1-rekey-${RUN}`, { DBInstanceStatus: 'creating' })] });
    expect(await steps.checkRestore(clients(), b.state)).toMatchObject({ done: false, message: `ledger-rekey-${RUN} available; members ledger-2-rekey-${RUN}: available, ledger-1-rekey-${RUN}: creating` });
    rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: `ledger-1-rekey-${RUN}` }).resolves({ DBInstances: [member(`ledger-1-rekey-${RUN}`)] });
    const d = await steps.checkRestore(clients(), b.state);
    expect(d).toMatchObject({ done: true });
    expect(d.state.lastStep).toBe('checkRestore');
    expect(rds.commandCalls(CreateDBInstanceCommand)).toHaveLength(2);
    expect(d.state.artifacts).toHaveLength(2);
  });

  test('members of a cross-Region restore get no Availability Zone of the source Region', async () => {
    const s = preflighted({ targetRegion: 'us-west-2', targetKeyArn: WEST_KEY }, 'cluster', { kind: 'cluster', cluster: captureCluster(cluster({ DBClusterMembers: [{ DBInstanceIdentifier: 'ledger-1', IsClusterWriter: true }] }), [member('ledger-1')]) });
    rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ DBClusterIdentifier: `ledger-rekey-${RUN}` })] });
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    rds.on(CreateDBInstanceCommand).resolves({});
    await steps.checkRestore(clients(), s);
    const input = rds.commandCalls(CreateDBInstanceCommand)[0].args[0].input;
    expect(input.AvailabilityZone).toBeUndefined();
    expect(input.PerformanceInsightsKMSKeyId).toBe(WEST_KEY);
  });

  test('applySettings (Aurora): cluster maintenance window and Data API, each member again, missing cluster roles added', async () => {
    const src = cluster({ HttpEndpointEnabled: true, AssociatedRoles: [{ RoleArn: 'arn:aws:iam::123456789012:role/s3', FeatureName: 's3Import' }, { RoleArn: 'arn:aws:iam::123456789012:role/lambda', FeatureName: 'Lambda' }] });
    const s = preflighted({}, 'cluster', { kind: 'cluster', cluster: captureCluster(src, [member('ledger-1'), member('ledger-2', { MonitoringInterval: 0, PerformanceInsightsEnabled: false, PerformanceInsightsKMSKeyId: undefined })]) });
    rds.on(ModifyDBClusterCommand).resolves({});
    rds.on(ModifyDBInstanceCommand).resolves({});
    rds.on(AddRoleToDBClusterCommand).resolves({});
    rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ AssociatedRoles: [{ RoleArn: 'arn:aws:iam::123456789012:role/s3', FeatureName: 's3Import' }] })] });
    const r = await steps.applySettings(clients(), s);
    expect(rds.commandCalls(ModifyDBClusterCommand).map((c) => c.args[0].input)).toEqual([{ DBClusterIdentifier: `ledger-rekey-${RUN}`, ApplyImmediately: true, PreferredMaintenanceWindow: 'sun:05:00-sun:06:00', EnableHttpEndpoint: true }]);
    expect(rds.commandCalls(ModifyDBInstanceCommand).map((c) => c.args[0].input)).toEqual([
      {
        DBInstanceIdentifier: `ledger-1-rekey-${RUN}`,
        ApplyImmediately: true,
        PreferredMaintenanceWindow: 'sun:05:00-sun:06:00',
        MonitoringInterval: 60,
        MonitoringRoleArn: `arn:aws:iam::${ACCOUNT}:role/rds-monitoring`,
        EnablePerformanceInsights: true,
        PerformanceInsightsKMSKeyId: NEW_KEY,
        PerformanceInsightsRetentionPeriod: 7,
      },
      { DBInstanceIdentifier: `ledger-2-rekey-${RUN}`, ApplyImmediately: true, PreferredMaintenanceWindow: 'sun:05:00-sun:06:00' },
    ]);
    expect(rds.commandCalls(AddRoleToDBClusterCommand).map((c) => c.args[0].input)).toEqual([{ DBClusterIdentifier: `ledger-rekey-${RUN}`, RoleArn: 'arn:aws:iam::123456789012:role/lambda', FeatureName: 'Lambda' }]);
    expect(r.message).toBe(`applied maintenance windows, monitoring, Performance Insights to 2 member(s) and 2 IAM role(s) to ledger-rekey-${RUN}`);
    // Without the Data API on the source: not turned on.
    rds.resetHistory();
    await steps.applySettings(clients(), preflighted({}, 'cluster'));
    expect(rds.commandCalls(ModifyDBClusterCommand)[0].args[0].input).not.toHaveProperty('EnableHttpEndpoint');
  });
});

describe('instance restore', () => {
  test('cross-Region: the target-Region groups, no source AZ, a non-default option group kept; the default one not named', async () => {
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    rds.on(RestoreDBInstanceFromDBSnapshotCommand).resolves({});
    const src = instance({ MultiAZ: false, AvailabilityZone: 'us-east-1b', OptionGroupMemberships: [{ OptionGroupName: 'orders-options' }], ProcessorFeatures: [{ Name: 'coreCount', Value: '4' }] });
    await steps.restore(clients(), preflighted({ targetRegion: 'us-west-2', targetKeyArn: WEST_KEY, targetSecurityGroupIds: ['sg-west'] }, 'instance', { kind: 'instance', instance: captureInstance(src) }));
    const x = rds.commandCalls(RestoreDBInstanceFromDBSnapshotCommand)[0].args[0].input;
    expect(x).toMatchObject({ VpcSecurityGroupIds: ['sg-west'], OptionGroupName: 'orders-options', ProcessorFeatures: [{ Name: 'coreCount', Value: '4' }], Port: 5432, PubliclyAccessible: false, AutoMinorVersionUpgrade: true, CopyTagsToSnapshot: true, AllocatedStorage: 300 });
    expect(x.AvailabilityZone).toBeUndefined();
    // The run lock goes only on a same-Region copy.
    expect(x.Tags!.map((t) => t.Key)).not.toContain(LOCK_TAG);
    rds.resetHistory();
    await steps.restore(clients(), preflighted({}, 'instance', { kind: 'instance', instance: captureInstance(instance({ MultiAZ: false, AvailabilityZone: 'us-east-1b', VpcSecurityGroups: [], EnabledCloudwatchLogsExports: [] })) }));
    const y = rds.commandCalls(RestoreDBInstanceFromDBSnapshotCommand)[0].args[0].input;
    expect(y).toMatchObject({ AvailabilityZone: 'us-east-1b' });
    expect(y.OptionGroupName).toBeUndefined();
    expect(y.VpcSecurityGroupIds).toBeUndefined();
    expect(y.EnableCloudwatchLogsExports).toBeUndefined();
    expect(y.ProcessorFeatures).toBeUndefined();
    expect(y.Tags).toContainEqual({ Key: LOCK_TAG, Value: RUN });
  });

  test('Active Directory membership is carried: self-managed by FQDN/OU/secret/DNS, or AWS Managed AD by directory and role', async () => {
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    rds.on(RestoreDBInstanceFromDBSnapshotCommand).resolves({});
    const selfManaged = instance({ DomainMemberships: [{ FQDN: 'corp.example.com', OU: 'OU=db,DC=corp', AuthSecretArn: 'arn:secret', DnsIps: ['10.0.0.2'], Status: 'joined' }] });
    await steps.restore(clients(), preflighted({}, 'instance', { kind: 'instance', instance: captureInstance(selfManaged) }));
    expect(rds.commandCalls(RestoreDBInstanceFromDBSnapshotCommand)[0].args[0].input).toMatchObject({ DomainFqdn: 'corp.example.com', DomainOu: 'OU=db,DC=corp', DomainAuthSecretArn: 'arn:secret', DomainDnsIps: ['10.0.0.2'] });
    const managed = instance({ DomainMemberships: [{ Domain: 'd-9', IAMRoleName: 'rds-ad', Status: 'joined' }] });
    await steps.restore(clients(), preflighted({}, 'instance', { kind: 'instance', instance: captureInstance(managed) }));
    const m = rds.commandCalls(RestoreDBInstanceFromDBSnapshotCommand)[1].args[0].input;
    expect(m).toMatchObject({ Domain: 'd-9', DomainIAMRoleName: 'rds-ad' });
    expect(m).not.toHaveProperty('DomainFqdn');
  });

  test('an existing instance of that name is reused; checkRestore polls, stops on a failed restore, says to resume when missing', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance({ DBInstanceIdentifier: `orders-rekey-${RUN}`, DBInstanceStatus: 'creating' })] });
    const r = await steps.restore(clients(), preflighted());
    expect(r.message).toBe(`orders-rekey-${RUN} already exists, reusing it`);
    expect(rds.commandCalls(RestoreDBInstanceFromDBSnapshotCommand)).toHaveLength(0);
    expect(await steps.checkRestore(clients(), r.state)).toMatchObject({ done: false, message: `orders-rekey-${RUN} creating` });
    for (const bad of ['failed', 'incompatible-restore', 'incompatible-parameters', 'incompatible-network', 'storage-full']) {
      rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance({ DBInstanceStatus: bad })] });
      await expect(steps.checkRestore(clients(), r.state)).rejects.toThrow(`[checkRestore] orders-rekey-${RUN}: restored instance status is "${bad}". Next: inspect it; the source is untouched`);
    }
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
    expect(await steps.checkRestore(clients(), r.state)).toMatchObject({ done: true, message: `orders-rekey-${RUN} available` });
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    await expect(steps.checkRestore(clients(), r.state)).rejects.toThrow(`[checkRestore] orders-rekey-${RUN}: the restored instance does not exist. Next: resume the run; the restore step will start it again`);
  });

  test('applySettings: no monitoring/PI on the source sends neither; roles already on the copy are not added again', async () => {
    rds.on(ModifyDBInstanceCommand).resolves({});
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
    const plain = instance({ MonitoringInterval: 0, PerformanceInsightsEnabled: false, PerformanceInsightsKMSKeyId: undefined });
    const r = await steps.applySettings(clients(), preflighted({}, 'instance', { kind: 'instance', instance: captureInstance(plain) }));
    expect(rds.commandCalls(ModifyDBInstanceCommand)[0].args[0].input).toEqual({ DBInstanceIdentifier: `orders-rekey-${RUN}`, ApplyImmediately: true, PreferredMaintenanceWindow: 'sun:05:00-sun:06:00', MaxAllocatedStorage: 1000 });
    expect(rds.calls().filter((c) => c.args[0].constructor.name === 'AddRoleToDBInstanceCommand')).toHaveLength(0);
    expect(r.message).toBe(`applied maintenance window, storage autoscaling, monitoring, Performance Insights and 1 IAM role(s) to orders-rekey-${RUN}`);
  });

  test('a step that needs state preflight did not write names the missing piece', async () => {
    await expect(steps.restore(clients(), preflighted({ targetKeyArn: undefined }))).rejects.toThrow('[restore] target key: missing from the state document. Next: run preflight first (or resume from the state file it wrote)');
    await expect(steps.restore(clients(), preflighted({ names: undefined }))).rejects.toThrow('[restore] names: missing from the state document');
    await expect(steps.restore(clients(), preflighted({ source: undefined }))).rejects.toThrow('[restore] source settings: missing from the state document');
    await expect(steps.restore(clients(), preflighted({}, 'instance', { kind: 'cluster', cluster: captureCluster(cluster(), []) }))).rejects.toThrow('[restore] orders: state says cluster, step expects an instance. Next: check the state file');
    await expect(steps.applySettings(clients(), preflighted({}, 'cluster', { kind: 'instance', instance: captureInstance(instance()) }))).rejects.toThrow('[applySettings] ledger: state says instance, step expects a cluster');
    expect(rds.calls().filter((c) => /^(Restore|Modify|Create)/.test(c.args[0].constructor.name))).toHaveLength(0);
  });
});

describe('snapshot, copy and share (Aurora and sharing)', () => {
  test('createSnapshot of a cluster: CreateDBClusterSnapshot with the kit tags and writes-stopped tag; the artifact is a cluster snapshot', async () => {
    rds.on(DescribeDBClusterSnapshotsCommand).rejects(notFound('DBClusterSnapshotNotFoundFault'));
    rds.on(CreateDBClusterSnapshotCommand).resolves({});
    const r = await steps.createSnapshot(clients(), preflighted({ cutoverRequested: true }, 'cluster'));
    expect(rds.commandCalls(CreateDBClusterSnapshotCommand).map((c) => c.args[0].input)).toEqual([
      { DBClusterIdentifier: 'ledger', DBClusterSnapshotIdentifier: `ledger-rekey-${RUN}-src`, Tags: [...kit('source-snapshot'), { Key: 'db-ops-kit:rekey-writes-stopped', Value: 'true' }] },
    ]);
    expect(r.message).toBe(`creating snapshot ledger-rekey-${RUN}-src`);
    expect(r.state.artifacts).toEqual([{ type: 'db-cluster-snapshot', id: `ledger-rekey-${RUN}-src`, region: 'us-east-1', role: 'snapshot of the source (source key)' }]);
  });

  test('a resumed run keeps the time and declaration recorded first; an existing snapshot without a creation time is timed now', async () => {
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: 'creating', TagList: [{ Key: 'db-ops-kit:rekey-writes-stopped', Value: 'true' }] }] });
    const r = await steps.createSnapshot(clients(), preflighted());
    expect(r.state.snapshotWritesStopped).toBe(true);
    expect(Math.abs(Date.parse(r.state.snapshotStartedAt!) - Date.now())).toBeLessThan(60_000);
    expect(r.message).toBe(`orders-rekey-${RUN}-src already exists, reusing it`);
    const kept = await steps.createSnapshot(clients(), preflighted({ snapshotStartedAt: '2026-11-30T03:05:00.000Z', snapshotWritesStopped: false }));
    expect(kept.state).toMatchObject({ snapshotStartedAt: '2026-11-30T03:05:00.000Z', snapshotWritesStopped: false });
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: 'creating', TagList: [{ Key: 'other', Value: 'true' }] }] });
    expect((await steps.createSnapshot(clients(), preflighted({ cutoverRequested: true }))).state.snapshotWritesStopped).toBe(false);
    expect(rds.calls().filter((c) => c.args[0].constructor.name === 'CreateDBSnapshotCommand')).toHaveLength(0);
  });

  test('copySnapshot (Aurora, shared with another account): CopyDBClusterSnapshot by name with the target key, no SourceRegion', async () => {
    rds.on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: `ledger-rekey-${RUN}-new` }).rejects(notFound('DBClusterSnapshotNotFoundFault'));
    rds.on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: `ledger-rekey-${RUN}-src` }).resolves({ DBClusterSnapshots: [{ Status: 'available', DBClusterSnapshotArn: 'arn:src' }] });
    rds.on(CopyDBClusterSnapshotCommand).resolves({});
    const base = preflighted({ shareWithAccount: '210987654321' }, 'cluster');
    const r = await steps.copySnapshot(clients(), { ...base, names: { ...base.names!, copySnapshot: `ledger-rekey-${RUN}-new` } });
    expect(rds.commandCalls(CopyDBClusterSnapshotCommand).map((c) => c.args[0].input)).toEqual([
      { SourceDBClusterSnapshotIdentifier: `ledger-rekey-${RUN}-src`, TargetDBClusterSnapshotIdentifier: `ledger-rekey-${RUN}-new`, KmsKeyId: NEW_KEY, Tags: kit('target-key-copy') },
    ]);
    expect(r.message).toBe(`copying ledger-rekey-${RUN}-src to ledger-rekey-${RUN}-new with ${NEW_KEY}`);
    expect(r.state.artifacts).toEqual([{ type: 'db-cluster-snapshot', id: `ledger-rekey-${RUN}-new`, region: 'us-east-1', role: 'copy encrypted with the target key' }]);
  });

  test('copySnapshot cross-Region (instance) names a non-default option group for the target Region; an existing copy is reused; a missing source snapshot is named', async () => {
    rds.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: `orders-rekey-${RUN}-new` }).rejects(notFound('DBSnapshotNotFoundFault'));
    rds.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: `orders-rekey-${RUN}-src` }).resolves({ DBSnapshots: [{ Status: 'available', DBSnapshotArn: 'arn:src' }] });
    rds.on(CopyDBSnapshotCommand).resolves({});
    const src = { kind: 'instance' as const, instance: captureInstance(instance({ OptionGroupMemberships: [{ OptionGroupName: 'orders-options' }] })) };
    await steps.copySnapshot(clients(), preflighted({ targetRegion: 'us-west-2', targetKeyArn: WEST_KEY }, 'instance', src));
    expect(rds.commandCalls(CopyDBSnapshotCommand)[0].args[0].input).toEqual({
      SourceDBSnapshotIdentifier: 'arn:src',
      TargetDBSnapshotIdentifier: `orders-rekey-${RUN}-new`,
      KmsKeyId: WEST_KEY,
      Tags: kit('target-key-copy').map((t) => (t.Value === 'ledger' ? { ...t, Value: 'orders' } : t)),
      SourceRegion: 'us-east-1',
      OptionGroupName: 'orders-options',
    });
    rds.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: `orders-rekey-${RUN}-src` }).rejects(notFound('DBSnapshotNotFoundFault'));
    await expect(steps.copySnapshot(clients(), preflighted())).rejects.toThrow(`[copySnapshot] snapshot orders-rekey-${RUN}-src: missing from the state document`);
    rds.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: `orders-rekey-${RUN}-new` }).resolves({ DBSnapshots: [{ Status: 'copying' }] });
    const r = await steps.copySnapshot(clients(), preflighted());
    expect(r.message).toBe(`orders-rekey-${RUN}-new already exists, reusing it`);
    expect(rds.commandCalls(CopyDBSnapshotCommand)).toHaveLength(1);
  });

  test('shareSnapshot: adds the account to the copy\'s restore attribute (instance and cluster); not shared without an account', async () => {
    rds.on(ModifyDBSnapshotAttributeCommand).resolves({});
    rds.on(ModifyDBClusterSnapshotAttributeCommand).resolves({});
    expect((await steps.shareSnapshot(clients(), preflighted())).message).toBe('not shared (no --share-with-account)');
    expect(rds.calls()).toHaveLength(0);
    const r = await steps.shareSnapshot(clients(), preflighted({ shareWithAccount: '210987654321' }));
    expect(rds.commandCalls(ModifyDBSnapshotAttributeCommand).map((c) => c.args[0].input)).toEqual([{ DBSnapshotIdentifier: `orders-rekey-${RUN}-new`, AttributeName: 'restore', ValuesToAdd: ['210987654321'] }]);
    expect(r.message).toBe(`shared orders-rekey-${RUN}-new with account 210987654321; in that account copy it with its own key and restore (this run ends here)`);
    const base = preflighted({ shareWithAccount: '210987654321' }, 'cluster');
    await steps.shareSnapshot(clients(), { ...base, names: { ...base.names!, copySnapshot: 'ledger-copy' } });
    expect(rds.commandCalls(ModifyDBClusterSnapshotAttributeCommand).map((c) => c.args[0].input)).toEqual([{ DBClusterSnapshotIdentifier: 'ledger-copy', AttributeName: 'restore', ValuesToAdd: ['210987654321'] }]);
    await expect(steps.shareSnapshot(clients(), base)).rejects.toThrow('[shareSnapshot] copy snapshot: missing from the state document');
  });
});

describe('finalize', () => {
  test('tags every kept resource (by its ARN in its Region) with its role, skips the blue/green deployment, releases the lock, lists what is kept', async () => {
    rds.on(AddTagsToResourceCommand).resolves({});
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance({ TagList: [{ Key: LOCK_TAG, Value: RUN }] })] });
    rds.on(ListTagsForResourceCommand).resolves({ TagList: [{ Key: LOCK_TAG, Value: RUN }] });
    rds.on(RemoveTagsFromResourceCommand).resolves({});
    const s = preflighted({ targetRegion: 'us-west-2' });
    s.artifacts.push(
      { type: 'db-snapshot', id: 'orders-src', region: 'us-east-1', role: 'snapshot of the source (source key)' },
      { type: 'db-cluster-snapshot', id: 'c-snap', region: 'us-west-2', role: 'copy' },
      { type: 'db-instance', id: 'orders-new', region: 'us-west-2', role: 'x'.repeat(300) },
      { type: 'db-cluster', id: 'c', region: 'us-east-1', role: 'r' },
      { type: 'blue-green-deployment', id: 'bgd-1', region: 'us-east-1', role: 'bg' },
    );
    const r = await steps.finalize(clients(), s);
    const tagged = rds.commandCalls(AddTagsToResourceCommand).map((c) => c.args[0].input);
    expect(tagged.map((t) => t.ResourceName)).toEqual([
      `arn:aws:rds:us-east-1:${ACCOUNT}:snapshot:orders-src`,
      `arn:aws:rds:us-west-2:${ACCOUNT}:cluster-snapshot:c-snap`,
      `arn:aws:rds:us-west-2:${ACCOUNT}:db:orders-new`,
      `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:c`,
    ]);
    expect(tagged[0].Tags).toEqual([
      { Key: 'db-ops-kit:rekey-run', Value: RUN },
      { Key: 'db-ops-kit:rekey-source', Value: 'orders' },
      { Key: 'db-ops-kit:rekey-role', Value: 'snapshot of the source (source key)' },
      { Key: 'db-ops-kit:rekey-kept', Value: 'delete only when you no longer need it' },
    ]);
    // AWS tag values are at most 256 characters.
    expect(tagged[2].Tags![2].Value).toHaveLength(250);
    expect(rds.commandCalls(RemoveTagsFromResourceCommand).map((c) => c.args[0].input)).toEqual([{ ResourceName: instance().DBInstanceArn, TagKeys: [LOCK_TAG] }]);
    expect(r.message).toBe(
      'kept 5 resource(s): db-snapshot orders-src (us-east-1); db-cluster-snapshot c-snap (us-west-2); db-instance orders-new (us-west-2); db-cluster c (us-east-1); blue-green-deployment bgd-1 (us-east-1); run lock released (orders)',
    );
  });

  test('a resource that cannot be tagged (renamed since) is a warning, not a failure; GovCloud ARNs keep their partition', async () => {
    rds.on(AddTagsToResourceCommand).rejects(Object.assign(new Error('gone'), { name: 'DBInstanceNotFoundFault' }));
    rds.on(DescribeDBInstancesCommand).rejects(notFound());
    const src = { kind: 'instance' as const, instance: captureInstance(instance({ DBInstanceArn: `arn:aws-us-gov:rds:us-gov-west-1:${ACCOUNT}:db:orders` })) };
    const s = preflighted({}, 'instance', src);
    s.artifacts.push({ type: 'db-instance', id: 'orders-old', region: 'us-east-1', role: 'r' });
    const r = await steps.finalize(clients(), s);
    expect(r.state.warnings).toEqual([`could not tag arn:aws-us-gov:rds:us-east-1:${ACCOUNT}:db:orders-old: DBInstanceNotFoundFault`]);
    expect(r.message).toBe('kept 1 resource(s): db-instance orders-old (us-east-1)');
    await expect(steps.finalize(clients(), { ...preflighted({ account: undefined }), artifacts: [{ type: 'db-instance', id: 'x', region: 'us-east-1', role: 'r' }] })).rejects.toThrow('[finalize] account: missing from the state document');
  });
});
