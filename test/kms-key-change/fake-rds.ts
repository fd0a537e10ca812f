/**
 * A small in-memory RDS for the cutover/rollback unit tests, on top of aws-sdk-client-mock: DB
 * instances and clusters by identifier, renames (ModifyDB* NewDB*Identifier), security-group swaps
 * and tags. Enough to assert what a step leaves behind (which name holds which database) besides the
 * command inputs; it validates nothing else (moto does that in test/integration/kms-key-change).
 */
import {
  AddTagsToResourceCommand,
  DBCluster,
  DBInstance,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  ListTagsForResourceCommand,
  ModifyDBClusterCommand,
  ModifyDBInstanceCommand,
  RDSClient,
  RemoveTagsFromResourceCommand,
} from '@aws-sdk/client-rds';
import { AwsStub } from 'aws-sdk-client-mock';
import { notFound } from './fixtures';

type Stub = AwsStub<any, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export class FakeRds {
  readonly instances = new Map<string, DBInstance>();
  readonly clusters = new Map<string, DBCluster>();

  constructor(readonly stub: Stub) {
    stub.on(DescribeDBInstancesCommand).callsFake(async (i: { DBInstanceIdentifier: string }) => {
      const db = this.instances.get(i.DBInstanceIdentifier);
      if (!db) throw notFound('DBInstanceNotFoundFault');
      return { DBInstances: [structuredClone(db)] };
    });
    stub.on(DescribeDBClustersCommand).callsFake(async (i: { DBClusterIdentifier: string }) => {
      const db = this.clusters.get(i.DBClusterIdentifier);
      if (!db) throw notFound('DBClusterNotFoundFault');
      return { DBClusters: [structuredClone(db)] };
    });
    stub.on(ModifyDBInstanceCommand).callsFake(async (i: { DBInstanceIdentifier: string; NewDBInstanceIdentifier?: string; VpcSecurityGroupIds?: string[]; ApplyImmediately?: boolean }) => {
      const db = this.instances.get(i.DBInstanceIdentifier);
      if (!db) throw notFound('DBInstanceNotFoundFault');
      if (i.VpcSecurityGroupIds) db.VpcSecurityGroups = i.VpcSecurityGroupIds.map((g) => ({ VpcSecurityGroupId: g, Status: 'active' }));
      // Without ApplyImmediately a rename waits for the next maintenance window ("ApplyImmediately ... If this
      // parameter is disabled, changes to the DB instance are applied during the next maintenance window",
      // https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html): pending here.
      if (i.NewDBInstanceIdentifier && !i.ApplyImmediately) db.PendingModifiedValues = { ...db.PendingModifiedValues, DBInstanceIdentifier: i.NewDBInstanceIdentifier };
      else if (i.NewDBInstanceIdentifier) {
        if (this.instances.has(i.NewDBInstanceIdentifier)) throw Object.assign(new Error(`${i.NewDBInstanceIdentifier} exists`), { name: 'DBInstanceAlreadyExistsFault' });
        this.instances.delete(i.DBInstanceIdentifier);
        db.DBInstanceIdentifier = i.NewDBInstanceIdentifier;
        db.DBInstanceArn = db.DBInstanceArn?.replace(/:db:.*$/, `:db:${i.NewDBInstanceIdentifier}`);
        this.instances.set(i.NewDBInstanceIdentifier, db);
      }
      return { DBInstance: db };
    });
    stub.on(ModifyDBClusterCommand).callsFake(async (i: { DBClusterIdentifier: string; NewDBClusterIdentifier?: string; VpcSecurityGroupIds?: string[]; ApplyImmediately?: boolean }) => {
      const db = this.clusters.get(i.DBClusterIdentifier);
      if (!db) throw notFound('DBClusterNotFoundFault');
      if (i.VpcSecurityGroupIds) db.VpcSecurityGroups = i.VpcSecurityGroupIds.map((g) => ({ VpcSecurityGroupId: g, Status: 'active' }));
      // "The ApplyImmediately parameter only affects the EnableIAMDatabaseAuthentication, MasterUserPassword, and
      // NewDBClusterIdentifier values" (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBCluster.html):
      // without it the rename waits for the maintenance window.
      if (i.NewDBClusterIdentifier && !i.ApplyImmediately) db.PendingModifiedValues = { ...db.PendingModifiedValues, DBClusterIdentifier: i.NewDBClusterIdentifier };
      else if (i.NewDBClusterIdentifier) {
        if (this.clusters.has(i.NewDBClusterIdentifier)) throw Object.assign(new Error(`${i.NewDBClusterIdentifier} exists`), { name: 'DBClusterAlreadyExistsFault' });
        this.clusters.delete(i.DBClusterIdentifier);
        db.DBClusterIdentifier = i.NewDBClusterIdentifier;
        db.DBClusterArn = db.DBClusterArn?.replace(/:cluster:.*$/, `:cluster:${i.NewDBClusterIdentifier}`);
        this.clusters.set(i.NewDBClusterIdentifier, db);
      }
      return { DBCluster: db };
    });
    stub.on(ListTagsForResourceCommand).callsFake(async (i: { ResourceName: string }) => ({ TagList: structuredClone(this.byArn(i.ResourceName).TagList ?? []) }));
    stub.on(AddTagsToResourceCommand).callsFake(async (i: { ResourceName: string; Tags: Array<{ Key: string; Value: string }> }) => {
      const db = this.byArn(i.ResourceName);
      const keys = new Set(i.Tags.map((t) => t.Key));
      db.TagList = [...(db.TagList ?? []).filter((t) => !keys.has(t.Key!)), ...i.Tags];
      return {};
    });
    stub.on(RemoveTagsFromResourceCommand).callsFake(async (i: { ResourceName: string; TagKeys: string[] }) => {
      const db = this.byArn(i.ResourceName);
      db.TagList = (db.TagList ?? []).filter((t) => !i.TagKeys.includes(t.Key!));
      return {};
    });
  }

  private byArn(arn: string): DBInstance | DBCluster {
    const db = [...this.instances.values()].find((d) => d.DBInstanceArn === arn) ?? [...this.clusters.values()].find((d) => d.DBClusterArn === arn);
    if (!db) throw notFound('DBInstanceNotFoundFault');
    return db;
  }

  addInstance(db: DBInstance): void {
    this.instances.set(db.DBInstanceIdentifier!, structuredClone(db));
  }
  addCluster(db: DBCluster): void {
    this.clusters.set(db.DBClusterIdentifier!, structuredClone(db));
  }
  /** Identifier → KMS key of every instance (sorted by identifier): who holds which name. */
  instanceKeys(): Record<string, string | undefined> {
    return Object.fromEntries([...this.instances.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([id, d]) => [id, d.KmsKeyId]));
  }
  clusterKeys(): Record<string, string | undefined> {
    return Object.fromEntries([...this.clusters.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([id, d]) => [id, d.KmsKeyId]));
  }
  /** Inputs of the renames issued, `from → to`. */
  renames(): string[] {
    return this.stub
      .calls()
      .map((c) => c.args[0].input as { DBInstanceIdentifier?: string; NewDBInstanceIdentifier?: string; DBClusterIdentifier?: string; NewDBClusterIdentifier?: string })
      .filter((i) => i.NewDBInstanceIdentifier || i.NewDBClusterIdentifier)
      .map((i) => (i.NewDBClusterIdentifier ? `cluster ${i.DBClusterIdentifier} → ${i.NewDBClusterIdentifier}` : `${i.DBInstanceIdentifier} → ${i.NewDBInstanceIdentifier}`));
  }
}
