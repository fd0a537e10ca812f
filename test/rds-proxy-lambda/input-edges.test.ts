/**
 * Caller input the allowlist was not written for: null and non-object events, unparsed JSON text, unicode
 * (astral-plane characters cut by the echo bound), NUL, prototype names. Every one must be a BadRequestError
 * (kept out of the errors alarm) whose message is bounded and is well-formed UTF-16, so it encodes to valid
 * UTF-8 in the Lambda response and the JSON log line.
 */
import { echo } from '../../lambda/rds-proxy-query/errors';
import { resolveQuery } from '../../lambda/rds-proxy-query/queries';

function refused(event: unknown): Error {
  try {
    resolveQuery(event);
  } catch (e) {
    return e as Error;
  }
  throw new Error(`accepted ${JSON.stringify(event)}`);
}

const wellFormed = (s: string) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

test('the echo bound never cuts a surrogate pair (an emoji at the cut stays whole or goes)', () => {
  for (const prefix of ['', 'a', 'ab']) {
    const s = echo(prefix + '😀'.repeat(200));
    expect(s).toMatch(/… \(\d+ characters\)$/);
    expect(wellFormed(s)).toBe(true);
    expect(s.length).toBeLessThan(120);
  }
});

test.each<[string, unknown]>([
  ['null event', null],
  ['JSON text instead of an object', '{"query":"health"}'],
  ['array', [{ query: 'health' }]],
  ['null query', { query: null }],
  ['unicode query name', { query: 'héalth' }],
  ['astral query name', { query: '😀'.repeat(100_000) }],
  ['NUL in the name', { query: 'health\u0000' }],
  ['prototype name', { query: '__proto__' }],
  ['constructor name', { query: 'constructor' }],
  ['toString name', { query: 'toString' }],
  ['params string', { query: 'tables', params: 'x' }],
  ['many unknown params', { query: 'tables', params: Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}😀`, i])) }],
])('%s is a bounded, well-formed BadRequestError', (_name, event) => {
  const e = refused(event);
  expect(e.name).toBe('BadRequestError');
  expect(e.message.length).toBeLessThan(400);
  expect(wellFormed(e.message)).toBe(true);
});
