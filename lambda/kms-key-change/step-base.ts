/**
 * Helpers every step module shares: the result type, state accessors, describe calls, kit tags.
 * Read-only (no AWS write imported): the poll function bundles it (poll-handler.ts).
 */
import { DBCluster, DBInstance, DescribeDBClustersCommand, DescribeDBInstancesCommand, RDSClient, Tag } from '@aws-sdk/client-rds';
import { Clients, describeOrUndefined } from './clients';
import type { CapturedCluster, CapturedInstance, CapturedSettings } from './settings';
import { RekeyError, RekeyState } from './state';
import { LOCK_TAG, RUN_SOURCE_TAG } from './workflow';

export interface StepResult {
  readonly state: RekeyState;
  /** False while a check step should be polled again. */
  readonly done: boolean;
  readonly message: string;
}

export type StepFn = (c: Clients, s: RekeyState) => Promise<StepResult>;

export const ok = (state: RekeyState, step: string, message: string, done = true): StepResult => {
  if (done) state.lastStep = step;
  return { state, done, message };
};

export function need<T>(v: T | undefined, step: string, what: string): T {
  if (v === undefined || v === null) throw new RekeyError(step, what, 'missing from the state document', 'run preflight first (or resume from the state file it wrote)');
  return v;
}

export function kitTags(s: RekeyState, role: string): Tag[] {
  return [
    { Key: 'db-ops-kit:rekey-run', Value: s.runId },
    // The run tag: the Steps role's RDS writes are scoped by it (workflow.ts RUN_SOURCE_TAG).
    { Key: RUN_SOURCE_TAG, Value: s.sourceId },
    { Key: 'db-ops-kit:rekey-role', Value: role },
  ];
}

/**
 * The run lock on the re-keyed copy (same Region only): set at restore, so the copy is locked
 * before cutover gives it the original's name (see lock.ts). Finalize removes it.
 */
export function lockTags(s: RekeyState): Tag[] {
  return s.targetRegion || s.shareWithAccount ? [] : [{ Key: LOCK_TAG, Value: s.runId }];
}

export const src = (s: RekeyState, step: string): CapturedSettings => need(s.source, step, 'source settings');
export const names = (s: RekeyState, step: string) => need(s.names, step, 'names');
export const srcInstance = (s: RekeyState, step: string): CapturedInstance => {
  const c = src(s, step);
  if (c.kind !== 'instance') throw new RekeyError(step, s.sourceId, 'state says cluster, step expects an instance', 'check the state file');
  return c.instance;
};
export const srcCluster = (s: RekeyState, step: string): CapturedCluster => {
  const c = src(s, step);
  if (c.kind !== 'cluster') throw new RekeyError(step, s.sourceId, 'state says instance, step expects a cluster', 'check the state file');
  return c.cluster;
};

export async function getInstance(rds: RDSClient, id: string): Promise<DBInstance | undefined> {
  return (await describeOrUndefined(() => rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))))?.DBInstances?.[0];
}
export async function getCluster(rds: RDSClient, id: string): Promise<DBCluster | undefined> {
  return (await describeOrUndefined(() => rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }))))?.DBClusters?.[0];
}
/** The `db-ops-kit:rekey-run` tag of what answers to `<id>` now: the run whose re-keyed copy it is (undefined: nothing there, or no run's copy). */
export async function rekeyRunOnId(rds: RDSClient, s: Pick<RekeyState, 'kind' | 'sourceId'>): Promise<string | undefined> {
  const cur = s.kind === 'instance' ? await getInstance(rds, s.sourceId) : await getCluster(rds, s.sourceId);
  return cur?.TagList?.find((t) => t.Key === 'db-ops-kit:rekey-run')?.Value;
}
/** The key a resource is encrypted with; undefined when it is not encrypted (whatever KmsKeyId says). */
export function keyOf(x: { StorageEncrypted?: boolean; KmsKeyId?: string } | undefined): string | undefined {
  return x?.StorageEncrypted ? x.KmsKeyId : undefined;
}
