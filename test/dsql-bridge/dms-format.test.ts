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
