/**
 * Run-lock details the StrykerJS run of 2026-12-01 found untested (survivors of lock.test.ts and
 * lock-cluster.test.ts): the settle pause actually waited (from the option or REKEY_LOCK_SETTLE_MS),
 * its parsing, run ids that only look like one, describe/tag answers without lists, and a run tag
 * re-assertion before preflight fixed any names (DescribeDBInstances without an identifier lists
 * every instance of the account, so an empty name must never reach it). aws-sdk-client-mock, as in
 * lock.test.ts.
 */
import { AddTagsToResourceCommand, DescribeDBInstancesCommand, ListTagsForResourceCommand, RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { acquireLock, lockSettleMs, reassertRunTag, releaseLock, runStartedAt } from '../../lambda/kms-key-change/lock';
import { newState, RekeyState } from '../../lambda/kms-key-change/state';
import { LOCK_TAG, RUN_SOURCE_TAG } from '../../lambda/kms-key-change/workflow';
import { ACCOUNT, clients, instance, NEW_KEY, notFound } from './fixtures';

const rds = mockClient(RDSClient);
const RUN = '20261130030405';
const arn = (id: string) => `arn:aws:rds:us-east-1:${ACCOUNT}:db:${id}`;
const run = (over: Partial<RekeyState> = {}): RekeyState => ({ ...newState({ kind: 'instance', sourceId: 'orders', kmsKey: NEW_KEY, region: 'us-east-1', now: new Date('2026-11-30T03:04:05Z') }), ...over });

beforeEach(() => {
  rds.reset();
  process.env.REKEY_LOCK_SETTLE_MS = '0';
  // As RDS does: without an identifier, DescribeDBInstances lists every instance of the account.
  rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance({ DBInstanceIdentifier: 'someone-elses', DBInstanceArn: arn('someone-elses') })] });
  rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders' }).resolves({ DBInstances: [instance()] });
  rds.on(AddTagsToResourceCommand).resolves({});
});
afterAll(() => {
  process.env.REKEY_LOCK_SETTLE_MS = '0';
});

test('lockSettleMs: a whole number of milliseconds >= 0 from REKEY_LOCK_SETTLE_MS; empty, negative or infinite means the 5 s default', () => {
  expect(lockSettleMs({ REKEY_LOCK_SETTLE_MS: '250' })).toBe(250);
  expect(lockSettleMs({ REKEY_LOCK_SETTLE_MS: '' })).toBe(5000);
  expect(lockSettleMs({ REKEY_LOCK_SETTLE_MS: '-1' })).toBe(5000);
  expect(lockSettleMs({ REKEY_LOCK_SETTLE_MS: 'Infinity' })).toBe(5000);
});

test('runStartedAt reads only a 14-digit run id', () => {
  expect(runStartedAt('x20261130030405')).toBe('x20261130030405');
  expect(runStartedAt('20261130030405x')).toBe('20261130030405x');
  expect(runStartedAt('2026113003040')).toBe('2026113003040');
});

test('the settle pause is waited before the read-back: the option, else REKEY_LOCK_SETTLE_MS; none at 0', async () => {
  // Free on the first read, ours on the read-back.
  const freeThenOurs = () => {
    let n = 0;
    rds.on(ListTagsForResourceCommand).callsFake(async () => (n++ === 0 ? { TagList: [] } : { TagList: [{ Key: LOCK_TAG, Value: RUN }] }));
  };
  freeThenOurs();
  let t0 = Date.now();
  await acquireLock(clients(), run(), { settleMs: 120 });
  expect(Date.now() - t0).toBeGreaterThanOrEqual(110);
  process.env.REKEY_LOCK_SETTLE_MS = '150';
  freeThenOurs();
  t0 = Date.now();
  await acquireLock(clients(), run());
  expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  // An explicit 0 is no pause, whatever the environment says.
  freeThenOurs();
  process.env.REKEY_LOCK_SETTLE_MS = '2000';
  t0 = Date.now();
  await acquireLock(clients(), run(), { settleMs: 0 });
  expect(Date.now() - t0).toBeLessThan(1500);
});

test('a resource without tags (no TagList in the answer) is free: it gets the lock and the run tag', async () => {
  rds.on(ListTagsForResourceCommand).resolvesOnce({}).resolves({ TagList: [{ Key: LOCK_TAG, Value: RUN }] });
  expect(await acquireLock(clients(), run(), { settleMs: 0 })).toEqual(['orders']);
  expect(rds.commandCalls(AddTagsToResourceCommand).map((c) => c.args[0].input)).toEqual([{ ResourceName: arn('orders'), Tags: [{ Key: LOCK_TAG, Value: RUN }, { Key: RUN_SOURCE_TAG, Value: 'orders' }] }]);
});

test('a describe answer without instances is "does not exist": no tag call is made for it', async () => {
  rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders' }).resolves({});
  rds.on(ListTagsForResourceCommand).rejects(Object.assign(new Error('ResourceName is required'), { name: 'InvalidParameterValue' }));
  expect(await releaseLock(clients(), run())).toEqual([]);
  expect(rds.commandCalls(ListTagsForResourceCommand)).toHaveLength(0);
  await expect(acquireLock(clients(), run(), { settleMs: 0 })).rejects.toThrow('[lock] orders: none of orders exists in us-east-1');
  rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders' }).rejects(notFound());
  expect(await releaseLock(clients(), run())).toEqual([]);
});

test('reassertRunTag before preflight named anything: only the source is looked at, never an unnamed describe (which would list other databases)', async () => {
  rds.on(ListTagsForResourceCommand, { ResourceName: arn('orders') }).resolves({ TagList: [{ Key: LOCK_TAG, Value: RUN }] });
  rds.on(ListTagsForResourceCommand, { ResourceName: arn('someone-elses') }).resolves({ TagList: [{ Key: LOCK_TAG, Value: RUN }] });
  expect(await reassertRunTag(clients(), run({ names: undefined }))).toEqual(['orders']);
  expect(rds.commandCalls(DescribeDBInstancesCommand).map((c) => c.args[0].input.DBInstanceIdentifier)).toEqual(['orders']);
  expect(rds.commandCalls(AddTagsToResourceCommand).map((c) => c.args[0].input.ResourceName)).toEqual([arn('orders')]);
  // Names without a copy yet (cross-Region run): still only real names.
  rds.resetHistory();
  await reassertRunTag(clients(), run({ names: { sourceSnapshot: 'x', newId: 'orders-rekey-1' } }));
  expect(rds.commandCalls(DescribeDBInstancesCommand).map((c) => c.args[0].input.DBInstanceIdentifier)).toEqual(['orders', 'orders-rekey-1']);
});
