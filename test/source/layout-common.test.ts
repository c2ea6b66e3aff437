// Choosing an image out of a layout's index.json, and splitting PATH[:NAME].
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ReferenceFormatError, SourceError } from '../../src/errors.js';
import type { Descriptor } from '../../src/oci/manifest.js';
import { chooseTop, isFile, splitPathAndName } from '../../src/source/layout-common.js';
import { tempDir } from '../helpers/tmp.js';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const REF_NAME = 'org.opencontainers.image.ref.name';
const REF = 'reg.example.org/team/app:1.0';

/** A descriptor with a recognisable digest (hex made of `c`). */
function entry(c: string, extra: { name?: string; arch?: string; mediaType?: string } = {}): Descriptor {
  return {
    mediaType: extra.mediaType ?? MANIFEST,
    digest: `sha256:${c.repeat(64)}`,
    size: 100,
    ...(extra.arch ? { platform: { os: 'linux', architecture: extra.arch } } : {}),
    ...(extra.name ? { annotations: { [REF_NAME]: extra.name } } : {}),
  };
}

const index = (manifests: Descriptor[]) => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests }));
const digestOf = (top: Descriptor | 'index') => (top === 'index' ? 'index' : top.digest);

describe('chooseTop', () => {
  const cases: Array<{ what: string; manifests: Descriptor[]; reference?: string; tag: string | null; chosen: string }> = [
    { what: 'the entry named by the full reference', manifests: [entry('a', { name: 'other' }), entry('b', { name: REF })], tag: '1.0', chosen: entry('b').digest },
    { what: 'the entry named by the tag alone', manifests: [entry('a', { name: '2.0' }), entry('b', { name: '1.0' })], tag: '1.0', chosen: entry('b').digest },
    { what: 'the only entry, whatever its name', manifests: [entry('a', { name: 'something-else' })], tag: '1.0', chosen: entry('a').digest },
    { what: 'the only entry, unnamed', manifests: [entry('a')], tag: '1.0', chosen: entry('a').digest },
    { what: 'the index when several entries carry the name (platforms of one image)', manifests: [entry('a', { name: '1.0', arch: 'amd64' }), entry('b', { name: '1.0', arch: 'arm64' }), entry('c', { name: 'x' })], tag: '1.0', chosen: 'index' },
    { what: 'the index when it lists unnamed platform manifests', manifests: [entry('a', { arch: 'amd64' }), entry('b', { arch: 'arm64' })], tag: '1.0', chosen: 'index' },
    { what: 'an explicit name, matched in full', manifests: [entry('a', { name: 'app' }), entry('b', { name: 'other' })], reference: 'other', tag: null, chosen: entry('b').digest },
  ];
  for (const c of cases) {
    test(`chooses ${c.what}`, () => {
      assert.equal(digestOf(chooseTop(index(c.manifests), c.reference ?? REF, c.tag, 'layout /x')), c.chosen);
    });
  }

  test('several images and none named so: NOT_FOUND naming the reference, the layout and the names it holds', () => {
    assert.throws(
      () => chooseTop(index([entry('a', { name: 'app' }), entry('b', { name: 'other' })]), REF, '1.0', 'OCI layout /srv/images'),
      (err: unknown) => {
        assert.ok(err instanceof SourceError, String(err));
        assert.equal(err.reason, 'NOT_FOUND');
        assert.equal(err.reference, REF);
        for (const part of ['/srv/images', REF, 'app', 'other', '2 images']) assert.ok(err.message.includes(part), `${part} in: ${err.message}`);
        return true;
      },
    );
  });

  test('with an explicit name, an entry named only by the tag is not taken', () => {
    // The caller passes tag null when the user named the image: "1.0" is not "app".
    assert.throws(() => chooseTop(index([entry('a', { name: '1.0' }), entry('b', { name: '2.0' })]), 'app', null, 'layout /x'), SourceError);
  });

  test('unnamed entries that are not all platform manifests are ambiguous, not an index', () => {
    const mixed = [entry('a', { arch: 'amd64' }), entry('b', { arch: 'arm64', mediaType: INDEX })];
    assert.throws(() => chooseTop(index(mixed), REF, '1.0', 'layout /x'), (err: unknown) => err instanceof SourceError && err.reason === 'NOT_FOUND');
    assert.throws(() => chooseTop(index([entry('a'), entry('b')]), REF, '1.0', 'layout /x'), (err: unknown) => err instanceof SourceError && err.reason === 'NOT_FOUND');
  });

  test('an index.json that is not an OCI index: PROTOCOL naming the layout', () => {
    const bad = [
      Buffer.from('not json'),
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: entry('a'), layers: [] })),
      Buffer.from(JSON.stringify({ schemaVersion: 2 })),
      Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ digest: 'nope' }] })),
    ];
    for (const bytes of bad) {
      assert.throws(
        () => chooseTop(bytes, REF, '1.0', 'OCI layout /srv/images'),
        (err: unknown) => err instanceof SourceError && err.reason === 'PROTOCOL' && err.message.includes('/srv/images') && err.message.includes('index.json'),
        bytes.toString(),
      );
    }
  });
});

describe('splitPathAndName', () => {
  test('PATH[:NAME], split at the first colon', () => {
    const cases: Array<[location: string, path: string, name: string | null]> = [
      ['/srv/layout', '/srv/layout', null],
      ['/srv/layout:app', '/srv/layout', 'app'],
      ['relative/dir:app', 'relative/dir', 'app'],
      ['/srv/layout:reg.example.org:5000/app:1.0', '/srv/layout', 'reg.example.org:5000/app:1.0'],
    ];
    for (const [location, path, name] of cases) assert.deepEqual(splitPathAndName('oci', location), { path, name }, location);
  });

  test('an empty path or an empty name is refused, naming the transport', () => {
    for (const [location, why] of [
      ['', /oci-archive:PATH\[:NAME\]/],
      [':app', /oci-archive:PATH\[:NAME\]/],
      ['/srv/a.tar:', /name after ":" is empty/],
    ] as const) {
      assert.throws(
        () => splitPathAndName('oci-archive', location),
        (err: unknown) => err instanceof ReferenceFormatError && why.test(err.message) && err.message.includes(`oci-archive:${location}`),
        location,
      );
    }
  });
});

describe('isFile', () => {
  test('true for a regular file or a link to one; false for a directory, a dangling link or nothing', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'file'), 'x');
    await mkdir(join(dir, 'dir'));
    await symlink('file', join(dir, 'link'));
    await symlink('absent', join(dir, 'dangling'));
    const cases: Array<[name: string, expected: boolean]> = [
      ['file', true],
      ['link', true],
      ['dir', false],
      ['dangling', false],
      ['absent', false],
    ];
    for (const [name, expected] of cases) assert.equal(await isFile(join(dir, name)), expected, name);
  });
});
