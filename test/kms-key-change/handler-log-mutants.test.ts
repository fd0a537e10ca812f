/**
 * The structured log line of every workflow step (lambda/kms-key-change/handler-core.ts): one JSON
 * object per step with the step, its result and the back-off, for CloudWatch Logs Insights queries.
 * The step table is an injected function; no AWS. stdout is captured (Powertools writes there).
 */
import { handleStepWith } from '../../lambda/kms-key-change/handler-core';
import { RekeyState } from '../../lambda/kms-key-change/state';
import { NEW_KEY, preflighted } from './fixtures';

test('a step logs {message: "step", service, step, done, result, sourceId, runId, progress, waitSeconds}', async () => {
  const saved = process.env.POWERTOOLS_LOG_LEVEL;
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
  const lines: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: string) => {
    lines.push(String(chunk));
    return true;
  }) as never);
  try {
    const table = { checkCopy: async (_c: unknown, s: RekeyState) => ({ state: { ...s, progress: { step: 'checkCopy', percent: 40 } }, done: false, message: 'copying 40%' }) };
    await handleStepWith(table, { step: 'checkCopy', state: preflighted() }, { REKEY_KIND: 'instance', REKEY_SOURCE_ID: 'orders', REKEY_TARGET_KEY_ARN: NEW_KEY, AWS_REGION: 'us-east-1', REKEY_POLL_SECONDS: '30' });
  } finally {
    spy.mockRestore();
    process.env.POWERTOOLS_LOG_LEVEL = saved;
  }
  const logs = lines.join('').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  expect(logs).toEqual([
    expect.objectContaining({
      level: 'INFO',
      message: 'step',
      service: 'kms-key-change',
      step: 'checkCopy',
      done: false,
      result: 'copying 40%',
      sourceId: 'orders',
      runId: '20261130030405',
      progress: { step: 'checkCopy', percent: 40 },
      waitSeconds: 30,
    }),
  ]);
});
