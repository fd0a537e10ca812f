/**
 * withRetry / isTransientAwsError (lambda/shared/retry.ts), used by every pattern's AWS calls.
 * The clock is the one thing faked here: setTimeout is spied so each back-off delay is recorded and then run at once
 * (real delays would make the default-option tests take seconds), and Math.random is pinned so full jitter is
 * deterministic. Everything else (exponential-backoff itself) is real.
 */
import { isTransientAwsError, withRetry } from '../../lambda/shared/retry';

const realSetTimeout = global.setTimeout;
let delays: number[];

beforeEach(() => {
  delays = [];
  jest.spyOn(global, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
    delays.push(ms as number);
    return realSetTimeout(fn, 0);
  }) as typeof setTimeout);
  jest.spyOn(Math, 'random').mockReturnValue(1); // full jitter = round(random * delay) -> the un-jittered delay
});
afterEach(() => jest.restoreAllMocks());

const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });

/** A call that fails with `errs` in turn, then returns 'ok'. */
function failing(...errs: unknown[]) {
  let i = 0;
  return jest.fn(async () => {
    if (i < errs.length) throw errs[i++];
    return 'ok';
  });
}

describe('withRetry', () => {
  test('defaults: 5 attempts, first delay 100 ms doubling, transient AWS errors only; the last error is rethrown unchanged', async () => {
    const last = throttled();
    const fn = failing(throttled(), throttled(), throttled(), throttled(), last, throttled());
    await expect(withRetry(fn)).rejects.toBe(last);
    expect(fn).toHaveBeenCalledTimes(5);
    expect(delays).toEqual([100, 200, 400, 800]);
  });

  test('returns the value of the first successful attempt', async () => {
    const fn = failing(throttled(), throttled());
    await expect(withRetry(fn)).resolves.toBe('ok');
    expect(fn).toHaveBeenCalledTimes(3);
  });

  test('the default maxDelayMs caps one delay at 5000 ms', async () => {
    const fn = failing(...Array.from({ length: 8 }, throttled));
    await expect(withRetry(fn, { attempts: 9, baseDelayMs: 1000 })).resolves.toBe('ok');
    expect(delays).toEqual([1000, 2000, 4000, 5000, 5000, 5000, 5000, 5000]);
  });

  test('attempts, baseDelayMs and maxDelayMs are honoured', async () => {
    const fn = failing(...Array.from({ length: 5 }, throttled));
    await expect(withRetry(fn, { attempts: 3, baseDelayMs: 7, maxDelayMs: 10 })).rejects.toMatchObject({ name: 'ThrottlingException' });
    expect(fn).toHaveBeenCalledTimes(3);
    expect(delays).toEqual([7, 10]);
  });

  test('full jitter: the delay is a random fraction of the exponential delay', async () => {
    jest.spyOn(Math, 'random').mockReturnValue(0.25);
    await withRetry(failing(throttled(), throttled()), { baseDelayMs: 400 });
    expect(delays).toEqual([100, 200]);
  });

  test('an error that is not transient is thrown at once, without a retry', async () => {
    const bad = Object.assign(new Error('DB instance not found'), { name: 'DBInstanceNotFoundFault', $metadata: { httpStatusCode: 404 } });
    const onRetry = jest.fn();
    const fn = failing(bad);
    await expect(withRetry(fn, { onRetry })).rejects.toBe(bad);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(onRetry).not.toHaveBeenCalled();
    expect(delays).toEqual([]);
  });

  test('a custom retryable predicate replaces the default one', async () => {
    const mine = new Error('not ready yet');
    const fn = failing(mine, mine);
    await expect(withRetry(fn, { retryable: (e) => e === mine, baseDelayMs: 1 })).resolves.toBe('ok');
    expect(fn).toHaveBeenCalledTimes(3);
    // ...and throttling is no longer retried when the predicate says no
    const fn2 = failing(throttled());
    await expect(withRetry(fn2, { retryable: (e) => e === mine })).rejects.toMatchObject({ name: 'ThrottlingException' });
    expect(fn2).toHaveBeenCalledTimes(1);
  });

  test('onRetry is called before each retry (not after the last failure) with the error and the next attempt number', async () => {
    const errs = [throttled(), throttled(), throttled()];
    const onRetry = jest.fn();
    await expect(withRetry(failing(...errs), { attempts: 3, baseDelayMs: 1, onRetry })).rejects.toBe(errs[2]);
    expect(onRetry.mock.calls).toEqual([[errs[0], 1], [errs[1], 2]]);
  });
});

describe('isTransientAwsError', () => {
  test.each([
    'Throttling', 'ThrottlingException', 'ThrottledException', 'TooManyRequestsException', 'RequestLimitExceeded',
    'RequestThrottled', 'RequestThrottledException', 'SlowDown', 'ProvisionedThroughputExceededException', 'LimitExceededException',
  ])('throttling error %s (HTTP 400) is transient', (name) => {
    expect(isTransientAwsError(Object.assign(new Error(name), { name, $metadata: { httpStatusCode: 400 } }))).toBe(true);
  });

  test.each([429, 500, 502, 503, 504])('HTTP %i is transient', (httpStatusCode) => {
    expect(isTransientAwsError(Object.assign(new Error('x'), { name: 'SomeFault', $metadata: { httpStatusCode } }))).toBe(true);
  });

  test.each([400, 403, 404, 409, 428, 430, 499])('HTTP %i with a non-throttling name is not transient', (httpStatusCode) => {
    expect(isTransientAwsError(Object.assign(new Error('x'), { name: 'InvalidParameterValue', $metadata: { httpStatusCode } }))).toBe(false);
  });

  test('the SDK\'s own $retryable marker makes an error transient', () => {
    expect(isTransientAwsError({ name: 'Whatever', $retryable: { throttling: false }, $metadata: { httpStatusCode: 400 } })).toBe(true);
    expect(isTransientAwsError({ name: 'Whatever', $retryable: undefined, $metadata: { httpStatusCode: 400 } })).toBe(false);
  });

  test.each(['ECONNRESET', 'ETIMEDOUT', 'ECONNREFUSED', 'EPIPE'])('network error code %s is transient (the code wins over a generic name)', (code) => {
    expect(isTransientAwsError(Object.assign(new Error('socket'), { code }))).toBe(true);
  });

  test.each(['TimeoutError', 'RequestTimeout'])('an error named %s without a code is transient', (name) => {
    expect(isTransientAwsError(Object.assign(new Error('slow'), { name }))).toBe(true);
  });

  test('an error without name, code, status or marker is not transient', () => {
    expect(isTransientAwsError({})).toBe(false);
    expect(isTransientAwsError(new Error('plain'))).toBe(false);
    expect(isTransientAwsError({ code: 'ENOENT', name: 'TimeoutError' })).toBe(false);
  });

  test('the error class itself (a function with a throttling name), not an instance, is not transient', () => {
    class ThrottlingException extends Error {}
    expect(isTransientAwsError(ThrottlingException)).toBe(false);
  });

  test.each([undefined, null, 'ThrottlingException', 503, true])('a non-object (%p) is not transient', (v) => {
    expect(isTransientAwsError(v)).toBe(false);
  });
});
