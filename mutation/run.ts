/**
 * Runs StrykerJS once per runtime folder of mutation/folders.json (each folder's mutants judged by that folder's own
 * unit tests), then prints and enforces the per-folder score with mutation/score.ts.
 *
 *   npm run mutation                      every folder, all mutants; rewrites mutation/incremental/<folder>.json
 *   npm run mutation:incremental          every folder, only mutants whose code or covering tests changed
 *   npm run mutation -- shared ad-trust   only these folders
 *   npm run mutation -- kms-key-change --mutate lambda/kms-key-change/preflight.ts   one folder, some files
 *   npm run mutation:incremental -- dsql-loader-load --mutate lambda/dsql-loader/loader.ts:1-300   some lines
 *
 * Environment: MUTATION_CONCURRENCY (default 2), MUTATION_TYPECHECK=1 (adds the TypeScript checker).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { outsideFolder } from './scope';
import { failing, formatTable, scoreReports, type MutationReport } from './score';

const root = join(__dirname, '..');
const folders = Object.fromEntries(
  Object.entries(JSON.parse(readFileSync(join(__dirname, 'folders.json'), 'utf8')) as Record<string, unknown>).filter(([k]) => !k.startsWith('_')),
);

const args = process.argv.slice(2);
const incremental = args.includes('--incremental');
// `--mutate <file>[:<from>-<to>],...` narrows one folder's run to some files or lines (Stryker's own --mutate). StrykerJS
// keeps every other result of the folder's state file (the other files, and the mutated files' other lines), so a
// folder too slow for one sitting is measured in parts; entries outside the folder are refused (mutation/scope.ts).
const at = args.indexOf('--mutate');
const mutate = at >= 0 ? args[at + 1] : undefined;
if (at >= 0 && (!mutate || mutate.startsWith('--'))) {
  console.error('--mutate needs a comma-separated list of files, e.g. --mutate lambda/kms-key-change/preflight.ts');
  process.exit(2);
}
const picked = args.filter((a, i) => !a.startsWith('--') && !(at >= 0 && i === at + 1));
for (const p of picked) {
  if (!(p in folders)) {
    console.error(`unknown folder "${p}"; one of: ${Object.keys(folders).join(', ')}\nusage: npm run mutation[:incremental] [-- <folder>...]`);
    process.exit(2);
  }
}
const run = picked.length > 0 ? picked : Object.keys(folders);
if (mutate && run.length !== 1) {
  console.error('--mutate works with exactly one folder: npm run mutation -- <folder> --mutate <files>');
  process.exit(2);
}
if (mutate) {
  const folderMutate = (folders[run[0]] as { mutate: string[] }).mutate;
  const outside = outsideFolder(mutate, folderMutate);
  if (outside.length > 0) {
    console.error(`--mutate ${outside.join(',')}: not in ${run[0]}'s files (${folderMutate.join(', ')}); its result would stay in ${run[0]}'s state file and score (mutation/scope.ts)`);
    process.exit(2);
  }
}

const reports: MutationReport[] = [];
const problems: string[] = [];
for (const name of run) {
  const report = join(root, 'reports', 'mutation', `${name}.json`);
  const started = Date.now();
  console.log(`\n==> mutation: ${name} (${incremental ? 'incremental' : 'full'})`);
  const res = spawnSync('npx', ['stryker', 'run', 'stryker.config.mjs', ...(incremental ? [] : ['--force']), ...(mutate ? ['--mutate', mutate] : [])], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, MUTATION_FOLDER: name },
  });
  const secs = Math.round((Date.now() - started) / 1000);
  console.log(`==> mutation: ${name} took ${secs} s (exit ${res.status})`);
  if (!existsSync(report) || statSync(report).mtimeMs < started) {
    problems.push(`${name}: Stryker wrote no report (exit ${res.status}); see its output above`);
    continue;
  }
  reports.push(JSON.parse(readFileSync(report, 'utf8')) as MutationReport);
}

if (reports.length > 0) {
  const scores = scoreReports(reports);
  console.log(`\n${formatTable(scores, 80, 90)}`);
  for (const f of failing(scores, 80)) problems.push(`${f.folder}: mutation score ${f.score!.toFixed(2)}% is below 80%`);
}
if (problems.length > 0) {
  console.error(`\n${problems.join('\n')}`);
  process.exit(1);
}
