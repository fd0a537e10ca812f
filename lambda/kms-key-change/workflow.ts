/**
 * The order of the steps, shared by the Step Functions construct (lib/kms-key-change) and the CLI
 * so both run exactly the same sequence. Plain data; no SDK imports (the CDK code imports it).
 */

/**
 * The run tag: every RDS resource a run writes to carries `db-ops-kit:rekey-source=<source id>` (the
 * source gets it with the run lock, everything the run creates gets it at creation). The Steps role
 * allows RDS writes only on resources with this tag, or on creates only when the request carries it
 * (lib/kms-key-change, grantStepPermissions), so a database that merely shares the name prefix is out
 * of reach.
 */
export const RUN_SOURCE_TAG = 'db-ops-kit:rekey-source';
/** The run lock tag (lock.ts); here so the construct and the read-only poll modules need not import lock.ts. */
export const LOCK_TAG = 'db-ops-kit:rekey-lock';

export type StepName =
  | 'preflight'
  | 'freezeSource'
  | 'checkFreeze'
  | 'rollbackUnfreeze'
  | 'createSnapshot'
  | 'checkSnapshot'
  | 'copySnapshot'
  | 'checkCopy'
  | 'shareSnapshot'
  | 'restore'
  | 'checkRestore'
  | 'applySettings'
  | 'checkApply'
  | 'createBlueGreen'
  | 'checkBlueGreen'
  | 'verify'
  | 'renameSource'
  | 'checkRenameSource'
  | 'renameTarget'
  | 'checkRenameTarget'
  | 'switchover'
  | 'checkSwitchover'
  | 'rollbackRenameNew'
  | 'checkRollbackNew'
  | 'rollbackRenameSource'
  | 'checkRollbackSource'
  | 'finalize';

/**
 * The checks that only read: the construct runs them on the Poll function (poll-handler.ts, a
 * read-only role). Two checks write and run on the Steps function: checkRestore (creates the Aurora
 * members once the writer is up) and checkRollbackSource (releases the run lock when the rollback
 * completes). checks.ts POLL_STEP_FNS must list exactly these (a unit test compares them).
 */
export const POLL_STEPS: readonly StepName[] = [
  'checkFreeze',
  'checkSnapshot',
  'checkCopy',
  'checkApply',
  'checkBlueGreen',
  'checkSwitchover',
  'checkRenameSource',
  'checkRenameTarget',
  'checkRollbackNew',
];

/** A step that starts something, optionally followed by a check that is polled until it is done. */
export interface Phase {
  readonly name: string;
  readonly start: StepName;
  readonly check?: StepName;
}

export const SNAPSHOT_PHASES: readonly Phase[] = [
  // A cutover run blocks clients and proves the source quiet before the final snapshot (freeze.ts);
  // a rehearsal, cross-Region or shared run passes straight through.
  { name: 'FreezeSource', start: 'freezeSource', check: 'checkFreeze' },
  { name: 'SnapshotSource', start: 'createSnapshot', check: 'checkSnapshot' },
  { name: 'CopyWithTargetKey', start: 'copySnapshot', check: 'checkCopy' },
  // With a share account the run ends here: the other account restores with its own key.
  { name: 'ShareSnapshot', start: 'shareSnapshot' },
  { name: 'Restore', start: 'restore', check: 'checkRestore' },
  { name: 'ApplySettings', start: 'applySettings', check: 'checkApply' },
  { name: 'Verify', start: 'verify' },
];

export const BLUE_GREEN_PHASES: readonly Phase[] = [
  { name: 'CreateBlueGreen', start: 'createBlueGreen', check: 'checkBlueGreen' },
  { name: 'Verify', start: 'verify' },
];

export const CUTOVER_PHASES: Record<'snapshot' | 'blue-green', readonly Phase[]> = {
  snapshot: [
    { name: 'RenameSource', start: 'renameSource', check: 'checkRenameSource' },
    { name: 'RenameNew', start: 'renameTarget', check: 'checkRenameTarget' },
  ],
  'blue-green': [{ name: 'Switchover', start: 'switchover', check: 'checkSwitchover' }],
};

export const ROLLBACK_PHASES: readonly Phase[] = [
  { name: 'RollbackMoveNewAside', start: 'rollbackRenameNew', check: 'checkRollbackNew' },
  { name: 'RollbackRestoreSourceName', start: 'rollbackRenameSource', check: 'checkRollbackSource' },
  { name: 'RollbackLiftFreeze', start: 'rollbackUnfreeze' },
];

export const FINALIZE_PHASE: Phase = { name: 'Finalize', start: 'finalize' };

/**
 * Pause before the next status check: `initial` doubled after every check that was not done yet,
 * capped at `max`. Bounds the execution history of a long copy: Step Functions Standard workflows
 * keep at most 25,000 history events per execution
 * (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html), and every poll costs
 * 9 (Wait entered/exited, task entered/scheduled/started/succeeded/exited, Choice entered/exited).
 */
export function nextWaitSeconds(pollsSoFar: number, initial: number, max: number): number {
  return Math.min(max, initial * 2 ** Math.min(Math.max(0, pollsSoFar), 30));
}

/** History events one poll adds (see nextWaitSeconds). */
export const EVENTS_PER_POLL = 9;
