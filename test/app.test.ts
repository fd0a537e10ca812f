/**
 * The CDK app (bin/db-ops-kit.ts) as `npx cdk synth` and `npm start` run it: every pattern from the
 * committed cdk.json context, pattern selection, and context errors that name the key.
 */
import { App, Stack, aws_ec2 as ec2 } from 'aws-cdk-lib';
import { buildApp, PATTERNS } from '../bin/db-ops-kit';
import { cdkJsonContext } from '../bin/pattern';
import { PatternContext } from '../bin/context';

function stacksOf(app: App): Stack[] {
  return app.node.findAll().filter((c): c is Stack => Stack.isStack(c));
}

function build(overrides: Record<string, unknown> = {}): App {
  return buildApp(new App({ context: { ...cdkJsonContext(), ...overrides } }));
}

test('the committed cdk.json builds every pattern, one env-specific stack per listed stack name, without lookups', () => {
  const app = build();
  const stacks = stacksOf(app);
  expect(stacks.map((s) => s.stackName).sort()).toEqual(PATTERNS.flatMap((p) => p.stackNames).sort());
  for (const s of stacks) expect(s.region).toMatch(/^[a-z]{2}-[a-z]+-\d$/);
  // A lookup (AZs, VPC, AMI…) would appear here as missing context, which `cdk synth` resolves with credentials.
  expect(app.synth().manifest.missing ?? []).toEqual([]);
});

test('the missing-context check above can fail: an env-specific VPC without explicit AZs needs a lookup', () => {
  const app = new App();
  new ec2.Vpc(new Stack(app, 'NeedsLookup', { env: { account: '123456789012', region: 'eu-west-1' } }), 'Vpc');
  expect((app.synth().manifest.missing ?? []).map((m) => m.provider)).toContain('availability-zones');
});

test('db-ops-kit:patterns selects patterns (list or comma-separated string)', () => {
  expect(stacksOf(build({ 'db-ops-kit:patterns': 'kmsKeyChange' })).map((s) => s.stackName)).toEqual(['DbOpsKmsKeyChange']);
  expect(stacksOf(build({ 'db-ops-kit:patterns': ['rdsProxyLambda', 'adTrust'] })).map((s) => s.stackName).sort()).toEqual(
    ['DbOpsAdTrustPrimary', 'DbOpsAdTrustReplica', 'DbOpsRdsProxyLambda'].sort(),
  );
});

test('an unknown pattern name fails and lists the known ones', () => {
  expect(() => build({ 'db-ops-kit:patterns': 'rdsProxyLambda,nope' })).toThrow(
    /"db-ops-kit:patterns" names unknown pattern\(s\) nope; known: rdsProxyLambda, kmsKeyChange, dsqlBridge, adTrust/,
  );
});

test('a missing key of a selected pattern fails synth naming the key and an example', () => {
  expect(() => build({ 'db-ops-kit:patterns': 'rdsProxyLambda', 'rdsProxyLambda:region': '' })).toThrow(
    /context key "rdsProxyLambda:region" is missing: AWS Region of the stack \(example: us-east-1\)/,
  );
});

test('wrong values fail synth once, listing every bad key', () => {
  let message = '';
  try {
    build({ 'db-ops-kit:patterns': 'rdsProxyLambda', 'rdsProxyLambda:region': 'useast1', 'rdsProxyLambda:credentialMode': 'password', 'rdsProxyLambda:readers': '99' });
  } catch (e) {
    message = String(e);
  }
  expect(message).toContain('context key "rdsProxyLambda:region" has the invalid value "useast1"');
  expect(message).toContain('context key "rdsProxyLambda:credentialMode" has the invalid value "password"');
  expect(message).toContain('context key "rdsProxyLambda:readers" must be a number in 0..15, got "99"');
});

test('a pattern that is not selected is not validated', () => {
  expect(() => build({ 'db-ops-kit:patterns': 'kmsKeyChange', 'rdsProxyLambda:region': 'not-a-region' })).not.toThrow();
});

test('db-ops-kit:account must be a 12-digit account ID', () => {
  expect(() => build({ 'db-ops-kit:account': '1234' })).toThrow(/"db-ops-kit:account" must be a 12-digit AWS account ID, got "1234"/);
  const app = build({ 'db-ops-kit:account': '210987654321', 'db-ops-kit:patterns': 'kmsKeyChange' });
  expect(stacksOf(app)[0].account).toBe('210987654321');
});

test('availability zones outside the Region are reported with the key', () => {
  expect(() => build({ 'db-ops-kit:patterns': 'rdsProxyLambda', 'rdsProxyLambda:region': 'eu-west-1' })).toThrow(
    /context key "rdsProxyLambda:availabilityZones" has zones outside eu-west-1: us-east-1a, us-east-1b \(example: eu-west-1a,eu-west-1b\)/,
  );
});

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  throw new Error('expected an error');
}

describe('semantic context errors (raised by a construct) name the context key', () => {
  test('adTrust:edition=Standard with a replica Region names adTrust:edition, not only the construct prop', () => {
    const message = errorOf(() => build({ 'db-ops-kit:patterns': 'adTrust', 'adTrust:edition': 'Standard' }));
    expect(message).toMatch(/edition Standard cannot be replicated to other Regions \(us-west-2\).*\[context keys? [^\]]*"adTrust:edition"/);
  });

  test('an opt-in replica Region names adTrust:replicaRegion', () => {
    const message = errorOf(() => build({ 'db-ops-kit:patterns': 'adTrust', 'adTrust:replicaRegion': 'af-south-1', 'adTrust:replicaAvailabilityZones': 'af-south-1a,af-south-1b' }));
    expect(message).toMatch(/af-south-1 is an opt-in Region.*\[context key "adTrust:replicaRegion"\]/);
  });

  test('generic values (booleans, numbers, short strings) do not point at a key by value', () => {
    const app = new App({ context: { 'p:flag': true, 'p:count': '12', 'p:name': 'db', 'p:region': 'eu-west-1' } });
    const ctx = new PatternContext(app, 'p');
    ctx.boolean('flag', { default: false });
    ctx.number('count', { example: 1 });
    ctx.string('name', { example: 'db' });
    ctx.string('region', { example: 'us-east-1' });
    expect(ctx.keysMentionedIn('true 12 db went wrong in eu-west-1b')).toEqual([]);
    expect(ctx.keysMentionedIn('subnet in eu-west-1 is full')).toEqual(['p:region']);
    expect(ctx.keysMentionedIn('the count is too high')).toEqual(['p:count']);
  });
});

test('every bad pattern is reported in one run, and the skip hint selects patterns (cdk.json has "all")', () => {
  const message = errorOf(() =>
    build({ 'rdsProxyLambda:credentialMode': 'password', 'kmsKeyChange:method': 'magic', 'adTrust:edition': 'Standard' }),
  );
  expect(message).toMatch(/invalid for 3 pattern\(s\): rdsProxyLambda, kmsKeyChange, adTrust/);
  expect(message).toContain('context key "rdsProxyLambda:credentialMode" has the invalid value "password"');
  expect(message).toContain('context key "kmsKeyChange:method" has the invalid value "magic"');
  expect(message).toMatch(/"adTrust:edition"/);
  expect(message).toContain('-c db-ops-kit:patterns=dsqlBridge');
  expect(message).not.toMatch(/remove it from/);
  // The hint is a command that works: the suggested selection builds.
  const hint = /-c db-ops-kit:patterns=(\S+)/.exec(message)![1];
  expect(stacksOf(build({ 'db-ops-kit:patterns': hint, 'rdsProxyLambda:credentialMode': 'password', 'kmsKeyChange:method': 'magic', 'adTrust:edition': 'Standard' })).map((s) => s.stackName)).toEqual(['DbOpsDsqlBridge']);
});

describe('CDK feature flags (cdk.json)', () => {
  // https://docs.aws.amazon.com/cdk/v2/guide/featureflags.html — a new app (`cdk init`) gets every flag the
  // installed aws-cdk-lib recommends; the kit does the same, except the flags docs/feature-flags.md keeps at the
  // old value with a reason.
  const { CURRENTLY_RECOMMENDED_FLAGS, NEW_PROJECT_DEFAULT_CONTEXT } = require('aws-cdk-lib/cx-api') as Record<string, Record<string, unknown>>;
  const KEPT_AT_OLD_VALUE: Record<string, unknown> = {
    '@aws-cdk/core:enablePartitionLiterals': false,
    '@aws-cdk/core:defaultCrossStackReferences': 'strong',
    '@aws-cdk/aws-secretsmanager:useAttachedSecretResourcePolicyForSecretTargetAttachments': false,
    '@aws-cdk/core:annotationsInValidationReport': false,
  };

  test('cdk.json sets every recommended flag of the installed aws-cdk-lib, at its recommended value or a documented older one', () => {
    const ctx = cdkJsonContext();
    const recommended = { ...NEW_PROJECT_DEFAULT_CONTEXT, ...CURRENTLY_RECOMMENDED_FLAGS };
    const wrong = Object.entries(recommended)
      .filter(([k, v]) => JSON.stringify(ctx[k]) !== JSON.stringify(k in KEPT_AT_OLD_VALUE ? KEPT_AT_OLD_VALUE[k] : v))
      .map(([k, v]) => `${k}: cdk.json ${JSON.stringify(ctx[k])}, expected ${JSON.stringify(k in KEPT_AT_OLD_VALUE ? KEPT_AT_OLD_VALUE[k] : v)} (recommended ${JSON.stringify(v)})`);
    expect(wrong).toEqual([]);
    expect(Object.keys(recommended).length).toBeGreaterThan(80);
    const notes = require('fs').readFileSync(require('path').join(__dirname, '..', 'docs', 'feature-flags.md'), 'utf8') as string;
    for (const k of Object.keys(KEPT_AT_OLD_VALUE)) expect(notes).toContain(k);
  });

  test("tests' Apps (test/helpers/app.ts) carry the same flags as cdk synth", () => {
    const { testApp } = require('./helpers/app') as typeof import('./helpers/app');
    const app = testApp({ context: { 'db-ops-kit:patterns': 'kmsKeyChange' } });
    expect(app.node.tryGetContext('@aws-cdk/aws-iam:minimizePolicies')).toBe(true);
    expect(app.node.tryGetContext('db-ops-kit:patterns')).toBe('kmsKeyChange');
  });
});
