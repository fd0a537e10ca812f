/**
 * mutation/merge.ts: a narrowed mutation run (`--mutate <some files>`) must not throw away the folder's other files'
 * results, and must not keep a result that no longer stands (a test file that judged it changed since).
 */
import { mergeState, type StateMutant, type StateReport } from '../../mutation/merge';

const TESTS = "test('a', ...); test('b', ...);";

function mutant(id: string, line: number, status: string, tests: { coveredBy?: string[]; killedBy?: string[] } = {}): StateMutant {
  return { id, mutatorName: 'NumericLiteral', replacement: '0', status, location: { start: { line, column: 11 }, end: { line, column: 12 } }, ...tests };
}

function report(files: Record<string, StateMutant[]>, tests: Record<string, Array<[string, string]>>, sources: Record<string, string> = {}): StateReport {
  return {
    schemaVersion: '2',
    files: Object.fromEntries(Object.entries(files).map(([f, mutants]) => [f, { language: 'typescript', source: sources[f] ?? `source of ${f}`, mutants }])),
    testFiles: Object.fromEntries(Object.entries(tests).map(([f, list]) => [f, { source: sources[f] ?? TESTS, tests: list.map(([id, name]) => ({ id, name })) }])),
  };
}

test('the files the run mutated come from the run; the other files come back from the earlier state, their test ids re-pointed by name', () => {
  const earlier = report(
    {
      'src/a.ts': [mutant('9', 1, 'Survived', { coveredBy: ['0'] })],
      // Mutant ids are per run too: "0" is also the fresh run's a.ts mutant.
      'src/b.ts': [mutant('0', 3, 'Killed', { coveredBy: ['0', '1'], killedBy: ['1'] }), mutant('2', 5, 'NoCoverage', { coveredBy: [] })],
    },
    { 'test/x.test.ts': [['0', 'a'], ['1', 'b']] },
    { 'src/b.ts': 'old source of b' },
  );
  // The fresh run mutated only a.ts and numbered the same tests the other way round.
  const fresh = report({ 'src/a.ts': [mutant('0', 1, 'Killed', { coveredBy: ['1'], killedBy: ['1'] })] }, { 'test/x.test.ts': [['0', 'b'], ['1', 'a']] });
  const r = mergeState(earlier, fresh);
  expect(r.report.files['src/a.ts'].mutants).toEqual([expect.objectContaining({ status: 'Killed', killedBy: ['1'] })]);
  // b.ts keeps its earlier source (the next incremental run diffs it) and its results; test "b" is id 0 now.
  expect(r.report.files['src/b.ts'].source).toBe('old source of b');
  expect(r.report.files['src/b.ts'].mutants).toEqual([
    expect.objectContaining({ status: 'Killed', coveredBy: ['1', '0'], killedBy: ['0'], location: earlier.files['src/b.ts'].mutants[0].location }),
    expect.objectContaining({ status: 'NoCoverage', coveredBy: [] }),
  ]);
  const ids = Object.values(r.report.files).flatMap((f) => f.mutants.map((m) => m.id));
  expect(new Set(ids).size).toBe(ids.length);
  expect(r.report.testFiles!['test/x.test.ts'].tests).toHaveLength(2); // no test added twice
  expect(r.kept).toEqual({ 'src/b.ts': 2 });
  expect(r.dropped).toEqual({});
  expect(fresh.files['src/b.ts']).toBeUndefined(); // the inputs are not changed
});

test('a result whose test file changed or is gone is left out; an earlier test the run does not know is added with a new id', () => {
  const earlier = report(
    {
      'src/b.ts': [
        mutant('0', 1, 'Killed', { coveredBy: ['0'], killedBy: ['0'] }),
        mutant('1', 2, 'Killed', { coveredBy: ['1'], killedBy: ['1'] }),
        mutant('2', 3, 'Survived', { coveredBy: ['2'] }),
        mutant('3', 4, 'Survived', { coveredBy: ['3'] }),
      ],
    },
    { 'test/same.test.ts': [['0', 'kept']], 'test/edited.test.ts': [['1', 'e']], 'test/gone.test.ts': [['2', 'g']], 'test/renamed.test.ts': [['3', 'old name']] },
  );
  const fresh = report({ 'src/a.ts': [] }, { 'test/same.test.ts': [['0', 'kept']], 'test/edited.test.ts': [['1', 'e']], 'test/renamed.test.ts': [['2', 'new name']] }, { 'test/edited.test.ts': `${TESTS} // edited` });
  const r = mergeState(earlier, fresh);
  // "old name" is still in an unchanged file (the file's source is the same), so it stands and gets a fresh id.
  expect(r.report.files['src/b.ts'].mutants.map((m) => [m.location.start.line, m.status, m.coveredBy])).toEqual([
    [1, 'Killed', ['0']],
    [4, 'Survived', ['3']],
  ]);
  expect(r.report.testFiles!['test/renamed.test.ts'].tests).toEqual([
    { id: '2', name: 'new name' },
    { id: '3', name: 'old name' },
  ]);
  expect(r.dropped).toEqual({ 'src/b.ts': 2 });
  expect(r.kept).toEqual({ 'src/b.ts': 2 });
});

test('a file whose every earlier result is left out is not added back empty', () => {
  const earlier = report({ 'src/b.ts': [mutant('0', 1, 'Killed', { coveredBy: ['0'], killedBy: ['0'] })] }, { 'test/x.test.ts': [['0', 'a']] });
  const fresh = report({ 'src/a.ts': [] }, { 'test/x.test.ts': [['0', 'a']] }, { 'test/x.test.ts': 'changed' });
  const r = mergeState(earlier, fresh);
  expect(Object.keys(r.report.files)).toEqual(['src/a.ts']);
  expect(r.dropped).toEqual({ 'src/b.ts': 1 });
});
