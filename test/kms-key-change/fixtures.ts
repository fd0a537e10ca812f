/** Shared fixtures for the kms-key-change unit tests (SDK responses as RDS/KMS return them). */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { KMSClient } from '@aws-sdk/client-kms';
import { DBCluster, DBInstance, RDSClient } from '@aws-sdk/client-rds';
import { Clients } from '../../lambda/kms-key-change/clients';
import { captureCluster, captureInstance } from '../../lambda/kms-key-change/settings';
import { newState, RekeyState } from '../../lambda/kms-key-change/state';

export const ACCOUNT = '123456789012';
export const OLD_KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/00000000-0000-0000-0000-00000000000a`;
export const NEW_KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/00000000-0000-0000-0000-00000000000b`;
export const DEFAULT_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }],
});

export function instance(over: Partial<DBInstance> = {}): DBInstance {
  return {
    DBInstanceIdentifier: 'orders',
    DBInstanceArn: `arn:aws:rds:us-east-1:${ACCOUNT}:db:orders`,
    DBInstanceClass: 'db.r6g.large',
    Engine: 'postgres',
    EngineVersion: '16.4',
    DBInstanceStatus: 'available',
    AllocatedStorage: 300,
    MaxAllocatedStorage: 1000,
    StorageType: 'gp3',
    StorageThroughput: 125,
    Iops: 3000,
    MultiAZ: true,
    DBSubnetGroup: { DBSubnetGroupName: 'db-private' },
    PubliclyAccessible: false,
    AutoMinorVersionUpgrade: true,
    Endpoint: { Address: 'orders.x.us-east-1.rds.amazonaws.com', Port: 5432 },
    VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-2', Status: 'active' }, { VpcSecurityGroupId: 'sg-1', Status: 'active' }],
    DBParameterGroups: [{ DBParameterGroupName: 'pg16-orders' }],
    OptionGroupMemberships: [{ OptionGroupName: 'default:postgres-16' }],
    CopyTagsToSnapshot: true,
    IAMDatabaseAuthenticationEnabled: true,
    EnabledCloudwatchLogsExports: ['upgrade', 'postgresql'],
    DeletionProtection: true,
    BackupRetentionPeriod: 14,
    PreferredBackupWindow: '03:00-04:00',
    PreferredMaintenanceWindow: 'sun:05:00-sun:06:00',
    PerformanceInsightsEnabled: true,
    PerformanceInsightsKMSKeyId: OLD_KEY,
    PerformanceInsightsRetentionPeriod: 7,
    MonitoringInterval: 60,
    MonitoringRoleArn: `arn:aws:iam::${ACCOUNT}:role/rds-monitoring`,
    AssociatedRoles: [{ RoleArn: `arn:aws:iam::${ACCOUNT}:role/s3-import`, FeatureName: 's3Import', Status: 'ACTIVE' }],
    CACertificateIdentifier: 'rds-ca-rsa2048-g1',
    TagList: [{ Key: 'team', Value: 'orders' }],
    StorageEncrypted: true,
    KmsKeyId: OLD_KEY,
    ReadReplicaDBInstanceIdentifiers: [],
    ...over,
  };
}

export function cluster(over: Partial<DBCluster> = {}): DBCluster {
  return {
    DBClusterIdentifier: 'ledger',
    DBClusterArn: `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:ledger`,
    Engine: 'aurora-postgresql',
    EngineVersion: '16.4',
    EngineMode: 'provisioned',
    Status: 'available',
    Port: 5432,
    DBSubnetGroup: 'db-private',
    VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-1', Status: 'active' }],
    DBClusterParameterGroup: 'apg16-ledger',
    IAMDatabaseAuthenticationEnabled: true,
    EnabledCloudwatchLogsExports: ['postgresql'],
    DeletionProtection: true,
    BackupRetentionPeriod: 7,
    PreferredBackupWindow: '03:00-04:00',
    PreferredMaintenanceWindow: 'sun:05:00-sun:06:00',
    StorageEncrypted: true,
    KmsKeyId: OLD_KEY,
    TagList: [{ Key: 'team', Value: 'ledger' }],
    DBClusterMembers: [
      { DBInstanceIdentifier: 'ledger-1', IsClusterWriter: true, PromotionTier: 0 },
      { DBInstanceIdentifier: 'ledger-2', IsClusterWriter: false, PromotionTier: 1 },
    ],
    ...over,
  };
}

export function member(id: string, over: Partial<DBInstance> = {}): DBInstance {
  return instance({
    DBInstanceIdentifier: id,
    DBInstanceArn: `arn:aws:rds:us-east-1:${ACCOUNT}:db:${id}`,
    DBClusterIdentifier: 'ledger',
    Engine: 'aurora-postgresql',
    AllocatedStorage: 1,
    MaxAllocatedStorage: undefined,
    MultiAZ: false,
    AvailabilityZone: 'us-east-1a',
    DBParameterGroups: [{ DBParameterGroupName: 'default.aurora-postgresql16' }],
    AssociatedRoles: [],
    ...over,
  });
}

export function notFound(name = 'DBInstanceNotFoundFault'): Error {
  const e = new Error('not found');
  e.name = name;
  return e;
}

export function clients(): Clients {
  const rds = new RDSClient({ region: 'us-east-1' });
  const kms = new KMSClient({ region: 'us-east-1' });
  return { rds, kms, targetRds: rds, targetKms: kms, ec2: new EC2Client({ region: 'us-east-1' }), cw: new CloudWatchClient({ region: 'us-east-1' }) };
}

const PREFLIGHT_RUN = '20261130030405';

/** A state document just after preflight of run 20261130030405: `orders` (instance) or `ledger` with two members (cluster). */
export function preflighted(over: Partial<RekeyState> = {}, kind: 'instance' | 'cluster' = 'instance', src?: RekeyState['source']): RekeyState {
  const s = newState({ kind, sourceId: kind === 'instance' ? 'orders' : 'ledger', kmsKey: NEW_KEY, region: 'us-east-1', now: new Date('2026-11-30T03:04:05Z') });
  return {
    ...s,
    account: ACCOUNT,
    targetKeyArn: NEW_KEY,
    sourceKeyArn: OLD_KEY,
    lastStep: 'preflight',
    source: src ?? (kind === 'instance' ? { kind: 'instance', instance: captureInstance(instance()) } : { kind: 'cluster', cluster: captureCluster(cluster(), [member('ledger-1'), member('ledger-2')]) }),
    names:
      kind === 'instance'
        ? { sourceSnapshot: `orders-rekey-${PREFLIGHT_RUN}-src`, copySnapshot: `orders-rekey-${PREFLIGHT_RUN}-new`, newId: `orders-rekey-${PREFLIGHT_RUN}` }
        : { sourceSnapshot: `ledger-rekey-${PREFLIGHT_RUN}-src`, newId: `ledger-rekey-${PREFLIGHT_RUN}`, memberIds: { 'ledger-1': `ledger-1-rekey-${PREFLIGHT_RUN}`, 'ledger-2': `ledger-2-rekey-${PREFLIGHT_RUN}` } },
    ...over,
  };
}
