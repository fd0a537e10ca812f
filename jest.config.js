// Two jest projects: `unit` (npm test: Node only, embedded PostgreSQL) and `integration`
// (npm run test:integration: moto, cfn-lint, MIT Kerberos, Debian PostgreSQL — see .ci/run).
// ts-jest transpiles only (tsconfig isolatedModules, diagnostics off); `tsc --noEmit` in `npm test` type-checks once.
const tsJest = ['ts-jest', { diagnostics: false }];
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': tsJest },
  moduleFileExtensions: ['ts', 'js', 'json'],
  snapshotSerializers: ['<rootDir>/test/helpers/snapshot-serializer.ts'],
  setupFiles: ['<rootDir>/test/helpers/setup-env.ts'],
};
// Two workers at least: jest's default (cores - 1) is one worker on a 2-core CI machine, which leaves the second core
// to esbuild only (measured 2026-12-01, 121 unit suites on 2 cores: 1 worker ~1,030 s, 2 workers ~840 s, both beside other work).
// The integration project runs --runInBand (package.json) whatever this says.
const os = require('os');
const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
module.exports = {
  maxWorkers: Math.max(2, cores - 1),
  testTimeout: 300000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/integration/'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
    },
  ],
};
