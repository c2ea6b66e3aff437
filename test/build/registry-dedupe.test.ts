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
