/**
 * Lambda entry point of the Steps function of the workflow: every step (handler-core.ts has the
 * logic). The read-only checks also have their own entry, poll-handler.ts, on a read-only role.
 */
import { handlerFor, handleStepWith, StepEvent, StepOutput } from './handler-core';
import { STEPS } from './steps';

export { configFromEnv, pollConfig, workflowNext } from './handler-core';
export type { StepEvent, StepOutput } from './handler-core';

export function handleStep(event: StepEvent, env: NodeJS.ProcessEnv = process.env): Promise<StepOutput> {
  return handleStepWith(STEPS, event, env);
}

export const handler = handlerFor(STEPS);
