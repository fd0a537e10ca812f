/**
 * The workflow's Lambda entry logic, for a given step table: `{ step, state }` in, `{ state, done,
 * message }` out. The database, the key and the method come from the function's environment (set by
 * the construct from stack props), so an execution cannot point it at another database. handler.ts
 * (every step, the Steps role) and poll-handler.ts (only the read-only checks, the Poll role) wrap it.
 */
import { clientsFor } from './clients';
import { createLogger } from '../shared/logger';
import { assertState, Method, newState, RekeyState, SourceKind, SUPERSEDED } from './state';
import { describeRun, RunStatus } from './status';
import type { StepFn, StepResult } from './step-base';
import { nextWaitSeconds, type StepName } from './workflow';

let cachedLogger: ReturnType<typeof createLogger> | undefined;
/** Created on first use, so POWERTOOLS_LOG_LEVEL set by a CLI or test after import still applies. */
const logger = () => (cachedLogger ??= createLogger('kms-key-change'));

export interface StepEvent {
  readonly step: StepName;
  readonly state?: RekeyState;
  /** Execution input, for the preflight step: `{ "cutover": true }` to go on to the approval gate. */
  readonly input?: ExecutionInput;
  /** The approval gate's answer, passed to the first cutover step when the construct names an approver. */
  readonly approval?: { approved?: boolean; approver?: string };
}

/**
 * What an execution's input may ask for (preflight and the first rollback step receive it).
 * The two opt-outs are named after what the operator gives up; each is recorded in the run state
 * with the time, and reported by finalize.
 */
export interface ExecutionInput {
  /** Go on to the approval gate and the cutover. */
  readonly cutover?: boolean;
  /** The workflow's `--no-freeze`: no kit-enforced write freeze; writes after the final snapshot are lost to the new database. */
  readonly noFreezeWritesAfterSnapshotAreLost?: boolean;
  /** Roll back even though clients used the re-keyed copy under the original name; their writes stay only in the copy. */
  readonly rollbackWritesSinceCutoverStayInCopy?: boolean;
}

/** Records the execution input's explicit opt-outs in the state (pure; the handler calls it). */
export function applyExecutionInput(state: RekeyState, step: string, input: ExecutionInput | undefined, now = new Date()): void {
  if (step === 'preflight') {
    state.cutoverRequested = input?.cutover === true;
    if (input?.noFreezeWritesAfterSnapshotAreLost === true && !state.freezeOptOut) {
      state.freezeOptOut = `execution input noFreezeWritesAfterSnapshotAreLost at ${now.toISOString()}: the kit did not block clients or check connections; writes that reached ${state.sourceId} after the final snapshot are not in the new ${state.kind}`;
    }
  }
  if (step === 'rollbackRenameNew' && input?.rollbackWritesSinceCutoverStayInCopy === true && !state.rollbackStrandsWrites) {
    state.rollbackStrandsWrites = `execution input rollbackWritesSinceCutoverStayInCopy at ${now.toISOString()}: writes clients made to the re-keyed copy under ${state.sourceId} stay only in the copy`;
  }
}

export interface StepOutput extends StepResult {
  /** Seconds the workflow's next Wait state pauses (back-off, see workflow.ts nextWaitSeconds). */
  readonly waitSeconds?: number;
}

/** Initial and maximum pause between checks, from the construct's environment. */
export function pollConfig(env: NodeJS.ProcessEnv = process.env): { initial: number; max: number } {
  const initial = Number(env.REKEY_POLL_SECONDS || 60);
  const max = Number(env.REKEY_MAX_POLL_SECONDS || 3600);
  return { initial: Number.isFinite(initial) && initial > 0 ? initial : 60, max: Number.isFinite(max) && max > 0 ? max : 3600 };
}

/** The run configuration the construct puts in the environment. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): {
  kind: SourceKind;
  sourceId: string;
  kmsKey: string;
  region: string;
  method: Method;
  targetRegion?: string;
  shareWithAccount?: string;
  targetSecurityGroupIds?: string[];
} {
  const need = (k: string) => {
    const v = env[k];
    if (!v) throw new Error(`environment variable ${k} is not set (the construct sets it)`);
    return v;
  };
  const kind = need('REKEY_KIND');
  if (kind !== 'instance' && kind !== 'cluster') throw new Error(`REKEY_KIND must be instance or cluster, got ${kind}`);
  const method = env.REKEY_METHOD ?? 'snapshot';
  if (method !== 'snapshot' && method !== 'blue-green') throw new Error(`REKEY_METHOD must be snapshot or blue-green, got ${method}`);
  return {
    kind,
    sourceId: need('REKEY_SOURCE_ID'),
    kmsKey: need('REKEY_TARGET_KEY_ARN'),
    region: need('AWS_REGION'),
    method,
    targetRegion: env.REKEY_TARGET_REGION || undefined,
    shareWithAccount: env.REKEY_SHARE_WITH_ACCOUNT || undefined,
    targetSecurityGroupIds: env.REKEY_TARGET_SECURITY_GROUP_IDS ? env.REKEY_TARGET_SECURITY_GROUP_IDS.split(',').filter(Boolean) : undefined,
  };
}

export async function handleStepWith(STEPS: Partial<Record<StepName, StepFn>>, event: StepEvent, env: NodeJS.ProcessEnv = process.env): Promise<StepOutput> {
  if (!event || typeof event.step !== 'string' || !(event.step in STEPS)) {
    throw new Error(`unknown step ${JSON.stringify(event?.step)} for this function; expected one of ${Object.keys(STEPS).join(', ')}`);
  }
  let state: RekeyState;
  const cfg = configFromEnv(env);
  if (event.step === 'preflight') {
    state = event.state ? assertState(event.state) : newState(cfg);
  } else {
    state = assertState(event.state);
  }
  applyExecutionInput(state, event.step, event.input);
  // The database, key, method and destination come from the construct's configuration, never from
  // the payload: a state document for anything else is refused.
  if (state.sourceId !== cfg.sourceId || state.kind !== cfg.kind) {
    throw new Error(`state is for ${state.kind} ${state.sourceId}, this function is configured for ${cfg.kind} ${cfg.sourceId}`);
  }
  const mismatch = (
    [
      ['kmsKey', state.kmsKey, cfg.kmsKey],
      ['method', state.method, cfg.method],
      ['region', state.region, cfg.region],
      ['targetRegion', state.targetRegion ?? '', cfg.targetRegion && cfg.targetRegion !== cfg.region ? cfg.targetRegion : ''],
      ['shareWithAccount', state.shareWithAccount ?? '', cfg.shareWithAccount ?? ''],
    ] as const
  ).filter(([, a, b]) => a !== b);
  if (mismatch.length > 0) {
    throw new Error(`state does not match this function's configuration: ${mismatch.map(([k, a, b]) => `${k} is ${JSON.stringify(a)}, configured ${JSON.stringify(b)}`).join('; ')}`);
  }
  if (event.approval?.approver && !state.approvedBy) state.approvedBy = { approver: event.approval.approver, at: new Date().toISOString() };
  const clients = clientsFor(state.region, state.targetRegion);
  let r: StepOutput;
  try {
    r = await STEPS[event.step]!(clients, JSON.parse(JSON.stringify(state)));
  } catch (e) {
    // The failure notification (EventBridge → SNS) carries this error as `cause`: say what exists
    // now, described from AWS, and the commands that go on from here.
    const err = e as Error;
    const st = await describeRun(clients, state);
    err.message = `${err.message}\nWhat exists now (described from AWS): ${st.lines.join('; ')}.${err.name === SUPERSEDED ? '' : `\n${workflowNext(state, st).join('\n')}`}`;
    throw err;
  }
  // Back-off: a start step begins its phase's count at 0; every check not yet done adds one.
  const isCheck = /^check/.test(event.step);
  const n = isCheck && !r.done ? (r.state.polls?.step === event.step ? r.state.polls.n + 1 : 1) : 0;
  r.state.polls = { step: event.step, n };
  const { initial, max } = pollConfig(env);
  const waitSeconds = nextWaitSeconds(isCheck ? n - 1 : 0, initial, max);
  logger().info('step', { step: event.step, done: r.done, result: r.message, sourceId: r.state.sourceId, runId: r.state.runId, progress: r.state.progress, waitSeconds });
  return { ...r, waitSeconds };
}

/** The workflow's ways on from a failed step (the CLI prints its own, with the state file). */
export function workflowNext(s: RekeyState, st: RunStatus): string[] {
  const redrive = 'Fix the cause, then resume from the failed step: aws stepfunctions redrive-execution --execution-arn <execution>';
  const stateOf =
    "aws stepfunctions get-execution-history --execution-arn <execution> --reverse-order --query \"events[?type=='TaskSucceeded'] | [0].taskSucceededEventDetails.output\" --output text | jq '{rollback: true, state: .state}' > rollback.json";
  const rollback = `${stateOf}; aws stepfunctions start-execution --state-machine-arn <state machine> --input file://rollback.json`;
  if (st.renamed || st.sourceNameAffected) return [`CLIENTS ARE AFFECTED: ${s.sourceId} is not the original right now.`, `Roll back (puts the original back under ${s.sourceId}): ${rollback}`, `or: ${redrive}`];
  return [`${s.sourceId} is still the original${s.freeze?.groupId && !s.freeze.released ? `, FROZEN (clients blocked by ${s.freeze.groupId})` : ''}.`, redrive, `or abort (lifts the freeze, releases the lock, keeps every copy): ${rollback}`];
}

/** A Lambda handler over a step table, logging failures. */
export function handlerFor(steps: Partial<Record<StepName, StepFn>>): (event: StepEvent) => Promise<StepOutput> {
  return async (event) => {
    try {
      return await handleStepWith(steps, event);
    } catch (e) {
      logger().error('step failed', { step: event?.step, error: e as Error });
      throw e;
    }
  };
}
