import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { FileWorkers } from '../../src/cache/file-workers.js';
import { tempDir } from '../helpers/tmp.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Each suite runs twice: with the threads started (a build that announced
 * many bytes) and without (small jobs then run on the calling thread, larger
 * copies on libuv's pool, larger hashes start a thread).
 */
for (const where of ['on threads', 'without threads (the calling thread, libuv\'s pool)'] as const) {
  const pool = (size: number) => {
    const workers = new FileWorkers(size);
    if (where === 'on threads') workers.expect(Number.MAX_SAFE_INTEGER);
    return workers;
  };

  describe(`FileWorkers.hash, ${where}`, () => {
    test('hashes files larger than one read, several at once, on at most `size` threads', async (t) => {
      const dir = await tempDir(t);
      // 3.5 MiB of varied bytes: several 1 MiB reads, a partial last one.
      const files = await Promise.all(
        [1, 2, 3].map(async (seed) => {
          const data = Buffer.alloc(3.5 * 1024 * 1024, 0);
          for (let i = 0; i < data.length; i += 4096) data[i] = (i / 4096 + seed) & 0xff;
          const file = join(dir, `f${seed}`);
          await writeFile(file, data);
          return { file, data };
        }),
      );
      const workers = pool(2);
      try {
        const results = await Promise.all(files.map((f) => workers.hash(f.file, 'sha256', f.data.length)));
        results.forEach((r, i) => assert.deepEqual(r, { size: files[i]!.data.length, hex: sha256(files[i]!.data) }));
      } finally {
        await workers.close();
      }
    });

    test('stops reading past the limit, and reports a missing file with its code', async (t) => {
      const dir = await tempDir(t);
      const data = Buffer.alloc(3 * 1024 * 1024, 1);
      await writeFile(join(dir, 'long'), data);
      const workers = pool(1);
      try {
        const r = await workers.hash(join(dir, 'long'), 'sha256', 1000);
        assert.equal(r.hex, null);
        assert.ok(r.size > 1000 && r.size <= 1024 * 1024, `stopped after the first read, not at ${r.size}`);
        await assert.rejects(workers.hash(join(dir, 'nope'), 'sha256', 10), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
      } finally {
        await workers.close();
      }
    });

    test('close rejects checks still queued, and later ones', async (t) => {
      const dir = await tempDir(t);
      await writeFile(join(dir, 'f'), Buffer.alloc(8 * 1024 * 1024, 2));
      const workers = pool(1);
      const pending = [1, 2, 3].map(() => workers.hash(join(dir, 'f'), 'sha256', 8 * 1024 * 1024));
      const settled = Promise.allSettled(pending);
      await workers.close();
      for (const r of await settled) assert.match(r.status === 'rejected' ? String(r.reason) : 'fulfilled', /closed/);
      await assert.rejects(workers.hash(join(dir, 'f'), 'sha256', 1), /closed/);
    });
  });

  describe(`FileWorkers.copyInto, ${where}`, () => {
    test('writes the first `length` bytes at the position and never past them; reports the file size', async (t) => {
      const dir = await tempDir(t);
      const data = Buffer.alloc(2.5 * 1024 * 1024);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 12)) & 0xff;
      await writeFile(join(dir, 'src'), data);
      const target = join(dir, 'target');
      const before = Buffer.alloc(4 * 1024 * 1024, 0xee);
      await writeFile(target, before);
      const workers = pool(1);
      const fh = await open(target, 'r+');
      try {
        assert.equal(await workers.copyInto(join(dir, 'src'), fh.fd, 1000, data.length), data.length);
        // A file longer than asked for: only `length` bytes land, the size says more.
        const longer = await workers.copyInto(join(dir, 'src'), fh.fd, 1000 + data.length, 100);
        assert.ok(longer > 100, `reported ${longer}`);
      } finally {
        await fh.close();
        await workers.close();
      }
      const after = await readFile(target);
      assert.ok(after.subarray(0, 1000).equals(before.subarray(0, 1000)), 'bytes before the position untouched');
      assert.ok(after.subarray(1000, 1000 + data.length).equals(data), 'the file at the position');
      assert.ok(after.subarray(1000 + data.length, 1000 + data.length + 100).equals(data.subarray(0, 100)), 'the second copy, cut at its length');
      assert.ok(after.subarray(1100 + data.length).equals(before.subarray(1100 + data.length)), 'nothing written past it');
    });

    test('a copy not yet handed to a thread when its signal aborts is dropped', async (t) => {
      const dir = await tempDir(t);
      const MB16 = 16 * 1024 * 1024;
      await writeFile(join(dir, 'src'), Buffer.alloc(MB16, 3));
      const target = join(dir, 'target');
      await writeFile(target, Buffer.alloc(0));
      const workers = pool(1);
      const fh = await open(target, 'r+');
      const ac = new AbortController();
      // One thread takes two jobs at a time, libuv's pool four: the next waits here.
      const capacity = where === 'on threads' ? 2 : 4;
      try {
        const handed = Array.from({ length: capacity }, (_, i) => workers.copyInto(join(dir, 'src'), fh.fd, i * MB16, MB16, ac.signal));
        const queued = workers.copyInto(join(dir, 'src'), fh.fd, capacity * MB16, MB16, ac.signal);
        ac.abort(new Error('stop'));
        await assert.rejects(queued, /stop/);
        // The ones already handed over finish.
        assert.deepEqual(await Promise.all(handed), Array(capacity).fill(MB16));
      } finally {
        await fh.close();
        await workers.close();
      }
      assert.equal((await readFile(target)).length, capacity * MB16);
    });
  });

  describe(`FileWorkers.hash with gunzip, ${where}`, () => {
    const text = Buffer.from('layer contents '.repeat(200_000));
    const noise = randomBytes(3 * 1024 * 1024);
    const gzNoise = gzipSync(noise);
    const cases: Array<[string, Buffer, number | null]> = [
      ['one member', gzipSync(text), text.length],
      // Several members, as eStargz and parallel compressors write them.
      ['several members', Buffer.concat([gzipSync(text), gzipSync(noise), gzipSync(Buffer.alloc(0))]), text.length + noise.length],
      ['cut short', gzNoise.subarray(0, gzNoise.length >> 1), null],
      ['not gzip', text.subarray(0, 5000), null],
    ];
    for (const publicGunzip of [false, true]) {
      test(`counts what a file decompresses to, in the same pass as the digest${publicGunzip ? ' (zlib public stream)' : ''}`, async (t) => {
        const dir = await tempDir(t);
        const workers = pool(2);
        try {
          for (const [name, bytes, unpacked] of cases) {
            await writeFile(join(dir, name), bytes);
            const r = await workers.hash(join(dir, name), 'sha256', bytes.length, { gunzip: true, publicGunzip });
            assert.deepEqual(r, { size: bytes.length, hex: sha256(bytes), unpacked }, name);
          }
        } finally {
          await workers.close();
        }
      });
    }
  });
}

describe('FileWorkers: threads start only when the work is worth their boot', () => {
  test('small jobs run on the calling thread; once the build announces more, every thread starts', async (t) => {
    const dir = await tempDir(t);
    const data = Buffer.alloc(100_000, 7);
    await writeFile(join(dir, 'small'), data);
    const workers = new FileWorkers(2);
    t.after(() => workers.close());
    workers.expect(data.length);
    assert.deepEqual(await workers.hash(join(dir, 'small'), 'sha256', data.length), { size: data.length, hex: sha256(data) });
    assert.equal(workers.threads, 0, 'no thread for a small build');
    workers.expect(64 * 1024 * 1024);
    assert.equal(workers.threads, 2, 'all threads, started as soon as it is known');
    assert.deepEqual(await workers.hash(join(dir, 'small'), 'sha256', data.length), { size: data.length, hex: sha256(data) });
  });

  test('a large copy in a build that started no thread runs on libuv\'s pool and starts none', async (t) => {
    const dir = await tempDir(t);
    const data = Buffer.alloc(40 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4096) data[i] = (i >> 12) & 0xff;
    await writeFile(join(dir, 'large'), data);
    const target = join(dir, 'target');
    await writeFile(target, Buffer.alloc(0));
    const workers = new FileWorkers(2);
    t.after(() => workers.close());
    const fh = await open(target, 'r+');
    try {
      assert.equal(await workers.copyInto(join(dir, 'large'), fh.fd, 512, data.length), data.length);
    } finally {
      await fh.close();
    }
    assert.equal(workers.threads, 0);
    const out = await readFile(target);
    assert.ok(out.subarray(512).equals(data));
  });

  test('a large job starts a thread even in a build that announced little', async (t) => {
    const dir = await tempDir(t);
    const data = Buffer.alloc(6 * 1024 * 1024, 9);
    await writeFile(join(dir, 'large'), data);
    const workers = new FileWorkers(2);
    t.after(() => workers.close());
    assert.deepEqual(await workers.hash(join(dir, 'large'), 'sha256', data.length), { size: data.length, hex: sha256(data) });
    assert.equal(workers.threads, 1);
  });
});
