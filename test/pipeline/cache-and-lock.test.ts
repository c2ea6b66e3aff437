// Blob cache, lock file and reproducibility, on pre-fetched (offline) images.
import assert from 'node:assert/strict';
import { cp, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { REPO, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const EXAMPLES = join(REPO, 'examples/containers');
const HELLO = 'registry.example.org/imgdesc/hello:1.0';

async function workspace(t: { after(fn: () => unknown): void }) {
  const dir = await tempDir(t);
  await cp(join(REPO, 'examples/appliance.xml'), join(dir, 'appliance.xml'));
  await cp(EXAMPLES, join(dir, 'containers'), { recursive: true });
  return { dir, description: join(dir, 'appliance.xml'), containers: join(dir, 'containers'), cache: join(dir, 'cache') };
}

const build = (ws: Awaited<ReturnType<typeof workspace>>, root: string, ...extra: string[]) =>
  runCli(['build', ws.description, '--container-dir', ws.containers, '--offline', '--root', root, '--target-arch', 'x86_64', '--cache-dir', ws.cache, '--json', ...extra]);

async function treeBytes(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string, rel: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p, `${rel}${e.name}/`);
      else if (e.isSymbolicLink()) out[`${rel}${e.name}`] = `-> ${await import('node:fs/promises').then((m) => m.readlink(p))}`;
      else out[`${rel}${e.name}`] = (await readFile(p)).toString('base64');
    }
  };
  await walk(root, '');
  return out;
}

describe('reproducibility', () => {
  test('two builds give byte-identical archives and unit files', async (t) => {
    const ws = await workspace(t);
    const a = await build(ws, join(ws.dir, 'a'));
    const b = await build(ws, join(ws.dir, 'b'), '--cache-dir', join(ws.dir, 'other-cache'), '--jobs', '1');
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const ta = await treeBytes(join(ws.dir, 'a'));
    assert.ok(Object.keys(ta).some((k) => k.endsWith('hello_1.0')) && Object.keys(ta).some((k) => k.endsWith('kiwi_containers.service')));
    assert.deepEqual(await treeBytes(join(ws.dir, 'b')), ta);
  });

  test('SOURCE_DATE_EPOCH sets the entry mtime', async (t) => {
    const ws = await workspace(t);
    process.env.SOURCE_DATE_EPOCH = '1700000000';
    t.after(() => delete process.env.SOURCE_DATE_EPOCH);
    assert.equal((await build(ws, join(ws.dir, 'r'))).code, 0);
    const archive = await readFile(join(ws.dir, 'r/var/tmp/kiwi_containers/hello_1.0'));
    // ustar mtime field: 12 octal digits at offset 136 of the first header.
    assert.equal(parseInt(archive.subarray(136, 147).toString(), 8), 1700000000);
  });
});

describe('blob cache', () => {
  test('a warm build takes layers from the cache, not the source', async (t) => {
    const ws = await workspace(t);
    assert.equal((await build(ws, join(ws.dir, 'r1'))).code, 0);
    // Break the layer inside the pre-fetched archive: only a cache hit can still succeed.
    const archive = join(ws.containers, `${HELLO}.ociarchive`);
    const bytes = await readFile(archive);
    const gzipAt = bytes.indexOf(Buffer.from([0x1f, 0x8b, 0x08]));
    bytes[gzipAt + 30] = bytes[gzipAt + 30]! ^ 0xff;
    await writeFile(archive, bytes);
    const warm = await build(ws, join(ws.dir, 'r2'));
    assert.equal(warm.code, 0, warm.stderr);
    const cold = await build(ws, join(ws.dir, 'r3'), '--cache-dir', join(ws.dir, 'empty-cache'));
    assert.equal(cold.code, 4, 'without the cache the broken layer is detected');
  });

  test('a corrupt cache entry is discarded and fetched again, never copied into an archive', async (t) => {
    const ws = await workspace(t);
    const first = await build(ws, join(ws.dir, 'r1'));
    assert.equal(first.code, 0, first.stderr);
    const blobs = join(ws.cache, 'blobs/sha256');
    for (const n of (await readdir(blobs)).filter((x) => !x.endsWith('.json'))) {
      const p = join(blobs, n);
      const b = await readFile(p);
      b[b.length >> 1] = b[b.length >> 1]! ^ 0xff;
      await writeFile(p, b);
    }
    const second = await build(ws, join(ws.dir, 'r2'));
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(await readFile(join(ws.dir, 'r2/var/tmp/kiwi_containers/hello_1.0')), await readFile(join(ws.dir, 'r1/var/tmp/kiwi_containers/hello_1.0')));
  });
});

describe('lock file', () => {
  test('lock round trip: lock, then --locked builds the pinned digests', async (t) => {
    const ws = await workspace(t);
    const l = await runCli(['lock', ws.description, '--container-dir', ws.containers, '--offline', '--target-arch', 'x86_64', '--target-arch', 'aarch64', '--profile', 'debug']);
    assert.equal(l.code, 0, l.stderr);
    const lock = JSON.parse(await readFile(join(ws.dir, 'appliance.lock.json'), 'utf8'));
    assert.equal(lock.images.length, 6);
    const hello = lock.images.find((i: { reference: string; arch: string }) => i.reference === HELLO && i.arch === 'aarch64');
    assert.equal(hello.platform, 'linux/arm64/v8');
    assert.match(hello.indexDigest, /^sha256:/);
    assert.equal(hello.layers.length, 1);
    const r = await build(ws, join(ws.dir, 'root'), '--locked', '--profile', 'debug');
    assert.equal(r.code, 0, r.stderr);
    const x86 = lock.images.find((i: { reference: string; arch: string }) => i.reference === HELLO && i.arch === 'x86_64');
    assert.equal(JSON.parse(r.stdout).containers[0].digest, x86.manifest.digest);
  });

  test('--locked without a lock, or with a lock that misses an image: exit 3', async (t) => {
    const ws = await workspace(t);
    const none = await build(ws, join(ws.dir, 'root'), '--locked');
    assert.equal(none.code, 3);
    assert.match(none.stderr, /--locked, but there is no lock file; run imgdesc lock first/);
    assert.equal((await runCli(['lock', ws.description, '--container-dir', ws.containers, '--offline', '--target-arch', 'x86_64'])).code, 0);
    const more = await build(ws, join(ws.dir, 'root'), '--locked', '--profile', 'debug');
    assert.equal(more.code, 3);
    assert.match(more.stderr, /no longer matches the description: no entry for registry\.example\.org\/imgdesc\/toolbox:1\.0 on x86_64/);
  });

  test('a pre-fetched image that no longer matches the lock is refused (exit 4)', async (t) => {
    const ws = await workspace(t);
    assert.equal((await runCli(['lock', ws.description, '--container-dir', ws.containers, '--offline', '--target-arch', 'x86_64'])).code, 0);
    // "Move the tag": hello:1.0 now holds what hello:1.0-config held.
    await rename(join(ws.containers, 'registry.example.org/imgdesc/hello:1.0-config.ociarchive'), join(ws.containers, `${HELLO}.ociarchive`));
    await cp(join(EXAMPLES, 'registry.example.org/imgdesc/hello:1.0-config.ociarchive'), join(ws.containers, 'registry.example.org/imgdesc/hello:1.0-config.ociarchive'));
    const r = await build(ws, join(ws.dir, 'root'));
    assert.equal(r.code, 4);
    assert.match(r.stderr, /hello:1\.0: oci-archive .* holds manifest sha256:[0-9a-f]+, but the lock file pins sha256:[0-9a-f]+/);
  });
});
