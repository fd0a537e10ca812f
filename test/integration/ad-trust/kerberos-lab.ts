/**
 * A Kerberos lab on loopback for the pattern-4 end-to-end test and benchmark:
 *
 *   ONPREM.EXAMPLE.COM   MIT KDC #1 — stands in for the on-premises AD (alice, host/fileserver)
 *   CORP.AWS.EXAMPLE.COM MIT KDC #2 — stands in for AWS Managed Microsoft AD (bob, postgres/<RDS host>)
 *   one-way trust: only krbtgt/CORP.AWS.EXAMPLE.COM@ONPREM.EXAMPLE.COM exists (same key in both KDCs)
 *   PostgreSQL 15 (Debian build, GSSAPI) as an unprivileged OS user, with the keytab of
 *   postgres/<cluster>.cluster-<id>.us-east-1.rds.amazonaws.com@CORP.AWS.EXAMPLE.COM
 *
 * Never touches /etc/krb5.conf or /etc/hosts: KRB5_CONFIG, KRB5_KDC_PROFILE, KRB5CCNAME and libpq's
 * hostaddr do the work. Every daemon is a child process stopped by PID in stop().
 */
import { ChildProcess, execFileSync, spawn, spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loginSql } from '../../../lambda/ad-trust/krb5-conf';
import { freePort } from '../../helpers/postgres';

export const ONPREM = 'ONPREM.EXAMPLE.COM';
export const AWS = 'CORP.AWS.EXAMPLE.COM';
export const RDS_HOST = 'db-ops-kit-kerberos-us-east-1.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com';
export const PG_BIN = '/usr/lib/postgresql/15/bin';
export const PASSWORDS = { alice: 'alice-Password-1', bob: 'bob-Password-1', trust: 'cross-realm-Trust-Password-1', pwuser: 'pwuser-Password-1' };
const REPO = path.resolve(__dirname, '../../..');

const BINARIES: Array<[string, string]> = [
  ['/usr/sbin/krb5kdc', 'krb5-kdc'],
  ['/usr/sbin/kdb5_util', 'krb5-kdc'],
  ['/usr/sbin/kadmin.local', 'krb5-admin-server'],
  ['/usr/bin/kinit', 'krb5-user'],
  ['/usr/bin/kvno', 'krb5-user'],
  ['/usr/bin/klist', 'krb5-user'],
  [`${PG_BIN}/postgres`, 'postgresql-15'],
  [`${PG_BIN}/initdb`, 'postgresql-15'],
  [`${PG_BIN}/psql`, 'postgresql-client-15'],
];

/** Throws (never skips) when a binary is missing, naming the Debian packages to install. */
export function requireBinaries(): void {
  const missing = BINARIES.filter(([bin]) => !fs.existsSync(bin));
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map(([, p]) => p))].join(' ');
    throw new Error(`the Kerberos lab needs ${missing.map(([b]) => b).join(', ')}: apt-get install ${pkgs} (.ci/run installs them)`);
  }
}

export interface Kdc {
  readonly realm: string;
  readonly port: number;
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly log: string;
}

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { env, input, encoding: 'utf8', timeout: 30_000 });
}

export function must(r: SpawnSyncReturns<string>, what: string): string {
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}): ${r.stdout}\n${r.stderr}\n${r.error ?? ''}`);
  return r.stdout;
}

/** The unprivileged OS user PostgreSQL runs as: `postgres` (from postgresql-15), else a system user created here. */
function postgresOsUser(): { uid: number; gid: number; name: string } {
  for (const name of ['postgres', 'dbopspg']) {
    const r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    if (r.status === 0) {
      return { name, uid: Number(r.stdout.trim()), gid: Number(spawnSync('id', ['-g', name], { encoding: 'utf8' }).stdout.trim()) };
    }
  }
  if (process.getuid?.() !== 0) throw new Error('no postgres OS user and not root to create one (useradd -r dbopspg)');
  execFileSync('useradd', ['-r', '-M', '-s', '/usr/sbin/nologin', 'dbopspg']);
  return postgresOsUser();
}

async function waitFor(what: string, check: () => boolean, logs: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${timeoutMs} ms:\n${logs()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export class KerberosLab {
  readonly tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbops-krb-'));
  onprem!: Kdc;
  aws!: Kdc;
  pgPort = 0;
  pgDir = '';
  private readonly children: ChildProcess[] = [];
  private pgLog = '';

  async start(): Promise<void> {
    requireBinaries();
    fs.chmodSync(this.tmp, 0o755);
    this.onprem = await this.createRealm(ONPREM, 'onprem');
    this.aws = await this.createRealm(AWS, 'aws');
    this.kadmin(this.onprem, `addprinc -pw ${PASSWORDS.alice} alice`);
    this.kadmin(this.onprem, 'addprinc -randkey host/fileserver.onprem.example.com');
    this.kadmin(this.aws, `addprinc -pw ${PASSWORDS.bob} bob`);
    this.kadmin(this.aws, `addprinc -randkey postgres/${RDS_HOST}`);
    // The one-way trust (AWS trusts on-premises): one cross-realm key, same password, kvno and
    // enctype in both KDCs. The reverse principal krbtgt/ONPREM@AWS deliberately does not exist.
    for (const kdc of [this.onprem, this.aws]) this.kadmin(kdc, `addprinc -pw ${PASSWORDS.trust} -e aes256-cts-hmac-sha1-96:normal krbtgt/${AWS}@${ONPREM}`);
    await this.launchKdc(this.onprem);
    await this.launchKdc(this.aws);
    await this.startPostgres();
  }

  private async createRealm(realm: string, name: string): Promise<Kdc> {
    const dir = path.join(this.tmp, name);
    fs.mkdirSync(dir);
    const port = await freePort();
    fs.writeFileSync(
      path.join(dir, 'kdc.conf'),
      [
        '[kdcdefaults]',
        `  kdc_listen = 127.0.0.1:${port}`,
        `  kdc_tcp_listen = 127.0.0.1:${port}`,
        '[realms]',
        `  ${realm} = {`,
        `    database_name = ${dir}/principal`,
        `    key_stash_file = ${dir}/stash`,
        `    acl_file = ${dir}/kadm5.acl`,
        '    max_life = 10h',
        '    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal',
        '  }',
        '[logging]',
        `  kdc = FILE:${dir}/kdc.log`,
        '',
      ].join('\n'),
    );
    fs.writeFileSync(path.join(dir, 'kadm5.acl'), '');
    // The realm's own view, for its admin tools and the KDC process.
    fs.writeFileSync(path.join(dir, 'krb5.conf'), [`[libdefaults]`, `  default_realm = ${realm}`, `[realms]`, `  ${realm} = {`, `    kdc = 127.0.0.1:${port}`, `  }`, ''].join('\n'));
    const env = { ...process.env, KRB5_CONFIG: path.join(dir, 'krb5.conf'), KRB5_KDC_PROFILE: path.join(dir, 'kdc.conf') };
    must(run('/usr/sbin/kdb5_util', ['create', '-s', '-r', realm, '-P', `master-${name}-pw`], env), `kdb5_util create ${realm}`);
    return { realm, port, dir, env, log: path.join(dir, 'kdc.log') };
  }

  private async launchKdc(kdc: Kdc): Promise<void> {
    const proc = spawn('/usr/sbin/krb5kdc', ['-n', '-r', kdc.realm], { env: kdc.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout?.on('data', (d) => (out += String(d)));
    proc.stderr?.on('data', (d) => (out += String(d)));
    this.children.push(proc);
    const logText = () => `${out}\n${fs.existsSync(kdc.log) ? fs.readFileSync(kdc.log, 'utf8') : ''}`;
    await waitFor(`krb5kdc ${kdc.realm} on 127.0.0.1:${kdc.port}`, () => proc.exitCode === null && /commencing operation/.test(logText()), logText);
  }

  kadmin(kdc: Kdc, query: string): string {
    return must(run('/usr/sbin/kadmin.local', ['-r', kdc.realm, '-q', query], kdc.env), `kadmin.local ${kdc.realm}: ${query}`);
  }

  private async startPostgres(): Promise<void> {
    const pgUser = postgresOsUser();
    const dir = path.join(this.tmp, 'pg');
    fs.mkdirSync(dir, { mode: 0o700 });
    const keytab = path.join(dir, 'postgres.keytab');
    this.kadmin(this.aws, `ktadd -k ${keytab} postgres/${RDS_HOST}`);
    fs.chmodSync(keytab, 0o600);
    const data = path.join(dir, 'data');
    fs.mkdirSync(data, { mode: 0o700 });
    for (const p of [dir, keytab, data]) fs.chownSync(p, pgUser.uid, pgUser.gid);
    const pgEnv = { ...process.env, KRB5_CONFIG: path.join(this.aws.dir, 'krb5.conf'), LC_ALL: 'C' };
    must(
      spawnSync(`${PG_BIN}/initdb`, ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync'], { uid: pgUser.uid, gid: pgUser.gid, env: pgEnv, encoding: 'utf8', cwd: dir }),
      'initdb',
    );
    // Password login for one user (the benchmark's baseline), GSSAPI with the realm in the user name for everyone else.
    fs.writeFileSync(path.join(data, 'pg_hba.conf'), ['local all all trust', 'host all pwuser 127.0.0.1/32 scram-sha-256', 'host all all 127.0.0.1/32 gss include_realm=1', ''].join('\n'));
    const port = await freePort();
    this.pgPort = port;
    this.pgDir = dir;
    const proc = spawn(
      `${PG_BIN}/postgres`,
      ['-D', data, '-c', 'listen_addresses=127.0.0.1', '-c', `port=${port}`, '-c', `unix_socket_directories=${dir}`, '-c', `krb_server_keyfile=${keytab}`, '-c', 'fsync=off'],
      { uid: pgUser.uid, gid: pgUser.gid, env: pgEnv, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.children.push(proc);
    proc.stderr?.on('data', (d) => (this.pgLog += String(d)));
    proc.stdout?.on('data', (d) => (this.pgLog += String(d)));
    await waitFor(`PostgreSQL on 127.0.0.1:${port}`, () => proc.exitCode === null && /ready to accept connections/.test(this.pgLog), () => this.pgLog, 30_000);
    // What the DBA runs on Aurora, as generated by the kit; rds_ad is the role RDS provides.
    this.admin('CREATE ROLE rds_ad NOLOGIN');
    for (const stmt of loginSql('aurora-postgresql', 'alice', 'onprem.example.com').split('\n')) this.admin(stmt);
    for (const stmt of loginSql('aurora-postgresql', 'bob', 'corp.aws.example.com').split('\n')) this.admin(stmt);
    this.admin(`CREATE USER pwuser WITH LOGIN PASSWORD '${PASSWORDS.pwuser}'`);
  }

  /** SQL as the superuser over the Unix socket. */
  admin(sql: string): string {
    return must(run(`${PG_BIN}/psql`, ['-h', this.pgDir, '-p', String(this.pgPort), '-U', 'postgres', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql], process.env), sql);
  }

  /** Generates krb5.conf with the kit's CLI (`npm run krb5-conf`), KDCs pointed at the loopback ports. */
  generateKrb5Conf(out: string): string {
    must(
      run(
        path.join(REPO, 'node_modules', '.bin', 'tsx'),
        [
          path.join(REPO, 'lambda/ad-trust/krb5-conf-cli.ts'),
          ...['--onprem-domain', 'onprem.example.com', '--aws-domain', 'corp.aws.example.com'],
          ...['--onprem-kdc', `127.0.0.1:${this.onprem.port}`, '--aws-kdc', `127.0.0.1:${this.aws.port}`],
          ...['--db-endpoint', RDS_HOST, '--what', 'conf', '--out', out],
        ],
        process.env,
      ),
      'npm run krb5-conf',
    );
    return fs.readFileSync(out, 'utf8');
  }

  clientEnv(conf: string, cacheName: string): NodeJS.ProcessEnv {
    return { ...process.env, KRB5_CONFIG: conf, KRB5CCNAME: `FILE:${path.join(this.tmp, cacheName)}`, PGCONNECT_TIMEOUT: '10' };
  }

  kinit(env: NodeJS.ProcessEnv, principal: string, password: string): void {
    must(run('/usr/bin/kinit', [principal], env, `${password}\n`), `kinit ${principal}`);
  }

  /** psql to the RDS-style host name (it names the service principal), connecting to 127.0.0.1 via hostaddr. */
  psql(env: NodeJS.ProcessEnv, user: string, sql: string): SpawnSyncReturns<string> {
    const conn = `host=${RDS_HOST} hostaddr=127.0.0.1 port=${this.pgPort} dbname=postgres user=${user} sslmode=disable`;
    return run(`${PG_BIN}/psql`, [conn, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql], env);
  }

  async stop(): Promise<void> {
    for (const c of this.children.reverse()) {
      if (c.exitCode !== null || c.pid === undefined) continue;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        process.kill(c.pid!, 'SIGTERM');
        setTimeout(() => c.exitCode === null && c.pid && process.kill(c.pid, 'SIGKILL'), 5000).unref();
      });
    }
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}
