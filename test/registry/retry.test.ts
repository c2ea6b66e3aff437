// When and how long to wait before asking a registry again.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backoffMs, errorCode, isRetryableError, networkReason, retryAfterMs, sleep, type RetryPolicy } from '../../src/registry/retry.js';

const policy: RetryPolicy = { attempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };
const coded = (code: string, cause?: unknown) => Object.assign(new Error(`failed: ${code}`, { cause }), { code });

describe('backoffMs', () => {
  test('doubles per attempt, with at most 20% jitter, and never exceeds the cap', () => {
    const cases: Array<[attempt: number, low: number, high: number]> = [
      [1, 100, 120],
      [2, 200, 240],
      [3, 400, 480],
      [4, 800, 960],
      [5, 1000, 1000],
      [12, 1000, 1000],
    ];
    for (const [attempt, low, high] of cases) {
      const samples = Array.from({ length: 200 }, () => backoffMs(policy, attempt, null));
      assert.ok(Math.min(...samples) >= low, `attempt ${attempt}: ${Math.min(...samples)} < ${low}`);
      assert.ok(Math.max(...samples) <= high, `attempt ${attempt}: ${Math.max(...samples)} > ${high}`);
    }
  });

  test('jitter spreads parallel retries apart', () => {
    const samples = new Set(Array.from({ length: 50 }, () => backoffMs(policy, 2, null)));
    assert.ok(samples.size > 1, 'every sample was the same');
  });

  test('Retry-After is honoured as given, up to the cap, whatever the attempt', () => {
    const cases: Array<[attempt: number, retryAfter: number, expected: number]> = [
      [1, 250, 250],
      [4, 0, 0],
      [1, 5000, 1000],
      [9, 600, 600],
    ];
    for (const [attempt, retryAfter, expected] of cases) assert.equal(backoffMs(policy, attempt, retryAfter), expected, `${attempt}/${retryAfter}`);
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  const cases: Array<[what: string, header: string | string[] | undefined, expected: number | null]> = [
    ['seconds', '3', 3000],
    ['seconds with spaces', ' 7 ', 7000],
    ['zero seconds', '0', 0],
    ['an HTTP date 90 s ahead', 'Thu, 01 Jan 2026 00:01:30 GMT', 90_000],
    ['an HTTP date in the past', 'Wed, 31 Dec 2025 23:00:00 GMT', 0],
    ['the first of repeated headers', ['2', '9'], 2000],
    ['absent', undefined, null],
    ['empty', '', null],
    ['garbage', 'soon', null],
    // Not delay-seconds, and not dates either (Date.parse alone reads them as days in 2001, i.e. no wait).
    ['negative seconds', '-5', null],
    ['fractional seconds', '1.5', null],
  ];
  for (const [what, header, expected] of cases) {
    test(`${what} → ${expected}`, () => assert.equal(retryAfterMs(header, now), expected));
  }
});

describe('isRetryableError and networkReason', () => {
  test('network failures are retried; TLS trust problems, HTTP-level and plain errors are not', () => {
    const cases: Array<[what: string, err: unknown, retryable: boolean]> = [
      ['connection reset', coded('ECONNRESET'), true],
      ['connection refused', coded('ECONNREFUSED'), true],
      ['DNS try again', coded('EAI_AGAIN'), true],
      ["undici's socket error", coded('UND_ERR_SOCKET'), true],
      ['body timeout', coded('UND_ERR_BODY_TIMEOUT'), true],
      ['premature close', coded('ERR_STREAM_PREMATURE_CLOSE'), true],
      ['a code found on the cause', new Error('fetch failed', { cause: coded('ECONNRESET') }), true],
      ["undici's generic UND_ERR wrapping a reset", coded('UND_ERR', coded('ECONNRESET')), true],
      ['unknown host', coded('ENOTFOUND'), false],
      ['self-signed certificate', coded('DEPTH_ZERO_SELF_SIGNED_CERT'), false],
      ['certificate for another host', coded('ERR_TLS_CERT_ALTNAME_INVALID'), false],
      ['a plain error', new Error('boom'), false],
      ['not an error at all', 'ECONNRESET', false],
      ['nothing', undefined, false],
    ];
    for (const [what, err, retryable] of cases) assert.equal(isRetryableError(err), retryable, what);
  });

  test('errorCode looks a few causes deep, not forever', () => {
    let deep: unknown = coded('ECONNRESET');
    for (let i = 0; i < 10; i++) deep = new Error(`wrap ${i}`, { cause: deep });
    assert.equal(errorCode(deep), undefined);
    assert.equal(errorCode(new Error('a', { cause: new Error('b', { cause: coded('EPIPE') }) })), 'EPIPE');
  });

  test('a short human reason, else the code, else the message', () => {
    assert.equal(networkReason(coded('ECONNREFUSED')), 'connection refused');
    assert.match(networkReason(coded('UND_ERR_BODY_TIMEOUT')), /stalled.*--timeout/);
    assert.equal(networkReason(coded('EHOSTUNREACH')), 'EHOSTUNREACH');
    assert.equal(networkReason(new Error('something odd')), 'something odd');
  });
});

describe('sleep', () => {
  test('waits about as long as asked', async () => {
    const started = performance.now();
    await sleep(120);
    const took = performance.now() - started;
    assert.ok(took >= 110 && took < 1000, `slept ${took} ms`);
  });

  test('an abort ends the wait at once, rejecting with the abort reason', async () => {
    const ac = new AbortController();
    const started = performance.now();
    const waiting = sleep(10_000, ac.signal);
    setTimeout(() => ac.abort(new Error('stop now')), 30);
    await assert.rejects(waiting, /stop now/);
    assert.ok(performance.now() - started < 2000, 'did not wait for the timer');
  });

  test('an already aborted signal rejects without waiting', async () => {
    const started = performance.now();
    await assert.rejects(sleep(10_000, AbortSignal.abort(new Error('gone'))), /gone/);
    assert.ok(performance.now() - started < 500, 'did not wait');
  });

  test('a finished sleep leaves no listener on the signal', async () => {
    const ac = new AbortController();
    let added = 0;
    let removed = 0;
    const { addEventListener, removeEventListener } = ac.signal;
    ac.signal.addEventListener = (...args: Parameters<typeof addEventListener>) => (added++, addEventListener.apply(ac.signal, args));
    ac.signal.removeEventListener = (...args: Parameters<typeof removeEventListener>) => (removed++, removeEventListener.apply(ac.signal, args));
    for (let i = 0; i < 3; i++) await sleep(1, ac.signal);
    assert.equal(added, 3);
    assert.equal(removed, 3, 'each sleep removed its abort listener');
    ac.abort();
  });
});
