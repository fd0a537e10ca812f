import { Arn, CustomResource, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { allowCloudWatchLogs } from './aurora';
import { HandlerPair } from './handler-function';
import { checkDistinctCidrs, FQDN_RE, isIpv4, Problems } from './validation';

/** CloudFormation's custom-resource limit is 3600 s; stay below it so the framework reports a clear timeout first. */
const MAX_ROUND = Duration.minutes(55);

/** One port range that the trust and Kerberos need between the on-premises network and the domain controllers. */
export interface TrustPort {
  readonly protocol: 'tcp' | 'udp';
  readonly from: number;
  readonly to: number;
  readonly purpose: string;
}

/**
 * The ports a forest trust and Kerberos clients need to reach the directory's domain controllers, as
 * AWS documents them for the directory's own security group (AddIpRoutes
 * `UpdateSecurityGroupForDirectoryControllers`, and the AWSSupport-TroubleshootDirectoryTrust runbook's
 * required traffic): TCP 1024-65535 covers the RPC dynamic ports AWS expects and the Global Catalog
 * (3268-3269). Opened from the on-premises CIDRs only; nothing else is opened.
 */
export const TRUST_PORTS: readonly TrustPort[] = [
  { protocol: 'tcp', from: 53, to: 53, purpose: 'DNS' },
  { protocol: 'udp', from: 53, to: 53, purpose: 'DNS' },
  { protocol: 'tcp', from: 88, to: 88, purpose: 'Kerberos' },
  { protocol: 'udp', from: 88, to: 88, purpose: 'Kerberos' },
  { protocol: 'udp', from: 123, to: 123, purpose: 'NTP (Kerberos clock skew)' },
  { protocol: 'tcp', from: 135, to: 135, purpose: 'RPC endpoint mapper (trust validation)' },
  { protocol: 'udp', from: 138, to: 138, purpose: 'NetBIOS datagram (DFS, trust)' },
  { protocol: 'tcp', from: 389, to: 389, purpose: 'LDAP' },
  { protocol: 'udp', from: 389, to: 389, purpose: 'LDAP (DC locator)' },
  { protocol: 'tcp', from: 445, to: 445, purpose: 'SMB (trust validation)' },
  { protocol: 'udp', from: 445, to: 445, purpose: 'SMB' },
  { protocol: 'tcp', from: 464, to: 464, purpose: 'Kerberos password change' },
  { protocol: 'udp', from: 464, to: 464, purpose: 'Kerberos password change' },
  { protocol: 'tcp', from: 636, to: 636, purpose: 'LDAPS' },
  { protocol: 'tcp', from: 1024, to: 65535, purpose: 'RPC dynamic ports and Global Catalog 3268-3269' },
];

/**
 * Opens {@link TRUST_PORTS} from each on-premises CIDR on a security group that AWS created (the
 * directory's domain-controller group), as separate `AWS::EC2::SecurityGroupIngress` resources so
 * they are removed with the stack while the group itself stays AWS's.
 */
export function addTrustIngress(scope: Construct, securityGroupId: string, onPremisesCidrs: string[]): ec2.CfnSecurityGroupIngress[] {
  const rules: ec2.CfnSecurityGroupIngress[] = [];
  onPremisesCidrs.forEach((cidr, i) => {
    for (const p of TRUST_PORTS) {
      rules.push(
        new ec2.CfnSecurityGroupIngress(scope, `OnPrem${i}${p.protocol}${p.from}`, {
          groupId: securityGroupId,
          ipProtocol: p.protocol,
          fromPort: p.from,
          toPort: p.to,
          cidrIp: cidr,
          description: `${p.purpose} from on-premises ${cidr}`,
        }),
      );
    }
  });
  return rules;
}

function directoryArn(scope: Construct, directoryId: string, region?: string): string {
  return Arn.format({ service: 'ds', resource: 'directory', resourceName: directoryId, region }, Stack.of(scope));
}

/**
 * A generated trust password (32 characters, no characters that upset PowerShell or netdom) in
 * Secrets Manager, RETAINed. Create it before the trust (e.g. in a first deploy without the trust)
 * so the on-premises administrator can use it for the incoming side first.
 */
export function newTrustPasswordSecret(scope: Construct, id: string, remoteDomainName: string, encryptionKey?: kms.IKey): secretsmanager.Secret {
  const key = encryptionKey ?? new kms.Key(scope, `${id}Key`, { enableKeyRotation: true, description: `Trust password for ${remoteDomainName}`, removalPolicy: RemovalPolicy.RETAIN });
  const secret = new secretsmanager.Secret(scope, id, {
    description: `Password of the forest trust with ${remoteDomainName}; the on-premises administrator uses it for the incoming trust`,
    encryptionKey: key,
    removalPolicy: RemovalPolicy.RETAIN,
    generateSecretString: { passwordLength: 32, excludeCharacters: '"\'`$\\/@;,<>|&{}[]()%:= ', requireEachIncludedType: true },
  });
  Validations.of(secret).acknowledge({
    id: 'AwsSolutions-SMG4',
    reason: 'A trust password must change on both forests at once (on-premises netdom/PowerShell and a new AWS trust); unattended Secrets Manager rotation would break the trust.',
  });
  return secret;
}

/**
 * The security group AWS created for a directory's domain controllers, read once with
 * ds:DescribeDirectories (it exists only after the directory, and CloudFormation does not return it).
 */
export function lookUpDirectorySecurityGroup(scope: Construct, id: string, directoryId: string, retention: logs.RetentionDays, encryptionKey?: kms.IKey): string {
  // Control Tower CT.CLOUDWATCH.PR.3: encrypted with the given key (its policy must allow CloudWatch Logs).
  if (encryptionKey) allowCloudWatchLogs(scope, encryptionKey, 'the directory security group lookup log group');
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, { retention, encryptionKey, removalPolicy: RemovalPolicy.DESTROY });
  // A role that writes only to its own log group, instead of the AWSLambdaBasicExecutionRole CDK would attach
  // (logs:CreateLogGroup on *); AwsCustomResource adds the ds:DescribeDirectories statement below to it.
  const role = new iam.Role(scope, `${id}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: 'Directory security group lookup (AwsCustomResource)' });
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
  const lookup = new cr.AwsCustomResource(scope, id, {
    role,
    onUpdate: {
      service: 'DirectoryService',
      action: 'describeDirectories',
      parameters: { DirectoryIds: [directoryId] },
      physicalResourceId: cr.PhysicalResourceId.of(`${directoryId}-sg`),
      outputPaths: ['DirectoryDescriptions.0.VpcSettings.SecurityGroupId'],
    },
    policy: cr.AwsCustomResourcePolicy.fromStatements([new iam.PolicyStatement({ actions: ['ds:DescribeDirectories'], resources: ['*'] })]),
    installLatestAwsSdk: false,
    memorySize: 256,
    logGroup,
  });
  Validations.of(lookup).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason: 'ds:DescribeDirectories does not support resource-level permissions; the call is read-only and returns only the directory security group ID.',
  });
  // AwsCustomResource runs on one CDK-managed singleton function per stack (no DLQ/tracing options).
  const singleton = Stack.of(scope).node.tryFindChild('AWS679f53fac002430cb0da5b7982bd2287');
  if (singleton) {
    for (const [rid, reason] of [
      ['Serverless-LambdaDLQ', 'The AwsCustomResource singleton is invoked synchronously by CloudFormation, which records failures.'],
      ['Serverless-LambdaTracing', 'The AwsCustomResource singleton is a CDK internal without a tracing option; it makes one read-only DescribeDirectories call.'],
      ['Serverless-LambdaDefaultMemorySize', 'Memory is set through AwsCustomResource memorySize (256 MB).'],
      ['AwsSolutions-L1', 'CDK chooses the AwsCustomResource runtime; it is upgraded with aws-cdk-lib.'],
      ['Serverless-LambdaLatestVersion', 'CDK chooses the AwsCustomResource runtime; it is upgraded with aws-cdk-lib.'],
    ] as const) {
      Validations.of(singleton).acknowledge({ id: rid, reason });
    }
  }
  return lookup.getResponseField('DirectoryDescriptions.0.VpcSettings.SecurityGroupId');
}

/** Props of {@link ForestTrust}. */
export interface ForestTrustProps {
  /** Directory ID of the AWS Managed Microsoft AD (`d-…`). */
  readonly directoryId: string;
  /** FQDN of the on-premises forest root domain, e.g. `onprem.example.com`. */
  readonly remoteDomainName: string;
  /** On-premises DNS servers for the conditional forwarder (1 to 4 IPv4 addresses). */
  readonly remoteDnsIps: string[];
  /** On-premises networks allowed to reach the domain controllers on {@link TRUST_PORTS}. */
  readonly onPremisesCidrs: string[];
  /**
   * Secret holding the trust password (a plain string or JSON `{"password": …}`); the on-premises
   * administrator uses the same password for the incoming side.
   * @default - a new generated secret (32 characters) encrypted with `encryptionKey`
   */
  readonly trustPasswordSecret?: secretsmanager.ISecret;
  /**
   * Key for the generated trust-password secret.
   * @default - a new customer-managed key with rotation
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Selective authentication: on-premises users authenticate only to resources you explicitly allow.
   * @default false
   */
  readonly selectiveAuth?: boolean;
  /** @default logs.RetentionDays.ONE_YEAR (Control Tower CT.CLOUDWATCH.PR.2 requires at least one year) */
  readonly logRetention?: logs.RetentionDays;
  /**
   * How long to wait for the trust to be Verified (at most 55 minutes: CloudFormation stops a
   * custom resource after one hour).
   * @default Duration.minutes(30)
   */
  readonly totalTimeout?: Duration;
  /**
   * Take over a trust to `remoteDomainName` that already exists (e.g. made by hand before the stack).
   * It must be a Verified one-way outgoing forest trust; it is left in place (with its conditional
   * forwarder) when the resource is deleted, whatever `removalPolicy` says.
   * @default false - an existing trust to the same domain fails the deployment with its ID and state; nothing is changed
   */
  readonly adoptExisting?: boolean;
  /**
   * What happens to the trust when it leaves the stack (stack deletion, or a deploy without the trust).
   * The default keeps the trust, its conditional forwarder and the on-premises ingress rules, so turning
   * the trust off never breaks on-premises logins, but still deletes a trust this construct just created
   * when the deployment that created it rolls back (CloudFormation's RetainExceptOnCreate), so a failed
   * verification can simply be retried. `DESTROY` deletes a trust this construct created (never an
   * adopted one) and its forwarder.
   * @default RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * The directory's domain-controller security group, where the trust ports are opened.
   * @default - looked up with ds:DescribeDirectories
   */
  readonly directorySecurityGroupId?: string;
  /**
   * Folder holding this pattern's runtime code (the handlers of `lambda/ad-trust/`), for apps that keep
   * Lambda code elsewhere; `lambda/shared/` must sit next to it (`<dir>/../shared`).
   * @default - `lambda/ad-trust` two folders up from `lib/ad-trust/` (the kit's layout)
   */
  readonly runtimeCodeDir?: string;
}

/**
 * The AWS side of a one-way outgoing forest trust (AWS trusts on-premises): a custom resource on
 * the CDK Provider framework that calls CreateTrust with a conditional forwarder, waits until the
 * trust is Verified, applies selective-authentication and forwarder changes in place, and deletes
 * the trust (and its forwarder) on delete. Its properties carry only the password secret's ARN; the
 * handler reads the password itself. Also opens the trust ports on the directory's own security group
 * from the on-premises CIDRs, before the trust is created.
 */
export class ForestTrust extends Construct {
  public readonly trustPasswordSecret: secretsmanager.ISecret;
  public readonly handlers: HandlerPair;
  public readonly resource: CustomResource;
  /** The trust ID (`t-…`). */
  public readonly trustId: string;
  /** The security group AWS created for the directory's domain controllers. */
  public readonly directorySecurityGroupId: string;
  public readonly ingressRules: ec2.CfnSecurityGroupIngress[];

  constructor(scope: Construct, id: string, props: ForestTrustProps) {
    super(scope, id);
    const problems = new Problems();
    problems.check(props.remoteDomainName, (d) => FQDN_RE.test(d), `remoteDomainName "${props.remoteDomainName}" must be a fully qualified domain name, e.g. onprem.example.com`);
    if (!Token.isUnresolved(props.remoteDnsIps)) {
      if (props.remoteDnsIps.length < 1 || props.remoteDnsIps.length > 4) {
        problems.add(`remoteDnsIps takes 1 to 4 on-premises DNS server addresses (CreateTrust's conditional forwarder limit), got ${props.remoteDnsIps.length}`);
      }
      for (const ip of props.remoteDnsIps) problems.check(ip, isIpv4, `remoteDnsIps entry "${ip}" is not an IPv4 address`);
    }
    if (props.onPremisesCidrs.length === 0) problems.add('onPremisesCidrs needs at least one on-premises network');
    checkDistinctCidrs(problems, props.onPremisesCidrs.map((c, i) => [`onPremisesCidrs[${i}]`, c]));
    for (const c of props.onPremisesCidrs) {
      if (c === '0.0.0.0/0') problems.add('onPremisesCidrs must not contain 0.0.0.0/0: the domain controllers would be open to every network');
    }
    if (props.totalTimeout && props.totalTimeout.toSeconds() > MAX_ROUND.toSeconds()) {
      problems.add(`totalTimeout must be at most ${MAX_ROUND.toMinutes()} minutes (CloudFormation stops a custom resource after one hour), got ${props.totalTimeout.toHumanString()}`);
    }
    problems.throwIfAny(this.node.path);

    const retention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    this.trustPasswordSecret = props.trustPasswordSecret ?? newTrustPasswordSecret(this, 'TrustPassword', props.remoteDomainName, props.encryptionKey);

    this.directorySecurityGroupId = props.directorySecurityGroupId ?? lookUpDirectorySecurityGroup(this, 'DirectorySecurityGroup', props.directoryId, retention);
    this.ingressRules = addTrustIngress(this, this.directorySecurityGroupId, props.onPremisesCidrs);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE;
    // The rules live on AWS's security group of a RETAINed directory; they go with the trust.
    for (const r of this.ingressRules) r.applyRemovalPolicy(removalPolicy);

    this.handlers = new HandlerPair(this, 'Handlers', {
      entry: 'trust-handler.ts',
      description: `Forest trust ${props.remoteDomainName}`,
      logRetention: retention,
      queryInterval: Duration.seconds(30),
      totalTimeout: props.totalTimeout ?? Duration.minutes(30),
      runtimeCodeDir: props.runtimeCodeDir,
    });
    // Writes only in onEvent; the poller (isComplete) can only read (DescribeTrusts below).
    this.handlers.addToOnEventPolicy(
      new iam.PolicyStatement({
        actions: ['ds:CreateTrust', 'ds:DeleteTrust', 'ds:UpdateTrust', 'ds:UpdateConditionalForwarder', 'ds:DescribeConditionalForwarders', 'ds:DeleteConditionalForwarder'],
        resources: [directoryArn(this, props.directoryId)],
      }),
    );
    // ds:DescribeTrusts has no resource-level permissions (Service Authorization Reference): scoped to
    // the directory ARN it is denied and every create/poll would fail with AccessDenied.
    this.handlers.addToRolePolicy(new iam.PolicyStatement({ actions: ['ds:DescribeTrusts'], resources: ['*'] }));
    for (const fn of [this.handlers.onEventFn, this.handlers.isCompleteFn]) {
      Validations.of(fn).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'ds:DescribeTrusts (read-only) does not support resource-level permissions; every write action is scoped to the directory ARN.',
      });
    }
    this.trustPasswordSecret.grantRead(this.handlers.onEventFn);

    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: this.handlers.serviceToken,
      resourceType: 'Custom::ForestTrust',
      properties: {
        DirectoryId: props.directoryId,
        RemoteDomainName: props.remoteDomainName,
        TrustPasswordSecretArn: this.trustPasswordSecret.secretArn,
        ConditionalForwarderIpAddrs: props.remoteDnsIps,
        SelectiveAuth: props.selectiveAuth ? 'Enabled' : 'Disabled',
        AdoptExisting: String(props.adoptExisting ?? false),
      },
      removalPolicy,
    });
    for (const r of this.ingressRules) this.resource.node.addDependency(r);
    // The bare trust ID (the physical ID also says adopted/replaces, see lambda/ad-trust/trust.ts trustPhysicalId).
    this.trustId = this.resource.getAttString('TrustId');
  }
}

/** Props of {@link DirectoryRegionReplication}. */
export interface DirectoryRegionReplicationProps {
  /** Directory ID (`d-…`) of the Enterprise Edition AWS Managed Microsoft AD to replicate. */
  readonly directoryId: string;
  /** The Region where the directory was created. */
  readonly primaryRegion: string;
  /** VPC for the domain controllers in this stack's Region (the replica Region). */
  readonly vpc: ec2.IVpc;
  /**
   * Two subnets in different Availability Zones.
   * @default - the first two isolated (else private) subnets in different Availability Zones
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * On-premises networks allowed to reach the replica Region's domain controllers on the trust and
   * Kerberos ports (clients fail over to them).
   * @default - no rules (clients reach only the primary Region's controllers)
   */
  readonly onPremisesCidrs?: string[];
  /** @default logs.RetentionDays.ONE_YEAR (Control Tower CT.CLOUDWATCH.PR.2 requires at least one year) */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Key for the handlers' log groups (Control Tower CT.CLOUDWATCH.PR.3).
   * @default - the log groups use CloudWatch Logs' own encryption
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * How long to wait in total for the Region to become Active (Terraform's aws_directory_service_region
   * allows 180 minutes). CloudFormation fails any custom resource after one hour, so the wait is split
   * over a chain of custom resources of at most 55 minutes each (`Resource` starts AddRegion and hands
   * over, `Wait1`… and `Ready` keep polling); 10 to 300 minutes.
   * @default Duration.minutes(180)
   */
  readonly totalTimeout?: Duration;
  /**
   * Use a Region the directory is already replicated to (e.g. added by hand) instead of refusing it. It
   * must be Active in `vpc`; it is left in place when the stack is deleted.
   * @default false - an existing Region fails the deployment with its status and VPC; nothing is changed
   */
  readonly adoptExisting?: boolean;
  /**
   * What happens to the Region when it leaves the stack. The default keeps it on stack deletion (the
   * RETAINed secondary cluster authenticates against its domain controllers) but removes a Region this
   * construct added when the deployment that added it rolls back (CloudFormation's RetainExceptOnCreate).
   * `DESTROY` removes it on stack deletion too. An adopted Region is never removed.
   * @default RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Folder holding this pattern's runtime code (the handlers of `lambda/ad-trust/`), for apps that keep
   * Lambda code elsewhere; `lambda/shared/` must sit next to it (`<dir>/../shared`).
   * @default - `lambda/ad-trust` two folders up from `lib/ad-trust/` (the kit's layout)
   */
  readonly runtimeCodeDir?: string;
}

/** Longest wait of the Region chain (six resources of at most 55 minutes). */
const MAX_REGION_WAIT_MINUTES = 300;
/** A resource of the chain completes this long before its own deadline so the next one takes over. */
const HAND_OVER_MINUTES = 5;

/**
 * Replicates an AWS Managed Microsoft AD (Enterprise) to this stack's Region: a custom resource on the
 * CDK Provider framework that calls AddRegion, polls DescribeRegions every minute until the Region is
 * Active, and calls RemoveRegion on delete. Because CloudFormation gives one custom resource at most
 * an hour, a second custom resource (`ready`) continues the wait when the first hands over; the DNS
 * addresses and security group come from it. It must live in the replica Region's stack
 * (RemoveRegion acts on the Region of the endpoint it is sent to, and the VPC is there).
 */
export class DirectoryRegionReplication extends Construct {
  public readonly handlers: HandlerPair;
  /** Starts AddRegion (RemoveRegion on delete). */
  public readonly resource: CustomResource;
  /** Completes when the Region is Active; its attributes carry the replica Region's data. */
  public readonly ready: CustomResource;
  /** Domain controllers in the replica Region (comma-separated), once Active. */
  public readonly dnsIpAddressesCsv: string;
  /** The security group AWS created for the replica Region's domain controllers. */
  public readonly securityGroupId: string;
  public readonly ingressRules: ec2.CfnSecurityGroupIngress[];
  /** Custom resources the wait is split over (`Resource`, `Wait1`…, `Ready`). */
  public readonly stages: number;
  /** Minutes the chain polls for Active in total (at least `totalTimeout`). */
  public readonly effectiveWaitMinutes: number;

  constructor(scope: Construct, id: string, props: DirectoryRegionReplicationProps) {
    super(scope, id);
    const problems = new Problems();
    const region = Stack.of(this).region;
    if (Token.isUnresolved(region)) problems.add('the stack needs an explicit region: AddRegion replicates the directory into the stack\'s Region');
    else if (!Token.isUnresolved(props.primaryRegion) && region === props.primaryRegion) {
      problems.add(`primaryRegion ${props.primaryRegion} equals this stack's Region; put this construct in the replica Region's stack`);
    }
    const selection = props.vpcSubnets ?? {
      subnetType: props.vpc.isolatedSubnets.length > 0 ? ec2.SubnetType.PRIVATE_ISOLATED : ec2.SubnetType.PRIVATE_WITH_EGRESS,
      onePerAz: true,
    };
    const subnets = props.vpc.selectSubnets(selection);
    if (subnets.subnetIds.length < 2) problems.add('the VPC must offer two subnets in different Availability Zones for the replica domain controllers');
    checkDistinctCidrs(problems, (props.onPremisesCidrs ?? []).map((c, i) => [`onPremisesCidrs[${i}]`, c]));
    const total = props.totalTimeout ?? Duration.minutes(180);
    if (total.toMinutes() < 10 || total.toMinutes() > MAX_REGION_WAIT_MINUTES) {
      problems.add(`totalTimeout must be 10 to ${MAX_REGION_WAIT_MINUTES} minutes (a chain of custom resources of at most ${MAX_ROUND.toMinutes()} minutes each; CloudFormation stops a custom resource after one hour), got ${total.toMinutes()}`);
    }
    problems.throwIfAny(this.node.path);
    // Every resource hands over 5 minutes before its own deadline (the last one fails then, with the
    // Region's status, instead of the framework's bare timeout); the chain is long enough that the time
    // actually spent polling is at least `total`.
    let stages = 2;
    while (stages * (MAX_ROUND.toMinutes() - HAND_OVER_MINUTES) < total.toMinutes()) stages++;
    const round = Duration.minutes(Math.ceil(total.toMinutes() / stages) + HAND_OVER_MINUTES);
    /** Minutes actually spent waiting for Active before the last resource fails. */
    this.effectiveWaitMinutes = stages * (round.toMinutes() - HAND_OVER_MINUTES);
    this.stages = stages;

    this.handlers = new HandlerPair(this, 'Handlers', {
      entry: 'add-region-handler.ts',
      description: `Replicate directory to ${region}`,
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      queryInterval: Duration.minutes(1),
      totalTimeout: round,
      runtimeCodeDir: props.runtimeCodeDir,
      encryptionKey: props.encryptionKey,
    });
    const directoryArns = [directoryArn(this, props.directoryId, props.primaryRegion), directoryArn(this, props.directoryId)];
    this.handlers.addToRolePolicy(new iam.PolicyStatement({ actions: ['ds:DescribeRegions'], resources: directoryArns }));
    // ds:DescribeDirectories is a List action without resource-level permissions (Service Authorization
    // Reference): scoped to a directory ARN it is denied, and the poll that reads the replica's DNS
    // addresses would fail after the Region became Active.
    this.handlers.addToRolePolicy(new iam.PolicyStatement({ actions: ['ds:DescribeDirectories'], resources: ['*'] }));
    // Directory Service creates and deletes the domain controllers' ENIs and security group with the
    // caller's permissions; EC2 has no resource ARN for them before they exist. Both Regions: AddRegion
    // is sent to the primary Region's endpoint and RemoveRegion to the replica's.
    const inRegions = { StringEquals: { 'aws:RequestedRegion': [region, props.primaryRegion] } };
    const ec2Read = ['ec2:DescribeSubnets', 'ec2:DescribeVpcs', 'ec2:DescribeSecurityGroups', 'ec2:DescribeNetworkInterfaces'];
    const ec2Remove = ['ec2:RevokeSecurityGroupIngress', 'ec2:RevokeSecurityGroupEgress', 'ec2:DeleteNetworkInterface', 'ec2:DeleteSecurityGroup'];
    this.handlers.addToOnEventPolicy(new iam.PolicyStatement({ actions: ['ds:AddRegion', 'ds:RemoveRegion'], resources: directoryArns }));
    this.handlers.addToOnEventPolicy(
      new iam.PolicyStatement({
        actions: [...ec2Read, 'ec2:CreateSecurityGroup', 'ec2:CreateNetworkInterface', 'ec2:CreateTags', 'ec2:AuthorizeSecurityGroupIngress', 'ec2:AuthorizeSecurityGroupEgress', ...ec2Remove],
        resources: ['*'],
        conditions: inRegions,
      }),
    );
    // The poller's only write: a Region this stack added that was still being built when a rollback
    // began is removed by the poll once it is Active (lambda/ad-trust/add-region.ts pollRegionRemoval).
    // It can remove, never add or create.
    this.handlers.addToIsCompletePolicy(new iam.PolicyStatement({ actions: ['ds:RemoveRegion'], resources: directoryArns }));
    this.handlers.addToIsCompletePolicy(new iam.PolicyStatement({ actions: [...ec2Read, ...ec2Remove], resources: ['*'], conditions: inRegions }));
    for (const fn of [this.handlers.onEventFn, this.handlers.isCompleteFn]) {
      Validations.of(fn).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'AddRegion/RemoveRegion create and delete the domain controllers\' ENIs and security group with the caller\'s EC2 permissions; those resources have no ARN before they exist (limited to the two Regions by aws:RequestedRegion). ds:DescribeDirectories has no resource-level permissions.',
      });
    }

    const properties = {
      DirectoryId: props.directoryId,
      PrimaryRegion: props.primaryRegion,
      RegionName: region,
      VpcId: props.vpc.vpcId,
      SubnetIds: subnets.subnetIds.slice(0, 2),
    };
    const handOver = String(round.toSeconds() - HAND_OVER_MINUTES * 60);
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: this.handlers.serviceToken,
      resourceType: 'Custom::DirectoryRegion',
      // Hand over to the next resource 5 minutes before this resource's own deadline.
      properties: { ...properties, AdoptExisting: String(props.adoptExisting ?? false), Stage: 'replicate', SoftDeadlineSeconds: handOver, RoundSeconds: String(round.toSeconds()) },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
    // The waits know from the replicate resource's physical ID whether the Region is the stack's own.
    let previous: CustomResource = this.resource;
    for (let i = 1; i <= stages - 1; i++) {
      const last = i === stages - 1;
      const wait: CustomResource = new CustomResource(this, last ? 'Ready' : `Wait${i}`, {
        serviceToken: this.handlers.serviceToken,
        resourceType: last ? 'Custom::DirectoryRegionReady' : 'Custom::DirectoryRegionWait',
        properties: {
          ...properties,
          Stage: 'wait',
          WaitName: last ? 'active' : `wait${i}`,
          SoftDeadlineSeconds: last ? '0' : handOver,
          RoundSeconds: String(round.toSeconds()),
          ReplicateId: this.resource.ref,
        },
      });
      // The first wait already references the replicate resource (ReplicateId); the later ones follow their predecessor.
      if (previous !== this.resource) wait.node.addDependency(previous);
      previous = wait;
    }
    this.ready = previous;
    this.dnsIpAddressesCsv = this.ready.getAttString('DnsIpAddrs');
    this.securityGroupId = this.ready.getAttString('SecurityGroupId');
    this.ingressRules = addTrustIngress(this, this.securityGroupId, props.onPremisesCidrs ?? []);
  }
}
