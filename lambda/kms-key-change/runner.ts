/**
 * Drives the steps in the order of workflow.ts from a laptop (the CLI) or a test: runs each
 * phase's start step, polls its check step with a pause in between, and hands the state document
 * to `save` after every step so a run can be resumed from the file.
 */
import { Clients } from './clients';
import { rollbackPrecheck } from './cutover';
import { acquireLock, releaseLock } from './lock';
import { RekeyState, SUPERSEDED } from './state';
import { STEPS, StepResult } from './steps';
import { BLUE_GREEN_PHASES, CUTOVER_PHASES, FINALIZE_PHASE, nextWaitSeconds, Phase, ROLLBACK_PHASES, SNAPSHOT_PHASES, StepName } from './workflow';

export interface RunOptions {
  /** First pause between two polls of a check step; doubles after each poll up to `maxPollMs`. @default 30000 */
  readonly pollMs?: number;
  /** Longest pause between two polls. @default 600000 (10 minutes) */
  readonly maxPollMs?: number;
  /** Give up polling one check after this many polls. @default 10000 */
  readonly maxPolls?: number;
  /** Called with each step's result (progress lines). */
  readonly onStep?: (step: StepName, r: StepResult) => void;
  /** Called with the state after each step (write the state file here). */
  readonly save?: (s: RekeyState) => void | Promise<void>;
  /** Stop before this step (tests use it to inject a crash between steps). */
  readonly stopBefore?: StepName;
}

export const PREFLIGHT_PHASE: Phase = { name: 'Preflight', start: 'preflight' };

/** The phases of a run: preflight, the method's steps, cutover when asked, finalize. */
export function phasesFor(s: RekeyState, opts: { cutover: boolean }): Phase[] {
  const method = s.method === 'blue-green' ? [...BLUE_GREEN_PHASES] : [...SNAPSHOT_PHASES];
  if (s.shareWithAccount) {
    const i = method.findIndex((p) => p.start === 'shareSnapshot');
    return [PREFLIGHT_PHASE, ...method.slice(0, i + 1), FINALIZE_PHASE];
  }
  const withoutShare = method.filter((p) => p.start !== 'shareSnapshot');
  return [PREFLIGHT_PHASE, ...withoutShare, ...(opts.cutover ? CUTOVER_PHASES[s.method] : []), FINALIZE_PHASE];
}

export function rollbackPhases(): Phase[] {
  return [...ROLLBACK_PHASES, FINALIZE_PHASE];
}

/** Where to resume: the index of the first phase not finished, and whether to skip to its check. */
export function resumePoint(phases: Phase[], lastStep: string | undefined): { index: number; atCheck: boolean } {
  if (!lastStep) return { index: 0, atCheck: false };
  for (let i = phases.length - 1; i >= 0; i--) {
    const p = phases[i];
    if (p.check === lastStep || (p.start === lastStep && !p.check)) return { index: i + 1, atCheck: false };
    if (p.start === lastStep) return { index: i, atCheck: true };
  }
  return { index: 0, atCheck: false };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class StoppedBefore extends Error {
  constructor(public readonly step: StepName, public readonly state: RekeyState) {
    super(`stopped before ${step}`);
    this.name = 'StoppedBefore';
  }
}

/**
 * Runs `phases` from where `state.lastStep` says the last run stopped. Returns the final state;
 * throws the step's error (the state handed to `save` so far is what a resume starts from). A
 * verify that is not clean stops the run before any cutover.
 */
export async function runPhases(c: Clients, state: RekeyState, phases: Phase[], opts: RunOptions = {}): Promise<RekeyState> {
  const pollMs = opts.pollMs ?? 30_000;
  const maxPolls = opts.maxPolls ?? 10_000;
  const maxPollMs = Math.max(pollMs, opts.maxPollMs ?? 600_000);
  let s = state;
  // Running the cutover phases means the operator asked for cutover. A snapshot taken from here on
  // is recorded as taken with writes stopped; one taken earlier (a rehearsal) stays flagged, and
  // renameSource refuses it (see `snapshotWritesStopped`).
  if (phases.some((p) => p.start === 'renameSource' || p.start === 'switchover') && !s.cutoverRequested) s = { ...s, cutoverRequested: true };
  // A parity report that was not clean is a stop, not a finished step: a resume runs verify again
  // (the operator fixed the setting on the new resource), and cutover only follows a clean one.
  const verifyAt = phases.findIndex((p) => p.start === 'verify');
  const { index, atCheck } = s.parityClean === false && verifyAt >= 0 && s.lastStep === 'verify' ? { index: verifyAt, atCheck: false } : resumePoint(phases, s.lastStep);
  // Not starting at preflight (a resume, a later --cutover of a rehearsal, a rollback): take or
  // confirm the run lock first. Same run id passes; a lock of another run refuses (see lock.ts).
  if (index < phases.length && phases[index].start !== 'preflight') {
    // A rollback's own refusals come first: refused, it writes nothing, not even the lock.
    if (phases[index].start === 'rollbackRenameNew' && !atCheck) await rollbackPrecheck(c, s);
    await acquireLock(c, s);
  }
  const exec = async (name: StepName): Promise<StepResult> => {
    if (opts.stopBefore === name) throw new StoppedBefore(name, s);
    const r = await STEPS[name](c, JSON.parse(JSON.stringify(s)));
    s = r.state;
    opts.onStep?.(name, r);
    await opts.save?.(s);
    return r;
  };
  try {
    for (let i = index; i < phases.length; i++) {
      const p = phases[i];
      if (!(i === index && atCheck)) await exec(p.start);
      if (p.start === 'verify' && s.parityClean === false) return s;
      if (p.check) {
        for (let n = 0; ; n++) {
          const r = await exec(p.check);
          if (r.done) break;
          if (n + 1 >= maxPolls) throw new Error(`${p.check} still not done after ${maxPolls} polls; resume later with the state file`);
          await sleep(nextWaitSeconds(n, pollMs, maxPollMs));
        }
      }
    }
  } catch (e) {
    // A stale rollback (a later run cut over the same source since) is refused before it renames
    // anything, but the lock step above already put this run's lock on whatever answers to <id> now:
    // the later run's database. Left there, it would refuse every next run (RUN_IN_PROGRESS naming a
    // finished run). Remove it again (only where it names this run) and say so.
    if ((e as Error).name === SUPERSEDED) {
      const err = e as Error;
      const said = (what: string) => {
        // Before ". Next:" (RekeyError's layout), so the next command stays the last thing said.
        const at = err.message.indexOf('. Next: ');
        err.message = at < 0 ? `${err.message}; ${what}` : `${err.message.slice(0, at)}; ${what}${err.message.slice(at)}`;
      };
      const released = await releaseLock(c, s).catch((x: Error) => {
        said(`this run's lock tag could not be removed again (${x.name}: ${x.message}); remove it with: npm run kms-change -- --db-${s.kind} ${s.sourceId} --region ${s.region} --break-lock ${s.runId}`);
        return [] as string[];
      });
      if (released.length > 0) said(`the run lock this resume set (db-ops-kit:rekey-lock=${s.runId}) was removed again from ${released.join(', ')}`);
    }
    throw e;
  }
  return s;
}
