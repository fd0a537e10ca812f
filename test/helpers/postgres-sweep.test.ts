/**
 * The embedded-PostgreSQL helper removes what a killed test process left behind (a StrykerJS mutant timeout kills
 * a jest worker together with the helper's supervising child, so the child's own clean-up never runs).
 * Real processes: a real embedded PostgreSQL is started by a separate Node process, which is then SIGKILLed with its
 * supervising child, leaving an orphaned postmaster and its data directory — exactly the leftover seen in /tmp.
 */
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { sweepStaleServers } from './postgres';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

describe('sweepStaleServers', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbops-sweep-'));
    // Like /tmp: as root the helper runs initdb as the `postgres` user, which must read files the helper puts here.
    fs.chmodSync(tmp, 0o1777);
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('stops the orphaned postmaster of a killed owner and removes its data directory; leaves live owners and other directories', async () => {
    // A separate process starts a real server under TMPDIR=tmp, so its data directory is tmp/dbops-pg-<pid>-<port>.
    const owner = spawn(
      process.execPath,
      ['--require', 'tsx/cjs', '-e', "require('./test/helpers/postgres').startPostgres().then(() => console.log('UP'))"],
      { cwd: REPO_ROOT, env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      owner.stdout!.on('data', (d) => String(d).includes('UP') && resolve());
      owner.once('exit', (code) => reject(new Error(`owner exited ${code} before the server was up`)));
    });
    const [dirName] = fs.readdirSync(tmp).filter((n) => n.startsWith('dbops-pg-'));
    expect(dirName).toBe(`dbops-pg-${owner.pid}-${dirName.split('-').pop()}`);
    const dataDir = path.join(tmp, dirName);
    const postmaster = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(alive(postmaster)).toBe(true);

    // Kill the owner and every Node process under it (the supervising child), but not PostgreSQL: an orphan.
    const nodeChildren = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(owner.pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter(([, comm]) => comm === 'node')
      .map(([pid]) => Number(pid));
    const ownerGone = new Promise((r) => owner.once('exit', r));
    for (const pid of [...nodeChildren, owner.pid!]) process.kill(pid, 'SIGKILL');
    await ownerGone;
    expect(await until(() => nodeChildren.every((p) => !alive(p)), 5000)).toBe(true);
    expect(alive(postmaster)).toBe(true);
    expect(fs.existsSync(dataDir)).toBe(true);

    // A directory of a live owner (this jest process) and a directory not named by the helper must stay.
    const liveOwnerDir = path.join(tmp, `dbops-pg-${process.pid}-1`);
    const otherDir = path.join(tmp, 'dbops-pg-notes');
    fs.mkdirSync(liveOwnerDir);
    fs.mkdirSync(otherDir);

    expect(sweepStaleServers(tmp)).toEqual([dataDir]);
    expect(fs.existsSync(dataDir)).toBe(false);
    expect(await until(() => !alive(postmaster), 10_000)).toBe(true);
    expect(fs.existsSync(liveOwnerDir)).toBe(true);
    expect(fs.existsSync(otherDir)).toBe(true);
  });

  test('does not signal a live process whose PID is written in a stale directory but which is not that directory\'s server', () => {
    // A dead owner PID: a child that has already exited.
    const dead = spawn(process.execPath, ['-e', '0']);
    return new Promise<void>((resolve) => dead.once('exit', () => resolve())).then(() => {
      const dir = path.join(tmp, `dbops-pg-${dead.pid}-5432`);
      fs.mkdirSync(dir);
      // postmaster.pid names this jest process, which is alive but whose command line does not name `dir`.
      fs.writeFileSync(path.join(dir, 'postmaster.pid'), `${process.pid}\n${dir}\n`);
      expect(sweepStaleServers(tmp)).toEqual([dir]);
      expect(fs.existsSync(dir)).toBe(false);
      expect(alive(process.pid)).toBe(true);
    });
  });
});
