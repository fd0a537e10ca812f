/**
 * Keeps a narrowed run's progress in a folder of several files: `npm run mutation -- <folder> --mutate <files>` makes
 * StrykerJS write a state file (mutation/incremental/<folder>.json) holding only the files it mutated. (Within a
 * mutated file StrykerJS itself carries over the earlier results outside `--mutate` line ranges, e.g.
 * `loader.ts:301-520`, by its own incremental diff; measured 2026-12-02: a run of lines 1-300 kept 242 results from
 * further down.) Without this, a folder too slow to measure in one sitting would lose its other files' results at each
 * narrowed run. After such a run, {@link mergeState} puts back the earlier entry of every file the run did not mutate,
 * with its own (earlier) source, so the next incremental run diffs that file as StrykerJS always does.
 *
 * An earlier result is left out when a test file that covered or killed it is not the same in both reports (changed
 * or gone): StrykerJS reuses a result only while its tests are unchanged. A kept "Survived" or "NoCoverage" may
 * understate: a test added since could kill it; the next full run says.
 *
 * Test ids are numbered per run ("0", "1", ...), so the earlier results' `coveredBy` / `killedBy` are re-pointed by
 * test file and test name; an earlier test the new run does not know is added to its file with a fresh id.
 *
 * The JSON is StrykerJS's mutation-testing-report-schema (https://github.com/stryker-mutator/mutation-testing-elements,
 * packages/report-schema), the format of `incrementalFile`.
 */

export interface StateMutant {
  id: string;
  location: { start: { line: number; column: number }; end: { line: number; column: number } };
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

export interface MergeResult {
  report: StateReport;
  /** Earlier results put back, per file the narrowed run did not mutate. */
  kept: Record<string, number>;
  /** Earlier results left out, per file: a test file that covered or killed them changed since. */
  dropped: Record<string, number>;
}

/** The fresh narrowed run's report plus the earlier results of every file it did not mutate (see the file comment). */
export function mergeState(earlier: StateReport, fresh: StateReport): MergeResult {
  const report: StateReport = JSON.parse(JSON.stringify(fresh));
  const testFiles = (report.testFiles ??= {});
  const earlierTestFiles = earlier.testFiles ?? {};
  const kept: Record<string, number> = {};
  const dropped: Record<string, number> = {};

  // Test ids of the fresh run by file and name; earlier tests it lacks get ids after its highest numeric id.
  const byName = new Map<string, string>();
  let nextTest = 0;
  for (const [file, tf] of Object.entries(testFiles)) {
    for (const t of tf.tests) {
      byName.set(`${file}\u0000${t.name}`, t.id);
      if (/^\d+$/.test(t.id)) nextTest = Math.max(nextTest, Number(t.id) + 1);
    }
  }
  const earlierTests = new Map<string, { file: string; test: StateTest }>();
  for (const [file, tf] of Object.entries(earlierTestFiles)) for (const t of tf.tests) earlierTests.set(t.id, { file, test: t });

  const testsSame = (m: StateMutant): boolean =>
    [...(m.coveredBy ?? []), ...(m.killedBy ?? [])].every((id) => {
      const e = earlierTests.get(id);
      return e !== undefined && testFiles[e.file] !== undefined && testFiles[e.file].source === earlierTestFiles[e.file]?.source;
    });
  const remap = (id: string): string => {
    const e = earlierTests.get(id)!; // testsSame checked that it exists
    const k = `${e.file}\u0000${e.test.name}`;
    let nid = byName.get(k);
    if (nid === undefined) {
      nid = String(nextTest++);
      byName.set(k, nid);
      testFiles[e.file].tests.push({ ...e.test, id: nid });
    }
    return nid;
  };

  let nextMutant = 0;
  for (const f of Object.values(report.files)) for (const m of f.mutants) if (/^\d+$/.test(m.id)) nextMutant = Math.max(nextMutant, Number(m.id) + 1);

  for (const [file, old] of Object.entries(earlier.files)) {
    if (report.files[file]) continue; // mutated by this run: StrykerJS already merged it
    const back = old.mutants.filter(testsSame);
    if (back.length < old.mutants.length) dropped[file] = old.mutants.length - back.length;
    if (back.length === 0) continue;
    report.files[file] = {
      ...old,
      mutants: back.map((m) => ({
        ...m,
        id: String(nextMutant++),
        ...(m.coveredBy ? { coveredBy: m.coveredBy.map(remap) } : {}),
        ...(m.killedBy ? { killedBy: m.killedBy.map(remap) } : {}),
      })),
    };
    kept[file] = back.length;
  }
  return { report, kept, dropped };
}
