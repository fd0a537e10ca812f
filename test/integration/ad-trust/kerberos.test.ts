/**
 * End-to-end Kerberos through a one-way cross-realm trust, on loopback, with the krb5.conf that the
 * kit generates (`npm run krb5-conf`). The lab (two MIT KDCs standing in for the on-premises AD and
 * AWS Managed Microsoft AD, PostgreSQL 15 with GSSAPI holding the keytab of the RDS-style service
 * principal) is described in kerberos-lab.ts.
 *
 * alice (on-premises) gets a ticket from her own KDC and logs in to the "Aurora" endpoint as
 * alice@ONPREM.EXAMPLE.COM. Negative cases: without the generated [domain_realm] mapping the login
 * fails; bob (AWS realm) cannot get a ticket for an on-premises service because the trust is one way.
 * AES only: the generated conf makes the client offer AES256/AES128 and nothing else (checked in both KDCs'
 * logs and in klist -e), and a user whose only key is RC4-HMAC is refused; the same conf without its three
 * enctype lines (MIT 1.20's defaults) offers RC4/DES3 and lets that user in, which is the control.
 *
 * Needs the Debian packages krb5-kdc, krb5-admin-server, krb5-user and postgresql-15 (.ci/run
 * installs them); a missing binary fails the test with the package names, it is never skipped.
 */
import * as fs from 'fs';
import * as path from 'path';
import { AWS, KerberosLab, must, ONPREM, PASSWORDS, RDS_HOST, run } from './kerberos-lab';

const lab = new KerberosLab();

beforeAll(async () => {
  await lab.start();
}, 120_000);

afterAll(async () => {
  await lab.stop();
});

test('an on-premises user logs in to the Aurora endpoint as user@ONPREM.EXAMPLE.COM with the generated krb5.conf', () => {
  const confPath = path.join(lab.tmp, 'krb5.conf');
  const conf = lab.generateKrb5Conf(confPath);
  expect(conf).toContain(`${RDS_HOST} = ${AWS}`);
  const env = lab.clientEnv(confPath, 'cc-alice');
  lab.kinit(env, `alice@${ONPREM}`, PASSWORDS.alice);
  const r = lab.psql(env, `alice@${ONPREM}`, "SELECT current_user || ' ' || (SELECT principal FROM pg_stat_gssapi WHERE pid = pg_backend_pid())");
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  expect(r.stdout.trim()).toBe(`alice@${ONPREM} alice@${ONPREM}`);
  // The path went through the trust: a cross-realm TGT and the service ticket of the AWS realm.
  const tickets = must(run('/usr/bin/klist', [], env), 'klist');
  expect(tickets).toContain(`krbtgt/${AWS}@${ONPREM}`);
  expect(tickets).toContain(`postgres/${RDS_HOST}@${AWS}`);
});

test('without the [domain_realm] mapping of the Aurora endpoint the login fails', () => {
  const full = lab.generateKrb5Conf(path.join(lab.tmp, 'krb5-full.conf'));
  const stripped = full
    .split('\n')
    .filter((l) => !/rds\.amazonaws\.com = /.test(l))
    .join('\n');
  expect(stripped).not.toContain('rds.amazonaws.com');
  const confPath = path.join(lab.tmp, 'krb5-no-mapping.conf');
  fs.writeFileSync(confPath, stripped);
  const env = lab.clientEnv(confPath, 'cc-alice-nomap');
  lab.kinit(env, `alice@${ONPREM}`, PASSWORDS.alice);
  const r = lab.psql(env, `alice@${ONPREM}`, 'SELECT 1');
  expect(r.status).not.toBe(0);
  // Without the mapping the client guesses the host's realm and finds no such principal anywhere.
  expect(r.stderr).toMatch(/could not initiate GSSAPI security context[\s\S]*not found in Kerberos database/);
  expect(must(run('/usr/bin/klist', [], env), 'klist')).not.toContain(`postgres/${RDS_HOST}`);
});

test('the trust is one way: an AWS-realm user cannot get a ticket for an on-premises service', () => {
  const conf = path.join(lab.tmp, 'krb5-bob.conf');
  lab.generateKrb5Conf(conf);
  // Positive control: the on-premises service exists and alice (on-premises) can get its ticket.
  const alice = lab.clientEnv(conf, 'cc-alice-2');
  lab.kinit(alice, `alice@${ONPREM}`, PASSWORDS.alice);
  must(run('/usr/bin/kvno', [`host/fileserver.onprem.example.com@${ONPREM}`], alice), 'kvno as alice');
  // bob of the AWS realm: a TGT from the AWS KDC and the AWS database work; crossing to on-premises does not.
  const bob = lab.clientEnv(conf, 'cc-bob');
  lab.kinit(bob, `bob@${AWS}`, PASSWORDS.bob);
  expect(lab.psql(bob, `bob@${AWS}`, 'SELECT current_user').stdout.trim()).toBe(`bob@${AWS}`);
  const r = run('/usr/bin/kvno', [`host/fileserver.onprem.example.com@${ONPREM}`], bob);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain(`Server krbtgt/${ONPREM}@${AWS} not found in Kerberos database`);
  expect(must(run('/usr/bin/klist', [], bob), 'klist')).not.toContain(`krbtgt/${ONPREM}@${AWS}`);
});

test('the database refuses a Kerberos identity it has no login for', () => {
  lab.kadmin(lab.onprem, 'addprinc -pw mallory-Password-1 mallory');
  const conf = path.join(lab.tmp, 'krb5-mallory.conf');
  lab.generateKrb5Conf(conf);
  const env = lab.clientEnv(conf, 'cc-mallory');
  lab.kinit(env, `mallory@${ONPREM}`, 'mallory-Password-1');
  const r = lab.psql(env, `mallory@${ONPREM}`, 'SELECT 1');
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/role "mallory@ONPREM\.EXAMPLE\.COM" does not exist/);
});

/** The generated conf without its three AES-only lines: what MIT Kerberos 1.20 does by default (it offers RC4 and DES3 too). */
function withoutAesOnly(conf: string): string {
  return conf
    .split('\n')
    .filter((l) => !/^\s*(permitted_enctypes|default_tkt_enctypes|default_tgs_enctypes)\s*=/.test(l))
    .join('\n');
}

/** The etypes listed in the KDC log lines that mention `principal`, e.g. "AS_REQ (2 etypes {aes256-cts-hmac-sha1-96(18), ...})". */
function requestedEtypes(logFile: string, principal: string): string[][] {
  return fs
    .readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.includes(principal) && /(AS|TGS)_REQ \(\d+ etypes \{/.test(l))
    .map((l) => /etypes \{([^}]*)\}/.exec(l)![1].split(',').map((e) => e.trim().replace(/\(\d+\)$/, '')));
}

test('AES only: with the generated conf the client offers only AES256/AES128 to both KDCs, and the login works', () => {
  const confPath = path.join(lab.tmp, 'krb5-aes.conf');
  lab.generateKrb5Conf(confPath);
  const env = lab.clientEnv(confPath, 'cc-alice-aes');
  lab.kinit(env, `alice@${ONPREM}`, PASSWORDS.alice);
  const r = lab.psql(env, `alice@${ONPREM}`, 'SELECT current_user');
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  // klist -e shows the encryption type of every ticket: the TGT, the cross-realm TGT and the service ticket.
  const tickets = must(run('/usr/bin/klist', ['-e'], env), 'klist -e');
  const etypes = [...tickets.matchAll(/Etype \(skey, tkt\): ([^\n]+)/g)].map((m) => m[1]);
  expect(etypes.length).toBeGreaterThanOrEqual(3);
  for (const e of etypes) expect(e.trim()).toMatch(/^aes(256|128)-cts-hmac-sha1-96, aes(256|128)-cts-hmac-sha1-96$/);
  // What the client asked for, as each KDC logged it.
  const asked = [...requestedEtypes(lab.onprem.log, `alice@${ONPREM}`), ...requestedEtypes(lab.aws.log, `alice@${ONPREM}`)];
  expect(asked.length).toBeGreaterThanOrEqual(2);
  for (const list of asked) expect(list).toEqual(['aes256-cts-hmac-sha1-96', 'aes128-cts-hmac-sha1-96']);

  // Control: without those lines MIT Kerberos offers the weak types too (what the issue observed).
  const weakPath = path.join(lab.tmp, 'krb5-default-enctypes.conf');
  fs.writeFileSync(weakPath, withoutAesOnly(fs.readFileSync(confPath, 'utf8')));
  const before = requestedEtypes(lab.onprem.log, `bob-control@${ONPREM}`).length;
  expect(before).toBe(0);
  lab.kadmin(lab.onprem, 'addprinc -pw bob-control-Password-1 bob-control');
  lab.kinit(lab.clientEnv(weakPath, 'cc-control'), `bob-control@${ONPREM}`, 'bob-control-Password-1');
  const offered = requestedEtypes(lab.onprem.log, `bob-control@${ONPREM}`).flat();
  expect(offered).toEqual(expect.arrayContaining(['DEPRECATED:arcfour-hmac', 'DEPRECATED:des3-cbc-sha1']));
});

test('an RC4-only key is refused: a user whose only key in the KDC is RC4-HMAC cannot log in with the generated conf (and could without it)', () => {
  // An account whose password predates AES keys in Active Directory has only an RC4 key. The client
  // decrypts the AS reply with that key, so an AES-only client must refuse it rather than fall back.
  lab.kadmin(lab.onprem, 'addprinc -pw carol-Password-1 -e arcfour-hmac:normal carol');
  const keys = lab.kadmin(lab.onprem, `getprinc carol@${ONPREM}`);
  expect(keys).toMatch(/Number of keys: 1\n/);
  expect(keys).toMatch(/Key: vno 1, DEPRECATED:arcfour-hmac\n/);
  const confPath = path.join(lab.tmp, 'krb5-rc4.conf');
  lab.generateKrb5Conf(confPath);
  const env = lab.clientEnv(confPath, 'cc-carol');
  const refused = run('/usr/bin/kinit', [`carol@${ONPREM}`], env, 'carol-Password-1\n');
  expect(refused.status).not.toBe(0);
  expect(refused.stderr).toMatch(/KDC has no support for encryption type/);
  expect(run('/usr/bin/klist', [], env).status).not.toBe(0); // no ticket cache at all
  // The KDC saw an AES-only request for carol and refused it for the missing key type.
  const log = fs.readFileSync(lab.onprem.log, 'utf8');
  expect(log).toMatch(new RegExp(`AS_REQ \\(2 etypes \\{aes256-cts-hmac-sha1-96\\(18\\), aes128-cts-hmac-sha1-96\\(17\\)\\}\\)[^\\n]*carol@${ONPREM.replace(/\./g, '\\.')}[^\\n]*KDC has no support for encryption type`));
  // Control: MIT's default encryption types would have accepted the RC4 key, so the refusal is the conf's doing.
  const weakPath = path.join(lab.tmp, 'krb5-rc4-default.conf');
  fs.writeFileSync(weakPath, withoutAesOnly(fs.readFileSync(confPath, 'utf8')));
  const weak = lab.clientEnv(weakPath, 'cc-carol-weak');
  lab.kinit(weak, `carol@${ONPREM}`, 'carol-Password-1');
  expect(must(run('/usr/bin/klist', [], weak), 'klist')).toContain(`krbtgt/${ONPREM}@${ONPREM}`);
  // ...because that request offered RC4, and the KDC answered with carol's RC4 key (rep=23 in its log).
  const issued = fs.readFileSync(lab.onprem.log, 'utf8').split('\n').filter((l) => l.includes(`carol@${ONPREM}`) && /ISSUE/.test(l));
  expect(issued).toHaveLength(1);
  expect(issued[0]).toMatch(/DEPRECATED:arcfour-hmac\(23\)[\s\S]*ISSUE: authtime \d+, etypes \{rep=DEPRECATED:arcfour-hmac\(23\)/);
});
