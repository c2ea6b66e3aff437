// End to end, the Containerfile way: an image made by `podman build` from
// `FROM <the cached Debian test root, imported>` + `ADD overlay.tar /`, its
// file system exported (podman create + export), booted with systemd under
// nspawn: the first boot loads the overlay's archives into podman and docker
// under their full references, as it does for a root imgdesc wrote into.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { description } from '../helpers/descriptions.js';
import { privatePodman, type PrivatePodman } from '../helpers/local-stores.js';
import { boot, bootableDir, testRootCache } from '../helpers/nspawn.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { applianceContainers, assertApplianceLoaded, pushApplianceImages } from '../helpers/appliance.js';
import { tempDir } from '../helpers/tmp.js';

const exec = promisify(execFile);
const ARCHIVES = 'var/tmp/kiwi_containers';
const BASE = 'localhost/debian-test-root:1';
const BUILT = 'localhost/imgdesc-overlay-appliance:1';

const descriptionFor = (host: string) => description(applianceContainers(host));

let registry: TestRegistry;
let podman: PrivatePodman;
let images: string;
let ref: (nameTag: string) => string;
before(async () => {
  const base = testRootCache();
  registry = await startRegistry('plain');
  images = await mkdtemp(join(tmpdir(), 'imgdesc-e2e-images-'));
  ref = await pushApplianceImages(images, registry);
  // The base image: the cached test root as one layer, in a store of this test's own.
  podman = await privatePodman();
  await exec('bash', ['-o', 'pipefail', '-c', 'tar -C "$1" -c . | podman import - "$2"', 'import', base, BASE], { env: podman.env, maxBuffer: 16 * 1024 * 1024 });
});
after(async () => {
  await podman?.stop();
  await registry?.stop();
  if (images) await rm(images, { recursive: true, force: true });
});


describe('an overlay ADDed in a Containerfile, booted', { timeout: 900_000 }, () => {
  test('podman build FROM the test root + ADD overlay.tar /; exported and booted: podman and docker images loaded under their full references', async (t) => {
    const context = await tempDir(t);
    const desc = join(context, 'appliance.xml');
    await writeFile(desc, descriptionFor(registry.host));
    const r = await runCli(['build', desc, '--overlay', join(context, 'overlay.tar'), '--tls-verify=false', '--no-cache', '--target-arch', 'x86_64', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    await writeFile(join(context, 'Containerfile'), `FROM ${BASE}\nADD overlay.tar /\n`);
    await podman.podman('build', '--quiet', '--tag', BUILT, '--file', join(context, 'Containerfile'), context);
    t.after(() => podman.podman('rmi', '--force', BUILT).catch(() => undefined));

    // The built image's file system, as a directory to boot.
    const id = (await podman.podman('create', BUILT, '/bin/true')).trim();
    t.after(() => podman.podman('rm', '--force', id).catch(() => undefined));
    const exported = join(context, 'export.tar');
    await podman.podman('export', '--output', exported, id);
    const top = await bootableDir(t, 'imgdesc-e2e-containerfile-');
    const root = join(top, 'root');
    await mkdir(root);
    await exec('tar', ['-x', '--numeric-owner', '-p', '-f', exported, '-C', root]);
    await rm(exported);

    // What ADD left: the archives, /var/tmp still sticky, the units enabled.
    // hello:1.0 goes to podman and to docker: two archives (the second one's name carries a hash).
    const archives = (await readdir(join(root, ARCHIVES))).sort();
    assert.equal(archives.length, 4, archives.join(', '));
    for (const a of ['hello_1.0', 'hello_1.0-config', 'toolbox_1.0']) assert.ok(archives.includes(a), a);
    assert.equal(((await stat(join(root, 'var/tmp'))).mode & 0o7777).toString(8), '1777');
    assert.ok((await readdir(join(root, 'etc/systemd/system/multi-user.target.wants'))).includes('kiwi_containers.service'));

    const vm = await boot(root);
    t.after(() => vm.shutdown());
    await assertApplianceLoaded(vm, root, ref);
  });
});
