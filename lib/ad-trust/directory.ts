import { Fn, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as directoryservice from 'aws-cdk-lib/aws-directoryservice';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { denyGrantsExceptForAwsResources } from './aurora';
import { FQDN_RE, NETBIOS_RE, NO_MULTI_REGION_REPLICATION, Problems } from './validation';

export type DirectoryEdition = 'Enterprise' | 'Standard';

/** Props of {@link ManagedMicrosoftAd}. */
export interface ManagedMicrosoftAdProps {
  /** VPC for the two domain controllers of the primary Region. */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets for the domain controllers: exactly two, in different Availability Zones.
   * @default - the first two isolated (else private) subnets in different Availability Zones
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** Fully qualified name of the AWS forest, e.g. `corp.aws.example.com`. Its uppercase form is the Kerberos realm. */
  readonly domainName: string;
  /**
   * NetBIOS name of the domain.
   * @default - AWS derives it from the first label of `domainName`
   */
  readonly shortName?: string;
  /**
   * Edition. Multi-Region replication needs Enterprise.
   * @default 'Enterprise'
   */
  readonly edition?: DirectoryEdition;
  /**
   * Regions this directory will be replicated to (used to validate the edition; the replication itself
   * is the `DirectoryRegionReplication` construct in the replica stack).
   * @default - no replica Regions
   */
  readonly replicaRegions?: string[];
  /**
   * Key that encrypts the generated `Admin` password secret.
   * @default - a new customer-managed key with rotation
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * AWS Managed Microsoft AD with its `Admin` password generated in Secrets Manager (the template holds
 * only a `{{resolve:secretsmanager:...}}` dynamic reference). The directory is RETAINed when removed
 * from the stack: it holds the users, groups and trust configuration.
 */
export class ManagedMicrosoftAd extends Construct {
  public readonly directory: directoryservice.CfnMicrosoftAD;
  /** Directory ID (`d-…`); the Kerberos `domain` of the Aurora clusters. */
  public readonly directoryId: string;
  /** Domain controllers (DNS servers) in the primary Region. */
  public readonly dnsIpAddresses: string[];
  public readonly domainName: string;
  /** The Kerberos realm: `domainName` in uppercase. */
  public readonly realm: string;
  public readonly adminSecret: secretsmanager.Secret;
  public readonly encryptionKey: kms.IKey;
  public readonly edition: DirectoryEdition;

  constructor(scope: Construct, id: string, props: ManagedMicrosoftAdProps) {
    super(scope, id);
    const problems = new Problems();
    const edition = props.edition ?? 'Enterprise';
    if (edition !== 'Enterprise' && edition !== 'Standard') problems.add(`edition must be Enterprise or Standard, got "${edition}"`);
    if (edition === 'Standard' && (props.replicaRegions ?? []).length > 0) {
      problems.add(`edition Standard cannot be replicated to other Regions (${props.replicaRegions!.join(', ')}); multi-Region replication needs edition Enterprise`);
    }
    problems.check(props.domainName, (d) => FQDN_RE.test(d), `domainName "${props.domainName}" must be a fully qualified domain name, e.g. corp.aws.example.com`);
    problems.check(props.shortName, (s) => NETBIOS_RE.test(s), `shortName "${props.shortName}" must be a NetBIOS name of 1-15 letters, digits or hyphens`);
    const region = Stack.of(this).region;
    for (const r of props.replicaRegions ?? []) {
      if (!Token.isUnresolved(region) && r === region) problems.add(`replicaRegions must not contain the directory's own Region ${r}`);
      if (NO_MULTI_REGION_REPLICATION.has(r)) problems.add(`replica Region ${r} is an opt-in Region; Directory Service multi-Region replication is unavailable there`);
    }
    if ((props.replicaRegions ?? []).length > 0 && NO_MULTI_REGION_REPLICATION.has(region)) {
      problems.add(`the directory's Region ${region} is an opt-in Region; Directory Service multi-Region replication is unavailable there`);
    }
    const selection = props.vpcSubnets ?? {
      subnetType: props.vpc.isolatedSubnets.length > 0 ? ec2.SubnetType.PRIVATE_ISOLATED : ec2.SubnetType.PRIVATE_WITH_EGRESS,
      onePerAz: true,
    };
    const subnets = props.vpc.selectSubnets(selection);
    if (subnets.subnetIds.length < 2) problems.add('the VPC must offer two subnets in different Availability Zones for the domain controllers');
    problems.throwIfAny(this.node.path);

    this.edition = edition;
    this.domainName = props.domainName.toLowerCase();
    this.realm = props.domainName.toUpperCase();
    this.encryptionKey = props.encryptionKey ?? denyGrantsExceptForAwsResources(new kms.Key(this, 'Key', { enableKeyRotation: true, description: `Secrets of directory ${this.domainName}`, removalPolicy: RemovalPolicy.RETAIN }));
    this.adminSecret = new secretsmanager.Secret(this, 'AdminPassword', {
      description: `Admin password of AWS Managed Microsoft AD ${this.domainName}`,
      encryptionKey: this.encryptionKey,
      removalPolicy: RemovalPolicy.RETAIN,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: 'Admin' }),
        generateStringKey: 'password',
        passwordLength: 32,
        // AD complexity rules are met by the mix of classes; these characters upset PowerShell and LDAP tooling.
        excludeCharacters: '"\'`$\\/@;,<>|&{}[]()%:= ',
        requireEachIncludedType: true,
      },
    });
    Validations.of(this.adminSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'The directory Admin password is changed with ds:ResetUserPassword by an operator; Secrets Manager has no rotation template for AWS Managed Microsoft AD admin passwords, and rotating it blindly would lock operators out.',
    });

    this.directory = new directoryservice.CfnMicrosoftAD(this, 'Resource', {
      name: this.domainName,
      shortName: props.shortName,
      edition,
      password: this.adminSecret.secretValueFromJson('password').unsafeUnwrap(),
      vpcSettings: { vpcId: props.vpc.vpcId, subnetIds: subnets.subnetIds.slice(0, 2) },
    });
    this.directory.applyRemovalPolicy(RemovalPolicy.RETAIN);
    this.directoryId = this.directory.ref;
    this.dnsIpAddresses = this.directory.attrDnsIpAddresses;
  }

  /** The directory's DNS IPs joined with commas (for outputs and the krb5.conf generator). */
  get dnsIpAddressesCsv(): string {
    return Fn.join(',', this.dnsIpAddresses);
  }

  /** Lets a principal read the Admin password (for break-glass directory administration). */
  grantReadAdminPassword(grantee: iam.IGrantable): iam.Grant {
    return this.adminSecret.grantRead(grantee);
  }
}

/** Props of {@link DirectoryAccessRole}. */
export interface DirectoryAccessRoleProps {
  /**
   * Role name (IAM is global: the secondary cluster in the replica Region uses the same role by name).
   * @default - a name generated by CloudFormation
   */
  readonly roleName?: string;
}

/**
 * The IAM role that RDS uses to join the Aurora clusters to the directory for Kerberos: trusted by
 * `rds.amazonaws.com` and `directoryservice.rds.amazonaws.com` (trust policy from the Aurora Kerberos
 * setup guide, Step 3), only on behalf of this account (`aws:SourceAccount`, the confused-deputy guard
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html), with the AWS managed
 * `AmazonRDSDirectoryServiceAccess` policy. RETAINed: the retained clusters keep using it.
 */
export class DirectoryAccessRole extends Construct {
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: DirectoryAccessRoleProps = {}) {
    super(scope, id);
    this.role = new iam.Role(this, 'Resource', {
      roleName: props.roleName,
      description: 'Lets Amazon RDS use AWS Managed Microsoft AD for Kerberos authentication of Aurora clusters',
      assumedBy: new iam.CompositePrincipal(
        ...['rds.amazonaws.com', 'directoryservice.rds.amazonaws.com'].map(
          // AWS documents this exact guard for the directory-access role: the RDS for Oracle Kerberos guide,
          // "Creating an IAM trust policy manually", trusts both principals with StringEquals aws:SourceAccount
          // (and ArnLike aws:SourceArn on the DB instance ARN)
          // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/oracle-kerberos-setting-up.html#oracle-kerberos.setting-up.CreateIAMRole.trust-policy
          // and https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/cross-service-confused-deputy-prevention.html
          // The Aurora PostgreSQL guide's Step 3 shows the same two principals without a condition
          // https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/postgresql-kerberos-setting-up.html
          // aws:SourceArn is not used: no AWS document names the ARN (cluster or instance) RDS passes for an Aurora cluster,
          // and a wrong ArnLike would deny the join; aws:SourceAccount alone is what both pages allow.
          (service) => new iam.ServicePrincipal(service, { conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } } }),
        ),
      ),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonRDSDirectoryServiceAccess')],
    });
    this.role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSDirectoryServiceAccess]',
      reason: 'AmazonRDSDirectoryServiceAccess is the AWS-maintained policy that the Aurora Kerberos documentation requires for the directory-access role; AWS updates it when RDS needs new Directory Service actions, which a copied inline policy would miss.',
    });
  }
}
