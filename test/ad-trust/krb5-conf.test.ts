/**
 * krb5.conf / SQL / connect / PowerShell generator and its CLI (`npm run krb5-conf`). The generated
 * krb5.conf is exercised against real MIT Kerberos KDCs in test/integration/ad-trust/kerberos.test.ts.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { connectCommand, Krb5Inputs, loginSql, onPremPowerShell, renderKrb5Conf, validateKrb5Inputs } from '../../lambda/ad-trust/krb5-conf';
import { main, runCli } from '../../lambda/ad-trust/krb5-conf-cli';

const INPUTS: Krb5Inputs = {
  onPremDomain: 'onprem.example.com',
  onPremKdcs: ['192.168.10.10', '192.168.10.11'],
  awsDomain: 'corp.aws.example.com',
  awsKdcs: ['10.10.0.10', '10.10.1.10', '10.30.0.10', '10.30.1.10'],
  dbEndpoints: ['db-ops-kit-kerberos-us-east-1.cluster-abc.us-east-1.rds.amazonaws.com', 'db-ops-kit-kerberos-us-west-2.cluster-def.us-west-2.rds.amazonaws.com'],
};

/** Parses the sections of a krb5.conf into {section: lines}. */
function sections(conf: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let cur = '';
  for (const raw of conf.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^\[(\w+)\]$/.exec(line);
    if (m) out[(cur = m[1])] = [];
    else out[cur].push(line);
  }
  return out;
}

describe('renderKrb5Conf', () => {
  const s = sections(renderKrb5Conf(INPUTS));

  test('the on-premises realm is the default; canonicalization and reverse DNS are off', () => {
    expect(s.libdefaults).toEqual(
      expect.arrayContaining(['default_realm = ONPREM.EXAMPLE.COM', 'dns_canonicalize_hostname = false', 'rdns = false', 'dns_lookup_realm = false', 'dns_lookup_kdc = false']),
    );
  });

  test('both realms list their KDCs; the AWS realm has the domain controllers of both Regions, primary first', () => {
    expect(s.realms).toEqual([
      'ONPREM.EXAMPLE.COM = {',
      'kdc = 192.168.10.10',
      'kdc = 192.168.10.11',
      'admin_server = 192.168.10.10',
      '}',
      'CORP.AWS.EXAMPLE.COM = {',
      'kdc = 10.10.0.10',
      'kdc = 10.10.1.10',
      'kdc = 10.30.0.10',
      'kdc = 10.30.1.10',
      'admin_server = 10.10.0.10',
      '}',
    ]);
  });

  test('AES only: permitted, TGT and TGS encryption types list AES256/AES128 and nothing else', () => {
    for (const key of ['permitted_enctypes', 'default_tkt_enctypes', 'default_tgs_enctypes']) {
      expect(s.libdefaults).toContain(`${key} = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96`);
    }
    const settings = Object.values(s).flat().join('\n'); // comments are not settings
    expect(settings).not.toMatch(/arcfour|rc4|des|camellia/i);
    expect(settings).not.toMatch(/allow_weak_crypto/);
  });

  test('admin_server takes the host of a host:port KDC (kinit changes expired passwords there)', () => {
    const conf = sections(renderKrb5Conf({ ...INPUTS, onPremKdcs: ['dc1.onprem.example.com:88'], awsKdcs: ['127.0.0.1:61089'] }));
    expect(conf.realms).toEqual(expect.arrayContaining(['admin_server = dc1.onprem.example.com', 'admin_server = 127.0.0.1']));
  });

  test('[domain_realm] sends .rds.amazonaws.com and each cluster endpoint to the AWS realm', () => {
    expect(s.domain_realm).toEqual([
      '.rds.amazonaws.com = CORP.AWS.EXAMPLE.COM',
      // China Regions: <cluster>.<id>.rds.cn-north-1.amazonaws.com.cn
      '.amazonaws.com.cn = CORP.AWS.EXAMPLE.COM',
      'db-ops-kit-kerberos-us-east-1.cluster-abc.us-east-1.rds.amazonaws.com = CORP.AWS.EXAMPLE.COM',
      'db-ops-kit-kerberos-us-west-2.cluster-def.us-west-2.rds.amazonaws.com = CORP.AWS.EXAMPLE.COM',
      '.corp.aws.example.com = CORP.AWS.EXAMPLE.COM',
      'corp.aws.example.com = CORP.AWS.EXAMPLE.COM',
      '.onprem.example.com = ONPREM.EXAMPLE.COM',
      'onprem.example.com = ONPREM.EXAMPLE.COM',
    ]);
    const only = sections(renderKrb5Conf({ ...INPUTS, mapAllRdsEndpoints: false }));
    expect(only.domain_realm).not.toContain('.rds.amazonaws.com = CORP.AWS.EXAMPLE.COM');
    expect(only.domain_realm).not.toContain('.amazonaws.com.cn = CORP.AWS.EXAMPLE.COM');
  });

  test('[capaths] makes the cross-realm path direct (no guessed EXAMPLE.COM hop)', () => {
    expect(s.capaths).toEqual(['ONPREM.EXAMPLE.COM = {', 'CORP.AWS.EXAMPLE.COM = .', '}', 'CORP.AWS.EXAMPLE.COM = {', 'ONPREM.EXAMPLE.COM = .', '}']);
  });

  test('KDCs may carry ports (used for loopback KDCs in tests)', () => {
    const conf = renderKrb5Conf({ ...INPUTS, onPremKdcs: ['127.0.0.1:61088'], awsKdcs: ['127.0.0.1:61089'] });
    expect(conf).toContain('kdc = 127.0.0.1:61088');
    expect(conf).toContain('kdc = 127.0.0.1:61089');
  });

  test('bad input is reported completely', () => {
    expect(validateKrb5Inputs({ ...INPUTS, onPremDomain: 'onprem', awsKdcs: [], onPremKdcs: ['10.0.0.1:99999'], dbEndpoints: ['not a host'] })).toEqual([
      'on-premises domain "onprem" is not a fully qualified domain name (example: onprem.example.com)',
      'at least one AWS KDC is needed (--aws-kdc, or DirectoryDnsIps in the outputs file)',
      'KDC "10.0.0.1:99999" must be host or host:port',
      'database endpoint "not a host" is not a host name',
    ]);
    expect(() => renderKrb5Conf({ ...INPUTS, awsDomain: INPUTS.onPremDomain })).toThrow(/must differ/);
  });
});

describe('SQL, connect command, PowerShell', () => {
  test('PostgreSQL login for an on-premises user', () => {
    expect(loginSql('aurora-postgresql', 'alice', 'onprem.example.com')).toBe('CREATE USER "alice@ONPREM.EXAMPLE.COM" WITH LOGIN;\nGRANT rds_ad TO "alice@ONPREM.EXAMPLE.COM";');
  });

  test('MySQL login uses authentication_kerberos with the on-premises realm', () => {
    expect(loginSql('aurora-mysql', 'alice', 'onprem.example.com')).toBe("CREATE USER 'alice'@'%' IDENTIFIED WITH 'authentication_kerberos' BY 'ONPREM.EXAMPLE.COM';");
  });

  test('user names that could inject SQL are refused', () => {
    expect(() => loginSql('aurora-postgresql', 'a"; DROP TABLE x; --', 'onprem.example.com')).toThrow(/sAMAccountName/);
  });

  test('connect commands', () => {
    const pg = connectCommand({ engine: 'aurora-postgresql', user: 'alice', onPremDomain: 'onprem.example.com', endpoint: INPUTS.dbEndpoints[0] });
    expect(pg.split('\n')).toEqual([
      'export KRB5_CONFIG=./krb5.conf',
      'kinit alice@ONPREM.EXAMPLE.COM',
      `psql "host=${INPUTS.dbEndpoints[0]} port=5432 dbname=postgres user=alice@ONPREM.EXAMPLE.COM sslmode=verify-full sslrootcert=global-bundle.pem"`,
    ]);
    const my = connectCommand({ engine: 'aurora-mysql', user: 'alice', onPremDomain: 'onprem.example.com', endpoint: 'x.cluster-1.us-east-1.rds.amazonaws.com' });
    expect(my).toContain('mysql --host=x.cluster-1.us-east-1.rds.amazonaws.com --port=3306 --user=alice --default-auth=authentication_kerberos_client --ssl-mode=VERIFY_IDENTITY');
  });

  test('on-premises PowerShell: forest-wide conditional forwarder to both Regions and an incoming trust; no password inside', () => {
    const ps = onPremPowerShell({ awsDomain: 'corp.aws.example.com', awsDnsIps: INPUTS.awsKdcs, trustPasswordSecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:trust-AbCdEf' });
    expect(ps).toContain('$AwsDnsServers = @("10.10.0.10", "10.10.1.10", "10.30.0.10", "10.30.1.10")');
    expect(ps).toContain('Add-DnsServerConditionalForwarderZone -Name $AwsDomain -MasterServers $AwsDnsServers -ReplicationScope Forest');
    expect(ps).toContain('CreateLocalSideOfTrustRelationship($AwsDomain, [System.DirectoryServices.ActiveDirectory.TrustDirection]::Inbound, $Plain)');
    expect(ps).toContain('Read-Host -AsSecureString');
    expect(ps).toContain('--secret-id arn:aws:secretsmanager:us-east-1:123456789012:secret:trust-AbCdEf');
  });

  test('on-premises PowerShell sets the trust\'s supported encryption types to AES128|AES256 (0x18), after the trust exists', () => {
    const ps = onPremPowerShell({ awsDomain: 'corp.aws.example.com', awsDnsIps: INPUTS.awsKdcs });
    expect(ps).toContain('Set-ADObject -Identity $TrustObject -Replace @{ "msDS-SupportedEncryptionTypes" = 24 }');
    expect(0x08 | 0x10).toBe(24); // MS-KILE: AES128-CTS-HMAC-SHA1-96 | AES256-CTS-HMAC-SHA1-96
    expect(ps).toContain(`Get-ADObject -Filter "objectClass -eq 'trustedDomain' -and name -eq '$AwsDomain'"`);
    expect(ps.indexOf('CreateLocalSideOfTrustRelationship')).toBeLessThan(ps.indexOf('msDS-SupportedEncryptionTypes'));
    const code = ps.split('\n').filter((l) => !l.trim().startsWith('#')).join('\n');
    expect(code).not.toMatch(/RC4|arcfour/i);
  });
});

describe('CLI', () => {
  let dir: string;
  let outputsFile: string;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbops-krb5cli-'));
    outputsFile = path.join(dir, 'outputs.json');
    // The shape `cdk deploy --outputs-file` writes.
    fs.writeFileSync(
      outputsFile,
      JSON.stringify({
        DbOpsAdTrustPrimary: {
          DirectoryId: 'd-1234567890',
          DirectoryDomainName: 'corp.aws.example.com',
          DirectoryDnsIps: '10.10.0.10,10.10.1.10',
          OnPremDomainName: 'onprem.example.com',
          OnPremDnsIps: '192.168.10.10,192.168.10.11',
          DatabaseEngine: 'aurora-postgresql',
          DatabasePort: '5432',
          PrimaryClusterEndpoint: INPUTS.dbEndpoints[0],
          TrustPasswordSecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:trust-AbCdEf',
        },
        DbOpsAdTrustReplica: { ReplicaDnsIps: '10.30.0.10,10.30.1.10', SecondaryClusterEndpoint: INPUTS.dbEndpoints[1] },
      }),
    );
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('from the stacks\' outputs file alone: same krb5.conf as the library, plus SQL, connect and PowerShell', () => {
    const r = runCli(['--outputs', outputsFile, '--out', path.join(dir, 'krb5.conf')]);
    expect(r.files[path.join(dir, 'krb5.conf')]).toBe(renderKrb5Conf(INPUTS));
    expect(r.stdout).toContain('CREATE USER "alice@ONPREM.EXAMPLE.COM" WITH LOGIN;');
    expect(r.stdout).toContain(`export KRB5_CONFIG=${path.join(dir, 'krb5.conf')}`);
    expect(r.stdout).toContain('Add-DnsServerConditionalForwarderZone');
  });

  test('flags override outputs', () => {
    const r = runCli(['--outputs', outputsFile, '--aws-kdc', '127.0.0.1:7001', '--onprem-kdc', '127.0.0.1:7002', '--user', 'bob', '--what', 'conf,sql', '--out', '-']);
    expect(r.stdout).toContain('kdc = 127.0.0.1:7001');
    expect(r.stdout).toContain('kdc = 127.0.0.1:7002');
    expect(r.stdout).not.toContain('kdc = 10.10.0.10');
    expect(r.stdout).toContain('"bob@ONPREM.EXAMPLE.COM"');
    expect(r.stdout).not.toContain('psql');
  });

  test('bad arguments exit 2 with usage and write nothing', () => {
    const errs: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((c: any) => {
      errs.push(String(c));
      return true;
    });
    try {
      expect(main(['--engine', 'oracle', '--outputs', outputsFile])).toBe(2);
      expect(main(['--bogus'])).toBe(2);
      expect(main(['--what', 'conf'])).toBe(2);
      expect(main(['--outputs', path.join(dir, 'missing.json')])).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(errs.join('')).toMatch(/--engine must be aurora-postgresql or aurora-mysql, got "oracle"/);
    expect(errs.join('')).toMatch(/missing: --onprem-domain/);
    expect(errs.join('')).toMatch(/usage: npm run krb5-conf/);
  });

  test('npm run krb5-conf entry point runs under tsx and exits non-zero on bad input', () => {
    const tsx = path.join(__dirname, '../../node_modules/.bin/tsx');
    const cli = path.join(__dirname, '../../lambda/ad-trust/krb5-conf-cli.ts');
    // Without --out, krb5.conf goes to out/krb5-conf/krb5.conf under the current directory.
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'krb5-cli-cwd-'));
    const ok = spawnSync(tsx, [cli, '--outputs', outputsFile, '--what', 'conf'], { encoding: 'utf8', cwd });
    expect(ok.status).toBe(0);
    expect(ok.stderr).toContain(`wrote ${path.join('out', 'krb5-conf', 'krb5.conf')}`);
    expect(fs.readFileSync(path.join(cwd, 'out', 'krb5-conf', 'krb5.conf'), 'utf8')).toContain('default_realm = ONPREM.EXAMPLE.COM');
    expect(fs.readdirSync(cwd)).toEqual(['out']);
    fs.rmSync(cwd, { recursive: true, force: true });
    const bad = spawnSync(tsx, [cli, '--port', 'x', '--outputs', outputsFile], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--port must be 1..65535');
  });
});
