/**
 * One registry of every stack and prop variant the kit's tests synthesize, for the kit-wide checks in
 * test/kit (lifecycle, IAM coverage, alarm delivery, Control Tower controls). Each variant is the CDK
 * app of bin/db-ops-kit.ts with the committed cdk.json context plus overrides — the same inputs the
 * pattern tests use (test/<pattern>/*.test.ts): IAM and secret credential modes, instance/cluster/
 * blue-green/cross-Region/shared KMS key changes, a DSQL bridge with and without a DMS source, AD trust
 * with PostgreSQL and MySQL, with and without the trust.
 *
 * Synthesis (with esbuild bundling of every Lambda) takes a while, so the cloud assemblies are cached
 * on disk, keyed by a hash of everything that shapes them (bin/, lib/, lambda/, cdk.json, this file,
 * package-lock.json). Jest runs the kit checks in parallel workers: the first worker synthesizes under
 * a lock directory, the others wait for its DONE marker and read the same files.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..', '..');

export interface KitVariant {
  /** Short name, used in finding keys (`variant/Stack/LogicalId`). */
  readonly name: string;
  /** Context overrides on top of cdk.json's `context`. */
  readonly context: Record<string, unknown>;
}

const KMS_TGT_WEST = 'arn:aws:kms:us-west-2:123456789012:key/5555eeee-6666-ffff-7777-888899990000';

/** Every variant; `default` is the committed cdk.json (all patterns, as `npx cdk deploy` builds them). */
export const VARIANTS: KitVariant[] = [
  { name: 'default', context: {} },
  {
    name: 'rds-secret',
    context: { 'db-ops-kit:patterns': 'rdsProxyLambda', 'rdsProxyLambda:credentialMode': 'secret', 'rdsProxyLambda:readers': 0, 'rdsProxyLambda:alarmEmail': 'dba@example.com' },
  },
  { name: 'kms-cluster', context: { 'db-ops-kit:patterns': 'kmsKeyChange', 'kmsKeyChange:dbInstanceIdentifier': '', 'kmsKeyChange:dbClusterIdentifier': 'ledger', 'kmsKeyChange:passRoleArns': '' } },
  { name: 'kms-blue-green', context: { 'db-ops-kit:patterns': 'kmsKeyChange', 'kmsKeyChange:method': 'blue-green' } },
  {
    name: 'kms-cross-region',
    context: { 'db-ops-kit:patterns': 'kmsKeyChange', 'kmsKeyChange:targetRegion': 'us-west-2', 'kmsKeyChange:targetKeyArn': KMS_TGT_WEST, 'kmsKeyChange:targetSecurityGroupIds': 'sg-0abc' },
  },
  {
    name: 'kms-cluster-share',
    context: { 'db-ops-kit:patterns': 'kmsKeyChange', 'kmsKeyChange:dbInstanceIdentifier': '', 'kmsKeyChange:dbClusterIdentifier': 'ledger', 'kmsKeyChange:passRoleArns': '', 'kmsKeyChange:shareWithAccount': '210987654321' },
  },
  { name: 'kms-share', context: { 'db-ops-kit:patterns': 'kmsKeyChange', 'kmsKeyChange:shareWithAccount': '210987654321' } },
  {
    name: 'dsql-source',
    context: { 'db-ops-kit:patterns': 'dsqlBridge', 'dsqlBridge:sourceServerName': 'pg.internal', 'dsqlBridge:sourceSchemas': 'public,sales', 'dsqlBridge:deletionProtection': false },
  },
  {
    name: 'ad-mysql-no-trust',
    context: { 'db-ops-kit:patterns': 'adTrust', 'adTrust:engine': 'aurora-mysql', 'adTrust:createTrust': false, 'adTrust:readers': 0 },
  },
  { name: 'ad-selective', context: { 'db-ops-kit:patterns': 'adTrust', 'adTrust:selectiveAuth': true } },
];

export interface KitStack {
  readonly variant: string;
  readonly stackName: string;
  /** `variant/StackName`, the prefix of every finding key. */
  readonly id: string;
  readonly template: Template;
  /** The cloud assembly directory (asset.<hash>/ folders live here). */
  readonly assemblyDir: string;
  readonly pattern: string;
}

export interface Template {
  Resources: Record<string, Resource>;
  [k: string]: unknown;
}
export interface Resource {
  Type: string;
  Properties?: Record<string, any>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  DependsOn?: string | string[];
  Metadata?: Record<string, any>;
  Condition?: string;
}

const PATTERN_OF_STACK: Record<string, string> = {
  DbOpsRdsProxyLambda: 'rds-proxy-lambda',
  DbOpsKmsKeyChange: 'kms-key-change',
  DbOpsDsqlBridge: 'dsql-bridge',
  DbOpsAdTrustPrimary: 'ad-trust',
  DbOpsAdTrustReplica: 'ad-trust',
};

export function patternOfStack(stackName: string): string {
  return PATTERN_OF_STACK[stackName] ?? 'unknown';
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : [p];
  });
}

function sourceHash(): string {
  const h = createHash('sha256');
  const files = [...['bin', 'lib', 'lambda'].flatMap((d) => filesUnder(path.join(ROOT, d))), path.join(ROOT, 'cdk.json'), path.join(ROOT, 'package-lock.json'), __filename].sort();
  for (const f of files) h.update(f).update(fs.readFileSync(f));
  return h.digest('hex').slice(0, 16);
}

function synthInto(dir: string): void {
  // Imported lazily: only the worker that synthesizes pays for loading the app.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { App } = require('aws-cdk-lib') as typeof import('aws-cdk-lib');
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { buildApp } = require('../../bin/db-ops-kit') as typeof import('../../bin/db-ops-kit');
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { cdkJsonContext } = require('../../bin/pattern') as typeof import('../../bin/pattern');
  for (const v of VARIANTS) {
    const outdir = path.join(dir, v.name);
    buildApp(new App({ outdir, context: { ...cdkJsonContext(), ...v.context } })).synth();
  }
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** The cache directory with every variant synthesized (synthesizes on first use). */
export function kitAssemblyRoot(): string {
  const base = path.join(os.tmpdir(), 'db-ops-kit-kit-synth');
  fs.mkdirSync(base, { recursive: true });
  const dir = path.join(base, sourceHash());
  const done = path.join(dir, 'DONE');
  const lock = `${dir}.lock`;
  const deadline = Date.now() + 15 * 60_000;
  while (!fs.existsSync(done)) {
    let mine = false;
    try {
      fs.mkdirSync(lock);
      mine = true;
    } catch {
      // Another worker synthesizes; take over a lock older than 10 minutes (a killed run).
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > 10 * 60_000) fs.rmSync(lock, { recursive: true, force: true });
      } catch {
        /* lock vanished meanwhile */
      }
    }
    if (mine) {
      try {
        fs.rmSync(dir, { recursive: true, force: true });
        synthInto(dir);
        fs.writeFileSync(done, new Date().toISOString());
        // Older syntheses (other source hashes) are dead weight: drop those not touched for an hour.
        for (const old of fs.readdirSync(base)) {
          const p = path.join(base, old);
          if (p !== dir && !old.endsWith('.lock') && Date.now() - fs.statSync(p).mtimeMs > 3_600_000) fs.rmSync(p, { recursive: true, force: true });
        }
      } finally {
        fs.rmSync(lock, { recursive: true, force: true });
      }
      break;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for another jest worker to synthesize into ${dir}`);
    sleep(500);
  }
  return dir;
}

let cached: KitStack[] | undefined;

/** Every stack of every variant, templates parsed. */
export function kitStacks(): KitStack[] {
  if (cached) return cached;
  const root = kitAssemblyRoot();
  const out: KitStack[] = [];
  for (const v of VARIANTS) {
    const assemblyDir = path.join(root, v.name);
    for (const f of fs.readdirSync(assemblyDir).filter((x) => x.endsWith('.template.json')).sort()) {
      const stackName = f.replace(/\.template\.json$/, '');
      const template = JSON.parse(fs.readFileSync(path.join(assemblyDir, f), 'utf8')) as Template;
      out.push({ variant: v.name, stackName, id: `${v.name}/${stackName}`, template, assemblyDir, pattern: patternOfStack(stackName) });
    }
  }
  cached = out;
  return out;
}

/** A deep copy of a template, for the deliberately-broken-template test cases. */
export function cloneTemplate(t: Template): Template {
  return JSON.parse(JSON.stringify(t)) as Template;
}

/** Resources of one type. */
export function resourcesOfType(t: Template, type: string): Array<[string, Resource]> {
  return Object.entries(t.Resources).filter(([, r]) => r.Type === type);
}
