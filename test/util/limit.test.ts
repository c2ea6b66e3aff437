import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { limiter, priorityLimiter } from '../../src/util/limit.js';

/** A job that records when it starts and ends only when released. */
function gate(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  return {
    fn: async () => {
      log.push(name);
      await done;
      return name;
    },
    release: () => release(),
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('limiter', () => {
  test('runs at most n at once, in the order given', async () => {
    const log: string[] = [];
    const limit = limiter(2);
    const jobs = ['a', 'b', 'c'].map((n) => gate(log, n));
    const results = jobs.map((j) => limit(j.fn));
    await tick();
    assert.deepEqual(log, ['a', 'b']);
    jobs[1]!.release();
    await tick();
    assert.deepEqual(log, ['a', 'b', 'c']);
    jobs[0]!.release();
    jobs[2]!.release();
    assert.deepEqual(await Promise.all(results), ['a', 'b', 'c']);
  });
});

describe('priorityLimiter', () => {
  test('a free slot goes to the highest priority, the earliest among equals', async () => {
    const log: string[] = [];
    const limit = priorityLimiter(1);
    const jobs = Object.fromEntries(['low', 'high', 'mid1', 'mid2'].map((n) => [n, gate(log, n)]));
    const queued = [limit(jobs.low!.fn, 1), limit(jobs.high!.fn, 9), limit(jobs.mid1!.fn, 5), limit(jobs.mid2!.fn, 5)];
    await tick();
    // Queued in one tick: ranked together, so the first slot is not first come.
    assert.deepEqual(log, ['high']);
    for (const next of ['high', 'mid1', 'mid2', 'low']) {
      jobs[next]!.release();
      await tick();
    }
    assert.deepEqual(log, ['high', 'mid1', 'mid2', 'low']);
    assert.deepEqual(await Promise.all(queued.map((q) => q.promise)), ['low', 'high', 'mid1', 'mid2']);
  });

  test('raising a waiting job moves it ahead; raising a running one changes nothing', async () => {
    const log: string[] = [];
    const limit = priorityLimiter(1);
    const a = gate(log, 'a');
    const b = gate(log, 'b');
    const c = gate(log, 'c');
    const qa = limit(a.fn, 1);
    await tick();
    const qb = limit(b.fn, 5);
    const qc = limit(c.fn, 3);
    qa.raise(100);
    qc.raise(3);
    await tick();
    a.release();
    await tick();
    assert.deepEqual(log, ['a', 'c']);
    c.release();
    b.release();
    await Promise.all([qa.promise, qb.promise, qc.promise]);
    assert.deepEqual(log, ['a', 'c', 'b']);
  });

  test('a failing job frees its slot and rejects its own promise only', async () => {
    const limit = priorityLimiter(1);
    const failed = limit(async () => {
      throw new Error('boom');
    }, 2);
    const next = limit(async () => 'ok', 1);
    await assert.rejects(failed.promise, /boom/);
    assert.equal(await next.promise, 'ok');
  });
});
