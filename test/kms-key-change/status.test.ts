/**
 * What an operator reads after a failure (lambda/kms-key-change/status.ts, handler-core.ts): what
 * exists now, described from AWS, and the exact commands that go on from there — for the CLI and for
 * the workflow's failure notification. RDS is the in-memory fake of ./fake-rds.ts (plus client-mock
 * answers for snapshots): the states a failed cutover leaves (original renamed away, the copy under
 * the source's name, a frozen source) are set up directly.
 */
import { DescribeDBClusterSnapshotsCommand, DescribeDBSnapshotsCommand, RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { handleStepWith, workflowNext } from '../../lambda/kms-key-change/handler-core';
import { newState, RekeyError, RekeyState, SUPERSEDED } from '../../lambda/kms-key-change/state';
import { describeRun, nextCommands } from '../../lambda/kms-key-change/status';
import { FakeRds } from './fake-rds';
import { ACCOUNT, clients, cluster, instance, NEW_KEY, notFound, OLD_KEY } from './fixtures';

const stub = mockClient(RDSClient);
let rds: FakeRds;
const RUN = '20261130030405';
const PRE = `orders-pre-rekey-${RUN}`;
const NEWID = `orders-rekey-${RUN}`;
const inst = (id: string, key: string, over = {}) => instance({ DBInstanceIdentifier: id, DBInstanceArn: `arn:aws:rds:us-east-1:${ACCOUNT}:db:${id}`, KmsKeyId: key, ...over });

function run(over: Partial<RekeyState> = {}): RekeyState {
  const s = newState({ kind: 'instance', sourceId: 'orders', kmsKey: NEW_KEY, region: 'us-east-1', now: new Date('2026-11-30T03:04:05Z') });
  return { ...s, targetKeyArn: NEW_KEY, sourceKeyArn: OLD_KEY, names: { sourceSnapshot: `${NEWID}-src`, copySnapshot: `${NEWID}-new`, newId: NEWID }, ...over };
}

beforeEach(() => {
  stub.reset();
  rds = new FakeRds(stub);
  stub.on(DescribeDBSnapshotsCommand).rejects(notFound('DBSnapshotNotFoundFault'));
  stub.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: `${NEWID}-src` }).resolves({ DBSnapshots: [{ Status: 'available' }] });
});

describe('describeRun', () => {
  test('before cutover: the original under its name, frozen; the copy; the snapshots', async () => {
    rds.addInstance(inst('orders', OLD_KEY, { VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-freeze', Status: 'active' }] }));
    rds.addInstance(inst(NEWID, NEW_KEY, { DBInstanceStatus: 'creating' }));
    const st = await describeRun(clients(), run({ freeze: { groupId: 'sg-freeze', originalSecurityGroupIds: ['sg-1'] } }));
    expect(st).toEqual({
      lines: [
        `orders: exists, available, source key ${OLD_KEY}, FROZEN (only the kit's no-ingress group sg-freeze)`,
        `${PRE}: does not exist`,
        `${NEWID}: exists, creating, target key ${NEW_KEY}, security groups sg-2, sg-1`,
        `snapshot ${NEWID}-src: available`,
        `snapshot ${NEWID}-new: does not exist`,
      ],
      sourceNameAffected: false,
      renamed: false,
    });
  });

  test('half-way through a cutover: the original renamed away, nothing under the name — clients are affected', async () => {
    rds.addInstance(inst(PRE, OLD_KEY, { VpcSecurityGroups: [] }));
    rds.addInstance(inst(NEWID, 'arn:aws:kms:us-east-1:123456789012:key/other', { StorageEncrypted: true }));
    const st = await describeRun(clients(), run({ names: { sourceSnapshot: 'a', newId: NEWID, preRekeyId: PRE } }));
    expect(st.lines.slice(0, 3)).toEqual([
      'orders: does not exist',
      `${PRE}: exists, available, source key ${OLD_KEY}, security groups (none)`,
      `${NEWID}: exists, available, key arn:aws:kms:us-east-1:123456789012:key/other, security groups sg-2, sg-1`,
    ]);
    expect(st).toMatchObject({ sourceNameAffected: true, renamed: true });
  });

  test('the copy under the source\'s name is affected too; an unencrypted database says so; the same key on both sides is not "affected"', async () => {
    rds.addInstance(inst('orders', NEW_KEY));
    expect(await describeRun(clients(), run())).toMatchObject({ sourceNameAffected: true, renamed: false });
    expect((await describeRun(clients(), run({ sourceKeyArn: NEW_KEY }))).sourceNameAffected).toBe(false);
    expect((await describeRun(clients(), run({ targetKeyArn: undefined }))).sourceNameAffected).toBe(false);
    rds.instances.get('orders')!.StorageEncrypted = false;
    expect((await describeRun(clients(), run())).lines[0]).toBe('orders: exists, available, unencrypted, security groups sg-2, sg-1');
  });

  test('cross-Region: no -pre-rekey- line, the copy is described in the target Region; Aurora snapshots by cluster snapshot', async () => {
    // The fixture's clients share one RDS mock for both Regions; which client is used is not visible here.
    rds.addInstance(inst('orders', OLD_KEY));
    const st = await describeRun(clients(), run({ targetRegion: 'us-west-2' }));
    expect(st.lines.map((l) => l.split(':')[0])).toEqual(['orders', NEWID, `snapshot ${NEWID}-src`, `snapshot ${NEWID}-new`]);
    rds.addCluster(cluster({ DBSubnetGroup: undefined }));
    stub.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [{ Status: 'creating' }] });
    const cl = { ...newState({ kind: 'cluster', sourceId: 'ledger', kmsKey: NEW_KEY, region: 'us-east-1', now: new Date('2026-11-30T03:04:05Z') }), names: { sourceSnapshot: 'ledger-src', newId: 'ledger' } };
    expect((await describeRun(clients(), cl)).lines).toEqual([`ledger: exists, available, key ${OLD_KEY}, security groups sg-1`, `ledger-pre-rekey-${RUN}: does not exist`, 'snapshot ledger-src: creating']);
  });

  test('never throws: a describe error becomes a line, and the operator is told clients may be affected', async () => {
    stub.reset();
    stub.onAnyCommand().rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }));
    expect(await describeRun(clients(), run())).toEqual({ lines: ['(could not describe every resource: AccessDenied: not authorized)'], sourceNameAffected: true, renamed: true });
  });
});

describe('next commands', () => {
  const affected = { lines: [], sourceNameAffected: true, renamed: false };
  const fine = { lines: [], sourceNameAffected: false, renamed: false };

  test('CLI, clients affected: roll back or finish the cutover (the resume keeps --cutover)', () => {
    expect(nextCommands(run({ cutoverRequested: true }), affected, 'out/kms-change/s.json')).toEqual([
      'CLIENTS ARE AFFECTED: orders is not the original right now.',
      'Put the original back under orders: npm run kms-change -- --resume out/kms-change/s.json --rollback',
      'or finish the cutover once the cause is fixed: npm run kms-change -- --resume out/kms-change/s.json --cutover',
    ]);
    expect(nextCommands(run(), { ...fine, renamed: true }, 's.json')[0]).toBe('CLIENTS ARE AFFECTED: orders is not the original right now.');
  });

  test('CLI, the original in place: continue or abort; a frozen source says so and what the abort lifts', () => {
    expect(nextCommands(run(), fine, 's.json')).toEqual([
      'orders is still the original.',
      'Continue once the cause is fixed: npm run kms-change -- --resume s.json',
      'or abort (releases the lock); every copy is kept: npm run kms-change -- --resume s.json --rollback',
    ]);
    const frozen = run({ freeze: { groupId: 'sg-freeze', originalSecurityGroupIds: [] } });
    expect(nextCommands(frozen, fine, 's.json')).toEqual([
      'orders is still the original, FROZEN (clients blocked by sg-freeze).',
      'Continue once the cause is fixed: npm run kms-change -- --resume s.json',
      'or abort (puts the original security groups back, releases the lock); every copy is kept: npm run kms-change -- --resume s.json --rollback',
    ]);
    expect(nextCommands({ ...frozen, freeze: { ...frozen.freeze!, released: { at: 'T', on: 'orders' } } }, fine, 's.json')[0]).toBe('orders is still the original.');
  });

  test('workflow: redrive or roll back with the last state; FROZEN named while the freeze is on', () => {
    const w = workflowNext(run(), affected);
    expect(w[0]).toBe('CLIENTS ARE AFFECTED: orders is not the original right now.');
    expect(w[1]).toMatch(/^Roll back \(puts the original back under orders\): aws stepfunctions get-execution-history .*jq '\{rollback: true, state: \.state\}' > rollback\.json; aws stepfunctions start-execution --state-machine-arn <state machine> --input file:\/\/rollback\.json$/);
    expect(w[2]).toBe('or: Fix the cause, then resume from the failed step: aws stepfunctions redrive-execution --execution-arn <execution>');
    const f = workflowNext(run({ freeze: { groupId: 'sg-freeze', originalSecurityGroupIds: [] } }), fine);
    expect(f[0]).toBe('orders is still the original, FROZEN (clients blocked by sg-freeze).');
    expect(f[1]).toBe('Fix the cause, then resume from the failed step: aws stepfunctions redrive-execution --execution-arn <execution>');
    expect(f[2]).toMatch(/^or abort \(lifts the freeze, releases the lock, keeps every copy\): aws stepfunctions get-execution-history/);
    expect(workflowNext(run({ freeze: { groupId: 'g', originalSecurityGroupIds: [], released: { at: 'T', on: 'orders' } } }), fine)[0]).toBe('orders is still the original.');
  });
});

describe('handleStepWith: a failed step carries what exists now and the ways on', () => {
  const env = { REKEY_KIND: 'instance', REKEY_SOURCE_ID: 'orders', REKEY_TARGET_KEY_ARN: NEW_KEY, AWS_REGION: 'us-east-1' };

  test('the error names the step\'s own message, then AWS\'s view, then the workflow commands', async () => {
    rds.addInstance(inst('orders', OLD_KEY));
    const failing = { renameSource: async () => { throw new RekeyError('renameSource', 'orders', 'boom', 'do x'); } };
    const e = await handleStepWith(failing, { step: 'renameSource', state: run() }, env).catch((x) => x);
    expect(e.message.split('\n')).toEqual([
      '[renameSource] orders: boom. Next: do x',
      `What exists now (described from AWS): orders: exists, available, source key ${OLD_KEY}, security groups sg-2, sg-1; ${PRE}: does not exist; ${NEWID}: does not exist; snapshot ${NEWID}-src: available; snapshot ${NEWID}-new: does not exist.`,
      'orders is still the original.',
      'Fix the cause, then resume from the failed step: aws stepfunctions redrive-execution --execution-arn <execution>',
      expect.stringMatching(/^or abort/),
    ]);
  });

  test('a refusal because a later run cut over (SupersededByLaterRun) keeps only its own next step', async () => {
    rds.addInstance(inst('orders', OLD_KEY));
    const failing = { rollbackRenameNew: async () => { throw new RekeyError('rollbackRenameNew', 'orders', 'later run', 'roll back the latest run instead', SUPERSEDED); } };
    const e = await handleStepWith(failing, { step: 'rollbackRenameNew', state: run() }, env).catch((x) => x);
    expect(e.message.split('\n')).toHaveLength(2);
    expect(e.message).toMatch(/^\[rollbackRenameNew\] orders: later run\. Next: roll back the latest run instead\nWhat exists now \(described from AWS\): orders: exists/);
  });

  test('the first approval of a run is recorded with its approver; a later one does not replace it', async () => {
    const echo = { verify: async (_c: unknown, s: RekeyState) => ({ state: s, done: true, message: 'ok' }) };
    const a = await handleStepWith(echo, { step: 'verify', state: run(), approval: { approver: 'alice' } } as never, env);
    expect(a.state.approvedBy).toEqual({ approver: 'alice', at: expect.stringMatching(/^\d{4}-/) });
    const b = await handleStepWith(echo, { step: 'verify', state: a.state, approval: { approver: 'mallory' } } as never, env);
    expect(b.state.approvedBy?.approver).toBe('alice');
    const c = await handleStepWith(echo, { step: 'verify', state: run(), approval: {} } as never, env);
    expect(c.state.approvedBy).toBeUndefined();
  });

  test('the poll counter: a check not done counts up per step and sets the back-off; done or a start step resets it', async () => {
    let done = false;
    const table = {
      checkCopy: async (_c: unknown, s: RekeyState) => ({ state: s, done, message: 'm' }),
      copySnapshot: async (_c: unknown, s: RekeyState) => ({ state: s, done: true, message: 'm' }),
    };
    const e2 = { ...env, REKEY_POLL_SECONDS: '60', REKEY_MAX_POLL_SECONDS: '600' };
    const a = await handleStepWith(table, { step: 'checkCopy', state: run() }, e2);
    expect([a.state.polls, a.waitSeconds]).toEqual([{ step: 'checkCopy', n: 1 }, 60]);
    const b = await handleStepWith(table, { step: 'checkCopy', state: a.state }, e2);
    expect([b.state.polls, b.waitSeconds]).toEqual([{ step: 'checkCopy', n: 2 }, 120]);
    const other = await handleStepWith(table, { step: 'checkCopy', state: { ...b.state, polls: { step: 'checkSnapshot', n: 5 } } }, e2);
    expect(other.state.polls).toEqual({ step: 'checkCopy', n: 1 });
    done = true;
    const c = await handleStepWith(table, { step: 'checkCopy', state: b.state }, e2);
    expect([c.state.polls, c.waitSeconds]).toEqual([{ step: 'checkCopy', n: 0 }, 60]);
    const d = await handleStepWith(table, { step: 'copySnapshot', state: b.state }, e2);
    expect([d.state.polls, d.waitSeconds]).toEqual([{ step: 'copySnapshot', n: 0 }, 60]);
  });

  test('refusals: an unknown step lists the known ones; a state for another destination or share account is refused', async () => {
    const table = { verify: async (_c: unknown, s: RekeyState) => ({ state: s, done: true, message: 'ok' }) };
    await expect(handleStepWith(table, undefined as never, env)).rejects.toThrow('unknown step undefined for this function; expected one of verify');
    await expect(handleStepWith(table, { step: 'finalize', state: run() }, env)).rejects.toThrow('unknown step "finalize" for this function; expected one of verify');
    await expect(handleStepWith(table, { step: 'verify', state: { ...run(), shareWithAccount: '210987654321' } }, env)).rejects.toThrow(
      'state does not match this function\'s configuration: shareWithAccount is "210987654321", configured ""',
    );
    await expect(handleStepWith(table, { step: 'verify', state: run() }, { ...env, REKEY_TARGET_REGION: 'us-east-1' })).resolves.toMatchObject({ done: true });
    await expect(handleStepWith(table, { step: 'verify', state: run() }, { ...env, REKEY_TARGET_REGION: 'us-west-2' })).rejects.toThrow('targetRegion is "", configured "us-west-2"');
    await expect(handleStepWith(table, { step: 'verify', state: run({ method: 'blue-green' }) }, env)).rejects.toThrow('method is "blue-green", configured "snapshot"');
    await expect(handleStepWith(table, { step: 'verify', state: { ...run(), region: 'eu-west-1' } }, env)).rejects.toThrow('region is "eu-west-1", configured "us-east-1"');
    await expect(handleStepWith(table, { step: 'verify', state: { ...run(), kind: 'cluster' } }, env)).rejects.toThrow('state is for cluster orders, this function is configured for instance orders');
  });
});
