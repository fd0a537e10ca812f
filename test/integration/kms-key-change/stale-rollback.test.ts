/**
 * A completed run leaves its kept original (`<id>-pre-rekey-<run 1>`) and the database under `<id>`
 * carrying the run tag `db-ops-kit:rekey-source=<id>`, so the Steps role (scoped by that tag) and the
 * CLI can still write to both. A LATER run for the same source then cuts over again; resuming the
 * FIRST run's state file with --rollback afterwards must not touch the later run's database under
 * `<id>` nor rename the first run's (much older) original onto `<id>` (moto).
 */
import { DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import * as fs from 'fs';
import * as path from 'path';
import { RekeyState } from '../../../lambda/kms-key-change/state';
import { makeInstance, runCli, useMotoWorld, useTempDir, World } from './moto-fixtures';

let w: World;
useMotoWorld((world) => (w = world));
const tmp = useTempDir('rekey-stale-');
const describe1 = async (id: string) => (await w.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0];

test('--rollback of an earlier completed run after a later run cut over the same source refuses and changes nothing', async () => {
  await makeInstance(w, 'twice');
  const f1 = path.join(tmp(), 'r1.json');
  const f2 = path.join(tmp(), 'r2.json');
  expect((await runCli(['--db-instance', 'twice', '--kms-key', w.newKey, '--cutover', '--state-file', f1, '--poll-seconds', '0'])).code).toBe(0);
  const s1: RekeyState = JSON.parse(fs.readFileSync(f1, 'utf8'));
  await new Promise((r) => setTimeout(r, 1100)); // run ids are start times to the second
  // The second run (back to the old key) re-keys what now answers to `twice`: run 1's copy.
  expect((await runCli(['--db-instance', 'twice', '--kms-key', w.oldKey, '--cutover', '--state-file', f2, '--poll-seconds', '0'])).code).toBe(0);
  const s2: RekeyState = JSON.parse(fs.readFileSync(f2, 'utf8'));
  expect(s2.runId).not.toBe(s1.runId);
  const before = await describe1('twice');
  const keptOriginal = await describe1(`twice-pre-rekey-${s1.runId}`);
  const r = await runCli(['--resume', f1, '--rollback', '--writes-since-cutover-stay-in-copy', '--poll-seconds', '0']);
  expect(r.code).not.toBe(0);
  expect(r.err).toMatch(new RegExp(`twice is no longer run ${s1.runId}'s re-keyed instance`));
  // The way on is the later run's rollback, not this run's (which would refuse again) nor its --cutover.
  expect(r.err).toContain(`out/kms-change/rekey-twice-${s2.runId}.json`);
  expect(r.err).not.toMatch(/CLIENTS ARE AFFECTED/);
  expect(r.err).not.toContain(`--resume ${f1} --cutover`);
  // Nothing moved: `twice` is still run 2's database with its groups, run 1's original keeps its name.
  const after = await describe1('twice');
  expect(after.DbiResourceId).toBe(before.DbiResourceId);
  expect(after.VpcSecurityGroups).toEqual(before.VpcSecurityGroups);
  expect((await describe1(`twice-pre-rekey-${s1.runId}`)).DbiResourceId).toBe(keptOriginal.DbiResourceId);
}, 90_000);
