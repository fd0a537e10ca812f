/**
 * The state document (lambda/kms-key-change/state.ts): what a resumed run or a Step Functions payload
 * is checked for before any step touches AWS — every problem listed at once, and a document copied
 * or edited to name another database refused (it would rename, unfreeze or roll back the wrong
 * resources). Pure functions, no AWS.
 */
import { addArtifact, assertState, isValidRdsId, newState, RekeyError, restoreRegion, runIdFrom } from '../../lambda/kms-key-change/state';

const fresh = () => newState({ kind: 'instance', sourceId: 'orders', kmsKey: 'alias/k', region: 'us-east-1', now: new Date('2026-11-30T03:04:05Z') });

test('newState: run id from the clock, snapshot method by default, a target Region equal to the source is no target Region', () => {
  expect(fresh()).toEqual({ version: 1, kind: 'instance', method: 'snapshot', sourceId: 'orders', region: 'us-east-1', kmsKey: 'alias/k', targetRegion: undefined, shareWithAccount: undefined, targetSecurityGroupIds: undefined, runId: '20261130030405', artifacts: [], warnings: [] });
  expect(newState({ kind: 'cluster', sourceId: 'l', kmsKey: 'k', region: 'us-east-1', targetRegion: 'us-east-1' }).targetRegion).toBeUndefined();
  const x = newState({ kind: 'cluster', sourceId: 'l', kmsKey: 'k', region: 'us-east-1', targetRegion: 'us-west-2', method: 'blue-green', shareWithAccount: '210987654321', targetSecurityGroupIds: ['sg-1'] });
  expect(x).toMatchObject({ targetRegion: 'us-west-2', method: 'blue-green', shareWithAccount: '210987654321', targetSecurityGroupIds: ['sg-1'] });
  expect(x.runId).toMatch(/^\d{14}$/);
  expect(runIdFrom(new Date('2027-01-02T13:14:15.999Z'))).toBe('20270102131415');
  expect(restoreRegion(x)).toBe('us-west-2');
  expect(restoreRegion(fresh())).toBe('us-east-1');
});

test('RDS identifiers: a letter first, letters/digits/hyphens, at most 63, no "--", no trailing hyphen', () => {
  for (const ok of ['a', 'orders', 'Orders-DB-1', `a${'b'.repeat(62)}`]) expect([ok, isValidRdsId(ok)]).toEqual([ok, true]);
  for (const bad of ['', '1orders', '-orders', 'orders-', 'ord--ers', 'ord_ers', `a${'b'.repeat(63)}`, 'orders db']) expect([bad, isValidRdsId(bad)]).toEqual([bad, false]);
});

test('addArtifact records a resource once per type, id and Region', () => {
  const s = fresh();
  addArtifact(s, { type: 'db-instance', id: 'a', region: 'us-east-1', role: 'one' });
  addArtifact(s, { type: 'db-instance', id: 'a', region: 'us-east-1', role: 'two' });
  addArtifact(s, { type: 'db-snapshot', id: 'a', region: 'us-east-1', role: 'snap' });
  addArtifact(s, { type: 'db-instance', id: 'a', region: 'us-west-2', role: 'west' });
  addArtifact(s, { type: 'db-instance', id: 'b', region: 'us-east-1', role: 'b' });
  expect(s.artifacts.map((a) => a.role)).toEqual(['one', 'snap', 'west', 'b']);
});

test('RekeyError: "[step] resource: message. Next: next", named by its code', () => {
  const e = new RekeyError('restore', 'orders', 'boom', 'do this');
  expect([e.message, e.name, e.step, e.resource, e.next, e.code]).toEqual(['[restore] orders: boom. Next: do this', 'RekeyError', 'restore', 'orders', 'do this', 'RekeyError']);
  expect(new RekeyError('s', 'r', 'm', 'n', 'FreezeNotHeld').name).toBe('FreezeNotHeld');
});

describe('assertState', () => {
  test('a valid document passes; missing warnings become an empty list', () => {
    const doc = JSON.parse(JSON.stringify({ ...fresh(), warnings: undefined }));
    expect(assertState(doc).warnings).toEqual([]);
    const kept = { ...fresh(), warnings: ['w'] };
    expect(assertState(kept).warnings).toEqual(['w']);
    expect(assertState({ ...fresh(), method: 'blue-green', kind: 'cluster' })).toMatchObject({ method: 'blue-green', kind: 'cluster' });
  });

  test('not an object: refused', () => {
    expect(() => assertState(null)).toThrow('state must be a JSON object');
    expect(() => assertState('x')).toThrow('state must be a JSON object');
  });

  test('every problem is listed at once', () => {
    expect(() => assertState({ version: 2, kind: 'db', method: 'copy', sourceId: '9x', kmsKey: '', region: '', runId: '2026', artifacts: {} })).toThrow(
      'invalid state document: version must be 1; kind must be "instance" or "cluster"; method must be "snapshot" or "blue-green"; sourceId must be an RDS identifier; kmsKey is required; region is required; runId must be 14 digits; artifacts must be a list',
    );
    expect(() => assertState({ ...fresh(), sourceId: 42, kmsKey: 7, region: 1, runId: 20261130030405 } as never)).toThrow(
      'invalid state document: sourceId must be an RDS identifier; kmsKey is required; region is required; runId must be 14 digits',
    );
    expect(() => assertState({ ...fresh(), runId: '20261130030405x' })).toThrow('runId must be 14 digits');
    expect(() => assertState({ ...fresh(), runId: 'x20261130030405' })).toThrow('runId must be 14 digits');
  });

  test('a document whose names or captured source belong to another database (or run) is refused, naming the owner', () => {
    const s = fresh();
    expect(() => assertState({ ...s, sourceId: 'billing', names: { sourceSnapshot: 'orders-rekey-20261130030405-src', newId: 'x' } })).toThrow(
      'invalid state document: the state document belongs to orders, not billing (run 20261130030405); resume that run with its own file, or start a new run for billing',
    );
    expect(() => assertState({ ...s, names: { sourceSnapshot: 'orders-rekey-20261201000000-src', newId: 'x' } })).toThrow('the state document belongs to orders, not orders (run 20261201000000)');
    expect(() => assertState({ ...s, source: { kind: 'instance', instance: { id: 'billing' } } as never })).toThrow('the state document belongs to billing, not orders (run 20261130030405)');
    expect(() => assertState({ ...s, source: { kind: 'cluster', cluster: { id: 'ledger' } } as never })).toThrow('the state document belongs to ledger, not orders');
    // Consistent: passes. Names that do not follow the pattern say nothing about the owner.
    expect(() => assertState({ ...s, names: { sourceSnapshot: 'orders-rekey-20261130030405-src', newId: 'x' }, source: { kind: 'instance', instance: { id: 'orders' } } as never })).not.toThrow();
    expect(() => assertState({ ...s, names: { sourceSnapshot: 'hand-made', newId: 'x' } })).not.toThrow();
    expect(() => assertState({ ...s, names: { sourceSnapshot: 7, newId: 'x' } as never })).not.toThrow();
  });
});
