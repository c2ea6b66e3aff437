// DockerArchiveSource (docker-archive:FILE[:NAME]) on archives that skopeo and
// docker wrote: the synthesised manifest, the blobs it serves, choosing an
// image by RepoTags, and docker's legacy layout with a layer two images share.
// What the archives hold is read independently with tar(1) and docker inspect.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { SourceError } from '../../src/errors.js';
import { Reference } from '../../src/oci/reference.js';
import { DockerArchiveSource } from '../../src/source/docker-archive.js';
import { privateDocker, scratchContext, type PrivateDocker } from '../helpers/local-stores.js';
import { OCI_MANIFEST, readAll, sha256 } from '../helpers/source-fixtures.js';
import { makeImage, type BuiltImage } from '../helpers/test-images.js';
import { tempDir } from '../helpers/tmp.js';

const exec = promisify(execFile);

interface SavedImage {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

/** A file of the tar, as tar(1) extracts it. */
async function member(file: string, name: string): Promise<Buffer> {
  const { stdout } = await exec('tar', ['-xOf', file, name], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

const savedImages = async (file: string) => JSON.parse((await member(file, 'manifest.json')).toString('utf8')) as SavedImage[];

interface Manifest {
  schemaVersion: number;
  mediaType: string;
  config: { mediaType: string; digest: string; size: number };
  layers: Array<{ mediaType: string; digest: string; size: number }>;
}

async function manifestOf(source: DockerArchiveSource): Promise<{ bytes: Buffer; digest: string; mediaType: string; doc: Manifest }> {
  const m = await source.getManifest();
  return { ...m, doc: JSON.parse(m.bytes.toString('utf8')) as Manifest };
}

const any = Reference.parse('registry.example.org/imgdesc/any:1');

describe('DockerArchiveSource (archives written by skopeo and docker save)', () => {
  let docker: PrivateDocker;
  let work: string;
  /** An OCI layout with one amd64 image; skopeo wrote it as a docker-archive named busybox:1. */
  let layout: BuiltImage;
  let skopeoArchive: string;
  /** docker save of localhost/base:1 and localhost/derived:1 (FROM localhost/base:1): they share base's layer. */
  let shared: string;
  /** docker save of busybox:1 (the skopeo image, loaded) and localhost/base:1. */
  let named: string;
  const ids: Record<string, string> = {};
  const diffIds: Record<string, string[]> = {};
  const hooks: Array<() => unknown> = [];

  before(async () => {
    work = await tempDir({ after: (fn: () => unknown) => hooks.push(fn) });
    docker = await privateDocker();
    layout = await makeImage(join(work, 'layout'), { seed: 'docker-archive-unit', platforms: [{ architecture: 'amd64' }], layers: [{ size: 70_000 }, { size: 1_000 }] }, '1');
    skopeoArchive = join(work, 'skopeo.tar');
    await exec('skopeo', ['copy', '--quiet', `oci:${layout.layout}:1`, `docker-archive:${skopeoArchive}:docker.io/library/busybox:1`]);
    await docker.docker('load', '-q', '-i', skopeoArchive);
    const base = await scratchContext(join(work, 'base'), 'base layer\n');
    await docker.docker('build', '-q', '-t', 'localhost/base:1', '-f', join(base, 'Containerfile'), base);
    const derived = join(work, 'derived');
    await scratchContext(derived, 'derived layer\n');
    await writeFile(join(derived, 'Containerfile'), 'FROM localhost/base:1\nCOPY hello.txt /derived.txt\n');
    await docker.docker('build', '-q', '-t', 'localhost/derived:1', '-f', join(derived, 'Containerfile'), derived);
    for (const name of ['busybox:1', 'localhost/base:1', 'localhost/derived:1']) {
      ids[name] = (await docker.docker('image', 'inspect', '--format', '{{.Id}}', name)).trim();
      diffIds[name] = JSON.parse(await docker.docker('image', 'inspect', '--format', '{{json .RootFS.Layers}}', name)) as string[];
    }
    shared = join(work, 'shared.tar');
    await docker.docker('save', '-o', shared, 'localhost/base:1', 'localhost/derived:1');
    named = join(work, 'named.tar');
    await docker.docker('save', '-o', named, 'busybox:1', 'localhost/base:1');
  });
  after(async () => {
    await docker?.stop();
    for (const h of hooks) await h();
  });

  test('the synthesised manifest is OCI; its config digest is the sha256 of the config file, which is the image ID', async () => {
    const cases: Array<[file: string, reference: string, id: string]> = [
      [skopeoArchive, 'docker.io/library/busybox:1', layout.manifests[0]!.config],
      [shared, 'localhost/derived:1', ids['localhost/derived:1']!],
      [named, 'localhost/base:1', ids['localhost/base:1']!],
    ];
    for (const [file, reference, id] of cases) {
      const saved = (await savedImages(file)).find((i) => (i.RepoTags ?? []).some((t) => Reference.parseFamiliar(t).toString() === reference))!;
      assert.ok(saved, `${reference} is in ${file}`);
      const config = await member(file, saved.Config);
      const m = await manifestOf(new DockerArchiveSource(file, Reference.parse(reference), null));
      assert.equal(m.mediaType, OCI_MANIFEST, reference);
      assert.equal(m.doc.mediaType, OCI_MANIFEST, reference);
      assert.equal(m.doc.schemaVersion, 2);
      assert.equal(m.digest, sha256(m.bytes), 'the digest is that of the bytes served');
      assert.equal(m.doc.config.mediaType, 'application/vnd.oci.image.config.v1+json');
      assert.equal(m.doc.config.digest, sha256(config), `${reference}: config digest = sha256 of ${saved.Config}`);
      assert.equal(m.doc.config.size, config.length);
      assert.equal(m.doc.config.digest, id, `${reference}: config digest = image ID`);
      // Layers of docker save and skopeo's docker-archive are plain tars: their digests are the diff IDs.
      assert.deepEqual(m.doc.layers.map((l) => l.digest), JSON.parse(config.toString('utf8')).rootfs.diff_ids, reference);
      assert.ok(m.doc.layers.every((l) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar'), reference);
    }
  });

  test('config and layers stream back byte-identical to the files in the archive', async () => {
    for (const file of [skopeoArchive, named]) {
      for (const saved of await savedImages(file)) {
        const source = new DockerArchiveSource(file, any, saved.RepoTags![0]!);
        const m = await manifestOf(source);
        assert.deepEqual(await readAll(await source.getBlob(m.doc.config)), await member(file, saved.Config));
        assert.equal(m.doc.layers.length, saved.Layers.length);
        for (const [i, layer] of m.doc.layers.entries()) {
          const expected = await member(file, saved.Layers[i]!);
          const got = await readAll(await source.getBlob(layer));
          assert.equal(got.length, layer.size, `${file} ${saved.Layers[i]}: size`);
          assert.ok(got.equals(expected), `${file} ${saved.Layers[i]}: bytes`);
          assert.equal(sha256(got), layer.digest);
        }
        await source.close();
      }
    }
  });

  test('the manifest is deterministic: two reads, two source objects, two docker saves of the same image', async () => {
    const reference = Reference.parse('localhost/base:1');
    const one = new DockerArchiveSource(named, reference, null);
    const first = await one.getManifest();
    const again = await one.getManifest();
    assert.ok(first.bytes.equals(again.bytes));
    const two = await new DockerArchiveSource(named, reference, null).getManifest();
    assert.ok(first.bytes.equals(two.bytes), 'a second source object synthesises the same bytes');
    const resaved = join(work, 'base-again.tar');
    await docker.docker('save', '-o', resaved, 'localhost/base:1');
    const three = await new DockerArchiveSource(resaved, reference, null).getManifest();
    assert.equal(three.digest, first.digest, 'another docker save of the same image gives the same manifest');
    assert.equal(three.digest, sha256(three.bytes));
  });

  test('RepoTags are matched in docker\'s short spelling and in full', async () => {
    const tags = (await savedImages(named)).flatMap((i) => i.RepoTags ?? []);
    assert.ok(tags.includes('busybox:1'), `precondition: docker wrote the short name: ${tags.join(', ')}`);
    const busybox = ids['busybox:1']!;
    const base = ids['localhost/base:1']!;
    const pick = async (image: string, name: string | null) => (await manifestOf(new DockerArchiveSource(named, Reference.parse(image), name))).doc.config.digest;
    // By the planned reference (no NAME), out of two images.
    assert.equal(await pick('docker.io/library/busybox:1', null), busybox);
    assert.equal(await pick('localhost/base:1', null), base);
    // By NAME, in either spelling, whatever the planned reference.
    assert.equal(await pick('registry.example.org/imgdesc/x:1', 'busybox:1'), busybox);
    assert.equal(await pick('registry.example.org/imgdesc/x:1', 'docker.io/library/busybox:1'), busybox);
    assert.equal(await pick('registry.example.org/imgdesc/x:1', 'localhost/base:1'), base);
    // skopeo wrote docker.io/library/busybox:1 as well; it is found by its full name.
    assert.equal((await manifestOf(new DockerArchiveSource(skopeoArchive, any, 'docker.io/library/busybox:1'))).doc.config.digest, layout.manifests[0]!.config);
  });

  test('docker\'s legacy save with a layer two images share (a symlink in the tar) serves both images whole', async () => {
    const { stdout: listing } = await exec('tar', ['-tvf', shared]);
    assert.match(listing, /^l\S+ .*layer\.tar -> \.\.\/[0-9a-f]{64}\/layer\.tar$/m, 'precondition: docker save linked the shared layer');
    for (const name of ['localhost/base:1', 'localhost/derived:1']) {
      const source = new DockerArchiveSource(shared, Reference.parse(name), null);
      const m = await manifestOf(source);
      assert.equal(m.doc.config.digest, ids[name]);
      assert.deepEqual(m.doc.layers.map((l) => l.digest), diffIds[name], `${name}: one layer per diff ID, in order`);
      for (const layer of m.doc.layers) {
        const got = await readAll(await source.getBlob(layer));
        assert.equal(got.length, layer.size, `${name} ${layer.digest}: size`);
        assert.equal(sha256(got), layer.digest, `${name}: the linked layer's bytes`);
      }
    }
    assert.equal(diffIds['localhost/derived:1']![0], diffIds['localhost/base:1']![0], 'precondition: the two images share their first layer');
  });

  test('a NAME the archive lacks, or several images and none named: NOT_FOUND listing the names there are', async () => {
    for (const [image, name] of [
      [any, 'nope:1'],
      [any, null],
    ] as const) {
      await assert.rejects(
        new DockerArchiveSource(named, image, name).getManifest(),
        (err: unknown) => {
          assert.ok(err instanceof SourceError, String(err));
          assert.equal(err.reason, 'NOT_FOUND');
          assert.ok(err.message.includes(named), err.message);
          assert.ok(err.message.includes('busybox:1') && err.message.includes('localhost/base:1'), err.message);
          if (name) assert.ok(err.message.includes(name), err.message);
          return true;
        },
      );
    }
  });

  test('a tar that is not a docker-archive (no manifest.json) and a missing file are refused, naming the file', async () => {
    const oci = join(work, 'not-docker.tar');
    await exec('tar', ['-cf', oci, '-C', layout.layout, '.']);
    await assert.rejects(new DockerArchiveSource(oci, any, null).getManifest(), (err: unknown) => err instanceof SourceError && err.message.includes(oci) && /manifest\.json/.test(err.message));
    const missing = join(work, 'missing.tar');
    await assert.rejects(new DockerArchiveSource(missing, any, null).getManifest(), (err: unknown) => err instanceof SourceError && err.message.includes(missing));
  });
});
