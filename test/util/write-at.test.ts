// writeAllAt: every byte of several buffers at a position of an open file.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { writeAllAt } from '../../src/util/write-at.js';
import { tempDir } from '../helpers/tmp.js';

describe('writeAllAt', () => {
  test('the buffers land one after another at the position; the bytes around them stay; empty buffers are skipped', async (t) => {
    const file = join(await tempDir(t), 'f');
    const before = randomBytes(3 << 20);
    writeFileSync(file, before);
    const buffers = [randomBytes(1), Buffer.alloc(0), randomBytes(1 << 20), randomBytes(70_000), Buffer.alloc(0)];
    const fd = openSync(file, 'r+');
    try {
      await writeAllAt(fd, buffers, 12_345);
    } finally {
      closeSync(fd);
    }
    const joined = Buffer.concat(buffers);
    const expected = Buffer.from(before);
    joined.copy(expected, 12_345);
    assert.ok(readFileSync(file).equals(expected));
  });

  test('nothing to write: no write at all, even on a descriptor that takes none', async () => {
    await writeAllAt(-1, [Buffer.alloc(0)], 0);
  });

  test('a write the file refuses rejects with its error', async (t) => {
    const file = join(await tempDir(t), 'read-only');
    writeFileSync(file, 'x');
    const fd = openSync(file, 'r');
    try {
      await assert.rejects(writeAllAt(fd, [Buffer.from('y')], 0), (e: NodeJS.ErrnoException) => e.code === 'EBADF');
    } finally {
      closeSync(fd);
    }
  });
});
