/**
 * The snapshot method end to end against moto (python3 -m moto.server): a DB instance and an
 * Aurora cluster with two instances, each with a custom parameter group, security groups, tags and
 * Performance Insights. Asserts the new key, a clean parity report, cutover keeping the original
 * identifier, rollback restoring it, the source unchanged, and nothing deleted. Then a failure is
 * injected after every step's side effect (before its state is saved, the worst moment for a
 * crash): the source stays intact and resuming from the last saved state finishes the run.
 */
import { DescribeDBClusterSnapshotsCommand, DescribeDBInstancesCommand, DescribeDBSnapshotsCommand, DescribeDBClustersCommand } from '@aws-sdk/client-rds';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../../lambda/kms-key-change/cli';
import { clientsFor } from '../../../lambda/kms-key-change/clients';
import { phasesFor, rollbackPhases, runPhases } from '../../../lambda/kms-key-change/runner';
import { newState, RekeyState } from '../../../lambda/kms-key-change/state';
import { STEPS } from '../../../lambda/kms-key-change/steps';
import type { StepName } from '../../../lambda/kms-key-change/workflow';
import { DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import { CapturedSettings } from '../../../lambda/kms-key-change/settings';
import { makeCluster, makeInstance, settingsOf, withoutIdentity, useMotoWorld, World } from './moto-fixtures';

/** The source's settings with the write freeze in place: the kit's group instead of its own. */
function frozen(before: CapturedSettings, groupId: string): unknown {
  return { ...(withoutIdentity(before) as object), securityGroupIds: [groupId] };
}

let w: World;
useMotoWorld((world) => (w = world));

const c = () => clientsFor('us-east-1');
let seq = 0;
/** Distinct run ids per run: names contain the run id. */
const now = () => new Date(Date.UTC(2026, 10, 30, 3, 0, seq++));

async function instanceKey(id: string): Promise<string | undefined> {
  return (await w.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0].KmsKeyId;
}
async function exists(kind: 'instance' | 'cluster', id: string): Promise<boolean> {
  try {
    if (kind === 'instance') await w.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
    else await w.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }));
    return true;
  } catch {
    return false;
  }
}

test('DB instance: re-key, parity clean, cutover keeps the identifier, rollback restores it, nothing deleted', async () => {
  await makeInstance(w, 'orders');
  const before = await settingsOf(w, 'instance', 'orders');
  let s = newState({ kind: 'instance', sourceId: 'orders', kmsKey: w.newKey, region: 'us-east-1', now: now() });
  s = await runPhases(c(), s, phasesFor(s, { cutover: true }), { pollMs: 0 });

  expect(s.parityClean).toBe(true);
  expect(s.parity!.filter((l) => l.result === 'differs')).toEqual([]);
  expect(s.parity!.find((l) => l.setting === 'parameterGroup')).toMatchObject({ source: 'orders-pg17', target: 'orders-pg17', result: 'same' });
  expect(s.parity!.find((l) => l.setting === 'securityGroupIds')?.result).toBe('same');
  expect(s.parity!.find((l) => l.setting === 'tags')?.result).toBe('same');
  expect(s.parity!.find((l) => l.setting === 'performanceInsightsRetention')?.result).toBe('same');
  expect(s.parity!.find((l) => l.setting === 'performanceInsightsKmsKeyId')).toMatchObject({ source: w.oldKey, target: w.newKey, result: 'expected' });
  // Cutover: the original identifier now serves the re-keyed instance; the source is kept, renamed.
  expect(await instanceKey('orders')).toBe(w.newKey);
  const renamed = s.cutover!.sourceRenamedTo;
  expect(renamed).toMatch(/^orders-pre-rekey-\d{14}$/);
  expect(await instanceKey(renamed)).toBe(w.oldKey);
  // The original is kept, with every setting, and still frozen: only the kit's no-ingress group.
  expect(s.freeze).toMatchObject({ vpcId: w.vpcId });
  expect([...s.freeze!.originalSecurityGroupIds].sort()).toEqual([...w.sg].sort());
  expect(withoutIdentity(await settingsOf(w, 'instance', renamed))).toEqual(frozen(before, s.freeze!.groupId!));
  expect((await w.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [s.freeze!.groupId!] }))).SecurityGroups![0].IpPermissions).toEqual([]);
  const snaps = (await w.rds.send(new DescribeDBSnapshotsCommand({}))).DBSnapshots!.map((x) => [x.DBSnapshotIdentifier, x.KmsKeyId]);
  expect(snaps).toEqual(expect.arrayContaining([[s.names!.sourceSnapshot, w.oldKey], [s.names!.copySnapshot, w.newKey]]));
  // The kept-resources list uses current names: the re-keyed instance now answers to "orders".
  expect(s.artifacts.map((a) => [a.type, a.id])).toEqual([
    ['db-snapshot', s.names!.sourceSnapshot],
    ['db-snapshot', s.names!.copySnapshot],
    ['db-instance', 'orders'],
    ['db-instance', renamed],
  ]);

  // Rollback: the original is back under its name, the re-keyed copy kept under the run's name.
  s = await runPhases(c(), { ...s, lastStep: undefined }, rollbackPhases(), { pollMs: 0 });
  expect(s.rolledBack?.done).toBe(true);
  expect(await instanceKey('orders')).toBe(w.oldKey);
  expect(await instanceKey(s.names!.newId)).toBe(w.newKey);
  expect(await exists('instance', renamed)).toBe(false);
  expect(withoutIdentity(await settingsOf(w, 'instance', 'orders'))).toEqual(withoutIdentity(before));
  expect(s.artifacts.map((a) => [a.type, a.id])).toEqual([
    ['db-snapshot', s.names!.sourceSnapshot],
    ['db-snapshot', s.names!.copySnapshot],
    ['db-instance', s.names!.newId],
  ]);
});

test('Aurora cluster with two instances: restore with the key, writer + reader, cutover and rollback', async () => {
  await makeCluster(w, 'ledger');
  const before = await settingsOf(w, 'cluster', 'ledger');
  let s = newState({ kind: 'cluster', sourceId: 'ledger', kmsKey: w.newKey, region: 'us-east-1', now: now() });
  s = await runPhases(c(), s, phasesFor(s, { cutover: true }), { pollMs: 0 });
  expect(s.parity!.filter((l) => l.result === 'differs')).toEqual([]);
  expect(s.parityClean).toBe(true);
  expect(s.names!.copySnapshot).toBeUndefined();
  // Writer, promotion tiers, classes and member settings were compared by verify (parity clean).
  expect(s.parity!.find((l) => l.setting === 'member ledger-1: writer')).toMatchObject({ source: true, target: true });
  expect(s.parity!.find((l) => l.setting === 'member ledger-2: promotionTier')).toMatchObject({ source: 1, target: 1, result: 'same' });
  const cl = (await w.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'ledger' }))).DBClusters![0];
  expect(cl.KmsKeyId).toBe(w.newKey);
  expect(cl.DBClusterParameterGroup).toBe('ledger-apg16');
  const renamed = s.cutover!.sourceRenamedTo;
  expect(renamed).toBe(`ledger-pre-rekey-${s.runId}`);
  const old = (await w.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: renamed }))).DBClusters![0];
  expect(old.KmsKeyId).toBe(w.oldKey);
  // moto links members to clusters by name and does not follow a cluster rename, so DBClusterMembers
  // is not trustworthy after cutover there; the member instances themselves are: the original names
  // now carry the new key's Performance Insights, the -pre-rekey- names the old one.
  const piKey = async (id: string) => (await w.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0].PerformanceInsightsKMSKeyId;
  expect([await piKey('ledger-1'), await piKey('ledger-2')]).toEqual([w.newKey, w.newKey]);
  expect(s.cutover!.memberRenames.map((m) => m.to)).toEqual([`ledger-1-pre-rekey-${s.runId}`, `ledger-2-pre-rekey-${s.runId}`]);
  for (const m of s.cutover!.memberRenames) expect(await piKey(m.to)).toBe(w.oldKey);
  const snap = (await w.rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: s.names!.sourceSnapshot }))).DBClusterSnapshots![0];
  expect(snap.KmsKeyId).toBe(w.oldKey);

  s = await runPhases(c(), { ...s, lastStep: undefined }, rollbackPhases(), { pollMs: 0 });
  const back = (await w.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'ledger' }))).DBClusters![0];
  expect(back.KmsKeyId).toBe(w.oldKey);
  expect((await w.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: s.names!.newId }))).DBClusters![0].KmsKeyId).toBe(w.newKey);
  expect([await piKey('ledger-1'), await piKey('ledger-2')]).toEqual([w.oldKey, w.oldKey]);
  expect(await piKey(s.names!.memberIds!['ledger-1'])).toBe(w.newKey);
  // The source cluster's own settings (members compared above; see the moto note).
  const { members: _m, ...beforeCluster } = withoutIdentity(before) as Record<string, unknown>;
  const { members: _n, ...afterCluster } = withoutIdentity(await settingsOf(w, 'cluster', 'ledger')) as Record<string, unknown>;
  expect(afterCluster).toEqual(beforeCluster);
});

describe('a failure injected after each step leaves the source intact and the run resumable', () => {
  const phases = phasesFor(newState({ kind: 'instance', sourceId: 'x', kmsKey: 'k', region: 'us-east-1' }), { cutover: true });
  const stepNames = [...new Set(phases.flatMap((p) => [p.start, ...(p.check ? [p.check] : [])]))] as StepName[];

  test.each(stepNames)('crash after %s', async (step) => {
    const id = `inj-${step.toLowerCase().slice(0, 20)}`;
    await makeInstance(w, id);
    const before = withoutIdentity(await settingsOf(w, 'instance', id));
    let saved: RekeyState | undefined;
    const save = (x: RekeyState) => {
      saved = JSON.parse(JSON.stringify(x));
    };
    const real = STEPS[step];
    STEPS[step] = async (cl, st) => {
      await real(cl, st); // the side effect happens ...
      throw Object.assign(new Error(`injected crash after ${step}`), { name: 'InjectedCrash' }); // ... but its state is never saved
    };
    let s = newState({ kind: 'instance', sourceId: id, kmsKey: w.newKey, region: 'us-east-1', now: now() });
    try {
      await expect(runPhases(c(), s, phasesFor(s, { cutover: true }), { pollMs: 0, save })).rejects.toThrow(`injected crash after ${step}`);
    } finally {
      STEPS[step] = real;
    }
    // Before cutover the source is untouched; during cutover it is renamed, never changed or deleted.
    const renamedTo = `${id}-pre-rekey-${s.runId}`;
    const sourceNow = (await exists('instance', id)) && (await instanceKey(id)) === w.oldKey ? id : renamedTo;
    expect(await instanceKey(sourceNow)).toBe(w.oldKey);
    // Unchanged but for the freeze (from freezeSource on, the kit's group replaces its own).
    const current = withoutIdentity(await settingsOf(w, 'instance', sourceNow)) as { securityGroupIds: string[] };
    expect(current).toEqual(current.securityGroupIds.length === 1 ? { ...(before as object), securityGroupIds: current.securityGroupIds } : before);
    // preflight only reads; from freezeSource on, the kit's group is the only one.
    expect(current.securityGroupIds.length).toBe(step === 'preflight' ? 2 : 1);

    s = await runPhases(c(), saved ?? s, phasesFor(s, { cutover: true }), { pollMs: 0, save });
    expect(s.parityClean).toBe(true);
    expect(s.cutover?.done).toBe(true);
    // The source's own groups are known even when the crash lost the state saved after the swap (the freeze group's tag).
    expect([...s.freeze!.originalSecurityGroupIds].sort()).toEqual([...w.sg].sort());
    expect(await instanceKey(id)).toBe(w.newKey);
    expect(await instanceKey(s.cutover!.sourceRenamedTo)).toBe(w.oldKey);
    // Exactly one snapshot and one copy: the resumed step reused what the crashed one created.
    const all = (await w.rds.send(new DescribeDBSnapshotsCommand({}))).DBSnapshots!.filter((x) => x.DBSnapshotIdentifier!.startsWith(`${id}-rekey-`));
    expect(all.map((x) => x.DBSnapshotIdentifier).sort()).toEqual([s.names!.copySnapshot, s.names!.sourceSnapshot].sort());
  });
});

describe('Aurora: a crash after the member and rename steps resumes to a finished cutover', () => {
  test.each(['checkRestore', 'applySettings', 'renameSource', 'checkRenameSource', 'renameTarget'] as StepName[])('crash after %s', async (step) => {
    const id = `cl-${step.toLowerCase().slice(0, 16)}`;
    await makeCluster(w, id);
    let saved: RekeyState | undefined;
    const save = (x: RekeyState) => {
      saved = JSON.parse(JSON.stringify(x));
    };
    const real = STEPS[step];
    STEPS[step] = async (cl, st) => {
      await real(cl, st);
      throw Object.assign(new Error(`injected crash after ${step}`), { name: 'InjectedCrash' });
    };
    const s0 = newState({ kind: 'cluster', sourceId: id, kmsKey: w.newKey, region: 'us-east-1', now: now() });
    try {
      await expect(runPhases(c(), s0, phasesFor(s0, { cutover: true }), { pollMs: 0, save })).rejects.toThrow('injected crash');
    } finally {
      STEPS[step] = real;
    }
    const s = await runPhases(c(), saved!, phasesFor(s0, { cutover: true }), { pollMs: 0, save });
    expect(s.cutover?.done).toBe(true);
    const key = async (cid: string) => (await w.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: cid }))).DBClusters![0].KmsKeyId;
    expect(await key(id)).toBe(w.newKey);
    expect(await key(`${id}-pre-rekey-${s0.runId}`)).toBe(w.oldKey);
    // Exactly the two new members were created, once each.
    const created = s.artifacts.filter((a) => a.type === 'db-instance' && a.role.startsWith('member of the new cluster')).map((a) => a.id);
    expect(created.sort()).toEqual([`${id}-1`, `${id}-2`]);
  });
});

test('CLI: dry run changes nothing; run, --resume --cutover and --rollback drive the same steps', async () => {
  await makeInstance(w, 'cli-orders');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-cli-'));
  const file = path.join(dir, 'state.json');
  const cli = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  try {
    const dry = await cli(['--db-instance', 'cli-orders', '--kms-key', w.newKey, '--dry-run', '--region', 'us-east-1']);
    expect(dry.code).toBe(0);
    expect(dry.out).toMatch(/API calls, in order:\n {2}1\. rds:CreateDBSnapshot cli-orders-rekey-\d{14}-src/);
    expect(dry.out).toMatch(/Estimated downtime:\n {2}- snapshot: ~\d+ min/);
    expect(fs.existsSync(file)).toBe(false);
    expect((await w.rds.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: 'cli-orders', SnapshotType: 'manual' }))).DBSnapshots ?? []).toEqual([]);

    const run = await cli(['--db-instance', 'cli-orders', '--kms-key', w.newKey, '--state-file', file, '--poll-seconds', '0']);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/verify +cli-orders-rekey-\d{14} is encrypted with .*; parity clean/);
    expect(run.out).toMatch(/createSnapshot +creating snapshot cli-orders-rekey-\d{14}-src \(rehearsal: writes to the source after this point will not be in the copy\)/);
    expect(run.out).toContain('To switch over: stop writes, then start a new run with --cutover (fresh snapshot)');
    expect(run.out).toContain(`--resume ${file} --cutover --writes-stopped-since-snapshot only if no writes reached cli-orders since that snapshot`);
    expect(await instanceKey('cli-orders')).toBe(w.oldKey);

    // The rehearsal copy is hours old on a real run: cutting over to it would drop every write since.
    const stale = await cli(['--resume', file, '--cutover', '--poll-seconds', '0']);
    expect(stale.code).toBe(2);
    expect(stale.err).toMatch(/snapshot was taken at .* without --cutover \(a rehearsal\): the copy lacks every write made to cli-orders since then/);
    expect(await instanceKey('cli-orders')).toBe(w.oldKey);

    const cut = await cli(['--resume', file, '--cutover', '--writes-stopped-since-snapshot', '--poll-seconds', '0']);
    expect(cut.code).toBe(0);
    expect(cut.out).toMatch(/warning: operator confirmed at .* that no writes reached cli-orders since the snapshot of /);
    expect(cut.out).toMatch(/cutover: done; original renamed to cli-orders-pre-rekey-\d{14}/);
    expect(await instanceKey('cli-orders')).toBe(w.newKey);

    const back = await cli(['--resume', file, '--rollback', '--poll-seconds', '0']);
    expect(back.code).toBe(0);
    expect(back.out).toMatch(/rollback: done; cli-orders is the original again/);
    expect(await instanceKey('cli-orders')).toBe(w.oldKey);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
