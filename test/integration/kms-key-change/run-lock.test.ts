/**
 * The run lock against moto (which keeps RDS tags and moves them with a rename): while run A is
 * mid-flight — after its snapshot and copy, and again after its cutover but before finalize — a
 * second run B against the same instance is refused (from the runner and from the CLI) and creates
 * nothing; once A finalizes, its lock is gone from every resource and B runs.
 */
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { DescribeDBInstancesCommand, DescribeDBSnapshotsCommand, ListTagsForResourceCommand } from '@aws-sdk/client-rds';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../../lambda/kms-key-change/cli';
import { clientsFor } from '../../../lambda/kms-key-change/clients';
import { holderIn } from '../../../lambda/kms-key-change/lock';
import { PreflightError } from '../../../lambda/kms-key-change/preflight';
import { phasesFor, runPhases, StoppedBefore } from '../../../lambda/kms-key-change/runner';
import { newState, RekeyState } from '../../../lambda/kms-key-change/state';
import { makeInstance, useMotoWorld, World } from './moto-fixtures';

let w: World;
useMotoWorld((world) => (w = world));

const c = () => clientsFor('us-east-1');

async function lockOn(id: string): Promise<string | undefined> {
  const arn = (await w.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0].DBInstanceArn;
  return holderIn((await w.rds.send(new ListTagsForResourceCommand({ ResourceName: arn }))).TagList);
}

async function stopBefore(s: RekeyState, step: 'restore' | 'finalize', cutover: boolean): Promise<RekeyState> {
  const e = await runPhases(c(), s, phasesFor(s, { cutover }), { pollMs: 0, stopBefore: step }).catch((x) => x);
  expect(e).toBeInstanceOf(StoppedBefore);
  return (e as StoppedBefore).state;
}

/** Run B is refused with RUN_IN_PROGRESS naming run A, and creates nothing. */
async function expectRefused(b: RekeyState, a: RekeyState): Promise<void> {
  const e = await runPhases(c(), b, phasesFor(b, { cutover: false }), { pollMs: 0 }).catch((x) => x);
  expect(e).toBeInstanceOf(PreflightError);
  expect((e as PreflightError).problems.map((p) => p.code)).toEqual(['RUN_IN_PROGRESS']);
  expect(e.message).toContain(`key-change run ${a.runId}`);
  expect(e.message).toContain(`--break-lock ${a.runId}`);
  const snaps = (await w.rds.send(new DescribeDBSnapshotsCommand({}))).DBSnapshots!.map((x) => x.DBSnapshotIdentifier);
  expect(snaps.filter((x) => x?.includes(b.runId))).toEqual([]);
}

test('a second run is refused while the first is mid-flight and runs once the first has finalized', async () => {
  await makeInstance(w, 'locked');
  const key3 = (await w.kms.send(new CreateKeyCommand({ Description: 'third' }))).KeyMetadata!.Arn!;
  let a = newState({ kind: 'instance', sourceId: 'locked', kmsKey: w.newKey, region: 'us-east-1', now: new Date(Date.UTC(2026, 10, 30, 3, 0, 0)) });
  const b = newState({ kind: 'instance', sourceId: 'locked', kmsKey: key3, region: 'us-east-1', now: new Date(Date.UTC(2026, 10, 30, 3, 30, 0)) });

  // A: snapshot and copy done, restore not yet started.
  a = await stopBefore(a, 'restore', true);
  expect(await lockOn('locked')).toBe(a.runId);
  await expectRefused(b, a);

  // The CLI refuses too (exit 3), naming the run and the way out.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-lock-'));
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['--db-instance', 'locked', '--kms-key', key3, '--region', 'us-east-1', '--state-file', path.join(dir, 'b.json'), '--poll-seconds', '0'], { out: (l) => out.push(l), err: (l) => err.push(l) });
  expect(code).toBe(3);
  expect(err.join('\n')).toContain(`RUN_IN_PROGRESS locked: key-change run ${a.runId}`);

  // A resumes (same run id: allowed) through cutover, stopping before finalize. The lock follows
  // the original to its -pre-rekey- name, and the re-keyed copy, now answering to "locked",
  // carries it from its restore: B is still refused.
  a = await stopBefore(a, 'finalize', true);
  expect(a.cutover?.done).toBe(true);
  expect(a.parityClean).toBe(true); // the lock tag on the copy is not a parity difference
  expect(await lockOn('locked')).toBe(a.runId);
  expect(await lockOn(a.cutover!.sourceRenamedTo)).toBe(a.runId);
  await expectRefused(b, a);

  // A finalizes: every lock of A is gone (the provenance tags stay), and B runs.
  a = await runPhases(c(), a, phasesFor(a, { cutover: true }), { pollMs: 0 });
  expect(a.lastStep).toBe('finalize');
  expect(await lockOn('locked')).toBeUndefined();
  expect(await lockOn(a.cutover!.sourceRenamedTo)).toBeUndefined();
  const bDone = await runPhases(c(), b, phasesFor(b, { cutover: false }), { pollMs: 0 });
  expect(bDone.lastStep).toBe('finalize');
  expect(bDone.parityClean).toBe(true);
  expect(bDone.parity!.find((l) => l.setting === 'tags')?.result).toBe('same');
  expect(await lockOn('locked')).toBeUndefined();
  fs.rmSync(dir, { recursive: true, force: true });
});
