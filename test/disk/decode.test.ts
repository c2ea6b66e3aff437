// DiskSink: the stored bytes of a disk into a file, decompressed by their magic
// bytes (system xz/zstd/bzip2 writing into the file, gzip in node:zlib), holes
// for zero blocks, and no decoder left running after a failure.
import assert from 'node:assert/strict';
import { execFileSync, execSync } from 'node:child_process';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import { DecompressError, DiskSink, SparseFileWriter, xzThreads } from '../../src/disk/decode.js';
import { DigestCheck, DigestMismatchError, digestOf } from '../../src/oci/digest.js';
import { diskBytes } from '../helpers/disk-artifacts.js';
import { tempDir } from '../helpers/tmp.js';

const disk = diskBytes('decode test', 1_000_000);
const TOOLS = { gzip: ['gzip', '-c', '-n'], bzip2: ['bzip2', '-c'], xz: ['xz', '-c'], zstd: ['zstd', '-c', '-q'] } as const;
const pack = (kind: keyof typeof TOOLS) => execFileSync(TOOLS[kind][0], TOOLS[kind].slice(1), { input: disk, maxBuffer: 64 * 1024 * 1024 });
/** The bytes in pieces of `size`, as a network would hand them over; the first ones tiny, so that the magic spans several. */
const pieces = (bytes: Buffer, size = 65_536) => Readable.from((function* () {
  yield* [bytes.subarray(0, 3), bytes.subarray(3, 5)].filter((b) => b.length);
  for (let i = 5; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
})());
const never = new AbortController().signal;

describe('DiskSink', () => {
  for (const kind of Object.keys(TOOLS) as Array<keyof typeof TOOLS>) {
    test(`${kind}: told by its magic bytes, decompressed into the file, compression reported`, async (t) => {
      const file = join(await tempDir(t), 'disk');
      const sink = new DiskSink(() => open(file, 'w'), true, never);
      await pipeline(pieces(pack(kind)), sink);
      assert.equal(sink.compression, kind);
      assert.ok((await readFile(file)).equals(disk));
    });
  }

  test('xz made in many blocks by threads (as disk images are): decompressed on threads, same bytes', async (t) => {
    const version = execFileSync('xz', ['--version'], { encoding: 'utf8' });
    const [major, minor] = /(\d+)\.(\d+)/.exec(version)!.slice(1).map(Number) as [number, number];
    // Only xz 5.4 and later decompress on threads and know the memory cap; older ones get neither flag.
    assert.deepEqual(await xzThreads(never), major > 5 || minor >= 4 ? ['-T0', '--memlimit-mt-decompress=100MiB'] : []);
    const blocks = execFileSync('xz', ['-c', '-T2', '--block-size=65536'], { input: disk, maxBuffer: 64 * 1024 * 1024 });
    const file = join(await tempDir(t), 'disk');
    const sink = new DiskSink(() => open(file, 'w'), true, never);
    await pipeline(pieces(blocks), sink);
    assert.equal(sink.compression, 'xz');
    assert.ok((await readFile(file)).equals(disk));
  });

  test('uncompressed bytes, and --no-decompress: written as they come', async (t) => {
    const dir = await tempDir(t);
    const plain = new DiskSink(() => open(join(dir, 'plain'), 'w'), true, never);
    await pipeline(pieces(disk), plain);
    assert.equal(plain.compression, 'none');
    assert.ok((await readFile(join(dir, 'plain'))).equals(disk));
    const xz = pack('xz');
    const kept = new DiskSink(() => open(join(dir, 'kept'), 'w'), false, never);
    await pipeline(pieces(xz), kept);
    assert.equal(kept.compression, 'none');
    assert.ok((await readFile(join(dir, 'kept'))).equals(xz));
  });

  test('fewer bytes than a magic, and none at all', async (t) => {
    const dir = await tempDir(t);
    for (const [name, bytes] of [['tiny', Buffer.from('ab')], ['empty', Buffer.alloc(0)]] as const) {
      const sink = new DiskSink(() => open(join(dir, name), 'w'), true, never);
      await pipeline(Readable.from(bytes.length ? [bytes] : []), sink);
      assert.ok((await readFile(join(dir, name))).equals(bytes), name);
    }
  });

  test('corrupt xz, gzip and zstd data: DecompressError, naming the format', async (t) => {
    const dir = await tempDir(t);
    for (const kind of ['xz', 'gzip', 'zstd'] as const) {
      const bad = Buffer.from(pack(kind));
      bad.fill(0x55, 40, 4000);
      const sink = new DiskSink(() => open(join(dir, kind), 'w'), true, never);
      await assert.rejects(pipeline(pieces(bad), sink), (e: unknown) => e instanceof DecompressError && e.compression === kind);
    }
  });

  test('given the blob\'s DigestCheck: the same bytes pass; a changed byte, a short blob or a long one fail the sink', async (t) => {
    const dir = await tempDir(t);
    const zst = pack('zstd');
    const expected = { digest: digestOf(zst), size: zst.length };
    const good = new DiskSink(() => open(join(dir, 'good'), 'w'), true, never, new DigestCheck(expected));
    await pipeline(pieces(zst), good);
    assert.ok((await readFile(join(dir, 'good'))).equals(disk));
    const changed = Buffer.from(zst);
    changed[changed.length - 100] = changed[changed.length - 100]! ^ 1;
    const cases: Array<[string, Buffer, RegExp]> = [
      ['changed', changed, /digest mismatch/],
      ['short', zst.subarray(0, zst.length - 1), /size mismatch: expected \d+ bytes .*got \d+$/],
      ['long', Buffer.concat([zst, Buffer.from('x')]), /or more$/],
    ];
    for (const [name, bytes, message] of cases) {
      const sink = new DiskSink(() => open(join(dir, name), 'w'), true, never, new DigestCheck(expected));
      await assert.rejects(pipeline(pieces(bytes), sink), (e: unknown) => e instanceof DigestMismatchError && message.test(e.message), name);
    }
    // The long blob fails as its extra byte arrives, before the end: a too-long download stops there.
    const early = new DiskSink(() => open(join(dir, 'early'), 'w'), true, never, new DigestCheck({ digest: expected.digest, size: 10 }));
    early.on('error', () => undefined);
    early.write(zst.subarray(0, 5));
    const failed = new Promise((r) => early.once('error', r));
    early.write(zst.subarray(5, 20));
    assert.match(String(await failed), /size mismatch: expected 10 bytes .* got 20 or more/);
  });

  test('destroyed while its decoder starts: the decoder is not left running', async (t) => {
    const dir = await tempDir(t);
    const before = execSync(`pgrep -c -P ${process.pid} -x zstd || true`).toString().trim();
    const sink = new DiskSink(() => open(join(dir, 'x'), 'w'), true, never);
    sink.on('error', () => undefined);
    sink.write(pack('zstd').subarray(0, 1000));
    sink.destroy(new Error('stop'));
    await new Promise((r) => sink.once('close', r));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(execSync(`pgrep -c -P ${process.pid} -x zstd || true`).toString().trim(), before);
  });
});

describe('SparseFileWriter', () => {
  test('zero blocks become holes; the length is right when the disk ends in zeros', async (t) => {
    const file = join(await tempDir(t), 'sparse');
    const bytes = Buffer.alloc(4 * 1024 * 1024);
    bytes.fill(7, 0, 100);
    bytes.fill(9, 2 * 1024 * 1024 + 5, 2 * 1024 * 1024 + 9000);
    const fh = await open(file, 'w');
    await pipeline(pieces(bytes, 10_000), new SparseFileWriter(fh));
    await fh.close();
    assert.ok((await readFile(file)).equals(bytes));
    const info = await stat(file);
    assert.equal(info.size, bytes.length);
    assert.ok(info.blocks * 512 < 200 * 1024, `${info.blocks * 512} bytes allocated for 4 MiB of mostly zeros`);
  });
});
