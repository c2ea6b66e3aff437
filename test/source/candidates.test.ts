// Where a planned image is read from: the container directory (OBS's
// _obsrepositories: an oci-archive, then an OCI layout), then the registry.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { SourceError } from '../../src/errors.js';
import { Reference } from '../../src/oci/reference.js';
import { candidatesFor, chooseSource, containerDirFor } from '../../src/source/candidates.js';
import type { SourceRef } from '../../src/source/types.js';
import { tempDir } from '../helpers/tmp.js';

const D = `sha256:${'d'.repeat(64)}`;
const image = Reference.parse('reg.example.org/team/app:1.0');
const pinned = image.withDigest(D);

/** Files OBS leaves in the container directory for `image`: NAME:TAG.ociarchive, or an OCI layout at NAME:TAG. */
async function putArchive(dir: string): Promise<string> {
  const file = join(dir, 'reg.example.org/team/app:1.0.ociarchive');
  await mkdir(join(dir, 'reg.example.org/team'), { recursive: true });
  await writeFile(file, '');
  return file;
}
async function putLayout(dir: string): Promise<string> {
  const layout = join(dir, 'reg.example.org/team/app:1.0');
  await mkdir(layout, { recursive: true });
  await writeFile(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  return layout;
}

const describeRefs = (refs: readonly SourceRef[]) => refs.map((r) => `${r.transport} ${r.origin}`);

describe('candidatesFor', () => {
  test('container-dir archive, then container-dir layout, then the registry', () => {
    assert.deepEqual(describeRefs(candidatesFor(image, pinned, { containerDir: '/c', offline: false })), [
      'oci-archive oci-archive /c/reg.example.org/team/app:1.0.ociarchive',
      'oci oci-layout /c/reg.example.org/team/app:1.0',
      'docker registry reg.example.org',
    ]);
  });

  test('offline drops the registry; without a container directory only the registry is left', () => {
    assert.deepEqual(
      candidatesFor(image, pinned, { containerDir: '/c', offline: true }).map((r) => r.transport),
      ['oci-archive', 'oci'],
    );
    assert.deepEqual(
      candidatesFor(image, pinned, { offline: false }).map((r) => r.transport),
      ['docker'],
    );
    assert.deepEqual(candidatesFor(image, pinned, { offline: true }), []);
  });

  test('local copies are named by the planned reference, the registry is asked for the pinned one', async (t) => {
    const dir = await tempDir(t);
    await putArchive(dir);
    const [archive, , registry] = candidatesFor(image, pinned, { containerDir: dir, offline: false });
    assert.equal(await archive!.present(), true, 'found under the planned name, without the digest');
    assert.equal((registry as SourceRef & { ref: Reference }).ref.toString(), pinned.toString());
  });
});

describe('chooseSource', () => {
  const cases: Array<{ what: string; archive: boolean; layout: boolean; offline: boolean; chosen: string }> = [
    { what: 'the archive when both local copies are there', archive: true, layout: true, offline: false, chosen: 'oci-archive' },
    { what: 'the layout when there is no archive', archive: false, layout: true, offline: true, chosen: 'oci' },
    { what: 'the registry when nothing local is there', archive: false, layout: false, offline: false, chosen: 'docker' },
  ];
  for (const c of cases) {
    test(`picks ${c.what}`, async (t) => {
      const dir = await tempDir(t);
      if (c.archive) await putArchive(dir);
      if (c.layout) await putLayout(dir);
      const chosen = await chooseSource(image, candidatesFor(image, pinned, { containerDir: dir, offline: c.offline }));
      assert.equal(chosen.transport, c.chosen);
    });
  }

  test('a directory where the archive should be, or a layout without oci-layout, is not present', async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, 'reg.example.org/team/app:1.0.ociarchive'), { recursive: true });
    await mkdir(join(dir, 'reg.example.org/team/app:1.0'), { recursive: true });
    const chosen = await chooseSource(image, candidatesFor(image, pinned, { containerDir: dir, offline: false }));
    assert.equal(chosen.transport, 'docker');
  });

  test('offline and nothing pre-fetched: MISSING naming the image and every place looked at', async (t) => {
    const dir = await tempDir(t);
    await assert.rejects(chooseSource(image, candidatesFor(image, pinned, { containerDir: dir, offline: true })), (err: unknown) => {
      assert.ok(err instanceof SourceError, String(err));
      assert.equal(err.reason, 'MISSING');
      assert.equal(err.reference, image.toString());
      for (const place of [image.toString(), join(dir, 'reg.example.org/team/app:1.0.ociarchive'), `oci-layout ${join(dir, 'reg.example.org/team/app:1.0')}`]) {
        assert.ok(err.message.includes(place), `${place} in: ${err.message}`);
      }
      return true;
    });
  });

  test('offline without any container directory: MISSING telling to give --container-dir', async () => {
    await assert.rejects(
      chooseSource(image, candidatesFor(image, pinned, { offline: true })),
      (err: unknown) => err instanceof SourceError && err.reason === 'MISSING' && err.message.includes('--container-dir') && err.message.includes(image.toString()),
    );
  });
});

describe('containerDirFor', () => {
  test('an explicit directory wins; on an OBS worker (marker file) the OBS directory; else none', async (t) => {
    const dir = await tempDir(t);
    const marker = join(dir, '.buildenv');
    assert.equal(containerDirFor(undefined, marker), undefined, 'no marker, no directory');
    await writeFile(marker, '');
    assert.equal(containerDirFor(undefined, marker), '/usr/src/packages/SOURCES/containers/_obsrepositories');
    assert.equal(containerDirFor('/my/containers', marker), '/my/containers');
    assert.equal(containerDirFor('/my/containers', join(dir, 'absent')), '/my/containers');
  });
});
