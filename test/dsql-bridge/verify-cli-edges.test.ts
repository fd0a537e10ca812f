/**
 * `npm run dsql-verify` edges, in-process through main() (cli-main.test.ts has the main cases): the
 * smallest accepted --page-size and --sample and multi-character table names pass the argument checks
 * (the run then fails only at connecting to a closed port), one differing table among matching ones
 * fails the run, and the NULL-token report keeps its table readable as markdown. Real PostgreSQL
 * (embedded, one server for this file, started only by the tests that need it).
 */
import { main } from '../../lambda/dsql-loader/verify-cli';
import { freePort, startPostgres, TestPostgres } from '../helpers/postgres';

async function call(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((stdout += String(c)), true));
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((stderr += String(c)), true));
  const exit = jest.spyOn(process, 'exit').mockImplementation((code?: string | number | null) => {
    throw Object.assign(new Error('exit'), { exitCode: Number(code ?? 0) });
  });
  try {
    return { code: await main(argv), stdout, stderr };
  } catch (e) {
    if ((e as { exitCode?: number }).exitCode !== undefined) return { code: (e as { exitCode: number }).exitCode, stdout, stderr };
    throw e;
  } finally {
    out.mockRestore();
    err.mockRestore();
    exit.mockRestore();
  }
}

test('--page-size 1, --sample 0 and schema.table names longer than one character pass the argument checks', async () => {
  const port = await freePort(); // nothing listens there: the run gets past the arguments and fails connecting
  const src = `postgres://u@127.0.0.1:${port}/s`;
  for (const extra of [['--page-size', '1'], ['--sample', '0'], ['--tables', 'sales.order_lines,app.t2']]) {
    const argv = ['--source-url', src, '--target-url', src, ...(extra[0] === '--tables' ? extra : ['--tables', 'public.t', ...extra])];
    await expect(call(argv)).rejects.toThrow(/ECONNREFUSED/);
  }
});

describe('against PostgreSQL', () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
  });

  test('one differing table among matching ones fails the run; the NULL-token table is a separate markdown block', async () => {
    const url = (db: string) => `postgres://${pg.user}:${pg.password}@127.0.0.1:${pg.port}/${db}`;
    for (const db of ['edge_src', 'edge_dst']) {
      await pg.query(`CREATE DATABASE ${db}`);
      await pg.query(`CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE b (id int PRIMARY KEY, v text)`, [], db);
      await pg.query(`INSERT INTO a SELECT g, 'v' || g FROM generate_series(1, 10) g; INSERT INTO b SELECT g, 'w' || g FROM generate_series(1, 10) g`, [], db);
    }
    await pg.query(`UPDATE b SET v = 'other' WHERE id = 4`, [], 'edge_dst');
    const r = await call(['--source-url', url('edge_src'), '--target-url', url('edge_dst'), '--tables', 'public.a,public.b', '--sample', '0']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/\| public\.a \| 10 \| 10 \| (\w+) \| \1 \| OK \|/);
    expect(r.stdout).toContain('| public.b | 10 | 10 |');
    expect(r.stdout).toContain('DIFFERENT |');
    expect(r.stdout).toContain('- 1 row(s) with different content, e.g. keys \n');
    await pg.query(`UPDATE a SET v = '@@DMS_NULL@@' WHERE id = 1`, [], 'edge_src');
    const hit = await call(['--null-token-only', '--source-url', url('edge_src'), '--tables', 'public.a', '--page-size', '1']);
    expect(hit.code).toBe(1);
    expect(hit.stdout).toBe(
      'NULL token: 1 source column(s) hold values equal to @@DMS_NULL@@; DMS writes them exactly like NULL, so they load as NULL (or are quarantined in NOT NULL columns). Choose another CsvNullValue before the full load, or fix the data.\n\n| table | column | rows |\n|---|---|---|\n| public.a | v | 1 |\n',
    );
  });
});
