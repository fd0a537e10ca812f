/**
 * Keeps a narrowed run's progress: `npm run mutation -- <folder> --mutate <file>[:<from>-<to>],...` makes StrykerJS
 * write a state file (mutation/incremental/<folder>.json) holding only the narrowed files and lines. Without this the
 * rest of the folder's measured mutants would be lost, so a folder too slow to measure in one sitting (loader.ts:
 * ~600 mutants at ~3 a minute on 2 cores) could never be measured in parts. After such a run, {@link mergeState}
 * puts back every earlier mutant outside the narrowed lines. Where the file's source changed between the two reports,
 * an earlier mutant is moved to its line in the new source when every line it spans is unchanged (a line diff, as
 * StrykerJS's own incremental differ matches mutants), and left out otherwise: the next incremental run tests it.
 * An earlier result is also left out when a test file that covered or killed it changed between the two reports
 * (StrykerJS reuses a result only while its tests are unchanged). A kept "Survived" may understate: a test added
 * since could kill it; the next full run says.
 *
 * Test ids are numbered per run ("0", "1", ...), so the earlier mutants' `coveredBy` / `killedBy` are re-pointed by
 * test file and test name; an earlier test the new run does not know is added to its file with a fresh id.
 *
 * The JSON is StrykerJS's mutation-testing-report-schema (https://github.com/stryker-mutator/mutation-testing-elements,
 * packages/report-schema), the format of `incrementalFile`.
 */
import { diffArrays } from 'diff';

export interface Position {
  line: number;
  column: number;
}
export interface StateMutant {
  id: string;
  location: { start: Position; end: Position };
  coveredBy?: string[];
  killedBy?: string[];
  [k: string]: unknown;
}
export interface StateTest {
  id: string;
  name: string;
  [k: string]: unknown;
}
export interface StateReport {
  files: Record<string, { source: string; mutants: StateMutant[]; [k: string]: unknown }>;
  testFiles?: Record<string, { source?: string; tests: StateTest[]; [k: string]: unknown }>;
  [k: string]: unknown;
}

/** One `--mutate` entry: a file and, optionally, the lines (inclusive) the run was narrowed to. */
export interface Narrowed {
  file: string;
  lines?: [number, number];
}

/**
 * Parses StrykerJS's `--mutate` list ("a.ts,b.ts:10-20,c.ts:5:1-9:3") into files and line ranges. A glob is refused:
 * the merge needs to know exactly which mutants the run replaced.
 */
export function parseMutate(list: string): Narrowed[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      if (/[*?{}[\]]/.test(entry)) throw new Error(`--mutate "${entry}": name files (optionally file.ts:<from>-<to>), not globs, so the run's state can be merged`);
      const m = /^(.*?\.[cm]?[jt]sx?)(?::(\d+)(?::\d+)?-(\d+)(?::\d+)?)?$/.exec(entry);
      if (!m) throw new Error(`--mutate "${entry}": expected <file> or <file>:<from>-<to> (lines)`);
      const file = m[1];
      if (m[2] === undefined) return { file };
      const from = Number(m[2]);
      const to = Number(m[3]);
      if (from < 1 || to < from) throw new Error(`--mutate "${entry}": the line range must be <from>-<to> with 1 <= from <= to`);
      return { file, lines: [from, to] as [number, number] };
    });
}

/**
 * Old line number -> new line number for every line the two sources have in common (a line diff with the `diff`
 * package); lines that were changed or removed have no entry.
 */
export function lineMap(oldSource: string, newSource: string): Map<number, number> {
  const map = new Map<number, number>();
  let o = 1;
  let n = 1;
  for (const part of diffArrays(oldSource.split('\n'), newSource.split('\n'))) {
    const count = part.value.length;
    if (part.added) n += count;
    else if (part.removed) o += count;
    else {
      for (let i = 0; i < count; i++) map.set(o + i, n + i);
      o += count;
      n += count;
    }
  }
  return map;
}

/** The mutant moved to the new source, or undefined when a line it spans changed (or the lines are no longer together). */
function moved(m: StateMutant, map: Map<number, number>): StateMutant | undefined {
  const start = map.get(m.location.start.line);
  if (start === undefined) return undefined;
  for (let l = m.location.start.line; l <= m.location.end.line; l++) if (map.get(l) !== start + (l - m.location.start.line)) return undefined;
  return { ...m, location: { start: { ...m.location.start, line: start }, end: { ...m.location.end, line: start + (m.location.end.line - m.location.start.line) } } };
}

/** True when StrykerJS mutated this mutant in the narrowed run (its start line lies in a narrowed range of its file). */
function replaced(narrowed: Narrowed[], file: string, m: StateMutant): boolean {
  return narrowed.some((n) => n.file === file && (!n.lines || (m.location.start.line >= n.lines[0] && m.location.start.line <= n.lines[1])));
}

export interface MergeResult {
  report: StateReport;
  /** Earlier mutants put back, per file. */
  kept: Record<string, number>;
  /** Earlier mutants left out per file: a line they span or a test file that covered them changed since (the next incremental run tests them). */
  dropped: Record<string, number>;
}

/** The fresh narrowed run's report plus every earlier mutant it did not replace (see the file comment). */
export function mergeState(earlier: StateReport, fresh: StateReport, narrowed: Narrowed[]): MergeResult {
  const report: StateReport = JSON.parse(JSON.stringify(fresh));
  report.testFiles ??= {};
  const kept: Record<string, number> = {};
  const dropped: Record<string, number> = {};

  // Test ids of the fresh run by file and name; earlier tests it lacks get new ids after its highest numeric id.
  const byName = new Map<string, string>();
  let next = 0;
  for (const [file, tf] of Object.entries(report.testFiles)) {
    for (const t of tf.tests) {
      byName.set(`${file}\u0000${t.name}`, t.id);
      if (/^\d+$/.test(t.id)) next = Math.max(next, Number(t.id) + 1);
    }
  }
  const earlierTests = new Map<string, { file: string; test: StateTest }>();
  for (const [file, tf] of Object.entries(earlier.testFiles ?? {})) for (const t of tf.tests) earlierTests.set(t.id, { file, test: t });
  // A test file whose source is not the same in both reports (changed, or gone) no longer vouches for a result.
  const testsSame = (m: StateMutant): boolean =>
    [...(m.coveredBy ?? []), ...(m.killedBy ?? [])].every((id) => {
      const e = earlierTests.get(id);
      if (!e) return false;
      const now = report.testFiles![e.file];
      return now !== undefined && now.source === (earlier.testFiles ?? {})[e.file]?.source;
    });
  const remap = (id: string): string => {
    const e = earlierTests.get(id);
    if (!e) return id;
    const k = `${e.file}\u0000${e.test.name}`;
    let nid = byName.get(k);
    if (nid === undefined) {
      nid = String(next++);
      byName.set(k, nid);
      const tf = (report.testFiles![e.file] ??= { source: (earlier.testFiles ?? {})[e.file]?.source, tests: [] });
      tf.tests.push({ ...e.test, id: nid });
    }
    return nid;
  };

  let nextMutant = 0;
  for (const f of Object.values(report.files)) for (const m of f.mutants) if (/^\d+$/.test(m.id)) nextMutant = Math.max(nextMutant, Number(m.id) + 1);

  for (const [file, old] of Object.entries(earlier.files)) {
    const now = report.files[file];
    let earlierMutants = old.mutants;
    if (now && now.source !== old.source) {
      const map = lineMap(old.source, now.source);
      earlierMutants = old.mutants.map((m) => moved(m, map)).filter((m): m is StateMutant => m !== undefined);
      if (earlierMutants.length < old.mutants.length) dropped[file] = old.mutants.length - earlierMutants.length;
    }
    const outside = earlierMutants.filter((m) => !replaced(narrowed, file, m));
    const back = outside.filter(testsSame);
    if (back.length < outside.length) dropped[file] = (dropped[file] ?? 0) + outside.length - back.length;
    if (back.length === 0) continue;
    const target = now ?? (report.files[file] = { ...old, mutants: [] });
    for (const m of back) {
      target.mutants.push({
        ...m,
        id: String(nextMutant++),
        ...(m.coveredBy ? { coveredBy: m.coveredBy.map(remap) } : {}),
        ...(m.killedBy ? { killedBy: m.killedBy.map(remap) } : {}),
      });
    }
    target.mutants.sort((a, b) => a.location.start.line - b.location.start.line || a.location.start.column - b.location.start.column);
    kept[file] = back.length;
  }
  return { report, kept, dropped };
}
