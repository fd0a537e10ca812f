import { ChildProcess, spawn } from 'child_process';
import * as http from 'http';
import { freePort } from './postgres';

/** A moto server (AWS API emulator) on loopback for one integration test file. */
export interface MotoServer {
  readonly endpoint: string;
  readonly port: number;
  /** Clears moto's state (POST /moto-api/reset). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

function request(url: string, method = 'GET'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/**
 * Starts `python3 -m moto.server -H 127.0.0.1 -p <free port>`, waits until it answers, and points
 * the AWS SDK at it for this process through `AWS_ENDPOINT_URL` and dummy credentials (the SDK v3
 * honours `AWS_ENDPOINT_URL`, so the code under test needs no changes). Stop kills it by PID.
 * Needs `pip install "moto[server]"` (see README).
 */
export async function startMoto(): Promise<MotoServer> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr = (stderr + String(d)).slice(-4000)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto.server exited with ${child.exitCode}: ${stderr}`);
    try {
      if ((await request(`${endpoint}/moto-api/`)) < 500) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`moto.server did not answer on ${endpoint} within 30 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_SESSION_TOKEN: 'testing',
    AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
  });
  return {
    endpoint,
    port,
    async reset() {
      await request(`${endpoint}/moto-api/reset`, 'POST');
    },
    async stop() {
      if (child.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 5000).unref();
      });
    },
  };
}
