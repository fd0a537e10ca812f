/**
 * Client-side configuration for Linux hosts that log in to Aurora with Kerberos through the one-way
 * forest trust WITHOUT joining either domain: a krb5.conf, the SQL that creates the database login
 * for an on-premises user, the command to connect, and the PowerShell the on-premises AD
 * administrator runs (conditional forwarder + the incoming side of the trust).
 *
 * Inputs come from the stacks' outputs (`cdk deploy --outputs-file`) or from flags; see
 * `krb5-conf-cli.ts`.
 */

export type Engine = 'aurora-postgresql' | 'aurora-mysql';

export interface Krb5Inputs {
  /** On-premises forest root, e.g. onprem.example.com; its realm (uppercase) is the client's default realm. */
  readonly onPremDomain: string;
  /** On-premises KDCs (domain controllers): host or host:port. */
  readonly onPremKdcs: string[];
  /** The AWS Managed Microsoft AD domain, e.g. corp.aws.example.com. */
  readonly awsDomain: string;
  /** The directory's domain controllers in every Region (primary first): host or host:port. */
  readonly awsKdcs: string[];
  /** Aurora endpoints (cluster, reader, instance) in both Regions; each is mapped to the AWS realm explicitly. */
  readonly dbEndpoints: string[];
  /**
   * Map every `*.rds.amazonaws.com` host to the AWS realm as well (recommended: covers instance and
   * failover endpoints that are not listed). @default true
   */
  readonly mapAllRdsEndpoints?: boolean;
}

/**
 * The only encryption types the generated configuration lets the client request or accept. Active
 * Directory supports AES128/AES256 with HMAC-SHA1 (MS-KILE, msDS-SupportedEncryptionTypes bits 0x08 and
 * 0x10: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-kile/6cfc7b50-11ed-4b4d-846d-6f08f0812919);
 * RC4-HMAC and DES are weak and are refused (MIT krb5 enctype names:
 * https://web.mit.edu/kerberos/krb5-latest/doc/admin/conf_files/kdc_conf.html#encryption-types).
 */
export const AES_ENCTYPES = ['aes256-cts-hmac-sha1-96', 'aes128-cts-hmac-sha1-96'];

const FQDN = /^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))+$/;
const HOST_PORT = /^(?:(?:\d{1,3}\.){3}\d{1,3}|(?=.{1,253}(?::|$))(?!-)[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*)(?::(\d{1,5}))?$/;

export function realmOf(domain: string): string {
  return domain.toUpperCase();
}

/** Checks inputs and returns every problem (empty when fine). */
export function validateKrb5Inputs(i: Krb5Inputs): string[] {
  const problems: string[] = [];
  for (const [name, d] of [['on-premises domain', i.onPremDomain], ['AWS domain', i.awsDomain]] as const) {
    if (!FQDN.test(d ?? '')) problems.push(`${name} "${d ?? ''}" is not a fully qualified domain name (example: onprem.example.com)`);
  }
  if (i.onPremDomain && i.awsDomain && i.onPremDomain.toLowerCase() === i.awsDomain.toLowerCase()) {
    problems.push('the on-premises and AWS domains must differ (a forest trust needs two forests)');
  }
  if (i.onPremKdcs.length === 0) problems.push('at least one on-premises KDC is needed (--onprem-kdc 10.0.0.10)');
  if (i.awsKdcs.length === 0) problems.push('at least one AWS KDC is needed (--aws-kdc, or DirectoryDnsIps in the outputs file)');
  for (const k of [...i.onPremKdcs, ...i.awsKdcs]) {
    const m = HOST_PORT.exec(k);
    if (!m || (m[1] !== undefined && (Number(m[1]) < 1 || Number(m[1]) > 65535))) problems.push(`KDC "${k}" must be host or host:port`);
  }
  for (const e of i.dbEndpoints) {
    if (!FQDN.test(e)) problems.push(`database endpoint "${e}" is not a host name`);
  }
  return problems;
}

/** The host of `host` or `host:port`. */
function hostOf(kdc: string): string {
  return kdc.replace(/:\d+$/, '');
}

function block(lines: string[], indent = '  '): string {
  return lines.map((l) => `${indent}${l}`).join('\n');
}

/**
 * Renders krb5.conf: the on-premises realm is the default; both realms list their KDCs (the AWS
 * realm lists the domain controllers of every Region, so a client fails over to the replica Region
 * when the primary's controllers are unreachable); `[domain_realm]` sends the Aurora endpoints to the
 * AWS realm; `[capaths]` says the path between the realms is direct (without it MIT Kerberos would
 * guess a hierarchical path through a shared parent domain such as EXAMPLE.COM); DNS canonicalization
 * and reverse DNS are off, because the RDS endpoint is a CNAME whose canonical name is not the name
 * the service principal was registered under.
 */
export function renderKrb5Conf(i: Krb5Inputs): string {
  const problems = validateKrb5Inputs(i);
  if (problems.length > 0) throw new Error(`cannot generate krb5.conf:\n  - ${problems.join('\n  - ')}`);
  const onPrem = realmOf(i.onPremDomain);
  const aws = realmOf(i.awsDomain);
  const onPremDomain = i.onPremDomain.toLowerCase();
  const awsDomain = i.awsDomain.toLowerCase();
  const mapping: string[] = [];
  // Aurora endpoints end in .rds.amazonaws.com, in the China Regions in .amazonaws.com.cn
  // (<name>.<id>.rds.cn-north-1.amazonaws.com.cn), as the Aurora Kerberos guide's sample krb5.conf maps them:
  // https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/postgresql-kerberos-setting-up.html (Step 8).
  if (i.mapAllRdsEndpoints ?? true) mapping.push(`.rds.amazonaws.com = ${aws}`, `.amazonaws.com.cn = ${aws}`);
  for (const e of [...new Set(i.dbEndpoints.map((x) => x.toLowerCase()))]) mapping.push(`${e} = ${aws}`);
  mapping.push(`.${awsDomain} = ${aws}`, `${awsDomain} = ${aws}`, `.${onPremDomain} = ${onPrem}`, `${onPremDomain} = ${onPrem}`);
  return [
    '# Generated by db-ops-kit (npm run krb5-conf). Kerberos for Aurora through a one-way forest trust,',
    '# for Linux clients that are not joined to either domain. Use it with KRB5_CONFIG=<this file>.',
    '[libdefaults]',
    block([
      `default_realm = ${onPrem}`,
      'dns_lookup_realm = false',
      'dns_lookup_kdc = false',
      'dns_canonicalize_hostname = false',
      'rdns = false',
      'forwardable = true',
      'ticket_lifetime = 10h',
      'renew_lifetime = 7d',
      '# Active Directory tickets carry a PAC and exceed UDP sizes: use TCP.',
      'udp_preference_limit = 1',
      '# AES only: the client neither offers nor accepts RC4-HMAC or DES (the trust uses AES too, see the PowerShell).',
      `permitted_enctypes = ${AES_ENCTYPES.join(' ')}`,
      `default_tkt_enctypes = ${AES_ENCTYPES.join(' ')}`,
      `default_tgs_enctypes = ${AES_ENCTYPES.join(' ')}`,
    ]),
    '',
    '[realms]',
    `  ${onPrem} = {`,
    block(i.onPremKdcs.map((k) => `kdc = ${k}`), '    '),
    '    # Where kinit changes an expired password (kpasswd, port 464 of this host).',
    `    admin_server = ${hostOf(i.onPremKdcs[0])}`,
    '  }',
    `  ${aws} = {`,
    '    # Domain controllers of AWS Managed Microsoft AD, primary Region first, then the replica Region.',
    block(i.awsKdcs.map((k) => `kdc = ${k}`), '    '),
    `    admin_server = ${hostOf(i.awsKdcs[0])}`,
    '  }',
    '',
    '[domain_realm]',
    block(mapping),
    '',
    '[capaths]',
    `  ${onPrem} = {`,
    `    ${aws} = .`,
    '  }',
    `  ${aws} = {`,
    `    ${onPrem} = .`,
    '  }',
    '',
  ].join('\n');
}

function sqlIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

function sqlLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

const USER = /^[A-Za-z0-9._-]{1,64}$/;

/** The SQL a database administrator runs (as the master user) to create a Kerberos login for an on-premises user. */
export function loginSql(engine: Engine, user: string, onPremDomain: string): string {
  if (!USER.test(user)) throw new Error(`user "${user}" must be an Active Directory sAMAccountName (letters, digits, . _ -)`);
  const realm = realmOf(onPremDomain);
  if (engine === 'aurora-postgresql') {
    const principal = sqlIdent(`${user}@${realm}`);
    return [`CREATE USER ${principal} WITH LOGIN;`, `GRANT rds_ad TO ${principal};`].join('\n');
  }
  return `CREATE USER ${sqlLiteral(user)}@'%' IDENTIFIED WITH 'authentication_kerberos' BY ${sqlLiteral(realm)};`;
}

export interface ConnectOptions {
  readonly engine: Engine;
  readonly user: string;
  readonly onPremDomain: string;
  readonly endpoint: string;
  readonly port?: number;
  readonly database?: string;
  /** libpq sslmode / MySQL --ssl-mode. @default verify-full with the RDS global CA bundle */
  readonly sslmode?: string;
  /** Path of the krb5.conf written by this generator. @default ./krb5.conf */
  readonly krb5ConfPath?: string;
}

/** The shell commands that get a ticket as the on-premises user and connect. */
export function connectCommand(o: ConnectOptions): string {
  if (!USER.test(o.user)) throw new Error(`user "${o.user}" must be an Active Directory sAMAccountName`);
  const realm = realmOf(o.onPremDomain);
  const conf = o.krb5ConfPath ?? './krb5.conf';
  const env = `export KRB5_CONFIG=${conf}`;
  const kinit = `kinit ${o.user}@${realm}`;
  if (o.engine === 'aurora-postgresql') {
    const ssl = o.sslmode ?? 'verify-full';
    const sslPart = ssl === 'verify-full' || ssl === 'verify-ca' ? `sslmode=${ssl} sslrootcert=global-bundle.pem` : `sslmode=${ssl}`;
    const conn = `host=${o.endpoint} port=${o.port ?? 5432} dbname=${o.database ?? 'postgres'} user=${o.user}@${realm} ${sslPart}`;
    return [env, kinit, `psql "${conn}"`].join('\n');
  }
  const ssl = o.sslmode ?? 'VERIFY_IDENTITY';
  return [
    env,
    kinit,
    `mysql --host=${o.endpoint} --port=${o.port ?? 3306} --user=${o.user} --default-auth=authentication_kerberos_client ` +
      `--ssl-mode=${ssl}${ssl.startsWith('VERIFY') ? ' --ssl-ca=global-bundle.pem' : ''}${o.database ? ` ${o.database}` : ''}`,
  ].join('\n');
}

export interface OnPremScriptOptions {
  readonly awsDomain: string;
  /** Domain controllers of the directory in every Region (IPv4). */
  readonly awsDnsIps: string[];
  /** ARN of the secret that holds the trust password (the admin fetches it; it is not in the script). */
  readonly trustPasswordSecretArn?: string;
}

/**
 * PowerShell for the on-premises AD administrator (Domain Admins / Enterprise Admins, on a domain
 * controller with the DNS Server role): a forest-replicated conditional forwarder for the AWS domain
 * that points at the directory's DNS servers in both Regions, and the incoming side of the trust
 * (on-premises users may then use resources in the AWS forest; the AWS forest's users get nothing on
 * premises). The password is typed in, never written into the script.
 */
export function onPremPowerShell(o: OnPremScriptOptions): string {
  if (!FQDN.test(o.awsDomain)) throw new Error(`AWS domain "${o.awsDomain}" is not a fully qualified domain name`);
  const ips = o.awsDnsIps.filter((ip) => /^(\d{1,3}\.){3}\d{1,3}$/.test(ip));
  if (ips.length === 0) throw new Error('the directory DNS IPs are needed for the conditional forwarder (DirectoryDnsIps output or --aws-kdc)');
  const domain = o.awsDomain.toLowerCase();
  const fetch = o.trustPasswordSecretArn
    ? `# The password is in Secrets Manager: aws secretsmanager get-secret-value --secret-id ${o.trustPasswordSecretArn} --query SecretString --output text`
    : '# Use the password stored in the trust-password secret of the DbOpsAdTrustPrimary stack.';
  return [
    '# Generated by db-ops-kit (npm run krb5-conf -- --what powershell). Run on an on-premises domain controller',
    '# as an Enterprise Admin, BEFORE the AWS side of the trust is created (adTrust:createTrust=true).',
    '$ErrorActionPreference = "Stop"',
    `$AwsDomain = "${domain}"`,
    `$AwsDnsServers = @(${ips.map((ip) => `"${ip}"`).join(', ')})`,
    '',
    '# 1. Conditional forwarder so on-premises DNS resolves the AWS domain (domain controllers of both Regions).',
    'if (Get-DnsServerZone -Name $AwsDomain -ErrorAction SilentlyContinue) {',
    '  Set-DnsServerConditionalForwarderZone -Name $AwsDomain -MasterServers $AwsDnsServers',
    '} else {',
    '  Add-DnsServerConditionalForwarderZone -Name $AwsDomain -MasterServers $AwsDnsServers -ReplicationScope Forest',
    '}',
    '',
    '# 2. Incoming forest trust: the AWS forest trusts this forest (one way).',
    fetch,
    '$Secure = Read-Host -AsSecureString "Trust password"',
    '$Plain = [Runtime.InteropServices.Marshal]::PtrToStringBSTR([Runtime.InteropServices.Marshal]::SecureStringToBSTR($Secure))',
    '$Forest = [System.DirectoryServices.ActiveDirectory.Forest]::GetCurrentForest()',
    'try {',
    '  $Forest.GetTrustRelationship($AwsDomain) | Out-Null',
    '  Write-Host "A trust with $AwsDomain already exists; leaving it as it is."',
    '} catch [System.DirectoryServices.ActiveDirectory.ActiveDirectoryObjectNotFoundException] {',
    '  $Forest.CreateLocalSideOfTrustRelationship($AwsDomain, [System.DirectoryServices.ActiveDirectory.TrustDirection]::Inbound, $Plain)',
    '  Write-Host "Created the incoming forest trust from $AwsDomain."',
    '} finally {',
    '  Remove-Variable Plain',
    '}',
    '',
    '# 3. AES only on the trust: the trusted domain object of the AWS forest gets',
    '#    msDS-SupportedEncryptionTypes = 0x18 (AES128 | AES256, MS-KILE 2.2.7), so referral tickets across the',
    '#    trust are never RC4. The generated krb5.conf permits AES only, and AWS Managed Microsoft AD supports it.',
    'Import-Module ActiveDirectory',
    '$TrustObject = Get-ADObject -Filter "objectClass -eq \'trustedDomain\' -and name -eq \'$AwsDomain\'"',
    'if (-not $TrustObject) { throw "No trusted domain object for $AwsDomain; create the trust first (step 2)." }',
    'Set-ADObject -Identity $TrustObject -Replace @{ "msDS-SupportedEncryptionTypes" = 24 }',
    'Get-ADObject -Identity $TrustObject -Properties msDS-SupportedEncryptionTypes | Format-List Name, msDS-SupportedEncryptionTypes',
    '',
    '# 4. Firewall: allow the AWS VPC CIDRs of both Regions to reach the on-premises domain controllers on',
    '#    TCP/UDP 53, 88, 389, 445, 464; TCP 135, 636, 1024-65535 (RPC, Global Catalog); UDP 123, 138.',
    '',
  ].join('\n');
}
