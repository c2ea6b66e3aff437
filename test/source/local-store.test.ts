// Local stores (podman's containers-storage, the docker daemon): asking
// whether an image is there (storeHas), and reading one out through its
// SourceRef, against private stores of the test's own.
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SourceError } from '../../src/errors.js';
import type { Descriptor } from '../../src/oci/manifest.js';
import { Reference } from '../../src/oci/reference.js';
import { RegistryResolver } from '../../src/registry/resolver.js';
import { PODMAN_STORE } from '../../src/source/containers-storage.js';
import { DOCKER_STORE } from '../../src/source/docker-daemon.js';
import { storeHas, storeRef, type LocalStore } from '../../src/source/local-store.js';
import { privateDocker, privatePodman, scratchContext, withEnv, type PrivateDocker, type PrivatePodman } from '../helpers/local-stores.js';
import { readAll, sha256, signal } from '../helpers/source-fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const resolver = new RegistryResolver({ tlsVerify: false, credentials: { env: {}, home: '/nonexistent' } });
const image = Reference.parse('registry.example.org/imgdesc/app:1');

/** storeHas rejects with a SourceError whose message matches. */
async function refuses(p: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof SourceError, String(err));
    assert.match(err.message, message);
    return true;
  });
}

/** Reads the image out through the store's SourceRef; checks the temporary export is gone after close. */
async function readOut(t: { after(fn: () => unknown): void }, store: LocalStore, name: string, env: NodeJS.ProcessEnv): Promise<{ configDigest: string; layers: number }> {
  const tmp = await tempDir(t);
  return withEnv({ ...env, TMPDIR: tmp }, async () => {
    const source = storeRef(store, name).open({ image, registries: resolver });
    const m = await source.getManifest(signal());
    const doc = JSON.parse(m.bytes.toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
    assert.equal(sha256(await readAll(await source.getBlob(doc.config, signal()))), doc.config.digest);
    assert.notDeepEqual(await readdir(tmp), [], 'the export lives in $TMPDIR while the source is open');
    await source.close();
    assert.deepEqual(await readdir(tmp), [], 'closing the source removes the export');
    return { configDigest: doc.config.digest, layers: doc.layers.length };
  });
}

describe('podman (containers-storage)', () => {
  let podman: PrivatePodman;
  let env: NodeJS.ProcessEnv;
  let id: string;
  const hooks: Array<() => unknown> = [];

  before(async () => {
    const work = await tempDir({ after: (fn: () => unknown) => hooks.push(fn) });
    podman = await privatePodman();
    env = { CONTAINERS_STORAGE_CONF: podman.env.CONTAINERS_STORAGE_CONF };
    await podman.podman('build', '-q', '-t', 'localhost/there:1', await scratchContext(join(work, 'ctx'), 'there\n'));
    id = `sha256:${(await podman.podman('image', 'inspect', '--format', '{{.Id}}', 'localhost/there:1')).trim().replace(/^sha256:/, '')}`;
  });
  after(async () => {
    await podman?.stop();
    for (const h of hooks) await h();
  });

  test('storeHas: true for an image the store has, false for one it lacks', async () => {
    await withEnv(env, async () => {
      assert.equal(await storeHas(PODMAN_STORE, 'localhost/there:1'), true);
      assert.equal(await storeHas(PODMAN_STORE, 'localhost/there:2'), false);
      assert.equal(await storeHas(PODMAN_STORE, 'localhost/absent:1'), false);
    });
    // The same name in another (empty) store: not there. CONTAINERS_STORAGE_CONF is what podman reads.
    const other = await privatePodman();
    try {
      await withEnv({ CONTAINERS_STORAGE_CONF: other.env.CONTAINERS_STORAGE_CONF }, async () => assert.equal(await storeHas(PODMAN_STORE, 'localhost/there:1'), false));
    } finally {
      await other.stop();
    }
  });

  test('storeHas: an error, not "absent", when podman cannot look; its last stderr line is the reason', async (t) => {
    const dir = await tempDir(t);
    const conf = join(dir, 'storage.conf');
    await writeFile(conf, `[storage]\ndriver = "no-such-driver"\ngraphroot = "${join(dir, 'g')}"\nrunroot = "${join(dir, 'r')}"\n`);
    await withEnv({ CONTAINERS_STORAGE_CONF: conf }, () => refuses(storeHas(PODMAN_STORE, 'localhost/there:1'), /^containers-storage:localhost\/there:1: podman image exists localhost\/there:1 failed: .*no-such-driver/));
  });

  test('storeHas without podman on PATH: "podman is not installed (not found on PATH)"', async (t) => {
    const empty = await tempDir(t);
    await withEnv({ ...env, PATH: empty }, () => refuses(storeHas(PODMAN_STORE, 'localhost/there:1'), /podman is not installed \(not found on PATH\)/));
  });

  test('the exported image has the image ID as its config digest; the export is removed on close', async (t) => {
    const out = await readOut(t, PODMAN_STORE, 'localhost/there:1', env);
    assert.equal(out.configDigest, id);
    assert.equal(out.layers, 1);
  });

  test('an image podman cannot save: the error names it and leaves no export behind', async (t) => {
    const tmp = await tempDir(t);
    await withEnv({ ...env, TMPDIR: tmp }, async () => {
      const source = storeRef(PODMAN_STORE, 'localhost/absent:1').open({ image, registries: resolver });
      await refuses(source.getManifest(signal()), /localhost\/absent:1/);
      await source.close();
      assert.deepEqual(await readdir(tmp), []);
    });
  });
});

describe('docker (docker-daemon)', () => {
  let docker: PrivateDocker;
  let env: NodeJS.ProcessEnv;
  let id: string;
  const hooks: Array<() => unknown> = [];

  before(async () => {
    const work = await tempDir({ after: (fn: () => unknown) => hooks.push(fn) });
    docker = await privateDocker();
    env = { DOCKER_HOST: docker.host };
    const ctx = await scratchContext(join(work, 'ctx'), 'there\n');
    await docker.docker('build', '-q', '-t', 'localhost/there:1', '-f', join(ctx, 'Containerfile'), ctx);
    id = (await docker.docker('image', 'inspect', '--format', '{{.Id}}', 'localhost/there:1')).trim();
  });
  after(async () => {
    await docker?.stop();
    for (const h of hooks) await h();
  });

  test('storeHas: true for an image the daemon has (in docker\'s spelling too), false for one it lacks', async () => {
    await docker.docker('tag', 'localhost/there:1', 'mytool/there:1');
    await withEnv(env, async () => {
      assert.equal(await storeHas(DOCKER_STORE, 'localhost/there:1'), true);
      assert.equal(await storeHas(DOCKER_STORE, 'mytool/there:1'), true);
      assert.equal(await storeHas(DOCKER_STORE, 'docker.io/mytool/there:1'), true);
      assert.equal(await storeHas(DOCKER_STORE, 'localhost/there:2'), false);
      assert.equal(await storeHas(DOCKER_STORE, 'localhost/absent:1'), false);
    });
  });

  test('storeHas: an error, not "absent", when the daemon cannot be reached; docker\'s last stderr line is the reason', async (t) => {
    const host = `unix://${join(await tempDir(t), 'no-daemon.sock')}`;
    await withEnv({ DOCKER_HOST: host }, () => refuses(storeHas(DOCKER_STORE, 'localhost/there:1'), /^docker-daemon:localhost\/there:1: docker image inspect .* failed: Cannot connect to the Docker daemon/));
  });

  test('storeHas without docker on PATH: "docker is not installed (not found on PATH)"', async (t) => {
    const empty = await tempDir(t);
    await withEnv({ ...env, PATH: empty }, () => refuses(storeHas(DOCKER_STORE, 'localhost/there:1'), /docker is not installed \(not found on PATH\)/));
  });

  test('the exported image has the image ID as its config digest; the export is removed on close', async (t) => {
    const out = await readOut(t, DOCKER_STORE, 'localhost/there:1', env);
    assert.equal(out.configDigest, id);
    assert.equal(out.layers, 1);
  });
});
