/**
 * The parser-based checks of the schema converter (lambda/dsql-loader/schema-ast.ts) without PostgreSQL:
 * the last line of defence against destructive statements (pg_dump --clean's DROPs must never reach the
 * target), what a statement refers to (dependency order), what a function body runs, and where casts are
 * inserted for columns whose type was changed.
 */
import { castColumnRefs, destructiveKind, functionStatements, initParser, parseStatements, refsOf, walk } from '../../lambda/dsql-loader/schema-ast';

beforeAll(async () => {
  await initParser();
});

const sorted = (s: Set<string>) => [...s].sort();

describe('destructiveKind', () => {
  test.each([
    ['DROP TABLE public.t', 'DropStmt'],
    ['DROP TABLE IF EXISTS public.t CASCADE', 'DropStmt'],
    ['drop index i', 'DropStmt'],
    ['TRUNCATE t', 'TruncateStmt'],
    ['DELETE FROM t', 'DeleteStmt'],
    ['DROP DATABASE d', 'DropdbStmt'],
    ['DROP OWNED BY r', 'DropOwnedStmt'],
    ['DROP ROLE r', 'DropRoleStmt'],
    ['DROP TABLESPACE ts', 'DropTableSpaceStmt'],
    ['DROP SUBSCRIPTION s', 'DropSubscriptionStmt'],
    ['WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', 'DeleteStmt'],
    ['MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE', 'MergeStmt DELETE'],
    ['ALTER TABLE ONLY public.t DROP CONSTRAINT t_pkey', 'ALTER TABLE AT_DropConstraint'],
    ['ALTER TABLE public.t DROP COLUMN a', 'ALTER TABLE AT_DropColumn'],
    ['ALTER TABLE public.t ALTER COLUMN a DROP DEFAULT', 'ALTER TABLE AT_ColumnDefault'],
    ['ALTER TABLE public.t ALTER COLUMN a DROP NOT NULL', 'ALTER TABLE AT_DropNotNull'],
    ['SELECT 1; DROP TABLE t', 'DropStmt'],
  ])('%s → %s', (sql, kind) => {
    expect(destructiveKind(sql)).toBe(kind);
  });

  test.each([
    'CREATE TABLE t (a int)',
    'ALTER TABLE public.t ALTER COLUMN a SET DEFAULT 1',
    'ALTER TABLE public.t ADD COLUMN b int',
    'MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN UPDATE SET b = 1',
    'CREATE INDEX ASYNC i ON t (a)',
    'CREATE UNIQUE INDEX ASYNC i ON t (a)',
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'DELETE FROM t'",
    'not sql at all (',
  ])('not destructive: %s', (sql) => {
    expect(destructiveKind(sql)).toBeUndefined();
  });

  test('CREATE INDEX ASYNC is read as CREATE INDEX, so a destructive statement after it is still found', () => {
    expect(destructiveKind('CREATE INDEX ASYNC i ON t (a); DROP TABLE t')).toBe('DropStmt');
    expect(destructiveKind('create unique index async i ON t (a); TRUNCATE t')).toBe('TruncateStmt');
  });
});

describe('parseStatements and walk', () => {
  test('statements as raw nodes, or the parser error', () => {
    const ok = parseStatements('CREATE TABLE t (a int); SELECT 1');
    expect('stmts' in ok && ok.stmts.map((s) => Object.keys(s)[0])).toEqual(['CreateStmt', 'SelectStmt']);
    expect(parseStatements('-- only a comment')).toEqual({ stmts: [] });
    expect(parseStatements('')).toEqual({ error: 'Query cannot be empty' });
    const bad = parseStatements('CREATE TABLE (');
    expect(bad).toEqual({ error: expect.stringMatching(/syntax error/) });
  });

  test('walk visits every object node depth first, inside arrays too, with its key', () => {
    const seen: string[] = [];
    walk({ a: { b: { c: 1 } }, d: [{ e: { f: 2 } }, 3], g: null }, (k) => seen.push(k));
    expect(seen).toEqual(['a', 'b', 'e']);
  });
});

describe('refsOf', () => {
  test('relations (qualified, CTE names excluded), functions (qualified and bare), types, statement kinds', () => {
    const r = refsOf(
      'CREATE VIEW s.v AS WITH c AS (SELECT * FROM s.items) SELECT f(x.a)::s.money_t, g.h(1), pg_catalog.now(), now()::timestamptz FROM c JOIN Orders x ON true',
    );
    expect(sorted(r.relations)).toEqual(['public.orders', 's.items', 's.v']);
    expect(sorted(r.functions)).toEqual(['f', 'g.h', 'now', 'public.f', 'public.now']);
    expect(sorted(r.types)).toEqual(['public.timestamptz', 's.money_t']);
    expect(sorted(r.kinds)).toEqual(['CreateStmt', 'SelectStmt', 'ViewStmt'].filter((k) => k !== 'CreateStmt'));
  });

  test('a CTE name that is also schema-qualified is a real relation', () => {
    expect(sorted(refsOf('WITH c AS (SELECT 1) SELECT * FROM public.c, c').relations)).toEqual(['public.c']);
  });

  test('SQL function bodies are followed (PostgreSQL checks them at CREATE); PL/pgSQL bodies are not', () => {
    const sql = refsOf("CREATE FUNCTION s.f(a s.t) RETURNS s.r LANGUAGE sql AS 'SELECT count(*) FROM s.items WHERE s.g(1) > 0'");
    expect(sorted(sql.relations)).toEqual(['s.items']);
    expect(sorted(sql.functions)).toEqual(['public.count', 'count', 's.g'].sort());
    expect(sorted(sql.types)).toEqual(['s.r', 's.t']);
    const pl = refsOf("CREATE FUNCTION s.f() RETURNS int LANGUAGE plpgsql AS 'BEGIN RETURN (SELECT count(*) FROM s.items); END'");
    expect(sorted(pl.relations)).toEqual([]);
    const noLang = refsOf("CREATE FUNCTION s.f() RETURNS int AS 'SELECT 1 FROM s.other'");
    expect(sorted(noLang.relations)).toEqual(['s.other']);
    const upper = refsOf("CREATE FUNCTION s.f() RETURNS int LANGUAGE SQL AS 'SELECT 1 FROM s.upper_t'");
    expect(sorted(upper.relations)).toEqual(['s.upper_t']);
    // A body that does not parse is ignored, not an error.
    expect(sorted(refsOf("CREATE FUNCTION s.f() RETURNS int LANGUAGE sql AS 'SELEC 1'").relations)).toEqual([]);
  });

  test('SQL that does not parse refers to nothing', () => {
    const r = refsOf('CREATE TABLE (');
    expect([r.relations.size, r.functions.size, r.types.size, r.kinds.size]).toEqual([0, 0, 0, 0]);
  });

  test('ALTER TABLE and CREATE INDEX name their relation', () => {
    expect(sorted(refsOf('ALTER TABLE ONLY s.t ADD CONSTRAINT c CHECK (s.ok(a))').relations)).toEqual(['s.t']);
    expect(sorted(refsOf('CREATE INDEX i ON s.t USING btree (a)').relations)).toEqual(['s.t']);
  });
});

describe('functionStatements', () => {
  test('PL/pgSQL: every SQL statement of the body with its kind and a short text; EXECUTE and FOR … EXECUTE are dynamic', () => {
    const f = functionStatements(`CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$
      DECLARE n int;
      BEGIN
        IF n > 1 THEN n := 2; END IF;
        TRUNCATE   public.audit;
        DELETE FROM public.items WHERE id = n;
        SAVEPOINT s1;
      END $$`);
    expect(f).toEqual({
      statements: [
        { kind: 'TruncateStmt', text: 'TRUNCATE public.audit' },
        { kind: 'DeleteStmt', text: 'DELETE FROM public.items WHERE id = n' },
        { kind: 'TransactionStmt', text: 'SAVEPOINT s1' },
      ],
      dynamic: false,
    });
    expect(functionStatements("CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'DROP TABLE ' || 'x'; END $$").dynamic).toBe(true);
    expect(
      functionStatements("CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ DECLARE r record; BEGIN FOR r IN EXECUTE 'SELECT 1' LOOP END LOOP; END $$").dynamic,
    ).toBe(true);
  });

  test('a long statement is cut to 80 characters, whitespace collapsed', () => {
    const cols = Array.from({ length: 30 }, (_, i) => `c${i}`).join(',\n   ');
    const f = functionStatements(`CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN INSERT INTO t (${cols}) VALUES (1); END $$`);
    expect(f.statements).toHaveLength(1);
    expect(f.statements[0].text).toHaveLength(80);
    expect(f.statements[0].text).toMatch(/^INSERT INTO t \(c0, c1, c2,/);
  });

  test('SQL functions: the body statements; other languages: none; not a function: none', () => {
    expect(functionStatements("CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'DELETE FROM t; SELECT 1'")).toEqual({
      statements: [
        { kind: 'DeleteStmt', text: 'DELETE FROM t; SELECT 1' },
        { kind: 'SelectStmt', text: 'DELETE FROM t; SELECT 1' },
      ],
      dynamic: false,
    });
    expect(functionStatements("CREATE FUNCTION f() RETURNS int LANGUAGE plpython3u AS 'return 1'")).toEqual({ statements: [], dynamic: false });
    expect(functionStatements('CREATE TABLE t (a int)')).toEqual({ statements: [], dynamic: false });
  });

  test('SQL that does not parse, and a PL/pgSQL body that does not, return the error', () => {
    expect(functionStatements('CREATE FUNCTION (')).toEqual({ statements: [], dynamic: false, error: expect.stringMatching(/syntax error/) });
    const bad = functionStatements('CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN IF THEN END $$');
    expect(bad.statements).toEqual([]);
    expect(bad.error).toEqual(expect.any(String));
  });
});

describe('castColumnRefs', () => {
  const json = new Map([['public.que_jobs', new Map([['data', 'jsonb']])]]);

  test('casts unqualified and qualified references to the converted column, at the parser positions, and counts them', () => {
    const r = castColumnRefs("SELECT jsonb_typeof(data) = 'object', q.data -> 'x' FROM public.que_jobs q", json);
    expect(r).toEqual({ sql: "SELECT jsonb_typeof((data)::jsonb) = 'object', (q.data)::jsonb -> 'x' FROM public.que_jobs q", count: 2 });
  });

  test('a qualifier naming another relation is not cast; one naming the table itself (or quoted) is', () => {
    const two = new Map([['public.a', new Map([['data', 'jsonb']])]]);
    expect(castColumnRefs('SELECT b.data, a.data, "a"."data" FROM public.a, public.b', two)).toEqual({
      sql: 'SELECT b.data, (a.data)::jsonb, ("a"."data")::jsonb FROM public.a, public.b',
      count: 2,
    });
    // A table in another schema with the same column: the qualifier resolves to that relation.
    expect(castColumnRefs('SELECT x.data FROM other.a x', two)).toEqual({ sql: 'SELECT x.data FROM other.a x', count: 0 });
  });

  test('already cast to the same type (a converted dump converted again): left alone', () => {
    const sql = 'SELECT (data)::jsonb, data :: JSONB, data FROM public.que_jobs';
    expect(castColumnRefs(sql, json)).toEqual({ sql: 'SELECT (data)::jsonb, data :: JSONB, (data)::jsonb FROM public.que_jobs', count: 1 });
  });

  test('types with regex characters are escaped (text[])', () => {
    const arr = new Map([['public.t', new Map([['tags', 'text[]']])]]);
    const once = castColumnRefs('SELECT tags[1] FROM public.t', arr);
    expect(once).toEqual({ sql: 'SELECT (tags)::text[][1] FROM public.t', count: 1 });
    expect(castColumnRefs(once.sql, arr).count).toBe(0);
  });

  test('nothing to cast: no converted columns, SQL that does not parse, other columns', () => {
    expect(castColumnRefs('SELECT data FROM t', new Map())).toEqual({ sql: 'SELECT data FROM t', count: 0 });
    expect(castColumnRefs('SELECT data FROM (', json)).toEqual({ sql: 'SELECT data FROM (', count: 0 });
    expect(castColumnRefs('SELECT other FROM public.que_jobs', json)).toEqual({ sql: 'SELECT other FROM public.que_jobs', count: 0 });
  });
});

describe('refsOf and functionStatements: what is followed and what is not', () => {
  test('catalog types (pg_catalog.*) are not listed; a PL/pgSQL or other-language body is never read as SQL, even when it parses as SQL', () => {
    expect(sorted(refsOf('SELECT 1::pg_catalog.int4, CAST(2 AS pg_catalog.text), 3::s.t').types)).toEqual(['s.t']);
    const pl = refsOf("CREATE FUNCTION s.f() RETURNS int LANGUAGE plpgsql AS 'SELECT 1 FROM s.hidden'");
    expect(sorted(pl.relations)).toEqual([]);
    expect(functionStatements("CREATE FUNCTION s.f() RETURNS int LANGUAGE plv8 AS 'DELETE FROM s.t'")).toEqual({ statements: [], dynamic: false });
  });

  test('an SQL body that does not parse yields no statements (not an error); the text is trimmed', () => {
    expect(functionStatements("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELEC 1'")).toEqual({ statements: [], dynamic: false });
    expect(functionStatements("CREATE FUNCTION f() RETURNS void LANGUAGE sql AS '\n   DELETE   FROM t  \n'")).toEqual({
      statements: [{ kind: 'DeleteStmt', text: 'DELETE FROM t' }],
      dynamic: false,
    });
  });

  test('a PL/pgSQL body that does not parse: no statements, not dynamic, the parser error', () => {
    const bad = functionStatements('CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN IF THEN END $$');
    expect(bad).toEqual({ statements: [], dynamic: false, error: 'missing expression at or near "THEN"' });
  });

  test('destructiveKind reads CREATE INDEX ASYNC with any whitespace, so what follows it is still checked', () => {
    expect(destructiveKind('CREATE   UNIQUE\n  INDEX\tASYNC i ON t (a); DROP TABLE t')).toBe('DropStmt');
    expect(destructiveKind('CREATE\nINDEX  ASYNC i ON t (a)')).toBeUndefined();
  });
});
