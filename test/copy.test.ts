/**
 * The copy test (design card): a user copies lib/<pattern>/, lambda/<pattern>/ and lambda/shared/
 * into their own CDK app and nothing else is needed. Each pattern contributes one case file in
 * test/copy-cases/.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CopyCase, synthCopiedApp } from './helpers/copy-app';

const casesDir = path.join(__dirname, 'copy-cases');
const cases: CopyCase[] = fs
  .readdirSync(casesDir)
  .filter((f) => f.endsWith('.ts'))
  .sort()
  .map((f) => require(path.join(casesDir, f)).copyCase as CopyCase);

test('every pattern has a copy case', () => {
  expect(cases.map((c) => c.pattern).sort()).toEqual(
    fs.readdirSync(path.join(__dirname, '..', 'lib')).filter((d) => fs.statSync(path.join(__dirname, '..', 'lib', d)).isDirectory()).sort(),
  );
});

test.each(cases.map((c) => [c.pattern, c] as const))('pattern %s synthesizes from its copied folders alone', (_name, c) => {
  const templates = synthCopiedApp(c);
  expect(Object.keys(templates).length).toBeGreaterThan(0);
  c.check(templates);
});
