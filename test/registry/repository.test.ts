// RepositoryReader: manifests and blob streams of one repository, read from
// the real test registry through the fault proxy. A body that breaks or
// stalls is asked for again; a blob from where it stopped (Range).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { RegistryClient, RegistryHttpError } from '../../src/registry/client.js';
import { RepositoryReader } from '../../src/registry/repository.js';
import { proxiedRegistry } from '../helpers/proxied-registry.js';
import { pushNewImage, type BuiltImage } from '../helpers/test-images.js';

type Pushed = BuiltImage & { pushedDigest: string };
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const RETRY = { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 };
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('RepositoryReader (real registry behind the fault proxy)', () => {
  let big: Pushed;
  let home: string;
  const clients: RegistryClient[] = [];
  const net = proxiedRegistry('plain', async (work, { registry }) => {
    home = work;
    big = await pushNewImage(work, registry, 'repo/big', '1.0', { seed: 'repository-big', platforms: [{ architecture: 'amd64' }], layers: [{ size: 3_000_000 }] });
  });
  after(async () => {
    for (const c of clients) await c.close();
  });

  /** A reader on a fresh client (its own connections), through the proxy. */
  const reader = (timeoutMs = 10_000) => {
    const client = new RegistryClient(net.proxy.host, { tlsVerify: false, credentials: { env: {}, home }, retry: RETRY, timeoutMs });
    clients.push(client);
    return new RepositoryReader(client, 'repo/big');
  };
  const layer = () => big.manifests[0]!.layers[0]!;
  const layerPath = () => `/v2/repo/big/blobs/${layer().digest}`;
  const layerBytes = () => readFile(join(big.layout, 'blobs/sha256', layer().digest.slice('sha256:'.length)));
  const asked = (path: string) => net.proxy.requests.filter((r) => r.path === path);
  const signal = () => AbortSignal.timeout(30_000);

  test('the manifest by tag and by digest, with the media type served', async () => {
    net.proxy.use(() => undefined);
    const r = reader();
    for (const selector of ['1.0', big.pushedDigest]) {
      const m = await r.manifest(selector, signal());
      assert.equal(m.digest, big.pushedDigest, selector);
      assert.equal(sha256(m.bytes), big.pushedDigest, selector);
      assert.equal(m.mediaType, OCI_MANIFEST, selector);
    }
    assert.equal(r.host, net.proxy.host);
  });

  test('a tag that is not there: not-found naming the tag and the repository', async () => {
    net.proxy.use(() => undefined);
    await assert.rejects(reader().manifest('nope', signal()), (err: unknown) => {
      assert.ok(err instanceof RegistryHttpError, String(err));
      assert.equal(err.kind, 'not-found');
      assert.equal(err.status, 404);
      for (const part of ['"nope"', 'repo/big', net.proxy.host]) assert.ok(err.message.includes(part), `${part} in: ${err.message}`);
      return true;
    });
  });

  test('a manifest body that breaks is asked for again', async () => {
    net.proxy.use((req) => (req.path === '/v2/repo/big/manifests/1.0' && req.nth === 1 ? { kind: 'reset', afterBytes: 100 } : undefined));
    assert.equal((await reader().manifest('1.0', signal())).digest, big.pushedDigest);
    assert.equal(asked('/v2/repo/big/manifests/1.0').length, 2);
  });

  test('a blob whose connection breaks midway is resumed with Range: one stream of the right bytes', async () => {
    const cut = 1_200_000;
    net.proxy.use((req) => (req.path === layerPath() && req.nth === 1 ? { kind: 'reset', afterBytes: cut } : undefined));
    const got = await readAll(await reader().blob(layer().digest, signal()));
    assert.equal(sha256(got), layer().digest);
    assert.ok(got.equals(await layerBytes()), 'the bytes pushed');
    const [first, second] = asked(layerPath());
    assert.equal(asked(layerPath()).length, 2);
    assert.equal(first!.headers.range, undefined, 'the first request asks for the whole blob');
    const from = Number(/^bytes=(\d+)-$/.exec(String(second!.headers.range))?.[1]);
    assert.ok(from > 0 && from <= cut, `resumed from ${second!.headers.range}, after at most the ${cut} bytes sent`);
  });

  test('resumed at a server that ignores Range: the bytes already delivered are skipped', async () => {
    net.proxy.use((req) => (req.path !== layerPath() ? undefined : req.nth === 1 ? { kind: 'reset', afterBytes: 900_000 } : { kind: 'ignore-range' }));
    const got = await readAll(await reader().blob(layer().digest, signal()));
    assert.ok(got.equals(await layerBytes()), 'the bytes pushed, none twice');
    assert.equal(asked(layerPath()).length, 2);
  });

  test('a body that stalls times out and is resumed', async () => {
    net.proxy.use((req) => (req.path === layerPath() && req.nth === 1 ? { kind: 'stall', afterBytes: 500_000 } : undefined));
    const started = Date.now();
    const got = await readAll(await reader(1000).blob(layer().digest, signal()));
    assert.ok(got.equals(await layerBytes()), 'the bytes pushed');
    assert.equal(asked(layerPath()).length, 2);
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  });

  test('a resumed answer that starts elsewhere than asked: a protocol error, through mapError', async () => {
    net.proxy.use((req) =>
      req.path !== layerPath()
        ? undefined
        : req.nth === 1
          ? { kind: 'reset', afterBytes: 800_000 }
          : { kind: 'headers', rewrite: (h) => void (h['content-range'] = String(h['content-range']).replace(/^bytes \d+-/, 'bytes 0-')) },
    );
    const mapped: unknown[] = [];
    const stream = await reader().blob(layer().digest, signal(), (err) => {
      mapped.push(err);
      return new Error(`mapped: ${(err as Error).message}`);
    });
    await assert.rejects(readAll(stream), /^Error: mapped: .*asked for bytes from \d+, got a range starting at 0/);
    assert.equal(mapped.length, 1);
    assert.ok(mapped[0] instanceof RegistryHttpError && mapped[0].kind === 'protocol', String(mapped[0]));
  });

  test('a blob that breaks every time: the stream fails after the attempts, with the mapped error', async () => {
    net.proxy.use((req) => (req.path === layerPath() ? { kind: 'reset', afterBytes: 300_000 } : undefined));
    const stream = await reader().blob(layer().digest, signal(), (err) => new Error(`gave up: ${(err as Error).message}`));
    await assert.rejects(readAll(stream), /^Error: gave up/);
    assert.equal(asked(layerPath()).length, RETRY.attempts);
  });

  test('a blob that is not there fails before a stream is returned', async () => {
    net.proxy.use(() => undefined);
    const absent = sha256(Buffer.from('never pushed'));
    await assert.rejects(reader().blob(absent, signal()), (err: unknown) => {
      assert.ok(err instanceof RegistryHttpError, String(err));
      assert.equal(err.kind, 'not-found');
      assert.ok(err.message.includes(absent), err.message);
      return true;
    });
  });

  test('an abort stops a blob being read', async () => {
    net.proxy.use((req) => (req.path === layerPath() ? { kind: 'stall', afterBytes: 100_000 } : undefined));
    const ac = new AbortController();
    const stream = await reader().blob(layer().digest, ac.signal);
    setTimeout(() => ac.abort(new Error('interrupted')), 200);
    const started = Date.now();
    await assert.rejects(readAll(stream));
    assert.ok(Date.now() - started < 5000, `stopped after ${Date.now() - started} ms`);
    assert.equal(asked(layerPath()).length, 1, 'not asked again after the abort');
  });
});
