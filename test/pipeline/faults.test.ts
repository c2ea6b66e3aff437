// Network and registry faults, injected by a proxy in front of the real test
// registry. Under each, a build either succeeds with the right archive or fails
// with exit 4 naming the reference, and leaves nothing at a final path.
// docs/fault-matrix.md lists these tests.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { runCli, type CliResult } from '../helpers/cli.js';
import { description } from '../helpers/descriptions.js';
import { startBlobHost, startFaultProxy, type FaultRule } from '../helpers/fault-proxy.js';
import { proxiedRegistry } from '../helpers/proxied-registry.js';
import { digestOf, freePort, makeCa } from '../helpers/registry.js';
import { pushNewImage, type BuiltImage } from '../helpers/test-images.js';
import { buildLeftovers, tempDir } from '../helpers/tmp.js';

const exec = promisify(execFile);
const ARCHIVES = 'var/tmp/kiwi_containers';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
type T = { after(fn: () => unknown): void };
type Pushed = BuiltImage & { pushedDigest: string };

interface Built {
  r: CliResult;
  root: string;
  reference: string;
  ms: number;
}

/** Builds one container through the proxy. */
async function buildThrough(t: T, host: string, name: string, extra: string[] = []): Promise<Built> {
  const dir = await tempDir(t);
  const file = join(dir, 'appliance.xml');
  await writeFile(file, description(`  <containers source="${host}" backend="podman">\n    <container name="${name}" path="faults" tag="1.0"/>\n  </containers>`));
  const root = join(dir, 'root');
  const started = Date.now();
  const r = await runCli(['build', file, '--root', root, '--tls-verify=false', '--retries', '3', '--timeout', '2', '--no-cache', '--json', '--target-arch', 'x86_64', ...extra]);
  return { r, root, reference: `${host}/faults/${name}:1.0`, ms: Date.now() - started };
}

async function assertBuilt(b: Built, image: Pushed): Promise<void> {
  assert.equal(b.r.code, 0, b.r.stderr);
  const { stdout } = await exec('skopeo', ['inspect', `oci-archive:${join(b.root, ARCHIVES, b.reference.slice(b.reference.lastIndexOf('/') + 1).replace(':', '_'))}`]);
  assert.equal(JSON.parse(stdout).Digest, image.pushedDigest, 'the archive holds the registry image');
}

async function assertFailed(b: Built, message: RegExp): Promise<void> {
  assert.equal(b.r.code, 4, `exit 4 expected; stderr: ${b.r.stderr}`);
  assert.ok(b.r.stderr.includes(b.reference), `the reference is named: ${b.r.stderr}`);
  assert.match(b.r.stderr, message);
  assert.deepEqual(await buildLeftovers(b.root), [], 'nothing at a final path, no temporary file');
}

describe('registry faults (proxy in front of the real registry)', () => {
  let big: Pushed;
  let small: Pushed;
  const net = proxiedRegistry('plain', async (work, { registry }) => {
    big = await pushNewImage(work, registry, 'faults/big', '1.0', { seed: 'faults-big', platforms: [{ architecture: 'amd64' }], layers: [{ size: 4_000_000 }] });
    small = await pushNewImage(work, registry, 'faults/small', '1.0', { seed: 'faults-small', platforms: [{ architecture: 'amd64' }], layers: [{ size: 50_000 }] });
  });
  const blobPath = (repo: string, digest: string) => `/v2/faults/${repo}/blobs/${digest}`;
  const manifestPath = (repo: string, ref = '1.0') => `/v2/faults/${repo}/manifests/${ref}`;
  const layerOf = (img: Pushed) => img.manifests[0]!.layers[0]!;
  const use = (rule: FaultRule) => net.proxy.use(rule);

  test('connection reset in the middle of a blob: resumed with a Range request, archive correct', async (t) => {
    const layer = blobPath('big', layerOf(big).digest);
    use((req) => (req.path === layer && req.nth === 1 ? { kind: 'reset', afterBytes: 1_500_000 } : undefined));
    const b = await buildThrough(t, net.proxy.host, 'big');
    await assertBuilt(b, big);
    const gets = net.proxy.requests.filter((r) => r.path === layer);
    assert.equal(gets.length, 2);
    assert.match(String(gets[1]!.headers.range), /^bytes=[1-9]\d*-$/, 'the second request asks for the rest');
  });

  test('connection reset, and a server that ignores Range: restarted from the start, archive correct', async (t) => {
    const layer = blobPath('big', layerOf(big).digest);
    use((req) => (req.path !== layer ? undefined : req.nth === 1 ? { kind: 'reset', afterBytes: 1_500_000 } : { kind: 'ignore-range' }));
    const b = await buildThrough(t, net.proxy.host, 'big');
    await assertBuilt(b, big);
    assert.equal(net.proxy.requests.filter((r) => r.path === layer).length, 2);
  });

  test('500, 502 and 503 answers are retried', async (t) => {
    const statuses = [500, 502, 503];
    use((req) => (req.path === manifestPath('small') && req.nth <= 2 ? { kind: 'status', status: statuses[req.nth - 1]! } : req.path === blobPath('small', layerOf(small).digest) && req.nth === 1 ? { kind: 'status', status: 503 } : undefined));
    const b = await buildThrough(t, net.proxy.host, 'small');
    await assertBuilt(b, small);
    assert.equal(net.proxy.requests.filter((r) => r.path === manifestPath('small')).length, 3);
  });

  test('429 with Retry-After: waits as told, then succeeds', async (t) => {
    const layer = blobPath('small', layerOf(small).digest);
    use((req) => (req.path === layer && req.nth === 1 ? { kind: 'status', status: 429, headers: { 'retry-after': '2' } } : undefined));
    const b = await buildThrough(t, net.proxy.host, 'small');
    await assertBuilt(b, small);
    const [first, second] = net.proxy.requests.filter((r) => r.path === layer);
    assert.ok(second!.at - first!.at >= 1900, `waited ${second!.at - first!.at} ms for Retry-After: 2`);
  });

  test('a registry that keeps answering 503: bounded retries, exit 4 with the answer', async (t) => {
    use((req) => (req.path === manifestPath('small') ? { kind: 'status', status: 503, body: '{"errors":[{"code":"UNAVAILABLE","message":"maintenance"}]}' } : undefined));
    const b = await buildThrough(t, net.proxy.host, 'small');
    await assertFailed(b, /HTTP 503/);
    assert.equal(net.proxy.requests.filter((r) => r.path === manifestPath('small')).length, 3, '--retries 3: three attempts');
  });

  test('a stalled body times out and is resumed', async (t) => {
    const layer = blobPath('big', layerOf(big).digest);
    use((req) => (req.path === layer && req.nth === 1 ? { kind: 'stall', afterBytes: 500_000 } : undefined));
    const b = await buildThrough(t, net.proxy.host, 'big');
    await assertBuilt(b, big);
    assert.equal(net.proxy.requests.filter((r) => r.path === layer).length, 2);
  });

  test('a body that always stalls: exit 4 after the bounded attempts, in bounded time', async (t) => {
    const layer = blobPath('small', layerOf(small).digest);
    use((req) => (req.path === layer ? { kind: 'stall', afterBytes: 1000 } : undefined));
    const b = await buildThrough(t, net.proxy.host, 'small', ['--retries', '2']);
    await assertFailed(b, /stalled: no data within the timeout/);
    assert.equal(net.proxy.requests.filter((r) => r.path === layer).length, 2, '--retries 2: two attempts');
    assert.ok(b.ms < 15_000, `gave up after ${b.ms} ms`);
  });

  test('a manifest body that stalls is asked for again', async (t) => {
    use((req) => (req.path === manifestPath('small') && req.nth === 1 ? { kind: 'stall', afterBytes: 100 } : undefined));
    const b = await buildThrough(t, net.proxy.host, 'small');
    await assertBuilt(b, small);
    assert.equal(net.proxy.requests.filter((r) => r.path === manifestPath('small')).length, 2);
  });

  test('every connection dropped after a reset: the resumed request gets --retries attempts, then exit 4', async (t) => {
    const layer = blobPath('big', layerOf(big).digest);
    use((req) => (req.path !== layer ? undefined : req.nth === 1 ? { kind: 'reset', afterBytes: 1_500_000 } : { kind: 'drop' }));
    const b = await buildThrough(t, net.proxy.host, 'big');
    await assertFailed(b, /connection/);
    assert.equal(net.proxy.requests.filter((r) => r.path === layer).length, 1 + 3, 'the first request, then three attempts to resume (not three times three)');
  });

  for (const [what, fault, message] of [
    ['a truncated body', { kind: 'truncate', toBytes: 20_000 }, /size|bytes/],
    ['a body longer than its descriptor', { kind: 'append', bytes: Buffer.from('trailing garbage') }, /size|bytes/],
    ['wrong bytes', { kind: 'flip', at: 10_000 }, /digest/],
  ] as const) {
    test(`${what}: exit 4 with a mismatch, nothing left`, async (t) => {
      const layer = blobPath('small', layerOf(small).digest);
      use((req) => (req.path === layer ? fault : undefined));
      await assertFailed(await buildThrough(t, net.proxy.host, 'small'), message);
    });
  }

  test('a manifest over the 4 MiB cap is refused (declared length and chunked)', async (t) => {
    const huge = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, padding: 'x'.repeat(5 * 1024 * 1024) });
    for (const chunked of [false, true]) {
      use((req) => (req.path === manifestPath('small') ? { kind: 'status', status: 200, headers: { 'content-type': OCI_MANIFEST }, body: huge, chunked } : undefined));
      await assertFailed(await buildThrough(t, net.proxy.host, 'small'), /larger than|over the/);
    }
  });

  test('an index that keeps nesting indexes is refused at a fixed depth', async (t) => {
    // A chain of 20 indexes, each naming the next by its real digest.
    const docs = new Map<string, string>();
    let next = { mediaType: OCI_MANIFEST, digest: small.pushedDigest, size: 1, platform: { os: 'linux', architecture: 'amd64' } };
    let top = '';
    for (let i = 0; i < 20; i++) {
      top = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [next] });
      const digest = digestOf(top);
      docs.set(digest, top);
      next = { mediaType: OCI_INDEX, digest, size: Buffer.byteLength(top), platform: { os: 'linux', architecture: 'amd64' } };
    }
    use((req) => {
      if (!req.path.startsWith('/v2/faults/small/manifests/')) return undefined;
      const ref = req.path.slice(req.path.lastIndexOf('/') + 1);
      const body = ref === '1.0' ? top : docs.get(ref);
      return body ? { kind: 'status', status: 200, headers: { 'content-type': OCI_INDEX }, body } : undefined;
    });
    const b = await buildThrough(t, net.proxy.host, 'small');
    await assertFailed(b, /nest more than \d+ levels/);
    assert.ok(net.proxy.requests.length < 10, 'stopped following early');
  });

  test('a manifest that is not JSON is a clear error', async (t) => {
    use((req) => (req.path === manifestPath('small') ? { kind: 'status', status: 200, headers: { 'content-type': OCI_MANIFEST }, body: '<html>maintenance</html>' } : undefined));
    await assertFailed(await buildThrough(t, net.proxy.host, 'small'), /not JSON/);
  });

  test('a Content-Type that disagrees with the manifest mediaType is a clear error', async (t) => {
    use((req) => (req.path === manifestPath('small') ? { kind: 'headers', rewrite: (h) => void (h['content-type'] = 'application/vnd.docker.distribution.manifest.list.v2+json') } : undefined));
    await assertFailed(await buildThrough(t, net.proxy.host, 'small'), /served a .* but the document says/);
  });
});

describe('redirects and token realms (token registry behind the proxy)', () => {
  let image: Pushed;
  let authfile: string;
  const net = proxiedRegistry('token', async (work, { registry, proxy }) => {
    image = await pushNewImage(work, registry, 'faults/private', '1.0', { seed: 'faults-private', platforms: [{ architecture: 'amd64' }], layers: [{ size: 200_000 }] });
    authfile = join(work, 'auth.json');
    await writeFile(authfile, JSON.stringify({ auths: { [proxy.host]: { auth: Buffer.from(`${registry.user!.username}:${registry.user!.password}`).toString('base64') } } }));
  });

  test('a blob redirected (307) to another host is fetched there, without the Authorization header', async (t) => {
    const storage = await startBlobHost((d) => net.registry.blobDataPath(d));
    t.after(() => storage.stop());
    net.proxy.use((req) => (req.path.includes('/blobs/') ? { kind: 'status', status: 307, headers: { location: `${storage.origin}/storage/${req.path.slice(req.path.lastIndexOf('/') + 1)}?signature=abc` } } : undefined));
    const b = await buildThrough(t, net.proxy.host, 'private', ['--authfile', authfile]);
    await assertBuilt(b, image);
    assert.ok(net.proxy.requests.some((r) => r.path.includes('/blobs/') && String(r.headers.authorization).startsWith('Bearer ')), 'the registry got the token');
    assert.ok(storage.requests.length >= 2, 'config and layer came from the other host');
    for (const r of storage.requests) assert.equal(r.headers.authorization, undefined, `no Authorization sent to ${storage.origin}${r.path}`);
    assert.ok(!JSON.stringify(storage.requests).includes(net.registry.user!.password));
  });

  /** Points the token realm of every challenge at `realm`. */
  const realmAt = (realm: string): FaultRule => () => ({
    kind: 'headers',
    rewrite: (h) => {
      if (typeof h['www-authenticate'] === 'string') h['www-authenticate'] = h['www-authenticate'].replace(/realm="[^"]*"/, `realm="${realm}"`);
    },
  });

  test('a token realm on an unexpected, unreachable host: exit 4 naming the realm; the secret not shown', async (t) => {
    const port = await freePort();
    net.proxy.use(realmAt(`http://127.0.0.3:${port}/token`));
    const b = await buildThrough(t, net.proxy.host, 'private', ['--authfile', authfile, '--retries', '1']);
    await assertFailed(b, new RegExp(`127\\.0\\.0\\.3:${port}/token`));
    assert.ok(!(b.r.stdout + b.r.stderr).includes(net.registry.user!.password));
  });

  test('with TLS verified, credentials never go over plain http to a token realm on another host', async (t) => {
    const dir = await tempDir(t);
    const ca = await makeCa(dir);
    const certDir = join(dir, 'certs');
    await mkdir(certDir);
    await copyFile(ca.caCert, join(certDir, 'ca.crt'));
    const tlsProxy = await startFaultProxy(net.registry.host, () => undefined, { tls: { cert: await readFile(ca.cert), key: await readFile(ca.key) } });
    t.after(() => tlsProxy.stop());
    const tlsAuthfile = join(dir, 'auth.json');
    await writeFile(tlsAuthfile, JSON.stringify({ auths: { [tlsProxy.host]: { auth: Buffer.from(`${net.registry.user!.username}:${net.registry.user!.password}`).toString('base64') } } }));
    // A token service on another host that records whatever reaches it.
    const seen: IncomingHttpHeaders[] = [];
    const realm = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"stolen"}');
    });
    await new Promise<void>((r) => realm.listen(0, '127.0.0.3', () => r()));
    t.after(() => new Promise((r) => realm.close(r)));
    tlsProxy.use(realmAt(`http://127.0.0.3:${(realm.address() as AddressInfo).port}/token`));
    // The last --tls-verify wins: this build verifies TLS.
    const b = await buildThrough(t, tlsProxy.host, 'private', ['--authfile', tlsAuthfile, '--cert-dir', certDir, '--tls-verify=true']);
    assert.deepEqual(seen, [], 'nothing reached the realm');
    await assertFailed(b, /over plain http on another host; refused/);
    assert.ok(tlsProxy.requests.length > 0 && tlsProxy.requests.every((r) => r.headers.authorization === undefined), 'the registry was asked over https, without credentials yet');
  });
});
