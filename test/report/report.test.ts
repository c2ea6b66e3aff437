// The report: what a user reads after a build, and what scripts parse from --json.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BuildResult, BuiltImage } from '../../src/pipeline/options.js';
import { buildJson, buildText, firstBootSpace, humanSize, problemLine, table } from '../../src/report/report.js';

const image = (name: string, over: Partial<BuiltImage> = {}): BuiltImage => ({
  reference: `r.example.org/${name}:1`,
  archive: `/var/tmp/kiwi_containers/${name}_1`,
  file: `/srv/root/var/tmp/kiwi_containers/${name}_1`,
  digest: `sha256:${'a'.repeat(64)}`,
  indexDigest: null,
  platform: 'linux/amd64',
  size: 3 * 1024 * 1024,
  uncompressedSize: 5 * 1024 * 1024,
  backend: 'podman',
  load: true,
  origin: 'registry r.example.org',
  warnings: [],
  accepted: null,
  notes: [],
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'b'.repeat(64)}`, size: 10 },
  layers: [],
  manifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
  manifestSize: 100,
  ...over,
});
const result = (images: BuiltImage[], root: string | null = '/srv/root', policy: BuildResult['policy'] = { file: '/etc/containers/policy.json', insecure: false }): BuildResult => ({
  output: root ? `root ${root}` : 'overlay /x.tar',
  root,
  images,
  units: ['/etc/systemd/system/kiwi_containers.service'],
  policy,
});

describe('the build report', () => {
  test('first-boot space counts loaded images only, and is unknown when a layer size is', () => {
    const r = result([image('a'), image('b', { load: false, uncompressedSize: null })]);
    assert.deepEqual(firstBootSpace(r), { archives: 6 * 1024 * 1024, firstBootUnpacked: 5 * 1024 * 1024 });
    assert.equal(firstBootSpace(result([image('a', { uncompressedSize: null })])).firstBootUnpacked, null);
  });

  test('--json names every image with where it is and where it came from', () => {
    const json = buildJson(result([image('a', { origin: 'containers-storage localhost/a:dev', warnings: ['w'] })]));
    assert.equal(json.root, '/srv/root');
    assert.deepEqual(json.containers[0], {
      reference: 'r.example.org/a:1',
      archive: '/var/tmp/kiwi_containers/a_1',
      path: '/srv/root/var/tmp/kiwi_containers/a_1',
      digest: `sha256:${'a'.repeat(64)}`,
      indexDigest: null,
      platform: 'linux/amd64',
      size: 3 * 1024 * 1024,
      uncompressedSize: 5 * 1024 * 1024,
      backend: 'podman',
      load: true,
      source: 'containers-storage localhost/a:dev',
      accepted: null,
      warnings: ['w'],
      notes: [],
    });
    assert.deepEqual(json.policy, { file: '/etc/containers/policy.json', insecure: false });
  });

  test('the policy: what accepted each image, or that none was consulted', () => {
    const accepted = [{ scope: 'quay.io/team', requirement: 'signedBy GPGKeys', keys: ['ABCD'] }];
    const text = buildText(result([image('a', { accepted }), image('b', { accepted: [{ scope: 'default', requirement: 'insecureAcceptAnything', keys: [] }] })]));
    assert.match(text, /^policy: \/etc\/containers\/policy\.json$/m);
    assert.match(text, /^  r\.example\.org\/a:1: accepted by signedBy GPGKeys \(ABCD\) in scope "quay\.io\/team"$/m);
    assert.match(text, /^  r\.example\.org\/b:1: accepted by insecureAcceptAnything in scope "default"$/m);
    assert.match(buildText(result([image('a')], '/r', null)), /^policy: no policy\.json found; every image accepted without a signature check$/m);
    assert.match(buildText(result([image('a')], '/r', { file: null, insecure: true })), /^policy: not consulted \(--insecure-policy\)$/m);
    assert.deepEqual(buildJson(result([image('a', { accepted })])).containers[0]!.accepted, accepted);
    assert.equal(buildJson(result([image('a')], '/r', null)).policy, null);
  });

  test('the text names the root, or the output when there is no root, and marks fetch-only archives', () => {
    const text = buildText(result([image('a'), image('b', { load: false })]));
    assert.match(text, /^root: \/srv\/root$/m);
    assert.match(text, /\/var\/tmp\/kiwi_containers\/b_1 \(fetch only\)/);
    assert.match(text, /2 images, 6\.0 MiB in archives; first boot unpacks 5\.0 MiB/);
    assert.match(buildText(result([image('a')], null)), /^output: overlay \/x\.tar$/m);
    assert.match(buildText(result([], null)), /no containers selected/);
  });

  test('sizes, tables and problem lines read as documented', () => {
    assert.deepEqual([0, 1023, 1024, 1536, 5 * 1024 ** 3].map(humanSize), ['0 B', '1023 B', '1.0 KiB', '1.5 KiB', '5.0 GiB']);
    assert.equal(table(['A', 'BB'], [['xxx', 'y'], ['z', '']]), 'A    BB\nxxx  y\nz');
    assert.equal(problemLine('d.xml', { message: 'bad', path: '/image/x[1]', line: 4 }), 'd.xml:4: /image/x[1]: bad');
    assert.equal(problemLine('d.xml', { message: 'bad', path: '', line: null }), 'd.xml:-: /: bad');
  });
});
