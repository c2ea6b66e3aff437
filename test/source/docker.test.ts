// RegistrySource: an image in a registry (docker://), against the real test registry.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SourceError } from '../../src/errors.js';
import { Reference } from '../../src/oci/reference.js';
import { RegistryClient } from '../../src/registry/client.js';
import { RepositoryReader } from '../../src/registry/repository.js';
import { RegistryResolver, type Endpoint } from '../../src/registry/resolver.js';
import { dockerRef, RegistrySource } from '../../src/source/docker.js';
import { freePort, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { pushNewImage, type BuiltImage } from '../helpers/test-images.js';
import { type Pushed, OCI_INDEX, OCI_MANIFEST, readAll, sha256, signal } from '../helpers/source-fixtures.js';
import { tempDir } from '../helpers/tmp.js';



describe('RegistrySource (real registry)', () => {
  let registry: TestRegistry;
  let resolver: RegistryResolver;
  let work: string;
  let single: Pushed;
  let multi: Pushed;
  const cleanups: Array<() => unknown> = [];

  before(async () => {
    registry = await startRegistry('plain');
    work = await tempDir({ after: (fn: () => unknown) => cleanups.push(fn) });
    single = await pushNewImage(work, registry, 'src/app', '1.0', { seed: 'docker-single', platforms: [{ architecture: 'amd64' }], layers: [{ size: 300_000 }, { size: 2_000 }] });
    multi = await pushNewImage(work, registry, 'src/multi', '2.0', { seed: 'docker-multi', platforms: [{ architecture: 'amd64' }, { architecture: 'arm64' }] });
    resolver = new RegistryResolver({ tlsVerify: false, credentials: { env: {}, home: work }, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 } });
  });
  after(async () => {
    await resolver?.close();
    await registry?.stop();
    for (const c of cleanups) await c();
  });

  const open = (text: string, display?: string) => {
    const ref = Reference.parse(text);
    return new RegistrySource(ref, resolver.endpoints(ref), display ? Reference.parse(display) : ref);
  };
  /** The blob as the test wrote it before skopeo pushed it. */
  const original = (img: BuiltImage, digest: string) => readFile(join(img.layout, 'blobs/sha256', digest.slice('sha256:'.length)));

  test('manifest by tag: the bytes the registry serves for the tag, with their digest and media type', async () => {
    const m = await open(`${registry.host}/src/app:1.0`).getManifest(signal());
    assert.equal(m.digest, single.pushedDigest);
    assert.equal(sha256(m.bytes), single.pushedDigest);
    assert.equal(m.mediaType, OCI_MANIFEST);
    assert.deepEqual(m.bytes, await original(single, single.digest), 'the manifest as written, byte for byte');
  });

  test('manifest by digest: the reference pinned to a digest reads that manifest', async () => {
    const m = await open(`${registry.host}/src/app@${single.pushedDigest}`).getManifest(signal());
    assert.equal(m.digest, single.pushedDigest);
  });

  test('an index by tag, then each platform manifest by its descriptor', async () => {
    const source = open(`${registry.host}/src/multi:2.0`);
    const top = await source.getManifest(signal());
    assert.equal(top.digest, multi.pushedDigest);
    assert.equal(top.mediaType, OCI_INDEX);
    for (const m of multi.manifests) {
      const got = await source.getManifestByDigest({ mediaType: OCI_MANIFEST, digest: m.digest, size: m.size }, signal());
      assert.equal(got.digest, m.digest);
      assert.equal(got.bytes.length, m.size);
    }
  });

  test('blob stream: config and layers arrive as the bytes pushed', async () => {
    const source = open(`${registry.host}/src/app:1.0`);
    const m = single.manifests[0]!;
    for (const digest of [m.config, ...m.layers.map((l) => l.digest)]) {
      const expected = await original(single, digest);
      const got = await readAll(await source.getBlob({ mediaType: 'application/octet-stream', digest, size: expected.length }, signal()));
      assert.equal(sha256(got), digest);
      assert.ok(got.equals(expected), `blob ${digest} differs`);
    }
  });

  test('a tag the registry does not have: NOT_FOUND naming the reference and the tag', async () => {
    const ref = `${registry.host}/src/app:nope`;
    await assert.rejects(open(ref).getManifest(signal()), (err: unknown) => {
      assert.ok(err instanceof SourceError, String(err));
      assert.equal(err.reason, 'NOT_FOUND');
      assert.equal(err.code, 'IMGDESC_SOURCE_NOT_FOUND');
      assert.equal(err.reference, ref);
      assert.ok(err.message.includes(ref), err.message);
      assert.match(err.message, /"nope"/);
      return true;
    });
  });

  test('a repository the registry does not have: NOT_FOUND too', async () => {
    await assert.rejects(open(`${registry.host}/src/never-pushed:1.0`).getManifest(signal()), (err: unknown) => err instanceof SourceError && err.reason === 'NOT_FOUND');
  });

  test('asked for a pinned digest, messages name the planned reference', async () => {
    const missing = `sha256:${'0'.repeat(64)}`;
    const planned = `${registry.host}/src/app:1.0`;
    await assert.rejects(open(`${planned}@${missing}`, planned).getManifest(signal()), (err: unknown) => {
      assert.ok(err instanceof SourceError, String(err));
      assert.equal(err.reason, 'NOT_FOUND');
      assert.equal(err.reference, planned);
      assert.ok(err.message.startsWith(`${planned}:`), err.message);
      assert.ok(err.message.includes(missing), 'and the digest asked for');
      return true;
    });
  });

  test('a blob the repository does not have: NOT_FOUND naming the blob, before any stream is returned', async () => {
    const absent = sha256(Buffer.from('never pushed'));
    await assert.rejects(open(`${registry.host}/src/app:1.0`).getBlob({ mediaType: 'application/octet-stream', digest: absent, size: 12 }, signal()), (err: unknown) => {
      assert.ok(err instanceof SourceError, String(err));
      assert.equal(err.reason, 'NOT_FOUND');
      assert.ok(err.message.includes(absent), err.message);
      assert.ok(err.message.includes(`${registry.host}/src/app:1.0`), err.message);
      return true;
    });
  });

  test('a registry nobody listens on: NETWORK naming the reference and the host', async () => {
    const host = `127.0.0.1:${await freePort()}`;
    const ref = `${host}/src/app:1.0`;
    await assert.rejects(open(ref).getManifest(signal()), (err: unknown) => {
      assert.ok(err instanceof SourceError, String(err));
      assert.equal(err.reason, 'NETWORK');
      assert.ok(err.message.includes(ref), err.message);
      assert.match(err.message, /connection refused/);
      return true;
    });
  });

  describe('several endpoints (mirrors first, the registry last)', () => {
    const clients: RegistryClient[] = [];
    after(async () => {
      for (const c of clients) await c.close();
    });
    const endpoint = (host: string, repository: string, mirror: boolean): Endpoint => {
      const client = new RegistryClient(host, { tlsVerify: false, credentials: { env: {}, home: work }, retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
      clients.push(client);
      return { reader: new RepositoryReader(client, repository), label: `${mirror ? 'mirror' : 'registry'} ${host}`, mirror, ref: Reference.parse(`${host}/${repository}`) };
    };
    const appRef = () => Reference.parse(`${registry.host}/src/app:1.0`);

    test('a mirror that fails gives way to the next endpoint, and the failure is noted', async () => {
      const dead = `127.0.0.1:${await freePort()}`;
      const source = new RegistrySource(appRef(), [endpoint(dead, 'src/app', true), endpoint(registry.host, 'mirror/lacks-it', true), endpoint(registry.host, 'src/app', false)]);
      assert.equal((await source.getManifest(signal())).digest, single.pushedDigest);
      assert.equal(source.notes.length, 2, source.notes.join('\n'));
      assert.ok(source.notes[0]!.includes(`mirror ${dead}`), source.notes[0]);
      const layer = single.manifests[0]!.layers[0]!;
      assert.equal(sha256(await readAll(await source.getBlob({ mediaType: 'application/octet-stream', ...layer }, signal()))), layer.digest);
    });

    test('blobs come from the endpoint that served the manifest', async () => {
      const dead = `127.0.0.1:${await freePort()}`;
      const source = new RegistrySource(appRef(), [endpoint(registry.host, 'src/app', true), endpoint(dead, 'src/app', false)]);
      assert.equal((await source.getManifest(signal())).digest, single.pushedDigest);
      const layer = single.manifests[0]!.layers[0]!;
      assert.equal(sha256(await readAll(await source.getBlob({ mediaType: 'application/octet-stream', ...layer }, signal()))), layer.digest);
      assert.deepEqual(source.notes, []);
    });

    test('the registry itself failing is the answer: no endpoint after it is tried', async () => {
      const source = new RegistrySource(appRef(), [endpoint(registry.host, 'src/never-pushed', false), endpoint(registry.host, 'src/app', true)]);
      await assert.rejects(source.getManifest(signal()), (err: unknown) => err instanceof SourceError && err.reason === 'NOT_FOUND');
    });
  });

  test('dockerRef: always present; opens a source for the planned image through the run\'s resolver', async () => {
    const pinned = Reference.parse(`${registry.host}/src/app:1.0`).withDigest(single.pushedDigest);
    const ref = dockerRef(pinned);
    assert.equal(ref.transport, 'docker');
    assert.equal(ref.origin, `registry ${registry.host}`);
    assert.equal(await ref.present(), true);
    const source = ref.open({ image: Reference.parse(`${registry.host}/src/app:1.0`), registries: resolver });
    assert.equal(source.description, `registry ${registry.host}`);
    assert.equal((await source.getManifest(signal())).digest, single.pushedDigest, 'the pinned digest is what is asked for');
    await source.close();
    assert.equal((await open(`${registry.host}/src/app:1.0`).getManifest(signal())).digest, single.pushedDigest, "closing a source leaves the resolver's client usable");
  });
});
