/**
 * What the run captures from the source and compares on the new resource
 * (lambda/kms-key-change/settings.ts): every captured field from a DescribeDB* answer, the user tags
 * (kit and aws: tags left out), the parity report for instances, clusters (members paired by the
 * run's names, missing and extra members), cross-Region and mismatched kinds, and the fixed-width
 * text the CLI prints. Pure functions over SDK-shaped objects (./fixtures.ts); no AWS.
 */
import { DBInstance } from '@aws-sdk/client-rds';
import { captureCluster, captureInstance, CapturedSettings, formatParity, parityIsClean, parityReport, userTags } from '../../lambda/kms-key-change/settings';
import { ACCOUNT, cluster, instance, member, NEW_KEY, OLD_KEY } from './fixtures';

test('userTags: the user\'s tags sorted by key, a missing value as "", kit and aws: tags and keyless tags left out', () => {
  expect(userTags([{ Key: 'z', Value: '1' }, { Key: 'db-ops-kit:rekey-run', Value: 'r' }, { Key: 'aws:cloudformation:stack-name', Value: 's' }, { Key: 'a' }, { Value: 'no key' }, { Key: 'x-aws:y', Value: 'kept' }])).toEqual([
    { Key: 'a', Value: '' },
    { Key: 'x-aws:y', Value: 'kept' },
    { Key: 'z', Value: '1' },
  ]);
  expect(userTags(undefined)).toEqual([]);
});

test('captureInstance: every field of a full DescribeDBInstances answer', () => {
  const i = instance({
    MultiAZ: false,
    AvailabilityZone: 'us-east-1b',
    Endpoint: undefined,
    DbInstancePort: 5433,
    DomainMemberships: [{ Domain: 'd-1', IAMRoleName: 'role', FQDN: 'f.example.com', OU: 'OU=db', AuthSecretArn: 'arn:s', DnsIps: ['10.0.0.1'] }],
    NetworkType: 'DUAL',
    PromotionTier: 2,
    ReadReplicaSourceDBInstanceIdentifier: 'primary',
    ReadReplicaDBInstanceIdentifiers: ['r1'],
    ReadReplicaDBClusterIdentifiers: ['c1'],
    MasterUserSecret: { SecretArn: 'arn:secret' },
    EngineLifecycleSupport: 'open-source-rds-extended-support-disabled',
    DedicatedLogVolume: true,
    LicenseModel: 'postgresql-license',
    ProcessorFeatures: [{ Name: 'threadsPerCore', Value: '1' }, { Name: 'coreCount', Value: '2' }],
    ActivityStreamStatus: 'started',
    DBInstanceAutomatedBackupsReplications: [{ DBInstanceAutomatedBackupsArn: 'arn:aws:rds:us-west-2:1:auto-backup:x' }, { DBInstanceAutomatedBackupsArn: 'arn:aws:rds:eu-west-1:1:auto-backup:y' }, {}],
    AdditionalStorageVolumes: [{ VolumeName: 'rdsdbdata3', AllocatedStorage: 50, IOPS: 3000, StorageType: 'gp3' }, { VolumeName: 'rdsdbdata2', AllocatedStorage: 20 }] as never,
    TagList: [{ Key: 'team', Value: 'orders' }, { Key: 'db-ops-kit:rekey-lock', Value: '1' }],
  });
  expect(captureInstance(i)).toEqual({
    id: 'orders',
    arn: `arn:aws:rds:us-east-1:${ACCOUNT}:db:orders`,
    engine: 'postgres',
    engineVersion: '16.4',
    instanceClass: 'db.r6g.large',
    allocatedStorage: 300,
    maxAllocatedStorage: 1000,
    storageType: 'gp3',
    iops: 3000,
    storageThroughput: 125,
    multiAZ: false,
    availabilityZone: 'us-east-1b',
    subnetGroup: 'db-private',
    publiclyAccessible: false,
    autoMinorVersionUpgrade: true,
    port: 5433,
    securityGroupIds: ['sg-1', 'sg-2'],
    parameterGroup: 'pg16-orders',
    optionGroup: 'default:postgres-16',
    copyTagsToSnapshot: true,
    iamAuth: true,
    logExports: ['postgresql', 'upgrade'],
    deletionProtection: true,
    backupRetentionPeriod: 14,
    backupWindow: '03:00-04:00',
    maintenanceWindow: 'sun:05:00-sun:06:00',
    performanceInsights: true,
    performanceInsightsKmsKeyId: OLD_KEY,
    performanceInsightsRetention: 7,
    monitoringInterval: 60,
    monitoringRoleArn: `arn:aws:iam::${ACCOUNT}:role/rds-monitoring`,
    associatedRoles: [{ roleArn: `arn:aws:iam::${ACCOUNT}:role/s3-import`, featureName: 's3Import' }],
    domain: { domain: 'd-1', iamRoleName: 'role', fqdn: 'f.example.com', ou: 'OU=db', authSecretArn: 'arn:s', dnsIps: ['10.0.0.1'] },
    caCertificate: 'rds-ca-rsa2048-g1',
    networkType: 'DUAL',
    promotionTier: 2,
    clusterId: undefined,
    tags: [{ Key: 'team', Value: 'orders' }],
    kmsKeyId: OLD_KEY,
    encrypted: true,
    status: 'available',
    readReplicaSource: 'primary',
    readReplicas: ['r1', 'c1'],
    managedMasterSecret: true,
    engineLifecycleSupport: 'open-source-rds-extended-support-disabled',
    dedicatedLogVolume: true,
    licenseModel: 'postgresql-license',
    processorFeatures: [{ name: 'coreCount', value: '2' }, { name: 'threadsPerCore', value: '1' }],
    activityStream: 'started',
    backupReplicationRegions: ['eu-west-1', 'us-west-2'],
    additionalStorageVolumes: [
      { name: 'rdsdbdata2', allocatedStorage: 20, iops: undefined, storageType: undefined },
      { name: 'rdsdbdata3', allocatedStorage: 50, iops: 3000, storageType: 'gp3' },
    ],
  });
  // Multi-AZ: no fixed zone; the endpoint's port wins; a read replica of a cluster names the cluster.
  expect(captureInstance(instance({ AvailabilityZone: 'us-east-1a', DbInstancePort: 1, ReadReplicaSourceDBClusterIdentifier: 'src-cluster' }))).toMatchObject({ availabilityZone: undefined, port: 5432, readReplicaSource: 'src-cluster' });
});

test('captureInstance: a bare answer (nothing optional set) captures empty lists, no key, no domain', () => {
  const bare: DBInstance = { DBInstanceIdentifier: 'b', DBInstanceArn: 'arn:b', Engine: 'mysql', StorageEncrypted: false, KmsKeyId: 'moto-placeholder' };
  const c = captureInstance(bare);
  expect(c).toMatchObject({ securityGroupIds: [], logExports: [], associatedRoles: [], tags: [], readReplicas: [], processorFeatures: [], backupReplicationRegions: [], additionalStorageVolumes: [], managedMasterSecret: false });
  expect([c.kmsKeyId, c.encrypted, c.domain, c.subnetGroup, c.port, c.parameterGroup, c.optionGroup, c.readReplicaSource]).toEqual([undefined, false, undefined, undefined, undefined, undefined, undefined, undefined]);
  expect(captureInstance({ ...bare, DBParameterGroups: [], OptionGroupMemberships: [], VpcSecurityGroups: [{}], DBSubnetGroup: {} })).toMatchObject({ parameterGroup: undefined, optionGroup: undefined, securityGroupIds: [] });
});

test('captureCluster: cluster fields, backtrack 0 as none, Serverless v2, members sorted with writer and tier from the cluster', () => {
  const c = cluster({
    BacktrackWindow: 0,
    ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 16, SecondsUntilAutoPause: 300 } as never,
    DomainMemberships: [{ Domain: 'd-2', IAMRoleName: 'dr' }],
    StorageType: 'aurora-iopt1',
    ReplicationSourceIdentifier: 'arn:src',
    ReadReplicaIdentifiers: ['arn:r'],
    MasterUserSecret: { SecretArn: 's' },
    EngineLifecycleSupport: 'open-source-rds-extended-support',
    HttpEndpointEnabled: true,
    NetworkType: 'IPV4',
    ActivityStreamStatus: 'stopped',
    CopyTagsToSnapshot: true,
    AssociatedRoles: [{ RoleArn: 'arn:role', FeatureName: 's3Import' }],
    DBClusterMembers: [
      { DBInstanceIdentifier: 'ledger-2', IsClusterWriter: false, PromotionTier: 3 },
      { DBInstanceIdentifier: 'ledger-1', IsClusterWriter: true, PromotionTier: 0 },
    ],
  });
  const cap = captureCluster(c, [member('ledger-2', { PromotionTier: 9 }), member('ledger-1'), member('ledger-3', { PromotionTier: 5 })], 'global-1');
  const { members, ...rest } = cap;
  expect(rest).toEqual({
    id: 'ledger',
    arn: `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:ledger`,
    engine: 'aurora-postgresql',
    engineVersion: '16.4',
    engineMode: 'provisioned',
    port: 5432,
    subnetGroup: 'db-private',
    securityGroupIds: ['sg-1'],
    parameterGroup: 'apg16-ledger',
    copyTagsToSnapshot: true,
    iamAuth: true,
    logExports: ['postgresql'],
    deletionProtection: true,
    backupRetentionPeriod: 7,
    backupWindow: '03:00-04:00',
    maintenanceWindow: 'sun:05:00-sun:06:00',
    backtrackWindow: undefined,
    associatedRoles: [{ roleArn: 'arn:role', featureName: 's3Import' }],
    domain: { domain: 'd-2', iamRoleName: 'dr' },
    serverlessV2: { MinCapacity: 0.5, MaxCapacity: 16 },
    storageType: 'aurora-iopt1',
    tags: [{ Key: 'team', Value: 'ledger' }],
    kmsKeyId: OLD_KEY,
    encrypted: true,
    status: 'available',
    globalClusterId: 'global-1',
    replicationSource: 'arn:src',
    readReplicaClusters: ['arn:r'],
    managedMasterSecret: true,
    engineLifecycleSupport: 'open-source-rds-extended-support',
    httpEndpoint: true,
    networkType: 'IPV4',
    activityStream: 'stopped',
  });
  expect(members.map((m) => [m.id, m.isClusterWriter, m.promotionTier, m.clusterId])).toEqual([
    ['ledger-1', true, 0, 'ledger'],
    ['ledger-2', false, 3, 'ledger'],
    ['ledger-3', false, 5, 'ledger'],
  ]);
  expect(members[0]).toEqual({ ...captureInstance(member('ledger-1')), isClusterWriter: true, promotionTier: 0 });
  const bare = captureCluster({ DBClusterIdentifier: 'x', DBClusterArn: 'arn:x', Engine: 'aurora-mysql', BacktrackWindow: 7200, StorageEncrypted: false, KmsKeyId: 'k' }, []);
  expect(bare).toMatchObject({ backtrackWindow: 7200, securityGroupIds: [], logExports: [], associatedRoles: [], tags: [], readReplicaClusters: [], members: [], managedMasterSecret: false });
  expect([bare.kmsKeyId, bare.domain, bare.serverlessV2, bare.globalClusterId]).toEqual([undefined, undefined, undefined, undefined]);
});

describe('parityReport', () => {
  const src = captureInstance(instance());
  const inst = (over: object): CapturedSettings => ({ kind: 'instance', instance: { ...src, ...over } });

  test('instance: every key of either side once, sorted; identifiers and key expected; anything else differs', () => {
    const lines = parityReport(inst({}), inst({ id: 'n', kmsKeyId: NEW_KEY, instanceClass: 'db.r6g.xlarge', extraOnTarget: 1 }));
    expect(lines.map((l) => l.setting)).toEqual([...Object.keys(src), 'extraOnTarget'].sort());
    expect(lines.filter((l) => l.result !== 'same')).toEqual([
      { setting: 'extraOnTarget', source: null, target: 1, result: 'differs' },
      { setting: 'id', source: 'orders', target: 'n', result: 'expected' },
      { setting: 'instanceClass', source: 'db.r6g.large', target: 'db.r6g.xlarge', result: 'differs' },
      { setting: 'kmsKeyId', source: OLD_KEY, target: NEW_KEY, result: 'expected' },
    ]);
    expect(lines.find((l) => l.setting === 'domain')).toEqual({ setting: 'domain', source: null, target: null, result: 'same' });
    expect(parityIsClean(lines)).toBe(false);
    expect(parityIsClean(lines.filter((l) => l.result !== 'differs'))).toBe(true);
  });

  // Break-it pass (2026-12-01): a name added to the expected lists (e.g. 'tags', 'deletionProtection',
  // 'parameterGroup') would let a lost setting pass parity silently. Each captured setting is changed alone;
  // only the ones that differ on purpose may be 'expected', every other one must make the report unclean.
  const changed = (v: unknown): unknown => (v === undefined || v === null ? 'set-on-target' : typeof v === 'boolean' ? !v : typeof v === 'number' ? v + 1 : Array.isArray(v) ? [...v, { Key: 'extra', Value: 'x' }] : typeof v === 'object' ? { ...(v as object), extra: 1 } : `${String(v)}-changed`);
  test('instance: each captured setting changed alone differs, except the identifiers, key, status and placement', () => {
    const full = captureInstance(instance({ TagList: [{ Key: 'team', Value: 'ledger' }], DeletionProtection: true }));
    const base: CapturedSettings = { kind: 'instance', instance: full };
    const expectedOnes = ['arn', 'availabilityZone', 'clusterId', 'id', 'kmsKeyId', 'managedMasterSecret', 'performanceInsightsKmsKeyId', 'readReplicaSource', 'readReplicas', 'status'];
    const verdicts = Object.fromEntries(
      Object.keys(full).map((k) => {
        const lines = parityReport(base, { kind: 'instance', instance: { ...full, [k]: changed((full as unknown as Record<string, unknown>)[k]) } });
        return [k, lines.find((l) => l.setting === k)!.result];
      }),
    );
    expect(Object.keys(verdicts).filter((k) => verdicts[k] === 'expected').sort()).toEqual(expectedOnes);
    expect(Object.keys(verdicts).filter((k) => verdicts[k] === 'same')).toEqual([]);
    for (const k of ['tags', 'deletionProtection', 'parameterGroup', 'securityGroupIds', 'instanceClass']) expect([k, verdicts[k]]).toEqual([k, 'differs']);
    // A user tag lost on the new instance is a difference, not noise.
    expect(parityIsClean(parityReport(base, { kind: 'instance', instance: { ...full, tags: [] } }))).toBe(false);
  });

  test('cluster: each captured setting changed alone differs, except the identifiers, key, status, members and replication links', () => {
    const full = captureCluster(cluster({ TagList: [{ Key: 'team', Value: 'ledger' }], DeletionProtection: true }), [member('ledger-1')]);
    const base: CapturedSettings = { kind: 'cluster', cluster: full };
    const verdicts = Object.fromEntries(
      Object.keys(full)
        .filter((k) => k !== 'members')
        .map((k) => {
          const lines = parityReport(base, { kind: 'cluster', cluster: { ...full, [k]: changed((full as unknown as Record<string, unknown>)[k]) } });
          return [k, lines.find((l) => l.setting === k)!.result];
        }),
    );
    expect(Object.keys(verdicts).filter((k) => verdicts[k] === 'expected').sort()).toEqual(['arn', 'globalClusterId', 'id', 'kmsKeyId', 'managedMasterSecret', 'readReplicaClusters', 'replicationSource', 'status']);
    expect(Object.keys(verdicts).filter((k) => verdicts[k] === 'same')).toEqual([]);
    for (const k of ['tags', 'deletionProtection', 'parameterGroup', 'securityGroupIds', 'copyTagsToSnapshot']) expect([k, verdicts[k]]).toEqual([k, 'differs']);
    expect(parityIsClean(parityReport(base, { kind: 'cluster', cluster: { ...full, tags: [] } }))).toBe(false);
  });

  test('Regional settings are expected to differ only cross-Region', () => {
    const t = inst({ securityGroupIds: ['sg-w'], subnetGroup: 'west', availabilityZone: 'us-west-2a', parameterGroup: 'other' });
    const r = (crossRegion?: boolean) => Object.fromEntries(parityReport(inst({}), t, crossRegion === undefined ? undefined : { crossRegion }).filter((l) => l.result !== 'same').map((l) => [l.setting, l.result]));
    expect(r(true)).toEqual({ securityGroupIds: 'expected', subnetGroup: 'expected', availabilityZone: 'expected', parameterGroup: 'differs' });
    expect(r(false)).toEqual({ securityGroupIds: 'differs', subnetGroup: 'differs', availabilityZone: 'expected', parameterGroup: 'differs' });
    expect(r()).toEqual(r(false));
  });

  test('cluster: members paired by the run\'s names, writer compared, a missing and an extra member differ; kinds that do not match', () => {
    const s = captureCluster(cluster(), [member('ledger-1'), member('ledger-2')]);
    const t = captureCluster(
      cluster({ DBClusterIdentifier: 'new', DBClusterMembers: [{ DBInstanceIdentifier: 'n1', IsClusterWriter: false, PromotionTier: 0 }, { DBInstanceIdentifier: 'n9', IsClusterWriter: true, PromotionTier: 1 }] }),
      [member('n1', { DBClusterIdentifier: 'new' }), member('n9', { DBClusterIdentifier: 'new' })],
    );
    const lines = parityReport({ kind: 'cluster', cluster: s }, { kind: 'cluster', cluster: t }, { memberMap: { 'ledger-1': 'n1', 'ledger-2': 'n2' } });
    expect(lines.some((l) => l.setting === 'members' || /isClusterWriter/.test(l.setting))).toBe(false);
    expect(lines.filter((l) => l.result !== 'same')).toEqual([
      { setting: 'id', source: 'ledger', target: 'new', result: 'expected' },
      { setting: 'member ledger-1: writer', source: true, target: false, result: 'differs' },
      { setting: 'member ledger-1: arn', source: `arn:aws:rds:us-east-1:${ACCOUNT}:db:ledger-1`, target: `arn:aws:rds:us-east-1:${ACCOUNT}:db:n1`, result: 'expected' },
      { setting: 'member ledger-1: clusterId', source: 'ledger', target: 'new', result: 'expected' },
      { setting: 'member ledger-1: id', source: 'ledger-1', target: 'n1', result: 'expected' },
      { setting: 'member ledger-2', source: 'ledger-2', target: null, result: 'differs' },
      { setting: 'member n9', source: null, target: 'n9', result: 'differs' },
    ]);
    // Without a member map, members pair by their own identifiers.
    const same = parityReport({ kind: 'cluster', cluster: s }, { kind: 'cluster', cluster: s });
    expect(same.filter((l) => l.result !== 'same')).toEqual([]);
    expect(same.filter((l) => l.setting.startsWith('member ledger-2: ')).length).toBe(Object.keys(s.members[1]).filter((k) => k !== 'isClusterWriter').length + 1);
    expect(parityReport({ kind: 'cluster', cluster: s }, inst({}))).toEqual([{ setting: 'kind', source: 'cluster', target: 'instance', result: 'differs' }]);
    expect(parityReport(inst({}), { kind: 'cluster', cluster: s })).toEqual([{ setting: 'kind', source: 'instance', target: 'cluster', result: 'differs' }]);
  });
});

test('formatParity: columns padded to the widest cell, ok / changed / DIFFERS, strings bare, other values as JSON, long values cut at 60', () => {
  const long = 'x'.repeat(61);
  expect(
    formatParity([
      { setting: 'a', source: 'same', target: 'same', result: 'same' },
      { setting: 'key', source: 1, target: { k: [1] }, result: 'expected' },
      { setting: 'class', source: long, target: 'y'.repeat(60), result: 'differs' },
      { setting: 'gone', source: null, target: 'z', result: 'differs' },
    ]),
  ).toBe(
    [
      `result   setting  source${' '.repeat(54)}  new`,
      `ok       a        same${' '.repeat(56)}  same`,
      `changed  key      1${' '.repeat(59)}  {"k":[1]}`,
      `DIFFERS  class    ${'x'.repeat(57)}...  ${'y'.repeat(60)}`,
      `DIFFERS  gone     null${' '.repeat(56)}  z`,
    ].join('\n'),
  );
  expect(formatParity([])).toBe('result  setting  source  new');
});
