// Two jest projects: `unit` (npm test: Node only, embedded PostgreSQL) and `integration`
// (npm run test:integration: moto, cfn-lint, MIT Kerberos, Debian PostgreSQL — see .ci/run).
// ts-jest transpiles only (isolatedModules); `tsc --noEmit` in `npm test` does the type check once.
const tsJest = ['ts-jest', { isolatedModules: true, diagnostics: false }];
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': tsJest },
  moduleFileExtensions: ['ts', 'js', 'json'],
  snapshotSerializers: ['<rootDir>/test/helpers/snapshot-serializer.ts'],
};
module.exports = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/integration/'],
      testTimeout: 120000,
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      testTimeout: 600000,
    },
  ],
};
