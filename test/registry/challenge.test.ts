import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseChallenges } from '../../src/registry/challenge.js';
import { backoffMs, retryAfterMs } from '../../src/registry/retry.js';

describe('WWW-Authenticate', () => {
  test('Bearer with realm, service and scope', () => {
    assert.deepEqual(parseChallenges('Bearer realm="https://auth.example.org/token",service="registry.example.org",scope="repository:a/b:pull"'), [
      { scheme: 'bearer', params: { realm: 'https://auth.example.org/token', service: 'registry.example.org', scope: 'repository:a/b:pull' } },
    ]);
  });
  test('Basic, unquoted values, escapes and several challenges', () => {
    assert.deepEqual(parseChallenges('Basic realm="Registry \\"Realm\\"", Bearer realm=http://x/token'), [
      { scheme: 'basic', params: { realm: 'Registry "Realm"' } },
      { scheme: 'bearer', params: { realm: 'http://x/token' } },
    ]);
  });
  test('empty or garbage headers give no challenge', () => {
    assert.deepEqual(parseChallenges(''), []);
  });
});

describe('retry timing', () => {
  test('Retry-After in seconds or as a date', () => {
    assert.equal(retryAfterMs('3'), 3000);
    assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4_000), 6000);
    assert.equal(retryAfterMs(undefined), null);
    assert.equal(retryAfterMs('soon'), null);
  });
  test('backoff doubles, is capped, and honours Retry-After up to the cap', () => {
    const p = { attempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };
    assert.ok(backoffMs(p, 1, null) >= 100 && backoffMs(p, 1, null) <= 120);
    assert.ok(backoffMs(p, 3, null) >= 400 && backoffMs(p, 3, null) <= 480);
    assert.equal(backoffMs(p, 9, null), 1000);
    assert.equal(backoffMs(p, 1, 250), 250);
    assert.equal(backoffMs(p, 1, 60_000), 1000);
  });
});
