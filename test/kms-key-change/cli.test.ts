import { main, parseCli, USAGE } from '../../lambda/kms-key-change/cli';

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
