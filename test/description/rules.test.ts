import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { archProblem } from '../../src/description/names.js';
import { repositoryPathProblem, sourceProblem } from '../../src/oci/reference.js';
import { validateDescriptionText } from '../../src/description/validate.js';
import { description } from '../helpers/descriptions.js';

const found = (text: string) => validateDescriptionText(text).map((p) => `${p.path}: ${p.message}`);
const container = (attrs: string, section = 'source="registry.example.org" backend="podman"') =>
  description(`<containers ${section}><container ${attrs}/></containers>`);

describe('repository names', () => {
  for (const ok of ['a', 'busybox', 'opensuse/tumbleweed', 'a.b', 'a_b', 'a__b', 'a-b', 'a--b', 'x0/y1/z2']) {
    test(`accepts ${ok}`, () => assert.equal(repositoryPathProblem(ok), null));
  }
  for (const [bad, why] of [
    ['', /empty/],
    ['Busybox', /uppercase/],
    ['a//b', /empty component/],
    ['../etc', /"\.\." component/],
    ['a/./b', /"\." component/],
    ['a..b', /not lowercase/],
    ['-a', /not lowercase/],
    ['a_', /not lowercase/],
    ['a___b', /not lowercase/],
    ['a b', /not lowercase/],
    ['a;rm -rf', /not lowercase/],
    ['a\u0000b', /not lowercase/],
  ] as const) {
    test(`refuses ${JSON.stringify(bad)}`, () => assert.match(repositoryPathProblem(bad) ?? '', why));
  }
});

describe('sources', () => {
  for (const ok of ['registry.example.org', 'localhost:5000', '127.0.0.1:5000/a/b', 'r.example.org/opensuse', '[::1]:5000', 'r.example.org/'])
    test(`accepts ${ok}`, () => assert.equal(sourceProblem(ok), null));
  for (const [bad, why] of [
    ['https://r.example.org', /URL scheme/],
    ['docker://r', /URL scheme/],
    ['r.example.org:99999', /port/],
    ['r.example.org:', /port/],
    ['-r.example.org', /host/],
    ['r.example.org/UP', /uppercase/],
    ['r .org', /whitespace/],
  ] as const)
    test(`refuses ${bad}`, () => assert.match(sourceProblem(bad) ?? '', why));
});

describe('architectures', () => {
  test('uname -m names pass', () => {
    for (const a of ['x86_64', 'aarch64', 'armv7l', 'ppc64le', 's390x', 'riscv64', 'i686']) assert.equal(archProblem(a), null);
  });
  test('names uname never prints get the right suggestion', () => {
    assert.match(archProblem('amd64')!, /use "x86_64"/);
    assert.match(archProblem('arm64')!, /use "aarch64"/);
    assert.match(archProblem('sparc')!, /not a known architecture; allowed: x86_64/);
  });
});

describe('semantic rules on descriptions', () => {
  test('tag grammar', () => {
    assert.deepEqual(found(container('name="a" tag="1.2_rc-3"')), []);
    assert.deepEqual(found(container(`name="a" tag="${'t'.repeat(128)}"`)), []);
    for (const bad of ['.x', '-x', `${'t'.repeat(129)}`, 'a:b', 'a/b', '']) {
      const f = found(container(`name="a" tag="${bad}"`));
      assert.equal(f.length, 1, bad);
      assert.match(f[0]!, /^\/image\/containers\[1\]\/container\[1\]\/@tag: tag .* is not valid/);
    }
  });

  test('KIWI-style leading and trailing slashes in path are tolerated, .. is not', () => {
    assert.deepEqual(found(container('name="a" path="/some/path/"')), []);
    assert.match(found(container('name="a" path="../x"'))[0]!, /@path: .*"\.\." component/);
  });

  test('an empty path is no path, as KIWI reads it', () => {
    assert.deepEqual(found(container('name="a" path=""')), []);
    assert.deepEqual(found(container('name="a" path="/"')), []);
  });

  test('source with a scheme is refused with a hint', () => {
    const f = found(container('name="a"', 'source="https://r.example.org" backend="podman"'));
    assert.deepEqual(f, ['/image/containers[1]/@source: source "https://r.example.org" is not host[:port][/path]: it has a URL scheme; give host[:port][/path] without "https://" or "docker://"']);
  });

  test('overlong repository names are refused', () => {
    const f = found(container(`name="${'a'.repeat(250)}" path="bbbbbbb"`));
    assert.match(f[0]!, /characters long; registries accept at most 255/);
  });

  test('profiles named in sections must be defined', () => {
    const text = description(`<profiles><profile name="a" description="A"/></profiles>
<containers source="r" backend="podman" profiles="a,b"><container name="x"/></containers>
<packages type="image" profiles="c"><package name="p"/></packages>`);
    assert.deepEqual(found(text), [
      '/image/containers[1]/@profiles: profile "b" is not defined (defined profiles: a)',
      '/image/packages[1]/@profiles: profile "c" is not defined (defined profiles: a)',
    ]);
  });

  test('requires must name a defined profile; profiles are defined once', () => {
    const text = description(`<profiles>
<profile name="a" description="A"><requires profile="zz"/></profile>
<profile name="a" description="again"/>
</profiles>`);
    assert.deepEqual(found(text), [
      '/image/profiles[1]/profile[1]/requires[1]/@profile: required profile "zz" is not defined (defined profiles: a)',
      '/image/profiles[1]/profile[2]/@name: profile "a" is already defined at line 14',
    ]);
  });

  test('arch attributes anywhere use uname -m names', () => {
    const text = description(`<containers source="r" backend="podman" arch="amd64"><container name="x" arch="x86_64,sparc"/></containers>
<packages type="image"><package name="p" arch="arm64"/></packages>`);
    assert.deepEqual(found(text), [
      '/image/containers[1]/@arch: "amd64" is not a `uname -m` name and would never match; use "x86_64"',
      '/image/containers[1]/container[1]/@arch: "sparc" is not a known architecture; allowed: x86_64, i686, i586, aarch64, armv7l, armv6l, armv5tel, ppc64le, ppc64, ppc, s390x, s390, riscv64',
      '/image/packages[1]/package[1]/@arch: "arm64" is not a `uname -m` name and would never match; use "aarch64"',
    ]);
  });
});
