/**
 * End-to-end Kerberos through a one-way cross-realm trust, on loopback, with the krb5.conf that the
 * kit generates (`npm run krb5-conf`). The lab (two MIT KDCs standing in for the on-premises AD and
 * AWS Managed Microsoft AD, PostgreSQL 15 with GSSAPI holding the keytab of the RDS-style service
 * principal) is described in kerberos-lab.ts.
 *
 * alice (on-premises) gets a ticket from her own KDC and logs in to the "Aurora" endpoint as
 * alice@ONPREM.EXAMPLE.COM. Negative cases: without the generated [domain_realm] mapping the login
 * fails; bob (AWS realm) cannot get a ticket for an on-premises service because the trust is one way.
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
