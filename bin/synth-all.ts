/**
 * `npm start`: synthesize every pattern offline into cdk.out with the cdk-nag packs applied, and
 * print one row per stack: name, Region, resource count, nag result. Exits non-zero when any
 * stack has an unacknowledged finding, after printing the findings.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { buildApp } from './db-ops-kit';
import { applyNagPacks, synthWithNag } from './nag';
import { cdkJsonContext } from './pattern';

function main(): number {
  const outdir = path.resolve(__dirname, '..', 'cdk.out');
  fs.rmSync(outdir, { recursive: true, force: true });
  const started = Date.now();
  const app = buildApp(new App({ outdir, context: cdkJsonContext() }));
  applyNagPacks(app);
  const findings = synthWithNag(app);
  const stacks = app.node.findAll().filter((c): c is Stack => Stack.isStack(c));
  const rows = stacks.map((s) => {
    const template = JSON.parse(fs.readFileSync(path.join(outdir, s.templateFile), 'utf8'));
    const mine = findings.filter((f) => f.path === s.node.path || f.path.startsWith(`${s.node.path}/`));
    return {
      stack: s.stackName,
      region: s.region,
      resources: Object.keys(template.Resources ?? {}).length,
      nag: mine.length === 0 ? 'clean' : `${mine.length} finding(s)`,
    };
  });
  const header = ['stack', 'region', 'resources', 'cdk-nag (AwsSolutions + Serverless)'];
  const table = [header, ...rows.map((r) => [r.stack, r.region, String(r.resources), r.nag])];
  const widths = header.map((_, i) => Math.max(...table.map((row) => row[i].length)));
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(table[0]));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of table.slice(1)) console.log(line(row));
  console.log(`\nSynthesized ${rows.length} stack(s) into ${path.relative(process.cwd(), outdir) || outdir} in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  if (findings.length > 0) {
    console.error('\nUnacknowledged cdk-nag findings:');
    for (const f of findings) console.error(`  ${f.rule}  ${f.path}  ${f.description}`);
    return 1;
  }
  console.log('Deploy one pattern with: npx cdk deploy <stack>   (see README.md)');
  return 0;
}

process.exitCode = main();
