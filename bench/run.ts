/**
 * `npm run bench`: runs every `bench/*.bench.ts` (each exports `bench(): Promise<BenchResult>`)
 * and prints one markdown table per benchmark, headed with the date and machine.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export interface BenchResult {
  readonly title: string;
  readonly header: string[];
  readonly rows: string[][];
  /** Lines printed under the table: targets met or missed, notes on method. */
  readonly notes?: string[];
}

function table(r: BenchResult): string {
  const lines = [`| ${r.header.join(' | ')} |`, `|${r.header.map(() => '---').join('|')}|`, ...r.rows.map((row) => `| ${row.join(' | ')} |`)];
  return lines.join('\n');
}

async function main(): Promise<void> {
  // Node 20 here, nodejs22.x in Lambda: keep the SDK's Node-version notice out of the tables.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const only = process.argv.slice(2);
  const files = fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('.bench.ts'))
    .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
    .sort();
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(`# db-ops-kit benchmarks — ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}\n`);
  let failed = false;
  for (const f of files) {
    const mod = require(path.join(__dirname, f)) as { bench: () => Promise<BenchResult> };
    const r = await mod.bench();
    console.log(`## ${r.title}\n\n${table(r)}\n`);
    for (const n of r.notes ?? []) console.log(`- ${n}`);
    if ((r.notes ?? []).some((n) => n.startsWith('MISSED'))) failed = true;
    console.log('');
  }
  if (failed) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
