// BlobFetcher (one download per digest per build, through the blob store) and
// StoredSource (an image whose blobs are served from that store).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { describe, test } from 'node:test';
import { BlobStore } from '../../src/cache/blob-store.js';
import { SourceError } from '../../src/errors.js';
import type { Descriptor } from '../../src/oci/manifest.js';
import { Reference } from '../../src/oci/reference.js';
import { OciLayoutSource } from '../../src/source/oci-layout.js';
import { BlobFetcher, StoredSource } from '../../src/source/stored.js';
import type { FetchedManifest, ImageSource } from '../../src/source/types.js';
import { priorityLimiter } from '../../src/util/limit.js';
import { makeImage, type BuiltImage } from '../helpers/test-images.js';
import { tempDir } from '../helpers/tmp.js';

const REFERENCE = 'reg.example.org/team/app:1.0';
const LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
type T = { after(fn: () => unknown): void };

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A real OCI layout source that counts what it is asked for, and can spoil
 * the next blobs it serves (one byte changed) as a bad connection would.
 */
class Watched implements ImageSource {
  readonly description: string;
  readonly blobRequests: string[] = [];
  manifestRequests = 0;
  spoilNext = 0;
  active = 0;
  maxActive = 0;
  constructor(private readonly inner: ImageSource) {
    this.description = inner.description;
  }
  getManifest(signal: AbortSignal): Promise<FetchedManifest> {
    this.manifestRequests++;
    return this.inner.getManifest(signal);
  }
  getManifestByDigest(desc: Descriptor, signal: AbortSignal): Promise<FetchedManifest> {
    this.manifestRequests++;
    return this.inner.getManifestByDigest(desc, signal);
  }
  async getBlob(desc: Descriptor, signal: AbortSignal): Promise<Readable> {
    this.blobRequests.push(desc.digest);
    this.maxActive = Math.max(this.maxActive, ++this.active);
    const stream = await this.inner.getBlob(desc, signal).catch((err: unknown) => {
      this.active--;
      throw err;
    });
    let first = this.spoilNext > 0 && this.spoilNext-- > 0;
    const out = stream.pipe(
      new Transform({
        transform(chunk: Buffer, _e, done) {
          if (first) {
            chunk = Buffer.from(chunk);
            chunk[0] = chunk[0]! ^ 0xff;
            first = false;
          }
          done(null, chunk);
        },
      }),
    );
    // Slow enough that callers asking at once really overlap.
    await new Promise((r) => setTimeout(r, 20));
    out.once('close', () => this.active--);
    return out;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

interface Setup {
  image: BuiltImage;
  source: Watched;
  store: BlobStore;
  fetcher: BlobFetcher;
  layers: Descriptor[];
  bytes: (d: Descriptor) => Promise<Buffer>;
}

async function setup(t: T, options: { limit?: number; layers?: number; sizes?: number[]; allKnown?: Promise<unknown> } = {}): Promise<Setup> {
  const dir = await tempDir(t);
  const sizes = options.sizes ?? Array.from({ length: options.layers ?? 3 }, (_, i) => 40_000 + i);
  const image = await makeImage(join(dir, 'layout'), { seed: 'stored', platforms: [{ architecture: 'amd64' }], layers: sizes.map((size) => ({ size })) }, '1.0');
  const source = new Watched(new OciLayoutSource(image.layout, Reference.parse(REFERENCE), null));
  const store = new BlobStore(join(dir, 'store'));
  t.after(() => store.close());
  const fetcher = new BlobFetcher(store, priorityLimiter(options.limit ?? 4), false, options.allKnown);
  const layers = image.manifests[0]!.layers.map((l) => ({ mediaType: LAYER, digest: l.digest, size: l.size }));
  const bytes = (d: Descriptor) => readFile(join(image.layout, 'blobs/sha256', d.digest.slice('sha256:'.length)));
  return { image, source, store, fetcher, layers, bytes };
}

const ctx = () => ({ reference: REFERENCE, signal: AbortSignal.timeout(20_000) });

describe('BlobFetcher', () => {
  test('several callers asking for one blob at once: one download, the same verified file for all', async (t) => {
    const { source, fetcher, store, layers, bytes } = await setup(t);
    const layer = layers[0]!;
    const got = await Promise.all(Array.from({ length: 5 }, () => fetcher.ensure(layer, source, ctx())));
    assert.deepEqual(source.blobRequests, [layer.digest], 'downloaded once');
    for (const g of got) assert.equal(g.file, got[0]!.file);
    assert.equal(got[0]!.file, store.path(layer.digest));
    assert.ok((await readFile(got[0]!.file)).equals(await bytes(layer)), 'the stored file holds the blob');
    assert.equal(got[0]!.hit, false);
    await fetcher.ensure(layer, source, ctx());
    assert.equal(source.blobRequests.length, 1, 'asked again later: still one download');
  });

  test('a blob a store already holds (an earlier build) is not downloaded', async (t) => {
    const { source, fetcher, store, layers } = await setup(t);
    await fetcher.ensure(layers[0]!, source, ctx());
    const nextBuild = new BlobFetcher(store, priorityLimiter(2), false);
    const found = await nextBuild.ensure(layers[0]!, source, ctx());
    assert.equal(found.hit, true);
    assert.equal(source.blobRequests.length, 1);
  });

  test('downloads run at most `limit` at a time', async (t) => {
    const { source, fetcher, layers } = await setup(t, { limit: 1, layers: 4 });
    await Promise.all(layers.map((l) => fetcher.ensure(l, source, ctx())));
    assert.equal(source.blobRequests.length, 4);
    assert.equal(source.maxActive, 1);
  });

  test('blobs of 1 MiB and more wait until every manifest is known; smaller ones start at once', async (t) => {
    let known!: () => void;
    const allKnown = new Promise<void>((r) => (known = r));
    const { source, fetcher, layers } = await setup(t, { sizes: [1_200_000, 30_000], allKnown });
    const [big, small] = layers as [Descriptor, Descriptor];
    const bigDone = fetcher.ensure(big, source, ctx());
    await fetcher.ensure(small, source, ctx());
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(source.blobRequests, [small.digest], 'the big layer is held back');
    known();
    await bigDone;
    assert.deepEqual(source.blobRequests, [small.digest, big.digest]);
  });

  test('a held-back blob fails with the stop, and never downloads, when the build stops before ranking', async (t) => {
    const { source, fetcher, layers } = await setup(t, { sizes: [1_200_000], allKnown: new Promise(() => {}) });
    const stop = new AbortController();
    const held = fetcher.ensure(layers[0]!, source, { reference: REFERENCE, signal: stop.signal });
    stop.abort(new Error('stopped'));
    await assert.rejects(held, /stopped/);
    assert.deepEqual(source.blobRequests, []);
  });

  test('a download with wrong bytes fails every waiting caller with DIGEST, stores nothing, and can be asked for again', async (t) => {
    const { source, fetcher, store, layers, bytes } = await setup(t);
    const layer = layers[1]!;
    source.spoilNext = 1;
    const waiting = await Promise.allSettled([fetcher.ensure(layer, source, ctx()), fetcher.ensure(layer, source, ctx())]);
    for (const w of waiting) {
      assert.equal(w.status, 'rejected');
      const err = (w as PromiseRejectedResult).reason as unknown;
      assert.ok(err instanceof SourceError, String(err));
      assert.equal(err.reason, 'DIGEST');
      assert.equal(err.reference, REFERENCE);
      for (const part of [REFERENCE, layer.digest, source.description]) assert.ok(err.message.includes(part), `${part} in: ${err.message}`);
    }
    assert.equal(source.blobRequests.length, 1);
    await assert.rejects(stat(store.path(layer.digest)), { code: 'ENOENT' });
    const again = await fetcher.ensure(layer, source, ctx());
    assert.equal(source.blobRequests.length, 2, 'the retry downloads again');
    assert.equal(sha256(await readFile(again.file)), layer.digest);
    assert.ok((await readFile(again.file)).equals(await bytes(layer)), 'the stored file holds the blob');
  });

  test("a source's own error passes through unchanged, and the blob can be asked for once it is there", async (t) => {
    const { image, source, fetcher, layers, bytes } = await setup(t);
    const layer = layers[2]!;
    const file = join(image.layout, 'blobs/sha256', layer.digest.slice('sha256:'.length));
    const content = await bytes(layer);
    await rm(file);
    await assert.rejects(fetcher.ensure(layer, source, ctx()), (err: unknown) => err instanceof SourceError && err.reason === 'NOT_FOUND' && err.message.includes(layer.digest));
    await writeFile(file, content);
    assert.equal(sha256(await readFile((await fetcher.ensure(layer, source, ctx())).file)), layer.digest);
  });
});

describe('StoredSource', () => {
  test('serves the resolved manifest without asking, and blobs from the store, downloading each once', async (t) => {
    const { image, source, fetcher, store, layers, bytes } = await setup(t);
    const manifestBytes = await readFile(join(image.layout, 'blobs/sha256', image.digest.slice('sha256:'.length)));
    const manifest = { bytes: manifestBytes, mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.digest };
    const stored = new StoredSource(source, manifest, fetcher, REFERENCE);
    assert.equal(stored.blobsVerified, true, 'the copy step may skip hashing again');
    assert.equal(stored.description, source.description);
    assert.deepEqual(await stored.getManifest(), manifest);
    assert.equal(source.manifestRequests, 0);

    const signal = AbortSignal.timeout(20_000);
    for (const layer of layers) {
      assert.ok((await readAll(await stored.getBlob(layer, signal))).equals(await bytes(layer)), `blob ${layer.digest} differs`);
      const file = await stored.blobFile(layer, signal);
      assert.equal(file, store.path(layer.digest), 'a file of the store');
      assert.ok((await readFile(file)).equals(await bytes(layer)), `file of ${layer.digest} differs`);
    }
    assert.deepEqual(source.blobRequests, layers.map((l) => l.digest), 'one download per blob');

    // Gone from the source now: still served, from the store.
    const first = await bytes(layers[0]!);
    await rm(join(image.layout, 'blobs'), { recursive: true });
    assert.ok((await readAll(await stored.getBlob(layers[0]!, signal))).equals(first), 'served from the store');
  });

  test('a blob that fails verification is a DIGEST error for the image, not bytes', async (t) => {
    const { image, source, fetcher, layers } = await setup(t);
    const stored = new StoredSource(source, { bytes: Buffer.from('{}'), mediaType: '', digest: image.digest }, fetcher, REFERENCE);
    source.spoilNext = 1;
    await assert.rejects(stored.getBlob(layers[0]!, AbortSignal.timeout(20_000)), (err: unknown) => err instanceof SourceError && err.reason === 'DIGEST');
  });
});
