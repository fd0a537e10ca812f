/**
 * `npm run kms-change -- --db-instance <id> | --db-cluster <id> --kms-key <arn|alias> [options]`
 *
 * Runs the same steps as the Step Functions workflow from a laptop, printing progress and a final
 * summary, and writes the state document after every step so `--resume <file>` continues a run.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'node:util';
import { clientsFor } from './clients';
import { releaseOriginal } from './cutover';
import { breakLock, LOCK_TAG, runStartedAt } from './lock';
import { buildPlan, formatPlan } from './plan';
import { preflight, PreflightError } from './preflight';
import { phasesFor, rollbackPhases, runPhases } from './runner';
import { formatParity } from './settings';
import { assertState, isValidRdsId, newState, RekeyState, SUPERSEDED } from './state';
import { describeRun, nextCommands } from './status';

/** Where the CLI writes its state files unless --state-file says otherwise. */
export const OUT_DIR = path.join('out', 'kms-change');

export const USAGE = `usage: npm run kms-change -- (--db-instance <id> | --db-cluster <id>) --kms-key <arn|alias> [options]
       npm run kms-change -- --resume <state.json> [--cutover] [--rollback] [--release-original]
       npm run kms-change -- (--db-instance <id> | --db-cluster <id>) --break-lock <run id> [--region <r>]

  --db-instance <id>            re-key this RDS DB instance
  --db-cluster <id>             re-key this Aurora DB cluster (and create its writer and readers)
  --kms-key <arn|alias>         target KMS key (key ARN, key ID, alias/name or alias ARN)
  --method snapshot|blue-green  snapshot (default): snapshot, copy with the key, restore, verify
                                blue-green: CreateBlueGreenDeployment with TargetKmsKeyId, switchover
  --target-region <region>      restore the copy in another Region (key from that Region)
  --target-security-group-ids a,b  security groups in the target Region (cross-Region only)
  --share-with-account <id>     copy with the key and share the snapshot with that account, then stop
  --dry-run                     preflight and print the plan; change nothing
  --cutover                     after a clean verify, rename the source to <id>-pre-rekey-<time>
                                and the new resource to <id> (blue-green: switch over).
                                Snapshot method: before the final snapshot the kit FREEZES the
                                source (its security groups are replaced by a kit-made group with
                                no inbound rules) and waits until CloudWatch DatabaseConnections is
                                0; each rename first proves the freeze held since the snapshot.
                                The original stays frozen after cutover (see --release-original)
  --max-connections <n>         connections the quiet check accepts (default 0)
  --no-freeze                   with --cutover: do not block clients or check connections. You give
                                up the proof that no write reached the source after the final
                                snapshot; any such write is missing from the new database
  --writes-stopped-since-snapshot  with --resume --cutover of a run started without --cutover:
                                cut over to its (unfrozen) copy on your word that no writes reached
                                the source since its snapshot (implies --no-freeze)
  --rollback                    with --resume: rename back (the re-keyed copy is kept); before a
                                cutover: abort (puts the original security groups back)
  --writes-since-cutover-stay-in-copy  with --resume --rollback after a cutover whose copy clients
                                already used: roll back anyway; their writes stay only in the
                                re-keyed copy (kept under its -rekey- name), not in <id>
  --release-original            with --resume after cutover: put the original security groups back
                                on <id>-pre-rekey-<run> (it is frozen until then)
  --resume <file>               continue the run recorded in this state file
  --break-lock <run id>         remove the run lock (tag db-ops-kit:rekey-lock=<run id>) of a run that
                                is dead and will never be resumed; stops nothing, deletes nothing else
  --state-file <file>           where to write the state (default out/kms-change/rekey-<id>-<run>.json)
  --region <region>             source Region (default AWS_REGION)
  --poll-seconds <n>            pause between status checks (default 30)
  --json                        print the final state document as JSON
  -h, --help                    this text`;

export class UsageError extends Error {}

export interface CliOptions {
  kind?: 'instance' | 'cluster';
  sourceId?: string;
  kmsKey?: string;
  method: 'snapshot' | 'blue-green';
  targetRegion?: string;
  targetSecurityGroupIds?: string[];
  shareWithAccount?: string;
  dryRun: boolean;
  cutover: boolean;
  writesStoppedSinceSnapshot: boolean;
  noFreeze: boolean;
  maxConnections?: number;
  releaseOriginal: boolean;
  rollback: boolean;
  writesSinceCutoverStayInCopy: boolean;
  resume?: string;
  breakLock?: string;
  stateFile?: string;
  region?: string;
  pollSeconds: number;
  json: boolean;
  help: boolean;
}

const REGION = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/;

export function parseCli(argv: string[]): CliOptions {
  let v;
  try {
    v = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'db-instance': { type: 'string' },
        'db-cluster': { type: 'string' },
        'kms-key': { type: 'string' },
        method: { type: 'string', default: 'snapshot' },
        'target-region': { type: 'string' },
        'target-security-group-ids': { type: 'string' },
        'share-with-account': { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        cutover: { type: 'boolean', default: false },
        'writes-stopped-since-snapshot': { type: 'boolean', default: false },
        'no-freeze': { type: 'boolean', default: false },
        'max-connections': { type: 'string' },
        'release-original': { type: 'boolean', default: false },
        rollback: { type: 'boolean', default: false },
        'writes-since-cutover-stay-in-copy': { type: 'boolean', default: false },
        resume: { type: 'string' },
        'break-lock': { type: 'string' },
        'state-file': { type: 'string' },
        region: { type: 'string' },
        'poll-seconds': { type: 'string', default: '30' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const o: CliOptions = {
    method: v.method as 'snapshot',
    dryRun: !!v['dry-run'],
    cutover: !!v.cutover,
    writesStoppedSinceSnapshot: !!v['writes-stopped-since-snapshot'],
    noFreeze: !!v['no-freeze'],
    maxConnections: v['max-connections'] === undefined ? undefined : Number(v['max-connections']),
    releaseOriginal: !!v['release-original'],
    rollback: !!v.rollback,
    writesSinceCutoverStayInCopy: !!v['writes-since-cutover-stay-in-copy'],
    resume: v.resume,
    breakLock: v['break-lock'],
    stateFile: v['state-file'],
    region: v.region,
    pollSeconds: Number(v['poll-seconds']),
    json: !!v.json,
    help: !!v.help,
    kmsKey: v['kms-key'],
    targetRegion: v['target-region'],
    targetSecurityGroupIds: v['target-security-group-ids']?.split(',').map((x) => x.trim()).filter(Boolean),
    shareWithAccount: v['share-with-account'],
  };
  if (o.help) return o;
  const problems: string[] = [];
  if (v['db-instance'] && v['db-cluster']) problems.push('pass either --db-instance or --db-cluster, not both');
  // RDS stores identifiers in lower case ("This parameter is stored as a lowercase string.", CreateDBInstance /
  // CreateDBCluster DBInstanceIdentifier / DBClusterIdentifier:
  // https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html) and
  // DescribeDB* returns it so; the run tag value, the derived names, the state file name and the
  // construct (which lower-cases its sourceId) must all use that spelling.
  if (v['db-instance']) Object.assign(o, { kind: 'instance', sourceId: v['db-instance'].toLowerCase() });
  if (v['db-cluster']) Object.assign(o, { kind: 'cluster', sourceId: v['db-cluster'].toLowerCase() });
  if (o.breakLock !== undefined) {
    if (!/^\d{14}$/.test(o.breakLock)) problems.push(`--break-lock takes the 14-digit run id named in the refusal, got "${o.breakLock}"`);
    if (!o.sourceId) problems.push('--break-lock needs --db-instance or --db-cluster');
    if (o.resume || o.cutover || o.rollback || o.dryRun || o.kmsKey) problems.push('--break-lock only releases a lock; do not combine it with --kms-key, --resume, --cutover, --rollback or --dry-run');
  } else if (o.resume) {
    if (o.sourceId || o.kmsKey) problems.push('--resume takes the database and key from the state file; do not pass --db-instance/--db-cluster/--kms-key');
  } else {
    if (o.rollback) problems.push('--rollback needs --resume <state file of the run that did the cutover>');
    if (!o.sourceId) problems.push('--db-instance or --db-cluster is required');
    if (!o.kmsKey) problems.push('--kms-key is required');
  }
  if (o.sourceId && !isValidRdsId(o.sourceId)) problems.push(`"${o.sourceId}" is not a valid RDS identifier`);
  if (o.method !== 'snapshot' && o.method !== 'blue-green') problems.push(`--method must be snapshot or blue-green, got "${o.method}"`);
  if (o.targetRegion && !REGION.test(o.targetRegion)) problems.push(`--target-region "${o.targetRegion}" is not a Region name`);
  if (o.region && !REGION.test(o.region)) problems.push(`--region "${o.region}" is not a Region name`);
  if (o.shareWithAccount && !/^\d{12}$/.test(o.shareWithAccount)) problems.push('--share-with-account must be a 12-digit account id');
  if (o.cutover && (o.targetRegion || o.shareWithAccount)) problems.push('--cutover renames within one Region and account; it cannot be combined with --target-region or --share-with-account');
  if (o.cutover && o.rollback) problems.push('--cutover and --rollback exclude each other');
  if (o.writesStoppedSinceSnapshot && !(o.resume && o.cutover)) problems.push('--writes-stopped-since-snapshot applies only with --resume <file> --cutover');
  if (o.dryRun && (o.cutover || o.rollback || o.resume)) problems.push('--dry-run changes nothing; do not combine it with --cutover, --rollback or --resume');
  if (o.targetSecurityGroupIds && !o.targetRegion) problems.push('--target-security-group-ids applies only with --target-region');
  if (!Number.isFinite(o.pollSeconds) || o.pollSeconds < 0) problems.push('--poll-seconds must be a number >= 0');
  if (o.noFreeze && !o.cutover) problems.push('--no-freeze applies only with --cutover (only a cutover run freezes the source)');
  if (o.maxConnections !== undefined && !(Number.isInteger(o.maxConnections) && o.maxConnections >= 0)) problems.push('--max-connections must be a whole number >= 0');
  if (o.releaseOriginal && (!o.resume || o.cutover || o.rollback)) problems.push('--release-original takes only --resume <state file of a finished cutover>');
  if (o.writesSinceCutoverStayInCopy && !(o.resume && o.rollback)) problems.push('--writes-since-cutover-stay-in-copy applies only with --resume <file> --rollback');
  if (problems.length) throw new UsageError(problems.join('\n'));
  return o;
}

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

function summary(s: RekeyState): string[] {
  const lines = ['', `Summary (run ${s.runId}, ${s.method}, ${s.kind} ${s.sourceId}):`];
  lines.push(`  target key: ${s.targetKeyArn ?? s.kmsKey}`);
  if (s.parity) lines.push(`  parity: ${s.parityClean ? 'clean' : 'NOT clean'} (${s.parity.length} settings compared)`);
  if (s.rolledBack) {
    const done = !s.cutover
      ? `done; nothing was renamed: ${s.sourceId} kept its name and its key; this run's resources are kept (listed below)`
      : `done; ${s.sourceId} is the original again, the re-keyed copy is ${s.names?.newId}`;
    lines.push(`  rollback: ${s.rolledBack.done ? done : 'started'}`);
  }
  else if (s.cutover) lines.push(`  cutover: ${s.cutover.done ? 'done' : 'started'}; original renamed to ${s.cutover.sourceRenamedTo}`);
  lines.push('  resources kept (nothing was deleted):');
  for (const a of s.artifacts) lines.push(`    - ${a.type} ${a.id} (${a.region}): ${a.role}`);
  for (const w of s.warnings) lines.push(`  warning: ${w}`);
  return lines;
}

/** `--break-lock <run id>`: says what it will do, removes only that run's lock tag, says what it did. */
async function breakLockCli(o: CliOptions, io: CliIo): Promise<number> {
  const region = o.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!region) {
    io.err(`error: no Region: pass --region or set AWS_REGION\n\n${USAGE}`);
    return 2;
  }
  const runId = o.breakLock!;
  io.out(
    `Releasing the run lock of key-change run ${runId} (started ${runStartedAt(runId)}) on ${o.kind} ${o.sourceId} in ${region}: removing the tag ${LOCK_TAG}=${runId} ` +
      `from ${o.sourceId}, ${o.sourceId}-pre-rekey-${runId}, ${o.sourceId}-rekey-${runId} and ${o.sourceId}-old1 where it names this run. This stops nothing and deletes nothing else. ` +
      `Do this only if run ${runId} is not running (no kms-change process, no RUNNING Step Functions execution): a run that is still alive would race the next one.`,
  );
  try {
    const r = await breakLock(clientsFor(region).rds, { kind: o.kind!, sourceId: o.sourceId! }, runId);
    for (const l of r.lines) io.out(`  ${l}`);
    if (r.heldByOther.length > 0 && r.released.length === 0) {
      io.err(`error: the lock on ${r.heldByOther.map((h) => `${h.id} names run ${h.holder}`).join(', ')}, not ${runId}; nothing was released. Check that run first; to release its lock pass --break-lock ${r.heldByOther[0].holder}`);
      return 1;
    }
    io.out(
      r.released.length > 0
        ? `Released. Run ${runId} can still be resumed with its state file (it takes the lock again if no other run has it); its resources are kept.`
        : `Nothing to release: no lock of run ${runId} found.`,
    );
    return 0;
  } catch (e) {
    io.err(`error: ${(e as Error).message}`);
    return 1;
  }
}

/** Runs the CLI; returns the exit code (0 ok, 1 failure, 2 usage, 3 preflight refused, 4 parity not clean). */
export async function main(argv: string[], io: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l) }): Promise<number> {
  let o: CliOptions;
  try {
    o = parseCli(argv);
  } catch (e) {
    io.err(`error: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (o.help) {
    io.out(USAGE);
    return 0;
  }
  if (o.breakLock) return breakLockCli(o, io);
  let state: RekeyState;
  let stateFile: string;
  if (o.resume) {
    try {
      state = assertState(JSON.parse(fs.readFileSync(o.resume, 'utf8')));
    } catch (e) {
      io.err(`error: cannot read state file ${o.resume}: ${(e as Error).message}\n\n${USAGE}`);
      return 2;
    }
    stateFile = o.stateFile ?? o.resume;
  } else {
    const region = o.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
    if (!region) {
      io.err(`error: no Region: pass --region or set AWS_REGION\n\n${USAGE}`);
      return 2;
    }
    state = newState({ kind: o.kind!, sourceId: o.sourceId!, kmsKey: o.kmsKey!, region, method: o.method, targetRegion: o.targetRegion, shareWithAccount: o.shareWithAccount, targetSecurityGroupIds: o.targetSecurityGroupIds });
    stateFile = o.stateFile ?? path.join(OUT_DIR, `rekey-${state.sourceId}-${state.runId}.json`);
    if (o.noFreeze) state.freezeOptOut = `--no-freeze at ${new Date().toISOString()}: the kit did not block clients or check connections; writes that reached ${state.sourceId} after the final snapshot are not in the new ${state.kind}`;
  }
  if (o.maxConnections !== undefined) state.maxConnections = o.maxConnections;
  if (o.writesSinceCutoverStayInCopy) state.rollbackStrandsWrites = `--writes-since-cutover-stay-in-copy at ${new Date().toISOString()}: writes clients made to the re-keyed copy under ${state.sourceId} stay only in the copy`;
  state.stateFile = stateFile;
  const c = clientsFor(state.region, state.targetRegion);
  const save = (s: RekeyState) => {
    if (o.dryRun) return;
    fs.mkdirSync(path.dirname(path.resolve(stateFile)), { recursive: true });
    fs.writeFileSync(stateFile, `${JSON.stringify(s, null, 2)}\n`);
  };
  if (o.rollback && state.rolledBack?.done) {
    // Nothing to do, and nothing is touched (no lock is taken): say what exists now.
    const st = await describeRun(c, state);
    io.out(`Run ${state.runId} was already rolled back at ${state.rolledBack.at}; nothing was changed now. What exists now:`);
    for (const l of st.lines) io.out(`  ${l}`);
    return 0;
  }
  if (o.releaseOriginal) {
    try {
      const msg = await releaseOriginal(c, state);
      save(state);
      io.out(msg);
      return 0;
    } catch (e) {
      io.err(`error: ${(e as Error).message}`);
      return 1;
    }
  }
  let verified = false;
  const onStep = (step: string, r: { message: string; state: RekeyState }) => {
    if (step === 'verify') verified = true;
    if (step === 'preflight' && !o.resume) io.out(`state file: ${stateFile}`);
    const pct = r.state.progress?.step === step && r.state.progress.percent !== undefined ? ` [${r.state.progress.percent}%]` : '';
    io.out(`${new Date().toISOString().slice(11, 19)} ${step.padEnd(20)} ${r.message}${pct}`);
  };
  try {
    if (o.dryRun) {
      const s = await preflight(c, state);
      io.out(`preflight passed: ${s.kind} ${s.sourceId} (${s.sourceKeyArn ?? 'unencrypted'}) → ${s.targetKeyArn}`);
      io.out(formatPlan(buildPlan(s)));
      return 0;
    }
    if (o.cutover && state.method === 'snapshot' && !state.cutover) {
      if (!o.resume || !state.snapshotStartedAt) {
        io.out(
          state.freezeOptOut
            ? `WARNING (--no-freeze): writes to ${state.sourceId} must be stopped now, by you. The snapshot taken next is the data the new ${state.kind} gets; writes after it stay only in the original (kept as ${state.sourceId}-pre-rekey-${state.runId}).`
            : `Write freeze: before the final snapshot the kit replaces the security groups of ${state.sourceId} with a group that admits no clients and waits until DatabaseConnections is ${state.maxConnections ?? 0}. Clients are cut off from now until the cutover completes; the original stays blocked afterwards until --release-original.`,
        );
      } else if (!state.snapshotWritesStopped) {
        if (!o.writesStoppedSinceSnapshot) {
          io.err(
            `error: this run's snapshot was taken at ${state.snapshotStartedAt} without --cutover (a rehearsal): the copy lacks every write made to ${state.sourceId} since then.\n` +
              `  Either stop writes and start a new run with --cutover (a fresh snapshot; this run's resources are kept),\n` +
              `  or, only if no writes reached ${state.sourceId} since ${state.snapshotStartedAt}: npm run kms-change -- --resume ${o.resume} --cutover --writes-stopped-since-snapshot`,
          );
          return 2;
        }
        state.snapshotWritesStopped = true;
        state.freezeOptOut = `--writes-stopped-since-snapshot at ${new Date().toISOString()}: the copy is from an unfrozen snapshot; the operator declared that no writes reached ${state.sourceId} since ${state.snapshotStartedAt}`;
        state.warnings.push(`operator confirmed at ${new Date().toISOString()} that no writes reached ${state.sourceId} since the snapshot of ${state.snapshotStartedAt}`);
      }
    }
    const phases = o.rollback ? rollbackPhases() : phasesFor(state, { cutover: o.cutover });
    if (o.rollback && state.lastStep && !['rollbackRenameNew', 'checkRollbackNew', 'rollbackRenameSource', 'checkRollbackSource', 'rollbackUnfreeze'].includes(state.lastStep)) state.lastStep = undefined;
    if (o.resume && o.cutover && state.lastStep === 'finalize' && !state.cutover) state.lastStep = 'verify';
    const final = await runPhases(c, state, phases, { pollMs: o.pollSeconds * 1000, onStep, save });
    if (final.parity && verified) io.out(`\nParity report:\n${formatParity(final.parity)}`);
    for (const l of summary(final)) io.out(l);
    if (o.json) io.out(JSON.stringify(final, null, 2));
    // A rollback (or the abort of a run before cutover) is not stopped by the parity report: it undid the run.
    if (final.parityClean === false && !o.rollback) {
      io.err('verify found differences; no cutover was done. Fix them on the new resource and resume with --resume.');
      return 4;
    }
    if (!o.cutover && !o.rollback && !final.shareWithAccount && !final.targetRegion && final.lastStep === 'finalize' && !final.cutover) {
      io.out(
        `\nNext: this copy holds the data as of ${final.snapshotStartedAt}; writes since then are only in ${final.sourceId}.` +
          `\n  To switch over: stop writes, then start a new run with --cutover (fresh snapshot). Resume this run with` +
          `\n  --resume ${stateFile} --cutover --writes-stopped-since-snapshot only if no writes reached ${final.sourceId} since that snapshot.`,
      );
    }
    return 0;
  } catch (e) {
    if (e instanceof PreflightError) {
      io.err(e.message);
      return 3;
    }
    io.err(`error: ${(e as Error).message}`);
    if (!o.dryRun) {
      // Described from AWS now, from the last saved state (the file a resume starts from).
      let last = state;
      try {
        last = assertState(JSON.parse(fs.readFileSync(stateFile, 'utf8')));
      } catch {
        /* nothing saved yet */
      }
      const st = await describeRun(c, last);
      io.err('What exists now (described from AWS):');
      for (const l of st.lines) io.err(`  ${l}`);
      // A run superseded by a later run's cutover: the error's own Next is the way on.
      if ((e as Error).name !== SUPERSEDED) for (const l of nextCommands(last, st, stateFile)) io.err(l);
    }
    return 1;
  }
}

if (require.main === module) {
  if (!process.env.POWERTOOLS_LOG_LEVEL) process.env.POWERTOOLS_LOG_LEVEL = 'WARN';
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
