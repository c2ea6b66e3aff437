// RegistryClient against the real test registry: Basic auth over TLS, Bearer
// tokens, redirects (Authorization never leaves its origin), retries. The
// fault proxy stands in front of the registry only to redirect or fail.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MANIFEST_ACCEPT } from '../../src/oci/media-types.js';
import { RegistryClient, RegistryHttpError, type RegistryClientOptions, type RegistryResponse } from '../../src/registry/client.js';
import { startBlobHost } from '../helpers/fault-proxy.js';
import { proxiedRegistry } from '../helpers/proxied-registry.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { pushNewImage, type BuiltImage } from '../helpers/test-images.js';
import { tempDir } from '../helpers/tmp.js';

type Pushed = BuiltImage & { pushedDigest: string };
type User = { username: string; password: string };

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const FAST_RETRY = { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 };

async function body(res: RegistryResponse): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res.body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** An auth file holding `user` for `host`, as podman login writes it. */
async function authFile(dir: string, host: string, user: User): Promise<string> {
  const file = join(dir, `auth-${createHash('sha256').update(host + user.username + user.password).digest('hex').slice(0, 8)}.json`);
  await writeFile(file, JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user.username}:${user.password}`).toString('base64') } } }));
  return file;
}

/** Asserts that `p` fails with a RegistryHttpError of `kind`, returns it. */
async function failsWith(p: Promise<unknown>, kind: RegistryHttpError['kind'], status: number | null): Promise<RegistryHttpError> {
  let caught: unknown;
  await p.then(
    () => assert.fail('expected a failure'),
    (err: unknown) => (caught = err),
  );
  assert.ok(caught instanceof RegistryHttpError, String(caught));
  assert.equal(caught.kind, kind, caught.message);
  assert.equal(caught.status, status, caught.message);
  return caught;
}

describe('Basic auth over TLS (registry with htpasswd)', () => {
  let registry: TestRegistry;
  let image: Pushed;
  let work: string;
  const cleanups: Array<() => unknown> = [];
  const clients: RegistryClient[] = [];
  before(async () => {
    registry = await startRegistry('tls');
    work = await tempDir({ after: (fn: () => unknown) => cleanups.push(fn) });
    image = await pushNewImage(work, registry, 'private/app', '1.0', { seed: 'client-basic', platforms: [{ architecture: 'amd64' }] });
  });
  after(async () => {
    for (const c of clients) await c.close();
    await registry?.stop();
    for (const c of cleanups) await c();
  });

  const client = async (user: User | null, extra: Partial<RegistryClientOptions> = {}) => {
    const credentials = user ? { authFile: await authFile(work, registry.host, user) } : { env: {}, home: work };
    const c = new RegistryClient(registry.host, { tlsVerify: true, certDir: registry.certDir, certsD: join(work, 'no-certs.d'), credentials, retry: FAST_RETRY, ...extra });
    clients.push(c);
    return c;
  };
  const manifest = (c: RegistryClient, tag = '1.0') => c.fetch('GET', `/v2/private/app/manifests/${tag}`, { repository: 'private/app', accept: MANIFEST_ACCEPT, signal: AbortSignal.timeout(10_000) });

  test('with the credentials of the auth file: the manifest; later requests send them without another challenge', async () => {
    const c = await client(registry.user!);
    const seen = (await registry.accessLog()).length;
    const res = await manifest(c);
    assert.equal(res.status, 200);
    assert.equal(sha256(await body(res)), image.pushedDigest);
    assert.equal(res.url, `https://${registry.host}/v2/private/app/manifests/1.0`);
    const again = await manifest(c);
    assert.equal(again.status, 200);
    await body(again);
    const log = (await registry.accessLog()).slice(seen).filter((e) => e.path === '/v2/private/app/manifests/1.0');
    assert.deepEqual(log.map((e) => e.status), [401, 200, 200], 'one challenge, then Basic sent up front');
  });

  test('without credentials: auth error telling to log in', async () => {
    const err = await failsWith(manifest(await client(null)), 'auth', 401);
    assert.match(err.message, /requires authentication/);
    assert.match(err.message, /--authfile/);
  });

  test('with a wrong password: auth error, the password not in the message', async () => {
    const wrong = { username: registry.user!.username, password: 'not-the-password-42' };
    const err = await failsWith(manifest(await client(wrong)), 'auth', 401);
    assert.match(err.message, /rejected the credentials/);
    assert.ok(!err.message.includes(wrong.password), err.message);
  });

  test("a registry whose CA is not trusted: a TLS error telling how to trust it; --tls-verify=false reads it", async () => {
    const untrusted = await client(registry.user!, { certDir: undefined });
    const err = await failsWith(manifest(untrusted), 'tls', null);
    assert.match(err.message, /--cert-dir/);
    assert.ok(err.message.includes(registry.host), err.message);
    const unverified = await client(registry.user!, { certDir: undefined, tlsVerify: false });
    const res = await manifest(unverified);
    assert.equal(res.status, 200);
    assert.equal(res.url.startsWith('https://'), true, 'still https when https answers');
    await body(res);
  });

  test('a client certificate without its key in certs.d/<host>/: a TLS error naming the files', async (t) => {
    const certsD = await tempDir(t);
    await mkdir(join(certsD, registry.host));
    await writeFile(join(certsD, registry.host, 'client.cert'), 'not used');
    const err = await failsWith(manifest(await client(registry.user!, { certsD })), 'tls', null);
    assert.ok(err.message.includes(join(certsD, registry.host, 'client.cert')) && err.message.includes(join(certsD, registry.host, 'client.key')), err.message);
  });

  test('other answers than 401 are returned to the caller', async () => {
    const res = await manifest(await client(registry.user!), 'absent');
    assert.equal(res.status, 404);
    await body(res);
  });
});

describe('Bearer tokens, redirects and retries (token registry behind the fault proxy)', () => {
  let image: Pushed;
  let work: string;
  const clients: RegistryClient[] = [];
  const net = proxiedRegistry('token', async (dir, { registry }) => {
    work = dir;
    image = await pushNewImage(dir, registry, 'private/app', '1.0', { seed: 'client-token', platforms: [{ architecture: 'amd64' }], layers: [{ size: 100_000 }] });
  });
  after(async () => {
    for (const c of clients) await c.close();
  });

  const client = async (user: User | null, extra: Partial<RegistryClientOptions> = {}) => {
    const credentials = user ? { authFile: await authFile(work, net.proxy.host, user) } : { env: {}, home: work };
    const c = new RegistryClient(net.proxy.host, { tlsVerify: false, credentials, retry: FAST_RETRY, ...extra });
    clients.push(c);
    return c;
  };
  const get = (c: RegistryClient, path: string) => c.fetch('GET', `/v2/private/app/${path}`, { repository: 'private/app', accept: MANIFEST_ACCEPT, signal: AbortSignal.timeout(10_000) });
  const layer = () => image.manifests[0]!.layers[0]!;
  const layerBytes = () => readFile(join(image.layout, 'blobs/sha256', layer().digest.slice('sha256:'.length)));
  const tokenRequests = () => net.registry.tokenRequests().length;

  test('a token for the repository scope, fetched once and reused for manifest and blobs', async () => {
    net.proxy.use(() => undefined);
    const c = await client(net.registry.user!);
    const before = tokenRequests();
    const m = await get(c, 'manifests/1.0');
    assert.equal(m.status, 200);
    assert.equal(sha256(await body(m)), image.pushedDigest);
    const b = await get(c, `blobs/${layer().digest}`);
    assert.equal(b.status, 200);
    assert.ok((await body(b)).equals(await layerBytes()), 'the layer as pushed');
    const asked = net.registry.tokenRequests().slice(before);
    assert.deepEqual(asked.map(({ scope, authorized }) => ({ scope, authorized })), [{ scope: ['repository:private/app:pull'], authorized: true }]);
    assert.ok(net.proxy.requests.filter((r) => r.path.startsWith('/v2/private/')).slice(-2).every((r) => String(r.headers.authorization).startsWith('Bearer ')), 'the token was sent');
  });

  test('parallel requests that meet the same challenge share one token request', async () => {
    const c = await client(net.registry.user!);
    const before = tokenRequests();
    const all = await Promise.all(Array.from({ length: 6 }, () => get(c, 'manifests/1.0')));
    for (const r of all) {
      assert.equal(r.status, 200);
      await body(r);
    }
    assert.equal(tokenRequests() - before, 1);
  });

  test('anonymous: the anonymous token grants nothing, an auth error telling to log in', async () => {
    const err = await failsWith(get(await client(null), 'manifests/1.0'), 'auth', 401);
    assert.match(err.message, /requires authentication/);
  });

  test('wrong credentials: the token service refuses them, an auth error without the secret', async () => {
    const wrong = { username: net.registry.user!.username, password: 'wrong-password-77' };
    const err = await failsWith(get(await client(wrong), 'manifests/1.0'), 'auth', 401);
    assert.match(err.message, /rejected the credentials/);
    assert.ok(!err.message.includes(wrong.password), err.message);
  });

  test('a redirect to another origin is followed without the Authorization header', async (t) => {
    const storage = await startBlobHost((d) => net.registry.blobDataPath(d));
    t.after(() => storage.stop());
    net.proxy.use((req) =>
      req.path.includes('/blobs/') ? { kind: 'status', status: 307, headers: { location: `${storage.origin}/storage/${req.path.slice(req.path.lastIndexOf('/') + 1)}?sig=abc` } } : undefined,
    );
    const c = await client(net.registry.user!);
    // The manifest first, as a copy does: the client holds a token when the blob is asked for.
    await body(await get(c, 'manifests/1.0'));
    const res = await get(c, `blobs/${layer().digest}`);
    assert.equal(res.status, 200);
    assert.ok((await body(res)).equals(await layerBytes()), 'the layer as pushed');
    assert.equal(res.url, `${storage.origin}/storage/${layer().digest}?sig=abc`, 'the response tells where it came from');
    assert.ok(net.proxy.requests.some((r) => r.path.includes('/blobs/') && String(r.headers.authorization).startsWith('Bearer ')), 'the registry got the token');
    assert.equal(storage.requests.length, 1);
    assert.equal(storage.requests[0]!.headers.authorization, undefined, 'no Authorization to the other origin');
  });

  test('a redirect within the same origin keeps the Authorization header', async () => {
    net.proxy.use((req) => (req.path === `/v2/private/app/blobs/${layer().digest}` ? { kind: 'status', status: 302, headers: { location: `${req.path}?moved=1` } } : undefined));
    const c = await client(net.registry.user!);
    const res = await get(c, `blobs/${layer().digest}`);
    assert.equal(res.status, 200);
    assert.ok((await body(res)).equals(await layerBytes()), 'the layer as pushed');
    // The first try meets the challenge (at the redirect's target); the second carries the token to both.
    const withToken = net.proxy.requests.filter((r) => String(r.headers.authorization).startsWith('Bearer '));
    assert.deepEqual(withToken.map((r) => r.path), [`/v2/private/app/blobs/${layer().digest}`, `/v2/private/app/blobs/${layer().digest}?moved=1`]);
  });

  test('redirects that never end are refused', async () => {
    net.proxy.use((req) => (req.path.includes('/manifests/') ? { kind: 'status', status: 302, headers: { location: `/v2/private/app/manifests/loop-${req.nth}-${Math.random()}` } } : undefined));
    const err = await failsWith(get(await client(net.registry.user!), 'manifests/1.0'), 'protocol', 302);
    assert.match(err.message, /too many redirects/);
  });

  test('503 answers are retried up to the attempts, then the last answer is returned', async () => {
    net.proxy.use((req) => (req.path === '/v2/private/app/manifests/1.0' ? { kind: 'status', status: 503 } : undefined));
    const c = await client(net.registry.user!, { retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 20 } });
    const res = await get(c, 'manifests/1.0');
    assert.equal(res.status, 503);
    await body(res);
    assert.equal(net.proxy.requests.filter((r) => r.path === '/v2/private/app/manifests/1.0').length, 3);
  });

  test('a 503 that clears up: the request succeeds after waiting for Retry-After', async () => {
    net.proxy.use((req) => (req.path === '/v2/private/app/manifests/1.0' && req.nth === 1 ? { kind: 'status', status: 503, headers: { 'retry-after': '1' } } : undefined));
    const c = await client(net.registry.user!, { retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 5000 } });
    const res = await get(c, 'manifests/1.0');
    assert.equal(res.status, 200);
    await body(res);
    const [first, second] = net.proxy.requests.filter((r) => r.path === '/v2/private/app/manifests/1.0');
    assert.ok(second!.at - first!.at >= 900, `waited ${second!.at - first!.at} ms for Retry-After: 1`);
  });

  test('a registry that drops every connection: a network error after the attempts', async () => {
    net.proxy.use(() => ({ kind: 'drop' }));
    const c = await client(net.registry.user!);
    const err = await failsWith(get(c, 'manifests/1.0'), 'network', null);
    assert.ok(err.message.includes(net.proxy.host), err.message);
    assert.equal(net.proxy.requests.filter((r) => r.path === '/v2/private/app/manifests/1.0').length, FAST_RETRY.attempts);
  });
});
