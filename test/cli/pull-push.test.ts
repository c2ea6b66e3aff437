// imgdesc pull and push through the CLI against the real docker-registry.
// The artifacts pulled are written by the tests themselves (layouts by hand
// with the annotations each publisher writes, copied in with skopeo), never
// by imgdesc push; push is then checked by pulling what it wrote.
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, before, after } from 'node:test';
import { promisify } from 'node:util';
import { REPO, runCli } from '../helpers/cli.js';
import {
  artifactManifest,
  compressed,
  copyToRegistry,
  diskBytes,
  EMPTY_CONFIG,
  HandLayout,
  imageManifest,
  indexOf,
  layerTar,
  OCI_MANIFEST,
  TITLE,
  type Desc,
} from '../helpers/disk-artifacts.js';
import { proxiedRegistry } from '../helpers/proxied-registry.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { listFiles, tempDir } from '../helpers/tmp.js';

const exec = promisify(execFile);
const KB = 1000;
type T = { after(fn: () => unknown): void };

const disks = {
  x86: diskBytes('podman x86_64 qemu', 3000 * KB),
  arm: diskBytes('podman aarch64 qemu', 2000 * KB),
  applehv: diskBytes('podman x86_64 applehv', 1000 * KB),
  bootcAmd: diskBytes('bootc amd64', 1500 * KB),
  bootcArm: diskBytes('bootc arm64', 1200 * KB),
  rawA: diskBytes('oras raw a', 500 * KB),
  rawB: diskBytes('oras raw b', 400 * KB),
  oneFile: diskBytes('one file', 900 * KB),
  containerDisk: diskBytes('container disk', 800 * KB),
  corrupt: diskBytes('corrupt me', 600 * KB),
};

/** Files under `dir` that a failed pull must not leave: anything at all. */
const leftovers = (dir: string) => listFiles(dir);

async function outDir(t: T): Promise<string> {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'out'));
  return join(dir, 'out');
}

describe('imgdesc pull: the four formats, from the real registry', () => {
  let corruptLayer: Desc;
  let x86Layer: Desc;
  let podmanLayout: HandLayout;
  const net = proxiedRegistry('plain', async (work, { registry }) => {
    // podman machine-os: an index whose entries carry disktype, platforms spelled x86_64/aarch64,
    // each manifest one zstd layer named by its title (pkg/machine/ocipull).
    const podman = (podmanLayout = await HandLayout.create(join(work, 'machine-os')));
    const entry = async (disk: Buffer, arch: string, disktype: string, kind: 'zstd' | 'xz') => {
      const title = `podman-machine.${arch}.${disktype}.qcow2.${kind === 'zstd' ? 'zst' : 'xz'}`;
      const layer = await podman.blob(await compressed(disk, kind), kind === 'zstd' ? 'application/zstd' : 'application/x-xz', { annotations: { [TITLE]: title } });
      if (arch === 'x86_64' && disktype === 'qemu') x86Layer = layer;
      return artifactManifest(podman, [layer], { platform: { architecture: arch, os: 'linux' }, annotations: { disktype } });
    };
    const index = await indexOf(podman, [await entry(disks.x86, 'x86_64', 'qemu', 'zstd'), await entry(disks.arm, 'aarch64', 'qemu', 'xz'), await entry(disks.applehv, 'x86_64', 'applehv', 'zstd')]);
    await podman.tag(index, '5.3');
    await copyToRegistry(podman, '5.3', registry, 'podman/machine-os');

    // ORAS (lima's bootc disks): an index by platform of artifacts with artifactType, an empty config, titled layers.
    const bootc = await HandLayout.create(join(work, 'bootc'));
    const bootcEntry = async (disk: Buffer, architecture: string) =>
      artifactManifest(bootc, [await bootc.blob(await compressed(disk, 'zstd'), 'application/x-qemu-qcow2+zstd', { annotations: { [TITLE]: 'fedora-bootc-cloud-eln.qcow2.zst' } })], {
        artifactType: 'application/vnd.unknown.artifact.v1',
        platform: { architecture, os: 'linux' },
      });
    await bootc.tag(await indexOf(bootc, [await bootcEntry(disks.bootcArm, 'arm64'), await bootcEntry(disks.bootcAmd, 'amd64')]), 'eln');
    await copyToRegistry(bootc, 'eln', registry, 'centos/fedora-bootc-cloud-disk');

    // ORAS with two files (no index): gzip and bzip2.
    const multi = await HandLayout.create(join(work, 'multi'));
    await multi.tag(
      await artifactManifest(multi, [
        await multi.blob(await compressed(disks.rawA, 'gzip'), 'application/vnd.oci.image.layer.v1.tar', { annotations: { [TITLE]: 'a.raw.gz' } }),
        await multi.blob(await compressed(disks.rawB, 'bzip2'), 'application/vnd.oci.image.layer.v1.tar', { annotations: { [TITLE]: 'b.img.bz2' } }),
      ], { artifactType: 'application/vnd.unknown.artifact.v1' }),
      '1',
    );
    await copyToRegistry(multi, '1', registry, 'oras/multi');

    // A hostile title.
    const evil = await HandLayout.create(join(work, 'evil'));
    await evil.tag(await artifactManifest(evil, [await evil.blob(await compressed(disks.rawA, 'zstd'), 'application/zstd', { annotations: { [TITLE]: '../escape.raw.zst' } })]), '1');
    await copyToRegistry(evil, '1', registry, 'oras/evil');

    // One-file image: FROM scratch + COPY disk.qcow2.xz /
    const one = await HandLayout.create(join(work, 'one'));
    const oneTar = await layerTar({ 'disk.qcow2.xz': await compressed(disks.oneFile, 'xz') });
    await one.tag(await imageManifest(one, await one.blob(oneTar.bytes, 'application/vnd.oci.image.layer.v1.tar+gzip'), oneTar.diffId), '1');
    await copyToRegistry(one, '1', registry, 'images/one-file');

    // containerDisk: the disk under disk/, after another file.
    const cd = await HandLayout.create(join(work, 'cd'));
    const cdTar = await layerTar({ 'etc/': null, 'etc/hostname': Buffer.from('vm\n'), 'disk/': null, 'disk/fedora.img': disks.containerDisk });
    await cd.tag(await imageManifest(cd, await cd.blob(cdTar.bytes, 'application/vnd.oci.image.layer.v1.tar+gzip'), cdTar.diffId), '1');
    await copyToRegistry(cd, '1', registry, 'kubevirt/fedora-container-disk');

    // A single artifact whose blob the corruption test spoils.
    const bad = await HandLayout.create(join(work, 'bad'));
    corruptLayer = await bad.blob(await compressed(disks.corrupt, 'zstd'), 'application/zstd', { annotations: { [TITLE]: 'bad.raw.zst' } });
    await bad.tag(await artifactManifest(bad, [corruptLayer], { artifactType: 'application/vnd.unknown.artifact.v1' }), '1');
    await copyToRegistry(bad, '1', registry, 'oras/corrupt');
  });
  const ref = (path: string) => `${net.proxy.host}/${path}`;
  const pull = (args: string[]) => runCli(['pull', ...args, '--tls-verify=false', '--retries', '3', '--timeout', '5']);

  test('podman machine-os: the qemu disk for x86_64, byte-identical, --json names it', async (t) => {
    const out = join(await outDir(t), 'machine.qcow2');
    const r = await pull([ref('podman/machine-os:5.3'), out, '--target-arch', 'x86_64', '--disktype', 'qemu', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await readFile(out)).equals(disks.x86), 'the disk as it was before compression');
    const j = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(j).slice(0, 8), ['reference', 'digest', 'platform', 'disktype', 'title', 'file', 'size', 'uncompressedSize']);
    assert.equal(j.reference, ref('podman/machine-os:5.3'));
    assert.equal(j.platform, 'linux/x86_64');
    assert.equal(j.disktype, 'qemu');
    assert.equal(j.title, 'podman-machine.x86_64.qemu.qcow2.zst');
    assert.equal(j.file, out);
    assert.equal(j.size, x86Layer.size);
    assert.equal(j.uncompressedSize, disks.x86.length);
    assert.equal(j.format, 'podman-machine');
    assert.match(j.digest, /^sha256:[a-f0-9]{64}$/);
  });

  test('podman machine-os: aarch64 (amd64/arm64 spellings accepted) into a directory: named by the title without its suffix', async (t) => {
    const dir = await outDir(t);
    const r = await pull([ref('podman/machine-os:5.3'), dir, '--platform', 'linux/arm64', '--disktype', 'qemu']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await listFiles(dir), ['podman-machine.aarch64.qemu.qcow2']);
    assert.ok((await readFile(join(dir, 'podman-machine.aarch64.qemu.qcow2'))).equals(disks.arm));
    assert.match(r.stdout, /xz/);
  });

  test('podman machine-os: two disk types for x86_64 need --disktype (exit 2); --disktype applehv takes that one', async (t) => {
    const dir = await outDir(t);
    const r = await pull([ref('podman/machine-os:5.3'), dir, '--target-arch', 'x86_64']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /several disk types for linux\/amd64: qemu, applehv; choose one with --disktype/);
    assert.deepEqual(await leftovers(dir), []);
    const ok = await pull([ref('podman/machine-os:5.3'), join(dir, 'hv.raw'), '--target-arch', 'x86_64', '--disktype', 'applehv']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok((await readFile(join(dir, 'hv.raw'))).equals(disks.applehv));
  });

  test('podman machine-os from an OCI layout (oci:DIR:TAG) and from an oci-archive', async (t) => {
    const dir = await outDir(t);
    const layout = await pull([`oci:${podmanLayout.dir}:5.3`, join(dir, 'from-layout'), '--target-arch', 'aarch64', '--disktype', 'qemu']);
    assert.equal(layout.code, 0, layout.stderr);
    assert.ok((await readFile(join(dir, 'from-layout'))).equals(disks.arm));
    const archive = join(await tempDir(t), 'machine-os.tar');
    await exec('tar', ['-C', podmanLayout.dir, '-cf', archive, 'oci-layout', 'index.json', 'blobs']);
    const fromArchive = await pull([`oci-archive:${archive}`, join(dir, 'from-archive'), '--target-arch', 'x86_64', '--disktype', 'qemu']);
    assert.equal(fromArchive.code, 0, fromArchive.stderr);
    assert.ok((await readFile(join(dir, 'from-archive'))).equals(disks.x86));
  });

  test('ORAS artifact (bootc disk): multi-arch index chosen by platform, zstd decompressed', async (t) => {
    const dir = await outDir(t);
    const r = await pull([`docker://${ref('centos/fedora-bootc-cloud-disk:eln')}`, dir, '--platform', 'linux/arm64', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await readFile(join(dir, 'fedora-bootc-cloud-eln.qcow2'))).equals(disks.bootcArm));
    const j = JSON.parse(r.stdout);
    assert.equal(j.format, 'oras');
    assert.equal(j.platform, 'linux/arm64');
    assert.equal(j.disktype, null);
  });

  test('ORAS artifact with several files: without --file exit 2 listing them; --file picks one (gzip, bzip2)', async (t) => {
    const dir = await outDir(t);
    const none = await pull([ref('oras/multi:1'), dir]);
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /several files: a\.raw\.gz, b\.img\.bz2; choose one with --file NAME/);
    assert.deepEqual(await leftovers(dir), []);
    const a = await pull([ref('oras/multi:1'), dir, '--file', 'a.raw.gz']);
    assert.equal(a.code, 0, a.stderr);
    const b = await pull([ref('oras/multi:1'), dir, '--file', 'b.img']);
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual((await listFiles(dir)).sort(), ['a.raw', 'b.img']);
    assert.ok((await readFile(join(dir, 'a.raw'))).equals(disks.rawA));
    assert.ok((await readFile(join(dir, 'b.img'))).equals(disks.rawB));
  });

  test('one-file image (FROM scratch + COPY disk.qcow2.xz /): the file of the layer, xz decompressed', async (t) => {
    const dir = await outDir(t);
    const r = await pull([ref('images/one-file:1'), dir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await listFiles(dir), ['disk.qcow2']);
    assert.ok((await readFile(join(dir, 'disk.qcow2'))).equals(disks.oneFile));
    assert.equal(JSON.parse(r.stdout).format, 'one-file');
  });

  test('containerDisk: the file under disk/, not the other file of the layer', async (t) => {
    const dir = await outDir(t);
    const r = await pull([ref('kubevirt/fedora-container-disk:1'), dir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await listFiles(dir), ['fedora.img']);
    assert.ok((await readFile(join(dir, 'fedora.img'))).equals(disks.containerDisk));
    const j = JSON.parse(r.stdout);
    assert.equal(j.format, 'container-disk');
    assert.equal(j.title, 'disk/fedora.img');
  });

  test('--no-decompress writes the stored bytes under the title', async (t) => {
    const dir = await outDir(t);
    const r = await pull([ref('centos/fedora-bootc-cloud-disk:eln'), dir, '--platform', 'linux/amd64', '--no-decompress', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const stored = await readFile(join(dir, 'fedora-bootc-cloud-eln.qcow2.zst'));
    assert.ok(stored.equals(await compressed(disks.bootcAmd, 'zstd')));
    assert.equal(JSON.parse(r.stdout).uncompressedSize, null);
  });

  test('no disk for the platform: exit 4 listing what the index offers', async (t) => {
    const dir = await outDir(t);
    const r = await pull([ref('podman/machine-os:5.3'), dir, '--target-arch', 's390x']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /has no disk for linux\/s390x; it offers: linux\/x86_64 disktype=qemu, linux\/aarch64 disktype=qemu, linux\/x86_64 disktype=applehv/);
    const wrongType = await pull([ref('podman/machine-os:5.3'), dir, '--target-arch', 'aarch64', '--disktype', 'hyperv']);
    assert.equal(wrongType.code, 4, wrongType.stderr);
    assert.match(wrongType.stderr, /no disk for linux\/arm64\/v8 disktype=hyperv; it offers:/);
    assert.deepEqual(await leftovers(dir), []);
  });

  test('a title with ".." is refused: exit 4, nothing written', async (t) => {
    const dir = await outDir(t);
    const r = await pull([ref('oras/evil:1'), join(dir, 'x')]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /title "\.\.\/escape\.raw\.zst" is refused: it contains "\.\."/);
    assert.deepEqual(await leftovers(join(dir, '..')), [], 'nothing in OUTPUT, nothing beside it');
  });

  test('a short name is refused: exit 2, use a fully-qualified name', async (t) => {
    const dir = await outDir(t);
    // Names no registries.conf alias names (Debian's shortnames.conf aliases fedora, for one).
    for (const name of ['imgdesc-unaliased', 'imgdesc-unaliased/machine-os:5.3', 'docker://imgdesc-unaliased/disk:40']) {
      const r = await pull([name, dir]);
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, /use a fully-qualified name/);
    }
  });

  test('a corrupted blob: exit 4 naming the digest mismatch, no output, no temporary file', async (t) => {
    const dir = await outDir(t);
    const file = net.registry.blobDataPath(corruptLayer.digest);
    const bytes = await readFile(file);
    const spoiled = Buffer.from(bytes);
    spoiled[spoiled.length - 100] = spoiled[spoiled.length - 100]! ^ 0xff;
    await writeFile(file, spoiled);
    t.after(() => writeFile(file, bytes));
    const r = await pull([ref('oras/corrupt:1'), dir]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /digest mismatch/);
    assert.deepEqual(await leftovers(dir), []);
  });

  test('a connection reset mid-blob: resumed with a Range request, disk byte-identical', async (t) => {
    const dir = await outDir(t);
    const blobPath = `/v2/podman/machine-os/blobs/${x86Layer.digest}`;
    net.proxy.use((req) => (req.path === blobPath && req.nth === 1 ? { kind: 'reset', afterBytes: Math.floor(x86Layer.size / 2) } : undefined));
    t.after(() => net.proxy.use(() => undefined));
    const r = await pull([ref('podman/machine-os:5.3'), join(dir, 'disk'), '--target-arch', 'x86_64', '--disktype', 'qemu']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await readFile(join(dir, 'disk'))).equals(disks.x86));
    const gets = net.proxy.requests.filter((q) => q.path === blobPath);
    assert.equal(gets.length, 2);
    assert.match(String(gets[1]!.headers.range), /^bytes=[1-9]\d*-$/);
  });

  test('SIGTERM mid-download: exit 143 promptly, nothing left in OUTPUT', async (t) => {
    const dir = await outDir(t);
    const blobPath = `/v2/podman/machine-os/blobs/${x86Layer.digest}`;
    net.proxy.use((req) => (req.path === blobPath ? { kind: 'stall', afterBytes: 300_000 } : undefined));
    t.after(() => net.proxy.use(() => undefined));
    const args = ['pull', ref('podman/machine-os:5.3'), dir, '--target-arch', 'x86_64', '--disktype', 'qemu', '--tls-verify=false', '--timeout', '120'];
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/bin.ts'), ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    t.after(() => child.kill('SIGKILL'));
    const deadline = Date.now() + 30_000;
    while (!net.proxy.requests.some((q) => q.path === blobPath)) {
      assert.ok(Date.now() < deadline, `the pull never reached the blob: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 500));
    assert.ok((await listFiles(dir)).some((f) => f.includes('.imgdesc-tmp-')), 'a download was in progress');
    const sent = Date.now();
    child.kill('SIGTERM');
    assert.equal(await exited, 143, stderr);
    assert.ok(Date.now() - sent < 5000, `stopped in ${Date.now() - sent} ms`);
    assert.match(stderr, /interrupted by SIGTERM/);
    assert.deepEqual(await leftovers(dir), []);
  });
});

describe('imgdesc push, then pull (token auth registry)', () => {
  let registry: TestRegistry;
  let work: string;
  let auth: string;
  const cleanups: Array<() => unknown> = [];
  before(async () => {
    registry = await startRegistry('token');
    work = await tempDir({ after: (fn: () => unknown) => cleanups.push(fn) });
    auth = join(work, 'auth.json');
    const { username, password } = registry.user!;
    await writeFile(auth, JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${username}:${password}`).toString('base64') } } }));
    await writeFile(join(work, 'x86.qcow2'), disks.x86);
    await writeFile(join(work, 'arm.qcow2'), disks.arm);
    await writeFile(join(work, 'new.qcow2'), disks.applehv);
  });
  after(async () => {
    await registry?.stop();
    for (const c of cleanups) await c();
  });
  const cli = (args: string[]) => runCli([...args, '--tls-verify=false', '--authfile', auth]);
  const rawIndex = async (repo: string) => {
    const { username, password } = registry.user!;
    const { stdout } = await exec('skopeo', ['inspect', '--raw', '--tls-verify=false', '--creds', `${username}:${password}`, `docker://${registry.host}/${repo}`]);
    return JSON.parse(stdout) as { manifests: Array<{ digest: string; platform: { architecture: string; os: string }; annotations?: Record<string, string> }> };
  };

  test('podman-machine: x86_64 (zstd) and aarch64 (xz) in one index, as podman matches them; both pulled back byte-identical', async (t) => {
    const x = await cli(['push', join(work, 'x86.qcow2'), `${registry.host}/machine/os:1`, '--disktype', 'qemu', '--target-arch', 'x86_64', '--json']);
    assert.equal(x.code, 0, x.stderr);
    assert.equal(JSON.parse(x.stdout).title, 'x86.qcow2.zst');
    const a = await cli(['push', join(work, 'arm.qcow2'), `docker://${registry.host}/machine/os:1`, '--disktype', 'qemu', '--platform', 'linux/arm64', '--compress', 'xz']);
    assert.equal(a.code, 0, a.stderr);
    const index = await rawIndex('machine/os:1');
    assert.deepEqual(
      index.manifests.map((m) => [m.platform.os, m.platform.architecture, m.annotations?.disktype]),
      [
        ['linux', 'x86_64', 'qemu'],
        ['linux', 'aarch64', 'qemu'],
      ],
    );
    const { username, password } = registry.user!;
    const { stdout } = await exec('skopeo', ['inspect', '--raw', '--tls-verify=false', '--creds', `${username}:${password}`, `docker://${registry.host}/machine/os@${index.manifests[1]!.digest}`]);
    const manifest = JSON.parse(stdout);
    assert.equal(manifest.config.mediaType, EMPTY_CONFIG);
    assert.equal(manifest.mediaType, OCI_MANIFEST);
    assert.deepEqual(manifest.layers.map((l: Desc) => l.annotations?.[TITLE]), ['arm.qcow2.xz']);
    const dir = await outDir(t);
    for (const [arch, disk, name] of [['x86_64', disks.x86, 'x86.qcow2'], ['aarch64', disks.arm, 'arm.qcow2']] as const) {
      const r = await cli(['pull', `${registry.host}/machine/os:1`, dir, '--target-arch', arch, '--disktype', 'qemu']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok((await readFile(join(dir, name))).equals(disk), arch);
    }
  });

  test('podman-machine: pushing the same platform and disktype again replaces that entry, the others stay', async (t) => {
    const r = await cli(['push', join(work, 'new.qcow2'), `${registry.host}/machine/os:1`, '--disktype', 'qemu', '--target-arch', 'x86_64']);
    assert.equal(r.code, 0, r.stderr);
    const hv = await cli(['push', join(work, 'x86.qcow2'), `${registry.host}/machine/os:1`, '--disktype', 'applehv', '--target-arch', 'x86_64']);
    assert.equal(hv.code, 0, hv.stderr);
    const index = await rawIndex('machine/os:1');
    assert.deepEqual(index.manifests.map((m) => `${m.platform.architecture}/${m.annotations?.disktype}`), ['aarch64/qemu', 'x86_64/qemu', 'x86_64/applehv']);
    const dir = await outDir(t);
    const p = await cli(['pull', `${registry.host}/machine/os:1`, join(dir, 'q'), '--target-arch', 'x86_64', '--disktype', 'qemu']);
    assert.equal(p.code, 0, p.stderr);
    assert.ok((await readFile(join(dir, 'q'))).equals(disks.applehv), 'the new disk');
  });

  test('oras: two platforms in one index (OCI spellings, no disktype), both pulled back byte-identical', async (t) => {
    for (const [file, platform] of [['x86.qcow2', 'linux/amd64'], ['arm.qcow2', 'linux/arm64']] as const) {
      const r = await cli(['push', join(work, file), `${registry.host}/bootc/disk:1`, '--format', 'oras', '--platform', platform]);
      assert.equal(r.code, 0, r.stderr);
    }
    const index = await rawIndex('bootc/disk:1');
    assert.deepEqual(index.manifests.map((m) => [m.platform.architecture, m.annotations?.disktype]), [['amd64', undefined], ['arm64', undefined]]);
    const dir = await outDir(t);
    for (const [platform, disk, name] of [['linux/amd64', disks.x86, 'x86.qcow2'], ['linux/arm64', disks.arm, 'arm.qcow2']] as const) {
      const r = await cli(['pull', `${registry.host}/bootc/disk:1`, dir, '--platform', platform, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).format, 'oras');
      assert.ok((await readFile(join(dir, name))).equals(disk), platform);
    }
  });

  test('a file compressed already is pushed as it is, under its own name; pull decompresses it', async (t) => {
    await writeFile(join(work, 'pre.raw.xz'), await compressed(disks.rawA, 'xz'));
    const r = await cli(['push', join(work, 'pre.raw.xz'), `${registry.host}/pre/disk:1`, '--format', 'oras', '--target-arch', 'x86_64', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.deepEqual([j.title, j.compression, j.uncompressedSize], ['pre.raw.xz', 'xz', null]);
    const dir = await outDir(t);
    const p = await cli(['pull', `${registry.host}/pre/disk:1`, dir, '--target-arch', 'x86_64']);
    assert.equal(p.code, 0, p.stderr);
    assert.ok((await readFile(join(dir, 'pre.raw'))).equals(disks.rawA));
  });

  test('push: --disktype is required for podman-machine; a short name is refused', async () => {
    const r = await cli(['push', join(work, 'x86.qcow2'), `${registry.host}/machine/os:2`]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /needs --disktype/);
    const s = await cli(['push', join(work, 'x86.qcow2'), 'machine/os:2', '--disktype', 'qemu']);
    assert.equal(s.code, 2, s.stderr);
    assert.match(s.stderr, /use a fully-qualified name/);
  });
});

describe('imgdesc pull over TLS with Basic auth', () => {
  test('push then pull against the htpasswd registry, CA from --cert-dir', async (t) => {
    const registry = await startRegistry('tls');
    t.after(() => registry.stop());
    const work = await tempDir(t);
    const auth = join(work, 'auth.json');
    const { username, password } = registry.user!;
    await writeFile(auth, JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${username}:${password}`).toString('base64') } } }));
    await writeFile(join(work, 'disk.raw'), disks.bootcAmd);
    const tls = ['--cert-dir', registry.certDir!, '--authfile', auth];
    const push = await runCli(['push', join(work, 'disk.raw'), `${registry.host}/tls/disk:1`, '--format', 'oras', '--target-arch', 'x86_64', ...tls]);
    assert.equal(push.code, 0, push.stderr);
    const pull = await runCli(['pull', `${registry.host}/tls/disk:1`, join(work, 'out.raw'), '--target-arch', 'x86_64', ...tls]);
    assert.equal(pull.code, 0, pull.stderr);
    assert.ok((await readFile(join(work, 'out.raw'))).equals(disks.bootcAmd));
  });
});
