/**
 * One embedded PostgreSQL per schema test file (the converter's apply target) and `apply`, which runs a
 * conversion's statements into a fresh database (or `db`) one statement per transaction, schema then
 * post-load, as `npm run dsql-schema -- --apply --phase all` does.
 */
import { applyStatements } from '../../lambda/dsql-loader/schema-apply';
import { initParser } from '../../lambda/dsql-loader/schema-ast';
import { ConversionResult } from '../../lambda/dsql-loader/schema-convert';
import { startPostgres, TestPostgres } from '../helpers/postgres';

export interface SchemaTarget {
  /** The server (started in beforeAll). */
  readonly pg: () => TestPostgres;
  /** Applies `r` into a fresh database named `<prefix>_<n>` (or into `db`) and returns the database name. */
  readonly apply: (r: ConversionResult, db?: string) => Promise<string>;
}

/** Registers beforeAll/afterAll for the calling test file. */
export function useSchemaTarget(prefix: string): SchemaTarget {
  let pg: TestPostgres | undefined;
  let dbs = 0;
  beforeAll(async () => {
    pg = await startPostgres();
    await initParser();
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
  });
  const server = () => {
    if (!pg) throw new Error('the schema target PostgreSQL is not started (use inside a test)');
    return pg;
  };
  return {
    pg: server,
    apply: async (r, db) => {
      const name = db ?? `${prefix}_${(dbs += 1)}`;
      if (!db) await server().query(`CREATE DATABASE ${name}`);
      const c = await server().client(name);
      try {
        await applyStatements(c, r.statements, { target: 'postgres', phases: ['schema', 'post-load'] });
      } finally {
        await c.end();
      }
      return name;
    },
  };
}
