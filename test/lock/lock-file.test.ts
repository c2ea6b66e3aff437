// The lock file: what writeLock writes, readLock reads back, and every way a
// lock can be wrong is a DescriptionInvalidError naming the file and the JSON
// path of the problem, never a crash.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DescriptionInvalidError, OutputError } from '../../src/errors.js';
import { checkLock, LOCK_VERSION, lockEntries, lockKey, lockPathFor, MAX_LOCK_BYTES, readLock, writeLock, type LockFile } from '../../src/lock/lock-file.js';
import { digestOf } from '../../src/oci/digest.js';
import { tempDir } from '../helpers/tmp.js';

const blob = (content: string, mediaType: string) => ({ digest: digestOf(Buffer.from(content)), size: content.length, mediaType });

/** A lock as `imgdesc lock` writes it: two images, one from an index. */
function goodLock(): LockFile {
  return {
    lockfileVersion: LOCK_VERSION,
    generator: 'imgdesc test',
    images: [
      {
        reference: 'registry.example.org/imgdesc/hello:1.0',
        arch: 'x86_64',
        platform: 'linux/amd64',
        indexDigest: digestOf(Buffer.from('index')),
        manifest: blob('manifest', 'application/vnd.oci.image.manifest.v1+json'),
        config: blob('config', 'application/vnd.oci.image.config.v1+json'),
        layers: [blob('layer', 'application/vnd.oci.image.layer.v1.tar+gzip')],
      },
      {
        reference: 'registry.example.org/imgdesc/arm:1.0',
        arch: 'aarch64',
        platform: 'linux/arm64/v8',
        indexDigest: null,
        manifest: blob('manifest2', 'application/vnd.oci.image.manifest.v1+json'),
        config: blob('config2', 'application/vnd.oci.image.config.v1+json'),
        layers: [],
      },
    ],
  };
}

/** A lock document as JSON: loosely typed, since the cases put wrong types into it. */
type Doc = { [k: string]: any };

/** Each case breaks one thing of a good lock; the problem must name that JSON path. */
const WRONG_FIELDS: ReadonlyArray<readonly [string, (d: Doc) => unknown, RegExp]> = [
  ['not an object', () => [], /the lock file is an array, not a JSON object/],
  ['null', () => null, /the lock file is null/],
  ['another lockfileVersion', (d) => ((d.lockfileVersion = 2), d), /lockfileVersion 2 is not supported \(expected 1\)/],
  ['no lockfileVersion', (d) => (delete d.lockfileVersion, d), /lockfileVersion is missing/],
  ['a lockfileVersion string', (d) => ((d.lockfileVersion = '1'), d), /lockfileVersion "1" is not supported/],
  ['generator a number', (d) => ((d.generator = 7), d), /^generator is the number 7; expected a string/],
  ['images an object', (d) => ((d.images = {}), d), /^images is an object; expected an array/],
  ['images missing', (d) => (delete d.images, d), /^images is missing/],
  ['an image that is a string', (d) => ((d.images[1] = 'x'), d), /^images\[1\] is the string "x"; expected an object/],
  ['a reference without a host', (d) => ((d.images[0].reference = 'hello:1.0'), d), /^images\[0\]\.reference: "hello:1\.0" is not a reference: it has no registry host/],
  ['a reference with a bad digest', (d) => ((d.images[0].reference = 'registry.example.org/a@sha256:nothex'), d), /^images\[0\]\.reference: .* is not a reference: "sha256:nothex" is not a sha256 or sha512 digest/],
  ['a reference that is a number', (d) => ((d.images[0].reference = 5), d), /^images\[0\]\.reference is the number 5; expected a string/],
  ['an arch KIWI does not know', (d) => ((d.images[0].arch = 'amd64'), d), /^images\[0\]\.arch: "amd64" is not a known architecture: allowed: x86_64/],
  ['a platform without an architecture', (d) => ((d.images[0].platform = 'linux'), d), /^images\[0\]\.platform: "linux" is not a platform: it is not os\/architecture\[\/variant\]/],
  ['a platform with an empty variant', (d) => ((d.images[0].platform = 'linux/arm64/'), d), /^images\[0\]\.platform: .* its variant is empty/],
  ['indexDigest sha256:nothex', (d) => ((d.images[0].indexDigest = 'sha256:nothex'), d), /^images\[0\]\.indexDigest: "sha256:nothex" is not a digest: the part after ":" is not hex digits/],
  ['indexDigest missing', (d) => (delete d.images[0].indexDigest, d), /^images\[0\]\.indexDigest is missing; expected null or a digest/],
  ['manifest digest sha256:nothex', (d) => ((d.images[0].manifest.digest = 'sha256:nothex'), d), /^images\[0\]\.manifest\.digest: "sha256:nothex" is not a digest/],
  ['manifest digest of the wrong length', (d) => ((d.images[1].manifest.digest = 'sha256:abc123'), d), /^images\[1\]\.manifest\.digest: .* a sha256 digest has 64 hex digits, this one 6/],
  ['manifest digest in uppercase', (d) => ((d.images[0].manifest.digest = d.images[0].manifest.digest.toUpperCase().replace('SHA256', 'sha256')), d), /^images\[0\]\.manifest\.digest: .* hex digits must be lowercase/],
  ['config digest of an unknown algorithm', (d) => ((d.images[0].config.digest = `md5:${'a'.repeat(32)}`), d), /^images\[0\]\.config\.digest: .* algorithm "md5" is not supported \(sha256, sha512\)/],
  ['config digest without algorithm', (d) => ((d.images[0].config.digest = 'a'.repeat(64)), d), /^images\[0\]\.config\.digest: .* is not a digest: it is not algorithm:hex \(no ":"\)/],
  ['manifest missing', (d) => (delete d.images[0].manifest, d), /^images\[0\]\.manifest is missing; expected an object/],
  ['manifest an array', (d) => ((d.images[0].manifest = []), d), /^images\[0\]\.manifest is an array/],
  ['a negative layer size', (d) => ((d.images[0].layers[0].size = -1), d), /^images\[0\]\.layers\[0\]\.size is the number -1; expected a whole number/],
  ['a fractional size', (d) => ((d.images[0].config.size = 1.5), d), /^images\[0\]\.config\.size is the number 1\.5/],
  ['a size beyond safe integers', (d) => ((d.images[0].config.size = 2 ** 60), d), /^images\[0\]\.config\.size is the number/],
  ['a size as a string', (d) => ((d.images[0].config.size = '12'), d), /^images\[0\]\.config\.size is the string "12"/],
  ['a mediaType that is a number', (d) => ((d.images[0].manifest.mediaType = 7), d), /^images\[0\]\.manifest\.mediaType is the number 7; expected a string/],
  ['layers not an array', (d) => ((d.images[0].layers = 'none'), d), /^images\[0\]\.layers is the string "none"; expected an array/],
  ['a layer that is null', (d) => ((d.images[0].layers = [null]), d), /^images\[0\]\.layers\[0\] is null; expected an object/],
  ['the same reference and arch twice', (d) => (d.images.push(structuredClone(d.images[0])), d), /^images\[2\] locks registry\.example\.org\/imgdesc\/hello:1\.0 for x86_64 again \(images\[0\] does already\)/],
];

describe('lock file', () => {
  test('lockPathFor: <basename>.lock.json beside the description', () => {
    assert.equal(lockPathFor('/d/appliance.xml'), '/d/appliance.lock.json');
    assert.equal(lockPathFor('/d/config.xml'), '/d/config.lock.json');
    assert.equal(lockPathFor('/d/x.kiwi'), '/d/x.lock.json');
  });

  test('writeLock then readLock: the same lock, sorted, written atomically (no temporary file left)', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'appliance.lock.json');
    const lock = goodLock();
    await writeLock(file, lock);
    const back = await readLock(file);
    assert.deepEqual(back, { ...lock, images: [lock.images[1], lock.images[0]] }, 'sorted by reference');
    assert.deepEqual(await readdir(dir), ['appliance.lock.json']);
    assert.match(await readFile(file, 'utf8'), /\n$/);
    assert.deepEqual([...lockEntries(back).keys()], [lockKey('registry.example.org/imgdesc/arm:1.0', 'aarch64'), lockKey('registry.example.org/imgdesc/hello:1.0', 'x86_64')]);
  });

  test('no lock file: null', async (t) => {
    assert.equal(await readLock(join(await tempDir(t), 'absent.lock.json')), null);
  });

  test('writeLock into a directory that cannot take it: OutputError naming the file', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'appliance.lock.json');
    await mkdir(file);
    await assert.rejects(writeLock(file, goodLock()), (e: unknown) => e instanceof OutputError && e.message.includes(file) && /it is a directory/.test(e.message));
    await assert.rejects(writeLock(join(dir, 'missing', 'x.lock.json'), goodLock()), (e: unknown) => e instanceof OutputError && /no such file or directory/.test(e.message));
    assert.deepEqual(await readdir(dir), ['appliance.lock.json'], 'no temporary file left');
  });

  test('checkLock accepts what writeLock writes and keeps only the fields it knows', () => {
    const doc: Doc = structuredClone(goodLock());
    doc.extra = 'ignored';
    doc.images[0].note = 'ignored';
    const { lock, problems } = checkLock(doc);
    assert.deepEqual(problems, []);
    assert.deepEqual(lock, goodLock());
  });

  for (const [name, mutate, expected] of WRONG_FIELDS) {
    test(`a wrong field is refused with its JSON path: ${name}`, async (t) => {
      const { problems } = checkLock(mutate(structuredClone(goodLock()) as Doc));
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0]!, expected);
      // And through readLock: a DescriptionInvalidError for the file.
      const file = join(await tempDir(t), 'appliance.lock.json');
      await writeFile(file, JSON.stringify(mutate(structuredClone(goodLock()) as Doc)));
      await assert.rejects(readLock(file), (e: unknown) => e instanceof DescriptionInvalidError && e.file === file && expected.test(e.problems[0]!.message));
    });
  }

  test('every problem is reported, up to a limit', async (t) => {
    const doc: Doc = structuredClone(goodLock());
    doc.images[0].arch = 'nope';
    doc.images[1].manifest.digest = 'sha256:nothex';
    assert.deepEqual(
      checkLock(doc).problems.map((p) => p.split(':')[0]),
      ['images[0].arch', 'images[1].manifest.digest'],
    );
    doc.images = Array.from({ length: 50 }, () => 'x');
    assert.equal(checkLock(doc).problems.length, 50);
    const path = join(await tempDir(t), 'appliance.lock.json');
    await writeFile(path, JSON.stringify(doc));
    await assert.rejects(readLock(path), (e: unknown) => {
      assert.ok(e instanceof DescriptionInvalidError);
      assert.equal(e.problems.length, 21);
      assert.match(e.problems[20]!.message, /^and 30 more problems; run imgdesc lock again$/);
      return true;
    });
  });

  const file = (t: { after(fn: () => unknown): void }) => tempDir(t).then((d) => join(d, 'appliance.lock.json'));
  const BAD_FILES: ReadonlyArray<readonly [string, (path: string) => Promise<void>, RegExp]> = [
    ['truncated JSON', (p) => writeFile(p, JSON.stringify(goodLock()).slice(0, 100)), /the lock file is not valid JSON/],
    ['an empty file', (p) => writeFile(p, ''), /the lock file is not valid JSON/],
    ['random bytes', (p) => writeFile(p, randomBytes(4096)), /cannot read the lock file: it is binary, not text/],
    ['JSON with a NUL byte', (p) => writeFile(p, '{"lockfileVersion": 1,\0 "images": []}'), /cannot read the lock file: it is binary, not text \(it holds NUL bytes\)/],
    ['bytes that are not UTF-8', (p) => writeFile(p, Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])), /it is binary, not text \(it is not valid UTF-8\)/],
    ['a directory', (p) => mkdir(p), /cannot read the lock file: it is a directory/],
    ['a FIFO (never waited on)', async (p) => void execFileSync('mkfifo', [p]), /cannot read the lock file: it is not a regular file/],
    ['a file over the size limit', async (p) => (await writeFile(p, ''), truncate(p, MAX_LOCK_BYTES + 1)), /cannot read the lock file: it is \d+ bytes, over the limit of 67108864 bytes/],
  ];
  for (const [name, make, expected] of BAD_FILES) {
    test(`a lock file that cannot be read as JSON: ${name}`, async (t) => {
      const path = await file(t);
      await make(path);
      await assert.rejects(readLock(path), (e: unknown) => {
        assert.ok(e instanceof DescriptionInvalidError, String(e));
        assert.equal(e.file, path);
        assert.equal(e.problems.length, 1);
        assert.match(e.problems[0]!.message, expected);
        assert.deepEqual({ path: e.problems[0]!.path, line: e.problems[0]!.line }, { path: '', line: null });
        assert.doesNotMatch(e.problems[0]!.message, /[\u0000-\u0008\u000e-\u001f]/, 'no control characters from the file');
        return true;
      });
    });
  }
});
