import { Annotations, CfnOutput, RemovalPolicy, Stack, StackProps, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { allowCloudWatchLogs, AuroraEngineName, denyGrantsExceptForAwsResources, KerberosGlobalDatabase, KerberosSecondaryCluster } from './aurora';
import { DirectoryRegionReplication, ForestTrust, lookUpDirectorySecurityGroup, newTrustPasswordSecret } from './custom-resources';
import { DirectoryAccessRole, DirectoryEdition, ManagedMicrosoftAd } from './directory';
import { checkDistinctCidrs, FQDN_RE, Problems } from './validation';

/** The VPC of one Region's stack: bring your own (`vpc`) or have one created (`vpcCidr`). */
export interface NetworkProps {
  /**
   * Bring your own VPC (it needs two isolated or private subnets in different Availability Zones,
   * routed to the on-premises network). Give either `vpc` or `vpcCidr`, not both.
   * @default - a new VPC from `vpcCidr`
   */
  readonly vpc?: ec2.IVpc;
  /**
   * CIDR of a new VPC with isolated subnets in two Availability Zones and flow logs.
   * @default - required when `vpc` is not given
   */
  readonly vpcCidr?: string;
  /**
   * Availability Zones of the new VPC (two). Set them to keep synth free of AZ lookups when the
   * stack has a concrete account.
   * @default - the first two Availability Zones of the stack's Region
   */
  readonly availabilityZones?: string[];
  /**
   * Folder holding this pattern's runtime code (the handlers of `lambda/ad-trust/`), for apps that keep
   * Lambda code elsewhere; `lambda/shared/` must sit next to it (`<dir>/../shared`).
   * @default - `lambda/ad-trust` two folders up from `lib/ad-trust/` (the kit's layout)
   */
  readonly runtimeCodeDir?: string;
}

function checkNetwork(problems: Problems, props: NetworkProps): void {
  if (props.vpc && props.vpcCidr) problems.add('give either vpc (bring your own) or vpcCidr (a new VPC), not both');
  if (!props.vpc && !props.vpcCidr) problems.add('give vpc (bring your own) or vpcCidr (a new VPC)');
  if (props.availabilityZones && props.availabilityZones.length !== 2) problems.add(`availabilityZones takes exactly two zones, got ${props.availabilityZones.length}`);
  if (props.vpcCidr && !Token.isUnresolved(props.vpcCidr)) {
    const bits = Number(props.vpcCidr.split('/')[1]);
    if (bits > 24) problems.add(`vpcCidr ${props.vpcCidr} is too small: two /24 subnets are needed (use a /23 or larger)`);
  }
}

/** Call after validation passed. */
function buildVpc(scope: Construct, props: NetworkProps, logRetention: logs.RetentionDays): ec2.IVpc {
  if (props.vpc) return props.vpc;
  const vpc = new ec2.Vpc(scope, 'Vpc', {
    ipAddresses: ec2.IpAddresses.cidr(props.vpcCidr!),
    ...(props.availabilityZones ? { availabilityZones: props.availabilityZones } : { maxAzs: 2 }),
    natGateways: 0,
    subnetConfiguration: [{ name: 'Data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
  });
  // The directory (or its replica Region) and the clusters are kept on stack deletion; their domain
  // controllers' and instances' network interfaces live in these subnets, so the VPC and subnets stay too
  // (CloudFormation could not delete them under those interfaces anyway). No fixed names: a redeploy makes new ones.
  for (const c of vpc.node.findAll()) {
    if (c instanceof ec2.CfnVPC || c instanceof ec2.CfnSubnet) c.applyRemovalPolicy(RemovalPolicy.RETAIN);
  }
  return vpc;
}

/** VPC flow logs (ALL traffic) into a retained log group, encrypted with `key` when given (Control Tower CT.CLOUDWATCH.PR.3). */
function addFlowLogs(scope: Construct, vpc: ec2.IVpc, logRetention: logs.RetentionDays, key?: kms.IKey): void {
  if (key) allowCloudWatchLogs(scope, key, 'the VPC flow log group');
  const flowLogs = new logs.LogGroup(scope, 'FlowLogs', { retention: logRetention, encryptionKey: key, removalPolicy: RemovalPolicy.RETAIN });
  vpc.addFlowLog('FlowLog', { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: ec2.FlowLogTrafficType.ALL });
}

function cidrOf(props: NetworkProps): string | undefined {
  if (props.vpcCidr) return props.vpcCidr;
  const c = props.vpc?.vpcCidrBlock;
  return c && !Token.isUnresolved(c) ? c : undefined;
}

/** Props of {@link AdTrustPrimaryStack}. */
export interface AdTrustPrimaryStackProps extends StackProps, NetworkProps {
  /** The AWS forest, e.g. `corp.aws.example.com`. */
  readonly domainName: string;
  /** @default - derived by AWS from the first label of `domainName` */
  readonly shortName?: string;
  /** @default 'Enterprise' (required for the replica Region) */
  readonly edition?: DirectoryEdition;
  /** The Region the directory and the global database are replicated to. */
  readonly replicaRegion: string;
  /**
   * CIDR of the replica Region's VPC: validated here so the two VPCs never overlap.
   * @default - not checked in this stack; the replica stack still rejects a VPC CIDR that overlaps the
   *   primary's or an on-premises network
   */
  readonly replicaVpcCidr?: string;
  /** On-premises forest root domain, e.g. `onprem.example.com`. */
  readonly onPremDomainName: string;
  /** On-premises DNS servers / domain controllers (1-4), used for the conditional forwarder. */
  readonly onPremDnsIps: string[];
  /** On-premises networks: the trust ports and the database port are opened from these only. */
  readonly onPremisesCidrs: string[];
  /**
   * Create the AWS side of the trust. It needs the on-premises side and a route to it, so it is a
   * second, explicit step: deploy without it first, let the on-premises administrator create the
   * incoming side with the generated password (see README), then deploy with `true`. The trust is
   * RETAINed: deploying with `false` again leaves it (and its forwarder) in place.
   * @default false - no trust; the stack deploys with nothing outside the account
   */
  readonly createTrust?: boolean;
  /**
   * Adopt a trust to `onPremDomainName` that already exists (made by hand) instead of refusing it; it
   * must be a Verified one-way outgoing forest trust and is never deleted by the stack.
   * @default false - an existing trust fails the deployment with its ID and state, nothing is changed
   */
  readonly adoptExistingTrust?: boolean;
  /** @default false */
  readonly selectiveAuth?: boolean;
  /**
   * Existing secret with the trust password.
   * @default - a generated secret
   */
  readonly trustPasswordSecret?: secretsmanager.ISecret;
  /**
   * Aurora engine of the global database (version fixed per engine: Aurora PostgreSQL 16.6 or Aurora MySQL
   * 3.08.0, which support both Global Database and Kerberos); the replica stack uses the same engine.
   */
  readonly engine: AuroraEngineName;
  /**
   * Prefix of the global cluster's identifier (at most 39 characters); each creation of the stack appends
   * its own 8-character suffix, so a global cluster kept after a destroy never blocks a redeploy.
   * @default 'db-ops-kit-kerberos'
   */
  readonly globalClusterIdentifier?: string;
  /** @default 1 */
  readonly readers?: number;
  /** @default logs.RetentionDays.ONE_YEAR (Control Tower CT.CLOUDWATCH.PR.2 requires at least one year) */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Primary Region: VPC, AWS Managed Microsoft AD (Enterprise), the one-way outgoing forest trust to
 * on-premises, the RDS directory-access role, and the primary cluster of an Aurora Global Database
 * with Kerberos. Deploy first; the replica stack reads its values through cross-Region references
 * (SSM parameters written by CDK's ExportWriter), so nothing needs credentials at synth time.
 */
export class AdTrustPrimaryStack extends Stack {
  public readonly vpc: ec2.IVpc;
  public readonly directory: ManagedMicrosoftAd;
  public readonly directoryRole: DirectoryAccessRole;
  public readonly trust?: ForestTrust;
  /** The trust password; exists from the first deploy (also with createTrust=false) so the on-premises side can be set up first. */
  public readonly trustPasswordSecret: secretsmanager.ISecret;
  public readonly database: KerberosGlobalDatabase;
  public readonly engine: AuroraEngineName;
  public readonly onPremisesCidrs: string[];
  public readonly vpcCidr?: string;
  /** The security group AWS created for the directory's domain controllers (looked up after the directory exists). */
  public readonly directorySecurityGroupId: string;

  constructor(scope: Construct, id: string, props: AdTrustPrimaryStackProps) {
    super(scope, id, { crossRegionReferences: true, ...props });
    const problems = new Problems();
    const retention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    problems.check(props.onPremDomainName, (d) => FQDN_RE.test(d), `onPremDomainName "${props.onPremDomainName}" must be a fully qualified domain name, e.g. onprem.example.com`);
    if (FQDN_RE.test(props.onPremDomainName) && FQDN_RE.test(props.domainName) && props.onPremDomainName.toLowerCase() === props.domainName.toLowerCase()) {
      problems.add('domainName and onPremDomainName must differ: a forest trust joins two different forests');
    }
    if (!Token.isUnresolved(this.region) && props.replicaRegion === this.region) problems.add(`replicaRegion must differ from the stack's Region ${this.region}`);
    this.vpcCidr = cidrOf(props);
    checkDistinctCidrs(problems, [
      ['primary vpcCidr', this.vpcCidr],
      ['replicaVpcCidr', props.replicaVpcCidr],
      ...props.onPremisesCidrs.map((c, i): [string, string] => [`onPremisesCidrs[${i}]`, c]),
    ]);
    checkNetwork(problems, props);
    problems.throwIfAny(this.node.path);
    this.vpc = buildVpc(this, props, retention);
    this.engine = props.engine;
    this.onPremisesCidrs = props.onPremisesCidrs;

    this.directory = new ManagedMicrosoftAd(this, 'Directory', {
      vpc: this.vpc,
      domainName: props.domainName,
      shortName: props.shortName,
      edition: props.edition,
      replicaRegions: [props.replicaRegion],
    });
    this.directoryRole = new DirectoryAccessRole(this, 'DirectoryAccessRole');
    // The flow logs are encrypted with the directory's key (created with the directory, after the VPC).
    addFlowLogs(this, this.vpc, retention, this.directory.encryptionKey);

    this.trustPasswordSecret = props.trustPasswordSecret ?? newTrustPasswordSecret(this, 'TrustPassword', props.onPremDomainName, this.directory.encryptionKey);
    this.directorySecurityGroupId = lookUpDirectorySecurityGroup(this, 'DirectorySecurityGroup', this.directory.directoryId, retention, this.directory.encryptionKey);
    if (props.createTrust ?? false) {
      this.trust = new ForestTrust(this, 'Trust', {
        directoryId: this.directory.directoryId,
        remoteDomainName: props.onPremDomainName,
        remoteDnsIps: props.onPremDnsIps,
        onPremisesCidrs: props.onPremisesCidrs,
        trustPasswordSecret: this.trustPasswordSecret,
        directorySecurityGroupId: this.directorySecurityGroupId,
        selectiveAuth: props.selectiveAuth,
        logRetention: retention,
        adoptExisting: props.adoptExistingTrust,
        runtimeCodeDir: props.runtimeCodeDir,
      });
    }

    this.database = new KerberosGlobalDatabase(this, 'Database', {
      engine: props.engine,
      vpc: this.vpc,
      directoryId: this.directory.directoryId,
      directoryRole: this.directoryRole.role,
      directorySecurityGroupId: this.directorySecurityGroupId,
      globalClusterIdentifier: props.globalClusterIdentifier ?? 'db-ops-kit-kerberos',
      clientCidrs: props.onPremisesCidrs,
      readers: props.readers,
      logRetention: retention,
    });

    const out = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    out('DirectoryId', this.directory.directoryId, 'AWS Managed Microsoft AD directory ID (Kerberos domain of both clusters)');
    out('DirectoryDomainName', this.directory.domainName, 'AWS forest; its uppercase form is the AWS Kerberos realm');
    out('DirectoryDnsIps', this.directory.dnsIpAddressesCsv, 'Domain controllers (DNS, KDC) in the primary Region');
    out('DirectoryAdminSecretArn', this.directory.adminSecret.secretArn, 'Secret with the directory Admin password');
    out('DirectoryAccessRoleName', this.directoryRole.role.roleName, 'Role RDS uses to join the clusters to the directory');
    out('OnPremDomainName', props.onPremDomainName.toLowerCase(), 'On-premises forest; its uppercase form is the default realm of clients');
    out('OnPremDnsIps', props.onPremDnsIps.join(','), 'On-premises DNS servers / KDCs');
    out('DatabaseEngine', props.engine, 'Aurora engine');
    out('DatabasePort', String(this.database.port), 'Database port');
    out('GlobalClusterIdentifier', this.database.globalClusterIdentifier, 'Aurora global cluster');
    out('PrimaryClusterEndpoint', this.database.cluster.clusterEndpoint.hostname, 'Writer endpoint (primary Region)');
    out('PrimaryReaderEndpoint', this.database.cluster.clusterReadEndpoint.hostname, 'Reader endpoint (primary Region)');
    out('TrustPasswordSecretArn', this.trustPasswordSecret.secretArn, 'Secret with the trust password (ARN only; the value never leaves Secrets Manager)');
    if (this.trust) out('TrustId', this.trust.trustId, 'One-way outgoing forest trust');
  }
}

/** Props of {@link AdTrustReplicaStack}. */
export interface AdTrustReplicaStackProps extends StackProps, NetworkProps {
  /** The primary stack (in another Region of the same app). */
  readonly primary: AdTrustPrimaryStack;
  /** @default 1 */
  readonly instances?: number;
  /** @default logs.RetentionDays.ONE_YEAR (Control Tower CT.CLOUDWATCH.PR.2 requires at least one year) */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Use the replica Region if the directory is already replicated there (added by hand) instead of
   * refusing; it must be Active in this stack's VPC and is never removed by the stack.
   * @default false - an existing Region fails the deployment with its status and VPC, nothing is changed
   */
  readonly adoptExistingRegion?: boolean;
}

/**
 * Replica Region: VPC (CIDR must not overlap the primary's or on-premises), the directory replicated
 * here with AddRegion, and the secondary cluster of the global database with Kerberos against the
 * replicated directory. Deploy after the primary stack.
 */
export class AdTrustReplicaStack extends Stack {
  public readonly vpc: ec2.IVpc;
  public readonly replication: DirectoryRegionReplication;
  public readonly database: KerberosSecondaryCluster;

  constructor(scope: Construct, id: string, props: AdTrustReplicaStackProps) {
    super(scope, id, { crossRegionReferences: true, ...props });
    Annotations.of(this).acknowledgeWarning(
      '@aws-cdk/core:crossStackReferencesDefaultStrong',
      'Strong cross-Region references are intended: the primary stack must not drop the directory ID or role name while the replica stack uses them.',
    );
    const problems = new Problems();
    const retention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const primary = props.primary;
    if (Token.isUnresolved(this.region) || Token.isUnresolved(primary.region)) {
      problems.add('both stacks need an explicit region (env.region): cross-Region references and AddRegion depend on it');
    } else if (this.region === primary.region) {
      problems.add(`the replica stack's Region ${this.region} must differ from the primary's`);
    }
    checkDistinctCidrs(problems, [
      ['replica vpcCidr', cidrOf(props)],
      ['primary vpcCidr', primary.vpcCidr],
      ...primary.onPremisesCidrs.map((c, i): [string, string] => [`onPremisesCidrs[${i}]`, c]),
    ]);
    checkNetwork(problems, props);
    problems.throwIfAny(this.node.path);
    this.vpc = buildVpc(this, props, retention);
    // The replica Region's own key for its logs (flow logs, Region-replication handlers): those exist before the
    // secondary cluster and its key. Retained like the other keys; no fixed name.
    const logsKey = denyGrantsExceptForAwsResources(new kms.Key(this, 'LogsKey', { enableKeyRotation: true, description: 'AD trust replica Region: VPC flow logs and deploy-time handler logs', removalPolicy: RemovalPolicy.RETAIN }));
    addFlowLogs(this, this.vpc, retention, logsKey);

    this.replication = new DirectoryRegionReplication(this, 'DirectoryRegion', {
      directoryId: primary.directory.directoryId,
      primaryRegion: primary.region,
      vpc: this.vpc,
      onPremisesCidrs: primary.onPremisesCidrs,
      logRetention: retention,
      encryptionKey: logsKey,
      adoptExisting: props.adoptExistingRegion,
      runtimeCodeDir: props.runtimeCodeDir,
    });

    this.database = new KerberosSecondaryCluster(this, 'Database', {
      engine: primary.engine,
      vpc: this.vpc,
      directoryId: primary.directory.directoryId,
      directoryRoleName: primary.directoryRole.role.roleName,
      globalClusterIdentifier: primary.database.globalClusterIdentifier,
      identifierPrefix: primary.database.globalClusterName,
      directorySecurityGroupId: this.replication.securityGroupId,
      clientCidrs: primary.onPremisesCidrs,
      instances: props.instances,
      logRetention: retention,
    });
    // The global cluster is joined by name: deploy the primary stack (which creates it) first.
    this.addStackDependency(primary, 'the secondary cluster joins the global cluster created by the primary stack');
    // Kerberos in this Region needs the directory's domain controllers here first. The cluster waits for the
    // last resource of the Region chain (its security group already references that resource by GetAtt).
    this.database.cluster.node.addDependency(this.replication.ready);

    new CfnOutput(this, 'ReplicaDnsIps', { value: this.replication.dnsIpAddressesCsv, description: 'Domain controllers (DNS, KDC) in the replica Region' });
    new CfnOutput(this, 'SecondaryClusterEndpoint', { value: this.database.clusterEndpoint, description: 'Cluster endpoint (replica Region; writer after a failover)' });
    new CfnOutput(this, 'SecondaryReaderEndpoint', { value: this.database.readerEndpoint, description: 'Reader endpoint (replica Region)' });
    new CfnOutput(this, 'DatabaseEngine', { value: primary.engine, description: 'Aurora engine' });
    new CfnOutput(this, 'DatabasePort', { value: String(this.database.port), description: 'Database port' });
  }
}
