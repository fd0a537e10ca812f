/** Helpers every step module shares (step-base.ts), and the lock release that start steps use. */
import { Clients } from './clients';
import { releaseLock } from './lock';
import { RekeyState } from './state';
import { LOCK_TAG } from './workflow';

export * from './step-base';

/** Releases the run lock; a failure leaves the lock (and says how to release it) instead of failing a finished run. */
export async function releaseLockOrWarn(c: Clients, s: RekeyState): Promise<string[]> {
  try {
    return await releaseLock(c, s);
  } catch (e) {
    const w = `could not remove the run lock (${LOCK_TAG}=${s.runId}): ${(e as Error).name}; release it with: npm run kms-change -- --db-${s.kind} ${s.sourceId} --region ${s.region} --break-lock ${s.runId}`;
    if (!s.warnings.includes(w)) s.warnings.push(w);
    return [];
  }
}


