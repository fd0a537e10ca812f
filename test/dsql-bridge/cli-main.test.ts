/**
 * The two CLIs (`npm run dsql-schema`, `npm run dsql-verify`) called in-process through their exported
 * `main(argv)`, against a real PostgreSQL (one embedded server for this file) and the real pg_dump on PATH.
 * schema.test.ts runs them as child processes the way a user does; these tests look at every argument rule,
 * message and exit code, and at what lands in files and in the target database.
 *
 * Only `process.exit` (which `fail` calls after printing usage) and the two output streams are replaced
 * (jest spies): a real exit would end the test process. Every test makes its own databases and files.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main as schemaMain } from '../../lambda/dsql-loader/schema-cli';
import { main as verifyMain } from '../../lambda/dsql-loader/verify-cli';
import { startPostgres, TestPostgres } from '../helpers/postgres';

class Exit extends Error {
  constructor(readonly code: number | undefined) {
    super(`process.exit(${code})`);
  }
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a CLI main in-process: `code` is main's result, or the code it passed to process.exit. */
async function call(main: (argv: string[]) => Promise<number>, argv: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  const exit = jest.spyOn(process, 'exit').mockImplementation((code?: string | number | null) => {
    throw new Exit(code === undefined || code === null ? undefined : Number(code));
  });
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } catch (e) {
    if (e instanceof Exit) return { code: e.code ?? 0, stdout, stderr };
    throw e;
  } finally {
    out.mockRestore();
    err.mockRestore();
    exit.mockRestore();
  }
}

const SCHEMA_USAGE = 'usage: npm run dsql-schema';
const VERIFY_USAGE = 'usage: npm run dsql-verify';

// Two tables, a secondary index and a foreign key (post-load phase), a trigger function (an error finding).
const DUMP_SQL = `CREATE TABLE public.a (id integer NOT NULL, note text);
ALTER TABLE ONLY public.a ADD CONSTRAINT a_pkey PRIMARY KEY (id);
CREATE INDEX a_note ON public.a USING btree (note);
CREATE TABLE public.b (id integer NOT NULL PRIMARY KEY, a_id integer);
ALTER TABLE ONLY public.b ADD CONSTRAINT b_a_fk FOREIGN KEY (a_id) REFERENCES public.a(id);
CREATE FUNCTION public.f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
`;
const CLEAN_SQL = 'CREATE TABLE public.c (id integer NOT NULL PRIMARY KEY, v text);\n';

let pg: TestPostgres;
let tmp: string;
let dump: string;
let clean: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dsql-cli-main-'));
  dump = path.join(tmp, 'dump.sql');
  clean = path.join(tmp, 'clean.sql');
  fs.writeFileSync(dump, DUMP_SQL);
  fs.writeFileSync(clean, CLEAN_SQL);
});
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

let dbs = 0;
async function newDb(prefix: string): Promise<{ name: string; url: string }> {
  dbs += 1;
  const name = `${prefix}_${dbs}`;
  await pg.query(`CREATE DATABASE ${name}`);
  return { name, url: `postgres://${pg.user}:${pg.password}@127.0.0.1:${pg.port}/${name}` };
}
const outDir = (name: string) => path.join(tmp, name);

describe('dsql-schema arguments', () => {
  test('--help prints the usage and exits 0 without reading anything', async () => {
    const r = await call(schemaMain, ['--help']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.startsWith(SCHEMA_USAGE)).toBe(true);
    expect(r.stdout).toContain('--fail-on-error  exit 3 when the report has error findings');
  });

  test.each<[string, string[], string]>([
    ['an unknown option', ['--bogus'], "Unknown option '--bogus'"],
    ['neither --input nor --source-url', [], 'give exactly one of --input or --source-url'],
    ['both --input and --source-url', ['--input', 'x.sql', '--source-url', 'postgres://h/db'], 'give exactly one of --input or --source-url'],
    ['an unknown --phase', ['--input', 'x.sql', '--phase', 'later'], '--phase must be schema, post-load or all, got "later"'],
    ['--apply without a target', ['--input', 'x.sql', '--apply'], '--apply needs exactly one of --target-url or --dsql-endpoint'],
    ['--apply with both targets', ['--input', 'x.sql', '--apply', '--target-url', 'postgres://h/db', '--dsql-endpoint', 'h'], '--apply needs exactly one of --target-url or --dsql-endpoint'],
    ['--target-url without --apply', ['--input', 'x.sql', '--target-url', 'postgres://h/db'], '--target-url/--dsql-endpoint are only used with --apply'],
    ['--dsql-endpoint without --apply', ['--input', 'x.sql', '--dsql-endpoint', 'h'], '--target-url/--dsql-endpoint are only used with --apply'],
    ['--resume without --apply', ['--input', 'x.sql', '--resume'], '--resume is only used with --apply'],
  ])('%s: exit 2, the reason, then the usage', async (_name, argv, reason) => {
    const r = await call(schemaMain, argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.startsWith(`${reason}`)).toBe(true);
    expect(r.stderr).toContain(`\n\n${SCHEMA_USAGE}`);
  });

  test('each phase name is accepted', async () => {
    for (const phase of ['schema', 'post-load', 'all']) {
      const r = await call(schemaMain, ['--input', clean, '--out-dir', outDir(`phase-${phase}`), '--phase', phase]);
      expect(r).toMatchObject({ code: 0, stderr: '' });
    }
  });

  test('an --input that does not exist, a directory, or has no statements: exit 2 naming the file, nothing written', async () => {
    const missing = path.join(tmp, 'nope.sql');
    const r1 = await call(schemaMain, ['--input', missing, '--out-dir', outDir('missing')]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain(`--input ${missing}: no such file`);
    const r2 = await call(schemaMain, ['--input', tmp, '--out-dir', outDir('dir')]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain(`--input ${tmp}: cannot read (EISDIR)`);
    const empty = path.join(tmp, 'empty.sql');
    fs.writeFileSync(empty, '-- only a comment\n\n');
    const r3 = await call(schemaMain, ['--input', empty, '--out-dir', outDir('empty')]);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toContain(`--input ${empty}: no SQL statements found (is it a pg_dump --schema-only file, in plain format?`);
    for (const d of ['missing', 'dir']) expect(fs.existsSync(outDir(d))).toBe(false);
    expect(fs.readdirSync(outDir('empty'))).toEqual([]);
  });

  test('an --out-dir that cannot be written: exit 2 with the error code, before converting', async () => {
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, 'x');
    const r = await call(schemaMain, ['--input', dump, '--out-dir', path.join(file, 'sub')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--out-dir ${path.join(file, 'sub')}: cannot write (ENOTDIR)`);
    expect(r.stdout).toBe('');
  });
});

describe('dsql-schema conversion', () => {
  test('--input: report.md, report.json (with the input name) and converted.sql; exit 0, or 3 with --fail-on-error and an error finding', async () => {
    const dir = outDir('convert');
    const r = await call(schemaMain, ['--input', dump, '--out-dir', dir]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(fs.readdirSync(dir).sort()).toEqual(['converted.sql', 'report.json', 'report.md']);
    const md = fs.readFileSync(path.join(dir, 'report.md'), 'utf8');
    expect(r.stdout).toBe(`${md}\nWrote ${['report.md', 'report.json', 'converted.sql'].map((f) => path.join(dir, f)).join(', ')}.\n`);
    expect(md).toContain('dump.sql');
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
    expect(json).toMatchObject({ input: 'dump.sql', summary: { statementsIn: 6, statementsOut: 4, errors: 1 } });
    expect(json.findings.map((f: { object: string }) => f.object)).toContain('function public.f');
    const sql = fs.readFileSync(path.join(dir, 'converted.sql'), 'utf8');
    expect(sql).toContain('CREATE INDEX ASYNC a_note ON public.a (note)');
    expect(sql).not.toContain('CREATE FUNCTION');

    const strict = await call(schemaMain, ['--input', dump, '--out-dir', outDir('convert-strict'), '--fail-on-error']);
    expect(strict.code).toBe(3);
    const cleanRun = await call(schemaMain, ['--input', clean, '--out-dir', outDir('convert-clean'), '--fail-on-error']);
    expect(cleanRun.code).toBe(0);
  });
});

describe('dsql-verify arguments', () => {
  const src = 'postgres://u@127.0.0.1:1/s';
  const tgt = 'postgres://u@127.0.0.1:1/t';

  test('--help prints the usage with the default NULL token and exits 0', async () => {
    const r = await call(verifyMain, ['--help']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.startsWith(VERIFY_USAGE)).toBe(true);
    expect(r.stdout).toContain('(default @@DMS_NULL@@)');
  });

  test.each<[string, string[], string]>([
    ['an unknown option', ['--bogus'], "Unknown option '--bogus'"],
    ['no --source-url', ['--target-url', tgt, '--tables', 'public.t'], '--source-url is required'],
    ['no target', ['--source-url', src, '--tables', 'public.t'], 'give exactly one of --target-url or --dsql-endpoint'],
    ['both targets', ['--source-url', src, '--target-url', tgt, '--dsql-endpoint', 'h', '--tables', 'public.t'], 'give exactly one of --target-url or --dsql-endpoint'],
    ['an empty --null-token', ['--source-url', src, '--target-url', tgt, '--tables', 'public.t', '--null-token', ''], '--null-token must not be empty'],
    ['neither --tables nor --schema', ['--source-url', src, '--target-url', tgt], 'give exactly one of --tables or --schema'],
    ['both --tables and --schema', ['--source-url', src, '--target-url', tgt, '--tables', 'public.t', '--schema', 'public'], 'give exactly one of --tables or --schema'],
    ['--page-size 0', ['--source-url', src, '--target-url', tgt, '--schema', 'public', '--page-size', '0'], '--page-size must be a positive integer, got "0"'],
    ['--page-size 2.5', ['--source-url', src, '--target-url', tgt, '--schema', 'public', '--page-size', '2.5'], '--page-size must be a positive integer, got "2.5"'],
    ['--sample -1', ['--source-url', src, '--target-url', tgt, '--schema', 'public', '--sample=-1'], '--sample must be a non-negative integer, got "-1"'],
    ['--sample x', ['--source-url', src, '--target-url', tgt, '--schema', 'public', '--sample', 'x'], '--sample must be a non-negative integer, got "x"'],
    ['a table without schema', ['--source-url', src, '--target-url', tgt, '--tables', 'public.t,orders'], '--tables entries must be schema.table, got orders'],
    ['a three-part or spaced name', ['--source-url', src, '--target-url', tgt, '--tables', 'a.b.c, x .y'], '--tables entries must be schema.table, got a.b.c, x .y'],
    ['--null-token-only without --tables/--schema', ['--null-token-only', '--source-url', src], 'give exactly one of --tables or --schema'],
  ])('%s: exit 2, the reason, then the usage', async (_name, argv, reason) => {
    const r = await call(verifyMain, argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.startsWith(reason)).toBe(true);
    expect(r.stderr).toContain(`\n\n${VERIFY_USAGE}`);
  });
});

// The tests below need the database: one embedded server for the file, started only when one of them runs
// (argument tests above run without it, which keeps a mutation run's per-mutant re-runs short).
describe('against PostgreSQL', () => {
  beforeAll(async () => {
    pg = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
  });

  describe('dsql-schema --source-url', () => {
    test('--source-url: the password reaches pg_dump in PGPASSWORD, not on its command line or in the error; pg_dump failing exits 1', async () => {
      // The real pg_dump (Debian 15) refuses the embedded PostgreSQL 17 server (version mismatch). A wrapper
      // earlier on PATH records the arguments and PGPASSWORD it was started with, then runs the real one.
      const bin = path.join(tmp, 'bin');
      fs.mkdirSync(bin, { recursive: true });
      const log = path.join(tmp, 'pg_dump.log');
      const real = ['/usr/bin/pg_dump', '/usr/lib/postgresql/15/bin/pg_dump'].find((p) => fs.existsSync(p));
      expect(real).toBeDefined();
      fs.writeFileSync(path.join(bin, 'pg_dump'), `#!/bin/sh\nprintf '%s\\n' "$@" > '${log}'\nprintf 'PGPASSWORD=%s\\n' "$PGPASSWORD" >> '${log}'\nexec ${real} "$@"\n`, { mode: 0o755 });
      const db = await newDb('dumpsrc');
      const secret = 'p@ss/w:rd';
      const user = `dumper_${dbs}`;
      await pg.query(`CREATE ROLE ${user} LOGIN PASSWORD '${secret}'`);
      const oldPath = process.env.PATH;
      process.env.PATH = `${bin}${path.delimiter}${oldPath}`;
      try {
        const url = `postgres://${user}:${encodeURIComponent(secret)}@127.0.0.1:${pg.port}/${db.name}`;
        const r = await call(schemaMain, ['--source-url', url, '--out-dir', outDir('dump')]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/^pg_dump failed \(is it on PATH and at least the server's major version\?\): exit 1: .*server version/s);
        expect(r.stderr).not.toContain(secret);
        expect(r.stderr).not.toContain(encodeURIComponent(secret));
        const recorded = fs.readFileSync(log, 'utf8').trim().split('\n');
        expect(recorded).toEqual(['--schema-only', '--no-owner', '--no-privileges', `postgres://${user}@127.0.0.1:${pg.port}/${db.name}`, `PGPASSWORD=${secret}`]);
        // No password in the URL, or key=value conninfo: passed as given, PGPASSWORD from the caller's environment.
        const plain = `postgres://${user}@127.0.0.1:${pg.port}/${db.name}`;
        expect((await call(schemaMain, ['--source-url', plain, '--out-dir', outDir('dump2')])).code).toBe(1);
        expect(fs.readFileSync(log, 'utf8').trim().split('\n')).toEqual(['--schema-only', '--no-owner', '--no-privileges', plain, `PGPASSWORD=${process.env.PGPASSWORD ?? ''}`]);
        const kv = `host=127.0.0.1 port=${pg.port} dbname=${db.name} password=${secret}`;
        expect((await call(schemaMain, ['--source-url', kv, '--out-dir', outDir('dump3')])).code).toBe(1);
        expect(fs.readFileSync(log, 'utf8').trim().split('\n')).toEqual(['--schema-only', '--no-owner', '--no-privileges', kv, `PGPASSWORD=${process.env.PGPASSWORD ?? ''}`]);
        // No pg_dump on PATH at all: the spawn error is named.
        process.env.PATH = tmp;
        const none = await call(schemaMain, ['--source-url', plain, '--out-dir', outDir('dump4')]);
        expect(none.code).toBe(1);
        expect(none.stderr).toContain('pg_dump failed (is it on PATH');
        expect(none.stderr).toContain('ENOENT');
        for (const d of ['dump', 'dump2', 'dump3', 'dump4']) expect(fs.existsSync(outDir(d))).toBe(false);
      } finally {
        process.env.PATH = oldPath;
      }
    });
  });

  describe('dsql-schema --apply --target-url', () => {
    const tables = async (db: string) =>
      (await pg.query<{ t: string }>(`SELECT schemaname || '.' || tablename AS t FROM pg_tables WHERE schemaname IN ('public', 'dsql_loader') ORDER BY 1`, [], db)).map((x) => x.t);
    const indexes = async (db: string) => (await pg.query<{ i: string }>(`SELECT indexname AS i FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`, [], db)).map((x) => x.i);
    const fks = async (db: string) => (await pg.query<{ c: string }>(`SELECT conname AS c FROM pg_constraint WHERE contype = 'f'`, [], db)).map((x) => x.c);

    test('default phase schema: the tables and the loader progress table, no indexes or foreign keys yet', async () => {
      const db = await newDb('apply_schema');
      const r = await call(schemaMain, ['--input', dump, '--out-dir', outDir('apply-schema'), '--apply', '--target-url', db.url]);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toContain('\nApplied 2 statement(s).\n');
      expect(r.stdout).toContain('Ensured the loader progress table dsql_loader.progress.\n');
      expect(r.stdout).not.toContain('Skipped');
      expect(await tables(db.name)).toEqual(['dsql_loader.progress', 'public.a', 'public.b']);
      expect(await indexes(db.name)).toEqual(['a_pkey', 'b_pkey']);
      expect(await fks(db.name)).toEqual([]);
    });

    test('--phase post-load after the load: the index and the foreign key, and no progress table', async () => {
      const db = await newDb('apply_post');
      await pg.query(`CREATE TABLE public.a (id integer PRIMARY KEY, note text); CREATE TABLE public.b (id integer PRIMARY KEY, a_id integer)`, [], db.name);
      const r = await call(schemaMain, ['--input', dump, '--out-dir', outDir('apply-post'), '--apply', '--target-url', db.url, '--phase', 'post-load']);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toContain('\nApplied 2 statement(s).\n');
      expect(r.stdout).not.toContain('Ensured the loader progress table');
      expect(await tables(db.name)).toEqual(['public.a', 'public.b']);
      expect(await indexes(db.name)).toEqual(['a_note', 'a_pkey', 'b_pkey']);
      expect(await fks(db.name)).toEqual(['b_a_fk']);
    });

    test('an existing table stops the apply with exit 1 and the way out; --resume skips and lists it; --fail-on-error still exits 3 after applying', async () => {
      const db = await newDb('apply_resume');
      await pg.query(`CREATE TABLE public.a (id integer PRIMARY KEY, note text)`, [], db.name);
      const stop = await call(schemaMain, ['--input', dump, '--out-dir', outDir('apply-stop'), '--apply', '--target-url', db.url, '--phase', 'all']);
      expect(stop.code).toBe(1);
      expect(stop.stderr).toContain('table public.a already exists on the target');
      expect(stop.stderr).toContain('re-run with --resume');
      expect(await tables(db.name)).toEqual(['public.a']);
      const resumed = await call(schemaMain, ['--input', dump, '--out-dir', outDir('apply-resume'), '--apply', '--target-url', db.url, '--phase', 'all', '--resume', '--fail-on-error']);
      expect(resumed.stderr).toBe('');
      expect(resumed.code).toBe(3);
      expect(resumed.stdout).toContain('\nApplied 3 statement(s).\n');
      expect(resumed.stdout).toContain('Skipped 1 object(s) that already existed (not compared with the dump): table public.a.\n');
      expect(resumed.stdout).toContain('Ensured the loader progress table dsql_loader.progress.\n');
      expect(await tables(db.name)).toEqual(['dsql_loader.progress', 'public.a', 'public.b']);
      expect(await fks(db.name)).toEqual(['b_a_fk']);
    });
  });

  describe('dsql-verify against PostgreSQL', () => {
    async function pair(rows: number): Promise<{ src: { name: string; url: string }; dst: { name: string; url: string } }> {
      const src = await newDb('vsrc');
      const dst = await newDb('vdst');
      for (const db of [src, dst]) {
        await pg.query(`CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE u (k text PRIMARY KEY)`, [], db.name);
        await pg.query(`INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, ${rows}) g`, [], db.name);
        await pg.query(`INSERT INTO u VALUES ('a'), ('b')`, [], db.name);
      }
      return { src, dst };
    }

    test('--schema compares every table of the target schema; --json writes the results; exit 0 when all match', async () => {
      const { src, dst } = await pair(30);
      const json = path.join(tmp, 'verify-ok.json');
      const r = await call(verifyMain, ['--source-url', src.url, '--target-url', dst.url, '--schema', 'public', '--json', json, '--page-size', '7']);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toMatch(/\| public\.t \| 30 \| 30 \| (\w+) \| \1 \| OK \|/);
      expect(r.stdout).toMatch(/\| public\.u \| 2 \| 2 \| (\w+) \| \1 \| OK \|/);
      expect(r.stdout).toContain('NULL token: no source string value in 2 table(s) equals @@DMS_NULL@@.');
      const written = JSON.parse(fs.readFileSync(json, 'utf8'));
      expect(written.map((x: { table: string; ok: boolean }) => [x.table, x.ok])).toEqual([['public.t', true], ['public.u', true]]);
    });

    test('--tables (trimmed, empty entries dropped): a difference exits 1, keys listed up to --sample (default 20)', async () => {
      const { src, dst } = await pair(40);
      await pg.query(`UPDATE t SET v = 'changed' WHERE id <= 25`, [], dst.name);
      const r = await call(verifyMain, ['--source-url', src.url, '--target-url', dst.url, '--tables', ' public.t ,,']);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('| public.t | 40 | 40 |');
      expect(r.stdout).not.toContain('public.u');
      const keys = /25 row\(s\) with different content, e.g. keys (.*)/.exec(r.stdout)?.[1].split(' ');
      expect(keys).toHaveLength(20);
      const two = await call(verifyMain, ['--source-url', src.url, '--target-url', dst.url, '--tables', 'public.t', '--sample', '2']);
      expect(two.code).toBe(1);
      expect(two.stdout).toContain('25 row(s) with different content, e.g. keys ["1"] ["2"]\n');
    });

    test('a matching target with a NULL-token collision in the source still exits 1 and names the column; --null-token picks another token', async () => {
      const { src, dst } = await pair(5);
      await pg.query(`UPDATE t SET v = '@@DMS_NULL@@' WHERE id IN (2, 3)`, [], src.name);
      await pg.query(`UPDATE t SET v = '@@DMS_NULL@@' WHERE id IN (2, 3)`, [], dst.name);
      const r = await call(verifyMain, ['--source-url', src.url, '--target-url', dst.url, '--tables', 'public.t,public.u']);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/\| public\.t \| 5 \| 5 \| (\w+) \| \1 \| OK \|/);
      expect(r.stdout).toContain('NULL token: 1 source column(s) hold values equal to @@DMS_NULL@@;');
      expect(r.stdout).toContain('| table | column | rows |\n|---|---|---|\n| public.t | v | 2 |');
      const other = await call(verifyMain, ['--source-url', src.url, '--target-url', dst.url, '--tables', 'public.t', '--null-token', '~NULL~']);
      expect(other.code).toBe(0);
      expect(other.stdout).toContain('NULL token: no source string value in 1 table(s) equals ~NULL~.');
    });

    test('a --schema with no tables in the target: exit 1, named', async () => {
      const { src, dst } = await pair(1);
      const r = await call(verifyMain, ['--source-url', src.url, '--target-url', dst.url, '--schema', 'nothing_here']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('schema nothing_here has no tables in the target\n');
    });

    test('--null-token-only: the source alone (--schema lists the source tables), --json with the hits', async () => {
      const src = await newDb('nsrc');
      await pg.query(`CREATE TABLE a (id int PRIMARY KEY, s text); CREATE TABLE b (id int PRIMARY KEY, s varchar(20)); CREATE VIEW w AS SELECT * FROM a`, [], src.name);
      await pg.query(`INSERT INTO a VALUES (1, 'x'); INSERT INTO b VALUES (1, '@@DMS_NULL@@'), (2, '@@DMS_NULL@@'), (3, 'y')`, [], src.name);
      const json = path.join(tmp, 'null-only.json');
      const r = await call(verifyMain, ['--null-token-only', '--source-url', src.url, '--schema', 'public', '--json', json]);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('| public.b | s | 2 |');
      expect(JSON.parse(fs.readFileSync(json, 'utf8'))).toEqual({ nullTokenCollisions: [{ table: 'public.b', column: 's', rows: 2 }] });
      const onlyA = await call(verifyMain, ['--null-token-only', '--source-url', src.url, '--tables', 'public.a']);
      expect(onlyA).toMatchObject({ code: 0, stderr: '' });
      expect(onlyA.stdout).toBe('NULL token: no source string value in 1 table(s) equals @@DMS_NULL@@.\n');
      // The view is not a base table: two tables scanned.
      await pg.query(`UPDATE b SET s = 'z'`, [], src.name);
      const schemaClean = await call(verifyMain, ['--null-token-only', '--source-url', src.url, '--schema', 'public']);
      expect(schemaClean.stdout).toBe('NULL token: no source string value in 2 table(s) equals @@DMS_NULL@@.\n');
    });
  });
});
