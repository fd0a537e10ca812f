/**
 * What exists now, described from AWS (not from what the run meant to do), and the exact commands
 * that go on from there. The CLI prints it after any failure; the workflow's step function appends
 * it to the error a failed step throws, so the failure notification (EventBridge → SNS, `cause`)
 * carries it too.
 */
import { DescribeDBClusterSnapshotsCommand, DescribeDBSnapshotsCommand } from '@aws-sdk/client-rds';
import { Clients, describeOrUndefined } from './clients';
import { describeDb, DbView } from './freeze-read';
import { RekeyState } from './state';

function keyName(s: RekeyState, keyId: string | undefined): string {
  if (!keyId) return 'unencrypted';
  if (keyId === s.targetKeyArn) return `target key ${keyId}`;
  if (keyId === s.sourceKeyArn) return `source key ${keyId}`;
  return `key ${keyId}`;
}

function dbLine(s: RekeyState, id: string, db: DbView | undefined): string {
  if (!db) return `${id}: does not exist`;
  const frozen = s.freeze?.groupId && db.groups.length === 1 && db.groups[0].id === s.freeze.groupId;
  const groups = frozen ? `FROZEN (only the kit's no-ingress group ${s.freeze!.groupId})` : `security groups ${db.groups.map((g) => g.id).join(', ') || '(none)'}`;
  return `${id}: exists, ${db.status}, ${keyName(s, db.keyId)}, ${groups}`;
}

export interface RunStatus {
  readonly lines: string[];
  /** True when `<id>` does not exist now, or answers with the copy: clients are affected. */
  readonly sourceNameAffected: boolean;
  /** True when the original is renamed away (`-pre-rekey-` exists). */
  readonly renamed: boolean;
}

/** Describes the source name, the renamed original, the copy and the snapshots of run `s`. Never throws. */
export async function describeRun(c: Clients, s: RekeyState): Promise<RunStatus> {
  const lines: string[] = [];
  try {
    const pre = s.names?.preRekeyId ?? `${s.sourceId}-pre-rekey-${s.runId}`;
    const src = await describeDb(c, s.kind, s.sourceId);
    const renamed = s.targetRegion || s.shareWithAccount ? undefined : await describeDb(c, s.kind, pre);
    lines.push(dbLine(s, s.sourceId, src));
    if (!s.targetRegion && !s.shareWithAccount) lines.push(dbLine(s, pre, renamed));
    if (s.names?.newId && s.names.newId !== s.sourceId) {
      const cp = await describeOrUndefinedDb(c, s, s.names.newId);
      lines.push(dbLine(s, s.names.newId, cp));
    }
    for (const id of [s.names?.sourceSnapshot, s.names?.copySnapshot].filter((x): x is string => !!x)) {
      const rds = id === s.names?.copySnapshot ? c.targetRds : c.rds;
      const st =
        s.kind === 'instance'
          ? (await describeOrUndefined(() => rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: id }))))?.DBSnapshots?.[0]?.Status
          : (await describeOrUndefined(() => rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: id }))))?.DBClusterSnapshots?.[0]?.Status;
      lines.push(`snapshot ${id}: ${st ?? 'does not exist'}`);
    }
    const sourceNameAffected = !src || (!!s.targetKeyArn && src.keyId === s.targetKeyArn && s.sourceKeyArn !== s.targetKeyArn);
    return { lines, sourceNameAffected, renamed: !!renamed };
  } catch (e) {
    lines.push(`(could not describe every resource: ${(e as Error).name}: ${(e as Error).message})`);
    return { lines, sourceNameAffected: true, renamed: true };
  }
}

async function describeOrUndefinedDb(c: Clients, s: RekeyState, id: string): Promise<DbView | undefined> {
  if (s.targetRegion) return describeDb({ ...c, rds: c.targetRds }, s.kind, id);
  return describeDb(c, s.kind, id);
}

/** The commands that go on from here, for the CLI (state file) and for the workflow. */
export function nextCommands(s: RekeyState, st: RunStatus, stateFile: string): string[] {
  const resume = `npm run kms-change -- --resume ${stateFile}${s.cutoverRequested ? ' --cutover' : ''}`;
  const rollback = `npm run kms-change -- --resume ${stateFile} --rollback`;
  if (st.renamed || st.sourceNameAffected) {
    return [
      `CLIENTS ARE AFFECTED: ${s.sourceId} is not the original right now.`,
      `Put the original back under ${s.sourceId}: ${rollback}`,
      `or finish the cutover once the cause is fixed: ${resume}`,
    ];
  }
  const frozen = s.freeze?.groupId && !s.freeze.released;
  return [
    `${s.sourceId} is still the original${frozen ? `, FROZEN (clients blocked by ${s.freeze!.groupId})` : ''}.`,
    `Continue once the cause is fixed: ${resume}`,
    `or abort${frozen ? ' (puts the original security groups back, releases the lock)' : ' (releases the lock)'}; every copy is kept: ${rollback}`,
  ];
}
