/**
 * `npm run dsql-verify -- --source-url postgres://… (--target-url postgres://… | --dsql-endpoint <host>)
 * (--tables s.t,… | --schema s)`: row counts and per-table checksums, source vs target, with a diff
 * naming missing, extra and different keys. Exit 0 when every table matches, 1 when one differs.
 */
import * as fs from 'fs';
import { parseArgs } from 'node:util';
import { DsqlSigner } from '@aws-sdk/dsql-signer';
import { Client } from 'pg';
import { DMS_CSV } from './dms-format';
import { findNullTokenCollisions, NullTokenCollision, TableVerification, verificationMarkdown, verifyTable } from './verify';

const USAGE = `usage: npm run dsql-verify -- --source-url <postgres://…> (--target-url <postgres://…> | --dsql-endpoint <host> [--region <r>] [--role <db role>])
       (--tables <schema.table,…> | --schema <schema>) [--json <file>] [--page-size <n>] [--sample <n>] [--null-token <s>]
       npm run dsql-verify -- --null-token-only --source-url <postgres://…> (--tables <schema.table,…> | --schema <schema>)

  --source-url     the source PostgreSQL
  --target-url     a PostgreSQL target (tests, rehearsals)
  --dsql-endpoint  the Aurora DSQL cluster endpoint (IAM auth token, TLS)
  --role           DSQL database role (default: admin)
  --tables         tables to compare; or --schema to compare every table of a schema in the target
  --json           also write the results as JSON to this file
  --page-size      rows per keyset page (default 5000)
  --sample         keys listed per kind of difference (default 20)
  --null-token     the DMS CsvNullValue token (default ${DMS_CSV.nullValue}); source string values equal to it
                   would load as NULL, so every run also scans the source for them (exit 1 on a hit)
  --null-token-only  only that scan (run it before the full load); no target needed`;

function fail(msg: string): never {
  process.stderr.write(`${msg}\n\n${USAGE}\n`);
  process.exit(2);
}

export async function main(argv: string[]): Promise<number> {
  let a;
  try {
    a = parseArgs({
      args: argv,
      options: {
        'source-url': { type: 'string' },
        'target-url': { type: 'string' },
        'dsql-endpoint': { type: 'string' },
        region: { type: 'string' },
        role: { type: 'string', default: 'admin' },
        tables: { type: 'string' },
        schema: { type: 'string' },
        json: { type: 'string' },
        'page-size': { type: 'string', default: '5000' },
        sample: { type: 'string', default: '20' },
        'null-token': { type: 'string', default: DMS_CSV.nullValue },
        'null-token-only': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (e) {
    fail((e as Error).message);
  }
  if (a.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!a['source-url']) fail('--source-url is required');
  const scanOnly = a['null-token-only'];
  if (!scanOnly && !!a['target-url'] === !!a['dsql-endpoint']) fail('give exactly one of --target-url or --dsql-endpoint');
  if (!a['null-token']) fail('--null-token must not be empty');
  if (!!a.tables === !!a.schema) fail('give exactly one of --tables or --schema');
  const pageSize = Number(a['page-size']);
  const sample = Number(a.sample);
  if (!Number.isInteger(pageSize) || pageSize < 1) fail(`--page-size must be a positive integer, got "${a['page-size']}"`);
  if (!Number.isInteger(sample) || sample < 0) fail(`--sample must be a non-negative integer, got "${a.sample}"`);
  const tables = a.tables ? a.tables.split(',').map((t) => t.trim()).filter(Boolean) : [];
  const bad = tables.filter((t) => !/^[^.\s]+\.[^.\s]+$/.test(t));
  if (bad.length) fail(`--tables entries must be schema.table, got ${bad.join(', ')}`);

  const source = new Client({ connectionString: a['source-url'] });
  if (scanOnly) {
    await source.connect();
    try {
      let list = tables.map((t) => t.split('.') as [string, string]);
      if (a.schema) {
        const r = await source.query<{ t: string }>(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY 1`, [a.schema]);
        list = r.rows.map((x) => [a.schema!, x.t]);
      }
      const hits = await findNullTokenCollisions(source, list, a['null-token']!);
      process.stdout.write(`${nullTokenMarkdown(hits, a['null-token']!, list.length)}\n`);
      if (a.json) fs.writeFileSync(a.json, JSON.stringify({ nullTokenCollisions: hits }, null, 2));
      return hits.length === 0 ? 0 : 1;
    } finally {
      await source.end();
    }
  }
  let target: Client;
  if (a['dsql-endpoint']) {
    const signer = new DsqlSigner({ hostname: a['dsql-endpoint'], region: a.region ?? process.env.AWS_REGION });
    const password = a.role === 'admin' ? await signer.getDbConnectAdminAuthToken() : await signer.getDbConnectAuthToken();
    target = new Client({ host: a['dsql-endpoint'], port: 5432, user: a.role, password, database: 'postgres', ssl: { rejectUnauthorized: true } });
  } else {
    target = new Client({ connectionString: a['target-url'] });
  }
  await source.connect();
  await target.connect();
  try {
    let list = tables.map((t) => t.split('.') as [string, string]);
    if (a.schema) {
      const r = await target.query<{ t: string }>(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY 1`, [a.schema]);
      list = r.rows.map((x) => [a.schema!, x.t]);
      if (list.length === 0) {
        process.stderr.write(`schema ${a.schema} has no tables in the target\n`);
        return 1;
      }
    }
    const results: TableVerification[] = [];
    for (const [schema, table] of list) results.push(await verifyTable(source, target, schema, table, { pageSize, sampleLimit: sample }));
    const hits = await findNullTokenCollisions(source, list, a['null-token']!);
    process.stdout.write(`${verificationMarkdown(results)}\n\n${nullTokenMarkdown(hits, a['null-token']!, list.length)}\n`);
    if (a.json) fs.writeFileSync(a.json, JSON.stringify(results, null, 2));
    return results.every((r) => r.ok) && hits.length === 0 ? 0 : 1;
  } finally {
    await source.end();
    await target.end();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}

function nullTokenMarkdown(hits: NullTokenCollision[], token: string, tables: number): string {
  if (hits.length === 0) return `NULL token: no source string value in ${tables} table(s) equals ${token}.`;
  return [
    `NULL token: ${hits.length} source column(s) hold values equal to ${token}; DMS writes them exactly like NULL, so they load as NULL (or are quarantined in NOT NULL columns). Choose another CsvNullValue before the full load, or fix the data.`,
    '',
    '| table | column | rows |',
    '|---|---|---|',
    ...hits.map((h) => `| ${h.table} | ${h.column} | ${h.rows} |`),
  ].join('\n');
}
