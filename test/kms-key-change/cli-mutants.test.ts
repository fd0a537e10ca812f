/**
 * The CLI (lambda/kms-key-change/cli.ts) as an operator reads it: every argument refusal with its
 * exact sentence, the parsed options, the output of a resumed run that verifies and finalizes (parity
 * report, summary, the exact next command), exit 4 on a parity report that is not clean, --json, the
 * warning printed before a cutover run, and --break-lock refused when the lock names another run.
 * RDS is the in-memory fake of ./fake-rds.ts (client mock): the run needs renames, tags and describe
 * answers that carry state between steps, which moto does too, but per mutant the fake is ~100x
 * faster; the end-to-end CLI runs on moto are in test/integration/kms-key-change.
 */
import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { DescribeKeyCommand, GetKeyPolicyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateDBSnapshotCommand, DescribeDBClusterSnapshotsCommand, DescribeDBInstancesCommand, DescribeDBProxiesCommand, DescribeDBSnapshotsCommand, DescribeGlobalClustersCommand, RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main, parseCli, USAGE } from '../../lambda/kms-key-change/cli';
import { captureInstance } from '../../lambda/kms-key-change/settings';
import { newState, RekeyState } from '../../lambda/kms-key-change/state';
import { LOCK_TAG } from '../../lambda/kms-key-change/workflow';
import { FakeRds } from './fake-rds';
import { ACCOUNT, DEFAULT_POLICY, instance, NEW_KEY, notFound, OLD_KEY } from './fixtures';

const stub = mockClient(RDSClient);
const kms = mockClient(KMSClient);
const ec2 = mockClient(EC2Client);
const cw = mockClient(CloudWatchClient);
let rds: FakeRds;
let dir: string;

const RUN = '20261130030405';
const PRE = `orders-pre-rekey-${RUN}`;
const NEWID = `orders-rekey-${RUN}`;
const inst = (id: string, key: string, over = {}) => instance({ DBInstanceIdentifier: id, DBInstanceArn: `arn:aws:rds:us-east-1:${ACCOUNT}:db:${id}`, KmsKeyId: key, ...over });

function runState(over: Partial<RekeyState> = {}): RekeyState {
  const s = newState({ kind: 'instance', sourceId: 'orders', kmsKey: NEW_KEY, region: 'us-east-1', now: new Date('2026-11-30T03:04:05Z') });
  return {
    ...s,
    account: ACCOUNT,
    targetKeyArn: NEW_KEY,
    sourceKeyArn: OLD_KEY,
    lastStep: 'checkApply',
    snapshotStartedAt: '2026-11-30T03:05:00.000Z',
    source: { kind: 'instance', instance: captureInstance(instance()) },
    names: { sourceSnapshot: `${NEWID}-src`, copySnapshot: `${NEWID}-new`, newId: NEWID, preRekeyId: PRE },
    artifacts: [{ type: 'db-instance', id: NEWID, region: 'us-east-1', role: 're-keyed copy' }],
    ...over,
  };
}
function stateFile(s: RekeyState, name = 'state.json'): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, JSON.stringify(s));
  return f;
}
async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

beforeEach(() => {
  stub.reset();
  kms.reset();
  ec2.reset();
  cw.reset();
  rds = new FakeRds(stub);
  stub.on(DescribeDBSnapshotsCommand).rejects(notFound('DBSnapshotNotFoundFault'));
  stub.on(DescribeDBClusterSnapshotsCommand).rejects(notFound('DBClusterSnapshotNotFoundFault'));
  cw.on(GetMetricStatisticsCommand).resolves({ Datapoints: [] });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kms-cli-m-'));
  process.env.REKEY_LOCK_SETTLE_MS = '0';
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('parseCli refusals: each problem in its own words, all at once', () => {
  test.each([
    [['--db-instance', 'orders', '--region', 'moon'], '--kms-key is required\n--region "moon" is not a Region name'],
    [['--db-instance', 'orders', '--kms-key', 'k', '--target-security-group-ids', 'sg-1'], '--target-security-group-ids applies only with --target-region'],
    [['--db-instance', 'orders', '--kms-key', 'k', '--no-freeze'], '--no-freeze applies only with --cutover (only a cutover run freezes the source)'],
    [['--db-instance', 'orders', '--kms-key', 'k', '--max-connections', '1.5'], '--max-connections must be a whole number >= 0'],
    [['--db-instance', 'orders', '--kms-key', 'k', '--max-connections=-1'], '--max-connections must be a whole number >= 0'],
    [['--db-instance', 'orders', '--kms-key', 'k', '--poll-seconds=-1'], '--poll-seconds must be a number >= 0'],
    [['--db-instance', 'orders', '--kms-key', 'k', '--release-original'], '--release-original takes only --resume <state file of a finished cutover>'],
    [['--resume', 's.json', '--release-original', '--cutover'], '--release-original takes only --resume <state file of a finished cutover>'],
    [['--resume', 's.json', '--release-original', '--rollback'], '--release-original takes only --resume <state file of a finished cutover>'],
    [['--resume', 's.json', '--writes-since-cutover-stay-in-copy'], '--writes-since-cutover-stay-in-copy applies only with --resume <file> --rollback'],
    [['--db-instance', 'orders', '--kms-key', 'k', '--writes-since-cutover-stay-in-copy'], '--writes-since-cutover-stay-in-copy applies only with --resume <file> --rollback'],
    [['--resume', 's.json', '--cutover', '--rollback'], '--cutover and --rollback exclude each other'],
    [['--resume', 's.json', '--db-cluster', 'ledger'], '--resume takes the database and key from the state file; do not pass --db-instance/--db-cluster/--kms-key'],
    [['--resume', 's.json', '--kms-key', 'k'], '--resume takes the database and key from the state file; do not pass --db-instance/--db-cluster/--kms-key'],
    [['--resume', 's.json', '--writes-stopped-since-snapshot'], '--writes-stopped-since-snapshot applies only with --resume <file> --cutover'],
    [['--resume', 's.json', '--dry-run'], '--dry-run changes nothing; do not combine it with --cutover, --rollback or --resume'],
    [['--db-instance', 'orders', '--kms-key', 'k', '--dry-run', '--rollback'], '--rollback needs --resume <state file of the run that did the cutover>\n--dry-run changes nothing; do not combine it with --cutover, --rollback or --resume'],
    [['--db-instance', 'orders', '--kms-key', 'k', '--share-with-account', '210987654321', '--cutover'], '--cutover renames within one Region and account; it cannot be combined with --target-region or --share-with-account'],
    [['--db-instance', 'orders', '--kms-key', 'k', '--share-with-account', '2109876543210'], '--share-with-account must be a 12-digit account id'],
    [['--db-instance', 'orders', '--kms-key', 'k', '--target-region', 'xus-west-2'], '--target-region "xus-west-2" is not a Region name'],
    [['--db-instance', 'orders', '--kms-key', 'k', '--target-region', 'us-west-2x'], '--target-region "us-west-2x" is not a Region name'],
    [['--db-instance', 'orders', '--break-lock', '2026113003040'], '--break-lock takes the 14-digit run id named in the refusal, got "2026113003040"'],
    [['--db-instance', 'orders', '--break-lock', `${RUN}1`], `--break-lock takes the 14-digit run id named in the refusal, got "${RUN}1"`],
    [['--break-lock', RUN], '--break-lock needs --db-instance or --db-cluster'],
    [['--db-instance', 'orders', '--break-lock', RUN, '--kms-key', 'k'], '--break-lock only releases a lock; do not combine it with --kms-key, --resume, --cutover, --rollback or --dry-run'],
    [['--db-instance', 'orders', '--break-lock', RUN, '--resume', 's.json'], '--break-lock only releases a lock; do not combine it with --kms-key, --resume, --cutover, --rollback or --dry-run'],
    [['--db-instance', 'orders', '--break-lock', RUN, '--cutover'], '--break-lock only releases a lock; do not combine it with --kms-key, --resume, --cutover, --rollback or --dry-run'],
    [['--db-instance', 'orders', '--break-lock', RUN, '--rollback'], '--break-lock only releases a lock; do not combine it with --kms-key, --resume, --cutover, --rollback or --dry-run'],
    [['--db-instance', 'orders', '--break-lock', RUN, '--dry-run'], '--break-lock only releases a lock; do not combine it with --kms-key, --resume, --cutover, --rollback or --dry-run'],
    [['--db-cluster', 'ledger-'], '--kms-key is required\n"ledger-" is not a valid RDS identifier'],
  ])('%j', async (args, problems) => {
    expect(() => parseCli(args as string[])).toThrow(problems as string);
    const r = await cli(args as string[]);
    expect(r.code).toBe(2);
    expect(r.err).toEqual([`error: ${problems}\n\n${USAGE}`]);
    expect(r.out).toEqual([]);
  });
});

describe('parseCli accepts', () => {
  test('defaults of a plain run', () => {
    expect(parseCli(['--db-instance', 'orders', '--kms-key', 'alias/k'])).toEqual({
      kind: 'instance',
      sourceId: 'orders',
      kmsKey: 'alias/k',
      method: 'snapshot',
      dryRun: false,
      cutover: false,
      writesStoppedSinceSnapshot: false,
      noFreeze: false,
      maxConnections: undefined,
      releaseOriginal: false,
      rollback: false,
      writesSinceCutoverStayInCopy: false,
      resume: undefined,
      breakLock: undefined,
      stateFile: undefined,
      region: undefined,
      pollSeconds: 30,
      json: false,
      help: false,
      targetRegion: undefined,
      targetSecurityGroupIds: undefined,
      shareWithAccount: undefined,
    });
  });

  test('every flag that is valid in its combination', () => {
    expect(parseCli(['--db-cluster', 'ledger', '--kms-key', 'k', '--cutover', '--no-freeze', '--max-connections', '0', '--region', 'us-gov-west-1', '--json', '--state-file', 'x.json', '--method', 'blue-green'])).toMatchObject({
      kind: 'cluster', cutover: true, noFreeze: true, maxConnections: 0, region: 'us-gov-west-1', json: true, stateFile: 'x.json', method: 'blue-green',
    });
    expect(parseCli(['--resume', 's.json', '--cutover', '--writes-stopped-since-snapshot', '--max-connections', '3'])).toMatchObject({ resume: 's.json', cutover: true, writesStoppedSinceSnapshot: true, maxConnections: 3 });
    expect(parseCli(['--resume', 's.json', '--rollback', '--writes-since-cutover-stay-in-copy'])).toMatchObject({ rollback: true, writesSinceCutoverStayInCopy: true });
    expect(parseCli(['--resume', 's.json', '--release-original'])).toMatchObject({ releaseOriginal: true });
    expect(parseCli(['--db-instance', 'orders', '--kms-key', 'k', '--dry-run', '--share-with-account', '210987654321', '--target-region', 'eu-west-1', '--target-security-group-ids', ' sg-1 ,,sg-2'])).toMatchObject({
      dryRun: true, shareWithAccount: '210987654321', targetRegion: 'eu-west-1', targetSecurityGroupIds: ['sg-1', 'sg-2'],
    });
    expect(parseCli(['--db-instance', 'orders', '--break-lock', RUN, '--region', 'us-isob-east-1'])).toMatchObject({ breakLock: RUN, region: 'us-isob-east-1' });
    expect(parseCli(['-h', '--bogus-free'].slice(0, 1))).toMatchObject({ help: true });
    expect(parseCli(['--help', '--rollback'])).toMatchObject({ help: true, rollback: true });
  });
});

describe('a resumed run that verifies and finalizes', () => {
  const ready = (over = {}) => {
    rds.addInstance(inst('orders', OLD_KEY, { TagList: [{ Key: LOCK_TAG, Value: RUN }] }));
    rds.addInstance(inst(NEWID, NEW_KEY, { PerformanceInsightsKMSKeyId: NEW_KEY, ...over }));
  };

  test('prints each step, the parity report, the summary and the exact next command; saves the state', async () => {
    ready();
    const f = stateFile(runState({ warnings: ['a warning'] }));
    const r = await cli(['--resume', f, '--poll-seconds', '0']);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d verify {15}${NEWID} is encrypted with ${NEW_KEY}; parity clean \\(52 settings\\)$`));
    expect(r.out[1]).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d finalize {13}kept 1 resource\\(s\\): db-instance ${NEWID} \\(us-east-1\\); run lock released \\(orders, ${NEWID}\\)$`));
    const parity = r.out[2].split('\n');
    expect(parity.slice(0, 4)).toEqual(['', 'Parity report:', expect.stringMatching(/^result {3}setting {23}source {56}new$/), expect.stringMatching(/^changed {2}encryption key {16}arn:aws:kms/)]);
    expect(parity).toHaveLength(2 + 1 + 52);
    expect(r.out.slice(3)).toEqual([
      '',
      `Summary (run ${RUN}, snapshot, instance orders):`,
      `  target key: ${NEW_KEY}`,
      '  parity: clean (52 settings compared)',
      '  resources kept (nothing was deleted):',
      `    - db-instance ${NEWID} (us-east-1): re-keyed copy`,
      '  warning: a warning',
      `\nNext: this copy holds the data as of 2026-11-30T03:05:00.000Z; writes since then are only in orders.\n  To switch over: stop writes, then start a new run with --cutover (fresh snapshot). Resume this run with\n  --resume ${f} --cutover --writes-stopped-since-snapshot only if no writes reached orders since that snapshot.`,
    ]);
    const saved = JSON.parse(fs.readFileSync(f, 'utf8'));
    expect(saved).toMatchObject({ lastStep: 'finalize', parityClean: true, stateFile: f });
    expect(rds.instances.get('orders')!.TagList).toEqual([]);
  });

  test('--json prints the final state; --state-file writes there instead of the resumed file', async () => {
    ready();
    const f = stateFile(runState({ targetKeyArn: NEW_KEY }));
    const other = path.join(dir, 'deeper', 'copy.json');
    const r = await cli(['--resume', f, '--poll-seconds', '0', '--json', '--state-file', other]);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out[r.out.length - 2]);
    expect(json).toEqual(JSON.parse(fs.readFileSync(other, 'utf8')));
    expect(json).toMatchObject({ lastStep: 'finalize', stateFile: other });
    expect(JSON.parse(fs.readFileSync(f, 'utf8')).lastStep).toBe('checkApply');
    expect(r.out[r.out.length - 1]).toContain(`--resume ${other} --cutover --writes-stopped-since-snapshot`);
  });

  test('a parity report that is not clean: printed with DIFFERS, exit 4, no finalize, the lock kept', async () => {
    ready({ DBInstanceClass: 'db.r6g.xlarge' });
    const f = stateFile(runState());
    const r = await cli(['--resume', f, '--poll-seconds', '0']);
    expect(r.code).toBe(4);
    expect(r.err).toEqual(['verify found differences; no cutover was done. Fix them on the new resource and resume with --resume.']);
    expect(r.out[0]).toMatch(new RegExp(`verify {15}${NEWID}: parity NOT clean: instanceClass$`));
    expect(r.out[1]).toMatch(/\nDIFFERS {2}instanceClass {17}db\.r6g\.large +db\.r6g\.xlarge\n/);
    expect(r.out).toContain('  parity: NOT clean (52 settings compared)');
    expect(r.out.join('\n')).not.toMatch(/finalize|Next:/);
    expect(rds.instances.get('orders')!.TagList).toEqual([{ Key: LOCK_TAG, Value: RUN }]);
  });

  test('a run with nothing left prints no parity report (verify did not run now) and no Next for a cross-Region copy', async () => {
    ready();
    const f = stateFile(runState({ lastStep: 'finalize', parity: [{ setting: 'x', source: 1, target: 1, result: 'same' }], parityClean: true, targetRegion: 'us-west-2' }));
    const r = await cli(['--resume', f, '--poll-seconds', '0', '--max-connections', '2']);
    expect(r.code).toBe(0);
    expect(r.out).toEqual(['', `Summary (run ${RUN}, snapshot, instance orders):`, `  target key: ${NEW_KEY}`, '  parity: clean (1 settings compared)', '  resources kept (nothing was deleted):', `    - db-instance ${NEWID} (us-east-1): re-keyed copy`]);
    expect(JSON.parse(fs.readFileSync(f, 'utf8')).maxConnections).toBeUndefined(); // no step ran: nothing saved
    // Only finalize ran now: the parity report of the earlier verify is summarised, not printed again.
    const h = stateFile(runState({ lastStep: 'verify', parity: [{ setting: 'x', source: 1, target: 1, result: 'same' }], parityClean: true }), 'h.json');
    const fin = await cli(['--resume', h, '--poll-seconds', '0']);
    expect(fin.code).toBe(0);
    expect(fin.out.map((l) => l.slice(9, 29).trim())[0]).toBe('finalize');
    expect(fin.out.join('\n')).not.toMatch(/Parity report/);
    expect(fin.out).toContain('  parity: clean (1 settings compared)');
    // The key as passed when preflight did not resolve one; NOT clean when verify said so.
    const g = stateFile(runState({ lastStep: 'finalize', targetKeyArn: undefined, kmsKey: 'alias/next', parity: [], parityClean: false, targetRegion: 'us-west-2' }), 'g.json');
    expect((await cli(['--resume', g])).out.slice(2, 4)).toEqual(['  target key: alias/next', '  parity: NOT clean (0 settings compared)']);
  });
});

describe('cutover and rollback runs', () => {
  test('a fresh cutover run announces the write freeze (with the connection limit) before anything; --no-freeze warns instead', async () => {
    rds.addInstance(inst('orders', OLD_KEY, { DBInstanceStatus: 'stopped' }));
    stub.on(DescribeDBProxiesCommand).resolves({ DBProxies: [] });
    stub.on(DescribeGlobalClustersCommand).resolves({ GlobalClusters: [] });
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'b', Arn: NEW_KEY, KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', KeyManager: 'CUSTOMER' } });
    kms.on(GetKeyPolicyCommand).resolves({ Policy: DEFAULT_POLICY });
    const base = ['--db-instance', 'orders', '--kms-key', NEW_KEY, '--region', 'us-east-1', '--cutover', '--state-file', path.join(dir, 'c.json')];
    const a = await cli([...base, '--max-connections', '3']);
    expect(a.code).toBe(3);
    expect(a.out).toEqual([
      'Write freeze: before the final snapshot the kit replaces the security groups of orders with a group that admits no clients and waits until DatabaseConnections is 3. Clients are cut off from now until the cutover completes; the original stays blocked afterwards until --release-original.',
    ]);
    expect((await cli(base)).out[0]).toMatch(/waits until DatabaseConnections is 0\. /);
    const b = await cli([...base, '--no-freeze']);
    expect(b.out).toEqual([
      expect.stringMatching(/^WARNING \(--no-freeze\): writes to orders must be stopped now, by you\. The snapshot taken next is the data the new instance gets; writes after it stay only in the original \(kept as orders-pre-rekey-\d{14}\)\.$/),
    ]);
    // A plain (rehearsal) run announces nothing.
    expect((await cli(base.filter((x) => x !== '--cutover'))).out).toEqual([]);
  });

  test('--writes-stopped-since-snapshot: the rehearsal copy is cut over on the operator\'s word, recorded in the state and the summary', async () => {
    rds.addInstance(inst('orders', OLD_KEY, { TagList: [{ Key: LOCK_TAG, Value: RUN }] }));
    rds.addInstance(inst(NEWID, NEW_KEY, { PerformanceInsightsKMSKeyId: NEW_KEY }));
    const f = stateFile(runState({ lastStep: 'finalize', parityClean: true }));
    const r = await cli(['--resume', f, '--cutover', '--writes-stopped-since-snapshot', '--poll-seconds', '0', '--max-connections', '2']);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    const saved = JSON.parse(fs.readFileSync(f, 'utf8'));
    expect(saved).toMatchObject({
      snapshotWritesStopped: true,
      maxConnections: 2,
      cutoverRequested: true,
      lastStep: 'finalize',
      cutover: { sourceRenamedTo: PRE, memberRenames: [], done: true },
      freezeOptOut: expect.stringMatching(/^--writes-stopped-since-snapshot at \d{4}-\d\d-\d\dT[\d:.]+Z: the copy is from an unfrozen snapshot; the operator declared that no writes reached orders since 2026-11-30T03:05:00.000Z$/),
      warnings: [expect.stringMatching(/^operator confirmed at \d{4}-\d\d-\d\dT[\d:.]+Z that no writes reached orders since the snapshot of 2026-11-30T03:05:00.000Z$/)],
    });
    expect(r.out.map((l) => l.slice(9, 29).trim()).slice(0, 5)).toEqual(['renameSource', 'checkRenameSource', 'renameTarget', 'checkRenameTarget', 'finalize']);
    expect(r.out.slice(5, 10)).toEqual(['', `Summary (run ${RUN}, snapshot, instance orders):`, `  target key: ${NEW_KEY}`, `  cutover: done; original renamed to ${PRE}`, '  resources kept (nothing was deleted):']);
    expect(r.out.join('\n')).not.toMatch(/Parity report|Next:/);
    expect(rds.instanceKeys()).toEqual({ orders: NEW_KEY, [PRE]: OLD_KEY });
  });

  test('summary of a rollback: started, then done naming the kept copy', async () => {
    rds.addInstance(inst('orders', NEW_KEY, { TagList: [{ Key: LOCK_TAG, Value: RUN }] }));
    rds.addInstance(inst(PRE, OLD_KEY, { TagList: [{ Key: LOCK_TAG, Value: RUN }] }));
    const f = stateFile(runState({ lastStep: 'finalize', parityClean: true, snapshotWritesStopped: true, freezeOptOut: 'x', cutover: { at: 'T', sourceRenamedTo: PRE, memberRenames: [], done: true } }));
    const r = await cli(['--resume', f, '--rollback', '--poll-seconds', '0', '--writes-since-cutover-stay-in-copy']);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`  rollback: done; orders is the original again, the re-keyed copy is ${NEWID}`);
    expect(r.out.join('\n')).not.toMatch(/cutover: done|Next:/);
    expect(rds.instanceKeys()).toEqual({ orders: OLD_KEY, [NEWID]: NEW_KEY });
    expect(JSON.parse(fs.readFileSync(f, 'utf8')).rollbackStrandsWrites).toMatch(/^--writes-since-cutover-stay-in-copy at \d{4}-[\d-]+T[\d:.]+Z: writes clients made to the re-keyed copy under orders stay only in the copy$/);
  });

  test('an abort before any cutover and without a freeze ends "done" (not "started"), says nothing was renamed, and a second --rollback changes nothing', async () => {
    rds.addInstance(inst('orders', OLD_KEY, { TagList: [{ Key: LOCK_TAG, Value: RUN }] }));
    rds.addInstance(inst(NEWID, NEW_KEY, { TagList: [{ Key: LOCK_TAG, Value: RUN }] }));
    const f = stateFile(runState({ lastStep: 'verify', parityClean: true }));
    const r = await cli(['--resume', f, '--rollback', '--poll-seconds', '0']);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`  rollback: done; nothing was renamed: orders kept its name and its key; this run's resources are kept (listed below)`);
    expect(r.out.join('\n')).not.toMatch(/rollback: started|is the original again/);
    expect(JSON.parse(fs.readFileSync(f, 'utf8')).rolledBack).toMatchObject({ done: true });
    expect(rds.instanceKeys()).toEqual({ orders: OLD_KEY, [NEWID]: NEW_KEY });
    const again = await cli(['--resume', f, '--rollback', '--poll-seconds', '0']);
    expect(again.code).toBe(0);
    expect(again.out[0]).toMatch(new RegExp(`^Run ${RUN} was already rolled back at .+; nothing was changed now\\. What exists now:$`));
  });
});


describe('fresh runs and --break-lock', () => {
  const preflightPasses = () => {
    stub.on(DescribeDBProxiesCommand).resolves({ DBProxies: [] });
    stub.on(DescribeGlobalClustersCommand).resolves({ GlobalClusters: [] });
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'b', Arn: NEW_KEY, KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', KeyManager: 'CUSTOMER' } });
    kms.on(GetKeyPolicyCommand).resolves({ Policy: DEFAULT_POLICY });
  };

  test('a fresh run names its state file after preflight; a later failure is described from the SAVED state', async () => {
    rds.addInstance(inst('orders', OLD_KEY));
    preflightPasses();
    stub.on(CreateDBSnapshotCommand).rejects(Object.assign(new Error('snapshot quota exceeded'), { name: 'SnapshotQuotaExceeded' }));
    const sf = path.join(dir, 'fresh.json');
    const r = await cli(['--db-instance', 'orders', '--kms-key', NEW_KEY, '--region', 'us-east-1', '--state-file', sf, '--poll-seconds', '0']);
    expect(r.code).toBe(1);
    const saved = JSON.parse(fs.readFileSync(sf, 'utf8'));
    const run = saved.runId as string;
    expect(run).toMatch(/^\d{14}$/);
    expect(saved).toMatchObject({ lastStep: 'checkFreeze', stateFile: sf, names: { newId: `orders-rekey-${run}` } });
    expect(r.out[0]).toBe(`state file: ${sf}`);
    expect(r.out.slice(1).map((l) => l.slice(9, 29).trim())).toEqual(['preflight', 'freezeSource', 'checkFreeze']);
    expect(r.out[1]).toMatch(/ preflight {12}preflight passed for instance orders → /);
    expect(r.err).toEqual([
      'error: snapshot quota exceeded',
      'What exists now (described from AWS):',
      `  orders: exists, available, source key ${OLD_KEY}, security groups sg-2, sg-1`,
      `  orders-pre-rekey-${run}: does not exist`,
      `  orders-rekey-${run}: does not exist`,
      `  snapshot orders-rekey-${run}-src: does not exist`,
      `  snapshot orders-rekey-${run}-new: does not exist`,
      'orders is still the original.',
      `Continue once the cause is fixed: npm run kms-change -- --resume ${sf}`,
      `or abort (releases the lock); every copy is kept: npm run kms-change -- --resume ${sf} --rollback`,
    ]);
  });

  test('a dry run that fails on an AWS error says only that (nothing is described, no next commands)', async () => {
    stub.on(DescribeDBInstancesCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }));
    preflightPasses();
    const r = await cli(['--db-instance', 'orders', '--kms-key', NEW_KEY, '--region', 'us-east-1', '--dry-run']);
    expect(r).toEqual({ code: 1, out: [], err: ['error: not authorized'] });
  });

  test('--break-lock says what it will do; a lock that names another run is left and exits 1 naming it', async () => {
    rds.addInstance(inst('orders', OLD_KEY, { TagList: [{ Key: LOCK_TAG, Value: '20261201000000' }] }));
    const r = await cli(['--db-instance', 'orders', '--region', 'us-east-1', '--break-lock', RUN]);
    expect(r.out).toEqual([
      `Releasing the run lock of key-change run ${RUN} (started 2026-11-30 03:04:05 UTC) on instance orders in us-east-1: removing the tag ${LOCK_TAG}=${RUN} from orders, ${PRE}, ${NEWID} and orders-old1 where it names this run. This stops nothing and deletes nothing else. Do this only if run ${RUN} is not running (no kms-change process, no RUNNING Step Functions execution): a run that is still alive would race the next one.`,
      `  left arn:aws:rds:us-east-1:${ACCOUNT}:db:orders alone: its lock names run 20261201000000 (started 2026-12-01 00:00:00 UTC), not ${RUN}`,
    ]);
    expect(r.err).toEqual([`error: the lock on orders names run 20261201000000, not ${RUN}; nothing was released. Check that run first; to release its lock pass --break-lock 20261201000000`]);
    expect(r.code).toBe(1);
    // Released on the copy while the source names another run: released, exit 0.
    rds.addInstance(inst(NEWID, NEW_KEY, { TagList: [{ Key: LOCK_TAG, Value: RUN }] }));
    const p = await cli(['--db-instance', 'orders', '--region', 'us-east-1', '--break-lock', RUN]);
    expect(p.code).toBe(0);
    expect(p.err).toEqual([]);
    expect(p.out.at(-1)).toBe(`Released. Run ${RUN} can still be resumed with its state file (it takes the lock again if no other run has it); its resources are kept.`);
  });
});

test('aborting (--rollback before any cutover) a run whose verify was not clean exits 0 and does not tell the operator to resume it', async () => {
  rds.addInstance(inst('orders', OLD_KEY, { TagList: [{ Key: LOCK_TAG, Value: RUN }] }));
  rds.addInstance(inst(NEWID, NEW_KEY, { TagList: [{ Key: LOCK_TAG, Value: RUN }] }));
  const f = stateFile(runState({ lastStep: 'verify', parityClean: false, parity: [{ setting: 'instanceClass', source: 'a', target: 'b', result: 'differs' }] }));
  const r = await cli(['--resume', f, '--rollback', '--poll-seconds', '0']);
  expect(r.err).toEqual([]);
  expect(r.code).toBe(0);
  expect(r.out.map((l) => l.slice(9, 29).trim()).slice(0, 6)).toEqual(['rollbackRenameNew', 'checkRollbackNew', 'rollbackRenameSource', 'checkRollbackSource', 'rollbackUnfreeze', 'finalize']);
  expect(rds.instances.get('orders')!.TagList).toEqual([{ Key: 'db-ops-kit:rekey-source', Value: 'orders' }]); // the lock released; the run tag stays
  expect(rds.renames()).toEqual([]);
});

test('without an io argument the CLI prints to the console; a fresh run without --state-file writes out/kms-change/rekey-<id>-<run>.json', async () => {
  const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  const cwd = process.cwd();
  try {
    expect(await main(['--help'])).toBe(0);
    expect(log).toHaveBeenCalledWith(USAGE);
    expect(await main(['--bogus'])).toBe(2);
    expect(error).toHaveBeenCalledWith(expect.stringMatching(/^error: Unknown option '--bogus'/));
    rds.addInstance(inst('orders', OLD_KEY));
    stub.on(DescribeDBProxiesCommand).resolves({ DBProxies: [] });
    stub.on(DescribeGlobalClustersCommand).resolves({ GlobalClusters: [] });
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'b', Arn: NEW_KEY, KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', KeyManager: 'CUSTOMER' } });
    kms.on(GetKeyPolicyCommand).resolves({ Policy: DEFAULT_POLICY });
    stub.on(CreateDBSnapshotCommand).rejects(Object.assign(new Error('quota'), { name: 'SnapshotQuotaExceeded' }));
    process.chdir(dir);
    const r = await cli(['--db-instance', 'orders', '--kms-key', NEW_KEY, '--region', 'us-east-1', '--poll-seconds', '0']);
    expect(r.code).toBe(1);
    const files = fs.readdirSync(path.join(dir, 'out', 'kms-change'));
    expect(files).toEqual([expect.stringMatching(/^rekey-orders-\d{14}\.json$/)]);
    expect(r.out[0]).toBe(`state file: ${path.join('out', 'kms-change', files[0])}`);
  } finally {
    process.chdir(cwd);
    log.mockRestore();
    error.mockRestore();
  }
});
