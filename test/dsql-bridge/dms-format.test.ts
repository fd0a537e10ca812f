/**
 * DMS object keys: which names are data files, of which kind, and in which order within a table.
 * Names from the DMS S3 target guide (LOAD + 8 hex digits, yyyyMMdd-HHmmssSSS CDC files) and the
 * parallel-load naming LOAD_<segment>_<counter> (see dms-format.ts for the sources).
 */
import { compareDmsFiles, DmsObjectKey, parseDmsKey } from '../../lambda/dsql-loader/dms-format';

const parse = (k: string) => parseDmsKey(k, 'dms');
const ok = (k: string): DmsObjectKey => {
  const p = parse(k);
  if (typeof p === 'string') throw new Error(p);
  return p;
};

describe('parseDmsKey', () => {
  test.each([
    ['dms/public/items/LOAD00000001.csv', 'full-load', false],
    ['dms/public/items/LOAD0000000A.csv', 'full-load', false],
    ['dms/public/items/LOAD00000010.csv.gz', 'full-load', true],
    ['dms/public/items/LOAD_1_00000001.csv', 'full-load', false],
    ['dms/public/items/LOAD_2_0000000B.csv', 'full-load', false],
    ['dms/public/items/LOAD_12_00000003.csv.gz', 'full-load', true],
    ['dms/public/items/20261130-030000000.csv', 'cdc', false],
    ['dms/public/items/20141029-1134010000.csv.gz', 'cdc', true],
  ])('%s is a %s file', (key, kind, gzip) => {
    expect(ok(key)).toEqual({ key, schema: 'public', table: 'items', file: key.split('/').pop(), kind, gzip });
  });

  test.each([
    'dms/public/items/LOAD_1_.csv',
    'dms/public/items/LOAD__00000001.csv',
    'dms/public/items/LOAD_x_00000001.csv',
    'dms/public/items/LOAD_1_0000001G.csv',
    'dms/public/items/LOAD_1_00000001.parquet',
    'dms/public/items/LOAD0000001.csv',
    'dms/public/items/README.txt',
    'dms/README.txt',
    'dms/2026/11/30/public/items/LOAD00000001.csv',
    'other/public/items/LOAD00000001.csv',
  ])('%s is not a DMS data file (kept and reported)', (key) => {
    expect(typeof parse(key)).toBe('string');
  });

  test('DMS order within a table: every full-load file (serial or parallel load) before every CDC file', () => {
    const files = [
      'dms/public/items/20261130-030000001.csv',
      'dms/public/items/LOAD_2_00000001.csv',
      'dms/public/items/20261130-030000000.csv',
      'dms/public/items/LOAD_1_00000002.csv',
      'dms/public/items/LOAD00000001.csv',
      'dms/public/items/LOAD_1_00000001.csv',
    ].map(ok);
    const sorted = [...files].sort(compareDmsFiles).map((f) => f.file);
    expect(sorted.slice(0, 4).sort()).toEqual(['LOAD00000001.csv', 'LOAD_1_00000001.csv', 'LOAD_1_00000002.csv', 'LOAD_2_00000001.csv']);
    expect(sorted.slice(4)).toEqual(['20261130-030000000.csv', '20261130-030000001.csv']);
  });
});

describe('parseDmsKey: the landing prefix', () => {
  test('with or without a trailing slash, or empty (the bucket root)', () => {
    const want = { key: 'dms/public/items/LOAD00000001.csv', schema: 'public', table: 'items', file: 'LOAD00000001.csv', kind: 'full-load', gzip: false };
    expect(parseDmsKey('dms/public/items/LOAD00000001.csv', 'dms/')).toEqual(want);
    expect(parseDmsKey('dms/public/items/LOAD00000001.csv', 'dms')).toEqual(want);
    expect(parseDmsKey('public/items/LOAD00000001.csv', '')).toEqual({ ...want, key: 'public/items/LOAD00000001.csv' });
    expect(parseDmsKey('a/b/public/items/20261130-030000000.csv', 'a/b')).toMatchObject({ schema: 'public', table: 'items', kind: 'cdc' });
  });

  test('the reasons name the key and what is wrong', () => {
    expect(parseDmsKey('dmsx/public/items/LOAD00000001.csv', 'dms')).toBe('key "dmsx/public/items/LOAD00000001.csv" is not under the landing prefix "dms/"');
    expect(parseDmsKey('dms/public//LOAD00000001.csv', 'dms')).toBe('key "dms/public//LOAD00000001.csv" is not <prefix><schema>/<table>/<file> (DatePartitionEnabled must be false)');
    expect(parseDmsKey('dms//items/LOAD00000001.csv', 'dms')).toMatch(/is not <prefix><schema>\/<table>\/<file>/);
    expect(parseDmsKey('dms/public/items/', 'dms')).toMatch(/is not <prefix><schema>\/<table>\/<file>/);
    expect(parseDmsKey('dms/public/items/LOAD00000001.csv', '/dms')).toMatch(/not under the landing prefix "\/dms\/"/);
    expect(parseDmsKey('dms/public/items/x.csv', 'dms')).toBe(
      'key "dms/public/items/x.csv" is not a DMS data file (LOADnnnnnnnn.csv, LOAD_<segment>_nnnnnnnn.csv or yyyyMMdd-HHmmssSSS.csv)',
    );
    expect(parseDmsKey('dms/public/items/LOAD00000001.CSV.GZ', 'dms')).toMatchObject({ gzip: true, kind: 'full-load' });
  });
});

describe('compareDmsFiles', () => {
  test('by kind first, then by name; equal names compare equal', () => {
    const a = ok('dms/public/items/LOAD00000001.csv');
    const b = ok('dms/public/items/LOAD00000002.csv');
    const c = ok('dms/public/items/20261130-030000000.csv');
    const d = ok('dms/public/items/20261130-030000001.csv');
    expect([compareDmsFiles(a, b), compareDmsFiles(b, a), compareDmsFiles(a, a)]).toEqual([-1, 1, 0]);
    expect([compareDmsFiles(c, d), compareDmsFiles(d, c), compareDmsFiles(d, d)]).toEqual([-1, 1, 0]);
    expect([compareDmsFiles(b, c), compareDmsFiles(c, b)]).toEqual([-1, 1]);
  });
});
