import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { apiLocation, formatReference, parseReference } from '../../src/oci/reference.js';

describe('references', () => {
  test('host, port, path, tag and digest', () => {
    assert.deepEqual({ ...parseReference('127.0.0.1:5000/a/b:1.0') }, { registry: '127.0.0.1:5000', repository: 'a/b', tag: '1.0', digest: null });
    const d = `sha256:${'b'.repeat(64)}`;
    assert.deepEqual({ ...parseReference(`r.example.org/x@${d}`) }, { registry: 'r.example.org', repository: 'x', tag: null, digest: d });
    assert.equal(parseReference('r.example.org/x').tag, 'latest');
    assert.equal(formatReference(parseReference('r.example.org/x:1')), 'r.example.org/x:1');
  });
  test('invalid ones say why', () => {
    assert.throws(() => parseReference('nohost'), /no registry host/);
    assert.throws(() => parseReference('r.example.org/UP:1'), /uppercase/);
    assert.throws(() => parseReference('r.example.org/x@sha256:1'), /not a sha256/);
  });
  test('docker.io maps to its API host and library/', () => {
    assert.deepEqual(apiLocation(parseReference('docker.io/nginx:1')), { host: 'registry-1.docker.io', repository: 'library/nginx' });
    assert.deepEqual(apiLocation(parseReference('localhost:5000/nginx:1')), { host: 'localhost:5000', repository: 'nginx' });
  });
});
