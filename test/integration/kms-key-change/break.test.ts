/**
 * Failure paths an operator with an existing estate hits (moto): a crash right after the second
 * rename while clients already use the re-keyed copy under `<id>`, and a rollback after clients wrote
 * to the re-keyed copy. The fixture publishes DatabaseConnections as RDS does (moto publishes none).
 */
import { CreateDBInstanceCommand, DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import * as fs from 'fs';
import * as path from 'path';
import { RekeyState } from '../../../lambda/kms-key-change/state';
import { STEPS } from '../../../lambda/kms-key-change/steps';
import { makeInstance, publishConnections, runCli, useMotoWorld, useTempDir, World } from './moto-fixtures';

let w: World;
useMotoWorld((world) => (w = world));

const describe1 = async (id: string) => (await w.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0];

const tmp = useTempDir('rekey-break-');
const cli = runCli;

test('a crash after the second rename was issued, clients already on the copy: --resume --cutover finishes instead of refusing as a broken freeze', async () => {
  await makeInstance(w, 'late');
  const file = path.join(tmp(), 's.json');
  // The rename call reaches RDS, then the process dies before the state is saved (a Lambda timeout).
  const real = STEPS.renameTarget;
  STEPS.renameTarget = async (c, s) => {
    await real(c, s);
    throw Object.assign(new Error('injected: the laptop lost its session'), { name: 'InjectedFailure' });
  };
  let r;
  try {
    r = await cli(['--db-instance', 'late', '--kms-key', w.newKey, '--cutover', '--state-file', file, '--poll-seconds', '0']);
  } finally {
    STEPS.renameTarget = real;
  }
  expect(r.code).toBe(1);
  // The rename went through: clients resolve `late` to the re-keyed copy and write to it.
  expect((await describe1('late')).KmsKeyId).toBe(w.newKey);
  w.connections.set('late', 6);
  await publishConnections(w);
  const resumed = await cli(['--resume', file, '--cutover', '--poll-seconds', '0']);
  expect(resumed.err).not.toMatch(/FreezeNotHeld|retake the final snapshot/);
  expect(resumed.code).toBe(0);
  const s: RekeyState = JSON.parse(fs.readFileSync(file, 'utf8'));
  expect(s.cutover?.done).toBe(true);
  w.connections.set('late', 0);
}, 120_000);

test('--rollback after a finished cutover whose copy took client connections refuses (writes would be stranded) until the operator confirms, then rolls back and keeps the copy', async () => {
  await makeInstance(w, 'after');
  const file = path.join(tmp(), 's.json');
  const r = await cli(['--db-instance', 'after', '--kms-key', w.newKey, '--cutover', '--state-file', file, '--poll-seconds', '0']);
  expect(r.code).toBe(0);
  const s: RekeyState = JSON.parse(fs.readFileSync(file, 'utf8'));
  // Clients are on the re-keyed copy, which now answers to `after`.
  w.connections.set('after', 5);
  await publishConnections(w);
  w.connections.set('after', 0);
  const refused = await cli(['--resume', file, '--rollback', '--poll-seconds', '0']);
  expect(refused.code).toBe(1);
  expect(refused.err).toMatch(/clients used the re-keyed instance under after since the cutover \(after: 5 at /);
  expect(refused.err).toContain(`--resume ${file} --rollback --writes-since-cutover-stay-in-copy`);
  // Nothing was renamed.
  expect((await describe1('after')).KmsKeyId).toBe(w.newKey);
  expect((await describe1(`after-pre-rekey-${s.runId}`)).KmsKeyId).toBe(w.oldKey);
  // The flag is refused without --rollback.
  expect((await cli(['--resume', file, '--writes-since-cutover-stay-in-copy'])).code).toBe(2);
  const back = await cli(['--resume', file, '--rollback', '--writes-since-cutover-stay-in-copy', '--poll-seconds', '0']);
  expect(back.code).toBe(0);
  expect((await describe1('after')).KmsKeyId).toBe(w.oldKey);
  expect((await describe1(s.names!.newId)).KmsKeyId).toBe(w.newKey);
}, 120_000);

test('a crash right after the freeze was applied (state not saved): --rollback finds the run\'s freeze group in AWS and puts the original groups back', async () => {
  await makeInstance(w, 'lost');
  const before = (await describe1('lost')).VpcSecurityGroups!.map((g) => g.VpcSecurityGroupId!).sort();
  const file = path.join(tmp(), 's.json');
  const real = STEPS.freezeSource;
  STEPS.freezeSource = async (c, s) => {
    await real(c, s);
    throw Object.assign(new Error('injected: the process died before the state was saved'), { name: 'InjectedFailure' });
  };
  let r;
  try {
    r = await cli(['--db-instance', 'lost', '--kms-key', w.newKey, '--cutover', '--state-file', file, '--poll-seconds', '0']);
  } finally {
    STEPS.freezeSource = real;
  }
  expect(r.code).toBe(1);
  expect(JSON.parse(fs.readFileSync(file, 'utf8')).freeze).toBeUndefined();
  const frozen = (await describe1('lost')).VpcSecurityGroups!.map((g) => g.VpcSecurityGroupId!);
  expect(frozen).toHaveLength(1);
  expect(before).not.toContain(frozen[0]);
  const back = await cli(['--resume', file, '--rollback', '--poll-seconds', '0']);
  expect(back.code).toBe(0);
  expect(back.out).toMatch(/original security groups .* put back/);
  expect((await describe1('lost')).VpcSecurityGroups!.map((g) => g.VpcSecurityGroupId!).sort()).toEqual(before);
}, 120_000);

test('a fresh run on a source still frozen by a dead run records the real original groups (from that run\'s freeze group), so its rollback unblocks clients', async () => {
  await makeInstance(w, 'stale');
  const before = (await describe1('stale')).VpcSecurityGroups!.map((g) => g.VpcSecurityGroupId!).sort();
  const f1 = path.join(tmp(), 'dead.json');
  const real = STEPS.freezeSource;
  STEPS.freezeSource = async (c, s) => {
    await real(c, s);
    throw Object.assign(new Error('injected: the laptop died'), { name: 'InjectedFailure' });
  };
  try {
    expect((await cli(['--db-instance', 'stale', '--kms-key', w.newKey, '--cutover', '--state-file', f1, '--poll-seconds', '0'])).code).toBe(1);
  } finally {
    STEPS.freezeSource = real;
  }
  const dead: RekeyState = JSON.parse(fs.readFileSync(f1, 'utf8'));
  // The operator gives the dead run up (its state file lost) and starts again.
  expect((await cli(['--db-instance', 'stale', '--break-lock', dead.runId])).code).toBe(0);
  await new Promise((r) => setTimeout(r, 1100)); // a new run id (seconds)
  const f2 = path.join(tmp(), 'fresh.json');
  const realCopy = STEPS.checkCopy;
  STEPS.checkCopy = async () => {
    throw Object.assign(new Error('injected: copy failed'), { name: 'InjectedFailure' });
  };
  try {
    expect((await cli(['--db-instance', 'stale', '--kms-key', w.newKey, '--cutover', '--state-file', f2, '--poll-seconds', '0'])).code).toBe(1);
  } finally {
    STEPS.checkCopy = realCopy;
  }
  const fresh: RekeyState = JSON.parse(fs.readFileSync(f2, 'utf8'));
  expect([...fresh.freeze!.originalSecurityGroupIds].sort()).toEqual(before);
  expect((await cli(['--resume', f2, '--rollback', '--poll-seconds', '0'])).code).toBe(0);
  expect((await describe1('stale')).VpcSecurityGroups!.map((g) => g.VpcSecurityGroupId!).sort()).toEqual(before);
}, 120_000);

test('a source in the default VPC that the API shows without a DB subnet group is still frozen (the VPC comes from its security group)', async () => {
  w.connections.set('dflt', 0);
  await w.rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'dflt', DBInstanceClass: 'db.t4g.medium', Engine: 'postgres', EngineVersion: '17.2', AllocatedStorage: 20, MasterUsername: 'app', MasterUserPassword: 'not-a-real-password-1', StorageEncrypted: true, KmsKeyId: w.oldKey }));
  const d = await describe1('dflt');
  expect(d.DBSubnetGroup).toBeUndefined();
  const before = d.VpcSecurityGroups!.map((g) => g.VpcSecurityGroupId!);
  const file = path.join(tmp(), 's.json');
  const r = await cli(['--db-instance', 'dflt', '--kms-key', w.newKey, '--cutover', '--state-file', file, '--poll-seconds', '0']);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  const s: RekeyState = JSON.parse(fs.readFileSync(file, 'utf8'));
  expect(s.freeze!.originalSecurityGroupIds).toEqual(before);
  expect((await describe1(`dflt-pre-rekey-${s.runId}`)).VpcSecurityGroups!.map((g) => g.VpcSecurityGroupId)).toEqual([s.freeze!.groupId]);
}, 120_000);

test('a state file edited to name another source is refused before anything is touched', async () => {
  await makeInstance(w, 'ownr');
  await makeInstance(w, 'othr');
  const file = path.join(tmp(), 'ownr.json');
  const real = STEPS.checkCopy;
  STEPS.checkCopy = async () => {
    throw Object.assign(new Error('injected: copy failed'), { name: 'InjectedFailure' });
  };
  try {
    expect((await cli(['--db-instance', 'ownr', '--kms-key', w.newKey, '--cutover', '--state-file', file, '--poll-seconds', '0'])).code).toBe(1);
  } finally {
    STEPS.checkCopy = real;
  }
  const other = path.join(tmp(), 'othr.json');
  fs.writeFileSync(other, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), sourceId: 'othr' }));
  const othrBefore = (await describe1('othr')).VpcSecurityGroups!.map((g) => g.VpcSecurityGroupId!);
  for (const args of [['--cutover'], ['--rollback']]) {
    const r = await cli(['--resume', other, ...args, '--poll-seconds', '0']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/the state document belongs to ownr, not othr/);
  }
  expect((await describe1('othr')).VpcSecurityGroups!.map((g) => g.VpcSecurityGroupId!)).toEqual(othrBefore);
  // The real state file still rolls its own run back (ownr unfrozen).
  expect((await cli(['--resume', file, '--rollback', '--poll-seconds', '0'])).code).toBe(0);
  expect((await describe1('ownr')).VpcSecurityGroups!.map((g) => g.VpcSecurityGroupId!).sort()).toEqual([...w.sg].sort());
}, 120_000);
