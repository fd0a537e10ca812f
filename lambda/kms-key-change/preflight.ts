/**
 * preflight: everything that must be true before the first write, checked read-only. Every
 * refusal names the resource and what to do about it.
 */
import { DescribeKeyCommand, GetKeyPolicyCommand, KeyMetadata } from '@aws-sdk/client-kms';
import {
  DBCluster,
  DBInstance,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBParameterGroupsCommand,
  DescribeDBClusterParameterGroupsCommand,
  DescribeDBProxyTargetsCommand,
  DescribeDBSnapshotsCommand,
  DescribeDBSubnetGroupsCommand,
  DescribeOptionGroupsCommand,
  paginateDescribeDBProxies,
  paginateDescribeGlobalClusters,
} from '@aws-sdk/client-rds';
import { call, Clients, describeOrUndefined } from './clients';
import { captureCluster, captureInstance, CapturedSettings } from './settings';
import { heldProblem, holderIn } from './lock';
import { isValidRdsId, RekeyState, restoreRegion, RunNames } from './state';

export interface Problem {
  readonly code: string;
  readonly resource: string;
  readonly message: string;
  readonly next: string;
}

export class PreflightError extends Error {
  constructor(public readonly problems: Problem[]) {
    super(`preflight refused the key change:\n${problems.map((p) => `  - ${p.code} ${p.resource}: ${p.message}. Next: ${p.next}`).join('\n')}`);
    this.name = 'PreflightFailed';
  }
}

/** Engines whose blue/green deployments can change the KMS key (TargetResourceConfigurations[].TargetKmsKeyId). */
export const BLUE_GREEN_ENGINES = ['mysql', 'mariadb', 'postgres', 'aurora-mysql', 'aurora-postgresql'];
/**
 * Lowest PostgreSQL minor per major that supports blue/green (logical replication requirements,
 * RDS and Aurora user guides). Majors not listed (10 and older) are refused; 16+ are all supported.
 */
const PG_BLUE_GREEN_MIN: Record<number, number> = { 11: 21, 12: 16, 13: 12, 14: 9, 15: 4 };

export function blueGreenRefusal(engine: string, version: string | undefined): string | undefined {
  if (!BLUE_GREEN_ENGINES.includes(engine)) {
    return `blue/green deployments are not available for engine ${engine} (supported: ${BLUE_GREEN_ENGINES.join(', ')})`;
  }
  if (engine.endsWith('postgres') || engine === 'aurora-postgresql') {
    const [maj, min] = (version ?? '').split('.').map((x) => Number.parseInt(x, 10));
    if (!Number.isFinite(maj)) return `engine version "${version}" could not be read`;
    if (maj >= 16) return undefined;
    const need = PG_BLUE_GREEN_MIN[maj];
    if (need === undefined || !(min >= need)) {
      return `PostgreSQL ${version} does not support blue/green deployments (needs ${need !== undefined ? `${maj}.${need} or later` : '11.21+, 12.16+, 13.12+, 14.9+, 15.4+ or 16+'})`;
    }
  }
  return undefined;
}

/** Names this run creates, derived from the source id and the run id; all must be valid and free. */
export function deriveNames(s: RekeyState, memberIds: string[]): RunNames {
  const base = s.sourceId;
  const sameRegion = !s.targetRegion;
  const needCopy = s.kind === 'instance' || !!s.targetRegion || !!s.shareWithAccount;
  const names: RunNames = {
    sourceSnapshot: `${base}-rekey-${s.runId}-src`,
    copySnapshot: needCopy ? `${base}-rekey-${s.runId}-new` : undefined,
    // Cross-Region: the other Region has no resource of that name, so the copy keeps the identifier.
    newId: sameRegion ? `${base}-rekey-${s.runId}` : base,
  };
  if (sameRegion && !s.shareWithAccount) names.preRekeyId = `${base}-pre-rekey-${s.runId}`;
  if (s.kind === 'cluster') {
    names.memberIds = Object.fromEntries(memberIds.map((m) => [m, sameRegion ? `${m}-rekey-${s.runId}` : m]));
  }
  return names;
}

function keyPolicyAllows(policyJson: string, account: string, forAccount: string): { rds: boolean; other: boolean } {
  let doc: { Statement?: unknown };
  try {
    doc = JSON.parse(policyJson);
  } catch {
    return { rds: false, other: false };
  }
  const stmts = (Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement]).filter(Boolean) as Array<Record<string, unknown>>;
  const principals = (st: Record<string, unknown>): string[] => {
    const p = st.Principal as unknown;
    if (p === '*') return ['*'];
    const aws = (p as { AWS?: string | string[] } | undefined)?.AWS;
    return aws === undefined ? [] : Array.isArray(aws) ? aws : [aws];
  };
  const actions = (st: Record<string, unknown>): string[] => {
    const a = st.Action as string | string[] | undefined;
    return a === undefined ? [] : Array.isArray(a) ? a : [a];
  };
  const grantsUse = (st: Record<string, unknown>) =>
    actions(st).some((a) => a === 'kms:*' || a === '*' || a === 'kms:CreateGrant' || a === 'kms:Create*');
  const isAccount = (p: string, acct: string) => p === '*' || p === acct || p === `arn:aws:iam::${acct}:root` || p.startsWith(`arn:aws:iam::${acct}:`);
  const allow = stmts.filter((st) => st.Effect === 'Allow');
  return {
    rds: allow.some((st) => grantsUse(st) && principals(st).some((p) => isAccount(p, account))),
    other: allow.some((st) => grantsUse(st) && principals(st).some((p) => isAccount(p, forAccount))),
  };
}

async function describeKey(c: Clients, key: string): Promise<KeyMetadata | undefined> {
  const r = await describeOrUndefined(() => c.targetKms.send(new DescribeKeyCommand({ KeyId: key })));
  return r?.KeyMetadata;
}

async function instanceFree(c: Clients, id: string): Promise<boolean> {
  return !(await describeOrUndefined(() => c.targetRds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))));
}

/** Aurora members, described one by one (the cluster lists their ids). */
async function clusterMembers(c: Clients, cl: DBCluster): Promise<DBInstance[]> {
  const out: DBInstance[] = [];
  for (const m of cl.DBClusterMembers ?? []) {
    const r = await call(() => c.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: m.DBInstanceIdentifier })));
    out.push(...(r.DBInstances ?? []));
  }
  return out;
}

/**
 * Checks the source, the target key, the names, and the blockers; fills in `source`, `names`,
 * `targetKeyArn`, `sourceKeyArn`, `account`. Throws {@link PreflightError} listing every problem.
 */
export async function preflight(c: Clients, s: RekeyState): Promise<RekeyState> {
  const problems: Problem[] = [];
  const p = (code: string, resource: string, message: string, next: string) => problems.push({ code, resource, message, next });
  const region = restoreRegion(s);
  let captured: CapturedSettings | undefined;
  let sourceArn = '';
  let engine = '';
  let engineVersion: string | undefined;
  const memberIds: string[] = [];

  if (s.kind === 'instance') {
    const r = await describeOrUndefined(() => c.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: s.sourceId })));
    const i = r?.DBInstances?.[0];
    if (!i) {
      p('SOURCE_NOT_FOUND', s.sourceId, `no DB instance "${s.sourceId}" in ${s.region}`, 'check the identifier and the Region (--region / AWS_REGION)');
    } else {
      const cap = captureInstance(i);
      captured = { kind: 'instance', instance: cap };
      sourceArn = cap.arn;
      engine = cap.engine;
      engineVersion = cap.engineVersion;
      if (cap.clusterId) p('INSTANCE_IN_CLUSTER', s.sourceId, `the instance belongs to Aurora cluster ${cap.clusterId}; Aurora encryption is per cluster`, `run with --db-cluster ${cap.clusterId}`);
      if (cap.status !== 'available') p('SOURCE_NOT_AVAILABLE', s.sourceId, `status is "${cap.status}"`, 'wait until it is available and run again');
      const holder = holderIn(i.TagList);
      if (holder && holder !== s.runId) problems.push(heldProblem(s, s.sourceId, holder));
      if (cap.readReplicaSource) p('SOURCE_IS_READ_REPLICA', s.sourceId, `it is a read replica of ${cap.readReplicaSource}`, 're-key the primary; then recreate the replica from it');
      if (cap.readReplicas.length > 0 && s.method === 'snapshot') {
        p('HAS_READ_REPLICAS', s.sourceId, `read replicas ${cap.readReplicas.join(', ')} replicate from it and would keep the old key`, 're-key with --method blue-green, or re-create the replicas from the new instance after cutover and then remove the old ones yourself');
      }
      if (s.method === 'snapshot' && cap.engine.startsWith('custom-')) p('ENGINE_UNSUPPORTED', s.sourceId, `RDS Custom (${cap.engine}) is not supported`, 'follow the RDS Custom documentation');
    }
  } else {
    const r = await describeOrUndefined(() => c.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: s.sourceId })));
    const cl = r?.DBClusters?.[0];
    if (!cl) {
      p('SOURCE_NOT_FOUND', s.sourceId, `no DB cluster "${s.sourceId}" in ${s.region}`, 'check the identifier and the Region');
    } else {
      // DBCluster.GlobalClusterIdentifier when RDS reports it; otherwise every page of global clusters.
      let globalId = cl.GlobalClusterIdentifier;
      if (!globalId) {
        for await (const page of paginateDescribeGlobalClusters({ client: c.rds }, {})) {
          const g = (page.GlobalClusters ?? []).find((x) => (x.GlobalClusterMembers ?? []).some((m) => m.DBClusterArn === cl.DBClusterArn));
          if (g) {
            globalId = g.GlobalClusterIdentifier;
            break;
          }
        }
      }
      const members = await clusterMembers(c, cl);
      const cap = captureCluster(cl, members, globalId);
      captured = { kind: 'cluster', cluster: cap };
      sourceArn = cap.arn;
      engine = cap.engine;
      engineVersion = cap.engineVersion;
      memberIds.push(...cap.members.map((m) => m.id));
      if (!cap.engine.startsWith('aurora')) p('CLUSTER_NOT_AURORA', s.sourceId, `engine ${cap.engine} is a Multi-AZ DB cluster, which this kit does not restore`, 'use the console or CLI restore for Multi-AZ DB clusters');
      if (cap.engineMode && !['provisioned', 'global'].includes(cap.engineMode)) p('ENGINE_MODE_UNSUPPORTED', s.sourceId, `engine mode ${cap.engineMode} is not supported`, 'migrate to provisioned or Serverless v2 first');
      if (cap.status !== 'available') p('SOURCE_NOT_AVAILABLE', s.sourceId, `status is "${cap.status}"`, 'wait until it is available and run again');
      const holder = holderIn(cl.TagList);
      if (holder && holder !== s.runId) problems.push(heldProblem(s, s.sourceId, holder));
      for (const m of cap.members) if (m.status !== 'available') p('SOURCE_NOT_AVAILABLE', m.id, `member status is "${m.status}"`, 'wait until every member is available');
      if (cap.members.length === 0) p('CLUSTER_HAS_NO_INSTANCES', s.sourceId, 'the cluster has no DB instances', 'add a writer first; a re-keyed copy needs one to be usable');
      if (cap.globalClusterId) p('GLOBAL_CLUSTER_MEMBER', s.sourceId, `member of global database ${cap.globalClusterId}`, 'remove it from the global database (or re-key every Region and rebuild the global database), then run again');
      if (cap.replicationSource) p('SOURCE_IS_READ_REPLICA', s.sourceId, `replicates from ${cap.replicationSource}`, 're-key the source cluster instead');
      if (cap.readReplicaClusters.length > 0) p('HAS_READ_REPLICAS', s.sourceId, `cross-Region replicas ${cap.readReplicaClusters.join(', ')} would keep the old key`, 'promote or remove them first, then re-create them from the new cluster');
    }
  }

  // Proxies pointing at the source would keep pointing at the renamed old resource.
  if (captured) {
    const proxies: Array<{ DBProxyName?: string }> = [];
    // Every page: a proxy missed here would keep sending writes to the renamed original after cutover.
    for await (const page of paginateDescribeDBProxies({ client: c.rds }, {})) proxies.push(...(page.DBProxies ?? []));
    for (const proxy of proxies) {
      const t = await describeOrUndefined(() => c.rds.send(new DescribeDBProxyTargetsCommand({ DBProxyName: proxy.DBProxyName })));
      const hit = (t?.Targets ?? []).some((x) => x.RdsResourceId === s.sourceId || x.TrackedClusterId === s.sourceId || memberIds.includes(x.RdsResourceId ?? ''));
      if (hit) {
        p('PROXY_TARGET', s.sourceId, `RDS Proxy ${proxy.DBProxyName} targets it`, `plan to deregister it from ${proxy.DBProxyName} and register the new ${s.kind} during cutover (aws rds deregister-db-proxy-targets / register-db-proxy-targets), then run again with the proxy detached`);
      }
    }
  }

  // The target key.
  const key = await describeKey(c, s.kmsKey);
  let targetKeyArn: string | undefined;
  if (!key) {
    p('KEY_NOT_FOUND', s.kmsKey, `no KMS key "${s.kmsKey}" in ${region}`, `pass a key ARN or alias from ${region}`);
  } else {
    targetKeyArn = key.Arn;
    const keyRegion = key.Arn?.split(':')[3];
    if (keyRegion && keyRegion !== region) p('KEY_WRONG_REGION', key.Arn!, `the key is in ${keyRegion} but the new ${s.kind} will be in ${region}`, `use a key from ${region} (a multi-Region replica key works)`);
    if (key.KeyState !== 'Enabled') p('KEY_NOT_ENABLED', key.Arn!, `key state is ${key.KeyState}`, 'enable the key (or cancel its deletion) and run again');
    const spec = key.KeySpec ?? key.CustomerMasterKeySpec;
    if (spec && spec !== 'SYMMETRIC_DEFAULT') p('KEY_NOT_SYMMETRIC', key.Arn!, `key spec is ${spec}; RDS needs a symmetric encryption key`, 'create a SYMMETRIC_DEFAULT key');
    if (key.KeyUsage && key.KeyUsage !== 'ENCRYPT_DECRYPT') p('KEY_USAGE', key.Arn!, `key usage is ${key.KeyUsage}`, 'use an ENCRYPT_DECRYPT key');
    if (s.shareWithAccount && key.KeyManager === 'AWS') {
      p('KEY_AWS_MANAGED', key.Arn!, 'snapshots encrypted with an AWS managed key (aws/rds) cannot be shared', 'use a customer managed key whose policy grants the other account');
    }
    const srcKey = captured?.kind === 'instance' ? captured.instance.kmsKeyId : captured?.cluster.kmsKeyId;
    if (srcKey && key.Arn && srcKey === key.Arn && !s.targetRegion && !s.shareWithAccount) {
      p('ALREADY_ON_TARGET_KEY', s.sourceId, 'the source is already encrypted with this key', 'nothing to do');
    }
    if (key.KeyManager !== 'AWS' && sourceArn) {
      const account = sourceArn.split(':')[4];
      try {
        const pol = await call(() => c.targetKms.send(new GetKeyPolicyCommand({ KeyId: key.Arn, PolicyName: 'default' })));
        const allows = keyPolicyAllows(pol.Policy ?? '{}', account, s.shareWithAccount ?? '-');
        if (!allows.rds) p('KEY_POLICY_DENIES_RDS', key.Arn!, `the key policy lets no principal of account ${account} create grants, so RDS cannot use it`, 'add the default "Enable IAM User Permissions" statement or allow kms:CreateGrant/Encrypt/Decrypt/GenerateDataKey*/DescribeKey with kms:ViaService rds.' + region + '.amazonaws.com');
        if (s.shareWithAccount && !allows.other) p('KEY_NOT_SHARED', key.Arn!, `the key policy does not grant account ${s.shareWithAccount}`, `add a statement allowing arn:aws:iam::${s.shareWithAccount}:root kms:Decrypt, kms:DescribeKey, kms:CreateGrant, kms:ReEncrypt*, kms:GenerateDataKey*`);
      } catch (e) {
        s.warnings.push(`could not read the key policy of ${key.Arn} (${(e as Error).name}); make sure RDS may use the key`);
      }
    }
  }

  // Method-specific rules.
  if (s.method === 'blue-green' && captured) {
    const why = blueGreenRefusal(engine, engineVersion);
    if (why) p('BLUE_GREEN_UNSUPPORTED', s.sourceId, why, 'use --method snapshot');
    const managedSecret = captured.kind === 'instance' ? captured.instance.managedMasterSecret : captured.cluster.managedMasterSecret;
    if (managedSecret) p('BLUE_GREEN_MANAGED_SECRET', s.sourceId, 'blue/green deployments do not support master user passwords managed in Secrets Manager (RDS and Aurora user guides, blue/green limitations)', 'use --method snapshot, or turn off the managed master password first');
    // CreateBlueGreenDeployment takes a TargetKmsKeyId for storage but none for Performance Insights:
    // green keeps PI on the old key, and a PI key cannot be changed once set. Refused rather than
    // reported clean while the old key stays in use.
    const pi = captured.kind === 'instance' ? [captured.instance] : captured.cluster.members;
    const oldPi = pi.filter((m) => m.performanceInsightsKmsKeyId && m.performanceInsightsKmsKeyId !== targetKeyArn).map((m) => m.id);
    if (oldPi.length > 0) {
      p('BLUE_GREEN_PI_KEY', s.sourceId, `Performance Insights of ${oldPi.join(', ')} is encrypted with ${pi.find((m) => oldPi.includes(m.id))?.performanceInsightsKmsKeyId}; a blue/green deployment cannot move it (no Performance Insights key parameter) and the green environment would keep using the old key`, 'use --method snapshot (it enables Performance Insights on the new resource with the target key)');
    }
    // "Limitations for blue/green deployments": cross-Region read replicas and cascading read replicas
    // are not supported (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/blue-green-deployments-considerations.html).
    if (captured.kind === 'instance') {
      const srcRegion = captured.instance.arn.split(':')[3];
      const crossRegion = captured.instance.readReplicas.filter((r) => r.startsWith('arn:') && r.split(':')[3] !== srcRegion);
      if (crossRegion.length > 0) p('BLUE_GREEN_CROSS_REGION_REPLICA', s.sourceId, `cross-Region read replicas ${crossRegion.join(', ')}: blue/green deployments do not support them (RDS User Guide, blue/green limitations)`, 'use --method snapshot, or remove the cross-Region replicas first and re-create them after the switchover');
      for (const r of captured.instance.readReplicas.filter((x) => !crossRegion.includes(x))) {
        const rid = r.startsWith('arn:') ? r.split(':').pop()! : r;
        const ri = (await describeOrUndefined(() => c.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: rid }))))?.DBInstances?.[0];
        const cascaded = [...(ri?.ReadReplicaDBInstanceIdentifiers ?? []), ...(ri?.ReadReplicaDBClusterIdentifiers ?? [])];
        if (cascaded.length > 0) p('BLUE_GREEN_CASCADING_REPLICA', rid, `read replica ${rid} has its own replicas (${cascaded.join(', ')}); blue/green deployments do not support cascading read replicas (RDS User Guide, blue/green limitations)`, 'use --method snapshot, or remove the cascaded replicas first');
      }
    }
    if (s.targetRegion || s.shareWithAccount) p('BLUE_GREEN_SAME_REGION_ONLY', s.sourceId, 'a blue/green deployment stays in the same Region and account', 'use --method snapshot for cross-Region or cross-account');
  }

  // Names: valid, and free in the Region they will be created in.
  const names = deriveNames(s, memberIds);
  if (captured && s.method === 'snapshot') {
    const all = [
      names.sourceSnapshot,
      names.copySnapshot,
      names.preRekeyId,
      ...memberIds.map((m) => `${m}-pre-rekey-${s.runId}`),
      ...(s.shareWithAccount ? [] : [names.newId, ...Object.values(names.memberIds ?? {})]),
    ].filter((x): x is string => !!x);
    for (const n of all) if (!isValidRdsId(n)) p('NAME_INVALID', n, 'derived identifier is longer than 63 characters or invalid', 'rename the source or use a shorter identifier');
    const snapFree = async (id: string, rds = c.rds) =>
      s.kind === 'instance'
        ? !(await describeOrUndefined(() => rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: id }))))?.DBSnapshots?.length
        : !(await describeOrUndefined(() => rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: id }))))?.DBClusterSnapshots?.length;
    if (!(await snapFree(names.sourceSnapshot))) p('NAME_TAKEN', names.sourceSnapshot, 'a snapshot with this name exists', 'wait a second and run again (names include the run time)');
    if (names.copySnapshot && !(await snapFree(names.copySnapshot, c.targetRds))) p('NAME_TAKEN', names.copySnapshot, 'a snapshot with this name exists', 'run again');
    if (names.preRekeyId) {
      // Cutover renames the source (and its members) to these; a taken name would fail mid-cutover.
      const preRekey = [names.preRekeyId, ...memberIds.map((m) => `${m}-pre-rekey-${s.runId}`)];
      if (s.kind === 'cluster') {
        const cl = await describeOrUndefined(() => c.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: names.preRekeyId })));
        if (cl?.DBClusters?.length) p('NAME_TAKEN', names.preRekeyId, `a DB cluster with this name exists in ${s.region}`, 'rename or remove it');
      }
      for (const id of s.kind === 'instance' ? preRekey : preRekey.slice(1)) {
        if (await describeOrUndefined(() => c.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id })))) p('NAME_TAKEN', id, `a DB instance with this name exists in ${s.region}`, 'rename or remove it');
      }
    }
    if (!s.shareWithAccount) {
      if (s.kind === 'instance' && !(await instanceFree(c, names.newId))) p('NAME_TAKEN', names.newId, `a DB instance with this name exists in ${region}`, 'rename or remove it, or run again later');
      if (s.kind === 'cluster') {
        const cl = await describeOrUndefined(() => c.targetRds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: names.newId })));
        if (cl?.DBClusters?.length) p('NAME_TAKEN', names.newId, `a DB cluster with this name exists in ${region}`, 'rename or remove it');
        for (const m of Object.values(names.memberIds ?? {})) if (!(await instanceFree(c, m))) p('NAME_TAKEN', m, `a DB instance with this name exists in ${region}`, 'rename or remove it');
      }
    }
  }

  // Cross-Region: groups are Regional; they must exist under the same name, security groups are mapped.
  if (captured && s.targetRegion && !s.shareWithAccount) {
    const src = captured.kind === 'instance' ? captured.instance : captured.cluster;
    const groups: Array<[string, string | undefined, () => Promise<number>]> = [];
    if (src.subnetGroup) groups.push(['DB subnet group', src.subnetGroup, async () => ((await c.targetRds.send(new DescribeDBSubnetGroupsCommand({ DBSubnetGroupName: src.subnetGroup }))).DBSubnetGroups ?? []).length]);
    if (captured.kind === 'instance') {
      const i = captured.instance;
      if (i.parameterGroup && !i.parameterGroup.startsWith('default.')) groups.push(['DB parameter group', i.parameterGroup, async () => ((await c.targetRds.send(new DescribeDBParameterGroupsCommand({ DBParameterGroupName: i.parameterGroup }))).DBParameterGroups ?? []).length]);
      if (i.optionGroup && !i.optionGroup.startsWith('default:')) groups.push(['option group', i.optionGroup, async () => ((await c.targetRds.send(new DescribeOptionGroupsCommand({ OptionGroupName: i.optionGroup }))).OptionGroupsList ?? []).length]);
    } else {
      const cl = captured.cluster;
      if (cl.parameterGroup && !cl.parameterGroup.startsWith('default.')) groups.push(['DB cluster parameter group', cl.parameterGroup, async () => ((await c.targetRds.send(new DescribeDBClusterParameterGroupsCommand({ DBClusterParameterGroupName: cl.parameterGroup }))).DBClusterParameterGroups ?? []).length]);
    }
    for (const [what, name, fn] of groups) {
      if (!(await describeOrUndefined(fn))) p('CROSS_REGION_GROUP_MISSING', name!, `${what} "${name}" does not exist in ${region}`, `create it in ${region} with the same settings, then run again`);
    }
    if (src.securityGroupIds.length > 0 && !(s.targetSecurityGroupIds && s.targetSecurityGroupIds.length > 0)) {
      p('CROSS_REGION_SECURITY_GROUPS', s.sourceId, `security groups ${src.securityGroupIds.join(', ')} exist only in ${s.region}`, `pass --target-security-group-ids with groups from ${region}`);
    }
  }

  if (problems.length > 0) throw new PreflightError(problems);
  if (captured?.kind === 'cluster' && captured.cluster.managedMasterSecret) {
    s.warnings.push(
      `the source cluster uses an RDS-managed master user secret; the restored cluster keeps the password from the snapshot and has no managed secret, and the old secret is deleted with the old cluster. ` +
        `After cutover: aws rds modify-db-cluster --db-cluster-identifier ${s.sourceId} --manage-master-user-password --apply-immediately, then point clients at the new secret (aws rds describe-db-clusters --db-cluster-identifier ${s.sourceId} --query "DBClusters[0].MasterUserSecret.SecretArn")`,
    );
  }
  if (captured?.kind === 'instance' && captured.instance.managedMasterSecret) {
    s.warnings.push('the source uses an RDS-managed master user secret; the restored copy keeps the password from the snapshot and does not manage a secret until you enable it (aws rds modify-db-instance --manage-master-user-password)');
  }
  if (s.method === 'blue-green') {
    // No kit-enforced freeze with blue/green, by design: RDS keeps replicating blue → green until the
    // switchover, and the switchover itself stops writes on both environments and drops connections
    // before it promotes green ("Switchover ... blocks writes", RDS user guide:
    // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/blue-green-deployments-switching.html),
    // so no write is stranded in blue by the kit. Said here so nobody expects the snapshot method's freeze.
    s.warnings.push(
      'blue/green: the kit applies no write freeze of its own; RDS replicates every write to green until the switchover, and the switchover blocks writes on both environments while it promotes green (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/blue-green-deployments-switching.html). Clients see errors for the switchover (up to the 300 s timeout the kit sets); the old blue environment stays writable afterwards under its -old1 name, so stop clients that cache its endpoint',
    );
  }
  const encrypted = captured?.kind === 'instance' ? captured.instance.encrypted : captured?.cluster.encrypted;
  if (captured && encrypted === false) {
    s.warnings.push(`the source is not encrypted; the new ${s.kind} will be encrypted with the target key (the parity report shows "encrypted" false → true as the intended change)`);
  }
  return {
    ...s,
    account: sourceArn.split(':')[4],
    source: captured,
    names,
    targetKeyArn,
    sourceKeyArn: captured?.kind === 'instance' ? captured.instance.kmsKeyId : captured?.cluster.kmsKeyId,
    lastStep: 'preflight',
  };
}
