import { App, Stack } from 'aws-cdk-lib';
import { AuroraEngineName } from '../lib/ad-trust/aurora';
import { DirectoryEdition } from '../lib/ad-trust/directory';
import { AdTrustPrimaryStack, AdTrustReplicaStack } from '../lib/ad-trust/stacks';
import { CIDR_RE, IPV4_RE, PatternContext, REGION_RE } from './context';
import { envFor, PatternDefinition } from './pattern';

const FQDN = /^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))+$/;

/**
 * Pattern 4: multi-Region AWS Managed Microsoft AD with a one-way forest trust, and Kerberos for an
 * Aurora Global Database. Two stacks in two explicit Regions; the account may stay unresolved
 * (cross-Region references only need explicit Regions).
 */
export const adTrustPattern: PatternDefinition = {
  key: 'adTrust',
  stackNames: ['DbOpsAdTrustPrimary', 'DbOpsAdTrustReplica'],
  build(app: App, ctx: PatternContext, account: string | undefined): Stack[] {
    const primaryRegion = ctx.string('primaryRegion', { example: 'us-east-1', pattern: REGION_RE });
    const replicaRegion = ctx.string('replicaRegion', { example: 'us-west-2', pattern: REGION_RE });
    const primaryVpcCidr = ctx.string('primaryVpcCidr', { example: '10.10.0.0/16', pattern: CIDR_RE });
    const replicaVpcCidr = ctx.string('replicaVpcCidr', { example: '10.20.0.0/16', pattern: CIDR_RE });
    const domainName = ctx.string('domainName', { example: 'corp.aws.example.com', pattern: FQDN, description: 'the AWS Managed Microsoft AD domain' });
    const edition = ctx.string('edition', { example: 'Enterprise', pattern: /^(Enterprise|Standard)$/ }) as DirectoryEdition;
    const onPremDomainName = ctx.string('onPremDomainName', { example: 'onprem.example.com', pattern: FQDN });
    const onPremDnsIps = ctx.stringList('onPremDnsIps', { example: ['192.168.10.10', '192.168.10.11'], pattern: IPV4_RE, required: true });
    const onPremisesCidrs = ctx.stringList('onPremisesCidrs', { example: ['192.168.0.0/16'], pattern: CIDR_RE, required: true });
    const engine = ctx.string('engine', { example: 'aurora-postgresql', pattern: /^aurora-(postgresql|mysql)$/ }) as AuroraEngineName;
    const globalClusterIdentifier = ctx.string('globalClusterIdentifier', { example: 'db-ops-kit-kerberos', pattern: /^[a-zA-Z][a-zA-Z0-9-]{0,62}$/ });
    const primaryAzs = ctx.stringList('primaryAvailabilityZones', { example: ['us-east-1a', 'us-east-1b'], pattern: /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d[a-z]$/ });
    const replicaAzs = ctx.stringList('replicaAvailabilityZones', { example: ['us-west-2a', 'us-west-2b'], pattern: /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d[a-z]$/ });
    const createTrust = ctx.boolean('createTrust', { default: false });
    const adoptExistingTrust = ctx.boolean('adoptExistingTrust', { default: false });
    const adoptExistingRegion = ctx.boolean('adoptExistingRegion', { default: false });
    const selectiveAuth = ctx.boolean('selectiveAuth', { default: false });
    const readers = ctx.number('readers', { example: 1, min: 0, max: 15, default: 1 });
    ctx.check();

    const primary = new AdTrustPrimaryStack(app, 'DbOpsAdTrustPrimary', {
      env: envFor(account, primaryRegion),
      description: 'db-ops-kit: AWS Managed Microsoft AD + one-way forest trust + Aurora Global Database primary with Kerberos',
      vpcCidr: primaryVpcCidr,
      availabilityZones: primaryAzs.length > 0 ? primaryAzs : undefined,
      domainName,
      edition,
      replicaRegion,
      replicaVpcCidr,
      onPremDomainName,
      onPremDnsIps,
      onPremisesCidrs,
      createTrust,
      adoptExistingTrust,
      selectiveAuth,
      engine,
      globalClusterIdentifier,
      readers,
    });
    const replica = new AdTrustReplicaStack(app, 'DbOpsAdTrustReplica', {
      env: envFor(account, replicaRegion),
      description: 'db-ops-kit: AWS Managed Microsoft AD replica Region + Aurora Global Database secondary with Kerberos',
      primary,
      vpcCidr: replicaVpcCidr,
      availabilityZones: replicaAzs.length > 0 ? replicaAzs : undefined,
      adoptExistingRegion,
    });
    return [primary, replica];
  },
};
