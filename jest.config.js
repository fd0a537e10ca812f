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
module.exports = {
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
