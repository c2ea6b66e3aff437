// Images from where authors have them (README "Where images come from"),
// through the CLI with real parts: a podman store and a dockerd of the test's
// own, docker-registry, skopeo-written layouts and archives. What a build
// writes is checked by real clients: `podman load` into yet another store
// (the names it lists, the image ID it gets), and skopeo reading the manifest.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { runCli, type CliResult } from '../helpers/cli.js';
import { description } from '../helpers/descriptions.js';
import { privateDocker, privatePodman, scratchContext, withEnv, type PrivateDocker, type PrivatePodman } from '../helpers/local-stores.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { makeImage, pushNewImage, type BuiltImage } from '../helpers/test-images.js';
import { buildLeftovers, tempDir } from '../helpers/tmp.js';

const exec = promisify(execFile);
const ARCHIVES = 'var/tmp/kiwi_containers';
type Hooks = { after(fn: () => unknown): void };
type Pushed = BuiltImage & { pushedDigest: string };

interface Row {
  reference: string;
  archive: string;
  path: string;
  digest: string;
  platform: string;
  source: string;
}

/** The --json report's containers; the build must have succeeded. */
function rows(r: CliResult): Row[] {
  assert.equal(r.code, 0, `build failed (${r.code}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { containers: Row[] }).containers;
}

function row(r: CliResult, reference: string): Row {
  const found = rows(r).find((c) => c.reference === reference);
  assert.ok(found, `no report row for ${reference} in ${r.stdout}`);
  return found;
}

/** A description planning `images` ([source, name, tag]), one <containers> section per source. */
async function descriptionFile(dir: string, images: Array<[source: string, name: string, tag: string]>, file = 'appliance.xml'): Promise<string> {
  const bySource = new Map<string, string[]>();
  for (const [source, name, tag] of images) {
    bySource.set(source, [...(bySource.get(source) ?? []), `    <container name="${name}" tag="${tag}"/>`]);
  }
  const body = [...bySource].map(([source, lines]) => `  <containers source="${source}" backend="podman">\n${lines.join('\n')}\n  </containers>`).join('\n');
  const path = join(dir, file);
  await writeFile(path, description(body));
  return path;
}

/** The archive a build writes for name:tag. */
const archiveIn = (root: string, name: string, tag: string) => join(root, ARCHIVES, `${name}_${tag}`);

/** The config digest of the (only) image in an oci-archive, as skopeo reads its manifest. */
async function configDigest(archive: string): Promise<string> {
  const { stdout } = await exec('skopeo', ['inspect', '--raw', `oci-archive:${archive}`], { maxBuffer: 16 * 1024 * 1024 });
  return (JSON.parse(stdout) as { config: { digest: string } }).config.digest;
}

const withPrefix = (id: string) => (id.startsWith('sha256:') ? id : `sha256:${id}`);

/** `podman load` of each archive into a throwaway store: name:tag -> image ID (sha256:…). */
async function podmanLoad(t: Hooks, archives: string[]): Promise<Map<string, string>> {
  const storage = await tempDir(t, 'imgdesc-load-');
  const base = ['--root', join(storage, 'root'), '--runroot', join(storage, 'run'), '--storage-driver', 'vfs'];
  for (const a of archives) await exec('podman', [...base, 'load', '-i', a]);
  const { stdout } = await exec('podman', [...base, 'images', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
  return new Map(
    stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [name, id] = l.split(' ');
        return [name!, withPrefix(id!)];
      }),
  );
}

/** A failed build left nothing in its root: no archive, no temporary file. */
async function assertNothingWritten(root: string): Promise<void> {
  assert.deepEqual(await buildLeftovers(root), [], 'no archive and no temporary file after a failed build');
}

async function emptyAuthFile(dir: string): Promise<string> {
  const file = join(dir, 'no-auth.json');
  await writeFile(file, '{"auths":{}}');
  return file;
}

const sha256File = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

/**
 * `imgdesc lock` from a source, then two `build --locked` from it: the lock
 * records the source, and the archives are byte-identical.
 */
async function lockAndRebuild(t: Hooks, env: NodeJS.ProcessEnv, desc: string, planned: string, archive: [name: string, tag: string], sourceArgs: string[], origin: string): Promise<void> {
  const dir = await tempDir(t);
  const l = await withEnv(env, () => runCli(['lock', desc, ...sourceArgs, '--offline', '--target-arch', 'x86_64']));
  assert.equal(l.code, 0, l.stderr);
  const lockFile = desc.replace(/\.xml$/, '.lock.json');
  const lock = JSON.parse(await readFile(lockFile, 'utf8')) as { images: Array<{ reference: string; source?: string; manifest: { digest: string } }> };
  assert.deepEqual(lock.images.map((i) => [i.reference, i.source]), [[planned, origin]]);
  const roots = [join(dir, 'a'), join(dir, 'b')];
  for (const root of roots) {
    const r = await withEnv(env, () => runCli(['build', desc, '--locked', ...sourceArgs, '--offline', '--no-cache', '--root', root, '--target-arch', 'x86_64', '--json']));
    assert.equal(row(r, planned).digest, lock.images[0]!.manifest.digest, 'the build serves the pinned manifest');
  }
  const [a, b] = await Promise.all(roots.map((root) => sha256File(archiveIn(root, ...archive))));
  assert.equal(a, b, 'two --locked builds from the same local source: byte-identical archives');
}

describe('podman storage: --local-store podman and containers-storage:NAME', () => {
  let podman: PrivatePodman;
  let registry: TestRegistry;
  let work: string;
  let auth: string;
  /** localhost/papp:1, built here. */
  let appId: string;
  /** localhost/dev/other:wip, a name no description plans. */
  let otherId: string;
  /** REGISTRY/imgdesc/both:1 built into podman (the registry has a different image under that name). */
  let bothLocalId: string;
  let bothPushed: Pushed;
  let regOnly: Pushed;
  const hooks: Array<() => unknown> = [];
  const inStore = <T>(fn: () => Promise<T>) => withEnv({ CONTAINERS_STORAGE_CONF: podman.env.CONTAINERS_STORAGE_CONF }, fn);
  const idOf = async (name: string) => withPrefix((await podman.podman('image', 'inspect', '--format', '{{.Id}}', name)).trim());

  before(async () => {
    work = await tempDir({ after: (fn: () => unknown) => hooks.push(fn) });
    auth = await emptyAuthFile(work);
    podman = await privatePodman();
    registry = await startRegistry('plain');
    await podman.podman('build', '-q', '-t', 'localhost/papp:1', await scratchContext(join(work, 'papp'), 'papp 1\n'));
    await podman.podman('build', '-q', '-t', 'localhost/dev/other:wip', await scratchContext(join(work, 'other'), 'other wip\n'));
    await podman.podman('build', '-q', '-t', `${registry.host}/imgdesc/both:1`, await scratchContext(join(work, 'both'), 'both, local build\n'));
    await podman.podman('build', '-q', '--platform', 'linux/arm64', '-t', 'localhost/parm:1', await scratchContext(join(work, 'parm'), 'arm64\n'));
    appId = await idOf('localhost/papp:1');
    otherId = await idOf('localhost/dev/other:wip');
    bothLocalId = await idOf(`${registry.host}/imgdesc/both:1`);
    regOnly = await pushNewImage(work, registry, 'imgdesc/regonly', '1', { seed: 'local-sources-regonly', platforms: [{ architecture: 'amd64' }] });
    bothPushed = await pushNewImage(work, registry, 'imgdesc/both', '1', { seed: 'local-sources-both', platforms: [{ architecture: 'amd64' }] });
  });
  after(async () => {
    await registry?.stop();
    await podman?.stop();
    for (const h of hooks) await h();
  });

  test('--local-store podman: a podman-built image lands in an archive podman loads under the planned name, with the same image ID', async (t) => {
    const dir = await tempDir(t);
    const desc = await descriptionFile(dir, [['localhost', 'papp', '1']]);
    const root = join(dir, 'root');
    const tmp = await tempDir(t);
    const r = await inStore(() => withEnv({ TMPDIR: tmp }, () => runCli(['build', desc, '--local-store', 'podman', '--offline', '--no-cache', '--root', root, '--target-arch', 'x86_64', '--json'])));
    assert.deepEqual(await readdir(tmp), [], 'the export from podman (in $TMPDIR) is removed afterwards');
    const c = row(r, 'localhost/papp:1');
    assert.equal(c.source, 'containers-storage localhost/papp:1');
    assert.equal(c.platform, 'linux/amd64');
    const archive = archiveIn(root, 'papp', '1');
    assert.equal(c.path, archive);
    assert.equal(await configDigest(archive), appId, 'the config digest is the image ID podman gave the image');
    const loaded = await podmanLoad(t, [archive]);
    assert.deepEqual([...loaded.keys()], ['localhost/papp:1']);
    assert.equal(loaded.get('localhost/papp:1'), appId);
  });

  test('--source REF=containers-storage:NAME with another name: the archive is named by the planned reference', async (t) => {
    const dir = await tempDir(t);
    const desc = await descriptionFile(dir, [['registry.example.org/imgdesc', 'app', '2']]);
    const root = join(dir, 'root');
    const r = await inStore(() =>
      runCli(['build', desc, '--source', 'registry.example.org/imgdesc/app:2=containers-storage:localhost/dev/other:wip', '--offline', '--no-cache', '--root', root, '--target-arch', 'x86_64', '--json']),
    );
    assert.equal(row(r, 'registry.example.org/imgdesc/app:2').source, 'containers-storage localhost/dev/other:wip');
    const archive = archiveIn(root, 'app', '2');
    assert.equal(await configDigest(archive), otherId);
    const loaded = await podmanLoad(t, [archive]);
    assert.deepEqual([...loaded.keys()], ['registry.example.org/imgdesc/app:2'], 'loaded under the planned reference only, not the store name');
    assert.equal(loaded.get('registry.example.org/imgdesc/app:2'), otherId);
  });

  test('lookup order: the store first, the registry for what the store lacks; without --local-store the registry', async (t) => {
    const dir = await tempDir(t);
    const desc = await descriptionFile(dir, [[`${registry.host}/imgdesc`, 'both', '1'], [`${registry.host}/imgdesc`, 'regonly', '1']]);
    const bothRef = `${registry.host}/imgdesc/both:1`;
    const regRef = `${registry.host}/imgdesc/regonly:1`;

    const local = join(dir, 'local');
    const r = await inStore(() => runCli(['build', desc, '--local-store', 'podman', '--tls-verify=false', '--authfile', auth, '--no-cache', '--root', local, '--target-arch', 'x86_64', '--json']));
    assert.equal(row(r, bothRef).source, `containers-storage ${bothRef}`);
    assert.equal(await configDigest(archiveIn(local, 'both', '1')), bothLocalId, 'the store has it: the local build wins over the registry');
    assert.equal(row(r, regRef).source, `registry ${registry.host}`);
    assert.equal(row(r, regRef).digest, regOnly.pushedDigest);
    assert.equal(await configDigest(archiveIn(local, 'regonly', '1')), regOnly.manifests[0]!.config);
    const loaded = await podmanLoad(t, [archiveIn(local, 'both', '1'), archiveIn(local, 'regonly', '1')]);
    assert.deepEqual([...loaded.keys()].sort(), [bothRef, regRef].sort());

    const remote = join(dir, 'remote');
    const r2 = await inStore(() => runCli(['build', desc, '--tls-verify=false', '--authfile', auth, '--no-cache', '--root', remote, '--target-arch', 'x86_64', '--json']));
    assert.equal(row(r2, bothRef).source, `registry ${registry.host}`);
    assert.equal(row(r2, bothRef).digest, bothPushed.pushedDigest);
    assert.equal(await configDigest(archiveIn(remote, 'both', '1')), bothPushed.manifests[0]!.config);
  });

  test('lock --local-store podman records the store; two --locked builds from it are byte-identical', async (t) => {
    const dir = await tempDir(t);
    const desc = await descriptionFile(dir, [['localhost', 'papp', '1']]);
    await lockAndRebuild(t, { CONTAINERS_STORAGE_CONF: podman.env.CONTAINERS_STORAGE_CONF }, desc, 'localhost/papp:1', ['papp', '1'], ['--local-store', 'podman'], 'containers-storage localhost/papp:1');
  });

  test('--local-store podman --offline and an image the store lacks: exit 4 naming the places looked, nothing written', async (t) => {
    const dir = await tempDir(t);
    const desc = await descriptionFile(dir, [[`${registry.host}/imgdesc`, 'regonly', '1']]);
    const root = join(dir, 'root');
    const r = await inStore(() => runCli(['build', desc, '--local-store', 'podman', '--offline', '--no-cache', '--root', root, '--target-arch', 'x86_64']));
    assert.equal(r.code, 4, r.stderr);
    assert.ok(r.stderr.includes(`containers-storage ${registry.host}/imgdesc/regonly:1`), r.stderr);
    await assertNothingWritten(root);
  });

  test('--source containers-storage:NAME the store does not have: exit 4 naming it, nothing written', async (t) => {
    const dir = await tempDir(t);
    const desc = await descriptionFile(dir, [['localhost', 'papp', '1']]);
    const root = join(dir, 'root');
    const r = await inStore(() => runCli(['build', desc, '--source', 'localhost/papp:1=containers-storage:localhost/nope:1', '--offline', '--no-cache', '--root', root, '--target-arch', 'x86_64']));
    assert.equal(r.code, 4, r.stderr);
    assert.ok(r.stderr.includes('localhost/nope:1'), r.stderr);
    await assertNothingWritten(root);
  });

  test('podman not on PATH: exit 4 "podman is not installed (not found on PATH)", for --local-store and --source', async (t) => {
    const dir = await tempDir(t);
    const emptyPath = await tempDir(t);
    const desc = await descriptionFile(dir, [['localhost', 'papp', '1']]);
    for (const [i, args] of [['--local-store', 'podman'], ['--source', 'localhost/papp:1=containers-storage:localhost/papp:1']].entries()) {
      const root = join(dir, `root${i}`);
      const r = await inStore(() => withEnv({ PATH: emptyPath }, () => runCli(['build', desc, ...args, '--offline', '--no-cache', '--root', root, '--target-arch', 'x86_64'])));
      assert.equal(r.code, 4, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /podman is not installed \(not found on PATH\)/, args.join(' '));
      await assertNothingWritten(root);
    }
  });

  test('podman failing (a storage it cannot use): exit 4 with podman\'s own words', async (t) => {
    const dir = await tempDir(t);
    const conf = join(dir, 'storage.conf');
    await writeFile(conf, `[storage]\ndriver = "no-such-driver"\ngraphroot = "${join(dir, 'g')}"\nrunroot = "${join(dir, 'r')}"\n`);
    const desc = await descriptionFile(dir, [['localhost', 'papp', '1']]);
    const root = join(dir, 'root');
    const r = await withEnv({ CONTAINERS_STORAGE_CONF: conf }, () => runCli(['build', desc, '--local-store', 'podman', '--offline', '--no-cache', '--root', root, '--target-arch', 'x86_64']));
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /no-such-driver/, 'podman\'s last stderr line names what it could not use');
    await assertNothingWritten(root);
  });

  test('a store image for another platform (linux/arm64) built for x86_64: exit 4 naming both platforms, nothing written', async (t) => {
    const dir = await tempDir(t);
    const desc = await descriptionFile(dir, [['localhost', 'parm', '1']]);
    const root = join(dir, 'root');
    const tmp = await tempDir(t);
    const r = await inStore(() => withEnv({ TMPDIR: tmp }, () => runCli(['build', desc, '--local-store', 'podman', '--offline', '--no-cache', '--root', root, '--target-arch', 'x86_64'])));
    assert.deepEqual(await readdir(tmp), [], 'the export from podman is removed after a failed build too');
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /linux\/arm64/);
    assert.match(r.stderr, /linux\/amd64/);
    await assertNothingWritten(root);
  });
});

describe('docker daemon: --local-store docker and docker-daemon:NAME', () => {
  let docker: PrivateDocker;
  let work: string;
  /** localhost/dbuilt:1, made by docker build. */
  let builtId: string;
  /** localhost/dloaded:2, docker load of a docker-archive skopeo wrote. */
  let loadedId: string;
  /** localhost/dloaded:2 as the OCI layout it was made from. */
  let loadedLayout: BuiltImage;
  /** docker save localhost/dbuilt:1 localhost/dloaded:2 */
  let twoImages: string;
  const hooks: Array<() => unknown> = [];
  const inDocker = <T>(fn: () => Promise<T>) => withEnv({ DOCKER_HOST: docker.host, DOCKER_BUILDKIT: '0' }, fn);
  const idOf = async (name: string) => (await docker.docker('image', 'inspect', '--format', '{{.Id}}', name)).trim();

  before(async () => {
    work = await tempDir({ after: (fn: () => unknown) => hooks.push(fn) });
    docker = await privateDocker();
    const ctx = await scratchContext(join(work, 'dbuilt'), 'dbuilt 1\n');
    await docker.docker('build', '-q', '-t', 'localhost/dbuilt:1', '-f', join(ctx, 'Containerfile'), ctx);
    loadedLayout = await makeImage(join(work, 'dloaded-layout'), { seed: 'local-sources-dloaded', platforms: [{ architecture: 'amd64' }], layers: [{ size: 40_000 }, { size: 900 }] }, '2');
    const saved = join(work, 'dloaded.tar');
    await exec('skopeo', ['copy', '--quiet', `oci:${loadedLayout.layout}:2`, `docker-archive:${saved}:localhost/dloaded:2`]);
    await docker.docker('load', '-q', '-i', saved);
    await docker.docker('tag', 'localhost/dbuilt:1', 'mytool/app:dev');
    builtId = await idOf('localhost/dbuilt:1');
    loadedId = await idOf('localhost/dloaded:2');
    twoImages = join(work, 'two.tar');
    await docker.docker('save', 'localhost/dbuilt:1', 'localhost/dloaded:2', '-o', twoImages);
  });
  after(async () => {
    await docker?.stop();
    for (const h of hooks) await h();
  });

  test('--local-store docker: a docker-built and a docker-loaded image, loaded by podman under the planned names with the same IDs', async (t) => {
    assert.equal(loadedId, loadedLayout.manifests[0]!.config, 'precondition: docker load kept the config (the image ID is its digest)');
    const dir = await tempDir(t);
    const desc = await descriptionFile(dir, [['localhost', 'dbuilt', '1'], ['localhost', 'dloaded', '2']]);
    const root = join(dir, 'root');
    const r = await inDocker(() => runCli(['build', desc, '--local-store', 'docker', '--offline', '--no-cache', '--root', root, '--target-arch', 'x86_64', '--json']));
    assert.equal(row(r, 'localhost/dbuilt:1').source, 'docker-daemon localhost/dbuilt:1');
    assert.equal(row(r, 'localhost/dloaded:2').source, 'docker-daemon localhost/dloaded:2');
    assert.equal(await configDigest(archiveIn(root, 'dbuilt', '1')), builtId);
    assert.equal(await configDigest(archiveIn(root, 'dloaded', '2')), loadedId);
    const loaded = await podmanLoad(t, [archiveIn(root, 'dbuilt', '1'), archiveIn(root, 'dloaded', '2')]);
    assert.deepEqual([...loaded.keys()].sort(), ['localhost/dbuilt:1', 'localhost/dloaded:2']);
    assert.equal(loaded.get('localhost/dbuilt:1'), builtId);
    assert.equal(loaded.get('localhost/dloaded:2'), loadedId);
  });

  test('--source REF=docker-daemon:NAME (docker\'s short spelling of another name): named by the planned reference', async (t) => {
    const dir = await tempDir(t);
    const desc = await descriptionFile(dir, [['registry.example.org/imgdesc', 'fromdocker', '1']]);
    const root = join(dir, 'root');
    const r = await inDocker(() =>
      runCli(['build', desc, '--source', 'registry.example.org/imgdesc/fromdocker:1=docker-daemon:mytool/app:dev', '--offline', '--no-cache', '--root', root, '--target-arch', 'x86_64', '--json']),
    );
    assert.equal(row(r, 'registry.example.org/imgdesc/fromdocker:1').source, 'docker-daemon mytool/app:dev');
    const archive = archiveIn(root, 'fromdocker', '1');
    assert.equal(await configDigest(archive), builtId);
    const loaded = await podmanLoad(t, [archive]);
    assert.deepEqual([...loaded.keys()], ['registry.example.org/imgdesc/fromdocker:1']);
    assert.equal(loaded.get('registry.example.org/imgdesc/fromdocker:1'), builtId);
  });

  test('lock --source docker-daemon:NAME records it; two --locked builds from the daemon are byte-identical', async (t) => {
    const dir = await tempDir(t);
    const planned = 'registry.example.org/imgdesc/fromdocker:1';
    const desc = await descriptionFile(dir, [['registry.example.org/imgdesc', 'fromdocker', '1']]);
    await lockAndRebuild(t, { DOCKER_HOST: docker.host }, desc, planned, ['fromdocker', '1'], ['--source', `${planned}=docker-daemon:localhost/dbuilt:1`], 'docker-daemon localhost/dbuilt:1');
  });

  test('a docker save of two images: without NAME exit 4 listing both names; with NAME the one named', async (t) => {
    const dir = await tempDir(t);
    const desc = await descriptionFile(dir, [['registry.example.org/imgdesc', 'pick', '1']]);
    const bad = join(dir, 'bad');
    const r = await runCli(['build', desc, '--source', `registry.example.org/imgdesc/pick:1=docker-archive:${twoImages}`, '--offline', '--no-cache', '--root', bad, '--target-arch', 'x86_64']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /localhost\/dbuilt:1/);
    assert.match(r.stderr, /localhost\/dloaded:2/);
    await assertNothingWritten(bad);

    const good = join(dir, 'good');
    const r2 = await runCli(['build', desc, '--source', `registry.example.org/imgdesc/pick:1=docker-archive:${twoImages}:localhost/dloaded:2`, '--offline', '--no-cache', '--root', good, '--target-arch', 'x86_64', '--json']);
    assert.equal(row(r2, 'registry.example.org/imgdesc/pick:1').source, `docker-archive ${twoImages}:localhost/dloaded:2`);
    assert.equal(await configDigest(archiveIn(good, 'pick', '1')), loadedId);
  });

  test('an image the daemon does not have: exit 4 for docker-daemon:NAME, and for --local-store docker --offline', async (t) => {
    const dir = await tempDir(t);
    const desc = await descriptionFile(dir, [['localhost', 'nope', '1']]);
    const viaSource = join(dir, 'source');
    const r = await inDocker(() => runCli(['build', desc, '--source', 'localhost/nope:1=docker-daemon:localhost/nope:1', '--offline', '--no-cache', '--root', viaSource, '--target-arch', 'x86_64']));
    assert.equal(r.code, 4, r.stderr);
    assert.ok(r.stderr.includes('localhost/nope:1'), r.stderr);
    await assertNothingWritten(viaSource);

    const viaStore = join(dir, 'store');
    const r2 = await inDocker(() => runCli(['build', desc, '--local-store', 'docker', '--offline', '--no-cache', '--root', viaStore, '--target-arch', 'x86_64']));
    assert.equal(r2.code, 4, r2.stderr);
    assert.ok(r2.stderr.includes('docker-daemon localhost/nope:1'), r2.stderr);
    await assertNothingWritten(viaStore);
  });

  test('docker not on PATH: exit 4 "docker is not installed (not found on PATH)"', async (t) => {
    const dir = await tempDir(t);
    const emptyPath = await tempDir(t);
    const desc = await descriptionFile(dir, [['localhost', 'dbuilt', '1']]);
    for (const [i, args] of [['--local-store', 'docker'], ['--source', 'localhost/dbuilt:1=docker-daemon:localhost/dbuilt:1']].entries()) {
      const root = join(dir, `root${i}`);
      const r = await inDocker(() => withEnv({ PATH: emptyPath }, () => runCli(['build', desc, ...args, '--offline', '--no-cache', '--root', root, '--target-arch', 'x86_64'])));
      assert.equal(r.code, 4, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /docker is not installed \(not found on PATH\)/, args.join(' '));
      await assertNothingWritten(root);
    }
  });

  test('docker failing (DOCKER_HOST with no daemon): exit 4 with docker\'s last stderr line', async (t) => {
    const dir = await tempDir(t);
    const desc = await descriptionFile(dir, [['localhost', 'dbuilt', '1']]);
    const host = `unix://${join(dir, 'no-daemon.sock')}`;
    for (const [i, args] of [['--local-store', 'docker'], ['--source', 'localhost/dbuilt:1=docker-daemon:localhost/dbuilt:1']].entries()) {
      const root = join(dir, `root${i}`);
      const r = await withEnv({ DOCKER_HOST: host }, () => runCli(['build', desc, ...args, '--offline', '--no-cache', '--root', root, '--target-arch', 'x86_64']));
      assert.equal(r.code, 4, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /Cannot connect to the Docker daemon/, args.join(' '));
      await assertNothingWritten(root);
    }
  });
});

describe('layouts, archives and another registry: --source oci:, oci-archive:, docker-archive:, docker://', () => {
  let regA: TestRegistry;
  let regB: TestRegistry;
  let work: string;
  let auth: string;
  let app: Pushed;
  let other: Pushed;
  let onlyB: Pushed;
  /** An OCI layout holding app (as "app") and other (as "other"). */
  let layout: string;
  /** That layout as a tar: an oci-archive with two images. */
  let many: string;
  /** app as skopeo writes a docker-archive (named localhost/app:1). */
  let appDocker: string;
  /** other as a docker-archive. */
  let otherDocker: string;
  /** The arm64 image of a two-platform image, as a docker-archive. */
  let armDocker: string;
  let multi: Pushed;
  const hooks: Array<() => unknown> = [];
  const fromA = (repo: string) => `docker://${regA.host}/${repo}`;

  before(async () => {
    work = await tempDir({ after: (fn: () => unknown) => hooks.push(fn) });
    auth = await emptyAuthFile(work);
    regA = await startRegistry('plain');
    regB = await startRegistry('plain');
    app = await pushNewImage(work, regA, 'imgdesc/app', '1', { seed: 'local-sources-app', platforms: [{ architecture: 'amd64' }], layers: [{ size: 60_000 }, { size: 500 }] });
    other = await pushNewImage(work, regA, 'imgdesc/other', '2', { seed: 'local-sources-other', platforms: [{ architecture: 'amd64' }] });
    multi = await pushNewImage(work, regA, 'imgdesc/multi', '1', { seed: 'local-sources-multi', platforms: [{ architecture: 'amd64' }, { architecture: 'arm64' }] });
    onlyB = await pushNewImage(join(work, 'b'), regB, 'imgdesc/onlyb', '1', { seed: 'local-sources-onlyb', platforms: [{ architecture: 'amd64' }] });
    const skopeo = (...args: string[]) => exec('skopeo', ['copy', '--quiet', '--src-tls-verify=false', ...args]);
    layout = join(work, 'layout');
    await skopeo('--preserve-digests', fromA('imgdesc/app:1'), `oci:${layout}:app`);
    await skopeo('--preserve-digests', fromA('imgdesc/other:2'), `oci:${layout}:other`);
    many = join(work, 'many.tar');
    await exec('tar', ['-cf', many, '-C', layout, '.']);
    appDocker = join(work, 'app-docker.tar');
    await skopeo(fromA('imgdesc/app:1'), `docker-archive:${appDocker}:localhost/app:1`);
    otherDocker = join(work, 'other-docker.tar');
    await skopeo(fromA('imgdesc/other:2'), `docker-archive:${otherDocker}:localhost/other:2`);
    armDocker = join(work, 'arm-docker.tar');
    await skopeo('--override-arch', 'arm64', fromA('imgdesc/multi:1'), `docker-archive:${armDocker}:localhost/multi:1`);
  });
  after(async () => {
    await regA?.stop();
    await regB?.stop();
    for (const h of hooks) await h();
  });

  test('oci:DIR:NAME, oci-archive:FILE:NAME (two images in one archive) and docker-archive:FILE, offline', async (t) => {
    const dir = await tempDir(t);
    const R = 'registry.example.org/imgdesc';
    const desc = await descriptionFile(dir, [[R, 'fromlayout', '1'], [R, 'fromociarchive', '1'], [R, 'fromdockerarchive', '1']]);
    const root = join(dir, 'root');
    const r = await runCli([
      'build', desc,
      '--source', `${R}/fromlayout:1=oci:${layout}:other`,
      '--source', `${R}/fromociarchive:1=oci-archive:${many}:app`,
      '--source', `${R}/fromdockerarchive:1=docker-archive:${appDocker}`,
      '--offline', '--no-cache', '--root', root, '--target-arch', 'x86_64', '--json',
    ]);
    const fromLayout = row(r, `${R}/fromlayout:1`);
    assert.equal(fromLayout.source, `oci-layout ${layout}:other`);
    assert.equal(fromLayout.digest, other.pushedDigest, 'an OCI layout keeps the registry manifest');
    assert.equal(await configDigest(archiveIn(root, 'fromlayout', '1')), other.manifests[0]!.config);
    const fromOciArchive = row(r, `${R}/fromociarchive:1`);
    assert.equal(fromOciArchive.source, `oci-archive ${many}:app`);
    assert.equal(fromOciArchive.digest, app.pushedDigest);
    assert.equal(await configDigest(archiveIn(root, 'fromociarchive', '1')), app.manifests[0]!.config);
    const fromDockerArchive = row(r, `${R}/fromdockerarchive:1`);
    assert.equal(fromDockerArchive.source, `docker-archive ${appDocker}`);
    assert.equal(await configDigest(archiveIn(root, 'fromdockerarchive', '1')), app.manifests[0]!.config, 'a docker-archive keeps the config: same image ID');
    const loaded = await podmanLoad(t, ['fromlayout', 'fromociarchive', 'fromdockerarchive'].map((n) => archiveIn(root, n, '1')));
    assert.deepEqual([...loaded.keys()].sort(), [`${R}/fromdockerarchive:1`, `${R}/fromlayout:1`, `${R}/fromociarchive:1`]);
    assert.equal(loaded.get(`${R}/fromlayout:1`), other.manifests[0]!.config);
    assert.equal(loaded.get(`${R}/fromociarchive:1`), app.manifests[0]!.config);
    assert.equal(loaded.get(`${R}/fromdockerarchive:1`), app.manifests[0]!.config);
  });

  test('docker:// to a second registry: the image only that one has, archived under the planned reference', async (t) => {
    const dir = await tempDir(t);
    const planned = `${regA.host}/imgdesc/onlyb:1`;
    const desc = await descriptionFile(dir, [[`${regA.host}/imgdesc`, 'onlyb', '1']]);
    const flags = ['--tls-verify=false', '--authfile', auth, '--no-cache', '--target-arch', 'x86_64'];
    const without = join(dir, 'without');
    const r0 = await runCli(['build', desc, ...flags, '--root', without]);
    assert.equal(r0.code, 4, `precondition: the planned registry lacks it: ${r0.stderr}`);

    const root = join(dir, 'root');
    const r = await runCli(['build', desc, '--source', `${planned}=docker://${regB.host}/imgdesc/onlyb:1`, ...flags, '--root', root, '--json']);
    const c = row(r, planned);
    assert.equal(c.source, `registry ${regB.host}`);
    assert.equal(c.digest, onlyB.pushedDigest);
    const archive = archiveIn(root, 'onlyb', '1');
    assert.equal(await configDigest(archive), onlyB.manifests[0]!.config);
    const loaded = await podmanLoad(t, [archive]);
    assert.deepEqual([...loaded.keys()], [planned]);
  });

  test('lock with --source docker-archive: records the source; two --locked builds are byte-identical; other content is exit 4', async (t) => {
    const dir = await tempDir(t);
    const planned = 'registry.example.org/imgdesc/locked:1';
    const desc = await descriptionFile(dir, [['registry.example.org/imgdesc', 'locked', '1']]);
    const source = `${planned}=docker-archive:${appDocker}`;
    const l = await runCli(['lock', desc, '--source', source, '--offline', '--target-arch', 'x86_64', '--json']);
    assert.equal(l.code, 0, l.stderr);
    const lock = JSON.parse(await readFile(join(dir, 'appliance.lock.json'), 'utf8')) as {
      images: Array<{ reference: string; source?: string; manifest: { digest: string }; config: { digest: string } }>;
    };
    assert.equal(lock.images.length, 1);
    assert.equal(lock.images[0]!.reference, planned);
    assert.equal(lock.images[0]!.source, `docker-archive ${appDocker}`);
    assert.equal(lock.images[0]!.config.digest, app.manifests[0]!.config);

    const a = join(dir, 'a');
    const b = join(dir, 'b');
    const ra = await runCli(['build', desc, '--locked', '--source', source, '--offline', '--no-cache', '--root', a, '--target-arch', 'x86_64', '--json']);
    const rb = await runCli(['build', desc, '--locked', '--source', source, '--offline', '--root', b, '--target-arch', 'x86_64', '--json']);
    assert.equal(row(ra, planned).digest, lock.images[0]!.manifest.digest);
    assert.equal(row(rb, planned).digest, lock.images[0]!.manifest.digest);
    assert.equal(await sha256File(archiveIn(a, 'locked', '1')), await sha256File(archiveIn(b, 'locked', '1')), 'same lock, same source: byte-identical archives');

    const c = join(dir, 'c');
    const rc = await runCli(['build', desc, '--locked', '--source', `${planned}=docker-archive:${otherDocker}`, '--offline', '--no-cache', '--root', c, '--target-arch', 'x86_64']);
    assert.equal(rc.code, 4, `a docker-archive with other content than the lock pins: ${rc.stderr}`);
    assert.ok(rc.stderr.includes(lock.images[0]!.manifest.digest), rc.stderr);
    await assertNothingWritten(c);
  });

  test('an arm64 docker-archive built for x86_64: exit 4 naming both platforms, nothing written; for aarch64 it builds', async (t) => {
    const dir = await tempDir(t);
    const planned = 'registry.example.org/imgdesc/arm:1';
    const desc = await descriptionFile(dir, [['registry.example.org/imgdesc', 'arm', '1']]);
    const root = join(dir, 'x86');
    const r = await runCli(['build', desc, '--source', `${planned}=docker-archive:${armDocker}`, '--offline', '--no-cache', '--root', root, '--target-arch', 'x86_64']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /linux\/arm64/);
    assert.match(r.stderr, /linux\/amd64/);
    await assertNothingWritten(root);

    const arm = join(dir, 'arm');
    const r2 = await runCli(['build', desc, '--source', `${planned}=docker-archive:${armDocker}`, '--offline', '--no-cache', '--root', arm, '--target-arch', 'aarch64', '--json']);
    assert.match(row(r2, planned).platform, /^linux\/arm64/);
    const armManifest = multi.manifests.find((m) => m.platform.architecture === 'arm64')!;
    assert.equal(await configDigest(archiveIn(arm, 'arm', '1')), armManifest.config);
  });

  test('a missing file or directory: exit 4 naming the path, nothing written', async (t) => {
    const dir = await tempDir(t);
    const planned = 'registry.example.org/imgdesc/gone:1';
    const desc = await descriptionFile(dir, [['registry.example.org/imgdesc', 'gone', '1']]);
    const missing = join(dir, 'nonexistent');
    for (const [i, spec] of [`docker-archive:${missing}.tar`, `oci:${missing}-layout`, `oci-archive:${missing}.ociarchive`].entries()) {
      const root = join(dir, `root${i}`);
      const r = await runCli(['build', desc, '--source', `${planned}=${spec}`, '--offline', '--no-cache', '--root', root, '--target-arch', 'x86_64']);
      assert.equal(r.code, 4, `${spec}: ${r.stderr}`);
      assert.ok(r.stderr.includes(spec.slice(spec.indexOf(':') + 1)), `${spec}: the path is named: ${r.stderr}`);
      await assertNothingWritten(root);
    }
  });

  test('an oci-archive holding two images and no NAME: exit 4 listing the names', async (t) => {
    const dir = await tempDir(t);
    const planned = 'registry.example.org/imgdesc/which:1';
    const desc = await descriptionFile(dir, [['registry.example.org/imgdesc', 'which', '1']]);
    for (const [i, spec] of [`oci-archive:${many}`, `oci:${layout}`].entries()) {
      const root = join(dir, `root${i}`);
      const r = await runCli(['build', desc, '--source', `${planned}=${spec}`, '--offline', '--no-cache', '--root', root, '--target-arch', 'x86_64']);
      assert.equal(r.code, 4, `${spec}: ${r.stderr}`);
      assert.match(r.stderr, /\bapp\b/, spec);
      assert.match(r.stderr, /\bother\b/, spec);
      await assertNothingWritten(root);
    }
  });

  test('malformed --source, an unplanned REF, a short name, docker:// with --offline: exit 2, nothing written', async (t) => {
    const dir = await tempDir(t);
    const R = 'registry.example.org/imgdesc';
    const desc = await descriptionFile(dir, [[R, 'one', '1'], [R, 'two', '2']]);
    const cases: Array<[args: string[], message: RegExp]> = [
      [['--source', `oci-archive:${many}`], /REF=TRANSPORT:LOCATION/],
      [['--source', `=oci-archive:${many}`], /REF=TRANSPORT:LOCATION/],
      [['--source', `${R}/one:1=nosuch:${many}`], /TRANSPORT:LOCATION/],
      [['--source', `${R}/one:1=${many}`], /TRANSPORT:LOCATION/],
      [['--source', `${R}/one:1=oci-archive:`], /oci-archive/],
      [['--source', `${R}/one:1=docker-archive:`], /docker-archive/],
      [['--source', `${R}/one:1=oci:`], /oci/],
      [['--source', `${R}/one:1=containers-storage:`], /containers-storage/],
      [['--source', `${R}/one:1=docker-daemon:`], /docker-daemon/],
      [['--source', `${R}/one:1=docker://busybox`], /short names are not supported, use a fully-qualified name/],
      [['--source', `${R}/one:1=docker://${regA.host}/imgdesc/app:1`, '--offline'], /--offline/],
      [['--source', `${R}/one:1=oci-archive:${many}:app`, '--source', `${R}/one:1=oci-archive:${many}:other`], /twice/],
      [['--local-store', 'podmn'], /--local-store takes podman, docker or none/],
    ];
    for (const [i, [args, message]] of cases.entries()) {
      const root = join(dir, `root${i}`);
      const r = await runCli(['build', desc, ...args, '--no-cache', '--root', root, '--target-arch', 'x86_64']);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      await assertNothingWritten(root);
    }
    // A REF that is not planned: the message lists the planned references.
    const root = join(dir, 'unplanned');
    const r = await runCli(['build', desc, '--source', `${R}/three:3=oci-archive:${many}:app`, '--offline', '--no-cache', '--root', root, '--target-arch', 'x86_64']);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.includes(`${R}/three:3`), r.stderr);
    assert.ok(r.stderr.includes(`${R}/one:1`) && r.stderr.includes(`${R}/two:2`), `the planned references are listed: ${r.stderr}`);
    await assertNothingWritten(root);
    // lock checks the same way.
    const l = await runCli(['lock', desc, '--source', `${R}/one:1=docker://busybox`, '--target-arch', 'x86_64']);
    assert.equal(l.code, 2, l.stderr);
    assert.match(l.stderr, /short names are not supported, use a fully-qualified name/);
  });
});
