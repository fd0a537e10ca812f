// StrykerJS configuration for one runtime folder at a time (see docs/mutation-testing.md).
// MUTATION_FOLDER picks an entry of mutation/folders.json: which files are mutated and which test folders judge them.
// `npm run mutation` (mutation/run.ts) runs every folder in turn and then enforces the per-folder score.
import { readFileSync } from 'node:fs';

const folders = JSON.parse(readFileSync(new URL('./mutation/folders.json', import.meta.url), 'utf8'));
const name = process.env.MUTATION_FOLDER;
const folder = name && !name.startsWith('_') ? folders[name] : undefined;
if (!folder) {
  const names = Object.keys(folders).filter((k) => !k.startsWith('_'));
  throw new Error(`MUTATION_FOLDER must be one of ${names.join(', ')}, got ${JSON.stringify(name)}`);
}
// Read by jest.mutation.config.js inside Stryker's test-runner processes (they inherit this environment).
process.env.MUTATION_TESTS = folder.tests.join(',');
process.env.MUTATION_SKIP_TESTS = Object.keys(folder.skipTests ?? {}).join(',');
const checker = process.env.MUTATION_TYPECHECK === '1';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  testRunner: 'jest',
  jest: { projectType: 'custom', configFile: 'jest.mutation.config.js', enableFindRelatedTests: true },
  coverageAnalysis: 'perTest',
  // Static mutants (module-level constants) cannot be attributed to single tests, so each one re-runs the folder's
  // whole test set: measured 2026-12-01 on lambda/kms-key-change, 137 static mutants (3% of 4745) were estimated
  // at 80% of the run time (~3 h). They are left out by default and reported as `ignored`;
  // MUTATION_STATIC=1 includes them (docs/mutation-testing.md).
  ignoreStatic: process.env.MUTATION_STATIC !== '1',
  mutate: folder.mutate,
  // The TypeScript checker is opt-in (MUTATION_TYPECHECK=1): measured on 2 shared cores it costs more than it
  // saves (docs/mutation-testing.md). Without it, ts-jest transpiles only, so Stryker's `// @ts-nocheck`
  // insertion is not needed and type-invalid mutants simply run (and are usually killed).
  checkers: checker ? ['typescript'] : [],
  tsconfigFile: 'tsconfig.json',
  concurrency: Number(process.env.MUTATION_CONCURRENCY ?? 2),
  timeoutMS: 10000,
  timeoutFactor: 2,
  thresholds: { high: 90, low: 80, break: 80 },
  incremental: true,
  incrementalFile: `mutation/incremental/${name}.json`,
  reporters: ['clear-text', 'progress-append-only', 'json'],
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: false },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
