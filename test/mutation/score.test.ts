/** mutation/score.ts: per-folder mutation score from Stryker's JSON report, and the exit code CI relies on. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { failing, folderOf, scoreReports, type MutantStatus, type MutationReport } from '../../mutation/score';

let next = 0;
const mutants = (counts: Partial<Record<MutantStatus, number>>) =>
  Object.entries(counts).flatMap(([status, n]) =>
    Array.from({ length: n ?? 0 }, (_, i) => ({
      id: String(next++),
      mutatorName: 'ConditionalExpression',
      replacement: 'false',
      status: status as MutantStatus,
      location: { start: { line: i + 1, column: 1 }, end: { line: i + 1, column: 9 } },
    })),
  );

/** Shaped like Stryker 9's reports/mutation/*.json (mutation-testing-report-schema 3.x). */
function report(files: Record<string, Partial<Record<MutantStatus, number>>>): MutationReport {
  return {
    schemaVersion: '2.0',
    files: Object.fromEntries(Object.entries(files).map(([p, c]) => [p, { language: 'typescript', source: '', mutants: mutants(c) }])),
  } as MutationReport;
}

test('folderOf maps a file to its runtime folder', () => {
  expect(folderOf('lambda/kms-key-change/steps.ts')).toBe('lambda/kms-key-change');
  expect(folderOf('/work/x/lambda/shared/retry.ts')).toBe('lambda/shared');
  expect(folderOf('./lib/ad-trust/validation.ts')).toBe('lib/ad-trust');
});

test('score = (killed + timeout) / (killed + timeout + survived + no coverage), per folder; errors and ignored do not count', () => {
  const scores = scoreReports([
    report({
      'lambda/a/x.ts': { Killed: 6, Timeout: 2, Survived: 1, NoCoverage: 1, CompileError: 5, Ignored: 3 },
      'lambda/a/y.ts': { Killed: 2 },
      'lambda/b/z.ts': { Killed: 3, Survived: 1 },
    }),
  ]);
  expect(scores.map((s) => [s.folder, s.mutants, s.killed, s.timeout, s.survived, s.noCoverage, s.errors, s.ignored, s.score])).toEqual([
    ['lambda/a', 20, 8, 2, 1, 1, 5, 3, (10 / 12) * 100],
    ['lambda/b', 4, 3, 0, 1, 0, 0, 0, 75],
  ]);
  expect(scores[1].survivors).toEqual([{ where: 'lambda/b/z.ts:1', mutator: 'ConditionalExpression', replacement: 'false', status: 'Survived' }]);
});

test('a folder below the break threshold fails; exactly at the threshold passes; a folder without valid mutants never fails', () => {
  const scores = scoreReports([
    report({ 'lambda/low/a.ts': { Killed: 79, Survived: 21 }, 'lambda/edge/a.ts': { Killed: 4, NoCoverage: 1 }, 'lambda/none/a.ts': { Ignored: 2 } }),
  ]);
  expect(failing(scores, 80).map((s) => s.folder)).toEqual(['lambda/low']);
  expect(scores.find((s) => s.folder === 'lambda/none')!.score).toBeUndefined();
});

test('several reports (one per folder run) are combined; a report of an unfinished run is refused', () => {
  const scores = scoreReports([report({ 'lambda/a/x.ts': { Killed: 1 } }), report({ 'lambda/b/x.ts': { Survived: 1 } })]);
  expect(scores.map((s) => [s.folder, s.score])).toEqual([['lambda/a', 100], ['lambda/b', 0]]);
  expect(() => scoreReports([report({ 'lambda/a/x.ts': { Killed: 1, Pending: 1 } })])).toThrow(/Pending/);
  expect(() => scoreReports([{ schemaVersion: '2' } as unknown as MutationReport])).toThrow(/no "files"/);
});

describe('CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mutation-score-'));
  const write = (name: string, r: unknown) => {
    const p = join(dir, name);
    writeFileSync(p, JSON.stringify(r));
    return p;
  };
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [require.resolve('tsx/cli'), join(__dirname, '../../mutation/score.ts'), ...args], { encoding: 'utf8' });

  test('exits 1 and names the folder when a report is below 80%', () => {
    const r = cli(write('low.json', report({ 'lambda/kms-key-change/steps.ts': { Killed: 7, Survived: 3 }, 'lambda/shared/retry.ts': { Killed: 9, Survived: 1 } })));
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/lambda\/kms-key-change\s+10\s+7\s+0\s+3\s+0\s+0\s+0\s+70\.00%\s+FAIL/);
    expect(r.stdout).toMatch(/lambda\/shared .*90\.00%\s+ok$/m);
    expect(r.stdout).toContain('lambda/kms-key-change/steps.ts:1  ConditionalExpression');
    expect(r.stderr).toContain('mutation score below 80% in: lambda/kms-key-change (70.00%)');
  });

  test('exits 0 at or above the threshold, and --break moves the threshold', () => {
    const p = write('ok.json', report({ 'lambda/a/x.ts': { Killed: 17, Timeout: 1, Survived: 2 } }));
    const ok = cli(p);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/90\.00%\s+ok$/m);
    expect(cli(p, '--break', '95').status).toBe(1);
    expect(cli(p, '--high', '95').stdout).toContain('ok, below aim 95%');
  });

  test('bad arguments and unreadable reports exit 2 with usage', () => {
    expect(cli().status).toBe(2);
    expect(cli().stderr).toContain('usage:');
    expect(cli('--break', 'x', 'a.json').status).toBe(2);
    const missing = cli(join(dir, 'missing.json'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('cannot read mutation report');
  });
});
