/** Start steps of the snapshot phase: the snapshot of the source, its copy with the target key, sharing it. */
import { CopyDBClusterSnapshotCommand, CopyDBSnapshotCommand, CreateDBClusterSnapshotCommand, CreateDBSnapshotCommand, ModifyDBClusterSnapshotAttributeCommand, ModifyDBSnapshotAttributeCommand } from '@aws-sdk/client-rds';
import { getSnapshot } from './checks';
import { call } from './clients';
import { addArtifact, restoreRegion } from './state';
import { kitTags, names, need, ok, srcInstance, StepFn } from './step-base';

/** Tag on the source snapshot recording whether writes were declared stopped when it was requested. */
const WRITES_STOPPED_TAG = 'db-ops-kit:rekey-writes-stopped';

export const createSnapshot: StepFn = async (c, s) => {
  const step = 'createSnapshot';
  const id = names(s, step).sourceSnapshot;
  const existing = await getSnapshot(c.rds, s.kind, id);
  if (!existing) {
    const Tags = [...kitTags(s, 'source-snapshot'), { Key: WRITES_STOPPED_TAG, Value: String(s.cutoverRequested === true) }];
    if (s.kind === 'instance') await call(() => c.rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: s.sourceId, DBSnapshotIdentifier: id, Tags })));
    else await call(() => c.rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: s.sourceId, DBClusterSnapshotIdentifier: id, Tags })));
  }
  if (!s.snapshotStartedAt) {
    // The new resource will hold the data as of this moment; writes after it stay only in the source.
    // A snapshot found from an earlier attempt (crash before the state was saved) keeps what was
    // declared when it was requested (its tag), not what the resumed run asks for now.
    s.snapshotStartedAt = existing?.createdAt ? new Date(existing.createdAt).toISOString() : new Date().toISOString();
    s.snapshotWritesStopped = existing ? existing.tags?.some((t) => t.Key === WRITES_STOPPED_TAG && t.Value === 'true') === true : s.cutoverRequested === true;
  }
  addArtifact(s, { type: s.kind === 'instance' ? 'db-snapshot' : 'db-cluster-snapshot', id, region: s.region, role: 'snapshot of the source (source key)' });
  return ok(
    s,
    step,
    `${existing ? `${id} already exists, reusing it` : `creating snapshot ${id}`}${s.snapshotWritesStopped ? '' : ' (rehearsal: writes to the source after this point will not be in the copy)'}`,
  );
};

export const copySnapshot: StepFn = async (c, s) => {
  const step = 'copySnapshot';
  const n = names(s, step);
  if (!n.copySnapshot) return ok(s, step, 'no copy needed: the Aurora restore takes the target key directly');
  const keyArn = need(s.targetKeyArn, step, 'target key');
  const existing = await getSnapshot(c.targetRds, s.kind, n.copySnapshot);
  if (!existing) {
    const source = need(await getSnapshot(c.rds, s.kind, n.sourceSnapshot), step, `snapshot ${n.sourceSnapshot}`);
    const crossRegion = !!s.targetRegion;
    const from = crossRegion ? need(source.arn, step, 'source snapshot ARN') : n.sourceSnapshot;
    const Tags = kitTags(s, 'target-key-copy');
    if (s.kind === 'instance') {
      const og = srcInstance(s, step).optionGroup;
      await call(() =>
        c.targetRds.send(
          new CopyDBSnapshotCommand({
            SourceDBSnapshotIdentifier: from,
            TargetDBSnapshotIdentifier: n.copySnapshot,
            KmsKeyId: keyArn,
            Tags,
            ...(crossRegion ? { SourceRegion: s.region, ...(og && !og.startsWith('default:') ? { OptionGroupName: og } : {}) } : {}),
          }),
        ),
      );
    } else {
      await call(() =>
        c.targetRds.send(
          new CopyDBClusterSnapshotCommand({
            SourceDBClusterSnapshotIdentifier: from,
            TargetDBClusterSnapshotIdentifier: n.copySnapshot,
            KmsKeyId: keyArn,
            Tags,
            ...(crossRegion ? { SourceRegion: s.region } : {}),
          }),
        ),
      );
    }
  }
  addArtifact(s, { type: s.kind === 'instance' ? 'db-snapshot' : 'db-cluster-snapshot', id: n.copySnapshot, region: restoreRegion(s), role: 'copy encrypted with the target key' });
  return ok(s, step, existing ? `${n.copySnapshot} already exists, reusing it` : `copying ${n.sourceSnapshot} to ${n.copySnapshot} with ${keyArn}`);
};

export const shareSnapshot: StepFn = async (c, s) => {
  const step = 'shareSnapshot';
  if (!s.shareWithAccount) return ok(s, step, 'not shared (no --share-with-account)');
  const id = need(names(s, step).copySnapshot, step, 'copy snapshot');
  if (s.kind === 'instance') {
    await call(() => c.targetRds.send(new ModifyDBSnapshotAttributeCommand({ DBSnapshotIdentifier: id, AttributeName: 'restore', ValuesToAdd: [s.shareWithAccount!] })));
  } else {
    await call(() => c.targetRds.send(new ModifyDBClusterSnapshotAttributeCommand({ DBClusterSnapshotIdentifier: id, AttributeName: 'restore', ValuesToAdd: [s.shareWithAccount!] })));
  }
  return ok(s, step, `shared ${id} with account ${s.shareWithAccount}; in that account copy it with its own key and restore (this run ends here)`);
};
