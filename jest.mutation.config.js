// Jest config used only by mutation runs (stryker.config.mjs): the `unit` project of jest.config.js, limited to
// the test folders of ONE runtime folder (MUTATION_TESTS, comma-separated, set by stryker.config.mjs from
// mutation/folders.json), so a folder's mutants are judged by that folder's own tests only.
// Integration tests (moto, Kerberos, Debian PostgreSQL) are never part of a mutation run: they need external
// processes per file and take minutes each, which multiplied by hundreds of mutants does not fit on CI.
const base = require('./jest.config.js');
const unit = base.projects.find((p) => p.displayName === 'unit');
if (!unit) throw new Error('jest.config.js has no `unit` project');

const roots = (process.env.MUTATION_TESTS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
if (roots.length === 0) throw new Error('MUTATION_TESTS is empty: run through `npm run mutation` (stryker.config.mjs sets it)');

// Test files mutation/folders.json `skipTests` leaves out (each with its reason there); they still run in `npm test`.
const skip = (process.env.MUTATION_SKIP_TESTS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const { displayName: _name, ...rest } = unit;
module.exports = {
  ...rest,
  testTimeout: 120000,
  // An entry is a test folder or one test file (`.test.ts`).
  testMatch: roots.map((r) => (r.endsWith('.test.ts') ? `<rootDir>/${r}` : `<rootDir>/${r.replace(/\/+$/, '')}/**/*.test.ts`)),
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/integration/', ...skip.map((f) => `<rootDir>/${escape(f)}$`)],
};
