/**
 * The CLI's driver (lambda/kms-key-change/runner.ts) and verify (verify.ts) on the paths a real run
 * meets: polling a check until done with the back-off, giving up after maxPolls, a stop injected
 * before a step, a resume that re-runs a not-clean verify, a rollback's lock check; verify after a
 * finished cutover, of an unencrypted source, and of Aurora members. RDS is the in-memory fake of
 * ./fake-rds.ts (client mock): moto cannot hold a snapshot in `creating` or a database in the
 * states between two renames.
 */
import { CreateBlueGreenDeploymentCommand, DescribeDBSnapshotsCommand, ListTagsForResourceCommand, RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { phasesFor, rollbackPhases, runPhases, StoppedBefore } from '../../lambda/kms-key-change/runner';
import { captureCluster, captureInstance } from '../../lambda/kms-key-change/settings';
import { newState, RekeyState } from '../../lambda/kms-key-change/state';
import * as steps from '../../lambda/kms-key-change/steps';
import { LOCK_TAG } from '../../lambda/kms-key-change/workflow';
import { FakeRds } from './fake-rds';
import { ACCOUNT, clients, cluster, instance, member, NEW_KEY, OLD_KEY } from './fixtures';

const stub = mockClient(RDSClient);
let rds: FakeRds;
const RUN = '20261130030405';
const NEWID = `orders-rekey-${RUN}`;
const inst = (id: string, key: string, over = {}) => instance({ DBInstanceIdentifier: id, DBInstanceArn: `arn:aws:rds:us-east-1:${ACCOUNT}:db:${id}`, KmsKeyId: key, ...over });

function preflighted(over: Partial<RekeyState> = {}): RekeyState {
  const s = newState({ kind: 'instance', sourceId: 'orders', kmsKey: NEW_KEY, region: 'us-east-1', now: new Date('2026-11-30T03:04:05Z') });
  return {
    ...s,
    account: ACCOUNT,
    targetKeyArn: NEW_KEY,
    sourceKeyArn: OLD_KEY,
    lastStep: 'preflight',
    source: { kind: 'instance', instance: captureInstance(instance()) },
    names: { sourceSnapshot: `${NEWID}-src`, copySnapshot: `${NEWID}-new`, newId: NEWID },
    ...over,
  };
}

beforeEach(() => {
  stub.reset();
  rds = new FakeRds(stub);
  process.env.REKEY_LOCK_SETTLE_MS = '0';
  rds.addInstance(inst('orders', OLD_KEY, { TagList: [{ Key: LOCK_TAG, Value: RUN }, { Key: 'db-ops-kit:rekey-source', Value: 'orders' }] }));
});

describe('runPhases', () => {
  test('a resume at a start step\'s check polls it until done, saving and reporting every step, with no pause at pollMs 0', async () => {
    stub.on(DescribeDBSnapshotsCommand).resolvesOnce({ DBSnapshots: [{ Status: 'creating', PercentProgress: 10 }] }).resolvesOnce({ DBSnapshots: [{ Status: 'creating', PercentProgress: 60 }] }).resolves({ DBSnapshots: [{ Status: 'available' }] });
    const seen: string[] = [];
    const saved: string[] = [];
    const phases = phasesFor(preflighted(), { cutover: false }).slice(0, 3); // Preflight, FreezeSource, SnapshotSource
    const s = await runPhases(clients(), preflighted({ lastStep: 'createSnapshot' }), phases, { pollMs: 0, onStep: (n, r) => seen.push(`${n} ${r.done}`), save: (x) => void saved.push(x.lastStep!) });
    expect(seen).toEqual(['checkSnapshot false', 'checkSnapshot false', 'checkSnapshot true']);
    expect(saved).toEqual(['createSnapshot', 'createSnapshot', 'checkSnapshot']);
    expect(s.lastStep).toBe('checkSnapshot');
    expect(s.progress).toEqual({ step: 'checkSnapshot', percent: undefined, status: 'available' });
  });

  test('gives up after maxPolls with the check named and the way on', async () => {
    stub.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: 'creating' }] });
    const phases = phasesFor(preflighted(), { cutover: false }).slice(0, 3);
    await expect(runPhases(clients(), preflighted({ lastStep: 'createSnapshot' }), phases, { pollMs: 0, maxPolls: 3 })).rejects.toThrow('checkSnapshot still not done after 3 polls; resume later with the state file');
    expect(stub.commandCalls(DescribeDBSnapshotsCommand)).toHaveLength(3);
  });

  test('pauses between polls by the back-off (pollMs, doubling)', async () => {
    stub.on(DescribeDBSnapshotsCommand).resolvesOnce({ DBSnapshots: [{ Status: 'creating' }] }).resolvesOnce({ DBSnapshots: [{ Status: 'creating' }] }).resolves({ DBSnapshots: [{ Status: 'available' }] });
    const phases = phasesFor(preflighted(), { cutover: false }).slice(0, 3);
    const t0 = Date.now();
    await runPhases(clients(), preflighted({ lastStep: 'createSnapshot' }), phases, { pollMs: 40, maxPollMs: 1000 });
    // 40 ms, then 80 ms.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(115);
  });

  test('stopBefore stops before that step with the state so far (tests inject a crash here)', async () => {
    const e = await runPhases(clients(), preflighted({ lastStep: 'checkSnapshot' }), phasesFor(preflighted(), { cutover: false }), { stopBefore: 'copySnapshot' }).catch((x) => x);
    expect(e).toBeInstanceOf(StoppedBefore);
    expect(e.message).toBe('stopped before copySnapshot');
    expect(e.state.lastStep).toBe('checkSnapshot');
  });

  test('a resume first confirms the run lock: another run\'s lock refuses before any step', async () => {
    rds.instances.get('orders')!.TagList = [{ Key: LOCK_TAG, Value: '20261129000000' }];
    await expect(runPhases(clients(), preflighted({ lastStep: 'checkSnapshot' }), phasesFor(preflighted(), { cutover: false }), { pollMs: 0 })).rejects.toMatchObject({ name: 'PreflightFailed', message: expect.stringContaining('RUN_IN_PROGRESS') });
    expect(stub.calls().filter((c) => !/^(Describe|List)/.test(c.args[0].constructor.name))).toEqual([]);
  });

  test('cutover phases mark the run as asking for cutover; a not-clean verify is run again on resume and stops before cutover', async () => {
    rds.addInstance(inst(NEWID, NEW_KEY, { BackupRetentionPeriod: 1, PerformanceInsightsKMSKeyId: NEW_KEY }));
    const phases = phasesFor(preflighted(), { cutover: true });
    const s = await runPhases(clients(), preflighted({ lastStep: 'verify', parityClean: false }), phases, { pollMs: 0 });
    expect(s.cutoverRequested).toBe(true);
    expect(s.lastStep).toBe('verify');
    expect(s.parityClean).toBe(false);
    expect(s.parity!.filter((l) => l.result === 'differs').map((l) => l.setting)).toEqual(['backupRetentionPeriod']);
    expect(rds.renames()).toEqual([]);
    // Not for a rehearsal (no cutover phases): the flag stays off.
    const r = await runPhases(clients(), preflighted({ lastStep: 'verify', parityClean: false }), phasesFor(preflighted(), { cutover: false }), { pollMs: 0 });
    expect(r.cutoverRequested).toBeUndefined();
  });

  test('the rollback phases end with finalize; a finished run resumed has nothing left to do', async () => {
    expect(rollbackPhases().map((p) => p.start)).toEqual(['rollbackRenameNew', 'rollbackRenameSource', 'rollbackUnfreeze', 'finalize']);
    const s = await runPhases(clients(), preflighted({ lastStep: 'finalize' }), phasesFor(preflighted(), { cutover: false }), { pollMs: 0 });
    expect(s.lastStep).toBe('finalize');
    expect(stub.commandCalls(ListTagsForResourceCommand)).toHaveLength(0);
  });
});

describe('verify', () => {
  test('after a finished cutover the database under the source\'s name is compared (not the -rekey- name)', async () => {
    rds.instances.clear();
    rds.addInstance(inst('orders', NEW_KEY, { PerformanceInsightsKMSKeyId: NEW_KEY }));
    const r = await steps.verify(clients(), preflighted({ cutover: { at: 'T', sourceRenamedTo: 'x', memberRenames: [], done: true } }));
    expect(r.message).toMatch(new RegExp(`^orders is encrypted with ${NEW_KEY}; parity clean \\(\\d+ settings\\)$`));
    // ... but after a rollback, the copy under its -rekey- name again.
    rds.addInstance(inst(NEWID, NEW_KEY, { PerformanceInsightsKMSKeyId: NEW_KEY }));
    rds.instances.get('orders')!.BackupRetentionPeriod = 1;
    const after = await steps.verify(clients(), preflighted({ cutover: { at: 'T', sourceRenamedTo: 'x', memberRenames: [] }, rolledBack: { at: 'T', done: true } }));
    expect(after.message).toMatch(new RegExp(`^${NEWID} is encrypted`));
  });

  test('an unencrypted source: encrypted false → true on the target key is the intended difference; on another key it is not clean', async () => {
    const src = { kind: 'instance' as const, instance: captureInstance(instance({ StorageEncrypted: false, KmsKeyId: undefined, PerformanceInsightsKMSKeyId: undefined, PerformanceInsightsEnabled: false })) };
    rds.addInstance(inst(NEWID, NEW_KEY, { PerformanceInsightsKMSKeyId: undefined, PerformanceInsightsEnabled: false }));
    const r = await steps.verify(clients(), preflighted({ source: src, sourceKeyArn: undefined }));
    expect(r.state.parityClean).toBe(true);
    expect(r.state.parity![0]).toEqual({ setting: 'encryption key', source: 'unencrypted', target: NEW_KEY, result: 'expected' });
    expect(r.state.parity!.find((l) => l.setting === 'encrypted')).toMatchObject({ source: false, target: true, result: 'expected' });
    rds.instances.get(NEWID)!.KmsKeyId = 'arn:aws:kms:us-east-1:123456789012:key/other';
    const bad = await steps.verify(clients(), preflighted({ source: src, sourceKeyArn: undefined }));
    expect(bad.state.parityClean).toBe(false);
    expect(bad.state.parity!.filter((l) => l.result === 'differs').map((l) => l.setting)).toEqual(['encryption key', 'encrypted']);
    rds.instances.get(NEWID)!.StorageEncrypted = false;
    const none = await steps.verify(clients(), preflighted({ source: src, sourceKeyArn: undefined }));
    expect(none.state.parity![0]).toEqual({ setting: 'encryption key', source: 'unencrypted', target: 'unencrypted', result: 'differs' });
  });

  test('Aurora: members compared by the run\'s member names; a member whose PI stayed on the old key is not clean', async () => {
    const s = { ...preflighted(), kind: 'cluster' as const, sourceId: 'ledger', source: { kind: 'cluster' as const, cluster: captureCluster(cluster(), [member('ledger-1'), member('ledger-2')]) }, names: { sourceSnapshot: 'x', newId: `ledger-rekey-${RUN}`, memberIds: { 'ledger-1': `ledger-1-rekey-${RUN}`, 'ledger-2': `ledger-2-rekey-${RUN}` } } };
    rds.addCluster(cluster({ DBClusterIdentifier: `ledger-rekey-${RUN}`, KmsKeyId: NEW_KEY, DBClusterMembers: [{ DBInstanceIdentifier: `ledger-1-rekey-${RUN}`, IsClusterWriter: true, PromotionTier: 0 }, { DBInstanceIdentifier: `ledger-2-rekey-${RUN}`, IsClusterWriter: false, PromotionTier: 1 }, { DBInstanceIdentifier: 'gone' }] }));
    rds.addInstance(member(`ledger-1-rekey-${RUN}`, { DBClusterIdentifier: `ledger-rekey-${RUN}`, PerformanceInsightsKMSKeyId: NEW_KEY }));
    rds.addInstance(member(`ledger-2-rekey-${RUN}`, { DBClusterIdentifier: `ledger-rekey-${RUN}`, PerformanceInsightsKMSKeyId: OLD_KEY }));
    const r = await steps.verify(clients(), s);
    expect(r.state.parityClean).toBe(false);
    expect(r.state.parity!.filter((l) => l.result === 'differs')).toEqual([{ setting: `ledger-2-rekey-${RUN}: Performance Insights key`, source: NEW_KEY, target: OLD_KEY, result: 'differs' }]);
    expect(r.message).toBe(`ledger-rekey-${RUN}: parity NOT clean: ledger-2-rekey-${RUN}: Performance Insights key`);
  });

  test('the new resource missing: an error saying to resume from the restore step', async () => {
    await expect(steps.verify(clients(), preflighted())).rejects.toThrow(`[verify] ${NEWID}: new instance not found. Next: resume the run from the restore step`);
    const cl = { ...preflighted(), kind: 'cluster' as const, sourceId: 'ledger', source: { kind: 'cluster' as const, cluster: captureCluster(cluster(), []) }, names: { sourceSnapshot: 'x', newId: 'ledger-new' } };
    await expect(steps.verify(clients(), cl)).rejects.toThrow('[verify] ledger-new: new cluster not found. Next: resume the run from the restore step');
  });

  test('blue/green: createBlueGreen names the deployment (source id cut to 40), deployment id required, replicas given by ARN kept', async () => {
    stub.on(CreateBlueGreenDeploymentCommand).resolves({ BlueGreenDeployment: { BlueGreenDeploymentIdentifier: 'bgd-9' } });
    const long = 'a'.repeat(50);
    const s = { ...preflighted({ method: 'blue-green' }), sourceId: long };
    const r = await steps.createBlueGreen(clients(), s);
    const input = stub.commandCalls(CreateBlueGreenDeploymentCommand)[0].args[0].input;
    expect(input.BlueGreenDeploymentName).toBe(`${'a'.repeat(40)}-rekey-${RUN}`);
    expect(input.Tags).toEqual([{ Key: 'db-ops-kit:rekey-run', Value: RUN }, { Key: 'db-ops-kit:rekey-source', Value: long }, { Key: 'db-ops-kit:rekey-role', Value: 'blue-green-deployment' }]);
    expect(r.state.artifacts).toEqual([{ type: 'blue-green-deployment', id: 'bgd-9', region: 'us-east-1', role: `${'a'.repeat(40)}-rekey-${RUN}: green environment on the target key` }]);
    expect(r.message).toBe('blue/green deployment bgd-9');
    stub.on(CreateBlueGreenDeploymentCommand).resolves({ BlueGreenDeployment: {} });
    await expect(steps.createBlueGreen(clients(), preflighted({ method: 'blue-green' }))).rejects.toThrow('[createBlueGreen] blue/green deployment id: missing from the state document');
    const arnReplica = { kind: 'instance' as const, instance: captureInstance(instance({ ReadReplicaDBInstanceIdentifiers: ['arn:aws:rds:us-east-1:123456789012:db:ro'] })) };
    stub.on(CreateBlueGreenDeploymentCommand).resolves({ BlueGreenDeployment: { BlueGreenDeploymentIdentifier: 'bgd-10' } });
    await steps.createBlueGreen(clients(), preflighted({ method: 'blue-green', source: arnReplica }));
    expect(stub.commandCalls(CreateBlueGreenDeploymentCommand).at(-1)!.args[0].input.TargetResourceConfigurations![1]).toEqual({ SourceArn: 'arn:aws:rds:us-east-1:123456789012:db:ro', TargetKmsKeyId: NEW_KEY });
  });
});
