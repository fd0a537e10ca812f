/**
 * Reads StrykerJS JSON reports (mutation-testing-report-schema, https://github.com/stryker-mutator/mutation-testing-elements
 * `packages/report-schema`) and computes the mutation score per runtime folder (`lambda/<folder>`, `lib/<folder>`).
 * Score as Stryker defines it: detected / valid, detected = Killed + Timeout, valid = detected + Survived + NoCoverage
 * (CompileError, RuntimeError and Ignored mutants are not counted; https://stryker-mutator.io/docs/General/faq/ and
 * mutation-testing-metrics). Exit code 1 when any folder scores below the break threshold.
 *
 *   npx tsx mutation/score.ts reports/mutation/*.json [--break 80] [--high 90]
 */
import { readFileSync } from 'node:fs';

export type MutantStatus = 'Killed' | 'Survived' | 'NoCoverage' | 'CompileError' | 'RuntimeError' | 'Timeout' | 'Ignored' | 'Pending';

export interface ReportMutant {
  readonly id: string;
  readonly mutatorName: string;
  readonly replacement?: string;
  readonly status: MutantStatus;
  readonly location: { readonly start: { readonly line: number; readonly column: number } };
}

export interface MutationReport {
  readonly schemaVersion: string;
  readonly files: Record<string, { readonly mutants: readonly ReportMutant[] }>;
}

export interface FolderScore {
  readonly folder: string;
  readonly mutants: number;
  readonly killed: number;
  readonly timeout: number;
  readonly survived: number;
  readonly noCoverage: number;
  readonly errors: number;
  readonly ignored: number;
  /** detected / valid in percent, or undefined when the folder has no valid mutant. */
  readonly score: number | undefined;
  readonly survivors: readonly { readonly where: string; readonly mutator: string; readonly replacement?: string; readonly status: MutantStatus }[];
}

/** `lambda/kms-key-change/steps.ts` -> `lambda/kms-key-change`; paths may be absolute or ./-prefixed. */
export function folderOf(path: string): string {
  const parts = path.replace(/\\/g, '/').split('/').filter((p) => p !== '' && p !== '.');
  const at = parts.findIndex((p) => p === 'lambda' || p === 'lib');
  if (at < 0 || at + 2 >= parts.length) return parts.slice(0, -1).join('/') || '.';
  return `${parts[at]}/${parts[at + 1]}`;
}

function relPath(path: string): string {
  const parts = path.replace(/\\/g, '/').split('/');
  const at = parts.findIndex((p) => p === 'lambda' || p === 'lib');
  return at < 0 ? path : parts.slice(at).join('/');
}

/** Per-folder counts and score of one or more reports (later reports win for a file seen twice). */
export function scoreReports(reports: readonly MutationReport[]): FolderScore[] {
  const files = new Map<string, readonly ReportMutant[]>();
  for (const r of reports) {
    if (!r || typeof r !== 'object' || !r.files || typeof r.files !== 'object') {
      throw new Error('not a mutation-testing-report-schema report: no "files" object');
    }
    for (const [path, f] of Object.entries(r.files)) files.set(relPath(path), f.mutants ?? []);
  }
  const byFolder = new Map<string, { path: string; m: ReportMutant }[]>();
  for (const [path, mutants] of files) {
    const list = byFolder.get(folderOf(path)) ?? [];
    for (const m of mutants) list.push({ path, m });
    byFolder.set(folderOf(path), list);
  }
  const out: FolderScore[] = [];
  for (const [folder, list] of [...byFolder].sort(([a], [b]) => a.localeCompare(b))) {
    const n = (s: MutantStatus) => list.filter(({ m }) => m.status === s).length;
    const killed = n('Killed');
    const timeout = n('Timeout');
    const survived = n('Survived');
    const noCoverage = n('NoCoverage');
    const pending = n('Pending');
    if (pending > 0) throw new Error(`${folder}: ${pending} mutants are still Pending; the report is from an unfinished run`);
    const valid = killed + timeout + survived + noCoverage;
    out.push({
      folder,
      mutants: list.length,
      killed,
      timeout,
      survived,
      noCoverage,
      errors: n('CompileError') + n('RuntimeError'),
      ignored: n('Ignored'),
      score: valid === 0 ? undefined : ((killed + timeout) / valid) * 100,
      survivors: list
        .filter(({ m }) => m.status === 'Survived' || m.status === 'NoCoverage')
        .map(({ path, m }) => ({ where: `${path}:${m.location.start.line}`, mutator: m.mutatorName, replacement: m.replacement, status: m.status })),
    });
  }
  return out;
}

/** Folders below `breakAt` percent (a folder without valid mutants never fails). */
export function failing(scores: readonly FolderScore[], breakAt: number): FolderScore[] {
  return scores.filter((s) => s.score !== undefined && s.score < breakAt);
}

export function formatTable(scores: readonly FolderScore[], breakAt: number, high: number): string {
  const head = ['folder', 'mutants', 'killed', 'timeout', 'survived', 'no cov', 'errors', 'ignored', 'score', 'verdict'];
  const rows = scores.map((s) => [
    s.folder, String(s.mutants), String(s.killed), String(s.timeout), String(s.survived), String(s.noCoverage), String(s.errors), String(s.ignored),
    s.score === undefined ? 'n/a' : `${s.score.toFixed(2)}%`,
    s.score === undefined ? 'no mutants' : s.score < breakAt ? `FAIL (< ${breakAt}%)` : s.score < high ? `ok, below aim ${high}%` : 'ok',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

function main(argv: string[]): number {
  let breakAt = 80;
  let high = 90;
  let top = 10;
  const paths: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--break' || a === '--high' || a === '--top') {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0 || v > 100 * 1000) return usage(`${a} needs a number`);
      if (a === '--break') breakAt = v; else if (a === '--high') high = v; else top = v;
    } else if (a.startsWith('-')) {
      return usage(`unknown option ${a}`);
    } else paths.push(a);
  }
  if (paths.length === 0) return usage('no report given');
  const reports = paths.map((p) => {
    try {
      return JSON.parse(readFileSync(p, 'utf8')) as MutationReport;
    } catch (err) {
      throw new Error(`cannot read mutation report ${p}: ${(err as Error).message}`);
    }
  });
  const scores = scoreReports(reports);
  console.log(formatTable(scores, breakAt, high));
  for (const s of scores) {
    if (s.survivors.length === 0 || top === 0) continue;
    console.log(`\n${s.folder}: ${s.survivors.length} surviving mutants${s.survivors.length > top ? ` (first ${top})` : ''}`);
    for (const v of s.survivors.slice(0, top)) {
      console.log(`  ${v.where}  ${v.mutator}${v.status === 'NoCoverage' ? ' (no test covers it)' : ''}${v.replacement ? `  -> ${v.replacement.replace(/\s+/g, ' ').slice(0, 80)}` : ''}`);
    }
  }
  const bad = failing(scores, breakAt);
  if (bad.length > 0) {
    console.error(`\nmutation score below ${breakAt}% in: ${bad.map((b) => `${b.folder} (${b.score!.toFixed(2)}%)`).join(', ')}`);
    return 1;
  }
  return 0;
}

function usage(why: string): number {
  console.error(`${why}\nusage: tsx mutation/score.ts <stryker mutation.json>... [--break 80] [--high 90] [--top 10]`);
  return 2;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exitCode = 2;
  }
}
