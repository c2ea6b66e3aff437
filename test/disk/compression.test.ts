// Magic bytes, as podman's pkg/machine/compression tells formats apart, and
// the names a decompressed disk gets.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { decompressedName, detectCompression, MAGIC_BYTES, withoutCompressionSuffix } from '../../src/disk/compression.js';

const made = (tool: string, args: string[]) => execFileSync(tool, args, { input: Buffer.from('a disk, in a few bytes\n'.repeat(50)) });

describe('detectCompression', () => {
  test('the output of the real tools: gzip, bzip2, xz, zstd', () => {
    assert.equal(detectCompression(made('gzip', ['-c']).subarray(0, MAGIC_BYTES)), 'gzip');
    assert.equal(detectCompression(made('bzip2', ['-c']).subarray(0, MAGIC_BYTES)), 'bzip2');
    assert.equal(detectCompression(made('xz', ['-c']).subarray(0, MAGIC_BYTES)), 'xz');
    assert.equal(detectCompression(made('zstd', ['-c', '-q']).subarray(0, MAGIC_BYTES)), 'zstd');
  });

  test('anything else is uncompressed: a qcow2 header, a raw disk, nothing at all, a prefix too short to decide', () => {
    assert.equal(detectCompression(Buffer.from('QFI\xfb\x00\x00\x00\x03', 'latin1')), 'none');
    assert.equal(detectCompression(Buffer.alloc(512)), 'none');
    assert.equal(detectCompression(Buffer.alloc(0)), 'none');
    assert.equal(detectCompression(Buffer.from([0xfd, 0x37, 0x7a])), 'none');
    assert.equal(detectCompression(Buffer.from([0x1f, 0x8b])), 'none', 'gzip needs its method byte too');
  });

  test('decompressedName drops the suffix of the compression found, and only that one', () => {
    assert.equal(decompressedName('fedora-bootc-cloud-eln.qcow2.zst', 'zstd'), 'fedora-bootc-cloud-eln.qcow2');
    assert.equal(decompressedName('disk.raw.zstd', 'zstd'), 'disk.raw');
    assert.equal(decompressedName('disk.qcow2.xz', 'xz'), 'disk.qcow2');
    assert.equal(decompressedName('disk.img.GZ', 'gzip'), 'disk.img');
    assert.equal(decompressedName('disk.img.bz2', 'bzip2'), 'disk.img');
    assert.equal(decompressedName('disk.qcow2.xz', 'zstd'), 'disk.qcow2.xz', 'a name that lies about its bytes is kept');
    assert.equal(decompressedName('disk.img', 'xz'), 'disk.img');
    assert.equal(decompressedName('.xz', 'xz'), '.xz', 'never an empty name');
    assert.equal(decompressedName('disk.qcow2.zst', 'none'), 'disk.qcow2.zst');
  });

  test('withoutCompressionSuffix: how --file may name a title', () => {
    assert.equal(withoutCompressionSuffix('a.raw.gz'), 'a.raw');
    assert.equal(withoutCompressionSuffix('b.img.bz2'), 'b.img');
    assert.equal(withoutCompressionSuffix('c.qcow2'), 'c.qcow2');
  });
});
