/**
 * The workflow's Lambda entry (lambda/kms-key-change/handler-core.ts, handler.ts, poll-handler.ts)
 * and the client helpers (clients.ts): the configuration read from the construct's environment and
 * its refusals, the poll back-off settings, what the execution input records, the preflight state
 * built from the configuration, a failed step's error with what exists now and the ways on, the
 * exported handlers, and clients per Region pair. Step tables are injected functions and RDS is
 * aws-sdk-client-mock (no AWS call leaves the process; moto runs the real workflow in
 * test/integration/kms-key-change).
 */
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { call, clientsFor, describeOrUndefined, isNotFound } from '../../lambda/kms-key-change/clients';
import { applyExecutionInput, configFromEnv, handlerFor, handleStepWith, pollConfig } from '../../lambda/kms-key-change/handler-core';
import { handler as pollHandler } from '../../lambda/kms-key-change/poll-handler';
import { RekeyState } from '../../lambda/kms-key-change/state';
import { NEW_KEY, notFound, preflighted } from './fixtures';

const stub = mockClient(RDSClient);
beforeEach(() => {
  stub.reset();
  stub.on(DescribeDBInstancesCommand).rejects(notFound());
});

const ENV = { REKEY_KIND: 'instance', REKEY_SOURCE_ID: 'orders', REKEY_TARGET_KEY_ARN: NEW_KEY, AWS_REGION: 'us-east-1' };
const echo = { verify: async (_c: unknown, s: RekeyState) => ({ state: s, done: true, message: 'ok' }), preflight: async (_c: unknown, s: RekeyState) => ({ state: s, done: true, message: 'pf' }) };

describe('configFromEnv', () => {
  test('every variable the construct sets; defaults for the optional ones', () => {
    expect(configFromEnv({ ...ENV, REKEY_KIND: 'cluster', REKEY_METHOD: 'blue-green', REKEY_TARGET_REGION: 'us-west-2', REKEY_SHARE_WITH_ACCOUNT: '210987654321', REKEY_TARGET_SECURITY_GROUP_IDS: 'sg-1,,sg-2' })).toEqual({
      kind: 'cluster', sourceId: 'orders', kmsKey: NEW_KEY, region: 'us-east-1', method: 'blue-green', targetRegion: 'us-west-2', shareWithAccount: '210987654321', targetSecurityGroupIds: ['sg-1', 'sg-2'],
    });
    expect(configFromEnv({ ...ENV, REKEY_TARGET_REGION: '', REKEY_SHARE_WITH_ACCOUNT: '', REKEY_TARGET_SECURITY_GROUP_IDS: '' })).toEqual({
      kind: 'instance', sourceId: 'orders', kmsKey: NEW_KEY, region: 'us-east-1', method: 'snapshot', targetRegion: undefined, shareWithAccount: undefined, targetSecurityGroupIds: undefined,
    });
  });

  test('a missing or wrong variable is refused by name', () => {
    for (const k of Object.keys(ENV)) {
      const env: Record<string, string> = { ...ENV };
      delete env[k];
      expect(() => configFromEnv(env)).toThrow(`environment variable ${k} is not set (the construct sets it)`);
      expect(() => configFromEnv({ ...env, [k]: '' })).toThrow(`environment variable ${k} is not set (the construct sets it)`);
    }
    expect(() => configFromEnv({ ...ENV, REKEY_KIND: 'proxy' })).toThrow('REKEY_KIND must be instance or cluster, got proxy');
    expect(() => configFromEnv({ ...ENV, REKEY_METHOD: 'dump' })).toThrow('REKEY_METHOD must be snapshot or blue-green, got dump');
  });
});

test('pollConfig: 60 s doubling up to an hour unless the construct says otherwise; nonsense falls back', () => {
  expect(pollConfig({})).toEqual({ initial: 60, max: 3600 });
  expect(pollConfig({ REKEY_POLL_SECONDS: '15', REKEY_MAX_POLL_SECONDS: '120' })).toEqual({ initial: 15, max: 120 });
  for (const bad of ['0', '-5', 'soon', '']) expect(pollConfig({ REKEY_POLL_SECONDS: bad, REKEY_MAX_POLL_SECONDS: bad })).toEqual({ initial: 60, max: 3600 });
  expect(pollConfig({ REKEY_POLL_SECONDS: 'Infinity', REKEY_MAX_POLL_SECONDS: '0.5' })).toEqual({ initial: 60, max: 0.5 });
});

test('applyExecutionInput: only preflight sets cutoverRequested (true only for true); opt-outs recorded once', () => {
  const s = preflighted({ cutoverRequested: true });
  applyExecutionInput(s, 'rollbackRenameNew', { cutover: false, noFreezeWritesAfterSnapshotAreLost: true });
  expect([s.cutoverRequested, s.freezeOptOut, s.rollbackStrandsWrites]).toEqual([true, undefined, undefined]);
  applyExecutionInput(s, 'preflight', undefined);
  expect(s.cutoverRequested).toBe(false);
  applyExecutionInput(s, 'preflight', { cutover: 'yes' as never });
  expect(s.cutoverRequested).toBe(false);
  const t = preflighted({ freezeOptOut: 'earlier', rollbackStrandsWrites: 'earlier' });
  applyExecutionInput(t, 'preflight', { noFreezeWritesAfterSnapshotAreLost: true });
  applyExecutionInput(t, 'rollbackRenameNew', { rollbackWritesSinceCutoverStayInCopy: true });
  expect([t.freezeOptOut, t.rollbackStrandsWrites]).toEqual(['earlier', 'earlier']);
  applyExecutionInput(t, 'checkRollbackNew', { rollbackWritesSinceCutoverStayInCopy: true });
  const u = preflighted();
  applyExecutionInput(u, 'checkRollbackNew', { rollbackWritesSinceCutoverStayInCopy: true });
  expect(u.rollbackStrandsWrites).toBeUndefined();
});

describe('handleStepWith', () => {
  test('preflight without a state starts a new run from the configuration; any other step needs a state', async () => {
    const r = await handleStepWith(echo, { step: 'preflight', input: { cutover: true } }, { ...ENV, REKEY_TARGET_REGION: 'us-west-2', REKEY_TARGET_SECURITY_GROUP_IDS: 'sg-9' });
    expect(r.state).toMatchObject({ version: 1, kind: 'instance', sourceId: 'orders', kmsKey: NEW_KEY, region: 'us-east-1', method: 'snapshot', targetRegion: 'us-west-2', targetSecurityGroupIds: ['sg-9'], cutoverRequested: true, artifacts: [], warnings: [] });
    expect(r.state.runId).toMatch(/^\d{14}$/);
    // A preflight given a state (a redrive) keeps it.
    const again = await handleStepWith(echo, { step: 'preflight', state: preflighted() }, ENV);
    expect(again.state.runId).toBe('20261130030405');
    await expect(handleStepWith(echo, { step: 'verify' }, ENV)).rejects.toThrow('state must be a JSON object');
  });

  test('every configuration mismatch is listed at once', async () => {
    await expect(handleStepWith(echo, { step: 'verify', state: { ...preflighted(), kmsKey: 'alias/x', method: 'blue-green' } }, ENV)).rejects.toThrow(
      `state does not match this function's configuration: kmsKey is "alias/x", configured "${NEW_KEY}"; method is "blue-green", configured "snapshot"`,
    );
    await expect(handleStepWith(echo, { step: 'verify', state: preflighted() }, { ...ENV, REKEY_SHARE_WITH_ACCOUNT: '210987654321' })).rejects.toThrow('shareWithAccount is "", configured "210987654321"');
  });

  test('a failed step: its error, then what exists now and the workflow\'s ways on, on separate lines', async () => {
    const failing = { verify: async () => { throw new Error('boom'); } };
    const e = await handleStepWith(failing, { step: 'verify', state: preflighted() }, ENV).catch((x) => x);
    expect(e.message.split('\n')).toEqual([
      'boom',
      'What exists now (described from AWS): orders: does not exist; orders-pre-rekey-20261130030405: does not exist; orders-rekey-20261130030405: does not exist; snapshot orders-rekey-20261130030405-src: does not exist; snapshot orders-rekey-20261130030405-new: does not exist.',
      'CLIENTS ARE AFFECTED: orders is not the original right now.',
      expect.stringMatching(/^Roll back \(puts the original back under orders\): aws stepfunctions get-execution-history /),
      'or: Fix the cause, then resume from the failed step: aws stepfunctions redrive-execution --execution-arn <execution>',
    ]);
  });

  test('a check not done waits by the back-off from the environment; a start step waits the initial pause', async () => {
    const table = { checkCopy: async (_c: unknown, s: RekeyState) => ({ state: s, done: false, message: 'm' }), copySnapshot: async (_c: unknown, s: RekeyState) => ({ state: s, done: true, message: 'm' }) };
    const env = { ...ENV, REKEY_POLL_SECONDS: '10', REKEY_MAX_POLL_SECONDS: '25' };
    const a = await handleStepWith(table, { step: 'checkCopy', state: preflighted({ polls: { step: 'checkCopy', n: 2 } }) }, env);
    expect([a.state.polls, a.waitSeconds, a.done, a.message]).toEqual([{ step: 'checkCopy', n: 3 }, 25, false, 'm']);
    const b = await handleStepWith(table, { step: 'copySnapshot', state: preflighted({ polls: { step: 'checkCopy', n: 2 } }) }, env);
    expect([b.state.polls, b.waitSeconds]).toEqual([{ step: 'copySnapshot', n: 0 }, 10]);
  });
});

test('handlerFor / the poll handler: results pass through, failures are rethrown unchanged', async () => {
  const ok = handlerFor(echo);
  const saved = { ...process.env };
  Object.assign(process.env, ENV);
  try {
    await expect(ok({ step: 'verify', state: preflighted() })).resolves.toMatchObject({ done: true, message: 'ok', waitSeconds: 60 });
    const boom = new Error('x');
    await expect(handlerFor({ verify: async () => { throw boom; } })({ step: 'verify', state: preflighted() })).rejects.toBe(boom);
    await expect(pollHandler({ step: 'renameSource', state: preflighted() })).rejects.toThrow(/^unknown step "renameSource" for this function; expected one of checkFreeze, /);
    await expect(ok(undefined as never)).rejects.toThrow('unknown step undefined');
  } finally {
    process.env = saved;
  }
});

describe('clients', () => {
  test('one set per Region pair, reused; the target clients are the source ones unless the Region differs', async () => {
    const a = clientsFor('us-east-2');
    expect(clientsFor('us-east-2', 'us-east-2')).toBe(a);
    expect(a.targetRds).toBe(a.rds);
    expect(a.targetKms).toBe(a.kms);
    const b = clientsFor('us-east-2', 'eu-west-1');
    expect(b).not.toBe(a);
    expect(b.targetRds).not.toBe(b.rds);
    expect(b.targetKms).not.toBe(b.kms);
    expect(await Promise.all([b.rds, b.kms, b.targetRds, b.targetKms, b.ec2, b.cw].map((x) => x.config.region()))).toEqual(['us-east-2', 'us-east-2', 'eu-west-1', 'eu-west-1', 'us-east-2', 'us-east-2']);
    expect(clientsFor('us-east-2', 'eu-west-1')).toBe(b);
    expect(clientsFor('eu-west-1', 'us-east-2')).not.toBe(b);
  });

  test('isNotFound / describeOrUndefined: only a *NotFound* error name means "absent"; others are thrown', async () => {
    expect([isNotFound(notFound()), isNotFound(notFound('DBClusterSnapshotNotFoundFault')), isNotFound(new Error('NotFound in message')), isNotFound(undefined), isNotFound({})]).toEqual([true, true, false, false, false]);
    await expect(describeOrUndefined(async () => { throw notFound(); })).resolves.toBeUndefined();
    await expect(describeOrUndefined(async () => 7)).resolves.toBe(7);
    const denied = Object.assign(new Error('no'), { name: 'AccessDenied' });
    await expect(describeOrUndefined(async () => { throw denied; })).rejects.toBe(denied);
  });

  test('call retries throttling 4 times in all, then rethrows', async () => {
    let n = 0;
    const t = Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
    await expect(call(async () => { n++; throw t; })).rejects.toBe(t);
    expect(n).toBe(4);
  }, 20000);
});
