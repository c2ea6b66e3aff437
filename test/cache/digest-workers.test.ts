import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DigestWorkers } from '../../src/cache/digest-workers.js';
import { tempDir } from '../helpers/tmp.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('DigestWorkers', () => {
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
    const workers = new DigestWorkers(2);
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
    const workers = new DigestWorkers(1);
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
    const workers = new DigestWorkers(1);
    const pending = [1, 2, 3].map(() => workers.hash(join(dir, 'f'), 'sha256', 8 * 1024 * 1024));
    const settled = Promise.allSettled(pending);
    await workers.close();
    for (const r of await settled) assert.match(r.status === 'rejected' ? String(r.reason) : 'fulfilled', /closed/);
    await assert.rejects(workers.hash(join(dir, 'f'), 'sha256', 1), /closed/);
  });
});
