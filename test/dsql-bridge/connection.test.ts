import { EventEmitter } from 'events';
import { Client } from 'pg';
import { ConnectionManager, isConflictError, isConnectionError } from '../../lambda/dsql-loader/connection';
import { compareDmsFiles, DMS_CSV, DmsObjectKey, parseDmsKey } from '../../lambda/dsql-loader/dms-format';
import { configFromEnv } from '../../lambda/dsql-loader/handle';

/** A stand-in for pg.Client: the manager only needs on/query/end (no server needed for time logic). */
class FakeClient extends EventEmitter {
  ended = false;
  queries: string[] = [];
  constructor(public readonly password: string) {
    super();
  }
  async query(sql: string) {
    this.queries.push(sql);
    return { rows: [] };
  }
  async end() {
    this.ended = true;
  }
}

function manager(clock: { now: number }) {
  const opened: FakeClient[] = [];
  let tokenNo = 0;
  const m = new ConnectionManager({
    clock: () => clock.now,
    token: async () => `token-${++tokenNo}`,
    connect: async (password) => {
      const c = new FakeClient(password);
      opened.push(c);
      return c as unknown as Client;
    },
  });
  return { m, opened };
}

const MIN = 60_000;

describe('ConnectionManager (injected clock)', () => {
  test('reuses the connection, and sets the session to UTC once per connection', async () => {
    const clock = { now: 0 };
    const { m, opened } = manager(clock);
    const a = await m.get();
    clock.now += 10 * MIN;
    expect(await m.get()).toBe(a);
    expect(opened).toHaveLength(1);
    expect(opened[0].queries).toEqual(["SET TIME ZONE 'UTC'"]);
  });

  test('recycles a connection before the 60-minute DSQL limit (at 50 minutes)', async () => {
    const clock = { now: 0 };
    const { m, opened } = manager(clock);
    const a = await m.get();
    clock.now = 49 * MIN;
    expect(await m.get()).toBe(a);
    clock.now = 50 * MIN;
    const b = await m.get();
    expect(b).not.toBe(a);
    expect(opened[0].ended).toBe(true);
    expect(m.connectionsOpened).toBe(2);
  });

  test('reuses a token for new connections until 2 minutes before its 15-minute expiry', async () => {
    const clock = { now: 0 };
    const { m, opened } = manager(clock);
    await m.get();
    await m.discard();
    clock.now = 12 * MIN;
    await m.get();
    await m.discard();
    clock.now = 13 * MIN + 1;
    await m.get();
    expect(opened.map((c) => c.password)).toEqual(['token-1', 'token-1', 'token-2']);
    expect(m.tokensGenerated).toBe(2);
  });

  test('a connection the server ended is replaced on the next get()', async () => {
    const clock = { now: 0 };
    const { m, opened } = manager(clock);
    const a = (await m.get()) as unknown as FakeClient;
    a.emit('error', Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }));
    const b = await m.get();
    expect(b).not.toBe(a);
    expect(opened).toHaveLength(2);
  });

  test('error classification', () => {
    expect(isConflictError({ code: '40001' })).toBe(true);
    expect(isConflictError({ code: '23505' })).toBe(false);
    expect(isConnectionError({ code: '57P01' })).toBe(true);
    expect(isConnectionError({ code: '08006' })).toBe(true);
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionError({ code: '22P02' })).toBe(false);
  });
});

describe('DMS object keys', () => {
  const k = (s: string) => parseDmsKey(s, 'dms') as DmsObjectKey;

  test('parses full-load and CDC keys, refuses anything else with a reason', () => {
    expect(k('dms/public/items/LOAD00000001.csv')).toMatchObject({ schema: 'public', table: 'items', kind: 'full-load', gzip: false });
    expect(k('dms/sales/orders/20261130-101500123.csv.gz')).toMatchObject({ schema: 'sales', table: 'orders', kind: 'cdc', gzip: true });
    expect(parseDmsKey('dms/public/items/2026/11/30/x.csv', 'dms')).toMatch(/DatePartitionEnabled must be false/);
    expect(parseDmsKey('other/public/items/LOAD00000001.csv', 'dms')).toMatch(/not under the landing prefix/);
    expect(parseDmsKey('dms/public/items/notes.txt', 'dms')).toMatch(/not a DMS data file/);
  });

  test('DMS order: every full-load file before CDC files, then by name', () => {
    const files = ['dms/p/t/20261130-000000002.csv', 'dms/p/t/LOAD00000002.csv', 'dms/p/t/20261130-000000001.csv', 'dms/p/t/LOAD00000001.csv'].map(k);
    expect(files.sort(compareDmsFiles).map((f) => f.file)).toEqual(['LOAD00000001.csv', 'LOAD00000002.csv', '20261130-000000001.csv', '20261130-000000002.csv']);
  });
});

describe('loader configuration from the environment the construct sets', () => {
  test('defaults agree with the DMS endpoint settings', () => {
    expect(configFromEnv({ LANDING_PREFIX: 'dms' })).toEqual({
      landingPrefix: 'dms',
      quarantinePrefix: 'quarantine',
      targetSchema: undefined,
      limits: { maxRows: 3000, maxBytes: 8 * 1024 * 1024 },
      nullValue: DMS_CSV.nullValue,
      timestampColumn: DMS_CSV.timestampColumn,
    });
  });

  test('bad values are named, limits above DSQL are refused', () => {
    expect(() => configFromEnv({ MAX_ROWS_PER_TXN: '5000', MAX_BYTES_PER_TXN: 'lots' })).toThrow(
      /LANDING_PREFIX is not set; MAX_ROWS_PER_TXN must be an integer in 2..3000, got "5000"; MAX_BYTES_PER_TXN must be an integer/,
    );
  });
});
