/**
 * The dry-run plan (lambda/kms-key-change/plan.ts) as the operator reads it before a run: the exact
 * API calls in order, every setting re-applied, when writes must stop, the downtime estimate, and
 * the text --dry-run prints. Pure functions over a preflighted state (./fixtures.ts); no AWS.
 */
import { buildPlan, estimateDowntime, formatPlan } from '../../lambda/kms-key-change/plan';
import { captureCluster, captureInstance } from '../../lambda/kms-key-change/settings';
import { ACCOUNT, cluster, instance, member, NEW_KEY, preflighted } from './fixtures';

const RUN = '20261130030405';
const LOCK = `run lock: tag orders db-ops-kit:rekey-lock=${RUN} when the run starts (rds:AddTagsToResource), removed at finalize / rollback (rds:RemoveTagsFromResource)`;
const BG = { method: 'blue-green', minutes: 1, basis: 'switchover only; green is built from a live replica while the source keeps serving' };
const WRITES = (kind: string, id: string) => [
  `from before ${id}-rekey-${RUN}-src until cutover completes: the snapshot is the data the new ${kind} gets; writes after it stay only in the original. Stop writes before a cutover run starts (CLI --cutover; workflow: the writes-stopped gate before the snapshot). A rehearsal copy is refused at cutover unless you confirm no writes since its snapshot`,
  `during cutover: ${id} is unreachable from the first rename until the second settles (about 20 minutes: RDS makes a renamed endpoint's DNS name effective in about 10)`,
];
const INSTANCE_SETTINGS = [
  'security groups: ["sg-1","sg-2"]',
  'subnet group: db-private',
  'parameter group: pg16-orders',
  'option group: default:postgres-16',
  'instance class: db.r6g.large',
  'storage: gp3 300 GiB 3000 IOPS, autoscaling to 1000',
  'Multi-AZ: true',
  'Performance Insights: on, 7 days, key → target key',
  `enhanced monitoring: 60s via arn:aws:iam::${ACCOUNT}:role/rds-monitoring`,
  'CA certificate: rds-ca-rsa2048-g1',
  'log exports: ["postgresql","upgrade"]',
  'IAM database authentication: true',
  `IAM roles: ["arn:aws:iam::${ACCOUNT}:role/s3-import (s3Import)"]`,
  'deletion protection: true',
  'backups: 14 days, window 03:00-04:00',
  'maintenance window: sun:05:00-sun:06:00',
  'copy tags to snapshots: true',
  'tags: ["team=orders"]',
];

test('instance, same Region: every call in order, every setting, the write stop and the estimate', () => {
  expect(buildPlan(preflighted())).toEqual({
    calls: [
      `rds:CreateDBSnapshot orders-rekey-${RUN}-src (source key) in us-east-1`,
      `rds:CopyDBSnapshot orders-rekey-${RUN}-src → orders-rekey-${RUN}-new KmsKeyId=${NEW_KEY} in us-east-1`,
      `rds:RestoreDBInstanceFromDBSnapshot orders-rekey-${RUN} from orders-rekey-${RUN}-new`,
      `rds:ModifyDBInstance orders-rekey-${RUN} (settings a restore cannot take)`,
      `rds:AddRoleToDBInstance arn:aws:iam::${ACCOUNT}:role/s3-import s3Import`,
      'verify: describe the new resource, check the key, print the parity report',
      `cutover (only when asked): rds:ModifyDBInstance orders → orders-pre-rekey-${RUN}, then orders-rekey-${RUN} → orders`,
      `rollback (only when asked): orders → orders-rekey-${RUN}, then orders-pre-rekey-${RUN} → orders`,
      'finalize: rds:AddTagsToResource on every resource of the run (nothing is deleted)',
      LOCK,
    ],
    reapplied: INSTANCE_SETTINGS,
    writesStopped: WRITES('instance', 'orders'),
    downtime: [{ method: 'snapshot', minutes: 335, basis: '300 GiB: snapshot ~100 min + copy ~200 min + restore ~15 min + 2 renames ~20 min (writes stopped from snapshot to cutover)' }, BG],
    warnings: [],
  });
  // A preRekeyId fixed by preflight is the name used.
  expect(buildPlan(preflighted({ names: { sourceSnapshot: 'a-src', newId: 'n', preRekeyId: 'orders-old' } })).calls.filter((c) => /^(cutover|rollback)/.test(c))).toEqual([
    'cutover (only when asked): rds:ModifyDBInstance orders → orders-old, then n → orders',
    'rollback (only when asked): orders → n, then orders-old → orders',
  ]);
});

test('instance, cross-Region: the copy in the target Region with SourceRegion, no cutover or rollback, the target groups, twice the copy time', () => {
  const p = buildPlan(preflighted({ targetRegion: 'us-west-2', targetSecurityGroupIds: ['sg-w'] }));
  expect(p.calls).toEqual([
    `rds:CreateDBSnapshot orders-rekey-${RUN}-src (source key) in us-east-1`,
    `rds:CopyDBSnapshot orders-rekey-${RUN}-src → orders-rekey-${RUN}-new KmsKeyId=${NEW_KEY} in us-west-2 (SourceRegion=us-east-1)`,
    `rds:RestoreDBInstanceFromDBSnapshot orders-rekey-${RUN} from orders-rekey-${RUN}-new`,
    `rds:ModifyDBInstance orders-rekey-${RUN} (settings a restore cannot take)`,
    `rds:AddRoleToDBInstance arn:aws:iam::${ACCOUNT}:role/s3-import s3Import`,
    'verify: describe the new resource, check the key, print the parity report',
    'finalize: rds:AddTagsToResource on every resource of the run (nothing is deleted)',
    LOCK,
  ]);
  expect(p.reapplied).toEqual(['security groups: ["sg-w"]', ...INSTANCE_SETTINGS.slice(1)]);
  expect(p.downtime[0]).toEqual({ method: 'snapshot', minutes: 535, basis: '300 GiB: snapshot ~100 min + copy ~400 min + restore ~15 min + 2 renames ~20 min (writes stopped from snapshot to cutover)' });
  // Cross-Region without target groups: none listed.
  expect(buildPlan(preflighted({ targetRegion: 'us-west-2' })).reapplied[0]).toBe('subnet group: db-private');
});

test('shared with another account: snapshot, copy, share; no restore, verify, cutover or finalize', () => {
  expect(buildPlan(preflighted({ shareWithAccount: '210987654321' })).calls).toEqual([
    `rds:CreateDBSnapshot orders-rekey-${RUN}-src (source key) in us-east-1`,
    `rds:CopyDBSnapshot orders-rekey-${RUN}-src → orders-rekey-${RUN}-new KmsKeyId=${NEW_KEY} in us-east-1`,
    `rds:ModifyDBSnapshotAttribute orders-rekey-${RUN}-new restore += 210987654321 (the run ends; that account copies it with its own key)`,
    LOCK,
  ]);
});

test('a sparse instance: only what is set is listed, defaults named (no IOPS, no autoscaling, PI retention 7, unknown backups)', () => {
  const i = captureInstance(
    instance({
      Iops: undefined, MaxAllocatedStorage: undefined, StorageType: undefined, AllocatedStorage: undefined, MultiAZ: false, PerformanceInsightsEnabled: false, PerformanceInsightsKMSKeyId: undefined,
      MonitoringInterval: 0, CACertificateIdentifier: undefined, OptionGroupMemberships: [], DBParameterGroups: [], VpcSecurityGroups: [], EnabledCloudwatchLogsExports: [],
      AssociatedRoles: [{ RoleArn: 'arn:aws:iam::123456789012:role/r' }], DomainMemberships: [{ FQDN: 'db.corp.example.com' }], BackupRetentionPeriod: undefined, PreferredBackupWindow: undefined,
      PreferredMaintenanceWindow: undefined, CopyTagsToSnapshot: undefined, IAMDatabaseAuthenticationEnabled: false, DeletionProtection: false, TagList: [],
    }),
  );
  // A value read back from a JSON state document as null is not listed either.
  const p = buildPlan(preflighted({ source: { kind: 'instance', instance: { ...i, optionGroup: null as never, caCertificate: null as never } } }));
  expect(p.reapplied).toEqual([
    'subnet group: db-private',
    'instance class: db.r6g.large',
    'storage:   GiB',
    'Multi-AZ: false',
    'Kerberos domain: db.corp.example.com',
    'IAM database authentication: false',
    'IAM roles: ["arn:aws:iam::123456789012:role/r"]',
    'deletion protection: false',
    'backups: ? days, window default',
  ]);
  expect(p.calls).toContain('rds:AddRoleToDBInstance arn:aws:iam::123456789012:role/r');
  expect(p.downtime[0]).toEqual({ method: 'snapshot', minutes: 35, basis: '0 GiB: snapshot ~0 min + copy ~0 min + restore ~15 min + 2 renames ~20 min (writes stopped from snapshot to cutover)' });
  // PI on only through its key; a domain by name wins over the FQDN; retention given.
  const j = { ...i, performanceInsights: false, performanceInsightsKmsKeyId: 'k', performanceInsightsRetention: 731, domain: { domain: 'd-123', fqdn: 'x' }, allocatedStorage: 100, storageType: 'io1', iops: 1000 };
  expect(buildPlan(preflighted({ source: { kind: 'instance', instance: j } })).reapplied).toEqual(
    expect.arrayContaining(['storage: io1 100 GiB 1000 IOPS', 'Performance Insights: on, 731 days, key → target key', 'Kerberos domain: d-123']),
  );
});

test('Aurora, same Region: restore with the key, writer then readers, each member and cluster setting', () => {
  expect(buildPlan(preflighted({}, 'cluster'))).toEqual({
    calls: [
      `rds:CreateDBClusterSnapshot ledger-rekey-${RUN}-src (source key) in us-east-1`,
      `rds:RestoreDBClusterFromSnapshot ledger-rekey-${RUN} from ledger-rekey-${RUN}-src KmsKeyId=${NEW_KEY}`,
      `rds:CreateDBInstance ledger-1-rekey-${RUN} (writer, db.r6g.large, tier 0)`,
      `rds:CreateDBInstance ledger-2-rekey-${RUN} (reader, db.r6g.large, tier 1)`,
      `rds:ModifyDBCluster ledger-rekey-${RUN} (maintenance window)`,
      'verify: describe the new resource, check the key, print the parity report',
      `cutover (only when asked): rds:ModifyDBCluster ledger → ledger-pre-rekey-${RUN}, then ledger-rekey-${RUN} → ledger (and each member likewise)`,
      `rollback (only when asked): ledger → ledger-rekey-${RUN}, then ledger-pre-rekey-${RUN} → ledger`,
      'finalize: rds:AddTagsToResource on every resource of the run (nothing is deleted)',
      `run lock: tag ledger db-ops-kit:rekey-lock=${RUN} when the run starts (rds:AddTagsToResource), removed at finalize / rollback (rds:RemoveTagsFromResource)`,
    ],
    reapplied: [
      'security groups: ["sg-1"]',
      'subnet group: db-private',
      'parameter group: apg16-ledger',
      'member ledger-1: db.r6g.large, tier 0, PI on (target key), monitoring 60s',
      'member ledger-2: db.r6g.large, tier 1, PI on (target key), monitoring 60s',
      'log exports: ["postgresql"]',
      'IAM database authentication: true',
      'deletion protection: true',
      'backups: 7 days, window 03:00-04:00',
      'maintenance window: sun:05:00-sun:06:00',
      'tags: ["team=ledger"]',
    ],
    writesStopped: WRITES('cluster', 'ledger'),
    downtime: [{ method: 'snapshot', minutes: 69, basis: 'Aurora, 2 instance(s): snapshot ~5 min + restore ~20 min + writer then readers ~24 min + 2 renames (writes stopped from snapshot to cutover)' }, BG],
    warnings: [],
  });
});

test('Aurora with one member, cross-Region copy, roles, backtrack, Serverless v2 and a domain', () => {
  const cl = captureCluster(
    cluster({
      BacktrackWindow: 3600, ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 8 }, DomainMemberships: [{ Domain: 'd-1' }],
      AssociatedRoles: [{ RoleArn: 'arn:aws:iam::123456789012:role/a', FeatureName: 's3Export' }, { RoleArn: 'arn:aws:iam::123456789012:role/b' }],
      DBClusterMembers: [{ DBInstanceIdentifier: 'ledger-1', IsClusterWriter: true }],
    }),
    [member('ledger-1', { PerformanceInsightsEnabled: false, PerformanceInsightsKMSKeyId: undefined, MonitoringInterval: undefined, PromotionTier: undefined })],
  );
  const s = preflighted({ targetRegion: 'us-west-2', source: { kind: 'cluster', cluster: cl }, names: { sourceSnapshot: `ledger-rekey-${RUN}-src`, copySnapshot: `ledger-rekey-${RUN}-new`, newId: `ledger-rekey-${RUN}`, memberIds: { 'ledger-1': 'w1' } } }, 'cluster');
  const p = buildPlan(s);
  expect(p.calls).toEqual([
    `rds:CreateDBClusterSnapshot ledger-rekey-${RUN}-src (source key) in us-east-1`,
    `rds:CopyDBClusterSnapshot ledger-rekey-${RUN}-src → ledger-rekey-${RUN}-new KmsKeyId=${NEW_KEY} in us-west-2 (SourceRegion=us-east-1)`,
    `rds:RestoreDBClusterFromSnapshot ledger-rekey-${RUN} from ledger-rekey-${RUN}-new KmsKeyId=${NEW_KEY}`,
    'rds:CreateDBInstance w1 (writer, db.r6g.large, tier 1)',
    `rds:ModifyDBCluster ledger-rekey-${RUN} (maintenance window)`,
    'rds:AddRoleToDBCluster arn:aws:iam::123456789012:role/a s3Export',
    'rds:AddRoleToDBCluster arn:aws:iam::123456789012:role/b',
    'verify: describe the new resource, check the key, print the parity report',
    'finalize: rds:AddTagsToResource on every resource of the run (nothing is deleted)',
    `run lock: tag ledger db-ops-kit:rekey-lock=${RUN} when the run starts (rds:AddTagsToResource), removed at finalize / rollback (rds:RemoveTagsFromResource)`,
  ]);
  expect(p.reapplied.slice(0, 6)).toEqual([
    'subnet group: db-private',
    'parameter group: apg16-ledger',
    'backtrack window: 3600',
    'Serverless v2 capacity: {"MinCapacity":0.5,"MaxCapacity":8}',
    'Kerberos domain: d-1',
    'member ledger-1: db.r6g.large, tier 1, PI off, monitoring 0s', // RDS's default PromotionTier is 1 (CreateDBInstance API reference)
  ]);
  expect(p.reapplied).toContain('IAM roles: ["arn:aws:iam::123456789012:role/a (s3Export)","arn:aws:iam::123456789012:role/b"]');
  // One instance: no reader wave; a cross-Region copy adds 20 minutes.
  expect(p.downtime[0]).toEqual({ method: 'snapshot', minutes: 77, basis: 'Aurora, 1 instance(s): snapshot ~5 min + restore ~20 min + writer then readers ~12 min + 2 renames (writes stopped from snapshot to cutover)' });
  expect(estimateDowntime({ ...s, targetRegion: undefined, shareWithAccount: '210987654321' })[0].minutes).toBe(77);
  expect(estimateDowntime({ ...s, targetRegion: undefined })[0].minutes).toBe(57);
});

test('blue/green: the deployment with the target key, the switchover; RDS carries the settings', () => {
  expect(buildPlan(preflighted({ method: 'blue-green', warnings: ['w1'] }))).toEqual({
    calls: [
      `rds:CreateBlueGreenDeployment Source=arn:aws:rds:us-east-1:${ACCOUNT}:db:orders TargetResourceConfigurations[].TargetKmsKeyId=${NEW_KEY}`,
      'rds:DescribeBlueGreenDeployments (poll until AVAILABLE)',
      'verify: DescribeDBInstances/DescribeDBClusters of the green target, parity report',
      'cutover (only when asked): rds:SwitchoverBlueGreenDeployment, poll until SWITCHOVER_COMPLETED',
    ],
    reapplied: ['none: RDS copies the whole configuration into the green environment'],
    writesStopped: ['switchover only (RDS blocks writes while it switches, typically under a minute)'],
    downtime: [expect.objectContaining({ method: 'snapshot', minutes: 335 }), BG],
    warnings: ['w1'],
  });
  expect(buildPlan(preflighted({ method: 'blue-green' }, 'cluster')).calls[0]).toBe(`rds:CreateBlueGreenDeployment Source=arn:aws:rds:us-east-1:${ACCOUNT}:cluster:ledger TargetResourceConfigurations[].TargetKmsKeyId=${NEW_KEY}`);
  expect(estimateDowntime({ ...preflighted(), source: undefined })).toEqual([BG]);
});

test('a state that did not pass preflight has no plan', () => {
  expect(() => buildPlan({ ...preflighted(), names: undefined })).toThrow('plan needs a state that passed preflight');
  expect(() => buildPlan({ ...preflighted(), source: undefined })).toThrow('plan needs a state that passed preflight');
});

test('formatPlan: numbered calls, bulleted settings, write stops, estimates (unknown when no number), warnings only when there are some', () => {
  const p = { calls: ['a', 'b'], reapplied: ['x: 1'], writesStopped: ['w'], downtime: [{ method: 'snapshot' as const, minutes: null, basis: 'no data' }, { method: 'blue-green' as const, minutes: 2, basis: 'b' }], warnings: ['careful'] };
  expect(formatPlan(p)).toBe(
    ['API calls, in order:', '  1. a', '  2. b', 'Settings re-applied to the new resource:', '  - x: 1', 'Writes stopped:', '  - w', 'Estimated downtime:', '  - snapshot: unknown (no data)', '  - blue-green: ~2 min (b)', 'Warnings:', '  - careful'].join('\n'),
  );
  expect(formatPlan({ ...p, warnings: [] })).not.toMatch(/Warnings/);
});
