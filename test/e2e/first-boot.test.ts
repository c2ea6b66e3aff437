// End to end: build into a copy of a real Debian root, boot it with systemd
// under nspawn, and look inside: the first boot loads every non-fetch_only
// archive into podman or docker and deletes it, and nothing else.
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { description } from '../helpers/descriptions.js';
import { boot, overlayRoot, testRootCache, type OverlayRoot } from '../helpers/nspawn.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { applianceContainers, assertApplianceLoaded, lines, pushApplianceImages } from '../helpers/appliance.js';
import { tempDir } from '../helpers/tmp.js';

const ARCHIVES = 'var/tmp/kiwi_containers';

const descriptionFor = (host: string) => description(applianceContainers(host));

// An author's own service, KIWI-style: it must see every image when it starts.
const USER_SERVICE = `[Unit]
Description=Records the images present when it starts
After=kiwi_containers.service

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'podman images --format "{{.Repository}}:{{.Tag}}" > /var/log/podman-at-start; docker images --format "{{.Repository}}:{{.Tag}}" > /var/log/docker-at-start'

[Install]
WantedBy=multi-user.target
`;

let base: string;
let registry: TestRegistry;
let images: string;
let ref: (nameTag: string) => string;
before(async () => {
  base = testRootCache();
  registry = await startRegistry('plain');
  images = await mkdtemp(join(tmpdir(), 'imgdesc-e2e-images-'));
  ref = await pushApplianceImages(images, registry);
});
after(async () => {
  await registry?.stop();
  if (images) await rm(images, { recursive: true, force: true });
});

async function preparedRoot(t: { after(fn: () => unknown): void }): Promise<OverlayRoot> {
  const root = await overlayRoot(base);
  t.after(() => root.dispose());
  const dir = await tempDir(t);
  const file = join(dir, 'appliance.xml');
  await writeFile(file, descriptionFor(registry.host));
  const r = await runCli(['build', file, '--root', root.dir, '--tls-verify=false', '--no-cache', '--target-arch', 'x86_64', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const sys = join(root.dir, 'etc/systemd/system');
  await writeFile(join(sys, 'record-images.service'), USER_SERVICE);
  await mkdir(join(sys, 'multi-user.target.wants'), { recursive: true });
  await symlink('/etc/systemd/system/record-images.service', join(sys, 'multi-user.target.wants/record-images.service'));
  return root;
}


describe('first boot under systemd', { timeout: 600_000 }, () => {
  test('podman and docker images are loaded under their full reference; archives removed; fetch_only kept', async (t) => {
    const root = await preparedRoot(t);
    const before = (await readdir(join(root.dir, ARCHIVES))).sort();
    assert.equal(before.length, 4);
    const vm = await boot(root.dir);
    t.after(() => vm.shutdown());
    await assertApplianceLoaded(vm, root.dir, ref);
    // The author's service ran after all loads.
    const seen = await vm.exec(['cat', '/var/log/podman-at-start', '/var/log/docker-at-start']);
    assert.deepEqual(lines(seen.stdout), [ref('hello:1.0'), ref('hello:1.0'), ref('toolbox:1.0')]);
    // systemd itself accepts every unit we wrote.
    const units = (await readdir(join(root.dir, 'etc/systemd/system'))).filter((n) => n.startsWith('imgdesc-load-') || n === 'kiwi_containers.service');
    const instances = await readdir(join(root.dir, 'etc/systemd/system/kiwi_containers.service.wants'));
    const verify = await vm.exec(['systemd-analyze', 'verify', ...units.filter((u) => !u.endsWith('@.service')), ...instances]);
    assert.equal(verify.code, 0, `${verify.stdout}${verify.stderr}`);
    assert.equal(verify.stderr.trim(), '');
  });

  test('a corrupt archive fails alone, stays for the next boot, and loads once replaced', async (t) => {
    const root = await preparedRoot(t);
    const toolbox = join(root.dir, ARCHIVES, 'toolbox_1.0');
    const good = join(await tempDir(t), 'toolbox_1.0');
    await cp(toolbox, good);
    await writeFile(toolbox, Buffer.alloc(4096, 0x42));
    {
      const vm = await boot(root.dir);
      const podman = await vm.exec(['podman', 'images', '--format', '{{.Repository}}:{{.Tag}}']);
      assert.deepEqual(lines(podman.stdout), [ref('hello:1.0')]);
      const failed = await vm.exec(['systemctl', 'is-failed', 'imgdesc-load-podman@var-tmp-kiwi_containers-toolbox_1.0.service']);
      assert.equal(failed.stdout.trim(), 'failed');
      assert.match((await vm.exec(['systemctl', 'is-active', 'kiwi_containers.service'])).stdout, /^active/);
      await vm.shutdown();
    }
    assert.deepEqual((await readdir(join(root.dir, ARCHIVES))).sort(), ['hello_1.0-config', 'toolbox_1.0']);
    await cp(good, toolbox);
    {
      const vm = await boot(root.dir);
      t.after(() => vm.shutdown());
      const podman = await vm.exec(['podman', 'images', '--format', '{{.Repository}}:{{.Tag}}']);
      assert.deepEqual(lines(podman.stdout), [ref('hello:1.0'), ref('toolbox:1.0')]);
      // Loads that already happened are skipped, not failed.
      const hello = await vm.exec(['systemctl', 'show', '-p', 'ConditionResult,Result', 'imgdesc-load-podman@var-tmp-kiwi_containers-hello_1.0.service']);
      assert.match(hello.stdout, /ConditionResult=no/);
      assert.equal((await vm.exec(['systemctl', 'is-failed', '--quiet', 'imgdesc-load-podman@var-tmp-kiwi_containers-hello_1.0.service'])).code, 1);
      assert.deepEqual(await readdir(join(root.dir, ARCHIVES)), ['hello_1.0-config']);
    }
  });
});

