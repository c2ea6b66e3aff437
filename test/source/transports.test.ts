// parseSourceRef: TRANSPORT:LOCATION as skopeo spells it (containers-transports(5)).
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ReferenceFormatError } from '../../src/errors.js';
import { Reference } from '../../src/oci/reference.js';
import { RegistryResolver } from '../../src/registry/resolver.js';
import { parseSourceRef } from '../../src/source/transports.js';
import { tempDir } from '../helpers/tmp.js';

const D = `sha256:${'c'.repeat(64)}`;

describe('parseSourceRef', () => {
  test('each transport parses its own form into a ref naming the place in messages', () => {
    const cases: Array<[text: string, transport: string, origin: string]> = [
      ['docker://reg.example.org/team/app:1.0', 'docker', 'registry reg.example.org'],
      [`docker://127.0.0.1:5000/app@${D}`, 'docker', 'registry 127.0.0.1:5000'],
      ['oci:/srv/layout', 'oci', 'oci-layout /srv/layout'],
      ['oci:/srv/layout:app', 'oci', 'oci-layout /srv/layout:app'],
      ['oci-archive:/srv/app.tar', 'oci-archive', 'oci-archive /srv/app.tar'],
      // The name may itself hold colons and slashes: the path ends at the first colon.
      ['oci-archive:/srv/app.tar:reg.example.org/app:1.0', 'oci-archive', 'oci-archive /srv/app.tar:reg.example.org/app:1.0'],
    ];
    for (const [text, transport, origin] of cases) {
      const ref = parseSourceRef(text);
      assert.equal(ref.transport, transport, text);
      assert.equal(ref.origin, origin, text);
    }
  });

  test('the path of oci: and oci-archive: ends at the first colon: present() looks there', async (t) => {
    const dir = await tempDir(t);
    const archive = join(dir, 'app.tar');
    await writeFile(archive, '');
    const layout = join(dir, 'layout');
    await mkdir(layout);
    await writeFile(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    assert.equal(await parseSourceRef(`oci-archive:${archive}:reg.example.org/app:1.0`).present(), true);
    assert.equal(await parseSourceRef(`oci:${layout}:app`).present(), true);
    assert.equal(await parseSourceRef(`oci:${layout}`).present(), true);
    assert.equal(await parseSourceRef(`oci-archive:${join(dir, 'absent.tar')}:app`).present(), false);
  });

  test('docker:// opens a registry source for the registry named in the reference', async (t) => {
    const resolver = new RegistryResolver({ tlsVerify: false, credentials: { env: {}, home: await tempDir(t) } });
    t.after(() => resolver.close());
    const ref = parseSourceRef('docker://reg.example.org:5000/team/app:1.0');
    assert.equal(await ref.present(), true, 'a registry is always there to ask');
    const source = ref.open({ image: Reference.parse('reg.example.org:5000/team/app:1.0'), registries: resolver });
    assert.equal(source.description, 'registry reg.example.org:5000');
  });

  test('an unknown or missing transport is refused, listing the transports there are', () => {
    for (const text of ['dir:/srv/image', 'ostree:/srv/repo', 'reg.example.org/app', '']) {
      assert.throws(
        () => parseSourceRef(text),
        (err: unknown) => {
          assert.ok(err instanceof ReferenceFormatError, `${text}: ${String(err)}`);
          for (const name of ['docker', 'oci', 'oci-archive', 'docker-archive', 'containers-storage', 'docker-daemon']) assert.match(err.message, new RegExp(`\\b${name}\\b`), `${text}: ${err.message}`);
          return true;
        },
      );
    }
  });

  test('docker: without "//" is refused, showing the form expected', () => {
    for (const text of ['docker:reg.example.org/app:1', 'docker:/reg.example.org/app:1']) {
      assert.throws(
        () => parseSourceRef(text),
        (err: unknown) => err instanceof ReferenceFormatError && err.message.includes('docker://HOST/'),
        text,
      );
    }
  });

  test('a docker:// reference that is not a valid reference is refused', () => {
    for (const text of ['docker://', 'docker://app:1', 'docker://reg.example.org/App:1']) {
      assert.throws(() => parseSourceRef(text), ReferenceFormatError, text);
    }
  });

  test('oci: and oci-archive: need a path, and a name when there is a colon', () => {
    for (const text of ['oci:', 'oci::app', 'oci:/srv/layout:', 'oci-archive:', 'oci-archive::app', 'oci-archive:/srv/a.tar:']) {
      assert.throws(() => parseSourceRef(text), ReferenceFormatError, text);
    }
  });
});
