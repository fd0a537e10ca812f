import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readmeInstallBlock } from './copy-deps';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/**
 * One pattern's copy case: the folders a user copies, a CDK app that uses the construct from the
 * copied folder, and assertions over the synthesized templates (keyed by stack artifact id).
 */
export interface CopyCase {
  readonly pattern: string;
  /** Folders relative to the repo root, copied as they are (design card: lib/<p>, lambda/<p>, lambda/shared). */
  readonly folders: string[];
  /**
   * Where each folder lands in the scratch app (repo folder -> app folder), for a user whose layout
   * differs from the kit's; the app then passes the construct's `runtimeCodeDir`.
   * @default - the same relative path as in the kit
   */
  readonly layout?: Record<string, string>;
  /** Source of `app.ts` in the scratch app root; it must call `app.synth()`. */
  readonly appSource: string;
  readonly check: (templates: Record<string, any>) => void;
}

function copyFolders(c: CopyCase, dir: string): void {
  for (const f of c.folders) {
    fs.cpSync(path.join(REPO_ROOT, f), path.join(dir, c.layout?.[f] ?? f), { recursive: true });
  }
  fs.writeFileSync(path.join(dir, 'app.ts'), c.appSource);
}

function readTemplates(outdir: string): Record<string, any> {
  const templates: Record<string, any> = {};
  for (const f of fs.readdirSync(outdir).filter((n) => n.endsWith('.template.json'))) {
    templates[f.replace(/\.template\.json$/, '')] = JSON.parse(fs.readFileSync(path.join(outdir, f), 'utf8'));
  }
  return templates;
}

/**
 * Offline variant (npm test): copies exactly `folders` into a scratch app whose node_modules is a
 * link to the kit's, runs the app with tsx and returns the synthesized templates. It proves the
 * folders are self-contained, NOT that the README's install block is complete (the linked
 * node_modules has everything): `buildCopiedApp` below proves that.
 */
export function synthCopiedApp(c: CopyCase): Record<string, any> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `dbops-copy-${c.pattern}-`));
  try {
    copyFolders(c, dir);
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
    fs.writeFileSync(
      path.join(dir, 'package.json'),
      JSON.stringify({ name: 'scratch-app', private: true, dependencies: pkg.dependencies, devDependencies: pkg.devDependencies }, null, 2),
    );
    fs.copyFileSync(path.join(REPO_ROOT, 'package-lock.json'), path.join(dir, 'package-lock.json'));
    fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    const outdir = path.join(dir, 'cdk.out');
    try {
      execFileSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['app.ts'], {
        cwd: dir,
        env: { ...process.env, CDK_OUTDIR: outdir },
        stdio: 'pipe',
        timeout: 180_000,
      });
    } catch (e: any) {
      throw new Error(`scratch app for ${c.pattern} failed:\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
    }
    return readTemplates(outdir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The README install block of a pattern (`lib/<pattern>/README.md`, section "Copy into your app"). */
export function patternInstallBlock(pattern: string): string {
  const block = readmeInstallBlock(fs.readFileSync(path.join(REPO_ROOT, 'lib', pattern, 'README.md'), 'utf8'));
  if (!block) throw new Error(`lib/${pattern}/README.md has no "Copy into your app" section with a bash block`);
  return block;
}

/**
 * A strict tsconfig (NodeNext modules, `strict`) plus the kit's extra checks
 * and the one option the README asks for (`esModuleInterop`). `skipLibCheck` halves the time
 * (aws-cdk-lib's .d.ts files are large: 48 s vs ~10 s here) and hides nothing the copy needs: a
 * missing type package for an import of the copied code is still TS7016 under `strict`, and a
 * package a bundle needs but nobody installed fails `cdk synth` (esbuild cannot resolve it).
 */
export const SCRATCH_TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2022'],
    strict: true,
    noImplicitReturns: true,
    noUnusedLocals: true,
    noFallthroughCasesInSwitch: true,
    esModuleInterop: true,
    skipLibCheck: true,
    noEmit: true,
  },
  exclude: ['node_modules', 'cdk.out'],
};

export interface BuildResult {
  readonly ok: boolean;
  /** The step that failed (install, tsc, synth), if any. */
  readonly failedStep?: 'install' | 'tsc' | 'synth';
  readonly output: string;
  readonly templates: Record<string, any>;
  /** Seconds per step. */
  readonly seconds: Record<string, number>;
  readonly dir: string;
}

/**
 * The real copy (npm run test:integration, needs the npm registry): a scratch CDK app in a temp
 * folder outside the repository with its own package.json, whose node_modules is installed by
 * running `installBlock` (the README block, verbatim) with bash; then the folders are copied,
 * `tsc --noEmit` runs with a strict tsconfig and `cdk synth` runs the app through the scratch app's
 * own tsx. Nothing comes from the kit: the kit's node_modules/.bin is removed from PATH and no
 * node_modules exists above the temp folder. `npmCache` is shared between cases for speed.
 */
export function buildCopiedApp(c: CopyCase, installBlock: string, npmCache: string, opts: { typeCheck?: boolean } = {}): BuildResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `dbops-copy-${c.pattern}-`));
  for (let d = path.dirname(dir); d !== path.dirname(d); d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'node_modules'))) throw new Error(`${d}/node_modules exists: the scratch app would resolve packages from it`);
  }
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `scratch-${c.pattern}`, version: '0.0.0', private: true }, null, 2));
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(SCRATCH_TSCONFIG, null, 2));
  fs.writeFileSync(path.join(dir, 'cdk.json'), JSON.stringify({ app: 'npx tsx app.ts' }, null, 2));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: (process.env.PATH ?? '').split(path.delimiter).filter((p) => !p.startsWith(REPO_ROOT)).join(path.delimiter),
    npm_config_cache: npmCache,
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_prefer_offline: 'true',
    npm_config_update_notifier: 'false',
    CDK_DISABLE_VERSION_CHECK: 'true',
    CDK_DISABLE_CLI_TELEMETRY: 'true',
  };
  for (const k of Object.keys(env)) if (k.startsWith('npm_package_') || k === 'NODE_PATH' || k === 'INIT_CWD' || k === 'npm_config_local_prefix') delete env[k];
  const seconds: Record<string, number> = {};
  let output = '';
  const step = (name: 'install' | 'tsc' | 'synth', cmd: string, args: string[]): boolean => {
    const t0 = Date.now();
    const r = spawnSync(cmd, args, { cwd: dir, env, encoding: 'utf8', timeout: 600_000, maxBuffer: 64 * 1024 * 1024 });
    seconds[name] = (Date.now() - t0) / 1000;
    output += `\n$ ${name}\n${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`;
    return r.status === 0;
  };
  const result = (failedStep?: BuildResult['failedStep']): BuildResult => ({
    ok: !failedStep,
    failedStep,
    output,
    templates: failedStep ? {} : readTemplates(path.join(dir, 'cdk.out')),
    seconds,
    dir,
  });
  if (!step('install', 'bash', ['-euo', 'pipefail', '-c', installBlock])) return result('install');
  copyFolders(c, dir);
  if ((opts.typeCheck ?? true) && !step('tsc', path.join(dir, 'node_modules', '.bin', 'tsc'), ['--noEmit', '-p', '.'])) return result('tsc');
  if (!step('synth', path.join(dir, 'node_modules', '.bin', 'cdk'), ['synth', '--quiet', '--no-notices', '--no-version-reporting'])) return result('synth');
  return result();
}
