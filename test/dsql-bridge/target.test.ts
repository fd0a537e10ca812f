/**
 * The loader's value checks and byte estimate (lambda/dsql-loader/target.ts) without PostgreSQL: which DMS
 * CSV fields are quarantined with which reason (instead of failing a whole transaction), what text reaches
 * the database cast, and the per-value byte estimate the DSQL transaction budget is built from (an
 * estimate too low lets a transaction exceed DSQL's limit). describeTable is judged by the loader tests
 * against a real PostgreSQL (loader.test.ts).
 */
import { columnConverter, convertValue, Invalid, qualified, quoteIdent, TargetColumn, valueBytes } from '../../lambda/dsql-loader/target';

const col = (base: string, opts: Partial<TargetColumn> = {}): TargetColumn => ({ name: 'c', type: base, base, notNull: false, ...opts });

describe('quoteIdent / qualified', () => {
  test('double quotes, doubled inside', () => {
    expect(quoteIdent('a"b')).toBe('"a""b"');
    expect(quoteIdent('Mixed Case')).toBe('"Mixed Case"');
    expect(qualified({ schema: 'my"s', table: 't' })).toBe('"my""s"."t"');
  });
});

describe('convertValue', () => {
  test('NULL: allowed in a nullable column, a named error in a NOT NULL one', () => {
    expect(convertValue(col('text'), null)).toEqual({ value: null });
    expect(convertValue(col('text', { name: 'name', notNull: true }), null)).toEqual({ error: 'column "name" is NOT NULL but the value is NULL' });
  });

  test('NUL characters are refused in any type (PostgreSQL text cannot hold them)', () => {
    expect(convertValue(col('text', { name: 'note' }), 'a\u0000b')).toEqual({ error: 'column "note": NUL characters cannot be stored in PostgreSQL text' });
    expect(convertValue(col('int4', { name: 'n' }), '1\u0000')).toEqual({ error: 'column "n": NUL characters cannot be stored in PostgreSQL text' });
  });

  test('booleans: every PostgreSQL spelling, trimmed and case-insensitive; anything else named', () => {
    for (const t of ['t', 'true', '1', 'y', 'yes', 'on', ' TRUE ', 'On']) expect(convertValue(col('bool'), t)).toEqual({ value: 'true' });
    for (const f of ['f', 'false', '0', 'n', 'no', 'off', 'FALSE ', 'Off']) expect(convertValue(col('bool'), f)).toEqual({ value: 'false' });
    expect(convertValue(col('bool', { name: 'active' }), 'maybe')).toEqual({ error: 'column "active" (boolean): "maybe" is not a boolean' });
  });

  test('integers: optional sign, trimmed; decimals and words are errors naming the type', () => {
    for (const base of ['int2', 'int4', 'int8']) {
      expect(convertValue(col(base), ' -42 ')).toEqual({ value: '-42' });
      expect(convertValue(col(base), '+7')).toEqual({ value: '+7' });
    }
    expect(convertValue(col('int4', { name: 'qty', type: 'integer' }), 'five')).toEqual({ error: 'column "qty" (integer): "five" is not an integer' });
    expect(convertValue(col('int8'), '1.5')).toEqual({ error: 'column "c" (int8): "1.5" is not an integer' });
    expect(convertValue(col('int8'), '12a')).toEqual({ error: 'column "c" (int8): "12a" is not an integer' });
    expect(convertValue(col('int8'), 'a12')).toEqual({ error: 'column "c" (int8): "a12" is not an integer' });
    expect(convertValue(col('int8'), '')).toEqual({ error: 'column "c" (int8): "" is not an integer' });
  });

  test('numbers: decimals, exponents, NaN/Infinity spellings; anything else named', () => {
    for (const v of ['1', '-1.5', '+.5', '2.', '1e10', '1.5E-3', '6e+2', 'NaN', 'Infinity', '-Infinity', '+Infinity', 'inf', '-inf']) {
      expect(convertValue(col('numeric'), v)).toEqual({ value: v });
    }
    expect(convertValue(col('float8'), ' 3.25 ')).toEqual({ value: '3.25' });
    expect(convertValue(col('numeric', { type: 'numeric(10,2)' }), '12,5')).toEqual({ error: 'column "c" (numeric(10,2)): "12,5" is not a number' });
    expect(convertValue(col('float4'), ' NaN ')).toEqual({ value: 'NaN' });
    for (const v of ['1,5', 'e5', '1e', '.', '1.2.3', 'x1', '1x', 'nan']) {
      expect(convertValue(col('float4', { type: 'real' }), v)).toEqual({ error: `column "c" (real): "${v}" is not a number` });
    }
  });

  test('bytea: DMS hex text or \\x hex becomes \\x hex; odd length or non-hex is an error', () => {
    expect(convertValue(col('bytea'), 'DEADbeef')).toEqual({ value: '\\xDEADbeef' });
    expect(convertValue(col('bytea'), '\\x00ff')).toEqual({ value: '\\x00ff' });
    expect(convertValue(col('bytea'), '')).toEqual({ value: '\\x' });
    expect(convertValue(col('bytea', { name: 'payload' }), 'zz')).toEqual({ error: 'column "payload" (bytea): value is not hexadecimal' });
    expect(convertValue(col('bytea'), 'abc')).toEqual({ error: 'column "c" (bytea): value is not hexadecimal' });
    expect(convertValue(col('bytea'), 'x00ab')).toEqual({ error: 'column "c" (bytea): value is not hexadecimal' });
    expect(convertValue(col('bytea'), 'ab00z')).toEqual({ error: 'column "c" (bytea): value is not hexadecimal' });
  });

  test('uuid: with or without dashes, trimmed; anything else named', () => {
    expect(convertValue(col('uuid'), ' 123e4567-e89b-12d3-a456-426614174000 ')).toEqual({ value: '123e4567-e89b-12d3-a456-426614174000' });
    expect(convertValue(col('uuid'), '123E4567E89B12D3A456426614174000')).toEqual({ value: '123E4567E89B12D3A456426614174000' });
    expect(convertValue(col('uuid', { name: 'id' }), 'not-a-uuid')).toEqual({ error: 'column "id" (uuid): "not-a-uuid" is not a UUID' });
    expect(convertValue(col('uuid'), 'x123e4567-e89b-12d3-a456-426614174000')).toMatchObject({ error: expect.stringContaining('is not a UUID') });
    expect(convertValue(col('uuid'), '123e4567-e89b-12d3-a456-426614174000x')).toMatchObject({ error: expect.stringContaining('is not a UUID') });
  });

  test('other types pass unchanged (the database validates them), spaces kept', () => {
    expect(convertValue(col('text'), ' x ')).toEqual({ value: ' x ' });
    expect(convertValue(col('timestamptz'), '2026-13-45')).toEqual({ value: '2026-13-45' });
    expect(convertValue(col('int4'), '')).toMatchObject({ error: expect.any(String) });
  });

  test('a long bad value is clipped to 40 characters in the reason', () => {
    const v = 'z'.repeat(41);
    expect(convertValue(col('int4'), v)).toEqual({ error: `column "c" (int4): "${'z'.repeat(40)}…" is not an integer` });
    expect(convertValue(col('int4'), 'z'.repeat(40))).toEqual({ error: `column "c" (int4): "${'z'.repeat(40)}" is not an integer` });
  });
});

describe('columnConverter (the loader hot path) agrees with convertValue', () => {
  const inputs: Array<string | null> = [
    null, '', ' ', '42', ' 42 ', '-1', '1.5', '1e3', 'NaN', 'five', 't', 'f', 'true', 'false', 'TRUE', 'yes', 'maybe',
    'DEADbeef', '\\x00ff', 'zz', '123e4567-e89b-12d3-a456-426614174000', 'a\u0000b', '5\u0000', '\u0000x', '\u0000',
  ];
  const bases = ['int2', 'int4', 'int8', 'bool', 'numeric', 'float4', 'float8', 'bytea', 'uuid', 'text', 'varchar', 'jsonb', 'timestamptz'];
  test.each(bases.flatMap((b) => [[b, false], [b, true]]) as Array<[string, boolean]>)('%s (NOT NULL %s)', (base, notNull) => {
    const c = col(base, { name: 'v', notNull });
    const conv = columnConverter(c);
    for (const input of inputs) {
      const expected = convertValue(c, input);
      const got = conv(input);
      if ('error' in expected) {
        expect(got).toBeInstanceOf(Invalid);
        expect({ input, reason: (got as Invalid).reason }).toEqual({ input, reason: expected.error });
      } else {
        expect({ input, value: got }).toEqual({ input, value: expected.value });
      }
    }
  });

  test('booleans: only true/false/t/f take the fast path; other spellings are normalised', () => {
    const conv = columnConverter(col('bool'));
    expect([conv('true'), conv('false'), conv('t'), conv('f'), conv('yes'), conv('0'), conv(null)]).toEqual(['true', 'false', 'true', 'false', 'true', 'false', null]);
  });

  test('text: a NOT NULL column refuses NULL with the column name; NUL is refused', () => {
    const conv = columnConverter(col('text', { name: 'name', notNull: true }));
    expect(conv(null)).toEqual(new Invalid('column "name" is NOT NULL but the value is NULL'));
    expect(conv('a\u0000')).toEqual(new Invalid('column "name": NUL characters cannot be stored in PostgreSQL text'));
    expect(conv('\u0000 at the start')).toEqual(new Invalid('column "name": NUL characters cannot be stored in PostgreSQL text'));
    expect(conv('ok')).toBe('ok');
    const int = columnConverter(col('int8', { name: 'id', notNull: true }));
    expect(int(null)).toEqual(new Invalid('column "id" is NOT NULL but the value is NULL'));
    expect(columnConverter(col('int8'))(null)).toBeNull();
    expect(columnConverter(col('numeric'))(null)).toBeNull();
  });
});

describe('valueBytes (the transaction byte budget)', () => {
  test('NULL is 1 byte; fixed-width types their width whatever the text', () => {
    expect(valueBytes(col('text'), null)).toBe(1);
    const widths: Record<string, number> = { bool: 1, int2: 2, int4: 4, int8: 8, float4: 4, float8: 8, date: 4, timestamp: 8, timestamptz: 8, time: 8, uuid: 16 };
    for (const [base, w] of Object.entries(widths)) expect([base, valueBytes(col(base), '2026-11-30 12:00:00.123456+00')]).toEqual([base, w]);
  });

  test('bytea: the decoded length (\\x hex halves) plus the 4-byte header', () => {
    expect(valueBytes(col('bytea'), '\\x' + 'ab'.repeat(100))).toBe(104);
    expect(valueBytes(col('bytea'), '\\x')).toBe(4);
    expect(valueBytes(col('bytea'), '\\xabc')).toBe(6);
  });

  test('variable types: UTF-8 bytes (not characters) plus the 4-byte header', () => {
    expect(valueBytes(col('text'), 'abc')).toBe(7);
    expect(valueBytes(col('varchar'), 'é€😀')).toBe(2 + 3 + 4 + 4);
    expect(valueBytes(col('numeric'), '123.45')).toBe(10);
    expect(valueBytes(col('text'), '')).toBe(4);
  });
});
