/**
 * Bounded execution history, runtime side: the step function hands the workflow's Wait states the
 * back-off (lambda/kms-key-change/workflow.ts nextWaitSeconds). The template side (every Wait takes its
 * pause from the step output; 64 TiB runs fit the 25,000-event history and the execution timeout) is
 * in history.template.test.ts, which synthesizes the stack.
 */
import { handleStep } from '../../lambda/kms-key-change/handler';
import { nextWaitSeconds } from '../../lambda/kms-key-change/workflow';

test('the step function hands the workflow the back-off: 60, 120, 240 ... capped, reset by the next start step', async () => {
  const env2 = { REKEY_KIND: 'instance', REKEY_SOURCE_ID: 'orders', REKEY_TARGET_KEY_ARN: 'k', AWS_REGION: 'us-east-1', REKEY_POLL_SECONDS: '60', REKEY_MAX_POLL_SECONDS: '300' };
  // checkFreeze of a rehearsal is done at once; use the pure back-off on the poll counter instead.
  expect([0, 1, 2, 3, 4, 5].map((n) => nextWaitSeconds(n, 60, 300))).toEqual([60, 120, 240, 300, 300, 300]);
  const state = { version: 1, kind: 'instance', method: 'snapshot', sourceId: 'orders', region: 'us-east-1', kmsKey: 'k', runId: '20261130030405', artifacts: [], warnings: [] } as any;
  const r = await handleStep({ step: 'checkFreeze', state }, env2);
  expect(r).toMatchObject({ done: true, waitSeconds: 60, state: { polls: { step: 'checkFreeze', n: 0 } } });
});
