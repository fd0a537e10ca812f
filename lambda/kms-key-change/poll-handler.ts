/**
 * Lambda entry point of the workflow's Poll function: only the read-only check steps (checks.ts).
 * Its bundle holds no AWS write (the module graph is checks.ts, freeze-read.ts, step-base.ts, ...),
 * and the construct gives it a role with only Describe/List/Get permissions: a role that only polls
 * cannot write (DESIGN.md, Lifecycle). Any other step is refused.
 */
import { POLL_STEP_FNS } from './checks';
import { handlerFor, handleStepWith, StepEvent, StepOutput } from './handler-core';

export function handlePoll(event: StepEvent, env: NodeJS.ProcessEnv = process.env): Promise<StepOutput> {
  return handleStepWith(POLL_STEP_FNS, event, env);
}

export const handler = handlerFor(POLL_STEP_FNS);
