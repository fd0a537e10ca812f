import * as fs from 'fs';
import { testApp } from './app';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { applyNagPacks, NagFinding, synthWithNag } from '../../bin/nag';

/**
 * Builds a fresh app with `build`, applies the AwsSolutions and Serverless packs and returns the
 * unacknowledged findings as `RULE path` strings, so `expect(nagFindings(...)).toEqual([])` prints
 * every finding when it fails.
 */
export function nagFindings(build: (app: App) => void): string[] {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbops-nag-'));
  try {
    const app = testApp({ outdir });
    build(app);
    applyNagPacks(app);
    return synthWithNag(app).map((f: NagFinding) => `${f.rule} ${f.path}: ${f.description}`);
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}
