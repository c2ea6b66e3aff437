// End to end with KIWI itself: imgdesc compiles a description that has
// <containers>; Debian 12's KIWI (9.24, which has no <containers> element
// and refuses the original) builds the compiled directory into a Debian
// bookworm root tarball, applying <archive name="imgdesc-containers.tar"/>;
// that root boots under systemd-nspawn and its first boot loads the images
// into podman and docker under their full references.
//
// Needs root, network access to the Debian mirror this machine's apt uses
// (scripts/make-test-root.sh --mirror), and the packages
// scripts/install-test-deps.sh installs (kiwi, debootstrap, rsync, gpg,
// systemd-container). The KIWI build takes about three minutes on two cores.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { REPO, runCli } from '../helpers/cli.js';
import { boot } from '../helpers/nspawn.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { applianceContainers, assertApplianceLoaded, lines, pushApplianceImages } from '../helpers/appliance.js';

const run = promisify(execFile);
const ARCHIVES = 'var/tmp/kiwi_containers';
const TEST_ROOT_SCRIPT = join(REPO, 'scripts/make-test-root.sh');

// What the nspawn test root (scripts/make-test-root.sh) holds, so that the
// same settings boot it. KIWI installs without recommends, so podman's
// runtime parts are named. schemaversion 7.5 is the newest KIWI 9 accepts;
// no <locale>: KIWI 9.24 fails to set en_US on a minbase root.
const descriptionFor = (host: string, mirror: string) => `<?xml version="1.0" encoding="utf-8"?>
<!-- Built by KIWI 9.24 after imgdesc compile: the <containers> sections below
     become one archive; everything else stays as written. -->
<image schemaversion="7.5" name="imgdesc-kiwi-compile">
    <description type="system">
        <author>imgdesc tests</author>
        <contact>imgdesc@example.org</contact>
        <specification>Debian bookworm with preloaded podman and docker images</specification>
    </description>
    <preferences>
        <version>1.0.0</version>
        <packagemanager>apt</packagemanager>
        <type image="tbz"/>
    </preferences>
    <repository type="apt-deb" alias="bookworm" distribution="bookworm" components="main" repository_gpgcheck="true">
        <source path="${mirror}"/>
    </repository>
${applianceContainers(host)}
    <packages type="image">
        <package name="systemd"/>
        <package name="systemd-sysv"/>
        <package name="dbus"/>
        <package name="podman"/>
        <package name="netavark"/>
        <package name="aardvark-dns"/>
        <package name="crun"/>
        <package name="conmon"/>
        <package name="catatonit"/>
        <package name="docker.io"/>
        <package name="iproute2"/>
    </packages>
    <packages type="bootstrap">
        <package name="ca-certificates"/>
    </packages>
</image>
`;

// KIWI runs config.sh in the image root after the archives are in: it must
// see them there (and a copied description file must reach KIWI at all).
const CONFIG_SH = `#!/bin/bash
set -e
ls /var/tmp/kiwi_containers > /etc/imgdesc-seen-by-config-sh
`;

let work: string;
let registry: TestRegistry;
let mirror: string;
let ref: (nameTag: string) => string;

before(async () => {
  mirror = execFileSync('bash', [TEST_ROOT_SCRIPT, '--mirror'], { encoding: 'utf8' }).trim();
  await run('kiwi-ng', ['--version']).catch((err: unknown) => {
    throw new Error(`kiwi-ng is needed (bash scripts/install-test-deps.sh installs Debian's kiwi): ${(err as Error).message}`);
  });
  work = await mkdtemp(join(tmpdir(), 'imgdesc-kiwi-'));
  registry = await startRegistry('plain');
  const images = join(work, 'images');
  ref = await pushApplianceImages(images, registry);
});

after(async () => {
  await registry?.stop();
  if (work) await removeTree(work);
});

/**
 * rm -rf that never leaves `dir`: KIWI bind-mounts /proc, /sys, /dev and its
 * cache into the image root while it builds, and an interrupted build can
 * leave them mounted. Unmount everything below first; if anything stays
 * mounted, keep the tree rather than delete through a mount.
 */
async function removeTree(dir: string): Promise<void> {
  const below = async () =>
    (await readFile('/proc/self/mounts', 'utf8'))
      .split('\n')
      .map((l) => l.split(' ')[1] ?? '')
      .filter((m) => m.startsWith(`${dir}/`))
      .sort()
      .reverse();
  for (const m of await below()) await run('umount', ['-l', m]).catch(() => undefined);
  if ((await below()).length) return;
  await run('rm', ['-rf', '--one-file-system', dir]);
}

/** Runs a command with its output in `log`; a failure carries the log's end. */
async function logged(cmd: string, args: string[], log: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const out = createWriteStream(log);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  child.stdout.pipe(out, { end: false });
  child.stderr.pipe(out, { end: false });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  await new Promise((resolve) => out.end(resolve));
  if (code !== 0) {
    const tail = (await readFile(log, 'utf8')).split('\n').slice(-40).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} exited ${code}; the end of ${log}:\n${tail}`);
  }
}

/** kiwi-ng system build, with the Debian archive keyring and fast xz. */
async function kiwiBuild(descriptionDir: string, target: string): Promise<string> {
  // gpg needs a home for the keyring import; xz -0 keeps the tarball step short.
  const gnupg = join(work, 'gnupg');
  await mkdir(gnupg, { recursive: true, mode: 0o700 });
  const runtime = join(work, 'kiwi.yml');
  await writeFile(runtime, 'xz:\n  - options: -0 --threads=0\n');
  await logged(
    'kiwi-ng',
    ['--config', runtime, 'system', 'build', '--description', descriptionDir, '--target-dir', target, '--signing-key', '/usr/share/keyrings/debian-archive-keyring.gpg'],
    join(work, 'kiwi-build.log'),
    { GNUPGHOME: gnupg },
  );
  const tarball = (await readdir(target)).find((n) => n.endsWith('.tar.xz'));
  assert.ok(tarball, `no root tarball in ${target}: ${(await readdir(target)).join(', ')}`);
  return join(target, tarball);
}


describe('a compiled description built by KIWI 9', { timeout: 1_200_000 }, () => {
  test('KIWI refuses the original, builds the compiled one, and its first boot loads every image', async (t) => {
    const desc = join(work, 'description');
    await mkdir(desc);
    await writeFile(join(desc, 'config.xml'), descriptionFor(registry.host, mirror));
    await writeFile(join(desc, 'config.sh'), CONFIG_SH);
    await chmod(join(desc, 'config.sh'), 0o755);
    const compiled = join(work, 'compiled');
    const c = await runCli(['compile', desc, compiled, '--tls-verify=false', '--no-cache', '--target-arch', 'x86_64', '--quiet']);
    assert.equal(c.code, 0, c.stderr);
    assert.deepEqual((await readdir(compiled)).sort(), ['config.sh', 'config.xml', 'imgdesc-containers.tar']);

    // KIWI 9 has no <containers>: the original fails its schema, the compiled one passes.
    const version = (await run('kiwi-ng', ['--version'])).stdout;
    if (/version 9\./.test(version)) {
      const original = await run('kiwi-ng', ['image', 'info', '--description', desc]).then(
        () => null,
        (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
      );
      assert.match(original ?? 'accepted', /extra content: containers/);
    }
    await run('kiwi-ng', ['image', 'info', '--description', compiled]);

    const tarball = await kiwiBuild(compiled, join(work, 'kiwi-target'));
    const root = join(work, 'root');
    await mkdir(root);
    await run('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '-xpJf', tarball, '-C', root]);
    await removeTree(join(work, 'kiwi-target'));
    // KIWI applied the archive before config.sh ran.
    const archives = ['hello_1.0', 'hello_1.0-config', 'toolbox_1.0'];
    const placed = (await readdir(join(root, ARCHIVES))).sort();
    assert.equal(placed.length, 4, placed.join(', '));
    for (const a of archives) assert.ok(placed.includes(a), a);
    assert.deepEqual(lines(await readFile(join(root, 'etc/imgdesc-seen-by-config-sh'), 'utf8')), placed);
    assert.equal((await run('stat', ['-c', '%a', join(root, 'var/tmp')])).stdout.trim(), '1777');

    execFileSync('bash', [TEST_ROOT_SCRIPT, '--configure', root]);
    const vm = await boot(root);
    t.after(() => vm.shutdown());
    await assertApplianceLoaded(vm, root, ref);
  });
});
