/**
 * An in-memory AWS Region for the preflight tests: the RDS and KMS read calls preflight makes,
 * answered the way the APIs document them, on aws-sdk-client-mock (one stub per client instance, so
 * a cross-Region run has a source Region and a target Region that really differ).
 *
 * Why a fake and not moto: preflight decides from states moto cannot stage (RDS Proxy targets,
 * global databases, RDS Custom engines, disabled/asymmetric/AWS managed keys, key policies with
 * arbitrary statements, cascading replicas). Why not fake-rds.ts: that fake refuses a describe call
 * without an identifier; RDS answers such a call with every resource of the Region, which is what
 * makes a call that lost its identifier visible here. Describe calls:
 *  - with an identifier: that resource, or the API's NotFound fault;
 *  - without one: every resource of that type in the Region.
 * DescribeDBProxyTargets needs a proxy name; KMS DescribeKey / GetKeyPolicy validate their inputs
 * (KeyId required; PolicyName must be "default").
 */
import { DescribeKeyCommand, GetKeyPolicyCommand, KeyMetadata, KMSClient } from '@aws-sdk/client-kms';
import {
  DBCluster,
  DBInstance,
  DBProxyTarget,
  DescribeDBClusterParameterGroupsCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBParameterGroupsCommand,
  DescribeDBProxiesCommand,
  DescribeDBProxyTargetsCommand,
  DescribeDBSnapshotsCommand,
  DescribeDBSubnetGroupsCommand,
  DescribeGlobalClustersCommand,
  DescribeOptionGroupsCommand,
  GlobalCluster,
  RDSClient,
} from '@aws-sdk/client-rds';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { AwsStub, mockClient } from 'aws-sdk-client-mock';
import { Clients } from '../../lambda/kms-key-change/clients';
import { preflight, PreflightError, Problem } from '../../lambda/kms-key-change/preflight';
import { newState, RekeyState } from '../../lambda/kms-key-change/state';
import { ACCOUNT, cluster, DEFAULT_POLICY, instance, member, NEW_KEY, notFound, OLD_KEY } from './fixtures';

type Stub = AwsStub<any, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const RUN = '20261130030405';
export const NOW = new Date('2026-11-30T03:04:05Z');
export const OTHER_ACCOUNT = '210987654321';
export const WEST_KEY = `arn:aws:kms:us-west-2:${ACCOUNT}:key/00000000-0000-0000-0000-00000000000c`;

function fault(name: string, message = name): Error {
  return Object.assign(new Error(message), { name });
}

/** Looks one resource up by name, or lists all of them when the call names none. */
function pick<T>(map: Map<string, T>, id: string | undefined, faultName: string): T[] {
  if (id === undefined) return [...map.values()].map((v) => structuredClone(v));
  const v = map.get(id);
  if (v === undefined) throw notFound(faultName);
  return [structuredClone(v)];
}

export class Region {
  readonly rds: RDSClient;
  readonly kms: KMSClient;
  readonly rdsStub: Stub;
  readonly kmsStub: Stub;
  readonly instances = new Map<string, DBInstance>();
  readonly clusters = new Map<string, DBCluster>();
  readonly snapshots = new Map<string, { DBSnapshotIdentifier: string }>();
  readonly clusterSnapshots = new Map<string, { DBClusterSnapshotIdentifier: string }>();
  readonly subnetGroups = new Map<string, { DBSubnetGroupName: string }>();
  readonly parameterGroups = new Map<string, { DBParameterGroupName: string }>();
  readonly clusterParameterGroups = new Map<string, { DBClusterParameterGroupName: string }>();
  readonly optionGroups = new Map<string, { OptionGroupName: string }>();
  /** Proxy name → its targets. */
  readonly proxies = new Map<string, DBProxyTarget[]>();
  readonly globalClusters: GlobalCluster[] = [];
  /** Key ARN → metadata and policy; aliases → key ARN. */
  readonly keys = new Map<string, { meta: KeyMetadata; policy: string }>();
  readonly aliases = new Map<string, string>();

  constructor(readonly name: string) {
    this.rds = new RDSClient({ region: name });
    this.kms = new KMSClient({ region: name });
    this.rdsStub = mockClient(this.rds);
    this.kmsStub = mockClient(this.kms);
    const s = this.rdsStub;
    s.on(DescribeDBInstancesCommand).callsFake(async (i) => ({ DBInstances: pick(this.instances, i.DBInstanceIdentifier, 'DBInstanceNotFoundFault') }));
    s.on(DescribeDBClustersCommand).callsFake(async (i) => ({ DBClusters: pick(this.clusters, i.DBClusterIdentifier, 'DBClusterNotFoundFault') }));
    s.on(DescribeDBSnapshotsCommand).callsFake(async (i) => ({ DBSnapshots: pick(this.snapshots, i.DBSnapshotIdentifier, 'DBSnapshotNotFoundFault') }));
    s.on(DescribeDBClusterSnapshotsCommand).callsFake(async (i) => ({ DBClusterSnapshots: pick(this.clusterSnapshots, i.DBClusterSnapshotIdentifier, 'DBClusterSnapshotNotFoundFault') }));
    s.on(DescribeDBSubnetGroupsCommand).callsFake(async (i) => ({ DBSubnetGroups: pick(this.subnetGroups, i.DBSubnetGroupName, 'DBSubnetGroupNotFoundFault') }));
    s.on(DescribeDBParameterGroupsCommand).callsFake(async (i) => ({ DBParameterGroups: pick(this.parameterGroups, i.DBParameterGroupName, 'DBParameterGroupNotFoundFault') }));
    s.on(DescribeDBClusterParameterGroupsCommand).callsFake(async (i) => ({ DBClusterParameterGroups: pick(this.clusterParameterGroups, i.DBClusterParameterGroupName, 'DBParameterGroupNotFoundFault') }));
    s.on(DescribeOptionGroupsCommand).callsFake(async (i) => ({ OptionGroupsList: pick(this.optionGroups, i.OptionGroupName, 'OptionGroupNotFoundFault') }));
    s.on(DescribeDBProxiesCommand).callsFake(async () => ({ DBProxies: [...this.proxies.keys()].map((n) => ({ DBProxyName: n })) }));
    s.on(DescribeDBProxyTargetsCommand).callsFake(async (i) => {
      if (!i.DBProxyName) throw fault('InvalidParameterValue', 'DBProxyName is required');
      const t = this.proxies.get(i.DBProxyName);
      if (!t) throw notFound('DBProxyNotFoundFault');
      return { Targets: structuredClone(t) };
    });
    s.on(DescribeGlobalClustersCommand).callsFake(async () => ({ GlobalClusters: structuredClone(this.globalClusters) }));
    this.kmsStub.on(DescribeKeyCommand).callsFake(async (i) => ({ KeyMetadata: structuredClone(this.key(i.KeyId).meta) }));
    this.kmsStub.on(GetKeyPolicyCommand).callsFake(async (i) => {
      const k = this.key(i.KeyId);
      if (i.PolicyName !== 'default') throw fault('NotFoundException', `No such policy: ${i.PolicyName}`);
      return { Policy: k.policy, PolicyName: 'default' };
    });
  }

  private key(id: string | undefined): { meta: KeyMetadata; policy: string } {
    if (!id) throw fault('ValidationException', 'KeyId is required');
    const arn = this.aliases.get(id) ?? [...this.keys.keys()].find((a) => a === id || a.endsWith(`:key/${id}`));
    const k = arn === undefined ? undefined : this.keys.get(arn);
    if (!k) throw fault('NotFoundException', `Invalid keyId ${id}`);
    return k;
  }

  addKey(arn: string, over: Partial<KeyMetadata> = {}, policy = DEFAULT_POLICY, alias?: string): void {
    this.keys.set(arn, { meta: { KeyId: arn.split('/').pop(), Arn: arn, KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', KeyManager: 'CUSTOMER', ...over }, policy });
    if (alias) this.aliases.set(alias, arn);
  }
  addInstance(db: DBInstance): void {
    this.instances.set(db.DBInstanceIdentifier!, structuredClone(db));
  }
  addCluster(db: DBCluster): void {
    this.clusters.set(db.DBClusterIdentifier!, structuredClone(db));
  }
  /** The inputs of every call of one command, in order. */
  inputs(cmd: unknown): unknown[] {
    return this.rdsStub
      .calls()
      .concat(this.kmsStub.calls())
      .filter((c) => c.args[0] instanceof (cmd as new (...a: never[]) => unknown))
      .map((c) => c.args[0].input);
  }
}

/**
 * us-east-1 as the tests start from: instance `orders` (postgres 16.4 on OLD_KEY, groups db-private /
 * pg16-orders / default option group), Aurora cluster `ledger` with members ledger-1 (writer) and
 * ledger-2, keys OLD_KEY and NEW_KEY (alias/orders-2026) with the default key policy.
 */
export function east(): Region {
  const r = new Region('us-east-1');
  r.addInstance(instance());
  r.addCluster(cluster());
  r.addInstance(member('ledger-1'));
  r.addInstance(member('ledger-2'));
  r.addKey(OLD_KEY);
  r.addKey(NEW_KEY, {}, DEFAULT_POLICY, 'alias/orders-2026');
  r.subnetGroups.set('db-private', { DBSubnetGroupName: 'db-private' });
  r.parameterGroups.set('pg16-orders', { DBParameterGroupName: 'pg16-orders' });
  r.clusterParameterGroups.set('apg16-ledger', { DBClusterParameterGroupName: 'apg16-ledger' });
  return r;
}

/** us-west-2 prepared for a cross-Region run: the same group names, key WEST_KEY (alias/orders-2026). */
export function west(): Region {
  const r = new Region('us-west-2');
  r.addKey(WEST_KEY, {}, DEFAULT_POLICY, 'alias/orders-2026');
  r.subnetGroups.set('db-private', { DBSubnetGroupName: 'db-private' });
  r.parameterGroups.set('pg16-orders', { DBParameterGroupName: 'pg16-orders' });
  r.clusterParameterGroups.set('apg16-ledger', { DBClusterParameterGroupName: 'apg16-ledger' });
  return r;
}

/** Clients for a run from `src` into `tgt` (the same Region when `tgt` is omitted). */
export function clientsOf(src: Region, tgt: Region = src): Clients {
  return { rds: src.rds, kms: src.kms, targetRds: tgt.rds, targetKms: tgt.kms, ec2: new EC2Client({ region: src.name }), cw: new CloudWatchClient({ region: src.name }) };
}

type StateOpts = Partial<Parameters<typeof newState>[0]>;
export const inst = (over: StateOpts = {}): RekeyState => newState({ kind: 'instance', sourceId: 'orders', kmsKey: 'alias/orders-2026', region: 'us-east-1', now: NOW, ...over });
export const clus = (over: StateOpts = {}): RekeyState => newState({ kind: 'cluster', sourceId: 'ledger', kmsKey: NEW_KEY, region: 'us-east-1', now: NOW, ...over });

/** The problems preflight refuses with (fails the test when it does not refuse). */
export async function problems(c: Clients, s: RekeyState): Promise<Problem[]> {
  const e = await preflight(c, s).then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!(e instanceof PreflightError)) throw new Error(`expected a PreflightError, got ${e === undefined ? 'a pass' : String(e)}`);
  return e.problems;
}

export { ACCOUNT, NEW_KEY, OLD_KEY };
