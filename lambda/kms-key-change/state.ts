/**
 * The small JSON state document every step of the KMS key change reads and returns. The Step
 * Functions workflow passes it from task to task; the CLI writes it to a file after each step, so
 * a run can be resumed from wherever it stopped (`--resume <file>`).
 */

export type SourceKind = 'instance' | 'cluster';
export type Method = 'snapshot' | 'blue-green';

/** One resource the run created or renamed. Nothing here is ever deleted by the kit. */
export interface Artifact {
  readonly type: 'db-snapshot' | 'db-cluster-snapshot' | 'db-instance' | 'db-cluster' | 'blue-green-deployment';
  readonly id: string;
  readonly region: string;
  readonly role: string;
}

/** One line of the parity report: a setting of the source compared with the new resource. */
export interface ParityLine {
  readonly setting: string;
  readonly source: unknown;
  readonly target: unknown;
  /** `same`, `differs`, or `expected` (differs on purpose: the key, identifiers, mapped values). */
  readonly result: 'same' | 'differs' | 'expected';
}

export interface RekeyState {
  readonly version: 1;
  readonly kind: SourceKind;
  readonly method: Method;
  /** Identifier of the source DB instance or DB cluster (the one clients use today). */
  readonly sourceId: string;
  /** Region of the source. */
  readonly region: string;
  /** Account of the source, taken from its ARN during preflight. */
  account?: string;
  /** What the operator passed: key ARN, key ID, alias name or alias ARN. */
  readonly kmsKey: string;
  /** The target key's ARN (resolved by preflight). */
  targetKeyArn?: string;
  /** The source's key ARN, recorded by preflight. */
  sourceKeyArn?: string;
  /** Region to create the re-keyed copy in. @default the source Region */
  readonly targetRegion?: string;
  /** Share the re-keyed snapshot with this account instead of restoring it here. */
  readonly shareWithAccount?: string;
  /** Security groups for a cross-Region restore (group IDs are Regional). */
  readonly targetSecurityGroupIds?: string[];
  /** Run id `yyyymmddhhmmss`, part of every name this run creates. */
  readonly runId: string;
  /** The Step Functions run goes on to the approval gate and cutover only when this is true. */
  cutoverRequested?: boolean;
  /** When the source snapshot was requested: the new resource holds the data as of this time. */
  snapshotStartedAt?: string;
  /**
   * True when writes to the source were declared stopped before the snapshot: the snapshot was
   * taken in a run that asked for cutover (CLI `--cutover`; workflow `{"cutover": true}` after its
   * writes-stopped gate), or the operator confirmed it later (`--writes-stopped-since-snapshot`).
   * Cutover refuses without it: the copy would silently lack every write made after the snapshot.
   */
  snapshotWritesStopped?: boolean;
  /**
   * The enforced write freeze of a cutover run (snapshot method, see freeze.ts): the kit's
   * no-ingress security group replaces the source's groups before the final snapshot.
   */
  freeze?: FreezeRecord;
  /**
   * Set when the operator gave up the enforced freeze (CLI `--no-freeze`, or
   * `--writes-stopped-since-snapshot` for a rehearsal copy): the text says what they gave up. Cutover
   * then rests on the operator's word alone.
   */
  freezeOptOut?: string;
  /**
   * Set when the operator confirmed a rollback after clients used the re-keyed copy under `<id>`
   * (CLI `--writes-since-cutover-stay-in-copy`): their writes stay only in the copy (kept under its
   * -rekey- name). Without it such a rollback is refused.
   */
  rollbackStrandsWrites?: string;
  /** Who approved the cutover gate (workflow with a named approver), and when the cutover started. */
  approvedBy?: { approver: string; at: string };
  /** The CLI's state file (named in refusals so the next command can be pasted). */
  stateFile?: string;
  /** Highest DatabaseConnections the quiet check accepts. @default 0 */
  maxConnections?: number;
  /** Name of the last step that completed. */
  lastStep?: string;
  /** Settings of the source captured by preflight (re-applied to the new resource). */
  source?: import('./settings').CapturedSettings;
  /** Names this run uses; fixed by preflight so that every retry uses the same ones. */
  names?: RunNames;
  /** Checks of the current phase that were not done yet (drives the polling back-off). */
  polls?: { step: string; n: number };
  /** Latest progress (snapshot copy `PercentProgress`, etc.). */
  progress?: { step: string; percent?: number; status?: string };
  parity?: ParityLine[];
  parityClean?: boolean;
  blueGreenId?: string;
  cutover?: { at: string; sourceRenamedTo: string; memberRenames: Array<{ from: string; to: string }>; done?: boolean };
  rolledBack?: { at: string; done?: boolean };
  readonly artifacts: Artifact[];
  warnings: string[];
}

export interface FreezeRecord {
  /** VPC of the source (the freeze group is created there). */
  vpcId?: string;
  /** The kit-created security group with no inbound rules. */
  groupId?: string;
  /** The source's VPC security groups before the freeze; restored by rollback, abort and release. */
  readonly originalSecurityGroupIds: string[];
  /** When the kit swapped the groups (requested ModifyDB*). */
  appliedAt?: string;
  /** When the quiet check passed: the freeze group alone was active and DatabaseConnections was within the limit. */
  quietAt?: string;
  /** When the original groups were put back, and on which identifier. */
  released?: { at: string; on: string };
}

export interface RunNames {
  /** Snapshot of the source (encrypted with the source key). */
  sourceSnapshot: string;
  /** Copy of that snapshot encrypted with the target key (absent when the restore re-keys, Aurora same-Region). */
  copySnapshot?: string;
  /** Identifier of the new DB instance/cluster until cutover. */
  newId: string;
  /** Name the source gets at cutover: `<id>-pre-rekey-<run id>` (fixed up front so a crashed cutover resumes). */
  preRekeyId?: string;
  /** For a cluster: new member instance ids by source member id. */
  memberIds?: Record<string, string>;
}

/** Error code of a rollback refused because a later run cut over the same source since (cutover.ts): its `next` is the only way on. */
export const SUPERSEDED = 'SupersededByLaterRun';

/** An error that names the step, the resource and what the operator should do next. */
export class RekeyError extends Error {
  constructor(
    public readonly step: string,
    public readonly resource: string,
    message: string,
    public readonly next: string,
    public readonly code = 'RekeyError',
  ) {
    super(`[${step}] ${resource}: ${message}. Next: ${next}`);
    this.name = code;
  }
}

/** RDS identifiers: 1-63 letters, digits, hyphens; first a letter; no `--`, no trailing hyphen. */
export const RDS_ID_RE = /^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}$/;

export function isValidRdsId(id: string): boolean {
  return RDS_ID_RE.test(id) && !id.endsWith('-');
}

/** `2026-11-30T03:04:05Z` → `20261130030405`. */
export function runIdFrom(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** A fresh state document; `preflight` fills in the rest. */
export function newState(opts: {
  kind: SourceKind;
  sourceId: string;
  kmsKey: string;
  region: string;
  method?: Method;
  targetRegion?: string;
  shareWithAccount?: string;
  targetSecurityGroupIds?: string[];
  now?: Date;
}): RekeyState {
  return {
    version: 1,
    kind: opts.kind,
    method: opts.method ?? 'snapshot',
    sourceId: opts.sourceId,
    region: opts.region,
    kmsKey: opts.kmsKey,
    targetRegion: opts.targetRegion && opts.targetRegion !== opts.region ? opts.targetRegion : undefined,
    shareWithAccount: opts.shareWithAccount,
    targetSecurityGroupIds: opts.targetSecurityGroupIds,
    runId: runIdFrom(opts.now ?? new Date()),
    artifacts: [],
    warnings: [],
  };
}

/** Region the new resource lives in. */
export function restoreRegion(s: RekeyState): string {
  return s.targetRegion ?? s.region;
}

export function addArtifact(s: RekeyState, a: Artifact): void {
  if (!s.artifacts.some((x) => x.type === a.type && x.id === a.id && x.region === a.region)) s.artifacts.push(a);
}

/** Validates a state document read from a file or a Step Functions payload. */
export function assertState(v: unknown): RekeyState {
  const s = v as RekeyState;
  const problems: string[] = [];
  if (!s || typeof s !== 'object') throw new Error('state must be a JSON object');
  if (s.version !== 1) problems.push('version must be 1');
  if (s.kind !== 'instance' && s.kind !== 'cluster') problems.push('kind must be "instance" or "cluster"');
  if (s.method !== 'snapshot' && s.method !== 'blue-green') problems.push('method must be "snapshot" or "blue-green"');
  if (typeof s.sourceId !== 'string' || !isValidRdsId(s.sourceId)) problems.push('sourceId must be an RDS identifier');
  if (typeof s.kmsKey !== 'string' || s.kmsKey.length === 0) problems.push('kmsKey is required');
  if (typeof s.region !== 'string' || s.region.length === 0) problems.push('region is required');
  if (typeof s.runId !== 'string' || !/^\d{14}$/.test(s.runId)) problems.push('runId must be 14 digits');
  if (!Array.isArray(s.artifacts)) problems.push('artifacts must be a list');
  if (problems.length > 0) throw new Error(`invalid state document: ${problems.join('; ')}`);
  // A state document copied or edited to name another database would rename, unfreeze or roll back
  // the wrong resources: the names the run derived from its source (preflight) and the captured
  // source must agree with sourceId.
  const snap = (s as { names?: { sourceSnapshot?: unknown } }).names?.sourceSnapshot;
  const m = typeof snap === 'string' ? /^(.+)-rekey-(\d{14})-src$/.exec(snap) : null;
  const captured = (s.source as { instance?: { id?: unknown }; cluster?: { id?: unknown } } | undefined);
  const capturedId = captured?.instance?.id ?? captured?.cluster?.id;
  const owner = m?.[1] ?? (typeof capturedId === 'string' ? capturedId : undefined);
  if ((m && (m[1] !== s.sourceId || m[2] !== s.runId)) || (typeof capturedId === 'string' && capturedId !== s.sourceId)) {
    throw new Error(`invalid state document: the state document belongs to ${owner}, not ${s.sourceId} (run ${m?.[2] ?? s.runId}); resume that run with its own file, or start a new run for ${s.sourceId}`);
  }
  if (!Array.isArray(s.warnings)) s.warnings = [];
  return s;
}
