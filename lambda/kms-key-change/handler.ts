/**
 * Lambda entry point of the Step Functions workflow: `{ step, state }` in, `{ state, done,
 * message }` out. The database, the key and the method come from the function's environment
 * (set by the construct from stack props), so an execution cannot point it at another database.
 */
import { clientsFor } from './clients';
import { createLogger } from '../shared/logger';
import { assertState, Method, newState, RekeyState, SourceKind } from './state';
import { STEPS, StepResult } from './steps';
import type { StepName } from './workflow';

let cachedLogger: ReturnType<typeof createLogger> | undefined;
/** Created on first use, so POWERTOOLS_LOG_LEVEL set by a CLI or test after import still applies. */
const logger = () => (cachedLogger ??= createLogger('kms-key-change'));

export interface StepEvent {
  readonly step: StepName;
  readonly state?: RekeyState;
  /** Execution input, for the preflight step: `{ "cutover": true }` to go on to the approval gate. */
  readonly input?: { cutover?: boolean };
}

export interface StepOutput extends StepResult {}

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

export async function handleStep(event: StepEvent, env: NodeJS.ProcessEnv = process.env): Promise<StepOutput> {
  if (!event || typeof event.step !== 'string' || !(event.step in STEPS)) {
    throw new Error(`unknown step ${JSON.stringify(event?.step)}; expected one of ${Object.keys(STEPS).join(', ')}`);
  }
  let state: RekeyState;
  const cfg = configFromEnv(env);
  if (event.step === 'preflight') {
    state = event.state ? assertState(event.state) : newState(cfg);
    state.cutoverRequested = event.input?.cutover === true;
  } else {
    state = assertState(event.state);
  }
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
  const clients = clientsFor(state.region, state.targetRegion);
  const r = await STEPS[event.step](clients, state);
  logger().info('step', { step: event.step, done: r.done, result: r.message, sourceId: r.state.sourceId, runId: r.state.runId, progress: r.state.progress });
  return r;
}

export const handler = async (event: StepEvent): Promise<StepOutput> => {
  try {
    return await handleStep(event);
  } catch (e) {
    logger().error('step failed', { step: event?.step, error: e as Error });
    throw e;
  }
};
