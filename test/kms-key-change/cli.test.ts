import { main, parseCli, USAGE } from '../../lambda/kms-key-change/cli';
import { assertState, newState } from '../../lambda/kms-key-change/state';

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test.each([
  [['--kms-key', 'alias/x'], /--db-instance or --db-cluster is required/],
  [['--db-instance', 'a', '--db-cluster', 'b', '--kms-key', 'k'], /either --db-instance or --db-cluster, not both/],
  [['--db-instance', 'orders'], /--kms-key is required/],
  [['--db-instance', 'orders', '--kms-key', 'k', '--method', 'magic'], /--method must be snapshot or blue-green/],
  [['--db-instance', 'orders', '--kms-key', 'k', '--target-region', 'mars-1'], /--target-region "mars-1" is not a Region name/],
  [['--db-instance', 'orders', '--kms-key', 'k', '--share-with-account', '12'], /12-digit/],
  [['--db-instance', 'orders', '--kms-key', 'k', '--target-region', 'us-west-2', '--cutover'], /cannot be combined with --target-region/],
  [['--db-instance', 'orders', '--kms-key', 'k', '--dry-run', '--cutover'], /--dry-run changes nothing/],
  [['--db-instance', 'orders', '--kms-key', 'k', '--cutover', '--writes-stopped-since-snapshot'], /--writes-stopped-since-snapshot applies only with --resume <file> --cutover/],
  [['--db-instance', 'bad--id', '--kms-key', 'k'], /not a valid RDS identifier/],
  [['--db-instance', 'orders', '--kms-key', 'k', '--rollback'], /--rollback needs --resume/],
  [['--db-instance', 'orders', '--kms-key', 'k', '--bogus'], /Unknown option '--bogus'/],
  [['--db-instance', 'orders', '--kms-key', 'k', '--poll-seconds', 'soon'], /--poll-seconds must be a number/],
])('%j exits 2 with the reason and usage', async (args, reason) => {
  const r = await run(args as string[]);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(reason as RegExp);
  expect(r.err).toContain(USAGE);
});

test('--help prints usage and exits 0; a missing state file exits 2', async () => {
  expect(await run(['--help'])).toMatchObject({ code: 0, out: USAGE });
  const r = await run(['--resume', '/nonexistent/state.json']);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/cannot read state file/);
});

test('parses a full command line', () => {
  expect(parseCli(['--db-cluster', 'ledger', '--kms-key', 'alias/ledger', '--target-region', 'us-west-2', '--target-security-group-ids', 'sg-1, sg-2', '--poll-seconds', '5'])).toMatchObject({
    kind: 'cluster',
    sourceId: 'ledger',
    kmsKey: 'alias/ledger',
    targetRegion: 'us-west-2',
    targetSecurityGroupIds: ['sg-1', 'sg-2'],
    pollSeconds: 5,
    method: 'snapshot',
  });
});

// RDS stores identifiers in lower case (DescribeDB* returns `orders-db` for `Orders-DB`), the construct
// lower-cases its sourceId, and the run tag / IAM conditions compare case-sensitively. The CLI must use
// the same spelling, or its run tag (`db-ops-kit:rekey-source=Orders-DB`) is not the workflow's, its state
// file is not the one the lock refusal names, and the state it captured from AWS (`orders-db`) no longer
// matches its own sourceId on --resume.
test.each([
  [['--db-instance', 'Orders-DB', '--kms-key', 'alias/k'], 'instance'],
  [['--db-cluster', 'LEDGER', '--kms-key', 'alias/k'], 'cluster'],
  [['--db-instance', 'Orders-DB', '--break-lock', '20261130030405'], 'instance'],
])('%j: the identifier is lower-cased as RDS stores it', (args, kind) => {
  const o = parseCli(args as string[]);
  expect(o.kind).toBe(kind);
  expect(o.sourceId).toBe((args as string[])[1].toLowerCase());
});

test('a run started with a mixed-case --db-instance resumes: the state captured from AWS (lower case) matches the state file', () => {
  const o = parseCli(['--db-instance', 'Orders-DB', '--kms-key', 'alias/k']);
  const s = newState({ kind: o.kind!, sourceId: o.sourceId!, kmsKey: o.kmsKey!, region: 'us-east-1', now: new Date('2026-11-30T03:04:05Z') });
  // What preflight records: DescribeDBInstances' DBInstanceIdentifier (always lower case) and names derived from sourceId.
  const doc = JSON.parse(JSON.stringify({ ...s, names: { sourceSnapshot: `${s.sourceId}-rekey-${s.runId}-src` }, source: { kind: 'instance', instance: { id: 'orders-db' } } }));
  expect(() => assertState(doc)).not.toThrow();
});
