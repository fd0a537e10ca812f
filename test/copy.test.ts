/**
 * The copy test (design card): a user copies lib/<pattern>/, lambda/<pattern>/ and lambda/shared/
 * into their own CDK app and installs what the pattern README's "Copy into your app" block says.
 * Each pattern contributes one case file in test/copy-cases/.
 *
 * Here (npm test, offline): the README block is compared with what the copied code imports (the
 * TypeScript import graph plus the optional peers esbuild pulls into the Lambda bundles), and the
 * copied folders synthesize on their own (with the kit's node_modules linked).
 * test/integration/copy/ installs the README block for real from the npm registry.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CopyCase, patternInstallBlock, synthCopiedApp } from './helpers/copy-app';
import { checkInstallBlock, expectedInstallBlock, importGraph, parseInstallBlock, readmeInstallBlock } from './helpers/copy-deps';

const casesDir = path.join(__dirname, 'copy-cases');
const cases: CopyCase[] = fs
  .readdirSync(casesDir)
  .filter((f) => f.endsWith('.ts'))
  .sort()
  .map((f) => require(path.join(casesDir, f)).copyCase as CopyCase);
const byPattern = (p: string) => cases.find((c) => c.pattern === p)!;

test('every pattern has a copy case', () => {
  expect(cases.map((c) => c.pattern).sort()).toEqual(
    fs.readdirSync(path.join(__dirname, '..', 'lib')).filter((d) => fs.statSync(path.join(__dirname, '..', 'lib', d)).isDirectory()).sort(),
  );
});

describe('README "Copy into your app" install block', () => {
  test.each(cases.map((c) => [c.pattern, c] as const))('%s: installs exactly what its copied code imports, at the kit versions', (_p, c) => {
    const block = patternInstallBlock(c.pattern);
    const problems = checkInstallBlock(block, c.folders);
    if (problems.length) {
      throw new Error(`lib/${c.pattern}/README.md install block:\n  - ${problems.join('\n  - ')}\nexpected:\n${expectedInstallBlock(c.folders)}`);
    }
  });

  test.each(cases.map((c) => [c.pattern, c] as const))('%s: leaving out any one package of the block is caught', (_p, c) => {
    const { specs } = parseInstallBlock(patternInstallBlock(c.pattern));
    expect(specs.length).toBeGreaterThan(5);
    for (const s of specs) {
      const block = patternInstallBlock(c.pattern).replace(new RegExp(` ${s.name.replace(/[/.]/g, '\\$&')}@[^ \\n]+`), '');
      expect(block).not.toMatch(new RegExp(`(^| )${s.name.replace(/[/.]/g, '\\$&')}@`, 'm'));
      expect(checkInstallBlock(block, c.folders)).toEqual([expect.stringMatching(new RegExp(`^missing (-D )?${s.name.replace(/[/.]/g, '\\$&')}@`))]);
    }
  });

  test('an optional peer the bundle needs is required, with the package that pulls it in', () => {
    // @aws-lambda-powertools/parameters/secrets imports @aws-sdk/client-secrets-manager, an OPTIONAL
    // peer: npm does not install it, and the function fails to bundle (issue #13's first observation).
    const c = byPattern('rds-proxy-lambda');
    expect([...importGraph(c.folders).packages.keys()]).not.toContain('@aws-sdk/client-secrets-manager');
    const block = patternInstallBlock(c.pattern).replace(/ @aws-sdk\/client-secrets-manager@\S+/, '');
    expect(checkInstallBlock(block, c.folders)).toEqual([expect.stringContaining('@aws-lambda-powertools/parameters (@aws-sdk/client-secrets-manager)')]);
  });

  test('type-only imports need only their @types package; a wrong version, a -D mix-up and an extra package are reported', () => {
    const c = byPattern('rds-proxy-lambda');
    const graph = importGraph(c.folders);
    expect(graph.packages.get('aws-lambda')?.typeOnly).toBe(true);
    const block = patternInstallBlock(c.pattern);
    expect(block).not.toMatch(/ aws-lambda@/);
    const broken = block
      .replace(/ pg@\S+/, ' pg@8.0.0')
      .replace(/ exponential-backoff@\S+/, '')
      .replace(/-D /, '-D exponential-backoff@3.1.3 left-pad@1.3.0 ');
    expect(checkInstallBlock(broken, c.folders).sort()).toEqual([
      'exponential-backoff should be installed as a runtime dependency (without -D)',
      'left-pad is installed but nothing in lib/rds-proxy-lambda, lambda/rds-proxy-query, lambda/shared needs it',
      'pg@8.0.0: the kit tests with 8.23.1',
    ]);
  });

  test('a relative import that leaves the copied folders is reported', () => {
    // lib/kms-key-change imports ../../lambda/kms-key-change/workflow: copying lib/ alone breaks.
    expect(importGraph(['lib/kms-key-change']).escapes).toEqual([expect.stringContaining('../../lambda/kms-key-change/workflow')]);
    expect(importGraph(byPattern('kms-key-change').folders).escapes).toEqual([]);
  });

  test('the block is read from the section titled exactly "Copy into your app", and only an npm install block is accepted', () => {
    const readme = '# P\n\n## Deploy\n\n```bash\nnpx cdk deploy\n```\n\n## Copy into your app\n\ntext\n\n```bash\nnpm install -E a@1\nnpm install -E -D b@2\n```\n';
    expect(readmeInstallBlock(readme)).toBe('npm install -E a@1\nnpm install -E -D b@2');
    expect(readmeInstallBlock(readme.replace('Copy into your app', 'Copy it'))).toBeUndefined();
    expect(parseInstallBlock('npm install a@1\ncurl x | sh\nnpm i -E b').problems).toEqual([
      'missing -E (exact versions): npm install a@1',
      'not an npm install command: curl x | sh',
      'no version on b in: npm i -E b',
    ]);
  });
});

test.each(cases.map((c) => [c.pattern, c] as const))('pattern %s synthesizes from its copied folders alone', (_name, c) => {
  const templates = synthCopiedApp(c);
  expect(Object.keys(templates).length).toBeGreaterThan(0);
  c.check(templates);
});

describe('runtimeCodeDir (the runtime code folder prop)', () => {
  // Constructing with a folder that lacks the entry file fails synth with the prop's name, before any
  // bundling; the copy cases above (rds-proxy-lambda, ad-trust) use it with a real other layout.
  const { App, Stack } = require('aws-cdk-lib');
  const kms = require('aws-cdk-lib/aws-kms');
  const wrongDir = path.join(__dirname, 'copy-cases');
  const stack = () => new Stack(new App(), 'S', { env: { account: '123456789012', region: 'eu-west-1' } });

  test('rds-proxy-lambda', () => {
    const { RdsProxyLambda } = require('../lib/rds-proxy-lambda/rds-proxy-lambda');
    expect(() => new RdsProxyLambda(stack(), 'P', { runtimeCodeDir: wrongDir })).toThrow(/runtimeCodeDir ".*copy-cases" has no index\.ts: point it at your copy of lambda\/rds-proxy-query/);
  });
  test('kms-key-change', () => {
    const { KmsKeyChangeWorkflow } = require('../lib/kms-key-change');
    const s = stack();
    const key = (id: string) => kms.Key.fromKeyArn(s, id, `arn:aws:kms:eu-west-1:123456789012:key/${id === 'A' ? '1111aaaa-2222-bbbb-3333-cccc4444dddd' : '5555eeee-6666-ffff-7777-888899990000'}`);
    expect(() => new KmsKeyChangeWorkflow(s, 'W', { dbInstanceIdentifier: 'orders', sourceKey: key('A'), targetKey: key('B'), runtimeCodeDir: wrongDir })).toThrow(
      /runtimeCodeDir ".*copy-cases" has no handler\.ts: point it at your copy of lambda\/kms-key-change/,
    );
  });
  test('dsql-bridge', () => {
    const { DsqlBridge } = require('../lib/dsql-bridge');
    expect(() => new DsqlBridge(stack(), 'B', { runtimeCodeDir: wrongDir })).toThrow(/runtimeCodeDir ".*copy-cases" has no handler\.ts: point it at your copy of lambda\/dsql-loader/);
  });
  test('ad-trust', () => {
    const { HandlerPair } = require('../lib/ad-trust');
    const { Duration } = require('aws-cdk-lib');
    const logs = require('aws-cdk-lib/aws-logs');
    expect(
      () =>
        new HandlerPair(stack(), 'H', {
          entry: 'trust-handler.ts',
          description: 'x',
          logRetention: logs.RetentionDays.ONE_DAY,
          queryInterval: Duration.seconds(30),
          totalTimeout: Duration.minutes(5),
          runtimeCodeDir: wrongDir,
        }),
    ).toThrow(/copy-cases\/trust-handler\.ts does not exist: point runtimeCodeDir at your copy of lambda\/ad-trust/);
  });
});
