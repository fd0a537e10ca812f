/**
 * KMS key change: what the safety costs. The kit's full snapshot-method run (preflight, idempotent
 * start steps, polling checks, parity report, rename-based cutover, finalize) against moto, versus
 * a baseline measured in the same run on the same moto server: the bare minimum API calls a
 * hand-written script makes for the same end state (snapshot, copy with the key, restore, two
 * renames — no checks, no settings, no verification). On AWS both are dominated by snapshot and
 * restore minutes; on moto every call returns at once, so the ratio isolates the kit's own overhead.
 */
import {
  CopyDBSnapshotCommand,
  CreateDBClusterSnapshotCommand,
  CreateDBInstanceCommand,
  CreateDBSnapshotCommand,
  ModifyDBClusterCommand,
  ModifyDBInstanceCommand,
  RDSClient,
  RestoreDBClusterFromSnapshotCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
} from '@aws-sdk/client-rds';
import type { BenchResult } from './run';
import { clientsFor } from '../lambda/kms-key-change/clients';
import { phasesFor, runPhases } from '../lambda/kms-key-change/runner';
import { newState } from '../lambda/kms-key-change/state';
import { startMoto } from '../test/helpers/moto';
import { makeCluster, makeInstance, makeWorld, publishConnections } from '../test/integration/kms-key-change/moto-fixtures';

/** Target: the kit may make at most this many times the baseline's API calls. */
const MAX_CALL_RATIO = 12;
const ROUNDS = 5;

/** Counts every API call a client sends (initialize-step middleware). */
function countCalls(client: { middlewareStack: { add: (mw: any, opts: any) => void } }, counter: { n: number }): void {
  client.middlewareStack.add(
    (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
      counter.n++;
      return next(args);
    },
    { step: 'initialize', name: `benchCounter${Math.random()}` },
  );
}

export async function bench(): Promise<BenchResult> {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  const moto = await startMoto();
  let timer: NodeJS.Timeout | undefined;
  try {
    const w = await makeWorld();
    const kitCalls = { n: 0 };
    const c = clientsFor('us-east-1');
    countCalls(c.rds, kitCalls);
    countCalls(c.kms, kitCalls);
    // The write freeze (security-group swap, DatabaseConnections quiet check) calls EC2 and CloudWatch.
    countCalls(c.ec2, kitCalls);
    countCalls(c.cw, kitCalls);
    // RDS publishes DatabaseConnections for every instance; moto does not, so play CloudWatch's part
    // (0 connections: a quiet source), as the integration tests do.
    timer = setInterval(() => void publishConnections(w).catch(() => undefined), 250);
    const bare = new RDSClient({ region: 'us-east-1' });
    const bareCalls = { n: 0 };
    countCalls(bare, bareCalls);

    const rows: string[][] = [];
    const notes: string[] = [];
    let seq = 0;
    const now = () => new Date(Date.UTC(2026, 0, 1, 0, 0, seq++));

    // Instance: kit vs bare calls, ROUNDS each, interleaved so both see the same server state.
    let kitMs = 0;
    let bareMs = 0;
    kitCalls.n = 0;
    bareCalls.n = 0;
    for (let r = 0; r < ROUNDS; r++) {
      await makeInstance(w, `kit${r}`);
      await makeInstance(w, `bare${r}`);
      const t0 = performance.now();
      const s = newState({ kind: 'instance', sourceId: `kit${r}`, kmsKey: w.newKey, region: 'us-east-1', now: now() });
      const out = await runPhases(c, s, phasesFor(s, { cutover: true }), { pollMs: 0 });
      if (!out.parityClean || !out.cutover?.done) throw new Error('kit run did not finish cleanly');
      const t1 = performance.now();
      const id = `bare${r}`;
      await bare.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: id, DBSnapshotIdentifier: `${id}-src` }));
      await bare.send(new CopyDBSnapshotCommand({ SourceDBSnapshotIdentifier: `${id}-src`, TargetDBSnapshotIdentifier: `${id}-new`, KmsKeyId: w.newKey }));
      await bare.send(new RestoreDBInstanceFromDBSnapshotCommand({ DBInstanceIdentifier: `${id}-rk`, DBSnapshotIdentifier: `${id}-new` }));
      await bare.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: id, NewDBInstanceIdentifier: `${id}-old`, ApplyImmediately: true }));
      await bare.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: `${id}-rk`, NewDBInstanceIdentifier: id, ApplyImmediately: true }));
      const t2 = performance.now();
      kitMs += t1 - t0;
      bareMs += t2 - t1;
    }
    const instCallRatio = kitCalls.n / bareCalls.n;
    rows.push([
      'DB instance, snapshot method + cutover',
      `${(kitMs / ROUNDS).toFixed(0)} ms, ${kitCalls.n / ROUNDS} calls`,
      `${(bareMs / ROUNDS).toFixed(0)} ms, ${bareCalls.n / ROUNDS} calls`,
      `${(kitMs / bareMs).toFixed(1)}×`,
      `${instCallRatio.toFixed(1)}×`,
    ]);

    // Aurora cluster with two instances. Baseline: snapshot, restore with the key, writer + reader, renames of cluster and members.
    kitCalls.n = 0;
    bareCalls.n = 0;
    await makeCluster(w, 'kitc');
    await makeCluster(w, 'barec');
    const t0 = performance.now();
    const s = newState({ kind: 'cluster', sourceId: 'kitc', kmsKey: w.newKey, region: 'us-east-1', now: now() });
    const out = await runPhases(c, s, phasesFor(s, { cutover: true }), { pollMs: 0 });
    if (!out.parityClean || !out.cutover?.done) throw new Error('kit cluster run did not finish cleanly');
    const t1 = performance.now();
    await bare.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'barec', DBClusterSnapshotIdentifier: 'barec-src' }));
    await bare.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'barec-rk', SnapshotIdentifier: 'barec-src', Engine: 'aurora-postgresql', KmsKeyId: w.newKey }));
    for (const m of ['barec-1', 'barec-2']) {
      await bare.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: `${m}-rk`, DBClusterIdentifier: 'barec-rk', Engine: 'aurora-postgresql', DBInstanceClass: 'db.r6g.large' }));
    }
    await bare.send(new ModifyDBClusterCommand({ DBClusterIdentifier: 'barec', NewDBClusterIdentifier: 'barec-old', ApplyImmediately: true }));
    for (const m of ['barec-1', 'barec-2']) await bare.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: m, NewDBInstanceIdentifier: `${m}-old`, ApplyImmediately: true }));
    await bare.send(new ModifyDBClusterCommand({ DBClusterIdentifier: 'barec-rk', NewDBClusterIdentifier: 'barec', ApplyImmediately: true }));
    for (const m of ['barec-1', 'barec-2']) await bare.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: `${m}-rk`, NewDBInstanceIdentifier: m, ApplyImmediately: true }));
    const t2 = performance.now();
    const clusterCallRatio = kitCalls.n / bareCalls.n;
    rows.push([
      'Aurora cluster (2 instances), snapshot method + cutover',
      `${(t1 - t0).toFixed(0)} ms, ${kitCalls.n} calls`,
      `${(t2 - t1).toFixed(0)} ms, ${bareCalls.n} calls`,
      `${((t1 - t0) / (t2 - t1)).toFixed(1)}×`,
      `${clusterCallRatio.toFixed(1)}×`,
    ]);

    notes.push(`Instance: ${ROUNDS} rounds on one moto server, times are means; cluster: one run each. The kit's extra calls are the describes of preflight (source, key, key policy, proxies, names), the run lock (tag, read back after a 5 s settle pause, release), the write freeze (no-ingress security group, swap, DatabaseConnections quiet check, proof before each rename), one check per start step, the parity report, idempotency look-ups and finalize tags.`);
    notes.push('On AWS a snapshot, copy and restore each take minutes and a check costs one Describe call per poll interval, so the overhead is noise next to the data movement; the estimate the plan prints (e.g. ~85 min for 50 GiB) is what matters.');
    for (const [what, ratio] of [['instance', instCallRatio], ['cluster', clusterCallRatio]] as const) {
      notes.push(ratio <= MAX_CALL_RATIO ? `target met (${what}): API calls ≤ ${MAX_CALL_RATIO}× the bare script (${ratio.toFixed(1)}×)` : `MISSED (${what}): API calls ${ratio.toFixed(1)}× the bare script, target ≤ ${MAX_CALL_RATIO}×`);
    }
    return {
      title: 'KMS key change: kit run vs bare API calls (moto)',
      header: ['case', 'kit (full run)', 'baseline (bare calls)', 'time ratio', 'call ratio'],
      rows,
      notes,
    };
  } finally {
    if (timer) clearInterval(timer);
    await moto.stop();
  }
}
