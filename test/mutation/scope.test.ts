/** mutation/scope.ts: a --mutate entry outside the folder it is run for is refused (its result would stay in that folder's score). */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { outsideFolder } from '../../mutation/scope';

const KMS = ['lambda/kms-key-change/**/*.ts'];
const LOAD = ['lambda/dsql-loader/loader.ts'];
const AD = ['lambda/ad-trust/**/*.ts', 'lib/ad-trust/validation.ts'];

test('files and line ranges of the folder are inside', () => {
  expect(outsideFolder('lambda/kms-key-change/preflight.ts', KMS)).toEqual([]);
  expect(outsideFolder('lambda/kms-key-change/sub/x.ts, lambda/kms-key-change/**/*.ts', KMS)).toEqual([]);
  expect(outsideFolder('lambda/dsql-loader/loader.ts:301-520,lambda/dsql-loader/loader.ts:5:1-9:3', LOAD)).toEqual([]);
  expect(outsideFolder('lib/ad-trust/validation.ts,lambda/ad-trust/trust.ts', AD)).toEqual([]);
});

test('another folder, a sibling file, a broader glob or a path that climbs out are outside', () => {
  expect(outsideFolder('lambda/shared/retry.ts', KMS)).toEqual(['lambda/shared/retry.ts']);
  expect(outsideFolder('lambda/kms-key-change/preflight.ts,lambda/**/*.ts', KMS)).toEqual(['lambda/**/*.ts']);
  expect(outsideFolder('lambda/dsql-loader/handle.ts', LOAD)).toEqual(['lambda/dsql-loader/handle.ts']);
  expect(outsideFolder('lambda/dsql-loader/loader.ts.bak', LOAD)).toEqual(['lambda/dsql-loader/loader.ts.bak']);
  expect(outsideFolder('lambda/kms-key-change/../shared/retry.ts', KMS)).toEqual(['lambda/kms-key-change/../shared/retry.ts']);
  expect(outsideFolder('lib/ad-trust/stack.ts', AD)).toEqual(['lib/ad-trust/stack.ts']);
});

test('npm run mutation refuses it before StrykerJS starts, naming the folder and its files', () => {
  const r = spawnSync('npx', ['tsx', 'mutation/run.ts', 'dsql-loader-load', '--mutate', 'lambda/dsql-loader/handle.ts'], { cwd: join(__dirname, '..', '..'), encoding: 'utf8' });
  expect(r.status).toBe(2);
  expect(r.stderr).toContain("--mutate lambda/dsql-loader/handle.ts: not in dsql-loader-load's files (lambda/dsql-loader/loader.ts)");
}, 30_000);
