import * as fs from 'fs';
import * as path from 'path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';

/** One unacknowledged cdk-nag finding, as written to the CDK validation report. */
export interface NagFinding {
  readonly rule: string;
  readonly path: string;
  readonly description: string;
}

/** Adds the rule packs every stack of the kit must pass: AWS Solutions and Serverless. */
export function applyNagPacks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
}

/**
 * Synthesizes an app that has the nag packs applied and returns every unacknowledged finding.
 * CDK writes `validation-report.json` into the outdir and throws when a plugin fails, so the
 * report (not the exception) is the source of truth. Other synth errors are rethrown.
 */
export function synthWithNag(app: App): NagFinding[] {
  const outdir = app.outdir;
  const reportFile = path.join(outdir, 'validation-report.json');
  fs.rmSync(reportFile, { force: true });
  try {
    app.synth();
  } catch (e) {
    if (!fs.existsSync(reportFile)) throw e;
  }
  if (!fs.existsSync(reportFile)) return [];
  const report = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as {
    pluginReports: Array<{
      violations: Array<{ ruleName: string; description: string; violatingConstructs: Array<{ constructPath: string }> }>;
    }>;
  };
  const findings: NagFinding[] = [];
  for (const plugin of report.pluginReports) {
    for (const v of plugin.violations) {
      for (const c of v.violatingConstructs) {
        findings.push({ rule: v.ruleName, path: c.constructPath, description: v.description });
      }
    }
  }
  return findings;
}
