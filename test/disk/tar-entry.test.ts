// Finding the disk in an image layer while it streams: disk/ first, else the
// only file; ambiguity needs --file; names that could escape are refused.
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import tar from 'tar-stream';
import { layerPicker } from '../../src/disk/tar-entry.js';
import { SourceError, UsageError } from '../../src/errors.js';

type Entry = { name: string; body?: string; type?: 'file' | 'directory' | 'symlink'; linkname?: string };

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.type && e.type !== 'file') pack.entry({ name: e.name, type: e.type, linkname: e.linkname });
    else pack.entry({ name: e.name, type: 'file' }, e.body ?? e.name);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Runs the picker over the tar; returns what it picked and every sink's bytes. */
async function pick(entries: Entry[], file: string | null = null) {
  const written: string[] = [];
  const picker = layerPicker({
    file,
    reference: 'reg/x:1',
    newSink: () => {
      const i = written.push('') - 1;
      return new Writable({ write(c: Buffer, _e, done) { written[i] += c.toString(); done(); } });
    },
  });
  await pipeline(Readable.from([await tarOf(entries)]), picker.sink);
  return { entry: picker.picked(), written };
}

describe('layerPicker', () => {
  test('one-file: the only regular file, directories and links aside', async () => {
    const r = await pick([{ name: 'etc/', type: 'directory' }, { name: 'disk.qcow2.xz', body: 'DISK' }, { name: 'link', type: 'symlink', linkname: 'disk.qcow2.xz' }]);
    assert.deepEqual(r.entry, { path: 'disk.qcow2.xz', format: 'one-file', size: 4 });
    assert.deepEqual(r.written, ['DISK']);
  });

  test('container-disk: the file directly under disk/, even after another file, which it replaces', async () => {
    const r = await pick([{ name: './etc/hostname', body: 'vm' }, { name: 'disk/', type: 'directory' }, { name: './disk/fedora.img', body: 'IMG' }, { name: 'usr/share/doc', body: 'doc' }]);
    assert.deepEqual(r.entry, { path: 'disk/fedora.img', format: 'container-disk', size: 3 });
    assert.deepEqual(r.written, ['vm', 'IMG']);
  });

  test('whiteouts are not files', async () => {
    const r = await pick([{ name: 'etc/.wh.old', body: '' }, { name: 'disk.raw', body: 'D' }]);
    assert.equal(r.entry.path, 'disk.raw');
  });

  test('several files and none under disk/: a usage error naming them; --file picks one by path or name', async () => {
    await assert.rejects(pick([{ name: 'a.raw' }, { name: 'b.raw' }, { name: 'c/d.raw' }]), (e: unknown) => e instanceof UsageError && /several files and none under disk\/: a\.raw, b\.raw, c\/d\.raw/.test(e.message));
    assert.equal((await pick([{ name: 'a.raw' }, { name: 'c/d.raw' }], 'd.raw')).entry.path, 'c/d.raw');
    assert.equal((await pick([{ name: 'a.raw' }, { name: 'c/d.raw' }], 'c/d.raw')).entry.path, 'c/d.raw');
    await assert.rejects(pick([{ name: 'a.raw' }], 'zzz'), (e: unknown) => e instanceof SourceError && /no file "zzz"/.test(e.message));
  });

  test('two disks under disk/: a usage error', async () => {
    await assert.rejects(pick([{ name: 'disk/a.img' }, { name: 'disk/b.img' }]), (e: unknown) => e instanceof UsageError && /several disks under disk\/: disk\/a\.img, disk\/b\.img/.test(e.message));
  });

  test('an empty layer: no regular file', async () => {
    await assert.rejects(pick([{ name: 'etc/', type: 'directory' }]), /holds no regular file/);
  });

  test('a path with ".." is refused before a byte is written', async () => {
    const written: string[] = [];
    await assert.rejects(
      (async () => {
        const picker = layerPicker({ file: null, reference: 'r', newSink: () => new Writable({ write(c: Buffer, _e, d) { written.push(c.toString()); d(); } }) });
        await pipeline(Readable.from([await tarOf([{ name: 'disk/../../escape.img', body: 'X' }])]), picker.sink);
      })(),
      (e: unknown) => e instanceof SourceError && /contains "\.\."/.test(e.message),
    );
    assert.deepEqual(written, []);
  });
});
