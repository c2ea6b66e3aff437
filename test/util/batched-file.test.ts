import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import { BatchedFileWriter } from '../../src/util/batched-file.js';
import { tempDir } from '../helpers/tmp.js';

const openFds = () => readdirSync('/proc/self/fd').length;

describe('BatchedFileWriter', () => {
  test('writes every chunk in order, whatever their sizes (small ones batched, large ones past a batch)', async (t) => {
    const dir = await tempDir(t);
    const sizes = [1, 16_384, 65_536, 3, 2_500_000, 0, 700_000, 65_536, 1_048_576, 17];
    const chunks = sizes.map((n) => randomBytes(n));
    const file = join(dir, 'blob');
    await pipeline(Readable.from(chunks), new BatchedFileWriter(file));
    assert.ok((await readFile(file)).equals(Buffer.concat(chunks)));
  });

  test('an empty stream leaves an empty file', async (t) => {
    const file = join(await tempDir(t), 'empty');
    await pipeline(Readable.from([]), new BatchedFileWriter(file));
    assert.equal((await readFile(file)).length, 0);
  });

  test('refuses a file that exists, and leaves it as it was', async (t) => {
    const file = join(await tempDir(t), 'there');
    await writeFile(file, 'keep');
    await assert.rejects(pipeline(Readable.from([Buffer.from('x')]), new BatchedFileWriter(file)), (e: NodeJS.ErrnoException) => e.code === 'EEXIST');
    assert.equal(await readFile(file, 'utf8'), 'keep');
  });

  test('a stream that fails midway closes the file', async (t) => {
    const file = join(await tempDir(t), 'broken');
    const before = openFds();
    const source = new Readable({
      read() {
        this.push(randomBytes(2_000_000));
        this.destroy(new Error('connection reset'));
      },
    });
    await assert.rejects(pipeline(source, new BatchedFileWriter(file)), /connection reset/);
    assert.equal(openFds(), before);
  });
});
