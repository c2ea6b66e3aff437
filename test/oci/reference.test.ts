import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReferenceFormatError } from '../../src/errors.js';
import { Reference } from '../../src/oci/reference.js';

const D = `sha256:${'b'.repeat(64)}`;
const parts = (r: Reference) => ({ registry: r.registry, repository: r.repository, tag: r.tag, digest: r.digest });

describe('Reference', () => {
  test('host, port, path, tag and digest', () => {
    assert.deepEqual(parts(Reference.parse('127.0.0.1:5000/a/b:1.0')), { registry: '127.0.0.1:5000', repository: 'a/b', tag: '1.0', digest: null });
    assert.deepEqual(parts(Reference.parse(`r.example.org/x@${D}`)), { registry: 'r.example.org', repository: 'x', tag: null, digest: D });
    assert.deepEqual(parts(Reference.parse(`r.example.org/x:1@${D}`)), { registry: 'r.example.org', repository: 'x', tag: '1', digest: D });
    assert.deepEqual(parts(Reference.parse('[::1]:5000/x:2')), { registry: '[::1]:5000', repository: 'x', tag: '2', digest: null });
    assert.equal(Reference.parse('r.example.org/x').tag, 'latest');
  });

  test('format, parse and the docker:// form round-trip', () => {
    for (const text of ['r.example.org/x:1', `r.example.org:5000/a/b:c@${D}`, `r.example.org/x@${D}`]) {
      const ref = Reference.parse(text);
      assert.equal(ref.toString(), text);
      assert.equal(ref.toTransportString(), `docker://${text}`);
      assert.ok(Reference.parse(ref.toTransportString()).equals(ref));
    }
  });

  test('withDigest pins, keeping the tag; selector asks for the digest when pinned', () => {
    const ref = Reference.parse('r.example.org/x:1');
    const pinned = ref.withDigest(D);
    assert.equal(pinned.toString(), `r.example.org/x:1@${D}`);
    assert.equal(pinned.selector, D);
    assert.equal(ref.selector, '1');
    assert.equal(ref.toString(), 'r.example.org/x:1', 'the original is unchanged');
    assert.throws(() => ref.withDigest('sha256:nothex'), ReferenceFormatError);
  });

  test('familiar form drops Docker Hub and library/, as docker prints names', () => {
    assert.equal(Reference.parse('docker.io/library/busybox:1').familiar(), 'busybox:1');
    assert.equal(Reference.parse('docker.io/team/app:1').familiar(), 'team/app:1');
    assert.equal(Reference.parse('quay.io/library/x:1').familiar(), 'quay.io/library/x:1');
  });

  test('invalid ones are ReferenceFormatErrors that say why', () => {
    const cases: Array<[string, RegExp]> = [
      ['nohost', /short names are not supported, use a fully-qualified name/],
      ['docker://busybox', /short names are not supported/],
      ['r.example.org/UP:1', /uppercase/],
      ['r.example.org/x@sha256:1', /not a sha256 or sha512 digest/],
      ['r.example.org/x@sha256:nothex', /not a sha256 or sha512 digest/],
      ['r.example.org/x:.bad', /tag ".bad" is not valid/],
      ['r.example.org:99999/x', /port "99999"/],
      ['r.example.org/a//b', /empty component/],
      ['', /empty/],
      ['r.example.org/x y', /whitespace/],
      [`r.example.org/${'a'.repeat(250)}`, /longer than 255/],
    ];
    for (const [text, why] of cases) {
      assert.throws(() => Reference.parse(text), (err: unknown) => err instanceof ReferenceFormatError && err.code === 'IMGDESC_INVALID_REFERENCE' && why.test(err.message), text);
    }
  });
});
