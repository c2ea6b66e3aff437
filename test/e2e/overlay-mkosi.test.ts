// End to end, the mkosi way: Debian 12's mkosi 14 builds a bookworm directory
// image with the overlay as an extra tree (`--extra-tree overlay.tar`), and
// systemd under nspawn boots it: the first boot loads the archives into podman
// and docker under their full references.
//
// mkosi 14 unpacks a tar extra tree with Python's shutil.unpack_archive into
// the image root (install_extra_trees); the first test runs exactly that step
// on its own (no network, seconds) and checks it gives what --root gives.
// The second builds the whole image: debootstrap from the mirror this
// machine's apt uses (scripts/make-test-root.sh --mirror), packages cached in
// $IMGDESC_TEST_ROOT_CACHE/mkosi-packages.
//
// Recipe (what the second test runs, in an empty directory, as root):
//   imgdesc build appliance.xml --overlay overlay.tar
//   mkosi --distribution debian --release bookworm --mirror MIRROR \
//         --format directory --output image --extra-tree overlay.tar \
//         --package systemd,systemd-sysv,dbus,podman,docker.io,... \
//         --with-network --nspawn-keep-unit build
// --nspawn-keep-unit: mkosi runs its steps in systemd-nspawn, which without it
// asks the system bus for a scope; where there is no bus (a build container)
// every step fails with "Failed to open system bus".
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { REPO, runCli } from '../helpers/cli.js';
import { description } from '../helpers/descriptions.js';
import { boot, bootableDir } from '../helpers/nspawn.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { applianceContainers, assertApplianceLoaded, pushApplianceImages } from '../helpers/appliance.js';
import { tempDir, tree } from '../helpers/tmp.js';

const exec = promisify(execFile);
const MAKE_TEST_ROOT = join(REPO, 'scripts/make-test-root.sh');
const PACKAGE_CACHE = join(process.env.IMGDESC_TEST_ROOT_CACHE || '/var/cache/imgdesc-test', 'mkosi-packages');
// The test root's packages (scripts/make-test-root.sh): systemd, podman and docker.
const PACKAGES = 'systemd,systemd-sysv,dbus,podman,netavark,aardvark-dns,crun,conmon,catatonit,docker.io,iproute2';
/** mkosi runs on the system Python (its /usr/bin/mkosi picks /usr/bin/python3). */
const PYTHON = '/usr/bin/python3';
const LONG = `long-${'x'.repeat(70)}`;

const descriptionFor = (host: string) => description(applianceContainers(host, [LONG]));

/** The entry names of a tar, without the trailing "/" of directories. */
function tarNames(tarFile: string): Set<string> {
  const text = execFileSync('tar', ['--quoting-style=literal', '-tf', tarFile], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  return new Set(text.trim().split('\n').map((n) => n.replace(/\/$/, '')));
}

let registry: TestRegistry;
let images: string;
let ref: (nameTag: string) => string;
before(async () => {
  try {
    execFileSync('mkosi', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('mkosi is not installed; run scripts/install-test-deps.sh');
  }
  registry = await startRegistry('plain');
  images = await mkdtemp(join(tmpdir(), 'imgdesc-e2e-images-'));
  ref = await pushApplianceImages(images, registry, [LONG]);
});
after(async () => {
  await registry?.stop();
  if (images) await rm(images, { recursive: true, force: true });
});

/** The overlay and a --root build of the same description, lock and SOURCE_DATE_EPOCH. */
async function overlayAndRoot(t: Parameters<typeof tempDir>[0]): Promise<{ dir: string; overlay: string; root: string }> {
  const dir = await tempDir(t);
  const desc = join(dir, 'appliance.xml');
  await writeFile(desc, descriptionFor(registry.host));
  const common = ['--tls-verify=false', '--target-arch', 'x86_64'];
  const lock = await runCli(['lock', desc, ...common]);
  assert.equal(lock.code, 0, lock.stderr);
  const overlay = join(dir, 'overlay.tar');
  const root = join(dir, 'root');
  const saved = process.env.SOURCE_DATE_EPOCH;
  process.env.SOURCE_DATE_EPOCH = '1700000000';
  try {
    for (const out of [['--overlay', overlay], ['--root', root]]) {
      const r = await runCli(['build', desc, ...common, '--locked', ...out, '--cache-dir', join(dir, 'cache'), '--quiet']);
      assert.equal(r.code, 0, r.stderr);
    }
  } finally {
    if (saved === undefined) delete process.env.SOURCE_DATE_EPOCH;
    else process.env.SOURCE_DATE_EPOCH = saved;
  }
  return { dir, overlay, root };
}

describe('an overlay as an mkosi extra tree', { timeout: 1_800_000 }, () => {
  test("mkosi 14's extra-tree step (shutil.unpack_archive) unpacks the overlay into exactly what --root writes", async (t) => {
    // The installed mkosi still unpacks a tar extra tree this way.
    const module = execFileSync(PYTHON, ['-c', 'import mkosi; print(mkosi.__file__)'], { encoding: 'utf8' }).trim();
    const source = await readFile(module, 'utf8');
    const step = source.slice(source.indexOf('def install_extra_trees('), source.indexOf('\ndef ', source.indexOf('def install_extra_trees(') + 1));
    assert.match(step, /shutil\.unpack_archive\(cast\(str, tree\), state\.root\)/, `mkosi's extra-tree step changed:\n${step}`);

    const { dir, overlay, root } = await overlayAndRoot(t);
    const unpacked = join(dir, 'unpacked');
    await mkdir(unpacked);
    execFileSync(PYTHON, ['-c', 'import shutil, sys; shutil.unpack_archive(sys.argv[1], sys.argv[2])', overlay, unpacked]);
    const fromRoot = await tree(root);
    assert.deepEqual(await tree(unpacked), fromRoot);
    assert.ok(Object.keys(fromRoot).some((k) => k.includes(LONG.replace(/-/g, '\\x2d'))), 'a unit name only a pax header holds is there');
    assert.equal(fromRoot['var/tmp'], 'dir 1777');
  });

  test('mkosi --format directory --extra-tree overlay.tar builds a bookworm image; booted, it loads the images into podman and docker', async (t) => {
    const { overlay, root } = await overlayAndRoot(t);
    const mirror = execFileSync('bash', [MAKE_TEST_ROOT, '--mirror'], { encoding: 'utf8' }).trim();
    await mkdir(PACKAGE_CACHE, { recursive: true });
    const top = await bootableDir(t, 'imgdesc-e2e-mkosi-');
    const work = join(top, 'work');
    await mkdir(work);
    const image = join(top, 'image');
    const args = [
      '--distribution', 'debian',
      '--release', 'bookworm',
      '--mirror', mirror,
      '--format', 'directory',
      '--output', image,
      '--extra-tree', overlay,
      '--package', PACKAGES,
      '--cache', PACKAGE_CACHE,
      '--with-network',
      '--nspawn-keep-unit',
      'build',
    ];
    try {
      await exec('mkosi', args, { cwd: work, maxBuffer: 256 * 1024 * 1024 });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      assert.fail(`mkosi ${args.join(' ')} failed: ${e.message}\n${(e.stderr ?? '').slice(-4000)}`);
    }

    // Everything the overlay holds is in the image as --root would have written it.
    const names = tarNames(overlay);
    const inImage = await tree(image, (rel) => names.has(rel));
    const fromRoot = await tree(root);
    assert.deepEqual(Object.keys(inImage).sort(), Object.keys(fromRoot).sort());
    for (const [rel, what] of Object.entries(fromRoot)) assert.equal(inImage[rel], what, rel);

    // The test root's settings (vfs storage, no iptables, a machine id), then boot.
    execFileSync('bash', [MAKE_TEST_ROOT, '--configure', image]);
    const vm = await boot(image);
    t.after(() => vm.shutdown());
    await assertApplianceLoaded(vm, image, ref, [LONG]);
  });
});
