import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseManifest } from '../../src/oci/manifest.js';
import { MediaType } from '../../src/oci/media-types.js';

const d = `sha256:${'a'.repeat(64)}`;
const manifest = (mediaType?: string) =>
  Buffer.from(JSON.stringify({ schemaVersion: 2, ...(mediaType ? { mediaType } : {}), config: { mediaType: MediaType.OciConfig, digest: d, size: 1 }, layers: [{ mediaType: 'x', digest: d, size: 2 }] }));

describe('parseManifest', () => {
  test('image manifest and index', () => {
    const m = parseManifest(manifest(MediaType.OciManifest), MediaType.OciManifest);
    assert.equal(m.kind, 'manifest');
    const i = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [{ mediaType: MediaType.OciManifest, digest: d, size: 3, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } }] })), null);
    assert.equal(i.kind, 'index');
    assert.deepEqual(i.kind === 'index' && i.manifests[0]!.platform, { os: 'linux', architecture: 'arm', variant: 'v7' });
  });
  test('a manifest without mediaType takes the served type', () => {
    assert.equal(parseManifest(manifest(), MediaType.DockerManifest).mediaType, MediaType.DockerManifest);
  });
  test('non-JSON, disagreeing Content-Type, schema 1, bad descriptors are refused with a reason', () => {
    assert.throws(() => parseManifest(Buffer.from('<html>'), 'text/html'), /manifest is not JSON .*served as text\/html/);
    assert.throws(() => parseManifest(manifest(MediaType.OciManifest), MediaType.DockerManifest), /served a application\/vnd\.docker.* but the document says it is a application\/vnd\.oci/);
    assert.throws(() => parseManifest(Buffer.from('{"schemaVersion":1,"fsLayers":[]}'), MediaType.DockerSchema1Signed), /schema 1/);
    assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: 'x', digest: 'sha256:zz', size: 1 }, layers: [] })), null), /config has no valid digest/);
  });
});
