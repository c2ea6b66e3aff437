// Deduplicated fetch and the lock against a real registry: blob GETs are
// counted in the registry's own access log.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { runCli } from '../helpers/cli.js';
import { description } from '../helpers/descriptions.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { pushNewImage } from '../helpers/test-images.js';
import { tempDir } from '../helpers/tmp.js';

const exec = promisify(execFile);
const ARCHIVES = 'var/tmp/kiwi_containers';

describe('fetching from a registry', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry('plain');
  });
  after(() => registry?.stop());

  async function descriptionFile(dir: string, names: string[]): Promise<string> {
    const file = join(dir, 'appliance.xml');
    const containers = names.map((n) => `    <container name="${n}" path="dedupe" tag="1.0"/>`).join('\n');
    await writeFile(file, description(`  <containers source="${registry.host}" backend="podman">\n${containers}\n  </containers>`));
    return file;
  }

  test('a layer shared by several images is downloaded once per build', async (t) => {
    const dir = await tempDir(t);
    const names = ['one', 'two', 'three'];
    const pushed = [];
    for (const n of names) {
      pushed.push(await pushNewImage(dir, registry, `dedupe/${n}`, '1.0', { seed: `dedupe-${n}`, platforms: [{ architecture: 'amd64' }], layers: [{ size: 300_000, shared: 'dedupe-base' }, { size: 20_000 }] }));
    }
    const shared = pushed[0]!.manifests[0]!.layers[0]!.digest;
    assert.ok(pushed.every((p) => p.manifests[0]!.layers[0]!.digest === shared), 'the images really share their base layer');
    const desc = await descriptionFile(dir, names);
    const before = (await registry.accessLog()).length;
    const r = await runCli(['build', desc, '--root', join(dir, 'root'), '--tls-verify=false', '--target-arch', 'x86_64', '--no-cache', '--json', '--jobs', '8']);
    assert.equal(r.code, 0, r.stderr);
    const gets = (await registry.accessLog()).slice(before).filter((e) => e.method === 'GET' && e.path.includes('/blobs/'));
    const byDigest = new Map<string, number>();
    for (const g of gets) {
      const digest = g.path.slice(g.path.lastIndexOf('/') + 1);
      byDigest.set(digest, (byDigest.get(digest) ?? 0) + 1);
    }
    assert.equal(byDigest.get(shared), 1, 'the shared layer was asked for once');
    // Every other blob (configs, own layers) once as well.
    assert.equal(byDigest.size, 1 + names.length * 2);
    assert.ok([...byDigest.values()].every((n) => n === 1));
    // And it is in every archive.
    for (const n of names) {
      const { stdout } = await exec('skopeo', ['inspect', `oci-archive:${join(dir, 'root', ARCHIVES, `${n}_1.0`)}`]);
      assert.equal(JSON.parse(stdout).Layers[0], shared);
    }
  });

  test('one download at a time: configs first, then a shared base before bigger layers used once', async (t) => {
    const dir = await tempDir(t);
    const MB = 1_000_000;
    // The base (1.5 MB in three images) carries 4.5 MB of archive writes; the
    // solo layer 3 MB, the apps' own layers 1.2 MB each. Fetching by size
    // alone would take the solo layer first.
    const apps = ['app1', 'app2', 'app3'];
    const pushed = new Map<string, Awaited<ReturnType<typeof pushNewImage>>>();
    for (const n of apps) {
      pushed.set(n, await pushNewImage(join(dir, n), registry, `order/${n}`, '1.0', { seed: `order-${n}`, platforms: [{ architecture: 'amd64' }], layers: [{ size: 1.5 * MB, shared: 'order-base' }, { size: 1.2 * MB }] }));
    }
    pushed.set('solo', await pushNewImage(join(dir, 'solo'), registry, 'order/solo', '1.0', { seed: 'order-solo', platforms: [{ architecture: 'amd64' }], layers: [{ size: 3 * MB }] }));
    const file = join(dir, 'appliance.xml');
    const containers = [...pushed.keys()].map((n) => `    <container name="${n}" path="order" tag="1.0"/>`).join('\n');
    await writeFile(file, description(`  <containers source="${registry.host}" backend="podman">\n${containers}\n  </containers>`));

    const before = (await registry.accessLog()).length;
    const r = await runCli(['build', file, '--root', join(dir, 'root'), '--tls-verify=false', '--target-arch', 'x86_64', '--no-cache', '--jobs', '1', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const order = (await registry.accessLog())
      .slice(before)
      .filter((e) => e.method === 'GET' && e.path.includes('/blobs/'))
      .map((e) => e.path.slice(e.path.lastIndexOf('/') + 1));

    const m = (n: string) => pushed.get(n)!.manifests[0]!;
    const base = m('app1').layers[0]!.digest;
    const solo = m('solo').layers[0]!.digest;
    const own = apps.map((n) => m(n).layers[1]!.digest);
    const configs = [...pushed.keys()].map((n) => m(n).config);
    assert.equal(order.length, 1 + 1 + own.length + configs.length, 'each blob once');
    // The first blob asked for starts at once, before the others are known;
    // from then on every free slot goes to the best blob waiting.
    const ranked = order.slice(1);
    const at = (d: string) => (order[0] === d ? -1 : ranked.indexOf(d));
    const lastConfig = Math.max(...configs.map(at));
    assert.ok(lastConfig < at(base), `configs before layers: ${order.join(' ')}`);
    assert.ok(at(base) < at(solo), 'the shared base before the bigger solo layer');
    for (const d of own) assert.ok(at(solo) < at(d), 'the solo layer before the small layers used once');
  });

  test('a moved tag does not change a locked build; without the lock the new image is taken', async (t) => {
    const dir = await tempDir(t);
    const v1 = await pushNewImage(join(dir, 'v1'), registry, 'dedupe/moving', '1.0', { seed: 'moving-v1', platforms: [{ architecture: 'amd64' }] });
    const desc = await descriptionFile(dir, ['moving']);
    const lock = await runCli(['lock', desc, '--tls-verify=false', '--target-arch', 'x86_64']);
    assert.equal(lock.code, 0, lock.stderr);
    const v2 = await pushNewImage(join(dir, 'v2'), registry, 'dedupe/moving', '1.0', { seed: 'moving-v2', platforms: [{ architecture: 'amd64' }] });
    assert.notEqual(v1.pushedDigest, v2.pushedDigest);

    const locked = await runCli(['build', desc, '--root', join(dir, 'locked'), '--tls-verify=false', '--target-arch', 'x86_64', '--locked', '--json']);
    assert.equal(locked.code, 0, locked.stderr);
    assert.equal(JSON.parse(locked.stdout).containers[0].digest, v1.pushedDigest);
    const { stdout } = await exec('skopeo', ['inspect', `oci-archive:${join(dir, 'locked', ARCHIVES, 'moving_1.0')}`]);
    assert.equal(JSON.parse(stdout).Labels['org.imgdesc.test.seed'], 'moving-v1');

    await exec('rm', [join(dir, 'appliance.lock.json')]);
    const unlocked = await runCli(['build', desc, '--root', join(dir, 'unlocked'), '--tls-verify=false', '--target-arch', 'x86_64', '--json']);
    assert.equal(unlocked.code, 0, unlocked.stderr);
    assert.equal(JSON.parse(unlocked.stdout).containers[0].digest, v2.pushedDigest);
  });
});
