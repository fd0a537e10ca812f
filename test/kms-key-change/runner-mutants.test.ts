/**
 * The CLI's driver (lambda/kms-key-change/runner.ts): the exact phase lists per method and option,
 * where a resume starts, the pauses it takes (capped by maxPollMs; setTimeout observed with a spy so
 * no test depends on wall-clock time), and the StoppedBefore error. RDS is the in-memory fake of
 * ./fake-rds.ts (client mock) with client-mock answers for snapshots, as in runner.test.ts.
 */
import { DescribeDBSnapshotsCommand, RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { phasesFor, resumePoint, rollbackPhases, runPhases, StoppedBefore } from '../../lambda/kms-key-change/runner';
import { LOCK_TAG } from '../../lambda/kms-key-change/workflow';
import { FakeRds } from './fake-rds';
import { ACCOUNT, clients, instance, OLD_KEY, preflighted } from './fixtures';

const stub = mockClient(RDSClient);
const RUN = '20261130030405';

beforeEach(() => {
  stub.reset();
  const rds = new FakeRds(stub);
  process.env.REKEY_LOCK_SETTLE_MS = '0';
  rds.addInstance(instance({ DBInstanceArn: `arn:aws:rds:us-east-1:${ACCOUNT}:db:orders`, KmsKeyId: OLD_KEY, TagList: [{ Key: LOCK_TAG, Value: RUN }, { Key: 'db-ops-kit:rekey-source', Value: 'orders' }] }));
});
afterEach(() => jest.restoreAllMocks());

const names = (p: { name: string; start: string; check?: string }[]) => p.map((x) => `${x.name}:${x.start}${x.check ? `/${x.check}` : ''}`);

test('phase lists: snapshot with and without cutover, blue/green with and without switchover, a share, the rollback', () => {
  expect(names(phasesFor(preflighted(), { cutover: false }))).toEqual([
    'Preflight:preflight', 'FreezeSource:freezeSource/checkFreeze', 'SnapshotSource:createSnapshot/checkSnapshot', 'CopyWithTargetKey:copySnapshot/checkCopy',
    'Restore:restore/checkRestore', 'ApplySettings:applySettings/checkApply', 'Verify:verify', 'Finalize:finalize',
  ]);
  expect(names(phasesFor(preflighted({ method: 'blue-green' }), { cutover: true }))).toEqual(['Preflight:preflight', 'CreateBlueGreen:createBlueGreen/checkBlueGreen', 'Verify:verify', 'Switchover:switchover/checkSwitchover', 'Finalize:finalize']);
  expect(names(phasesFor(preflighted({ method: 'blue-green' }), { cutover: false }))).toEqual(['Preflight:preflight', 'CreateBlueGreen:createBlueGreen/checkBlueGreen', 'Verify:verify', 'Finalize:finalize']);
  expect(names(phasesFor(preflighted({ shareWithAccount: '210987654321' }), { cutover: true })).slice(-2)).toEqual(['ShareSnapshot:shareSnapshot', 'Finalize:finalize']);
  expect(names(rollbackPhases())).toEqual([
    'RollbackMoveNewAside:rollbackRenameNew/checkRollbackNew', 'RollbackRestoreSourceName:rollbackRenameSource/checkRollbackSource', 'RollbackLiftFreeze:rollbackUnfreeze', 'Finalize:finalize',
  ]);
});

test('resumePoint: after preflight the next phase; an unknown step starts over', () => {
  const phases = phasesFor(preflighted(), { cutover: false });
  expect(resumePoint(phases, 'preflight')).toEqual({ index: 1, atCheck: false });
  expect(resumePoint(phases, 'freezeSource')).toEqual({ index: 1, atCheck: true });
  expect(resumePoint(phases, 'verify')).toEqual({ index: 7, atCheck: false });
  expect(resumePoint(phases, 'finalize')).toEqual({ index: 8, atCheck: false });
  expect(resumePoint(phases, 'renameSource')).toEqual({ index: 0, atCheck: false });
});

test('StoppedBefore carries its name, the step and the state', async () => {
  const e = await runPhases(clients(), preflighted({ lastStep: 'checkSnapshot' }), phasesFor(preflighted(), { cutover: false }), { stopBefore: 'copySnapshot' }).catch((x) => x);
  expect([e.name, e.step, e.message, e instanceof StoppedBefore]).toEqual(['StoppedBefore', 'copySnapshot', 'stopped before copySnapshot', true]);
});

test('the pause between polls doubles from pollMs and is capped by maxPollMs (default 10 minutes)', async () => {
  const waits: number[] = [];
  const real = global.setTimeout;
  jest.spyOn(global, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
    waits.push(ms ?? 0);
    return real(fn, 0);
  }) as never);
  const poll = (n: number) => {
    let b = stub.on(DescribeDBSnapshotsCommand);
    for (let i = 0; i < n; i++) b = b.resolvesOnce({ DBSnapshots: [{ Status: 'creating' }] });
    b.resolves({ DBSnapshots: [{ Status: 'available' }] });
  };
  const phases = phasesFor(preflighted(), { cutover: false }).slice(0, 3);
  poll(4);
  await runPhases(clients(), preflighted({ lastStep: 'createSnapshot' }), phases, { pollMs: 100, maxPollMs: 300 });
  expect(waits).toEqual([100, 200, 300, 300]);
  waits.length = 0;
  stub.reset();
  const rds = new FakeRds(stub);
  rds.addInstance(instance({ TagList: [{ Key: LOCK_TAG, Value: RUN }] }));
  poll(2);
  await runPhases(clients(), preflighted({ lastStep: 'createSnapshot' }), phases, { pollMs: 400_000 });
  expect(waits).toEqual([400_000, 600_000]);
  // maxPollMs below pollMs: pollMs wins.
  waits.length = 0;
  stub.reset();
  new FakeRds(stub).addInstance(instance({ TagList: [{ Key: LOCK_TAG, Value: RUN }] }));
  poll(2);
  await runPhases(clients(), preflighted({ lastStep: 'createSnapshot' }), phases, { pollMs: 50, maxPollMs: 10 });
  expect(waits).toEqual([50, 50]);
});
