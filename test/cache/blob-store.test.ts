import assert from 'node:assert/strict';
import { mkdir, open, readFile, rename, stat, truncate, utimes, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { BlobStore, RACY_MS } from '../../src/cache/blob-store.js';
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
    assert.equal(JSON.parse(await readFile(`${store.path(layer.digest)}.meta.json`, 'utf8')).uncompressedSize, raw.length);
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
    // Hashing every entry, so that the lookup is at work when close() comes.
    const store = new BlobStore(await tempDir(t), undefined, true);
    // On a thread, as in a large build (a small job would be done before close() comes).
    store.workers.expect(Number.MAX_SAFE_INTEGER);
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
      assert.equal(JSON.parse(await readFile(`${store.path(layer.digest)}.meta.json`, 'utf8')).uncompressedSize, raw.length);
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

describe('BlobStore: the warm path trusts what an earlier build verified, while the file is unchanged', () => {
  /** A store whose hashing is counted; `racyMs` 0 trusts a file however recently it changed. */
  async function counted(t: { after(fn: () => unknown): void }, options: { verifyAll?: boolean; racyMs?: number; dir?: string } = {}) {
    const dir = options.dir ?? (await tempDir(t));
    const store = new BlobStore(dir, undefined, options.verifyAll ?? false, options.racyMs ?? 0);
    t.after(() => store.close());
    let hashes = 0;
    const hash = store.workers.hash.bind(store.workers);
    store.workers.hash = (...args: Parameters<typeof hash>) => {
      hashes++;
      return hash(...args);
    };
    return { store, dir, hashes: () => hashes };
  }

  async function verifiedOnce(t: { after(fn: () => unknown): void }, options: { verifyAll?: boolean } = {}) {
    const c = await counted(t, options);
    await c.store.put(layer, Readable.from([gz]), { measure: true });
    return c;
  }

  test('a blob just downloaded and hashed is trusted by the next build', async (t) => {
    const c = await verifiedOnce(t);
    const before = c.hashes();
    assert.ok(await c.store.lookup(layer, true));
    assert.equal(c.hashes(), before);
  });

  test('an unchanged entry is not hashed again, and keeps its measured size', async (t) => {
    const c = await verifiedOnce(t);
    const before = c.hashes();
    const hit = await c.store.lookup(layer, true);
    assert.equal(c.hashes(), before, 'trusted');
    assert.deepEqual({ ...hit }, { file: c.store.path(layer.digest), uncompressedSize: raw.length, hit: true });
  });

  test('an entry rewritten in place (same size) is hashed again, and discarded', async (t) => {
    const c = await verifiedOnce(t);
    const fh = await open(c.store.path(layer.digest), 'r+');
    await fh.write(Buffer.from([gz[20]! ^ 0xff]), 0, 1, 20);
    await fh.close();
    assert.equal(await c.store.lookup(layer, true), null);
  });

  test('rewritten in place with its mtime put back: the ctime still tells', async (t) => {
    const c = await verifiedOnce(t);
    const file = c.store.path(layer.digest);
    const { atime, mtime } = await stat(file);
    const fh = await open(file, 'r+');
    await fh.write(Buffer.from([gz[30]! ^ 0xff]), 0, 1, 30);
    await fh.close();
    await utimes(file, atime, mtime);
    assert.equal(await c.store.lookup(layer, true), null);
  });

  test('a truncated entry is discarded', async (t) => {
    const c = await verifiedOnce(t);
    await truncate(c.store.path(layer.digest), 10);
    assert.equal(await c.store.lookup(layer, true), null);
  });

  test('a replaced entry (another file renamed over it) is hashed again: kept when right, discarded when wrong', async (t) => {
    const c = await verifiedOnce(t);
    const file = c.store.path(layer.digest);
    await writeFile(`${file}.new`, gz);
    await rename(`${file}.new`, file);
    const before = c.hashes();
    assert.ok(await c.store.lookup(layer, true));
    assert.equal(c.hashes(), before + 1, 'a new inode is hashed');
    const wrong = Buffer.from(gz);
    wrong[40] = wrong[40]! ^ 0xff;
    await writeFile(`${file}.new`, wrong);
    await rename(`${file}.new`, file);
    assert.equal(await c.store.lookup(layer, true), null);
  });

  test('--verify-cache hashes every entry', async (t) => {
    const c = await verifiedOnce(t);
    const again = await counted(t, { verifyAll: true, dir: c.dir });
    assert.ok(await again.store.lookup(layer, true));
    assert.equal(again.hashes(), 1);
  });

  test('a file whose data changed shortly before it was recorded is not trusted (racily clean)', async (t) => {
    const c = await counted(t, { racyMs: 60_000 });
    await c.store.put(layer, Readable.from([gz]), { measure: true });
    // The same bytes written again by someone else: a fresh mtime, as recent as the recording that follows.
    await writeFile(c.store.path(layer.digest), gz);
    const before = c.hashes();
    await c.store.lookup(layer, true);
    await c.store.lookup(layer, true);
    assert.equal(c.hashes(), before + 2, 'hashed each time while its last change is as recent as its recording');
  });

  test('with the default racy window, a blob just stored is trusted by the next build at once', async (t) => {
    const dir = await tempDir(t);
    const first = new BlobStore(dir);
    t.after(() => first.close());
    await first.put(layer, Readable.from([gz]), { measure: true });
    const next = await counted(t, { dir, racyMs: RACY_MS });
    assert.ok(await next.store.lookup(layer, true));
    assert.equal(next.hashes(), 0);
  });

});
