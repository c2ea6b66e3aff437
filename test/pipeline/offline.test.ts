// Offline builds from pre-fetched images, checked with real clients (skopeo, podman).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cp, mkdir, open, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { indexTar } from '../../src/oci/tar-index.js';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { REPO, runCli } from '../helpers/cli.js';
import { description } from '../helpers/descriptions.js';
import { tempDir } from '../helpers/tmp.js';

const EXAMPLE_DIR = join(REPO, 'examples/containers');
const HELLO = 'registry.example.org/imgdesc/hello:1.0';

function skopeo(...args: string[]): string {
  return execFileSync('skopeo', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function podmanLoad(storage: string, archive: string): string {
  const base = ['--root', join(storage, 'root'), '--runroot', join(storage, 'run'), '--storage-driver', 'vfs'];
  execFileSync('podman', [...base, 'load', '-i', archive], { stdio: 'pipe' });
  return execFileSync('podman', [...base, 'images', '--format', '{{.Repository}}:{{.Tag}}'], { encoding: 'utf8' });
}

/** The example archive at a path skopeo can address. */
async function colonFreeCopy(dir: string): Promise<string> {
  const file = join(dir, 'example.ociarchive');
  await cp(join(EXAMPLE_DIR, `${HELLO}.ociarchive`), file);
  return file;
}

async function descriptionFile(t: { after(fn: () => unknown): void }, body: string): Promise<string> {
  const dir = await tempDir(t);
  const file = join(dir, 'appliance.xml');
  await writeFile(file, description(body));
  return file;
}

describe('offline build from a container directory', () => {
  test('the shipped example builds offline; skopeo and podman accept the archives', async (t) => {
    const root = join(await tempDir(t), 'root');
    const r = await runCli(['build', 'examples/appliance.xml', '--container-dir', EXAMPLE_DIR, '--offline', '--root', root, '--target-arch', 'x86_64', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(report.containers.map((c: { reference: string }) => c.reference), [HELLO, 'registry.example.org/imgdesc/hello:1.0-config']);
    const archive = join(root, 'var/tmp/kiwi_containers/hello_1.0');
    const inspect = JSON.parse(skopeo('inspect', `oci-archive:${archive}`));
    assert.equal(inspect.Digest, report.containers[0].digest);
    assert.equal(inspect.Architecture, 'amd64');
    assert.equal(report.containers[0].size, (await stat(archive)).size);
    // skopeo's own copy verifies every digest on the way.
    skopeo('copy', `oci-archive:${archive}`, `oci:${join(root, 'copy')}:x`);
    const storage = await tempDir(t);
    assert.match(podmanLoad(storage, archive), new RegExp(`^${HELLO.replace(/\./g, '\\.')}$`, 'm'));
  });

  test('--target-arch aarch64 takes the arm64 manifest out of the index', async (t) => {
    const root = join(await tempDir(t), 'root');
    const r = await runCli(['build', 'examples/appliance.xml', '--container-dir', EXAMPLE_DIR, '--offline', '--root', root, '--target-arch', 'aarch64', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const inspect = JSON.parse(skopeo('inspect', `oci-archive:${join(root, 'var/tmp/kiwi_containers/hello_1.0')}`));
    assert.equal(inspect.Architecture, 'arm64');
    assert.equal(JSON.parse(r.stdout).containers[0].platform, 'linux/arm64/v8');
  });

  test('an OCI layout directory made by skopeo works as a source too', async (t) => {
    const dir = await tempDir(t);
    const layout = join(dir, 'containers', 'registry.example.org/imgdesc/hello:1.0');
    await mkdir(join(dir, 'containers/registry.example.org/imgdesc'), { recursive: true });
    // skopeo cannot name paths with ":" in them (OBS names have one); work beside and rename.
    skopeo('copy', '--override-arch', 'amd64', `oci-archive:${await colonFreeCopy(dir)}:${HELLO}`, `oci:${join(dir, 'layout')}`);
    await rename(join(dir, 'layout'), layout);
    const file = await descriptionFile(t, '<containers source="registry.example.org/imgdesc" backend="docker"><container name="hello" tag="1.0"/></containers>');
    const root = join(dir, 'root');
    const r = await runCli(['build', file, '--container-dir', join(dir, 'containers'), '--offline', '--root', root, '--target-arch', 'x86_64', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(JSON.parse(r.stdout).containers[0].source, /^oci-layout /);
    const storage = await tempDir(t);
    assert.match(podmanLoad(storage, join(root, 'var/tmp/kiwi_containers/hello_1.0')), /registry\.example\.org\/imgdesc\/hello:1\.0/);
  });

  test('an OBS-style archive written by skopeo (oci-archive:FILE:REF) is used', async (t) => {
    const dir = await tempDir(t);
    const obsDir = join(dir, '_obsrepositories');
    const target = join(obsDir, `${HELLO}.ociarchive`);
    await mkdir(join(obsDir, 'registry.example.org/imgdesc'), { recursive: true });
    skopeo('copy', '--override-arch', 'arm64', `oci-archive:${await colonFreeCopy(dir)}:${HELLO}`, `oci-archive:${join(dir, 'obs.tar')}:${HELLO}`);
    await rename(join(dir, 'obs.tar'), target);
    const file = await descriptionFile(t, '<containers source="registry.example.org" backend="podman"><container name="hello" path="imgdesc" tag="1.0"/></containers>');
    const root = join(dir, 'root');
    const r = await runCli(['build', file, '--container-dir', obsDir, '--offline', '--root', root, '--target-arch', 'aarch64']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /registry\.example\.org\/imgdesc\/hello:1\.0\s+sha256:[0-9a-f]{64}\s+linux\/arm64/);
  });

  test('--offline with a missing archive: exit 4 naming the exact path, nothing written', async (t) => {
    const dir = await tempDir(t);
    const file = await descriptionFile(t, '<containers source="registry.example.org" backend="podman"><container name="absent" tag="9"/></containers>');
    const root = join(dir, 'root');
    const r = await runCli(['build', file, '--container-dir', join(dir, 'empty'), '--offline', '--root', root]);
    assert.equal(r.code, 4);
    assert.ok(r.stderr.includes(`looked for oci-archive ${join(dir, 'empty', 'registry.example.org/absent:9.ociarchive')}, oci-layout ${join(dir, 'empty', 'registry.example.org/absent:9')}`), r.stderr);
    assert.deepEqual(await readdir(join(root, 'var/tmp/kiwi_containers')), []);
  });

  test('a corrupt pre-fetched archive fails with exit 4 and leaves no archive', async (t) => {
    const dir = await tempDir(t);
    const obsDir = join(dir, 'c');
    await cp(EXAMPLE_DIR, obsDir, { recursive: true });
    const archive = join(obsDir, `${HELLO}.ociarchive`);
    // Flip bytes inside the gzip layer (the only gzip blob): its digest no longer matches.
    const fh = await open(archive, 'r+');
    for (const e of (await indexTar(archive)).values()) {
      const magic = Buffer.alloc(2);
      await fh.read(magic, 0, 2, e.offset);
      if (magic[0] === 0x1f && magic[1] === 0x8b) await fh.write(Buffer.from('XXXX'), 0, 4, e.offset + 20);
    }
    await fh.close();
    const root = join(dir, 'root');
    // No cache: a cached copy of the good layer would (rightly) be used instead.
    const r = await runCli(['build', 'examples/appliance.xml', '--container-dir', obsDir, '--offline', '--no-cache', '--root', root, '--target-arch', 'x86_64']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /registry\.example\.org\/imgdesc\/hello:1\.0: blob sha256:[0-9a-f]+ from oci-archive .*: digest mismatch/);
    // Fail-fast: the other image (hello:1.0-config, intact) may have been
    // completed before the failure; nothing of the corrupt one, no temporary file.
    const left = await readdir(join(root, 'var/tmp/kiwi_containers'));
    assert.deepEqual(left.filter((f) => f !== 'hello_1.0-config'), []);
  });

  test('a unit template that does not compile fails the build with exit 2, naming the template, and leaves no archives, units or temporary files', async (t) => {
    const dir = await tempDir(t);
    const templates = join(dir, 'templates');
    await cp(join(REPO, 'templates'), templates, { recursive: true });
    await writeFile(join(templates, 'load.service.hbs'), '[Unit]\nDescription={{#if}}\n');
    const root = join(dir, 'root');
    const r = await runCli(['build', 'examples/appliance.xml', '--container-dir', EXAMPLE_DIR, '--offline', '--root', root, '--target-arch', 'x86_64', '--templates', templates]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.includes(join(templates, 'load.service.hbs')), r.stderr);
    // Archives are written while the units render, but appear only once they have.
    assert.deepEqual(await readdir(join(root, 'var/tmp/kiwi_containers')), []);
    await assert.rejects(stat(join(root, 'etc/systemd/system')), /ENOENT/);
  });
});
