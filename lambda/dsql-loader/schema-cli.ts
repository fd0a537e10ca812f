/**
 * `npm run dsql-schema -- --input schema.sql` or `--source-url postgres://…` (runs pg_dump
 * --schema-only): writes the compatibility report (markdown + JSON) and the converted DDL; with
 * `--apply`, applies it to an Aurora DSQL endpoint (IAM token) or PostgreSQL URL, one statement per
 * transaction, waiting for async index jobs.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'node:util';
import { DsqlSigner } from '@aws-sdk/dsql-signer';
import { Client } from 'pg';
import { applyStatements } from './schema-apply';
import { ensureProgressTable } from './loader';
import { convertedSql, convertSchema, reportMarkdown } from './schema-convert';

const USAGE = `usage: npm run dsql-schema -- (--input <pg_dump.sql> | --source-url <postgres://…>) [--out-dir <dir>]
       [--apply (--target-url <postgres://…> | --dsql-endpoint <host> [--region <r>] [--role <db role>]) [--phase schema|post-load|all]]
       [--resume] [--fail-on-error]

  --input          a pg_dump --schema-only file
  --source-url     dump the schema from this PostgreSQL with pg_dump (must be on PATH)
  --out-dir        where report.md, report.json, converted.sql (and, with --source-url, schema.sql: the
                   pg_dump it converted) go (default: out/dsql-schema)
  --apply          apply the converted DDL (one statement per transaction)
  --target-url     apply to this PostgreSQL (indexes are built synchronously)
  --dsql-endpoint  apply to this Aurora DSQL cluster endpoint with an IAM auth token
  --region         Region of the cluster (default: AWS_REGION)
  --role           database role to connect as (default: admin, needed for DDL)
  --phase          schema (default; before the full load), post-load (indexes, foreign keys) or all
  --resume         with --apply: skip objects that already exist on the target (finishing a partial apply);
                   they are listed, not compared with the dump
  --fail-on-error  exit 3 when the report has error findings`;

function fail(msg: string): never {
  process.stderr.write(`${msg}\n\n${USAGE}\n`);
  process.exit(2);
}

/** A postgres:// URL without its password, and the environment for pg_dump with the password in PGPASSWORD. */
function withoutPassword(source: string): { conn: string; env: NodeJS.ProcessEnv } {
  if (!/^postgres(ql)?:\/\//.test(source)) return { conn: source, env: process.env }; // key=value conninfo: passed as given
  try {
    const u = new URL(source);
    if (!u.password) return { conn: source, env: process.env };
    const password = decodeURIComponent(u.password);
    u.password = '';
    return { conn: u.toString(), env: { ...process.env, PGPASSWORD: password } };
  } catch {
    return { conn: source, env: process.env };
  }
}

export async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        input: { type: 'string' },
        'source-url': { type: 'string' },
        'out-dir': { type: 'string', default: path.join('out', 'dsql-schema') },
        apply: { type: 'boolean', default: false },
        'target-url': { type: 'string' },
        'dsql-endpoint': { type: 'string' },
        region: { type: 'string' },
        role: { type: 'string', default: 'admin' },
        phase: { type: 'string', default: 'schema' },
        'fail-on-error': { type: 'boolean', default: false },
        resume: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (e) {
    fail((e as Error).message);
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!!args.input === !!args['source-url']) fail('give exactly one of --input or --source-url');
  if (!['schema', 'post-load', 'all'].includes(args.phase!)) fail(`--phase must be schema, post-load or all, got "${args.phase}"`);
  if (args.apply && !!args['target-url'] === !!args['dsql-endpoint']) fail('--apply needs exactly one of --target-url or --dsql-endpoint');
  if (!args.apply && (args['target-url'] || args['dsql-endpoint'])) fail('--target-url/--dsql-endpoint are only used with --apply');
  if (!args.apply && args.resume) fail('--resume is only used with --apply');

  let script: string;
  let inputName: string;
  if (args.input) {
    if (!fs.existsSync(args.input)) fail(`--input ${args.input}: no such file`);
    try {
      script = fs.readFileSync(args.input, 'utf8');
    } catch (e) {
      fail(`--input ${args.input}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    inputName = path.basename(args.input);
  } else {
    // The password goes to pg_dump in PGPASSWORD, never on its command line (visible in ps) or in our error output.
    const { conn, env } = withoutPassword(args['source-url']!);
    const r = spawnSync('pg_dump', ['--schema-only', '--no-owner', '--no-privileges', conn], { encoding: 'utf8', env, maxBuffer: 256 * 1024 * 1024 });
    if (r.error || r.status !== 0) {
      const why = r.error ? r.error.message : `exit ${r.status ?? r.signal}: ${r.stderr.trim()}`;
      process.stderr.write(`pg_dump failed (is it on PATH and at least the server's major version?): ${why}\n`);
      return 1;
    }
    script = r.stdout;
    inputName = 'pg_dump of --source-url';
  }

  const outDir = args['out-dir']!;
  // Checked before converting: a run that cannot write its report stops here, with nothing half-written.
  try {
    fs.mkdirSync(outDir, { recursive: true });
    fs.accessSync(outDir, fs.constants.W_OK);
  } catch (e) {
    fail(`--out-dir ${outDir}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const result = await convertSchema(script);
  if (result.summary.statementsIn === 0) fail(`${args.input ? `--input ${args.input}` : 'the pg_dump of --source-url'}: no SQL statements found (is it a pg_dump --schema-only file, in plain format? Custom/directory format needs pg_restore -f - first)`);
  const written = ['report.md', 'report.json', 'converted.sql'];
  if (!args.input) {
    // Keep the dump that was converted: the next steps (--apply) read it back with --input.
    fs.writeFileSync(path.join(outDir, 'schema.sql'), script);
    written.push('schema.sql');
  }
  const md = reportMarkdown(result, inputName);
  fs.writeFileSync(path.join(outDir, 'report.md'), md);
  fs.writeFileSync(path.join(outDir, 'report.json'), JSON.stringify({ input: inputName, ...result }, null, 2));
  fs.writeFileSync(path.join(outDir, 'converted.sql'), convertedSql(result));
  process.stdout.write(`${md}\nWrote ${written.map((f) => path.join(outDir, f)).join(', ')}.\n`);

  if (args.apply) {
    const dsql = !!args['dsql-endpoint'];
    let client: Client;
    if (dsql) {
      const host = args['dsql-endpoint']!;
      const signer = new DsqlSigner({ hostname: host, region: args.region ?? process.env.AWS_REGION });
      const password = args.role === 'admin' ? await signer.getDbConnectAdminAuthToken() : await signer.getDbConnectAuthToken();
      client = new Client({ host, port: 5432, user: args.role, password, database: 'postgres', ssl: { rejectUnauthorized: true } });
    } else {
      client = new Client({ connectionString: args['target-url'] });
    }
    await client.connect();
    try {
      const phases = args.phase === 'all' ? (['schema', 'post-load'] as const) : ([args.phase] as Array<'schema' | 'post-load'>);
      const r = await applyStatements(client, result.statements, { target: dsql ? 'dsql' : 'postgres', phases: [...phases], skipExisting: args.resume, log: (m) => process.stdout.write(`${m}\n`) });
      process.stdout.write(`Applied ${r.applied} statement(s)${r.indexJobs.length ? `, waited for ${r.indexJobs.length} index job(s)` : ''}.\n`);
      if (r.skipped.length) process.stdout.write(`Skipped ${r.skipped.length} object(s) that already existed (not compared with the dump): ${r.skipped.join(', ')}.\n`);
      if (phases.includes('schema')) {
        await ensureProgressTable(client);
        process.stdout.write('Ensured the loader progress table dsql_loader.progress.\n');
      }
    } catch (e) {
      process.stderr.write(`${(e as Error).message}\n`);
      return 1;
    } finally {
      await client.end();
    }
  }
  return args['fail-on-error'] && result.summary.errors > 0 ? 3 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
