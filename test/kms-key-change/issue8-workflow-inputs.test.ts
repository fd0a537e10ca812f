/**
 * Issue 8: the workflow's equivalents of the CLI's --no-freeze and --writes-since-cutover-stay-in-copy
 * are explicit execution-input fields named after what the operator gives up; they are recorded in the
 * run state (with the time) and in finalize's report, and the rollback's first task receives the
 * execution input (template: issue8-workflow-inputs.template.test.ts, which synthesizes the stack).
 */
import { applyExecutionInput } from '../../lambda/kms-key-change/handler-core';
import { newState } from '../../lambda/kms-key-change/state';
import { finalize } from '../../lambda/kms-key-change/steps';

const fresh = () => newState({ kind: 'instance', sourceId: 'orders', kmsKey: 'k', region: 'us-east-1', now: new Date('2026-11-30T03:04:05Z') });
const at = new Date('2026-12-01T01:00:00Z');

test('noFreezeWritesAfterSnapshotAreLost at preflight records the opt-out and what it gives up; without it nothing is given up', () => {
  const s = fresh();
  applyExecutionInput(s, 'preflight', { cutover: true, noFreezeWritesAfterSnapshotAreLost: true }, at);
  expect(s.cutoverRequested).toBe(true);
  expect(s.freezeOptOut).toBe('execution input noFreezeWritesAfterSnapshotAreLost at 2026-12-01T01:00:00.000Z: the kit did not block clients or check connections; writes that reached orders after the final snapshot are not in the new instance');
  const plain = fresh();
  applyExecutionInput(plain, 'preflight', { cutover: true }, at);
  expect(plain.freezeOptOut).toBeUndefined();
  // Anything but literal true is no opt-out, and a later step cannot add it.
  const truthy = fresh();
  applyExecutionInput(truthy, 'preflight', { cutover: true, noFreezeWritesAfterSnapshotAreLost: 'yes' as never }, at);
  applyExecutionInput(truthy, 'createSnapshot', { noFreezeWritesAfterSnapshotAreLost: true }, at);
  expect(truthy.freezeOptOut).toBeUndefined();
});

test('rollbackWritesSinceCutoverStayInCopy is taken only by the first rollback step and recorded', () => {
  const s = fresh();
  applyExecutionInput(s, 'rollbackRenameSource', { rollbackWritesSinceCutoverStayInCopy: true }, at);
  expect(s.rollbackStrandsWrites).toBeUndefined();
  applyExecutionInput(s, 'rollbackRenameNew', { rollbackWritesSinceCutoverStayInCopy: true }, at);
  expect(s.rollbackStrandsWrites).toBe('execution input rollbackWritesSinceCutoverStayInCopy at 2026-12-01T01:00:00.000Z: writes clients made to the re-keyed copy under orders stay only in the copy');
  const without = fresh();
  applyExecutionInput(without, 'rollbackRenameNew', { rollback: true } as never, at);
  expect(without.rollbackStrandsWrites).toBeUndefined();
});

test('finalize reports what was given up', async () => {
  const s = { ...fresh(), account: '123456789012', freezeOptOut: 'execution input noFreezeWritesAfterSnapshotAreLost at T: x', rollbackStrandsWrites: 'execution input rollbackWritesSinceCutoverStayInCopy at T: y' };
  // No artifacts and no lock to release: finalize sends nothing that needs a client beyond describe calls.
  const r = await finalize({ rds: { send: async () => ({ DBInstances: [] }) } } as never, s);
  expect(r.message).toContain('NO ENFORCED WRITE FREEZE (execution input noFreezeWritesAfterSnapshotAreLost at T: x)');
  expect(r.message).toContain('rollback confirmed although writes stay in the copy (execution input rollbackWritesSinceCutoverStayInCopy at T: y)');
});
