import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { blobPath, digestOf, parseDigest, VerifyingStream } from '../../src/oci/digest.js';

const data = Buffer.from('hello blob');
const good = { digest: digestOf(data), size: data.length };

async function run(chunks: Buffer[], expected: { digest: string; size: number }, options: { sizeOnly?: boolean } = {}) {
  const got: Buffer[] = [];
  await pipeline(Readable.from(chunks), new VerifyingStream(expected, options), new Writable({ write(c, _e, cb) { got.push(c); cb(); } }));
  return Buffer.concat(got);
}

describe('digests', () => {
  test('parseDigest accepts sha256/sha512 of the right length only', () => {
    assert.deepEqual(parseDigest(good.digest), { algorithm: 'sha256', hex: good.digest.slice(7) });
    assert.equal(parseDigest('sha256:abc'), null);
    assert.equal(parseDigest(`md5:${'a'.repeat(32)}`), null);
    assert.equal(parseDigest(`sha256:${'A'.repeat(64)}`), null);
    assert.ok(parseDigest(`sha512:${'a'.repeat(128)}`));
  });

  test('blobPath refuses anything that is not a digest (no path tricks)', () => {
    assert.equal(blobPath(good.digest), `blobs/sha256/${good.digest.slice(7)}`);
    assert.throws(() => blobPath('sha256:../../etc/passwd'));
  });

  test('VerifyingStream passes matching content through', async () => {
    assert.deepEqual(await run([data.subarray(0, 3), data.subarray(3)], good), data);
  });

  test('fails on short, long, and wrong content', async () => {
    await assert.rejects(run([data.subarray(0, 5)], good), /size mismatch: expected 10 bytes .* got 5/);
    await assert.rejects(run([data, Buffer.from('!')], good), /size mismatch: expected 10 bytes .* got 11 or more/);
    await assert.rejects(run([Buffer.from('hello blub')], good), /digest mismatch: expected sha256:/);
  });

  test('sizeOnly checks the size but not the digest (for bytes a store already verified)', async () => {
    assert.deepEqual(await run([Buffer.from('hello blub')], good, { sizeOnly: true }), Buffer.from('hello blub'));
    await assert.rejects(run([data.subarray(0, 5)], good, { sizeOnly: true }), /size mismatch/);
    await assert.rejects(run([data, Buffer.from('!')], good, { sizeOnly: true }), /size mismatch: .* got 11 or more/);
  });
});
