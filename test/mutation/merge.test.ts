/**
 * mutation/merge.ts: a narrowed mutation run (`--mutate file.ts:<from>-<to>`) must not throw away the folder's other
 * results, and must not keep a result that no longer stands (its code or its tests changed since).
 */
import { lineMap, mergeState, parseMutate, type StateMutant, type StateReport } from '../../mutation/merge';

const SRC = ['const a = 1;', 'const b = 2;', 'const c = 3;', 'const d = 4;', 'const e = 5;'].join('\n');
const TESTS = "test('a', ...); test('b', ...);";

function mutant(id: string, line: number, status: string, tests: { coveredBy?: string[]; killedBy?: string[] } = {}, endLine = line): StateMutant {
  return { id, mutatorName: 'NumericLiteral', replacement: '0', status, location: { start: { line, column: 11 }, end: { line: endLine, column: 12 } }, ...tests };
}

function report(source: string, mutants: StateMutant[], tests: Array<[string, string]>, testSource = TESTS): StateReport {
  return {
    schemaVersion: '2',
    files: { 'src/x.ts': { language: 'typescript', source, mutants } },
    testFiles: { 'test/x.test.ts': { source: testSource, tests: tests.map(([id, name]) => ({ id, name })) } },
  };
}

test('parseMutate: files and line ranges; globs and bad ranges are refused', () => {
  expect(parseMutate('a.ts, lambda/x/b.ts:10-20,c.ts:5:1-9:3')).toEqual([{ file: 'a.ts' }, { file: 'lambda/x/b.ts', lines: [10, 20] }, { file: 'c.ts', lines: [5, 9] }]);
  expect(() => parseMutate('lambda/**/*.ts')).toThrow(/not globs/);
  expect(() => parseMutate('a.ts:20-10')).toThrow(/1 <= from <= to/);
  expect(() => parseMutate('a.ts:0-3')).toThrow(/1 <= from <= to/);
  expect(() => parseMutate('a.ts:x')).toThrow(/expected <file> or <file>:<from>-<to>/);
});

test('lineMap: unchanged lines map to their new numbers; changed and removed lines do not map', () => {
  const next = ['// added', 'const a = 1;', 'const b = 20;', 'const c = 3;', 'const e = 5;'].join('\n');
  expect([...lineMap(SRC, next)]).toEqual([
    [1, 2],
    [3, 4],
    [5, 5],
  ]);
});

test('the narrowed lines come from the fresh run; every other earlier result is kept, its test ids re-pointed by name', () => {
  const earlier = report(SRC, [mutant('0', 1, 'Killed', { coveredBy: ['0'], killedBy: ['0'] }), mutant('1', 3, 'Survived', { coveredBy: ['1'] }), mutant('2', 5, 'NoCoverage', { coveredBy: [] })], [
    ['0', 'a'],
    ['1', 'b'],
  ]);
  // The fresh run numbered the same tests the other way round and re-tested line 3 only.
  const fresh = report(SRC, [mutant('0', 3, 'Killed', { coveredBy: ['0'], killedBy: ['0'] })], [
    ['0', 'b'],
    ['1', 'a'],
  ]);
  const r = mergeState(earlier, fresh, parseMutate('src/x.ts:2-3'));
  const byLine = Object.fromEntries(r.report.files['src/x.ts'].mutants.map((m) => [m.location.start.line, m]));
  expect(Object.keys(byLine)).toEqual(['1', '3', '5']);
  expect(byLine[3]).toMatchObject({ status: 'Killed', killedBy: ['0'] }); // the fresh result, not the earlier Survived
  expect(byLine[1]).toMatchObject({ status: 'Killed', killedBy: ['1'], coveredBy: ['1'] }); // test "a" is id 1 now
  expect(byLine[5]).toMatchObject({ status: 'NoCoverage' });
  expect(new Set(r.report.files['src/x.ts'].mutants.map((m) => m.id)).size).toBe(3);
  expect(r.kept).toEqual({ 'src/x.ts': 2 });
  expect(r.dropped).toEqual({});
  expect(fresh.files['src/x.ts'].mutants).toHaveLength(1); // the inputs are not changed
});

test('a file named without lines is replaced whole; a file not named keeps its earlier results and source', () => {
  const earlier = report(SRC, [mutant('0', 1, 'Survived', { coveredBy: ['0'] })], [['0', 'a']]);
  earlier.files['src/other.ts'] = { language: 'typescript', source: 'old other', mutants: [mutant('1', 1, 'Killed', { coveredBy: ['0'], killedBy: ['0'] })] };
  const fresh = report(SRC, [mutant('0', 2, 'Killed', { coveredBy: ['0'], killedBy: ['0'] })], [['0', 'a']]);
  const r = mergeState(earlier, fresh, parseMutate('src/x.ts'));
  expect(r.report.files['src/x.ts'].mutants.map((m) => m.location.start.line)).toEqual([2]);
  expect(r.report.files['src/other.ts']).toMatchObject({ source: 'old other', mutants: [{ status: 'Killed', killedBy: ['0'] }] });
});

test('source changed since: results on unchanged lines move with them; results on changed lines are left out for the next run', () => {
  const earlier = report(SRC, [mutant('0', 1, 'Killed', { coveredBy: ['0'], killedBy: ['0'] }), mutant('1', 2, 'Killed', { coveredBy: ['0'], killedBy: ['0'] }), mutant('2', 4, 'Survived', { coveredBy: ['0'] }, 5), mutant('3', 1, 'Survived', { coveredBy: ['0'] }, 2)], [['0', 'a']]);
  const next = ['// added', 'const a = 1;', 'const b = 20;', 'const c = 3;', 'const d = 4;', 'const e = 5;'].join('\n');
  const fresh = report(next, [], [['0', 'a']]);
  const r = mergeState(earlier, fresh, parseMutate('src/x.ts:4-4'));
  expect(r.report.files['src/x.ts'].mutants.map((m) => [m.location.start.line, m.location.end.line, m.status])).toEqual([
    [2, 2, 'Killed'],
    [5, 6, 'Survived'],
  ]);
  expect(r.dropped).toEqual({ 'src/x.ts': 2 }); // line 2, and the mutant over lines 1-2 (its first line kept, its second changed)
});

test('a test file changed since: the results it vouched for are left out; results of unchanged test files stay', () => {
  const earlier = report(SRC, [mutant('0', 1, 'Killed', { coveredBy: ['0'], killedBy: ['0'] }), mutant('1', 5, 'NoCoverage', { coveredBy: [] })], [['0', 'a']]);
  earlier.testFiles!['test/y.test.ts'] = { source: 'y', tests: [{ id: '1', name: 'y1' }] };
  earlier.files['src/x.ts'].mutants.push(mutant('2', 2, 'Killed', { coveredBy: ['1'], killedBy: ['1'] }));
  const fresh = report(SRC, [], [['0', 'a']], `${TESTS} // edited`);
  fresh.testFiles!['test/y.test.ts'] = { source: 'y', tests: [{ id: '1', name: 'y1' }] };
  const r = mergeState(earlier, fresh, parseMutate('src/x.ts:3-3'));
  expect(r.report.files['src/x.ts'].mutants.map((m) => [m.location.start.line, m.status])).toEqual([
    [2, 'Killed'],
    [5, 'NoCoverage'],
  ]);
  expect(r.dropped).toEqual({ 'src/x.ts': 1 });
  // A test file the fresh run no longer has (deleted) vouches for nothing either.
  delete fresh.testFiles!['test/y.test.ts'];
  expect(mergeState(earlier, fresh, parseMutate('src/x.ts:3-3')).report.files['src/x.ts'].mutants.map((m) => m.location.start.line)).toEqual([5]);
});
