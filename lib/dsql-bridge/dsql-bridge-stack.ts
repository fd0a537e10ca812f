import { Stack, StackProps, Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { DsqlBridge, DsqlBridgeProps } from './dsql-bridge';

/** An existing source PostgreSQL described by plain IDs (what cdk.json context can hold). */
export interface DsqlBridgeSourceAttributes {
  /** Host name of the source PostgreSQL server, as DMS reaches it from the VPC `vpcId`. */
  readonly serverName: string;
  /** @default 5432 */
  readonly port?: number;
  /** Database to replicate. */
  readonly databaseName: string;
  /** ARN of the Secrets Manager secret with `username` and `password`. */
  readonly secretArn: string;
  /** ID of the VPC DMS Serverless runs in; it must reach the source server. */
  readonly vpcId: string;
  /** CIDR of that VPC: the DMS security group allows egress to it on the source port (the source must be inside it). */
  readonly vpcCidr: string;
  /** Availability Zones of `subnetIds`, in the same order. */
  readonly availabilityZones: string[];
  /** Private subnets (one per availability zone) for DMS Serverless. */
  readonly subnetIds: string[];
  /** @default ['public'] */
  readonly schemas?: string[];
}

/** Props of {@link DsqlBridgeStack}. */
export interface DsqlBridgeStackProps extends StackProps {
  /**
   * Props of the bridge construct.
   * @default - a new key, deletion-protected cluster, landing prefix `dms`, no DMS source
   */
  readonly bridge?: Omit<DsqlBridgeProps, 'source'>;
  /**
   * The source PostgreSQL for the DMS Serverless full-load-and-CDC replication.
   * @default - no DMS source endpoint and no replication are created
   */
  readonly source?: DsqlBridgeSourceAttributes;
}

/** `DbOpsDsqlBridge`: PostgreSQL → Aurora DSQL through DMS, S3, SQS and a loader Lambda. */
export class DsqlBridgeStack extends Stack {
  public readonly bridge: DsqlBridge;

  constructor(scope: Construct, id: string, props: DsqlBridgeStackProps = {}) {
    super(scope, id, { description: 'db-ops-kit: PostgreSQL to Aurora DSQL bridge (DMS to S3, SQS, loader Lambda, backfill)', ...props });
    const s = props.source;
    let source: DsqlBridgeProps['source'];
    if (s) {
      const vpc = ec2.Vpc.fromVpcAttributes(this, 'SourceVpc', {
        vpcId: s.vpcId,
        vpcCidrBlock: s.vpcCidr,
        availabilityZones: s.availabilityZones,
        privateSubnetIds: s.subnetIds,
      });
      source = {
        serverName: s.serverName,
        port: s.port,
        databaseName: s.databaseName,
        secret: secretsmanager.Secret.fromSecretCompleteArn(this, 'SourceSecret', s.secretArn),
        vpc,
        vpcSubnets: { subnets: vpc.privateSubnets },
        schemas: s.schemas,
      };
    }
    this.bridge = new DsqlBridge(this, 'DsqlBridge', { ...(props.bridge ?? {}), source });
    // Output names as the README uses them (one bridge per stack, so the short names are unique).
    for (const [id, output] of Object.entries(this.bridge.outputs)) output.overrideLogicalId(id);
    Tags.of(this).add('db-ops-kit:pattern', 'dsql-bridge');
  }
}
