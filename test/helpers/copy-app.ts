import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/**
 * One pattern's copy case: the folders a user copies, a CDK app that uses the construct from the
 * copied folder, and assertions over the synthesized templates (keyed by stack artifact id).
 */
export interface CopyCase {
  readonly pattern: string;
  /** Folders relative to the repo root, copied as they are (design card: lib/<p>, lambda/<p>, lambda/shared). */
  readonly folders: string[];
  /** Source of `app.ts` in the scratch app root; it must call `app.synth()`. */
  readonly appSource: string;
  readonly check: (templates: Record<string, any>) => void;
}

/**
 * Copies exactly `folders` into a scratch CDK app in a temp dir whose only other content is a
 * package.json with the kit's npm dependencies (node_modules linked, lock file copied), runs the
 * app with tsx and returns the synthesized templates. Throws with the app's output on failure.
 */
export function synthCopiedApp(c: CopyCase): Record<string, any> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `dbops-copy-${c.pattern}-`));
  try {
    for (const f of c.folders) {
      fs.cpSync(path.join(REPO_ROOT, f), path.join(dir, f), { recursive: true });
    }
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
    fs.writeFileSync(
      path.join(dir, 'package.json'),
      JSON.stringify({ name: 'scratch-app', private: true, dependencies: pkg.dependencies, devDependencies: pkg.devDependencies }, null, 2),
    );
    fs.copyFileSync(path.join(REPO_ROOT, 'package-lock.json'), path.join(dir, 'package-lock.json'));
    fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    fs.writeFileSync(path.join(dir, 'app.ts'), c.appSource);
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
    const templates: Record<string, any> = {};
    for (const f of fs.readdirSync(outdir).filter((n) => n.endsWith('.template.json'))) {
      templates[f.replace(/\.template\.json$/, '')] = JSON.parse(fs.readFileSync(path.join(outdir, f), 'utf8'));
    }
    return templates;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
