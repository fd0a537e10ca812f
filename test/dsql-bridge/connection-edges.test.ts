/**
 * ConnectionManager and the error classification the loader's retries depend on (lambda/dsql-loader/connection.ts),
 * without a server: the connection is a stand-in (an EventEmitter with query/end, as connection.test.ts uses) because
 * the behaviour under test is the manager's own bookkeeping (which connection is live, when a token is renewed);
 * real connections are exercised by loader.test.ts against PostgreSQL.
 */
import { EventEmitter } from 'events';
import { Client } from 'pg';
import { ConnectionManager, isConflictError, isConnectionError } from '../../lambda/dsql-loader/connection';

class FakeClient extends EventEmitter {
  ended = 0;
  queries: string[] = [];
  constructor(
    public readonly password: string,
    private readonly failOn?: string,
    private readonly hangOnEnd = false,
  ) {
    super();
  }
  async query(sql: string) {
    this.queries.push(sql);
    if (sql === this.failOn) throw Object.assign(new Error(`refused: ${sql}`), { code: '42501' });
    return { rows: [] };
  }
  end() {
    this.ended += 1;
    return this.hangOnEnd ? new Promise<void>(() => undefined) : Promise.resolve();
  }
}

const MIN = 60_000;

function manager(opts: { sessionSetup?: string[]; failOn?: string; hangOnEnd?: boolean; maxAge?: number } = {}) {
  const clock = { now: 0 };
  const opened: FakeClient[] = [];
  let tokens = 0;
  const m = new ConnectionManager({
    clock: () => clock.now,
    token: async () => `token-${++tokens}`,
    connect: async (password) => {
      const c = new FakeClient(password, opts.failOn, opts.hangOnEnd);
      opened.push(c);
      return c as unknown as Client;
    },
    sessionSetup: opts.sessionSetup,
    maxConnectionAgeMs: opts.maxAge,
  });
  return { m, opened, clock };
}

describe('ConnectionManager', () => {
  test("a connection that emits 'end' is replaced on the next get(); the old one is closed", async () => {
    const { m, opened } = manager();
    const a = (await m.get()) as unknown as FakeClient;
    a.emit('end');
    const b = await m.get();
    expect(b).not.toBe(a);
    expect(opened).toHaveLength(2);
    expect(a.ended).toBe(1);
    expect(m.connectionsOpened).toBe(2);
  });

  test('events of a connection already replaced do not break the current one', async () => {
    const { m, opened, clock } = manager();
    const a = (await m.get()) as unknown as FakeClient;
    clock.now = 51 * MIN; // recycled for age
    const b = await m.get();
    expect(b).not.toBe(a);
    a.emit('error', new Error('late error of the old connection'));
    a.emit('end');
    expect(await m.get()).toBe(b);
    expect(opened).toHaveLength(2);
  });

  test('the age limit counts from when the connection was opened, not from 0', async () => {
    const { m, clock } = manager({ maxAge: 10 * MIN });
    clock.now = 100 * MIN;
    const a = await m.get();
    clock.now = 109 * MIN;
    expect(await m.get()).toBe(a);
    clock.now = 110 * MIN;
    expect(await m.get()).not.toBe(a);
  });

  test('custom session statements run in order on each new connection; a failing one ends that connection and throws', async () => {
    const ok = manager({ sessionSetup: ["SET TIME ZONE 'UTC'", 'SET search_path = app'] });
    const c = (await ok.m.get()) as unknown as FakeClient;
    expect(c.queries).toEqual(["SET TIME ZONE 'UTC'", 'SET search_path = app']);
    const none = manager({ sessionSetup: [] });
    expect(((await none.m.get()) as unknown as FakeClient).queries).toEqual([]);
    const bad = manager({ sessionSetup: ['SET ROLE loader'], failOn: 'SET ROLE loader' });
    await expect(bad.m.get()).rejects.toThrow('refused: SET ROLE loader');
    expect(bad.opened[0].ended).toBe(1);
    expect(bad.m.connectionsOpened).toBe(0);
    // The failed connection is not kept: the next get() opens a new one.
    await expect(bad.m.get()).rejects.toThrow('refused');
    expect(bad.opened).toHaveLength(2);
  });

  test('close() ends the connection; discard() with none is a no-op; a get() after close() opens a new one', async () => {
    const { m, opened } = manager();
    await m.discard();
    expect(opened).toHaveLength(0);
    await m.get();
    await m.close();
    expect(opened[0].ended).toBe(1);
    await m.get();
    expect(opened).toHaveLength(2);
  });

  test('discard() does not wait for a connection whose end() never completes (gives up after 2 s)', async () => {
    jest.useFakeTimers();
    try {
      const { m, opened } = manager({ hangOnEnd: true });
      await m.get();
      let done = false;
      const p = m.discard().then(() => (done = true));
      await Promise.resolve();
      await jest.advanceTimersByTimeAsync(1999);
      expect(done).toBe(false);
      await jest.advanceTimersByTimeAsync(1);
      await p;
      expect(done).toBe(true);
      expect(opened[0].ended).toBe(1);
    } finally {
      jest.useRealTimers();
    }
  });

  test('a token is renewed only when less than the margin is left: exactly 2 minutes left still uses it', async () => {
    const { m, opened, clock } = manager();
    await m.get();
    await m.discard();
    clock.now = 13 * MIN; // 2 minutes left of 15
    await m.get();
    await m.discard();
    clock.now = 13 * MIN + 1;
    await m.get();
    expect(opened.map((c) => c.password)).toEqual(['token-1', 'token-1', 'token-2']);
    expect(m.tokensGenerated).toBe(2);
  });
});

describe('error classification (what the loader retries, and how)', () => {
  test.each([
    ['08000', true], ['08003', true], ['08006', true], ['08P01', true], ['57P01', true], ['57P02', true], ['57P03', true],
    ['ECONNRESET', true], ['ECONNREFUSED', true], ['EPIPE', true], ['ETIMEDOUT', true], ['ENOTFOUND', true],
    ['57P04', false], ['57014', false], ['40001', false], ['23505', false], ['22P02', false], ['', false], ['EACCES', false], ['X08', false],
  ])('code %s: connection error %s', (code, expected) => {
    expect(isConnectionError({ code, message: 'x' })).toBe(expected);
  });

  test('connection errors by message, when pg gives no code', () => {
    for (const msg of ['Connection terminated unexpectedly', 'connection ended', 'Client has encountered a connection error and is not queryable', 'Client was closed and is not queryable']) {
      expect([msg, isConnectionError(new Error(msg))]).toEqual([msg, true]);
    }
    expect(isConnectionError(new Error('duplicate key value violates unique constraint'))).toBe(false);
    expect(isConnectionError({})).toBe(false);
  });

  test('not an error object: never a connection or conflict error', () => {
    for (const v of [undefined, null, 'Connection terminated', 42, true]) {
      expect(isConnectionError(v)).toBe(false);
      expect(isConflictError(v)).toBe(false);
    }
  });

  test('conflicts: serialization failure and deadlock only', () => {
    expect(isConflictError({ code: '40001' })).toBe(true);
    expect(isConflictError({ code: '40P01' })).toBe(true);
    for (const code of ['40000', '40002', '08006', '', undefined]) expect(isConflictError({ code })).toBe(false);
    expect(isConflictError(Object.assign(new Error('could not serialize'), { code: '40001' }))).toBe(true);
  });
});
