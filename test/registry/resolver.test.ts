// From an image reference to the registry endpoints to try, with one client
// per registry host shared by every image of a run.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Reference } from '../../src/oci/reference.js';
import { RegistryHttpError } from '../../src/registry/client.js';
import { RegistryResolver, type Endpoint } from '../../src/registry/resolver.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { tempDir } from '../helpers/tmp.js';

const where = (e: Endpoint) => ({ host: e.reader.host, repository: e.reader.repository, label: e.label, mirror: e.mirror });

describe('RegistryResolver.endpoints', () => {
  const resolver = new RegistryResolver({ tlsVerify: true, credentials: { env: {}, home: '/nonexistent' } });
  after(() => resolver.close());

  test('a plain host: one endpoint, the registry itself, with the repository as written', () => {
    const cases: Array<[ref: string, host: string, repository: string]> = [
      ['reg.example.org/team/app:1.0', 'reg.example.org', 'team/app'],
      ['reg.example.org:5000/app:1.0', 'reg.example.org:5000', 'app'],
      ['127.0.0.1:5000/a/b/c@sha256:' + 'e'.repeat(64), '127.0.0.1:5000', 'a/b/c'],
      // Only Docker Hub puts single names under library/.
      ['quay.io/app:1', 'quay.io', 'app'],
    ];
    for (const [ref, host, repository] of cases) {
      const registry = Reference.parse(ref).registry;
      assert.deepEqual(resolver.endpoints(Reference.parse(ref)).map(where), [{ host, repository, label: `registry ${registry}`, mirror: false }], ref);
    }
  });

  test('Docker Hub is read from registry-1.docker.io, single names under library/', () => {
    const cases: Array<[ref: string, repository: string]> = [
      ['docker.io/alpine:3', 'library/alpine'],
      ['docker.io/library/alpine:3', 'library/alpine'],
      ['docker.io/team/app:1', 'team/app'],
      ['index.docker.io/alpine:3', 'library/alpine'],
    ];
    for (const [ref, repository] of cases) {
      const [endpoint] = resolver.endpoints(Reference.parse(ref));
      assert.equal(endpoint!.reader.host, 'registry-1.docker.io', ref);
      assert.equal(endpoint!.reader.repository, repository, ref);
      assert.equal(endpoint!.label, `registry ${Reference.parse(ref).registry}`, 'messages name the registry as the user wrote it');
    }
  });

  test('one client per host, shared by every reference to it', () => {
    const client = (ref: string) => resolver.endpoints(Reference.parse(ref))[0]!.reader.client;
    assert.equal(client('reg.example.org/a:1'), client('reg.example.org/b/c:2'));
    assert.equal(client('reg.example.org/a:1'), client('reg.example.org/a:1'));
    assert.equal(client('docker.io/alpine:3'), client('index.docker.io/team/app:1'), 'both are Docker Hub');
    assert.notEqual(client('reg.example.org/a:1'), client('reg.example.org:5000/a:1'));
    assert.notEqual(client('reg.example.org/a:1'), client('other.example.org/a:1'));
  });
});

describe('RegistryResolver.close (real registry)', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry('plain');
  });
  after(() => registry?.stop());

  /** Asks the registry for a tag nobody pushed: "not-found" proves the registry answered. */
  const ask = (e: Endpoint) => e.reader.manifest('absent', AbortSignal.timeout(10_000)).then(
    () => 'found',
    (err: unknown) => (err instanceof RegistryHttpError ? err.kind : String(err)),
  );

  test('closes the clients it made; endpoints asked for afterwards get a new, working client', async (t) => {
    const resolver = new RegistryResolver({ tlsVerify: false, credentials: { env: {}, home: await tempDir(t) }, retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
    t.after(() => resolver.close());
    const ref = Reference.parse(`${registry.host}/team/app:1.0`);
    const before = resolver.endpoints(ref)[0]!;
    assert.equal(await ask(before), 'not-found');
    await resolver.close();
    assert.equal(await ask(before), 'network', 'the closed client no longer sends requests');
    const afterwards = resolver.endpoints(ref)[0]!;
    assert.notEqual(afterwards.reader.client, before.reader.client);
    assert.equal(await ask(afterwards), 'not-found');
  });
});
