/** Verify: the new resource described from AWS and compared setting by setting with the captured source (read-only). */
import { DBInstance } from '@aws-sdk/client-rds';
import { getBlueGreen } from './checks';
import { Clients } from './clients';
import { captureCluster, captureInstance, CapturedSettings, parityIsClean, parityReport } from './settings';
import { RekeyError, RekeyState } from './state';
import { getCluster, getInstance, names, need, ok, src, StepFn } from './step-base';

async function captureTarget(c: Clients, s: RekeyState, step: string): Promise<{ settings: CapturedSettings; keyArn?: string; encrypted?: boolean; id: string; memberMap?: Record<string, string> }> {
  let id: string;
  let memberMap: Record<string, string> | undefined;
  if (s.method === 'blue-green') {
    const d = await getBlueGreen(c, s, step);
    id = need(d.Target, step, 'green target').split(':').pop()!;
    // Green members are named by RDS; SwitchoverDetails pairs each blue member with its green one.
    memberMap = Object.fromEntries(
      (d.SwitchoverDetails ?? [])
        .filter((x) => x.SourceMember?.includes(':db:') && x.TargetMember?.includes(':db:'))
        .map((x) => [x.SourceMember!.split(':').pop()!, x.TargetMember!.split(':').pop()!]),
    );
  } else {
    id = s.cutover?.done && !s.rolledBack ? s.sourceId : names(s, step).newId;
  }
  if (s.kind === 'instance') {
    const i = await getInstance(c.targetRds, id);
    if (!i) throw new RekeyError(step, id, 'new instance not found', 'resume the run from the restore step');
    const cap = captureInstance(i);
    return { settings: { kind: 'instance', instance: cap }, keyArn: cap.kmsKeyId, encrypted: cap.encrypted, id };
  }
  const cl = await getCluster(c.targetRds, id);
  if (!cl) throw new RekeyError(step, id, 'new cluster not found', 'resume the run from the restore step');
  const members: DBInstance[] = [];
  for (const m of cl.DBClusterMembers ?? []) {
    const i = await getInstance(c.targetRds, m.DBInstanceIdentifier!);
    if (i) members.push(i);
  }
  const cap = captureCluster(cl, members);
  return { settings: { kind: 'cluster', cluster: cap }, keyArn: cap.kmsKeyId, encrypted: cap.encrypted, id, memberMap };
}

/** Stores the parity report; `parityClean` false when the key is wrong or any setting differs. */
export const verify: StepFn = async (c, s) => {
  const step = 'verify';
  const t = await captureTarget(c, s, step);
  const memberMap = s.method === 'blue-green' ? t.memberMap : !(s.cutover?.done && !s.rolledBack) ? s.names?.memberIds : undefined;
  const lines = parityReport(src(s, step), t.settings, { crossRegion: !!s.targetRegion, memberMap });
  const keyOk = t.encrypted === true && t.keyArn === s.targetKeyArn;
  // Encrypting an unencrypted source is the point of the run: "encrypted" false → true is the intended difference.
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (/(^|: )encrypted$/.test(l.setting) && l.source === false && l.target === true && keyOk) lines[i] = { ...l, result: 'expected' };
  }
  lines.unshift({ setting: 'encryption key', source: s.sourceKeyArn ?? 'unencrypted', target: t.keyArn ?? 'unencrypted', result: keyOk ? 'expected' : 'differs' });
  if (s.method === 'snapshot') {
    // The snapshot method moves Performance Insights to the target key too; a PI key left on the
    // old key would keep the old key in use (and stop PI data from being readable if it is retired).
    const withPi = t.settings.kind === 'instance' ? [t.settings.instance] : t.settings.cluster.members;
    for (const m of withPi) {
      if (m.performanceInsights && m.performanceInsightsKmsKeyId && m.performanceInsightsKmsKeyId !== s.targetKeyArn) {
        lines.push({ setting: `${m.id}: Performance Insights key`, source: s.targetKeyArn ?? null, target: m.performanceInsightsKmsKeyId, result: 'differs' });
      }
    }
  }
  s.parity = lines;
  s.parityClean = keyOk && parityIsClean(lines);
  const bad = lines.filter((l) => l.result === 'differs').map((l) => l.setting);
  return ok(s, step, s.parityClean ? `${t.id} is encrypted with ${t.keyArn}; parity clean (${lines.length} settings)` : `${t.id}: parity NOT clean: ${bad.join(', ')}`);
};
