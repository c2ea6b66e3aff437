// Format detection on documents alone: which index entry, which layer.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chooseIndexEntry, chooseLayer, isArtifact } from '../../src/disk/select.js';
import { SourceError, UsageError } from '../../src/errors.js';
import type { Descriptor, ImageIndex, ImageManifest } from '../../src/oci/manifest.js';

const TITLE = 'org.opencontainers.image.title';
let n = 0;
const digest = () => `sha256:${(++n).toString(16).padStart(64, '0')}`;
const entry = (architecture: string, disktype?: string, variant?: string): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: digest(),
  size: 400,
  platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) },
  ...(disktype ? { annotations: { disktype } } : {}),
});
const index = (...manifests: Descriptor[]): ImageIndex => ({ kind: 'index', mediaType: 'application/vnd.oci.image.index.v1+json', manifests });
const layer = (mediaType: string, title?: string): Descriptor => ({ mediaType, digest: digest(), size: 10, ...(title ? { annotations: { [TITLE]: title } } : {}) });
const manifest = (layers: Descriptor[], config = 'application/vnd.oci.empty.v1+json', artifactType?: string): ImageManifest => ({
  kind: 'manifest',
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: config, digest: digest(), size: 2 },
  layers,
  ...(artifactType ? { artifactType } : {}),
});
const amd64 = { os: 'linux', architecture: 'amd64' };
const arm64 = { os: 'linux', architecture: 'arm64', variant: 'v8' };
const want = (platform = amd64, disktype: string | null = null, file: string | null = null) => ({ platform, disktype, file });

describe('chooseIndexEntry', () => {
  const podman = index(entry('x86_64', 'qemu'), entry('aarch64', 'qemu'), entry('x86_64', 'applehv'), entry('aarch64', 'applehv'));

  test('podman machine-os: by disktype and platform, x86_64/aarch64 matching amd64/arm64', () => {
    assert.equal(chooseIndexEntry(podman, want(amd64, 'qemu'), 'r').descriptor, podman.manifests[0]);
    assert.equal(chooseIndexEntry(podman, want(arm64, 'applehv'), 'r').descriptor, podman.manifests[3]);
    const c = chooseIndexEntry(podman, want({ os: 'linux', architecture: 'x86_64' }, 'applehv'), 'r');
    assert.equal(c.descriptor, podman.manifests[2]);
    assert.equal(c.disktype, 'applehv');
  });

  test('podman machine-os without --disktype: the only disktype of the platform, else a usage error naming them', () => {
    const one = index(entry('x86_64', 'qemu'), entry('aarch64', 'applehv'));
    assert.equal(chooseIndexEntry(one, want(arm64), 'r').disktype, 'applehv');
    assert.throws(() => chooseIndexEntry(podman, want(amd64), 'r'), (e: unknown) => e instanceof UsageError && /several disk types for linux\/amd64: qemu, applehv/.test(e.message));
  });

  test('no match: a source error (exit 4) listing every entry', () => {
    assert.throws(
      () => chooseIndexEntry(podman, want({ os: 'linux', architecture: 's390x' }, 'qemu'), 'reg/x:1'),
      (e: unknown) => e instanceof SourceError && e.code === 'IMGDESC_SOURCE_PLATFORM' && e.message === 'reg/x:1 has no disk for linux/s390x disktype=qemu; it offers: linux/x86_64 disktype=qemu, linux/aarch64 disktype=qemu, linux/x86_64 disktype=applehv, linux/aarch64 disktype=applehv',
    );
    assert.throws(() => chooseIndexEntry(podman, want(amd64, 'wsl'), 'r'), SourceError);
  });

  test('an index without disktype (ORAS, multi-arch): by platform; a --disktype it cannot honour is no match', () => {
    const oras = index(entry('arm64'), entry('amd64'));
    assert.equal(chooseIndexEntry(oras, want(arm64), 'r').descriptor, oras.manifests[0]);
    assert.equal(chooseIndexEntry(oras, want(amd64), 'r').disktype, null);
    assert.throws(() => chooseIndexEntry(oras, want(amd64, 'qemu'), 'r'), SourceError);
  });
});

describe('chooseLayer', () => {
  test('podman: exactly one titled layer', () => {
    const m = manifest([layer('application/zstd', 'podman-machine.x86_64.qemu.qcow2.zst')]);
    assert.deepEqual(chooseLayer(m, true, null, 'r'), { format: 'podman-machine', layer: m.layers[0], title: 'podman-machine.x86_64.qemu.qcow2.zst' });
    assert.throws(() => chooseLayer(manifest([layer('application/zstd', 'a'), layer('application/zstd', 'b')]), true, null, 'r'), /exactly one layer/);
    assert.throws(() => chooseLayer(manifest([layer('application/zstd')]), true, null, 'r'), /exactly one layer/);
  });

  test('ORAS: artifactType or an empty config, titled layers; several need --file', () => {
    const one = manifest([layer('application/x-qemu-qcow2+zstd', 'fedora.qcow2.zst')], 'application/vnd.oci.empty.v1+json', 'application/vnd.unknown.artifact.v1');
    assert.equal(chooseLayer(one, false, null, 'r').format, 'oras');
    const two = manifest([layer('application/vnd.oci.image.layer.v1.tar', 'a.raw.gz'), layer('application/vnd.oci.image.layer.v1.tar', 'b.img')]);
    assert.throws(() => chooseLayer(two, false, null, 'r'), (e: unknown) => e instanceof UsageError && /several files: a\.raw\.gz, b\.img; choose one with --file NAME/.test(e.message));
    assert.equal(chooseLayer(two, false, 'a.raw.gz', 'r').title, 'a.raw.gz');
    assert.equal(chooseLayer(two, false, 'a.raw', 'r').title, 'a.raw.gz', 'the name without its compression suffix');
    assert.throws(() => chooseLayer(two, false, 'c', 'r'), (e: unknown) => e instanceof SourceError && /has no file "c"; it holds: a\.raw\.gz, b\.img/.test(e.message));
  });

  test('a hostile title fails before anything else, even when --file names another layer', () => {
    const m = manifest([layer('application/zstd', 'ok.raw'), layer('application/zstd', '../../etc/passwd')]);
    assert.throws(() => chooseLayer(m, false, 'ok.raw', 'r'), (e: unknown) => e instanceof SourceError && /refused: it contains "\.\."/.test(e.message));
    assert.throws(() => chooseLayer(manifest([layer('application/zstd', '/abs.raw')]), false, null, 'r'), /absolute/);
  });

  test('an image of one untitled tar layer: one-file or containerDisk, told apart in the tar', () => {
    for (const t of ['application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.oci.image.layer.v1.tar', 'application/vnd.oci.image.layer.v1.tar+zstd', 'application/vnd.docker.image.rootfs.diff.tar.gzip']) {
      const m = manifest([layer(t)], 'application/vnd.oci.image.config.v1+json');
      assert.deepEqual(chooseLayer(m, false, null, 'r'), { format: null, layer: m.layers[0], title: null }, t);
    }
  });

  test('refused: an image of several layers, an artifact without titles, an untitled non-tar layer', () => {
    assert.throws(() => chooseLayer(manifest([layer('application/vnd.oci.image.layer.v1.tar+gzip'), layer('application/vnd.oci.image.layer.v1.tar+gzip')], 'application/vnd.oci.image.config.v1+json'), false, null, 'r'), /2 layers/);
    assert.throws(() => chooseLayer(manifest([layer('application/zstd')]), false, null, 'r'), /artifact without a titled layer/);
    assert.throws(() => chooseLayer(manifest([layer('application/zstd')], 'application/vnd.oci.image.config.v1+json'), false, null, 'r'), /without a title/);
  });

  test('isArtifact: artifactType, the empty config, or an ORAS config', () => {
    assert.equal(isArtifact(manifest([], 'application/vnd.oci.image.config.v1+json', 'application/vnd.unknown.artifact.v1')), true);
    assert.equal(isArtifact(manifest([], 'application/vnd.oci.empty.v1+json')), true);
    assert.equal(isArtifact(manifest([], 'application/vnd.unknown.config.v1+json')), true);
    assert.equal(isArtifact(manifest([], 'application/vnd.oci.image.config.v1+json')), false);
  });
});
