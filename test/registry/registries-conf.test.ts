// registries.conf (V2): parsing, merging of drop-ins, prefix matching and the
// endpoints a rule gives, per containers-registries.conf(5). The same files
// are given to skopeo in test/pipeline/registries-conf.test.ts.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigFileError } from '../../src/errors.js';
import { Reference } from '../../src/oci/reference.js';
import { confPaths, findRule, loadRegistriesConf, matchLength, parseRegistriesConf, pullSources } from '../../src/registry/registries-conf.js';
import { tempDir } from '../helpers/tmp.js';

const ref = (s: string) => Reference.parse(s);
const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('registries.conf: matching', () => {
  test('a prefix matches whole path components, tags and digests', () => {
    assert.equal(matchLength('example.com/foo:1', 'example.com/foo'), 'example.com/foo'.length);
    assert.equal(matchLength('example.com/foo/bar:1', 'example.com/foo'), 'example.com/foo'.length);
    assert.equal(matchLength('example.com/foobar:1', 'example.com/foo'), -1);
    assert.equal(matchLength('example.com/foo:1', 'example.com/foo:1'), 'example.com/foo:1'.length);
    assert.equal(matchLength('sub.example.com/foo:1', '*.example.com'), 'sub.example.com'.length);
    assert.equal(matchLength('a.b.example.com/foo:1', '*.example.com'), 'a.b.example.com'.length);
    assert.equal(matchLength('example.com/foo:1', '*.example.com'), -1, 'the wildcard needs a subdomain');
    assert.equal(matchLength('other.com/x.example.com/foo:1', '*.example.com'), -1, 'only in the host');
  });

  test('the longest matching prefix wins', () => {
    const conf = parseRegistriesConf(
      `[[registry]]\nprefix = "example.com"\nlocation = "a.example.net"\n\n[[registry]]\nprefix = "example.com/team"\nlocation = "b.example.net/t"\n\n[[registry]]\nprefix = "*.example.com"\nlocation = ""\nblocked = true\n`,
      '/conf',
    );
    assert.equal(findRule(conf, ref('example.com/team/app:1'))?.location, 'b.example.net/t');
    assert.equal(findRule(conf, ref('example.com/other:1'))?.location, 'a.example.net');
    assert.equal(findRule(conf, ref('x.example.com/app:1'))?.blocked, true);
    assert.equal(findRule(conf, ref('example.org/app:1')), null);
  });

  test('mirrors first, then the registry at its location; tag and digest kept', () => {
    const conf = parseRegistriesConf(
      `[[registry]]\nprefix = "example.com/team"\nlocation = "internal.example.net/mirror/team"\ninsecure = true\n[[registry.mirror]]\nlocation = "m1.example.net/x"\n[[registry.mirror]]\nlocation = "m2.example.net"\ninsecure = true\n`,
      '/conf',
    );
    const rule = findRule(conf, ref('example.com/team/app:1.0'))!;
    const got = pullSources(rule, ref('example.com/team/app:1.0')).map((s) => [s.ref.toString(), s.insecure, s.mirror]);
    assert.deepEqual(got, [
      ['m1.example.net/x/app:1.0', false, true],
      ['m2.example.net/app:1.0', true, true],
      ['internal.example.net/mirror/team/app:1.0', true, false],
    ]);
    const pinned = pullSources(rule, ref(`example.com/team/app:1.0@${DIGEST}`));
    assert.equal(pinned[0]!.ref.toString(), `m1.example.net/x/app:1.0@${DIGEST}`, 'the tag stays beside the digest');
  });

  test('mirror-by-digest-only and pull-from-mirror choose mirrors by tag or digest', () => {
    const byDigest = parseRegistriesConf(`[[registry]]\nlocation = "example.com"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "m.example.net"\n`, '/c');
    const rule = findRule(byDigest, ref('example.com/app:1'))!;
    assert.deepEqual(pullSources(rule, ref('example.com/app:1')).map((s) => s.ref.registry), ['example.com']);
    assert.deepEqual(pullSources(rule, ref(`example.com/app@${DIGEST}`)).map((s) => s.ref.registry), ['m.example.net', 'example.com']);
    const perMirror = parseRegistriesConf(
      `[[registry]]\nlocation = "example.com"\n[[registry.mirror]]\nlocation = "d.example.net"\npull-from-mirror = "digest-only"\n[[registry.mirror]]\nlocation = "t.example.net"\npull-from-mirror = "tag-only"\n[[registry.mirror]]\nlocation = "a.example.net"\npull-from-mirror = "all"\n`,
      '/c',
    );
    const r2 = findRule(perMirror, ref('example.com/app:1'))!;
    assert.deepEqual(pullSources(r2, ref('example.com/app:1')).map((s) => s.ref.registry), ['t.example.net', 'a.example.net', 'example.com']);
    assert.deepEqual(pullSources(r2, ref(`example.com/app@${DIGEST}`)).map((s) => s.ref.registry), ['d.example.net', 'a.example.net', 'example.com']);
  });

  test('a wildcard prefix without location keeps the name', () => {
    const conf = parseRegistriesConf(`[[registry]]\nprefix = "*.example.com"\n[[registry.mirror]]\nlocation = "m.example.net/cache"\n`, '/c');
    const r = findRule(conf, ref('a.example.com/team/app:1'))!;
    assert.deepEqual(pullSources(r, ref('a.example.com/team/app:1')).map((s) => s.ref.toString()), ['m.example.net/cache/team/app:1', 'a.example.com/team/app:1']);
  });
});

describe('registries.conf: files', () => {
  const refused = (text: string, pattern: RegExp) =>
    assert.throws(
      () => parseRegistriesConf(text, '/etc/containers/registries.conf'),
      (e: unknown) => e instanceof ConfigFileError && e.file === '/etc/containers/registries.conf' && pattern.test(e.message) && e.message.startsWith('/etc/containers/registries.conf: '),
    );

  test('refused with the file and the place named', () => {
    refused(`[registries.search]\nregistries = ["docker.io"]\n`, /V1 format .* not supported/);
    refused(`[[registry]]\nlocation = "a.example.com"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "m"\npull-from-mirror = "all"\n`, /exclude each other/);
    refused(`[[registry]]\nlocation = "a.example.com"\n[[registry.mirror]]\nlocation = "m"\npull-from-mirror = "sometimes"\n`, /mirror #1 pull-from-mirror: "sometimes" is not one of/);
    refused(`[[registry]]\nprefix = "example.com"\n`, /location is unset/);
    refused(`[[registry]]\nprefix = "ex*ample.com"\nlocation = "x"\n`, /wildcard/);
    refused(`[[registry]]\nlocation = "a.example.com"\ninsecure = "yes"\n`, /#1 insecure: must be true or false/);
    refused(`[[registry]]\nlocation = "a.example.com"\nmirrors = []\n`, /#1 mirrors: unknown key/);
    refused(`[[registry]]\nlocation = "a.example.com"\n[[registry]]\nlocation = "a.example.com"\n`, /defined more than once/);
    refused(`[[registry]\n`, /not valid TOML/);
    refused(`[[registry]]\nlocation = "https://a.example.com"\n`, /not a URL/);
  });

  test('short-name aliases, unqualified-search-registries and short-name-mode are read without complaint', () => {
    const conf = parseRegistriesConf(`unqualified-search-registries = ["docker.io"]\nshort-name-mode = "enforcing"\n[aliases]\n"fedora" = "registry.fedoraproject.org/fedora"\n`, '/c');
    assert.equal(conf.aliases.get('fedora')?.target, 'registry.fedoraproject.org/fedora');
  });

  test('found as skopeo finds them, drop-ins merged in order, later rules replace earlier ones', async (t) => {
    const home = await tempDir(t);
    const system = await tempDir(t);
    await mkdir(join(system, 'registries.conf.d'));
    await writeFile(join(system, 'registries.conf'), `[[registry]]\nlocation = "a.example.com"\ninsecure = true\n\n[[registry]]\nlocation = "b.example.com"\n`);
    await writeFile(join(system, 'registries.conf.d', '20-b.conf'), `[[registry]]\nlocation = "a.example.com"\nblocked = true\n`);
    await writeFile(join(system, 'registries.conf.d', '10-a.conf'), `[aliases]\n"app" = "b.example.com/app"\n`);
    await writeFile(join(system, 'registries.conf.d', 'ignored.txt'), `not toml at all [[[`);
    const conf = await loadRegistriesConf({ env: {}, home, systemDir: system });
    assert.deepEqual(conf.files, [join(system, 'registries.conf'), join(system, 'registries.conf.d/10-a.conf'), join(system, 'registries.conf.d/20-b.conf')]);
    const a = findRule(conf, ref('a.example.com/x:1'))!;
    assert.equal(a.blocked, true);
    assert.equal(a.insecure, false, 'the drop-in replaced the whole rule');
    assert.equal(a.file, join(system, 'registries.conf.d/20-b.conf'));
    assert.ok(findRule(conf, ref('b.example.com/x:1')));
    assert.equal(conf.aliases.get('app')?.target, 'b.example.com/app');

    // A user's registries.conf replaces the system file and its drop-ins.
    await mkdir(join(home, '.config/containers/registries.conf.d'), { recursive: true });
    await writeFile(join(home, '.config/containers/registries.conf'), `[[registry]]\nlocation = "c.example.com"\n`);
    const user = await confPaths({ env: {}, home, systemDir: system });
    assert.deepEqual(user, { main: join(home, '.config/containers/registries.conf'), mainGiven: false, dropInDirs: [join(home, '.config/containers/registries.conf.d')] });
    // --registries-conf (or $CONTAINERS_REGISTRIES_CONF) replaces the main file only.
    const given = await confPaths({ file: '/x.conf', env: { CONTAINERS_REGISTRIES_CONF: '/y.conf' }, home, systemDir: system });
    assert.equal(given.main, '/x.conf');
    assert.equal((await confPaths({ env: { CONTAINERS_REGISTRIES_CONF: '/y.conf' }, home, systemDir: system })).main, '/y.conf');
    await assert.rejects(loadRegistriesConf({ file: join(home, 'missing.conf'), env: {}, home, systemDir: system }), (e: unknown) => e instanceof ConfigFileError && /missing\.conf/.test(e.message));
  });

  test('no file at all: no rules', async (t) => {
    const home = await tempDir(t);
    const conf = await loadRegistriesConf({ env: {}, home, systemDir: join(home, 'none') });
    assert.deepEqual(conf.files, []);
    assert.equal(findRule(conf, ref('example.com/a:1')), null);
  });
});
