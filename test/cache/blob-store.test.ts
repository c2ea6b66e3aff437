import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { BlobStore } from '../../src/cache/blob-store.js';
import { digestOf } from '../../src/oci/digest.js';
import { tempDir } from '../helpers/tmp.js';

const raw = Buffer.from('layer contents '.repeat(1000));
const gz = gzipSync(raw);
const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digestOf(gz), size: gz.length };

describe('BlobStore', () => {
  test('put verifies, measures gzip layers decompressed, and lookup finds the entry', async (t) => {
    const store = new BlobStore(await tempDir(t));
    const put = await store.put(layer, Readable.from([gz]), { measure: true });
    assert.equal(put.hit, false);
    assert.equal(put.uncompressedSize, raw.length);
    const hit = await store.lookup(layer, true);
    assert.deepEqual({ ...hit }, { file: store.path(layer.digest), uncompressedSize: raw.length, hit: true });
    assert.deepEqual(await readFile(store.path(layer.digest)), gz);
  });

  test('wrong bytes are refused and leave nothing behind', async (t) => {
    const dir = await tempDir(t);
    const store = new BlobStore(dir);
    await assert.rejects(store.put(layer, Readable.from([Buffer.from('nope')]), { measure: true }), /size mismatch/);
    assert.equal(await store.lookup(layer, false), null);
    assert.deepEqual((await readdir(join(dir, 'blobs/sha256'))).filter((n) => !n.endsWith('.meta.json')), []);
  });

  test('a corrupt entry is discarded on lookup', async (t) => {
    const store = new BlobStore(await tempDir(t));
    await store.put(layer, Readable.from([gz]), { measure: false });
    const bad = Buffer.from(gz);
    bad[10] = bad[10]! ^ 0xff;
    await writeFile(store.path(layer.digest), bad);
    assert.equal(await store.lookup(layer, false), null);
    await assert.rejects(readFile(store.path(layer.digest)), /ENOENT/);
  });

  test('a stored layer whose size was never remembered is measured on lookup, and remembered', async (t) => {
    const store = new BlobStore(await tempDir(t));
    await store.put(layer, Readable.from([gz]), { measure: false });
    assert.equal((await store.lookup(layer, true))?.uncompressedSize, raw.length);
    assert.deepEqual(JSON.parse(await readFile(`${store.path(layer.digest)}.meta.json`, 'utf8')), { uncompressedSize: raw.length });
    await store.close();
  });

  test('a gzip layer corrupted in the middle is refused, not left hanging by the measuring gunzip', async (t) => {
    const store = new BlobStore(await tempDir(t));
    const text = Buffer.from(Array.from({ length: 40_000 }, (_, i) => `line ${i} ${(i * 7919) % 1000}\n`).join(''));
    const good = gzipSync(text);
    const desc = { mediaType: layer.mediaType, digest: digestOf(good), size: good.length };
    const bad = Buffer.from(good);
    for (let i = 1000; i < 1100; i++) bad[i] = bad[i]! ^ 0x5a;
    const chunks = Array.from({ length: Math.ceil(bad.length / 65536) }, (_, i) => bad.subarray(i * 65536, (i + 1) * 65536));
    await assert.rejects(store.put(desc, Readable.from(chunks), { measure: true }), /digest mismatch/);
    assert.equal(await store.lookup(desc, false), null);
    await store.close();
  });

  test('a lookup cut short by close() (an interrupted build) keeps the entry', async (t) => {
    const store = new BlobStore(await tempDir(t));
    await store.put(layer, Readable.from([gz]), { measure: false });
    const pending = store.lookup(layer, false);
    const settled = pending.then(
      () => 'resolved',
      (e: Error) => e.message,
    );
    await store.close();
    assert.match(await settled, /closed/);
    assert.deepEqual(await readFile(store.path(layer.digest)), gz);
  });

  for (const [name, meta] of [
    ['null', 'null'],
    ['a string size', '{"uncompressedSize": "big"}'],
    ['a negative size', '{"uncompressedSize": -5}'],
    ['an array', '[1]'],
    ['binary bytes', '\u0000\u00ff'],
  ] as const) {
    test(`a damaged size record (${name}) is measured again, never reported`, async (t) => {
      const store = new BlobStore(await tempDir(t));
      await store.put(layer, Readable.from([gz]), { measure: false });
      await writeFile(`${store.path(layer.digest)}.meta.json`, meta);
      assert.equal((await store.lookup(layer, true))?.uncompressedSize, raw.length);
      assert.deepEqual(JSON.parse(await readFile(`${store.path(layer.digest)}.meta.json`, 'utf8')), { uncompressedSize: raw.length });
      await store.close();
    });
  }

  test('an entry that cannot be looked at or removed is a miss, not a crash', async (t) => {
    const dir = await tempDir(t);
    const inTheWay = new BlobStore(dir);
    await mkdir(join(inTheWay.path(layer.digest), 'x'), { recursive: true });
    assert.equal(await inTheWay.lookup(layer, false), null, 'a directory where the entry goes');
    await writeFile(join(dir, 'file'), 'x');
    assert.equal(await new BlobStore(join(dir, 'file')).lookup(layer, false), null, 'a store that is a file');
    await inTheWay.close();
  });
});
