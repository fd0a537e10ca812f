/**
 * `npm run krb5-conf` (lambda/ad-trust/krb5-conf-cli.ts): where each value comes from (flags over the
 * `cdk deploy --outputs-file` JSON), what is printed and written, and how bad arguments end (exit 2 with
 * usage; anything else exit 1). runCli/main are called in-process; each test has its own temp directory.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DEFAULT_CONF, main, runCli, USAGE } from '../../lambda/ad-trust/krb5-conf-cli';
import { connectCommand, loginSql, onPremPowerShell, renderKrb5Conf } from '../../lambda/ad-trust/krb5-conf';

const EP1 = 'kerb-us-east-1.cluster-abc.us-east-1.rds.amazonaws.com';
const EP1R = 'kerb-us-east-1.cluster-ro-abc.us-east-1.rds.amazonaws.com';
const EP2 = 'kerb-us-west-2.cluster-def.us-west-2.rds.amazonaws.com';
const EP2R = 'kerb-us-west-2.cluster-ro-def.us-west-2.rds.amazonaws.com';
const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:trust-AbCdEf';

/** The shape `cdk deploy DbOpsAdTrustPrimary DbOpsAdTrustReplica --outputs-file` writes. */
const OUTPUTS = {
  DbOpsAdTrustReplica: { ReplicaDnsIps: '10.30.0.10, 10.30.1.10', SecondaryClusterEndpoint: EP2, SecondaryReaderEndpoint: EP2R, DirectoryDomainName: '' },
  DbOpsAdTrustPrimary: {
    DirectoryDomainName: 'corp.aws.example.com',
    DirectoryDnsIps: '10.10.0.10,,10.10.1.10',
    OnPremDomainName: 'onprem.example.com',
    OnPremDnsIps: '192.168.10.10,192.168.10.11',
    DatabaseEngine: 'aurora-mysql',
    DatabasePort: '3307',
    PrimaryClusterEndpoint: EP1,
    PrimaryReaderEndpoint: EP1R,
    TrustPasswordSecretArn: ARN,
  },
};

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'krb5-cli-mut-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeOutputs(content: unknown): string {
  const f = path.join(dir, 'outputs.json');
  fs.writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
  return f;
}

/** runCli's error message, or undefined when it succeeds. */
function usageError(argv: string[]): string | undefined {
  try {
    runCli(argv);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

describe('values from the outputs file', () => {
  test('every value comes from the outputs: both Regions\' DNS IPs (primary first, blanks dropped), all four endpoints, engine, port, secret ARN', () => {
    const outputs = writeOutputs(OUTPUTS);
    const conf = path.join(dir, 'krb5.conf');
    const r = runCli(['--outputs', outputs, '--out', conf]);
    const awsKdcs = ['10.10.0.10', '10.10.1.10', '10.30.0.10', '10.30.1.10'];
    const inputs = { onPremDomain: 'onprem.example.com', onPremKdcs: ['192.168.10.10', '192.168.10.11'], awsDomain: 'corp.aws.example.com', awsKdcs, dbEndpoints: [EP1, EP1R, EP2, EP2R] };
    expect(r.files).toEqual({ [conf]: renderKrb5Conf({ ...inputs, mapAllRdsEndpoints: true }) });
    expect(r.stdout).toBe(
      [
        `-- ---- SQL (run as the master user on the primary cluster) ----\n${loginSql('aurora-mysql', 'alice', 'onprem.example.com')}`,
        `# ---- connect ----\n${connectCommand({ engine: 'aurora-mysql', user: 'alice', onPremDomain: 'onprem.example.com', endpoint: EP1, port: 3307, krb5ConfPath: conf })}`,
        `# ---- on-premises PowerShell ----\n${onPremPowerShell({ awsDomain: 'corp.aws.example.com', awsDnsIps: awsKdcs, trustPasswordSecretArn: ARN })}`,
      ].join('\n\n'),
    );
    // The MySQL connect command of the outputs' engine and port.
    expect(r.stdout).toContain(`mysql --host=${EP1} --port=3307 --user=alice`);
  });

  test('when several stacks have a key, the first stack in name order with a non-empty value wins', () => {
    const outputs = writeOutputs({
      B: { DirectoryDomainName: 'b.example.com', OnPremDomainName: '' },
      A: { DirectoryDomainName: 'a.example.com', OnPremDomainName: '' },
      C: { OnPremDomainName: 'onprem.example.com', PrimaryClusterEndpoint: EP1, DirectoryDnsIps: '10.10.0.10', OnPremDnsIps: '192.168.10.10' },
    });
    const r = runCli(['--outputs', outputs, '--what', 'conf', '--out', '-']);
    expect(r.stdout).toContain('default_realm = ONPREM.EXAMPLE.COM');
    expect(r.stdout).toContain('.a.example.com = A.EXAMPLE.COM');
    expect(r.stdout).not.toContain('B.EXAMPLE.COM');
  });

  test('without an engine anywhere, PostgreSQL on 5432 is assumed', () => {
    const r = runCli(['--onprem-domain', 'onprem.example.com', '--aws-domain', 'corp.aws.example.com', '--db-endpoint', EP1, '--what', 'sql,connect']);
    expect(r.stdout).toBe(
      [
        `-- ---- SQL (run as the master user on the primary cluster) ----\n${loginSql('aurora-postgresql', 'alice', 'onprem.example.com')}`,
        `# ---- connect ----\n${connectCommand({ engine: 'aurora-postgresql', user: 'alice', onPremDomain: 'onprem.example.com', endpoint: EP1, krb5ConfPath: DEFAULT_CONF })}`,
      ].join('\n\n'),
    );
    expect(r.files).toEqual({});
  });
});

describe('flags', () => {
  test('flags win over the outputs: domains, KDCs, endpoints, engine, port, user, database, sslmode; --no-map-all-rds', () => {
    const outputs = writeOutputs(OUTPUTS);
    const r = runCli([
      '--outputs', outputs,
      '--onprem-domain', 'emea.example.com',
      '--aws-domain', 'aws.example.org',
      '--onprem-kdc', '172.16.0.1', '--onprem-kdc', '172.16.0.2:88',
      '--aws-kdc', '10.99.0.1:88',
      '--db-endpoint', 'db.example.org',
      '--engine', 'aurora-postgresql',
      '--port', '6543',
      '--user', 'bob',
      '--database', 'sales',
      '--sslmode', 'require',
      '--no-map-all-rds',
      '--out', '-',
    ]);
    const conf = renderKrb5Conf({ onPremDomain: 'emea.example.com', onPremKdcs: ['172.16.0.1', '172.16.0.2:88'], awsDomain: 'aws.example.org', awsKdcs: ['10.99.0.1:88'], dbEndpoints: ['db.example.org'], mapAllRdsEndpoints: false });
    expect(r.files).toEqual({});
    expect(r.stdout).toBe(
      [
        `# ---- krb5.conf ----\n${conf}`,
        `-- ---- SQL (run as the master user on the primary cluster) ----\n${loginSql('aurora-postgresql', 'bob', 'emea.example.com')}`,
        // --out - prints the file, so the connect command refers to the default ./krb5.conf.
        `# ---- connect ----\n${connectCommand({ engine: 'aurora-postgresql', user: 'bob', onPremDomain: 'emea.example.com', endpoint: 'db.example.org', port: 6543, database: 'sales', sslmode: 'require' })}`,
        // The forwarder targets are the KDC hosts without their port; the ARN still comes from the outputs.
        `# ---- on-premises PowerShell ----\n${onPremPowerShell({ awsDomain: 'aws.example.org', awsDnsIps: ['10.99.0.1'], trustPasswordSecretArn: ARN })}`,
      ].join('\n\n'),
    );
    expect(r.stdout).toContain('$AwsDnsServers = @("10.99.0.1")');
    expect(r.stdout).toContain('export KRB5_CONFIG=./krb5.conf');
  });

  test('--what picks the parts (spaces and empty items ignored); without --out, krb5.conf goes to out/krb5-conf/krb5.conf', () => {
    const outputs = writeOutputs(OUTPUTS);
    const r = runCli(['--outputs', outputs, '--what', ' conf , ,powershell ']);
    expect(DEFAULT_CONF).toBe(path.join('out', 'krb5-conf', 'krb5.conf'));
    expect(Object.keys(r.files)).toEqual([DEFAULT_CONF]);
    expect(r.stdout.startsWith('# ---- on-premises PowerShell ----\n')).toBe(true);
    expect(r.stdout).not.toContain('CREATE USER');
    expect(r.stdout).not.toContain('kinit');
  });

  test('sql and powershell alone need no database endpoint', () => {
    const r = runCli(['--onprem-domain', 'onprem.example.com', '--aws-domain', 'corp.aws.example.com', '--aws-kdc', '10.10.0.10', '--what', 'sql,powershell']);
    expect(r.stdout).toContain('CREATE USER "alice@ONPREM.EXAMPLE.COM" WITH LOGIN;');
    expect(r.stdout).toContain('# Use the password stored in the trust-password secret of the DbOpsAdTrustPrimary stack.');
  });

  test('--help prints the usage and nothing else', () => {
    expect(runCli(['--help'])).toEqual({ stdout: USAGE, files: {} });
    expect(runCli(['-h', '--what', 'bogus'])).toEqual({ stdout: USAGE, files: {} });
    expect(USAGE).toMatch(/^usage: npm run krb5-conf -- \[--outputs outputs.json\] \[options\]/);
  });
});

describe('bad arguments name the problem', () => {
  const BASE = ['--onprem-domain', 'onprem.example.com', '--aws-domain', 'corp.aws.example.com', '--db-endpoint', EP1, '--onprem-kdc', '10.0.0.1', '--aws-kdc', '10.10.0.10'];

  test('the complete argument list is fine (control for the cases below)', () => {
    expect(usageError(BASE)).toBeUndefined();
  });

  test('unknown flags and positionals', () => {
    expect(usageError([...BASE, '--bogus'])).toMatch(/Unknown option '--bogus'/);
    expect(usageError([...BASE, 'extra'])).toMatch(/positional argument/);
  });

  test('engine', () => {
    expect(usageError([...BASE, '--engine', 'oracle'])).toBe('--engine must be aurora-postgresql or aurora-mysql, got "oracle"');
    const outputs = writeOutputs({ S: { DatabaseEngine: 'sqlserver-ee' } });
    expect(usageError([...BASE, '--outputs', outputs])).toBe('--engine must be aurora-postgresql or aurora-mysql, got "sqlserver-ee"');
  });

  test('--what', () => {
    expect(usageError([...BASE, '--what', 'conf,keytab'])).toBe('--what takes conf,sql,connect,powershell; got "conf,keytab"');
    expect(usageError([...BASE, '--what', ' , '])).toBe('--what takes conf,sql,connect,powershell; got " , "');
  });

  test('port: 1..65535 integers only, from flags or the outputs', () => {
    expect(usageError([...BASE, '--port', '1'])).toBeUndefined();
    expect(usageError([...BASE, '--port', '65535'])).toBeUndefined();
    for (const bad of ['0', '65536', '5432.5', 'x', '-1']) expect(usageError([...BASE, `--port=${bad}`])).toBe(`--port must be 1..65535, got "${bad}"`);
    const outputs = writeOutputs({ S: { DatabasePort: '70000' } });
    expect(usageError([...BASE, '--outputs', outputs])).toBe('--port must be 1..65535, got "70000"');
  });

  test('missing values are listed together; the endpoint only when conf or connect is wanted', () => {
    expect(usageError([])).toBe('missing: --onprem-domain (or OnPremDomainName in --outputs), --aws-domain (or DirectoryDomainName in --outputs), --db-endpoint (or PrimaryClusterEndpoint in --outputs)');
    expect(usageError(['--aws-domain', 'corp.aws.example.com', '--what', 'sql'])).toBe('missing: --onprem-domain (or OnPremDomainName in --outputs)');
    expect(usageError(['--onprem-domain', 'onprem.example.com', '--what', 'sql'])).toBe('missing: --aws-domain (or DirectoryDomainName in --outputs)');
    expect(usageError(['--onprem-domain', 'onprem.example.com', '--aws-domain', 'corp.aws.example.com', '--what', 'connect'])).toBe('missing: --db-endpoint (or PrimaryClusterEndpoint in --outputs)');
    expect(usageError(['--onprem-domain', 'onprem.example.com', '--aws-domain', 'corp.aws.example.com', '--what', 'conf'])).toBe('missing: --db-endpoint (or PrimaryClusterEndpoint in --outputs)');
  });

  test('an unreadable or malformed outputs file', () => {
    const missing = path.join(dir, 'nope.json');
    expect(usageError(['--outputs', missing])).toMatch(new RegExp(`^cannot read outputs file ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ENOENT`));
    const broken = writeOutputs('{"DbOpsAdTrustPrimary": ');
    expect(usageError(['--outputs', broken])).toMatch(/^cannot read outputs file .*outputs\.json: .*JSON/);
  });

  test('problems of the generated parts (krb5.conf inputs, user name, PowerShell DNS IPs) are usage errors too', () => {
    expect(usageError([...BASE, '--aws-kdc', '10.10.0.10:0', '--what', 'conf'])).toBe('cannot generate krb5.conf:\n  - KDC "10.10.0.10:0" must be host or host:port');
    expect(usageError([...BASE, '--user', 'a b', '--what', 'sql'])).toBe('user "a b" must be an Active Directory sAMAccountName (letters, digits, . _ -)');
    expect(usageError([...BASE, '--user', 'a b', '--what', 'connect'])).toBe('user "a b" must be an Active Directory sAMAccountName');
    expect(usageError([...BASE.slice(0, -2), '--aws-kdc', 'dc1.corp.aws.example.com:88', '--what', 'powershell'])).toMatch(/^the directory DNS IPs are needed/);
  });
});

describe('main', () => {
  let out: string;
  let err: string;
  const spies: jest.SpyInstance[] = [];
  beforeEach(() => {
    out = '';
    err = '';
    spies.push(jest.spyOn(process.stdout, 'write').mockImplementation((c: any) => ((out += String(c)), true)));
    spies.push(jest.spyOn(process.stderr, 'write').mockImplementation((c: any) => ((err += String(c)), true)));
  });
  afterEach(() => {
    while (spies.length) spies.pop()!.mockRestore();
  });

  test('writes krb5.conf (creating the directories), says so on stderr, prints the rest, exits 0', () => {
    const outputs = writeOutputs(OUTPUTS);
    const conf = path.join(dir, 'a', 'b', 'krb5.conf');
    expect(main(['--outputs', outputs, '--out', conf, '--what', 'conf,sql'])).toBe(0);
    expect(fs.readFileSync(conf, 'utf8')).toBe(runCli(['--outputs', outputs, '--out', conf, '--what', 'conf']).files[conf]);
    expect(err).toBe(`wrote ${conf}\n`);
    expect(out).toBe(`-- ---- SQL (run as the master user on the primary cluster) ----\n${loginSql('aurora-mysql', 'alice', 'onprem.example.com')}\n`);
  });

  test('with nothing to print (conf only), stdout stays empty', () => {
    const outputs = writeOutputs(OUTPUTS);
    expect(main(['--outputs', outputs, '--out', path.join(dir, 'k.conf'), '--what', 'conf'])).toBe(0);
    expect(out).toBe('');
  });

  test('--help prints the usage on stdout and exits 0', () => {
    expect(main(['--help'])).toBe(0);
    expect(out).toBe(`${USAGE}\n`);
    expect(err).toBe('');
  });

  test('a usage error exits 2 with the message and the usage on stderr, writes nothing', () => {
    expect(main(['--engine', 'oracle', '--out', path.join(dir, 'k.conf')])).toBe(2);
    expect(err).toBe(`error: --engine must be aurora-postgresql or aurora-mysql, got "oracle"\n\n${USAGE}\n`);
    expect(out).toBe('');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test('a failure that is not a usage error (cannot write the file) exits 1 with the error, without the usage', () => {
    const outputs = writeOutputs(OUTPUTS);
    const blocker = path.join(dir, 'file');
    fs.writeFileSync(blocker, 'x');
    expect(main(['--outputs', outputs, '--out', path.join(blocker, 'krb5.conf'), '--what', 'conf'])).toBe(1);
    expect(err).toMatch(/^error: Error: (ENOTDIR|EEXIST)/);
    expect(err).not.toContain('usage:');
  });
});
