/**
 * Test-only Lambda of integ.dsql-bridge.ts, connecting to the test's DSQL cluster as `admin`:
 * `setup` does runbook step 2 of lib/dsql-bridge/README.md for one table (loader role mapped to the
 * loader's IAM role, progress table, target table, grants; each statement its own transaction, as
 * DSQL requires); `count` returns the rows of the target table.
 */
import { DsqlSigner } from '@aws-sdk/dsql-signer';
import { Client } from 'pg';
import { PROGRESS_DDL } from '../../lambda/dsql-loader/loader';

interface Event {
  readonly action: 'setup' | 'count';
  readonly endpoint: string;
  readonly loaderRoleArn?: string;
  readonly databaseRole?: string;
}

export async function handler(e: Event): Promise<{ rows?: number; done?: boolean }> {
  const signer = new DsqlSigner({ hostname: e.endpoint, region: process.env.AWS_REGION });
  const client = new Client({ host: e.endpoint, port: 5432, user: 'admin', password: await signer.getDbConnectAdminAuthToken(), database: 'postgres', ssl: { rejectUnauthorized: true } });
  await client.connect();
  try {
    if (e.action === 'count') {
      const r = await client.query('SELECT count(*)::int AS n FROM public.orders');
      return { rows: r.rows[0].n };
    }
    const role = e.databaseRole ?? 'dsql_loader';
    const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
    if (exists.rowCount === 0) await client.query(`CREATE ROLE ${role} WITH LOGIN`);
    await client.query(`AWS IAM GRANT ${role} TO '${e.loaderRoleArn}'`).catch((err: Error) => {
      if (!/already/i.test(err.message)) throw err;
    });
    for (const ddl of PROGRESS_DDL) await client.query(ddl);
    await client.query('CREATE TABLE IF NOT EXISTS public.orders (id integer PRIMARY KEY, item text NOT NULL, qty integer)');
    await client.query(`GRANT USAGE ON SCHEMA dsql_loader, public TO ${role}`);
    await client.query(`GRANT SELECT, INSERT, UPDATE ON dsql_loader.progress TO ${role}`);
    await client.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON public.orders TO ${role}`);
    return { done: true };
  } finally {
    await client.end();
  }
}
