/**
 * The enforced write freeze against moto (RDS, EC2 security groups, CloudWatch metrics): the quiet
 * check waits for open connections, a resume that reaches cutover after writes were re-opened is
 * refused (CLI), a failed second rename is reported from AWS with the command that rolls back, and
 * `--resume --rollback` on a finished rollback touches nothing. moto publishes no RDS metrics; the
 * fixture publishes DatabaseConnections for each instance (w.connections) as RDS does every minute.
 */
import { DescribeDBInstancesCommand, ListTagsForResourceCommand, ModifyDBInstanceCommand } from '@aws-sdk/client-rds';
import * as fs from 'fs';
import * as path from 'path';
import { clientsFor } from '../../../lambda/kms-key-change/clients';
import { holderIn } from '../../../lambda/kms-key-change/lock';
import { phasesFor, runPhases } from '../../../lambda/kms-key-change/runner';
import { newState, RekeyState } from '../../../lambda/kms-key-change/state';
import { STEPS } from '../../../lambda/kms-key-change/steps';
import { makeInstance, publishConnections, runCli, useMotoWorld, useTempDir, World } from './moto-fixtures';

let w: World;
useMotoWorld((world) => (w = world));

const c = () => clientsFor('us-east-1');
const describe1 = async (id: string) => (await w.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0];
const groups = async (id: string) => (await describe1(id)).VpcSecurityGroups!.map((g) => g.VpcSecurityGroupId!).sort();
const exists = async (id: string) => describe1(id).then(() => true, () => false);

const tmp = useTempDir('rekey-freeze-');
const cli = runCli;

test('the quiet check waits while connections opened before the freeze are still open, then the snapshot follows', async () => {
  await makeInstance(w, 'busy');
  w.connections.set('busy', 4);
  await publishConnections(w);
  const messages: string[] = [];
  let s = newState({ kind: 'instance', sourceId: 'busy', kmsKey: w.newKey, region: 'us-east-1', now: new Date(Date.UTC(2026, 10, 30, 5, 0, 0)) });
  s.cutoverRequested = true;
  const polls: string[] = [];
  const run = runPhases(c(), s, phasesFor(s, { cutover: true }), {
    pollMs: 50,
    onStep: (step, r) => {
      messages.push(`${step} ${r.message}`);
      if (step === 'checkFreeze') polls.push(r.message);
      // The application closes its pool after three polls.
      if (step === 'checkFreeze' && polls.length === 3) w.connections.set('busy', 0);
    },
  });
  s = await run;
  expect(polls[0]).toMatch(/connections opened before the freeze are still open \(busy: 4 at .*; limit 0\)/);
  expect(polls.at(-1)).toMatch(/busy is frozen and quiet \(DatabaseConnections busy=0 at most 0\)/);
  // The final snapshot was requested only after the quiet check passed.
  expect(s.snapshotStartedAt! >= s.freeze!.quietAt!).toBe(true);
  const iSnap = messages.findIndex((m) => m.startsWith('createSnapshot'));
  const iQuiet = messages.findIndex((m) => /frozen and quiet/.test(m));
  expect(iQuiet).toBeGreaterThan(-1);
  expect(iSnap).toBeGreaterThan(iQuiet);
  expect(s.cutover?.done).toBe(true);
}, 120_000);

test('CLI: failure after the final snapshot, writes re-opened, then --resume --cutover is refused and the run can be rolled back', async () => {
  await makeInstance(w, 'reopen');
  const before = await groups('reopen');
  const file = path.join(tmp(), 'state.json');
  const real = STEPS.applySettings;
  STEPS.applySettings = async () => {
    throw Object.assign(new Error('injected: ModifyDBInstance throttled for good'), { name: 'InjectedFailure' });
  };
  let first;
  try {
    first = await cli(['--db-instance', 'reopen', '--kms-key', w.newKey, '--cutover', '--state-file', file, '--poll-seconds', '0']);
  } finally {
    STEPS.applySettings = real;
  }
  expect(first.code).toBe(1);
  expect(first.out).toMatch(/Write freeze: before the final snapshot the kit replaces the security groups of reopen/);
  expect(first.err).toMatch(/What exists now \(described from AWS\):\n {2}reopen: exists, available, source key .*FROZEN \(only the kit's no-ingress group sg-/);
  expect(first.err).toMatch(/reopen-pre-rekey-\d{14}: does not exist/);
  expect(first.err).toMatch(new RegExp(`Continue once the cause is fixed: npm run kms-change -- --resume ${file} --cutover`));
  expect(first.err).not.toMatch(/source is unchanged/);
  const saved: RekeyState = JSON.parse(fs.readFileSync(file, 'utf8'));
  expect(saved.snapshotStartedAt).toBeDefined();

  // An operator lets the application back in "for a minute" while the run waits, then puts the freeze back.
  await w.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'reopen', VpcSecurityGroupIds: before, ApplyImmediately: true }));
  w.connections.set('reopen', 7);
  await publishConnections(w);
  w.connections.set('reopen', 0);
  await w.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'reopen', VpcSecurityGroupIds: [saved.freeze!.groupId!], ApplyImmediately: true }));

  const resumed = await cli(['--resume', file, '--cutover', '--poll-seconds', '0']);
  expect(resumed.code).toBe(1);
  expect(resumed.err).toMatch(/DatabaseConnections shows clients after the final snapshot \(reopen: 7 at /);
  expect(resumed.err).toMatch(/retake the final snapshot: roll this run back \(npm run kms-change -- --resume .* --rollback/);
  // Nothing was renamed: the original still answers to its name, on its old key.
  expect((await describe1('reopen')).KmsKeyId).toBe(w.oldKey);
  expect(await exists(`reopen-pre-rekey-${saved.runId}`)).toBe(false);

  // Abort: the original security groups go back, the lock is released, every copy is kept.
  const back = await cli(['--resume', file, '--rollback', '--poll-seconds', '0']);
  expect(back.code).toBe(0);
  expect(await groups('reopen')).toEqual(before);
  expect(holderIn((await w.rds.send(new ListTagsForResourceCommand({ ResourceName: (await describe1('reopen')).DBInstanceArn }))).TagList)).toBeUndefined();
  expect(await exists(saved.names!.newId)).toBe(true);

  // Issue 14: a second --rollback of the finished rollback changes nothing and takes no lock.
  const again = await cli(['--resume', file, '--rollback', '--poll-seconds', '0']);
  expect(again.code).toBe(0);
  expect(again.out).toMatch(/already rolled back at .*; nothing was changed now/);
  expect(again.out).toMatch(/reopen: exists, available, source key .*security groups sg-/);
  for (const id of ['reopen', saved.names!.newId]) {
    expect(holderIn((await w.rds.send(new ListTagsForResourceCommand({ ResourceName: (await describe1(id)).DBInstanceArn }))).TagList)).toBeUndefined();
  }
}, 120_000);

test('CLI: a failed second rename names what exists (the original renamed and frozen, no <id>) and --rollback restores <id>', async () => {
  await makeInstance(w, 'half');
  const before = await groups('half');
  const file = path.join(tmp(), 'state.json');
  const real = STEPS.renameTarget;
  STEPS.renameTarget = async () => {
    throw Object.assign(new Error('injected: InvalidDBInstanceState on the second rename'), { name: 'InvalidDBInstanceStateFault' });
  };
  let r;
  try {
    r = await cli(['--db-instance', 'half', '--kms-key', w.newKey, '--cutover', '--state-file', file, '--poll-seconds', '0']);
  } finally {
    STEPS.renameTarget = real;
  }
  const s: RekeyState = JSON.parse(fs.readFileSync(file, 'utf8'));
  expect(r.code).toBe(1);
  expect(r.err).not.toMatch(/source is unchanged/);
  expect(r.err).toMatch(/What exists now \(described from AWS\):\n {2}half: does not exist\n {2}half-pre-rekey-\d{14}: exists, available, source key .*FROZEN/);
  expect(r.err).toMatch(new RegExp(`half-rekey-${s.runId}: exists, available, target key ${w.newKey}`));
  expect(r.err).toMatch(/CLIENTS ARE AFFECTED: half is not the original right now\./);
  expect(r.err).toContain(`Put the original back under half: npm run kms-change -- --resume ${file} --rollback`);

  const back = await cli(['--resume', file, '--rollback', '--poll-seconds', '0']);
  expect(back.code).toBe(0);
  expect((await describe1('half')).KmsKeyId).toBe(w.oldKey);
  expect(await groups('half')).toEqual(before);
  expect((await describe1(s.names!.newId)).KmsKeyId).toBe(w.newKey);
}, 120_000);

test('CLI: after cutover the original stays frozen until --release-original puts its groups back', async () => {
  await makeInstance(w, 'keep');
  const before = await groups('keep');
  const file = path.join(tmp(), 'state.json');
  const r = await cli(['--db-instance', 'keep', '--kms-key', w.newKey, '--cutover', '--state-file', file, '--poll-seconds', '0']);
  expect(r.code).toBe(0);
  const s: RekeyState = JSON.parse(fs.readFileSync(file, 'utf8'));
  const pre = `keep-pre-rekey-${s.runId}`;
  expect(await groups(pre)).toEqual([s.freeze!.groupId]);
  // The new database answers to the name with the source's own groups.
  expect(await groups('keep')).toEqual(before);
  const rel = await cli(['--resume', file, '--release-original']);
  expect(rel.code).toBe(0);
  expect(rel.out).toMatch(new RegExp(`${pre}: original security groups .* put back`));
  expect(await groups(pre)).toEqual(before);
}, 120_000);
