// registries.d: files merged, scopes looked up most specific first, the
// lookaside and the attachments switch each from the section that sets it.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigFileError } from '../../src/errors.js';
import { Reference } from '../../src/oci/reference.js';
import { BUILTIN_LOOKASIDE_ROOT, loadRegistriesD, scopesFor, storageFor } from '../../src/signatures/registries-d.js';
import { tempDir } from '../helpers/tmp.js';

const ref = (s: string) => Reference.parse(s);

async function dirWith(t: { after(fn: () => unknown): void }, files: Record<string, string>): Promise<string> {
  const dir = await tempDir(t);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

describe('registries.d', () => {
  test('scopes: name:tag (or @digest), the repository, its namespaces, the host, wildcard domains', () => {
    assert.deepEqual(scopesFor(ref('reg.example.com:5000/team/app:1')), ['reg.example.com:5000/team/app:1', 'reg.example.com:5000/team/app', 'reg.example.com:5000/team', 'reg.example.com:5000', '*.example.com', '*.com']);
    const d = `sha256:${'a'.repeat(64)}`;
    assert.equal(scopesFor(ref(`reg.example.com/app:1@${d}`))[0], `reg.example.com/app@${d}`);
  });

  test('the most specific section with a lookaside wins; attachments are looked up on their own', async (t) => {
    const dir = await dirWith(t, {
      'a.yaml': 'default-docker:\n  lookaside: file:///default\n  use-sigstore-attachments: true\n',
      'b.yaml': 'docker:\n  reg.example.com/team:\n    lookaside: https://sigs.example.com/team\n  reg.example.com/team/app:\n    use-sigstore-attachments: false\n  reg.example.com/old:\n    sigstore: http://old.example.com\n',
      'ignored.txt': 'not: [yaml',
    });
    const conf = await loadRegistriesD({ dir });
    assert.deepEqual(storageFor(conf, ref('reg.example.com/team/app:1')), { lookaside: 'https://sigs.example.com/team', useSigstoreAttachments: false, from: `${join(dir, 'b.yaml')}: docker["reg.example.com/team"]` });
    assert.deepEqual(storageFor(conf, ref('reg.example.com/team/other:1')).useSigstoreAttachments, true, 'from default-docker');
    assert.equal(storageFor(conf, ref('reg.example.com/old/x:1')).lookaside, 'http://old.example.com', 'the older "sigstore" key');
    assert.equal(storageFor(conf, ref('elsewhere.example.org/x:1')).lookaside, 'file:///default');
  });

  test('nothing configured: containers/image\'s built-in lookaside', async (t) => {
    const home = await tempDir(t);
    const conf = await loadRegistriesD({ home, systemDir: join(home, 'none') });
    assert.equal(conf.dir, null);
    assert.deepEqual(storageFor(conf, ref('reg.example.com/a:1')), { lookaside: BUILTIN_LOOKASIDE_ROOT, useSigstoreAttachments: false, from: 'built-in default' });
  });

  test('the user directory, when it exists, replaces the system one', async (t) => {
    const home = await tempDir(t);
    await mkdir(join(home, '.config/containers/registries.d'), { recursive: true });
    await writeFile(join(home, '.config/containers/registries.d/u.yaml'), 'default-docker:\n  lookaside: file:///user\n');
    const conf = await loadRegistriesD({ home, systemDir: '/nonexistent' });
    assert.equal(storageFor(conf, ref('reg.example.com/a:1')).lookaside, 'file:///user');
  });

  const refused: Array<[string, Record<string, string>, RegExp]> = [
    ['a scope in two files', { '1.yaml': 'docker:\n  r.example.com:\n    lookaside: file:///a\n', '2.yaml': 'docker:\n  r.example.com:\n    lookaside: file:///b\n' }, /docker\["r\.example\.com"\]: already configured in .*1\.yaml/],
    ['default-docker twice', { '1.yaml': 'default-docker:\n  lookaside: file:///a\n', '2.yaml': 'default-docker:\n  lookaside: file:///b\n' }, /default-docker: already configured/],
    ['an unknown key', { '1.yaml': 'default-docker:\n  lookasides: file:///a\n' }, /default-docker\.lookasides: unknown key/],
    ['a URL of another scheme', { '1.yaml': 'default-docker:\n  lookaside: ftp://x\n' }, /only file:\/\/, http:\/\/ and https:\/\//],
    ['not YAML', { '1.yaml': 'default-docker: [\n' }, /not valid YAML/],
    ['a list at the top', { '1.yaml': '- a\n' }, /top level: must be a mapping/],
  ];
  for (const [name, files, pattern] of refused) {
    test(`refused, naming the file: ${name}`, async (t) => {
      const dir = await dirWith(t, files);
      await assert.rejects(loadRegistriesD({ dir }), (e: unknown) => e instanceof ConfigFileError && pattern.test(e.message) && e.message.includes(dir));
    });
  }

  test('a --registries.d that does not exist is refused', async (t) => {
    const dir = join(await tempDir(t), 'missing');
    await assert.rejects(loadRegistriesD({ dir }), (e: unknown) => e instanceof ConfigFileError && e.file === dir);
  });
});
