// OciLayoutSource (oci:DIR[:NAME]) on layouts skopeo writes from the real test registry.
import assert from 'node:assert/strict';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SourceError } from '../../src/errors.js';
import { Reference } from '../../src/oci/reference.js';
import { ociLayoutRef, OciLayoutSource } from '../../src/source/oci-layout.js';
import type { TestRegistry } from '../helpers/registry.js';
import { skopeoSet, type SkopeoSet, type Pushed, OCI_INDEX, OCI_MANIFEST, blobDesc, readAll, sha256, signal } from '../helpers/source-fixtures.js';
import { tempDir } from '../helpers/tmp.js';


describe('OciLayoutSource (layouts written by skopeo)', () => {
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
  /** app:1.0 alone, named by its tag. */
  let byTag: string;
  /** app:1.0 alone, without a name. */
  let unnamed: string;
  /** app as "app", other as "other", multi (all platforms) named by its full reference. */
  let many: string;

  before(async () => {
    set = await skopeoSet('layout', [{ size: 200_000 }, { size: 3_000 }]);
    ({ registry, work, app, other, multi, resolver, ref, skopeoCopy, original } = set);
    byTag = join(work, 'by-tag');
    unnamed = join(work, 'unnamed');
    many = join(work, 'many');
    await skopeoCopy(ref('app', '1.0'), `oci:${byTag}:1.0`);
    await skopeoCopy(ref('app', '1.0'), `oci:${unnamed}`);
    await skopeoCopy(ref('app', '1.0'), `oci:${many}:app`);
    await skopeoCopy(ref('other', '2.0'), `oci:${many}:other`);
    await skopeoCopy(ref('multi', '3.0'), `oci:${many}:${ref('multi', '3.0')}`, true);
  });
  after(() => set?.stop());

  /** The source as the oci: transport opens it for a planned image. */
  const open = (dir: string, planned: string, name: string | null = null) => ociLayoutRef(dir, name).open({ image: Reference.parse(planned), registries: resolver });

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
    const m = await open(unnamed, `${registry.host}/elsewhere/called-otherwise:9`).getManifest(signal());
    assert.equal(m.digest, app.pushedDigest);
  });

  test('several images in one layout, selected by name', async () => {
    const cases: Array<[name: string, digest: () => string]> = [
      ['app', () => app.pushedDigest],
      ['other', () => other.pushedDigest],
    ];
    for (const [name, digest] of cases) {
      assert.equal((await open(many, ref('whatever', '1'), name).getManifest(signal())).digest, digest(), name);
    }
  });

  test('several images, no name: the one named by the planned reference; an index leads to its platforms', async () => {
    const source = open(many, ref('multi', '3.0'));
    const top = await source.getManifest(signal());
    assert.equal(top.digest, multi.pushedDigest);
    assert.equal(top.mediaType, OCI_INDEX);
    for (const m of multi.manifests) {
      const got = await source.getManifestByDigest({ mediaType: OCI_MANIFEST, digest: m.digest, size: m.size }, signal());
      assert.equal(got.digest, m.digest);
      assert.equal(sha256(got.bytes), m.digest);
    }
  });

  test('several images and none named as asked: NOT_FOUND listing the names the layout holds', async () => {
    const planned = ref('app', '9.9');
    for (const name of [null, 'absent']) {
      await assert.rejects(open(many, planned, name).getManifest(signal()), (err: unknown) => {
        assert.ok(err instanceof SourceError, String(err));
        assert.equal(err.reason, 'NOT_FOUND');
        for (const part of [many, name ?? planned, 'app', 'other', ref('multi', '3.0')]) assert.ok(err.message.includes(part), `${part} in: ${err.message}`);
        return true;
      });
    }
  });

  test('a missing blob: NOT_FOUND naming the digest and the layout', async (t) => {
    const copy = join(await tempDir(t), 'layout');
    await cp(byTag, copy, { recursive: true });
    const layer = app.manifests[0]!.layers[0]!;
    await rm(join(copy, 'blobs/sha256', layer.digest.slice('sha256:'.length)));
    const source = open(copy, ref('app', '1.0'));
    assert.equal((await source.getManifest(signal())).digest, app.pushedDigest, 'the manifest is still there');
    await assert.rejects(source.getBlob(blobDesc(layer.digest, layer.size), signal()), (err: unknown) => {
      assert.ok(err instanceof SourceError, String(err));
      assert.equal(err.reason, 'NOT_FOUND');
      assert.ok(err.message.includes(layer.digest) && err.message.includes(copy), err.message);
      return true;
    });
  });

  test('a missing manifest blob: NOT_FOUND naming the manifest', async (t) => {
    const copy = join(await tempDir(t), 'layout');
    await cp(byTag, copy, { recursive: true });
    await rm(join(copy, 'blobs/sha256', app.pushedDigest.slice('sha256:'.length)));
    await assert.rejects(
      open(copy, ref('app', '1.0')).getManifest(signal()),
      (err: unknown) => err instanceof SourceError && err.reason === 'NOT_FOUND' && err.message.includes(`manifest ${app.pushedDigest}`),
    );
  });

  test('a directory that is not an OCI layout is a clear error', async (t) => {
    const dir = await tempDir(t);
    await assert.rejects(open(dir, ref('app', '1.0')).getManifest(signal()), (err: unknown) => err instanceof SourceError && err.reason === 'NOT_FOUND' && err.message.includes('oci-layout'));
    await writeFile(join(dir, 'oci-layout'), '{"something":"else"}');
    await writeFile(join(dir, 'index.json'), '{"schemaVersion":2,"manifests":[]}');
    await assert.rejects(open(dir, ref('app', '1.0')).getManifest(signal()), (err: unknown) => err instanceof SourceError && err.reason === 'PROTOCOL' && err.message.includes('imageLayoutVersion'));
  });

  test('present(): true for a layout directory, false otherwise', async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, 'empty'));
    await writeFile(join(dir, 'file'), 'x');
    const cases: Array<[path: string, present: boolean]> = [
      [byTag, true],
      [many, true],
      [join(dir, 'empty'), false],
      [join(dir, 'file'), false],
      [join(dir, 'absent'), false],
    ];
    for (const [path, present] of cases) {
      assert.equal(await ociLayoutRef(path).present(), present, path);
      assert.equal(await ociLayoutRef(path, 'some-name').present(), present, `${path} with a name`);
    }
  });

  test('the source describes itself by its directory', () => {
    assert.equal(new OciLayoutSource(many, Reference.parse(ref('app', '1.0')), null).description, `OCI layout ${many}`);
    assert.equal(ociLayoutRef(many, 'app').origin, `oci-layout ${many}:app`);
  });
});
