// RepositoryWriter against the real registry: chunked uploads of a stream
// (POST, PATCH with Content-Range, PUT with the digest), monolithic uploads of
// bytes in hand, blobs already there skipped, manifests by tag; push scope
// tokens on a token-auth registry.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { RegistryClient } from '../../src/registry/client.js';
import { RepositoryReader } from '../../src/registry/repository.js';
import { chunked, RepositoryWriter } from '../../src/registry/upload.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { tempDir } from '../helpers/tmp.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const signal = () => AbortSignal.timeout(20_000);
const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

async function read(reader: RepositoryReader, digest: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await reader.blob(digest, signal())) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('chunked', () => {
  test('regroups any pieces into chunks of exactly the size, the last one shorter', async () => {
    const data = bytes(10_000, 1);
    const pieces = [data.subarray(0, 1), data.subarray(1, 2500), data.subarray(2500, 9000), data.subarray(9000)];
    const out: Buffer[] = [];
    for await (const c of chunked(Readable.from(pieces), 3000)) out.push(Buffer.from(c));
    assert.deepEqual(out.map((c) => c.length), [3000, 3000, 3000, 1000]);
    assert.ok(Buffer.concat(out).equals(data));
    const none: Buffer[] = [];
    for await (const c of chunked(Readable.from([]), 3000)) none.push(c);
    assert.deepEqual(none, []);
  });
});

describe('RepositoryWriter (plain registry)', () => {
  let registry: TestRegistry;
  let client: RegistryClient;
  const cleanups: Array<() => unknown> = [];
  before(async () => {
    registry = await startRegistry('plain');
    const home = await tempDir({ after: (fn: () => unknown) => cleanups.push(fn) });
    client = new RegistryClient(registry.host, { tlsVerify: false, credentials: { env: {}, home }, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 } });
  });
  after(async () => {
    await client?.close();
    await registry?.stop();
    for (const c of cleanups) await c();
  });

  test('a stream goes up in PATCHes of the chunk size, then one PUT with its digest', async () => {
    const data = bytes(1_000_000, 7);
    const writer = new RepositoryWriter(client, 'up/chunked');
    let reported = 0;
    const seen = (await registry.accessLog()).length;
    const blob = await writer.putBlobStream(Readable.from([data.subarray(0, 123_457), data.subarray(123_457)]), signal(), { chunkBytes: 300_000, onBytes: (n) => (reported += n) });
    assert.deepEqual(blob, { digest: sha256(data), size: data.length });
    assert.equal(reported, data.length);
    const log = (await registry.accessLog()).slice(seen);
    assert.deepEqual(log.map((e) => `${e.method} ${e.status}`), ['POST 202', 'PATCH 202', 'PATCH 202', 'PATCH 202', 'PATCH 202', 'PUT 201']);
    assert.ok((await read(new RepositoryReader(client, 'up/chunked'), blob.digest)).equals(data));
  });

  test('bytes in hand go up monolithically, and not at all when the blob is there', async () => {
    const writer = new RepositoryWriter(client, 'up/mono');
    const data = Buffer.from('{}');
    const seen = (await registry.accessLog()).length;
    assert.deepEqual(await writer.putBlob(data, signal()), { digest: sha256(data), size: 2 });
    assert.deepEqual(await writer.putBlob(data, signal()), { digest: sha256(data), size: 2 });
    const log = (await registry.accessLog()).slice(seen);
    assert.deepEqual(log.map((e) => `${e.method} ${e.status}`), ['HEAD 404', 'POST 202', 'PUT 201', 'HEAD 200']);
    assert.equal(await writer.hasBlob(sha256(data), signal()), true);
  });

  test('an empty stream is a valid blob', async () => {
    const blob = await new RepositoryWriter(client, 'up/empty').putBlobStream(Readable.from([]), signal());
    assert.deepEqual(blob, { digest: sha256(Buffer.alloc(0)), size: 0 });
  });

  test('a manifest by tag; a manifest whose blobs are missing is refused with the registry\'s word', async () => {
    const writer = new RepositoryWriter(client, 'up/manifest');
    const config = await writer.putBlob(Buffer.from('{}'), signal());
    const layer = await writer.putBlob(Buffer.from('layer'), signal());
    const doc = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.empty.v1+json', ...config }, layers: [{ mediaType: 'application/octet-stream', ...layer }] };
    const bytesOf = Buffer.from(JSON.stringify(doc));
    assert.equal(await writer.putManifest('v1', bytesOf, doc.mediaType, signal()), sha256(bytesOf));
    const back = await new RepositoryReader(client, 'up/manifest').manifest('v1', signal());
    assert.ok(back.bytes.equals(bytesOf));
    const missing = Buffer.from(JSON.stringify({ ...doc, layers: [{ mediaType: 'application/octet-stream', digest: sha256(Buffer.from('nope')), size: 4 }] }));
    await assert.rejects(writer.putManifest('v2', missing, doc.mediaType, signal()), /storing manifest v2: .* answered HTTP 400.*BLOB_UNKNOWN|MANIFEST_BLOB_UNKNOWN/);
  });
});

describe('RepositoryWriter (token registry)', () => {
  test('asks for a pull,push token; an anonymous push is refused as an auth failure', async (t) => {
    const registry = await startRegistry('token');
    t.after(() => registry.stop());
    const dir = await tempDir(t);
    const auth = join(dir, 'auth.json');
    const { username, password } = registry.user!;
    await writeFile(auth, JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${username}:${password}`).toString('base64') } } }));
    const client = new RegistryClient(registry.host, { tlsVerify: false, credentials: { authFile: auth } });
    t.after(() => client.close());
    const blob = await new RepositoryWriter(client, 'team/disk').putBlob(Buffer.from('hello'), signal());
    assert.equal(blob.size, 5);
    assert.ok(registry.tokenRequests().some((r) => r.authorized && r.scope.includes('repository:team/disk:pull,push')));
    const anonymous = new RegistryClient(registry.host, { tlsVerify: false, credentials: { env: {}, home: dir } });
    t.after(() => anonymous.close());
    await assert.rejects(new RepositoryWriter(anonymous, 'team/disk').putBlob(Buffer.from('other'), signal()), (e: unknown) => (e as { kind?: string }).kind === 'auth');
  });
});
