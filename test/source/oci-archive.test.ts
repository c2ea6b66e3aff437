// OciArchiveSource (oci-archive:FILE[:NAME]) on archives skopeo writes from the real test registry.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { SourceError } from '../../src/errors.js';
import { Reference } from '../../src/oci/reference.js';
import { ociArchiveRef, OciArchiveSource } from '../../src/source/oci-archive.js';
import type { TestRegistry } from '../helpers/registry.js';
import { skopeoSet, type SkopeoSet, type Pushed, OCI_INDEX, OCI_MANIFEST, blobDesc, readAll, sha256, signal } from '../helpers/source-fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const exec = promisify(execFile);

describe('OciArchiveSource (archives written by skopeo)', () => {
  let set: SkopeoSet;
  let registry: TestRegistry;
  let work: string;
  let app: Pushed;
  let other: Pushed;
  let multi: Pushed;
  let resolver: SkopeoSet['resolver'];
  let ref: SkopeoSet['ref'];
  let skopeoCopy: SkopeoSet['skopeoCopy'];
  let original: SkopeoSet['original'];
  /** app:1.0 named by its tag. */
  let byTag: string;
  /** app:1.0 without a name. */
  let unnamed: string;
  /** multi:3.0 with all its platforms, named "multi". */
  let multiArchive: string;
  /** A tar of a skopeo layout holding app as "app" and other as "other" (skopeo writes one image per archive). */
  let many: string;

  before(async () => {
    set = await skopeoSet('archive', [{ size: 200_000 }, { size: 700 }]);
    ({ registry, work, app, other, multi, resolver, ref, skopeoCopy, original } = set);
    byTag = join(work, 'by-tag.ociarchive');
    unnamed = join(work, 'unnamed.ociarchive');
    multiArchive = join(work, 'multi.ociarchive');
    await skopeoCopy(ref('app', '1.0'), `oci-archive:${byTag}:1.0`);
    await skopeoCopy(ref('app', '1.0'), `oci-archive:${unnamed}`);
    await skopeoCopy(ref('multi', '3.0'), `oci-archive:${multiArchive}:multi`, true);
    const layout = join(work, 'many-layout');
    await skopeoCopy(ref('app', '1.0'), `oci:${layout}:app`);
    await skopeoCopy(ref('other', '2.0'), `oci:${layout}:other`);
    many = join(work, 'many.ociarchive');
    // As people tar a layout by hand: names start with "./".
    await exec('tar', ['-cf', many, '-C', layout, '.']);
  });
  after(() => set?.stop());

  const open = (file: string, planned: string, name: string | null = null) => ociArchiveRef(file, name).open({ image: Reference.parse(planned), registries: resolver });

  test('one image named by its tag: the manifest the registry serves, and blobs as pushed', async () => {
    const source = open(byTag, ref('app', '1.0'));
    const m = await source.getManifest(signal());
    assert.equal(m.digest, app.pushedDigest);
    assert.equal(sha256(m.bytes), app.pushedDigest);
    assert.equal(m.mediaType, OCI_MANIFEST);
    const built = app.manifests[0]!;
    for (const digest of [built.config, ...built.layers.map((l) => l.digest)]) {
      const expected = await original(app, digest);
      const got = await readAll(await source.getBlob(blobDesc(digest, expected.length), signal()));
      assert.ok(got.equals(expected), `blob ${digest}`);
    }
  });

  test('one unnamed image is taken whatever the planned reference', async () => {
    assert.equal((await open(unnamed, `${registry.host}/elsewhere/x:9`).getManifest(signal())).digest, app.pushedDigest);
  });

  test('an index with all platforms: the index, then each platform manifest', async () => {
    const source = open(multiArchive, ref('multi', '3.0'), 'multi');
    const top = await source.getManifest(signal());
    assert.equal(top.digest, multi.pushedDigest);
    assert.equal(top.mediaType, OCI_INDEX);
    for (const m of multi.manifests) assert.equal((await source.getManifestByDigest({ mediaType: OCI_MANIFEST, digest: m.digest, size: m.size }, signal())).digest, m.digest);
  });

  test('several images in one archive, selected by name', async () => {
    const cases: Array<[name: string, digest: () => string]> = [
      ['app', () => app.pushedDigest],
      ['other', () => other.pushedDigest],
    ];
    for (const [name, digest] of cases) assert.equal((await open(many, ref('whatever', '1'), name).getManifest(signal())).digest, digest(), name);
  });

  test('several images and no name that matches: NOT_FOUND listing the names the archive holds', async () => {
    const planned = ref('third', '1.0');
    await assert.rejects(open(many, planned).getManifest(signal()), (err: unknown) => {
      assert.ok(err instanceof SourceError, String(err));
      assert.equal(err.reason, 'NOT_FOUND');
      assert.equal(err.reference, planned);
      for (const part of [many, planned, 'app', 'other']) assert.ok(err.message.includes(part), `${part} in: ${err.message}`);
      return true;
    });
  });

  test('a missing blob: NOT_FOUND naming the digest and the archive', async (t) => {
    const copy = join(await tempDir(t), 'app.ociarchive');
    await copyFile(byTag, copy);
    const layer = app.manifests[0]!.layers[0]!;
    await exec('tar', ['--delete', '-f', copy, `blobs/sha256/${layer.digest.slice('sha256:'.length)}`]);
    const source = open(copy, ref('app', '1.0'));
    assert.equal((await source.getManifest(signal())).digest, app.pushedDigest, 'the manifest is still there');
    await assert.rejects(source.getBlob(blobDesc(layer.digest, layer.size), signal()), (err: unknown) => {
      assert.ok(err instanceof SourceError, String(err));
      assert.equal(err.reason, 'NOT_FOUND');
      assert.ok(err.message.includes(layer.digest) && err.message.includes(copy), err.message);
      return true;
    });
  });

  test('a tar that is not an oci-archive, and a file that is not a tar: clear errors naming the file', async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, 'content'));
    await writeFile(join(dir, 'content/index.json'), '{}');
    const plainTar = join(dir, 'plain.tar');
    await exec('tar', ['-cf', plainTar, '-C', join(dir, 'content'), 'index.json']);
    const noise = join(dir, 'noise.ociarchive');
    await writeFile(noise, randomBytes(4096));
    await assert.rejects(open(plainTar, ref('app', '1.0')).getManifest(signal()), (err: unknown) => err instanceof SourceError && err.reason === 'NOT_FOUND' && err.message.includes(plainTar) && /oci-layout/.test(err.message));
    await assert.rejects(open(noise, ref('app', '1.0')).getManifest(signal()), (err: unknown) => err instanceof SourceError && err.reason === 'PROTOCOL' && err.message.includes(noise));
  });

  test('present(): true for a file, false for a directory or nothing', async (t) => {
    const dir = await tempDir(t);
    const cases: Array<[path: string, present: boolean]> = [
      [byTag, true],
      [dir, false],
      [join(dir, 'absent.ociarchive'), false],
    ];
    for (const [path, present] of cases) {
      assert.equal(await ociArchiveRef(path).present(), present, path);
      assert.equal(await ociArchiveRef(path, 'app').present(), present, `${path} with a name`);
    }
  });

  test('the source describes itself by its file', () => {
    assert.equal(new OciArchiveSource(many, Reference.parse(ref('app', '1.0')), null).description, `oci-archive ${many}`);
    assert.equal(ociArchiveRef(many, 'app').origin, `oci-archive ${many}:app`);
  });
});
