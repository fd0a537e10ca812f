/**
 * `npm run bench [-- [--readme] [name…]]`: runs every `bench/*.bench.ts` (each exports
 * `bench(): Promise<BenchResult>`), or those whose file name contains one of the names, and prints
 * one markdown section per benchmark: a heading, the run's date, machine, Node version and load
 * average, the table and its notes.
 *
 * `--readme` also writes those same sections, byte for byte as printed, into README.md between
 * `<!-- bench:start -->` and `<!-- bench:end -->`: each benchmark's section replaces the previous
 * section of the same benchmark, sections of benchmarks not run are kept. So every table in the
 * README is the output of a real run, with the conditions it ran under, and is never edited by hand.
 *
 * Exit code: 1 when any benchmark printed a note starting with `MISSED` (a target was not met), so CI
 * can gate on it; the tables are still printed (and written with `--readme`). 2 on bad arguments.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export interface BenchResult {
  readonly title: string;
  readonly header: string[];
  readonly rows: string[][];
  /** Lines printed under the table: targets met or missed (a line starting with `MISSED` fails the run), notes on method. */
  readonly notes?: string[];
}

/** What the machine was doing when a benchmark ran: printed and written with its table. */
export interface RunConditions {
  /** ISO date-time of the start of the benchmark (UTC). */
  readonly startedAt: string;
  /** e.g. `2 × AMD EPYC 7B13, 24 GiB`. */
  readonly machine: string;
  /** `process.version`. */
  readonly node: string;
  /** os.loadavg() (1, 5, 15 min) when the benchmark started and when it ended. */
  readonly loadStart: number[];
  readonly loadEnd: number[];
  /** Wall time of the benchmark, seconds. */
  readonly seconds: number;
}

export const START_MARKER = '<!-- bench:start -->';
export const END_MARKER = '<!-- bench:end -->';
const sectionStart = (name: string) => `<!-- bench:section ${name} -->`;
const sectionEnd = (name: string) => `<!-- bench:section-end ${name} -->`;

export function machine(): string {
  const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
  return `${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
}

function table(r: BenchResult): string {
  const lines = [`| ${r.header.join(' | ')} |`, `|${r.header.map(() => '---').join('|')}|`, ...r.rows.map((row) => `| ${row.join(' | ')} |`)];
  return lines.join('\n');
}

const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');

/** The markdown of one benchmark's result: what is printed and what `--readme` writes. */
export function renderSection(name: string, r: BenchResult, c: RunConditions): string {
  return [
    `### ${r.title}`,
    '',
    `Run ${c.startedAt.slice(0, 16).replace('T', ' ')} UTC by \`npm run bench -- --readme ${name}\` on ${c.machine}, Node ${c.node}; ` +
      `load average (1/5/15 min) ${load(c.loadStart)} at start, ${load(c.loadEnd)} at end; ${c.seconds.toFixed(0)} s.`,
    '',
    table(r),
    '',
    ...(r.notes ?? []).map((n) => `- ${n}`),
  ].join('\n');
}

export function missedTarget(r: BenchResult): boolean {
  return (r.notes ?? []).some((n) => n.startsWith('MISSED'));
}

/**
 * README.md with the given sections (benchmark name → rendered markdown) placed between the markers:
 * a section replaces the one of the same name, other sections stay, order is by name. Anything between the
 * markers that is not inside a section (text written by hand) is dropped. Throws when the markers are missing.
 */
export function updateReadme(readme: string, sections: Map<string, string>): string {
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (start < 0 || end < start) throw new Error(`README.md has no ${START_MARKER} … ${END_MARKER} region to write the benchmark tables into`);
  const region = readme.slice(start + START_MARKER.length, end);
  const kept = new Map<string, string>();
  const re = /<!-- bench:section (\S+) -->\n([\s\S]*?)\n<!-- bench:section-end \1 -->/g;
  for (let m = re.exec(region); m; m = re.exec(region)) kept.set(m[1], m[2]);
  for (const [name, text] of sections) kept.set(name, text);
  const body = [...kept.keys()]
    .sort()
    .map((name) => `${sectionStart(name)}\n${kept.get(name)}\n${sectionEnd(name)}`)
    .join('\n\n');
  return `${readme.slice(0, start)}${START_MARKER}\n${body}\n${readme.slice(end)}`;
}

/** Benchmark names (file name without `.bench.ts`) in bench/. */
export function benchNames(dir: string = __dirname): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.bench.ts'))
    .map((f) => f.slice(0, -'.bench.ts'.length))
    .sort();
}

const USAGE = 'usage: npm run bench -- [--readme] [name…]   names: a part of a bench/<name>.bench.ts file name; --readme writes the tables into README.md';

async function main(argv: string[]): Promise<number> {
  // The kit's own entry point: the SDK's Node-version notice would land in the tables (see README, "Node.js").
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const flags = argv.filter((a) => a.startsWith('-'));
  const only = argv.filter((a) => !a.startsWith('-'));
  const unknownFlags = flags.filter((f) => f !== '--readme');
  const all = benchNames();
  const unknownNames = only.filter((o) => !all.some((n) => n.includes(o)));
  if (flags.includes('--help') || flags.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  if (unknownFlags.length > 0 || unknownNames.length > 0) {
    console.error(`${unknownFlags.length ? `unknown option(s) ${unknownFlags.join(' ')}` : `no benchmark matches ${unknownNames.join(', ')} (known: ${all.join(', ')})`}\n${USAGE}`);
    return 2;
  }
  const writeReadme = flags.includes('--readme');
  const names = all.filter((n) => only.length === 0 || only.some((o) => n.includes(o)));
  const sections = new Map<string, string>();
  let failed = false;
  for (const name of names) {
    const mod = require(path.join(__dirname, `${name}.bench.ts`)) as { bench: () => Promise<BenchResult> };
    const loadStart = os.loadavg();
    const startedAt = new Date();
    const r = await mod.bench();
    const conditions: RunConditions = {
      startedAt: startedAt.toISOString(),
      machine: machine(),
      node: process.version,
      loadStart,
      loadEnd: os.loadavg(),
      seconds: (Date.now() - startedAt.getTime()) / 1000,
    };
    const text = renderSection(name, r, conditions);
    console.log(`${text}\n`);
    sections.set(name, text);
    if (missedTarget(r)) failed = true;
  }
  if (writeReadme) {
    const readmePath = path.join(__dirname, '..', 'README.md');
    fs.writeFileSync(readmePath, updateReadme(fs.readFileSync(readmePath, 'utf8'), sections));
    console.log(`Wrote ${[...sections.keys()].join(', ')} into README.md (between ${START_MARKER} and ${END_MARKER}).`);
  }
  if (failed) console.error('At least one target was MISSED (see the notes above): exit code 1.');
  return failed ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
