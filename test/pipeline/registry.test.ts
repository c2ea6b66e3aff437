// imgdesc build against a real registry (docker-registry) in its three shapes:
// plain http, TLS with Basic auth, and Bearer tokens. What it writes is checked
// by real clients: skopeo inspect/copy and podman load into a throwaway store.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { MANIFEST_ACCEPT } from '../../src/oci/media-types.js';
import { RegistryClient } from '../../src/registry/client.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { description } from '../helpers/descriptions.js';
import { freePort, startRegistry, type RegistryShape, type TestRegistry } from '../helpers/registry.js';
import { pushNewImage, type BuiltImage } from '../helpers/test-images.js';
import { buildLeftovers, listFiles, tempDir } from '../helpers/tmp.js';

const exec = promisify(execFile);
const ARCHIVES = 'var/tmp/kiwi_containers';

async function skopeoJson(...args: string[]): Promise<Record<string, unknown>> {
  return JSON.parse((await exec('skopeo', args, { maxBuffer: 16 * 1024 * 1024 })).stdout);
}

async function podmanImages(t: { after(fn: () => unknown): void }, archives: string[]): Promise<string[]> {
  const storage = await tempDir(t, 'imgdesc-podman-');
  const base = ['--root', join(storage, 'root'), '--runroot', join(storage, 'run'), '--storage-driver', 'vfs'];
  for (const a of archives) await exec('podman', [...base, 'load', '-i', a]);
  const { stdout } = await exec('podman', [...base, 'images', '--format', '{{.Repository}}:{{.Tag}}']);
  return stdout.split('\n').filter(Boolean).sort();
}

/** A failed build left nothing: no archive, no temporary file. */
async function assertNothingWritten(root: string): Promise<void> {
  assert.deepEqual(await buildLeftovers(root), [], 'no archive and no temporary file after a failed build');
}

interface Images {
  single: BuiltImage & { pushedDigest: string };
  schema2: BuiltImage & { pushedDigest: string };
  multi: BuiltImage & { pushedDigest: string };
}

const MULTI_PLATFORMS = [{ architecture: 'amd64' }, { architecture: 'arm64', variant: 'v8' }, { architecture: 'arm', variant: 'v7' }];

/** A registry of the given shape holding the three kinds of image. */
async function registryWithImages(shape: RegistryShape, work: string): Promise<{ registry: TestRegistry; images: Images }> {
  const registry = await startRegistry(shape);
  const images: Images = {
    single: await pushNewImage(work, registry, 'imgdesc/single', '1.0', { seed: `single-${shape}`, platforms: [{ architecture: 'amd64' }], layers: [{ size: 200_000 }, { size: 50_000 }] }),
    schema2: await pushNewImage(work, registry, 'imgdesc/schema2', '1.0', { seed: `schema2-${shape}`, platforms: [{ architecture: 'amd64' }], layers: [{ size: 120_000 }] }, 'v2s2'),
    multi: await pushNewImage(work, registry, 'imgdesc/multi', '1.0', { seed: `multi-${shape}`, platforms: MULTI_PLATFORMS, layers: [{ size: 100_000, shared: `base-${shape}` }, { size: 30_000 }] }),
  };
  return { registry, images };
}

async function authFile(dir: string, host: string, username: string, password: string): Promise<string> {
  const file = join(dir, `auth-${username}-${password.length}.json`);
  await writeFile(file, JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${username}:${password}`).toString('base64') } } }));
  return file;
}

/** The flags a build needs to reach this registry, with the given credentials (or none). */
async function accessFlags(registry: TestRegistry, dir: string, creds: { username: string; password: string } | null): Promise<string[]> {
  const flags = registry.shape === 'tls' ? ['--cert-dir', registry.certDir!] : ['--tls-verify=false'];
  // An empty auth file keeps the machine's own credentials out of the test.
  const file = creds ? await authFile(dir, registry.host, creds.username, creds.password) : join(dir, 'no-auth.json');
  if (!creds) await writeFile(file, '{"auths":{}}');
  return [...flags, '--authfile', file];
}

async function descriptionFor(dir: string, host: string, containers: string, name = 'appliance.xml'): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, description(`  <containers source="${host}" backend="podman">\n${containers}\n  </containers>`));
  return file;
}

const containerXml = (name: string, tag = '1.0', extra = '') => `    <container name="${name}" path="imgdesc" tag="${tag}"${extra}/>`;

interface Report {
  containers: Array<{ reference: string; archive: string; digest: string; platform: string; size: number }>;
}

function parseReport(r: CliResult): Report {
  assert.equal(r.code, 0, `build failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Report;
}

const manifestFor = (image: BuiltImage, architecture: string) => image.manifests.find((m) => m.platform.architecture === architecture)!;

for (const shape of ['plain', 'tls', 'token'] as const) {
  describe(`build from a ${shape} registry`, () => {
    let work: string;
    let registry: TestRegistry;
    let images: Images;
    let good: string[];
    const hooks: Array<() => unknown> = [];

    before(async () => {
      work = await tempDir({ after: (fn: () => unknown) => hooks.push(fn) });
      ({ registry, images } = await registryWithImages(shape, work));
      good = await accessFlags(registry, work, registry.user ?? null);
    });
    after(async () => {
      await registry?.stop();
      for (const h of hooks) await h();
    });

    test('single-arch OCI, Docker schema 2 and a multi-arch index: archives that skopeo and podman accept', async (t) => {
      const dir = await tempDir(t);
      const desc = await descriptionFor(dir, registry.host, [containerXml('single'), containerXml('schema2'), containerXml('multi')].join('\n'));
      const root = join(dir, 'root');
      const report = parseReport(await runCli(['build', desc, '--root', root, '--target-arch', 'x86_64', '--no-cache', '--json', ...good]));
      const expected = [
        [`${registry.host}/imgdesc/single:1.0`, 'single_1.0', images.single.pushedDigest],
        [`${registry.host}/imgdesc/schema2:1.0`, 'schema2_1.0', images.schema2.pushedDigest],
        [`${registry.host}/imgdesc/multi:1.0`, 'multi_1.0', manifestFor(images.multi, 'amd64').digest],
      ] as const;
      assert.deepEqual(
        report.containers.map((c) => [c.reference, c.archive, c.digest, c.platform]),
        expected.map(([ref, file, digest]) => [ref, `/${ARCHIVES}/${file}`, digest, 'linux/amd64']),
      );
      for (const [i, [ref, file, digest]] of expected.entries()) {
        const archive = join(root, ARCHIVES, file);
        assert.equal(report.containers[i]!.size, (await stat(archive)).size);
        const inspect = await skopeoJson('inspect', `oci-archive:${archive}`);
        assert.equal(inspect.Digest, digest, `skopeo sees the registry's manifest digest in ${file}`);
        // skopeo verifies every blob it copies; the copy keeps the manifest when it is OCI.
        const layout = join(dir, `copy-${file}`);
        await exec('skopeo', ['copy', '--quiet', `oci-archive:${archive}`, `oci:${layout}:x`]);
        const copied = await skopeoJson('inspect', `oci:${layout}:x`);
        assert.deepEqual(copied.Layers, inspect.Layers);
        if (file !== 'schema2_1.0') assert.equal(copied.Digest, digest);
      }
      // The schema 2 manifest stays schema 2: its digest is the registry's.
      const raw = await skopeoJson('inspect', '--raw', `oci-archive:${join(root, ARCHIVES, 'schema2_1.0')}`);
      assert.equal(raw.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
      const loaded = await podmanImages(t, expected.map(([, file]) => join(root, ARCHIVES, file)));
      assert.deepEqual(loaded, expected.map(([ref]) => ref).sort());
    });

    test('--target-arch aarch64 and armv7l take their own manifest and content from the index', async (t) => {
      const dir = await tempDir(t);
      const desc = await descriptionFor(dir, registry.host, containerXml('multi'));
      for (const [arch, architecture, platform] of [
        ['aarch64', 'arm64', 'linux/arm64/v8'],
        ['armv7l', 'arm', 'linux/arm/v7'],
      ] as const) {
        const root = join(dir, arch);
        const report = parseReport(await runCli(['build', desc, '--root', root, '--target-arch', arch, '--json', ...good]));
        const want = manifestFor(images.multi, architecture);
        assert.equal(report.containers[0]!.digest, want.digest);
        assert.equal(report.containers[0]!.platform, platform);
        const inspect = await skopeoJson('inspect', `oci-archive:${join(root, ARCHIVES, 'multi_1.0')}`);
        assert.equal(inspect.Digest, want.digest);
        assert.equal((inspect.Labels as Record<string, string>)['org.imgdesc.test.platform'], platform, 'the config of that platform');
        assert.deepEqual(inspect.Layers, want.layers.map((l) => l.digest), 'the layers of that platform');
      }
    });

    test('unknown repository and unknown tag: exit 4 naming the reference, no archive', async (t) => {
      const dir = await tempDir(t);
      for (const [name, tag] of [
        ['nosuchrepo', '1.0'],
        ['single', 'nosuchtag'],
      ] as const) {
        const root = join(dir, `root-${name}`);
        const desc = await descriptionFor(dir, registry.host, containerXml(name, tag), `${name}.xml`);
        const r = await runCli(['build', desc, '--root', root, '--no-cache', ...good]);
        assert.equal(r.code, 4, r.stderr);
        assert.match(r.stderr, new RegExp(`${registry.host}/imgdesc/${name}:${tag}`));
        assert.match(r.stderr, /not found/);
        await assertNothingWritten(root);
      }
    });

    test('a registry serving corrupted blob bytes: exit 4 with a digest mismatch, no archive', async (t) => {
      const dir = await tempDir(t);
      const img = await pushNewImage(dir, registry, 'imgdesc/corrupt', '1.0', { seed: `corrupt-${shape}`, platforms: [{ architecture: 'amd64' }], layers: [{ size: 80_000 }] });
      // Same size, different bytes: only the digest can tell.
      const data = registry.blobDataPath(img.manifests[0]!.layers[0]!.digest);
      const bytes = await readFile(data);
      bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
      await writeFile(data, bytes);
      const root = join(dir, 'root');
      const desc = await descriptionFor(dir, registry.host, `${containerXml('single')}\n${containerXml('corrupt')}`);
      const r = await runCli(['build', desc, '--root', root, '--target-arch', 'x86_64', '--no-cache', ...good]);
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, new RegExp(`${registry.host}/imgdesc/corrupt:1\\.0`));
      assert.match(r.stderr, /digest/i);
      // Fail-fast: the other image may or may not have been finished, but nothing is half-written.
      const left = (await listFiles(root)).filter((f) => f.includes('corrupt') || f.includes('.imgdesc-tmp-'));
      assert.deepEqual(left, []);
    });

    if (shape !== 'plain') {
      test('wrong credentials and no credentials: exit 4, the reference named, the secret never shown', async (t) => {
        const dir = await tempDir(t);
        const desc = await descriptionFor(dir, registry.host, containerXml('single'));
        const wrongPassword = `wrong-${registry.user!.password}`;
        const wrong = await runCli(['build', desc, '--root', join(dir, 'r1'), '--no-cache', ...(await accessFlags(registry, dir, { username: registry.user!.username, password: wrongPassword }))]);
        assert.equal(wrong.code, 4, wrong.stderr);
        assert.match(wrong.stderr, new RegExp(`${registry.host}/imgdesc/single:1\\.0`));
        assert.match(wrong.stderr, /rejected the credentials/);
        const all = wrong.stdout + wrong.stderr;
        for (const secret of [wrongPassword, Buffer.from(`${registry.user!.username}:${wrongPassword}`).toString('base64')]) {
          assert.ok(!all.includes(secret), 'the password is not in the output');
        }
        await assertNothingWritten(join(dir, 'r1'));

        const anonymous = await runCli(['build', desc, '--root', join(dir, 'r2'), '--no-cache', ...(await accessFlags(registry, dir, null))]);
        assert.equal(anonymous.code, 4, anonymous.stderr);
        assert.match(anonymous.stderr, /requires (authentication|credentials)/);
        await assertNothingWritten(join(dir, 'r2'));
      });

      test('a successful authenticated build never prints the secret', async (t) => {
        const dir = await tempDir(t);
        const desc = await descriptionFor(dir, registry.host, containerXml('single'));
        for (const extra of [['--json'], []]) {
          const r = await runCli(['build', desc, '--root', join(dir, `r${extra.length}`), '--no-cache', ...extra, ...good]);
          assert.equal(r.code, 0, r.stderr);
          const all = r.stdout + r.stderr;
          assert.ok(!all.includes(registry.user!.password));
          assert.ok(!all.includes(Buffer.from(`${registry.user!.username}:${registry.user!.password}`).toString('base64')));
        }
      });
    }

    if (shape === 'token') {
      test('the token service is asked for pull access to each repository, with the credentials', async (t) => {
        const dir = await tempDir(t);
        const seen = registry.tokenRequests().length;
        const desc = await descriptionFor(dir, registry.host, containerXml('multi'));
        parseReport(await runCli(['build', desc, '--root', join(dir, 'root'), '--target-arch', 'x86_64', '--no-cache', '--json', ...good]));
        const requests = registry.tokenRequests().slice(seen);
        assert.ok(requests.length >= 1);
        assert.ok(requests.every((r) => r.authorized));
        assert.deepEqual([...new Set(requests.flatMap((r) => r.scope))], ['repository:imgdesc/multi:pull']);
      });
    }

    if (shape === 'tls') {
      test('TLS is verified: without the CA the build fails and says how to trust it', async (t) => {
        const dir = await tempDir(t);
        const desc = await descriptionFor(dir, registry.host, containerXml('single'));
        const flags = (await accessFlags(registry, dir, registry.user!)).filter((f, i, all) => f !== '--cert-dir' && all[i - 1] !== '--cert-dir');
        const r = await runCli(['build', desc, '--root', join(dir, 'root'), '--no-cache', '--retries', '1', ...flags]);
        assert.equal(r.code, 4, r.stderr);
        assert.match(r.stderr, new RegExp(`${registry.host}/imgdesc/single:1\\.0`));
        assert.match(r.stderr, /TLS verification .* failed.*--cert-dir/);
        await assertNothingWritten(join(dir, 'root'));
      });

      test('with verified TLS the first request is the manifest: no /v2/ probe round trip', async (t) => {
        const dir = await tempDir(t);
        const desc = await descriptionFor(dir, registry.host, containerXml('single'));
        const seen = (await registry.accessLog()).length;
        const r = await runCli(['build', desc, '--root', join(dir, 'root'), '--no-cache', '--target-arch', 'x86_64', '--quiet', ...good]);
        assert.equal(r.code, 0, r.stderr);
        const paths = (await registry.accessLog()).slice(seen).map((e) => e.path);
        assert.ok(!paths.includes('/v2/'), paths.join(' '));
        assert.match(paths[0]!, /^\/v2\/imgdesc\/single\/manifests\/1\.0$/);
      });

      test('a CA in certs.d/<host>/ is trusted, as podman does', async (t) => {
        const dir = await tempDir(t);
        const certsD = join(dir, 'certs.d');
        await mkdir(join(certsD, registry.host), { recursive: true });
        await writeFile(join(certsD, registry.host, 'ca.crt'), await readFile(join(registry.certDir!, 'ca.crt')));
        const signal = AbortSignal.timeout(30_000);
        const withCa = new RegistryClient(registry.host, { tlsVerify: true, certsD, credentials: { authFile: await authFile(dir, registry.host, registry.user!.username, registry.user!.password) } });
        const without = new RegistryClient(registry.host, { tlsVerify: true, certsD: join(dir, 'empty'), credentials: { authFile: join(dir, 'none.json') }, retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
        t.after(() => Promise.all([withCa.close(), without.close()]));
        const res = await withCa.fetch('GET', '/v2/imgdesc/single/manifests/1.0', { repository: 'imgdesc/single', accept: MANIFEST_ACCEPT, signal });
        assert.equal(res.status, 200);
        await res.body.dump();
        await assert.rejects(without.fetch('GET', '/v2/imgdesc/single/manifests/1.0', { repository: 'imgdesc/single', accept: MANIFEST_ACCEPT, signal }), /TLS verification/);
      });
    }
  });
}

test('an unreachable registry: exit 4 naming the reference and the address', async (t) => {
  const dir = await tempDir(t);
  const host = `127.0.0.1:${await freePort()}`;
  const desc = await descriptionFor(dir, host, containerXml('single'));
  const root = join(dir, 'root');
  const r = await runCli(['build', desc, '--root', root, '--tls-verify=false', '--retries', '1', '--no-cache']);
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, new RegExp(`${host}/imgdesc/single:1\\.0`));
  assert.match(r.stderr, /cannot reach .*connection refused/);
  await assertNothingWritten(root);
});
