/**
 * The pg_dump splitter and its helpers (lambda/dsql-loader/sql-split.ts) without PostgreSQL: which
 * statements a script is cut into, the line each starts on (the converter's findings name it), and the
 * quote/paren helpers the converter uses to take CREATE TABLE bodies apart. A wrong cut applies half a
 * statement or merges two (a DROP hidden in a string would be applied).
 */
import { matchParen, quoteEnd, splitSql, splitTopLevel } from '../../lambda/dsql-loader/sql-split';

const sqls = (text: string) => splitSql(text).map((s) => s.sql);

describe('splitSql', () => {
  test('statements without the trailing semicolon, with their start lines; the last one needs no semicolon', () => {
    const out = splitSql('CREATE TABLE a (x int);\n\nCREATE TABLE b (y int);\nSELECT 1');
    expect(out).toEqual([
      { sql: 'CREATE TABLE a (x int)', line: 1 },
      { sql: 'CREATE TABLE b (y int)', line: 3 },
      { sql: 'SELECT 1', line: 4 },
    ]);
  });

  test('leading -- and nested /* */ comments are removed; the line is where the statement text starts', () => {
    const out = splitSql('-- one\n-- two\n/* a /* b */\n c */\nCREATE TABLE t (a int);\n/* x */ CREATE VIEW v AS SELECT 1;');
    expect(out).toEqual([
      { sql: 'CREATE TABLE t (a int)', line: 5 },
      { sql: 'CREATE VIEW v AS SELECT 1', line: 6 },
    ]);
    expect(sqls('SELECT 1; -- trailing; comment\nSELECT 2;')).toEqual(['SELECT 1', 'SELECT 2']);
    expect(sqls('SELECT 1 /* ; */ + 1; SELECT /* a /* ; */ ; */ 2;')).toEqual(['SELECT 1 /* ; */ + 1', 'SELECT /* a /* ; */ ; */ 2']);
    expect(splitSql('-- only a comment\n/* and another */\n')).toEqual([]);
    expect(splitSql('-- unterminated comment, no newline')).toEqual([]);
    expect(splitSql('/* unterminated /* block')).toEqual([]);
  });

  test('lines inside block comments, strings, identifiers and dollar quotes are counted', () => {
    const out = splitSql("/* 1\n2 */ SELECT 'a\nb';\nSELECT \"x\ny\";\nSELECT $$\n\n$$;\nSELECT 4;");
    expect(out.map((s) => s.line)).toEqual([2, 4, 6, 9]);
  });

  test("semicolons in '' strings with '' escapes, E'' strings with backslash escapes, and \"identifiers\" with \"\" do not split", () => {
    expect(sqls("SELECT 'it''s; ok'; SELECT 2")).toEqual(["SELECT 'it''s; ok'", 'SELECT 2']);
    expect(sqls("SELECT E'a\\';b'; SELECT 2")).toEqual(["SELECT E'a\\';b'", 'SELECT 2']);
    expect(sqls("SELECT e'\\\\'; SELECT 2")).toEqual(["SELECT e'\\\\'", 'SELECT 2']);
    // A word ending in e before a quote is not an E'' string: the backslash is a plain character.
    expect(sqls("SELECT note'\\'; SELECT 2")).toEqual(["SELECT note'\\'", 'SELECT 2']);
    expect(sqls("SELECT E'x\\'; y'; SELECT 3")).toEqual(["SELECT E'x\\'; y'", 'SELECT 3']);
    expect(sqls('SELECT "a"";b" FROM t; SELECT 2')).toEqual(['SELECT "a"";b" FROM t', 'SELECT 2']);
    expect(sqls('SELECT "semi;colon"; SELECT 2')).toEqual(['SELECT "semi;colon"', 'SELECT 2']);
  });

  test('an E string at the very start of the script, and a quote at its start', () => {
    expect(sqls("E'a\\';b'; SELECT 2")).toEqual(["E'a\\';b'", 'SELECT 2']);
    expect(sqls("'a;b'; SELECT 2")).toEqual(["'a;b'", 'SELECT 2']);
  });

  test('dollar quotes: $$ and $tag$ (a different tag inside does not end it), not a $1 parameter or a name with $', () => {
    expect(sqls('SELECT $$a;b$$; SELECT 2')).toEqual(['SELECT $$a;b$$', 'SELECT 2']);
    expect(sqls('SELECT $fn$ a; $x$ b; $x$ c $fn$; SELECT 2')).toEqual(['SELECT $fn$ a; $x$ b; $x$ c $fn$', 'SELECT 2']);
    expect(sqls('PREPARE p AS SELECT $1; SELECT 2')).toEqual(['PREPARE p AS SELECT $1', 'SELECT 2']);
    expect(sqls('SELECT a$b$ FROM t; SELECT 2')).toEqual(['SELECT a$b$ FROM t', 'SELECT 2']);
    expect(sqls('$$x;$$; SELECT 2')).toEqual(['$$x;$$', 'SELECT 2']);
    // An unterminated dollar quote runs to the end.
    expect(sqls('SELECT $q$ a; b')).toEqual(['SELECT $q$ a; b']);
  });

  test('psql meta-commands are skipped only at the start of a line before any statement text', () => {
    const out = splitSql('\\connect db\nSELECT 1;\n\\set x 1\nSELECT 2;\n\\unrestrict');
    expect(out).toEqual([
      { sql: 'SELECT 1', line: 2 },
      { sql: 'SELECT 2', line: 4 },
    ]);
    // A backslash inside a statement (after its text started) is part of it.
    expect(sqls("SELECT 'a'\n\\ FROM t;")).toEqual(["SELECT 'a'\n\\ FROM t"]);
    expect(sqls('-- c\n\\connect x\nSELECT 1;')).toEqual(['SELECT 1']);
  });

  test('COPY … FROM stdin: the header stays with the number of data lines; the data (even with ; and quotes) never becomes a statement', () => {
    const out = splitSql("COPY public.t (a, b) FROM stdin;\n1\t'x;\n2\tDROP TABLE t;\n\n\\.\nCREATE TABLE u (a int);\n");
    expect(out).toEqual([
      { sql: 'COPY public.t (a, b) FROM stdin', line: 1, dataRows: 2 },
      { sql: 'CREATE TABLE u (a int)', line: 6 },
    ]);
    expect(splitSql('copy t from STDIN;\n\\.\nSELECT 1;')).toEqual([
      { sql: 'copy t from STDIN', line: 1, dataRows: 0 },
      { sql: 'SELECT 1', line: 3 },
    ]);
    // A COPY TO stdout or FROM a file has no data block.
    expect(sqls("COPY t TO stdout;\nSELECT 1;")).toEqual(['COPY t TO stdout', 'SELECT 1']);
    expect(splitSql("COPY t FROM '/tmp/f';\nSELECT 1;")[0].dataRows).toBeUndefined();
    // Windows line ends: \r-only lines are not rows.
    expect(splitSql('COPY t FROM stdin;\r\n1\r\n\r\n2\r\n\\.\r\n')[0].dataRows).toBe(2);
  });

  test('COPY data without the \\. end marker runs to the end of the script; the end marker as the last line', () => {
    expect(splitSql('COPY t FROM stdin;\n1\n2\nDROP TABLE t;')).toEqual([{ sql: 'COPY t FROM stdin', line: 1, dataRows: 3 }]);
    expect(splitSql('COPY t FROM stdin;\n1\n\\.')).toEqual([{ sql: 'COPY t FROM stdin', line: 1, dataRows: 1 }]);
    expect(splitSql('COPY t FROM stdin;\n1\n\\.\nSELECT 9;').map((s) => [s.sql, s.line])).toEqual([
      ['COPY t FROM stdin', 1],
      ['SELECT 9', 4],
    ]);
  });

  test('empty statements (;;) are not returned', () => {
    expect(splitSql(';; ;\n;SELECT 1;;')).toEqual([{ sql: 'SELECT 1', line: 2 }]);
  });
});

describe('quoteEnd', () => {
  test("the closing quote of '…' and \"…\", doubled quotes skipped; E'' honours backslashes; unterminated → length", () => {
    expect(quoteEnd("'ab' x", 0)).toBe(3);
    expect(quoteEnd("x 'a''b' y", 2)).toBe(7);
    expect(quoteEnd('"a""b" y', 0)).toBe(5);
    expect(quoteEnd("E'a\\'b' y", 1)).toBe(6);
    expect(quoteEnd("e'a\\'b'", 1)).toBe(6);
    // Not an E string: a word ends in e (or $); the backslash is plain and the next quote closes it.
    expect(quoteEnd("type'a\\'b'", 4)).toBe(7);
    expect(quoteEnd("$e'a\\'b'", 2)).toBe(5);
    // A double-quoted identifier never has backslash escapes.
    expect(quoteEnd('E"a\\"b"', 1)).toBe(4);
    expect(quoteEnd("'abc", 0)).toBe(4);
    expect(quoteEnd("E'a\\", 1)).toBe(4);
  });
});

describe('splitTopLevel', () => {
  test('splits at top-level separators only: not inside parens, strings or identifiers; trims; drops a trailing empty part', () => {
    expect(splitTopLevel(" a int, b numeric(10,2) , c text DEFAULT 'x,y', \"d,e\" int, CHECK (a IN (1,2)), ")).toEqual([
      'a int',
      'b numeric(10,2)',
      "c text DEFAULT 'x,y'",
      '"d,e" int',
      'CHECK (a IN (1,2))',
    ]);
    expect(splitTopLevel('a; b (c; d); e', ';')).toEqual(['a', 'b (c; d)', 'e']);
    expect(splitTopLevel("f(')'), g")).toEqual(["f(')')", 'g']);
    expect(splitTopLevel('')).toEqual([]);
    expect(splitTopLevel('a,,b')).toEqual(['a', '', 'b']);
  });
});

describe('matchParen', () => {
  test('the index of the closing parenthesis, ignoring parens in strings and identifiers; -1 when unbalanced', () => {
    expect(matchParen('(a(b)c) d', 0)).toBe(6);
    expect(matchParen("x (')' , \"(\") y", 2)).toBe(12);
    expect(matchParen('f(a, (b)) + (c)', 1)).toBe(8);
    expect(matchParen('(a (b)', 0)).toBe(-1);
    expect(matchParen('ab (c)', 3)).toBe(5);
  });
});
