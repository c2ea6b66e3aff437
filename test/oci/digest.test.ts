import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { ValueFormatError } from '../../src/errors.js';
import { blobPath, digestOf, digestProblem, parseDigest, VerifyingStream } from '../../src/oci/digest.js';

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

describe('malformed digests are ValueFormatErrors saying why', () => {
  const BAD: ReadonlyArray<readonly [string, RegExp]> = [
    ['sha256:nothex', /the part after ":" is not hex digits/],
    ['sha256:abc', /a sha256 digest has 64 hex digits, this one 3/],
    [`sha512:${'a'.repeat(64)}`, /a sha512 digest has 128 hex digits, this one 64/],
    [`md5:${'a'.repeat(32)}`, /algorithm "md5" is not supported \(sha256, sha512\)/],
    [`SHA256:${'a'.repeat(64)}`, /its algorithm is not lowercase letters and digits/],
    [`sha256:${'A'.repeat(64)}`, /its hex digits must be lowercase/],
    ['a'.repeat(64), /it is not algorithm:hex \(no ":"\)/],
    ['', /no ":"/],
    ['sha256:../../etc/passwd', /not hex digits/],
    [`sha256:${'a'.repeat(64)}:x`, /not hex digits/],
  ];
  const isDigestError = (text: string, why: RegExp) => (e: unknown) =>
    e instanceof ValueFormatError && e.code === 'IMGDESC_INVALID_DIGEST' && e.kind === 'DIGEST' && e.text === text && why.test(e.why);

  for (const [text, why] of BAD) {
    test(`${JSON.stringify(text.length > 20 ? `${text.slice(0, 20)}…` : text)}: digestProblem, parseDigest, blobPath and VerifyingStream agree`, () => {
      assert.match(digestProblem(text) ?? '', why);
      assert.equal(parseDigest(text), null);
      assert.throws(() => blobPath(text), isDigestError(text, why));
      assert.throws(() => new VerifyingStream({ digest: text, size: 1 }), isDigestError(text, why));
    });
  }

  test('a good digest has no problem', () => {
    assert.equal(digestProblem(good.digest), null);
    assert.equal(digestProblem(`sha512:${'0'.repeat(128)}`), null);
  });
});
