/**
 * Issue 8 / DESIGN.md Lifecycle: "a role that only polls cannot write". The workflow's read-only checks
 * (workflow.ts POLL_STEPS) run on their own function (poll-handler.ts) with their own role; derived
 * from the synthesized template and from the staged bundle (test/kit/code-actions.ts via functionCalls),
 * not from a hand list of actions.
 *
 * This file: the runtime side. The template side (which function each task invokes, the Poll role and
 * bundle allow/call no write) is in issue8-poll-role.template.test.ts, which synthesizes the stacks.
 */
import { POLL_STEP_FNS } from '../../lambda/kms-key-change/checks';
import { handlePoll } from '../../lambda/kms-key-change/poll-handler';
import { newState } from '../../lambda/kms-key-change/state';
import { POLL_STEPS } from '../../lambda/kms-key-change/workflow';

test('the step table of the poll function is exactly workflow.ts POLL_STEPS (what the construct routes there)', () => {
  expect(Object.keys(POLL_STEP_FNS).sort()).toEqual([...POLL_STEPS].sort());
});

test('the poll entry refuses any step that is not a read-only check (a start step sent to it does nothing)', async () => {
  const env = { REKEY_KIND: 'instance', REKEY_SOURCE_ID: 'orders', REKEY_TARGET_KEY_ARN: 'k', AWS_REGION: 'us-east-1' };
  const state = newState({ kind: 'instance', sourceId: 'orders', kmsKey: 'k', region: 'us-east-1' });
  for (const step of ['restore', 'renameSource', 'freezeSource', 'checkRestore', 'checkRollbackSource', 'finalize'] as const) {
    await expect(handlePoll({ step, state }, env)).rejects.toThrow(/unknown step .* for this function/);
  }
});
