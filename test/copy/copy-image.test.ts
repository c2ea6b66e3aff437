// The copy step: resolve a reference through indexes to one platform's
// manifest, then copy config and layers into an oci-archive, verifying every
// digest; any failure leaves nothing at the archive's path. Sources are real
// OCI layouts, the destination is the real OciArchiveDestination.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { BlobStore } from '../../src/cache/blob-store.js';
import { copyImage, resolveImage, type CopyOptions } from '../../src/copy/copy-image.js';
import { OciArchiveDestination } from '../../src/destination/oci-archive.js';
import { SourceError } from '../../src/errors.js';
import type { Platform } from '../../src/oci/platform.js';
import { Reference } from '../../src/oci/reference.js';
import { RootDirOutput } from '../../src/output/root-dir.js';
import { OciLayoutSource } from '../../src/source/oci-layout.js';
import { BlobFetcher, StoredSource } from '../../src/source/stored.js';
import { priorityLimiter } from '../../src/util/limit.js';
import { makeImage, type BuiltImage, type ImageSpec, type PlatformSpec } from '../helpers/test-images.js';
import { listFiles, tempDir } from '../helpers/tmp.js';

const exec = promisify(execFile);
const REFERENCE = 'reg.example.org/team/app:1.0';
const ARCHIVE = '/var/tmp/kiwi_containers/app_1.0';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
type T = { after(fn: () => unknown): void };

const amd64: Platform = { os: 'linux', architecture: 'amd64' };
const arm64: Platform = { os: 'linux', architecture: 'arm64' };
const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const blobFile = (img: BuiltImage, digest: string) => join(img.layout, 'blobs/sha256', digest.slice('sha256:'.length));

async function layout(t: T, spec: Omit<ImageSpec, 'seed'>, seed = 'copy'): Promise<{ image: BuiltImage; source: OciLayoutSource }> {
  const image = await makeImage(join(await tempDir(t), 'layout'), { seed, ...spec }, '1.0');
  return { image, source: new OciLayoutSource(image.layout, Reference.parse(REFERENCE), null) };
}

const options = (platform: Platform, extra: Partial<CopyOptions> = {}): CopyOptions => ({ reference: REFERENCE, platform, signal: AbortSignal.timeout(30_000), ...extra });

/** Adds a JSON document to the layout's blobs; returns its descriptor. */
async function addBlob(img: BuiltImage, doc: unknown, mediaType: string) {
  const bytes = Buffer.from(JSON.stringify(doc));
  await writeFile(blobFile(img, sha256(bytes)), bytes);
  return { mediaType, digest: sha256(bytes), size: bytes.length };
}

/** Wraps the layout's top index in `levels` more indexes (each entry for linux/amd64) and names the outermost in index.json. */
async function nest(img: BuiltImage, levels: number): Promise<string> {
  let inner = { mediaType: OCI_INDEX, digest: img.digest, size: (await readFile(blobFile(img, img.digest))).length };
  for (let i = 0; i < levels; i++) {
    inner = await addBlob(img, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...inner, platform: { os: 'linux', architecture: 'amd64' } }] }, OCI_INDEX);
  }
  await writeFile(join(img.layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...inner, annotations: { 'org.opencontainers.image.ref.name': '1.0' } }] }));
  return inner.digest;
}

const manifestFor = (img: BuiltImage, p: PlatformSpec) => img.manifests.find((m) => m.platform.architecture === p.architecture && m.platform.variant === p.variant)!;

describe('resolveImage', () => {
  const platforms: PlatformSpec[] = [{ architecture: 'amd64' }, { architecture: 'arm64' }, { architecture: 'arm', variant: 'v7' }];

  test('through an index to the manifest of the target platform', async (t) => {
    const { image, source } = await layout(t, { platforms });
    for (const p of platforms) {
      const target = { os: 'linux', architecture: p.architecture, ...(p.variant ? { variant: p.variant } : {}) };
      const r = await resolveImage(source, options(target));
      assert.equal(r.manifest.digest, manifestFor(image, p).digest, `${p.architecture}${p.variant ?? ''}`);
      assert.equal(r.indexDigest, image.digest);
      assert.equal(r.parsed.kind, 'manifest');
      assert.deepEqual(r.parsed.layers.map((l) => l.digest), manifestFor(image, p).layers.map((l) => l.digest));
    }
  });

  test('a platform the index lacks: PLATFORM naming the reference, the platform wanted and every one offered', async (t) => {
    const { source } = await layout(t, { platforms });
    await assert.rejects(resolveImage(source, options({ os: 'linux', architecture: 's390x' })), (err: unknown) => {
      assert.ok(err instanceof SourceError, String(err));
      assert.equal(err.reason, 'PLATFORM');
      assert.equal(err.reference, REFERENCE);
      for (const part of [REFERENCE, 'linux/s390x', 'linux/amd64', 'linux/arm64', 'linux/arm/v7']) assert.ok(err.message.includes(part), `${part} in: ${err.message}`);
      return true;
    });
  });

  test('a single manifest is taken as it is, with no index', async (t) => {
    const { image, source } = await layout(t, { platforms: [{ architecture: 'arm64' }] });
    const r = await resolveImage(source, options(amd64));
    assert.equal(r.manifest.digest, image.digest);
    assert.equal(r.indexDigest, null);
  });

  test('an index of indexes is followed; the outermost index is the one recorded', async (t) => {
    const { image, source } = await layout(t, { platforms });
    const outer = await nest(image, 2);
    const r = await resolveImage(source, options(amd64));
    assert.equal(r.manifest.digest, manifestFor(image, { architecture: 'amd64' }).digest);
    assert.equal(r.indexDigest, outer);
  });

  test('indexes nesting without end are refused at a fixed depth', async (t) => {
    const { image, source } = await layout(t, { platforms: [{ architecture: 'amd64' }], index: true });
    await nest(image, 12);
    let asked = 0;
    const follow = source.getManifestByDigest.bind(source);
    source.getManifestByDigest = (desc) => (asked++, follow(desc));
    await assert.rejects(resolveImage(source, options(amd64)), (err: unknown) => err instanceof SourceError && err.reason === 'PROTOCOL' && /nest/.test(err.message) && err.message.includes(REFERENCE));
    assert.ok(asked < 12, `followed ${asked} indexes before stopping`);
  });

  test('expectedDigest (a lock pin): the same digest resolves; another is DIGEST naming both', async (t) => {
    const { image, source } = await layout(t, { platforms });
    assert.equal((await resolveImage(source, options(amd64, { expectedDigest: image.digest }))).indexDigest, image.digest);
    const pinned = sha256('another image');
    await assert.rejects(resolveImage(source, options(amd64, { expectedDigest: pinned })), (err: unknown) => {
      assert.ok(err instanceof SourceError, String(err));
      assert.equal(err.reason, 'DIGEST');
      assert.ok(err.message.includes(pinned) && err.message.includes(image.digest) && err.message.includes(REFERENCE), err.message);
      return true;
    });
  });

  test('a platform manifest whose bytes do not match the digest the index gives: DIGEST', async (t) => {
    const { image, source } = await layout(t, { platforms });
    const m = manifestFor(image, { architecture: 'arm64' });
    const doc = JSON.parse(await readFile(blobFile(image, m.digest), 'utf8')) as Record<string, unknown>;
    await writeFile(blobFile(image, m.digest), JSON.stringify({ ...doc, annotations: { changed: 'yes' } }));
    await assert.rejects(resolveImage(source, options(arm64)), (err: unknown) => err instanceof SourceError && err.reason === 'DIGEST' && err.message.includes(m.digest));
  });
});

describe('copyImage into an oci-archive', () => {
  async function destination(t: T) {
    const root = await tempDir(t);
    const dest = await OciArchiveDestination.open(await RootDirOutput.open(root), ARCHIVE, { reference: REFERENCE, mtime: 0 });
    return { root, dest, file: join(root, ARCHIVE) };
  }

  test('copies the platform image: an archive skopeo reads back as that manifest', async (t) => {
    const { image, source } = await layout(t, { platforms: [{ architecture: 'amd64' }, { architecture: 'arm64' }], layers: [{ size: 100_000 }, { size: 5_000 }] });
    const { dest, file } = await destination(t);
    let bytes = 0;
    const result = await copyImage(source, dest, options(arm64, { onBytes: (n) => (bytes += n) }));
    const m = manifestFor(image, { architecture: 'arm64' });
    assert.equal(result.manifest.digest, m.digest);
    assert.equal(result.indexDigest, image.digest);
    assert.equal(result.manifestMediaType, OCI_MANIFEST);
    assert.deepEqual(result.platform, arm64, 'as the config states it');
    assert.deepEqual(result.warnings, []);
    assert.equal(bytes, (await readFile(blobFile(image, m.config))).length + m.layers.reduce((n, l) => n + l.size, 0), 'progress counts every byte once');
    const { stdout } = await exec('skopeo', ['inspect', '--raw', `oci-archive:${file}`]);
    assert.equal(sha256(stdout), m.digest);
    const { stdout: config } = await exec('skopeo', ['inspect', '--config', `oci-archive:${file}`]);
    assert.equal((JSON.parse(config) as { architecture: string }).architecture, 'arm64');
  });

  for (const [what, spoil] of [
    ['one byte changed', async (file: string) => {
      const b = await readFile(file);
      b[b.length >> 1] = b[b.length >> 1]! ^ 0xff;
      await writeFile(file, b);
    }],
    ['cut short', (file: string) => truncate(file, 1000)],
    ['with bytes added', async (file: string) => writeFile(file, Buffer.concat([await readFile(file), Buffer.from('trailing')]))],
  ] as const) {
    test(`a layer ${what}: SourceError DIGEST naming the layer, and nothing left in the root`, async (t) => {
      const { image, source } = await layout(t, { platforms: [{ architecture: 'amd64' }], layers: [{ size: 20_000 }, { size: 60_000 }] });
      const bad = image.manifests[0]!.layers[1]!;
      await spoil(blobFile(image, bad.digest));
      const { root, dest } = await destination(t);
      await assert.rejects(copyImage(source, dest, options(amd64)), (err: unknown) => {
        assert.ok(err instanceof SourceError, String(err));
        assert.equal(err.reason, 'DIGEST');
        assert.equal(err.reference, REFERENCE);
        assert.ok(err.message.includes(bad.digest) && err.message.includes(REFERENCE), err.message);
        return true;
      });
      assert.deepEqual(await listFiles(root), [], 'no archive, no temporary file');
    });
  }

  test('a config with wrong bytes: DIGEST, nothing left', async (t) => {
    const { image, source } = await layout(t, { platforms: [{ architecture: 'amd64' }] });
    const config = image.manifests[0]!.config;
    const doc = await readFile(blobFile(image, config), 'utf8');
    await writeFile(blobFile(image, config), doc.replace('amd64', 'AMD64'));
    const { root, dest } = await destination(t);
    await assert.rejects(copyImage(source, dest, options(amd64)), (err: unknown) => err instanceof SourceError && err.reason === 'DIGEST' && err.message.includes(config));
    assert.deepEqual(await listFiles(root), []);
  });

  test('a platform the index lacks aborts the destination too', async (t) => {
    const { source } = await layout(t, { platforms: [{ architecture: 'amd64' }], index: true });
    const { root, dest } = await destination(t);
    await assert.rejects(copyImage(source, dest, options(arm64)), (err: unknown) => err instanceof SourceError && err.reason === 'PLATFORM');
    assert.deepEqual(await listFiles(root), []);
  });

  test('a single-platform image for another architecture is copied, with a warning naming both platforms', async (t) => {
    const cases: Array<[what: string, spec: Omit<ImageSpec, 'seed'>, warned: boolean]> = [
      ['arm64 image, amd64 target', { platforms: [{ architecture: 'arm64' }] }, true],
      ['amd64 image, amd64 target', { platforms: [{ architecture: 'amd64' }] }, false],
      ['an index with amd64 only', { platforms: [{ architecture: 'amd64' }], index: true }, false],
    ];
    for (const [what, spec, warned] of cases) {
      const { source } = await layout(t, spec);
      const { dest, file } = await destination(t);
      const result = await copyImage(source, dest, options(amd64));
      assert.equal(result.warnings.length, warned ? 1 : 0, `${what}: ${result.warnings.join('; ')}`);
      if (warned) for (const part of [REFERENCE, 'linux/arm64', 'linux/amd64']) assert.ok(result.warnings[0]!.includes(part), `${part} in: ${result.warnings[0]}`);
      await exec('skopeo', ['inspect', '--raw', `oci-archive:${file}`]);
    }
  });

  test('from a verified store (files handed to the destination), the same archive as streamed from the source', async (t) => {
    const { image, source } = await layout(t, { platforms: [{ architecture: 'amd64' }], layers: [{ size: 300_000 }, { size: 1 }, { size: 9_000 }] });
    const streamed = await destination(t);
    const result = await copyImage(source, streamed.dest, options(amd64));

    const store = new BlobStore(join(await tempDir(t), 'store'));
    t.after(() => store.close());
    const fromStore = new StoredSource(source, result.manifest, new BlobFetcher(store, priorityLimiter(2), false), REFERENCE);
    const root = await tempDir(t);
    const dest = await OciArchiveDestination.open(await RootDirOutput.open(root), ARCHIVE, { reference: REFERENCE, mtime: 0, copier: store.workers });
    const resolved = await resolveImage(source, options(amd64));
    await copyImage(fromStore, dest, options(amd64, { resolved }));
    assert.ok((await readFile(join(root, ARCHIVE))).equals(await readFile(streamed.file)), 'byte-identical archives');
    assert.equal(sha256((await exec('skopeo', ['inspect', '--raw', `oci-archive:${join(root, ARCHIVE)}`])).stdout), image.digest);
  });

  test('an aborted signal stops the copy and leaves nothing', async (t) => {
    const { source } = await layout(t, { platforms: [{ architecture: 'amd64' }], layers: [{ size: 50_000 }] });
    const { root, dest } = await destination(t);
    const ac = new AbortController();
    ac.abort(new Error('interrupted'));
    await assert.rejects(copyImage(source, dest, { reference: REFERENCE, platform: amd64, signal: ac.signal }), /interrupted/);
    assert.deepEqual(await listFiles(root), []);
  });
});
