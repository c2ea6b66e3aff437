// TarStreamOutput into memory: the tar it writes (read back with tar-stream
// and with GNU tar), the order it keeps, and the misuse it refuses. Written
// in place into a file (the overlay file): the same bytes, with large bodies
// filled through the descriptor by file threads.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { describe, test } from 'node:test';
import tar from 'tar-stream';
import { FileWorkers } from '../../src/cache/file-workers.js';
import { OutputError } from '../../src/errors.js';
import { openOverlay } from '../../src/output/overlay-file.js';
import type { ImageOutput } from '../../src/output/types.js';
import { TarStreamOutput } from '../../src/output/tar-stream.js';
import { tempDir } from '../helpers/tmp.js';

/** A sink that keeps every byte; `fail` makes it refuse writes. */
class Collect extends Writable {
  readonly chunks: Buffer[] = [];
  fail: Error | null = null;
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.fail) return done(this.fail);
    this.chunks.push(Buffer.from(chunk));
    done();
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

interface Entry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  linkname: string | null;
  body: Buffer;
}

/** Every entry of a tar, in order, as tar-stream reads it. */
async function entries(bytes: Buffer): Promise<Entry[]> {
  const out: Entry[] = [];
  const extract = tar.extract();
  Readable.from([bytes]).pipe(extract);
  for await (const e of extract) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    const h = e.header;
    out.push({ name: h.name, type: h.type!, mode: h.mode!, uid: h.uid!, gid: h.gid!, uname: h.uname ?? '', gname: h.gname ?? '', mtime: h.mtime!.getTime() / 1000, linkname: h.linkname ?? null, body: Buffer.concat(chunks) });
  }
  return out;
}

const MTIME = 1_700_000_000;
const tick = () => new Promise((r) => setImmediate(r));

function setup(mtime = MTIME): { out: TarStreamOutput; sink: Collect } {
  const sink = new Collect();
  return { out: new TarStreamOutput('overlay (test)', sink, mtime), sink };
}

/** A large file: announced, written in two chunks, committed. */
async function large(out: TarStreamOutput, path: string, body: Buffer): Promise<void> {
  const f = await out.createFile(path, { size: body.length });
  assert.equal(f.fd, null, 'a stream offers no descriptor');
  const half = body.length >> 1;
  await f.write(body.subarray(0, half), 0);
  await f.write(body.subarray(half), half);
  await f.commit();
}

describe('TarStreamOutput', () => {
  test('sorted entries, every parent directory, fixed modes, owner 0/0, one mtime', async () => {
    const { out, sink } = setup();
    assert.equal(out.streaming, true);
    // What the pipeline does for a stream: units and links first, then the archives in order.
    await out.mkdir('/var/tmp/kiwi_containers');
    await out.writeFile('/etc/systemd/system/kiwi_containers.service', '[Unit]\n');
    await out.writeFile('/etc/systemd/system/imgdesc-load-podman@.service', '[Service]\n');
    await out.symlink('/etc/systemd/system/multi-user.target.wants/kiwi_containers.service', '/etc/systemd/system/kiwi_containers.service');
    await out.symlink('/etc/systemd/system/kiwi_containers.service.wants/imgdesc-load-podman@var-tmp-kiwi_containers-a_1.service', '/etc/systemd/system/imgdesc-load-podman@.service');
    await out.writeFile('/usr/local/bin/tool', '#!/bin/sh\n', { mode: 0o755 });
    // An existing directory is no error, and gets no second entry.
    await out.mkdir('/etc/systemd');
    const a = Buffer.alloc(70_000, 0xa1);
    const b = Buffer.alloc(1_234, 0xb2);
    await large(out, '/var/tmp/kiwi_containers/a_1', a);
    await large(out, '/var/tmp/kiwi_containers/b_1', b);
    await out.close();

    const got = await entries(sink.bytes);
    const names = got.map((e) => e.name);
    assert.deepEqual(names, [
      'etc/',
      'etc/systemd/',
      'etc/systemd/system/',
      'etc/systemd/system/imgdesc-load-podman@.service',
      'etc/systemd/system/kiwi_containers.service',
      'etc/systemd/system/kiwi_containers.service.wants/',
      'etc/systemd/system/kiwi_containers.service.wants/imgdesc-load-podman@var-tmp-kiwi_containers-a_1.service',
      'etc/systemd/system/multi-user.target.wants/',
      'etc/systemd/system/multi-user.target.wants/kiwi_containers.service',
      'usr/',
      'usr/local/',
      'usr/local/bin/',
      'usr/local/bin/tool',
      'var/',
      'var/tmp/',
      'var/tmp/kiwi_containers/',
      'var/tmp/kiwi_containers/a_1',
      'var/tmp/kiwi_containers/b_1',
    ]);
    assert.deepEqual(names, [...names].sort(), 'sorted');
    for (const e of got) {
      assert.equal(e.uid, 0, e.name);
      assert.equal(e.gid, 0, e.name);
      assert.equal(e.uname, '', e.name);
      assert.equal(e.gname, '', e.name);
      assert.equal(e.mtime, MTIME, e.name);
      if (e.type === 'directory') assert.equal(e.mode, e.name === 'var/tmp/' ? 0o1777 : 0o755, e.name);
      else if (e.type === 'symlink') assert.equal(e.mode, 0o777, e.name);
      else assert.equal(e.mode, e.name === 'usr/local/bin/tool' ? 0o755 : 0o644, e.name);
    }
    const by = new Map(got.map((e) => [e.name, e]));
    assert.equal(by.get('etc/systemd/system/multi-user.target.wants/kiwi_containers.service')!.linkname, '/etc/systemd/system/kiwi_containers.service');
    assert.equal(by.get('etc/systemd/system/kiwi_containers.service')!.body.toString(), '[Unit]\n');
    assert.ok(by.get('var/tmp/kiwi_containers/a_1')!.body.equals(a));
    assert.ok(by.get('var/tmp/kiwi_containers/b_1')!.body.equals(b));

    // GNU tar reads the same: numeric owner 0/0, the modes, the mtime, the link.
    const listing = execFileSync('tar', ['--utc', '--numeric-owner', '-tvf', '-'], { input: sink.bytes, encoding: 'utf8' }).trim().split('\n');
    assert.equal(listing.length, names.length);
    assert.match(listing[0]!, /^drwxr-xr-x 0\/0 +0 2023-11-14 22:13 etc\/$/);
    assert.ok(listing.some((l) => /^drwxrwxrwt 0\/0 +0 2023-11-14 22:13 var\/tmp\/$/.test(l)), listing.join('\n'));
    assert.ok(listing.some((l) => /^lrwxrwxrwx 0\/0 +0 .* etc\/systemd\/system\/multi-user\.target\.wants\/kiwi_containers\.service -> \/etc\/systemd\/system\/kiwi_containers\.service$/.test(l)));
    assert.ok(listing.some((l) => /^-rw-r--r-- 0\/0 +70000 2023-11-14 22:13 var\/tmp\/kiwi_containers\/a_1$/.test(l)));
  });

  test('the mtime is the one given (0: the epoch), and the same calls give the same bytes', async () => {
    const write = async (mtime: number) => {
      const { out, sink } = setup(mtime);
      await out.writeFile('/etc/x', 'x');
      await large(out, '/var/tmp/kiwi_containers/a', Buffer.alloc(3000, 1));
      await out.close();
      return sink.bytes;
    };
    const zero = await write(0);
    assert.ok((await entries(zero)).every((e) => e.mtime === 0));
    assert.ok(zero.equals(await write(0)), 'reproducible');
    assert.ok(!zero.equals(await write(1)), 'the mtime is in the bytes');
  });

  test('names past 100 bytes (long image names) are kept whole', async () => {
    const { out, sink } = setup();
    const longName = `${'n'.repeat(110)}_1.0`;
    const unit = `/etc/systemd/system/kiwi_containers.service.wants/imgdesc-load-podman@var-tmp-kiwi_containers-${longName}.service`;
    const target = `/etc/systemd/system/${'t'.repeat(120)}.service`;
    await out.symlink(unit, target);
    await large(out, `/var/tmp/kiwi_containers/${longName}`, Buffer.alloc(600, 7));
    await out.close();
    const got = await entries(sink.bytes);
    assert.ok(got.some((e) => e.name === unit.slice(1) && e.linkname === target && e.mtime === MTIME && e.uid === 0));
    assert.ok(got.some((e) => e.name === `var/tmp/kiwi_containers/${longName}` && e.body.length === 600 && e.mode === 0o644));
    const names = execFileSync('tar', ['-tf', '-'], { input: sink.bytes, encoding: 'utf8' }).trim().split('\n');
    assert.ok(names.includes(unit.slice(1)), names.join('\n'));
    assert.ok(names.includes(`var/tmp/kiwi_containers/${longName}`), names.join('\n'));
  });

  test('small entries wait until a large file sorts after them; later ones wait for the end', async () => {
    const { out, sink } = setup();
    await out.writeFile('/etc/a.service', 'a');
    await out.symlink('/etc/wants/a.service', '/etc/a.service');
    await out.writeFile('/zzz/late', 'late');
    await tick();
    assert.equal(sink.bytes.length, 0, 'nothing is written while only small entries came');
    const f = await out.createFile('/var/tmp/kiwi_containers/x', { size: 2048 });
    await f.write(Buffer.alloc(1024, 0x78), 0);
    await tick();
    // The entries before the large file are out; the one after it still waits.
    const text = sink.bytes.toString('latin1');
    for (const n of ['etc/a.service', 'etc/wants/a.service', 'var/tmp/kiwi_containers/']) assert.ok(text.includes(n), `${n} written before the large file`);
    assert.ok(!text.includes('zzz'), 'zzz/late waits');
    await f.write(Buffer.alloc(1024, 0x78), 1024);
    await f.commit();
    await tick();
    assert.ok(!sink.bytes.toString('latin1').includes('zzz'), 'still waiting after the large file');
    await out.close();
    assert.deepEqual(
      (await entries(sink.bytes)).map((e) => e.name),
      ['etc/', 'etc/a.service', 'etc/wants/', 'etc/wants/a.service', 'var/', 'var/tmp/', 'var/tmp/kiwi_containers/', 'var/tmp/kiwi_containers/x', 'zzz/', 'zzz/late'],
    );
  });

  test('an entry that breaks the path order throws', async () => {
    const { out } = setup();
    await large(out, '/var/tmp/kiwi_containers/b', Buffer.alloc(10));
    await assert.rejects(out.writeFile('/etc/x.service', 'x'), /etc\/ comes after var\/tmp\/kiwi_containers\/b; a tar output takes entries in path order/);
    await assert.rejects(out.symlink('/var/tmp/kiwi_containers/a', '/x'), /var\/tmp\/kiwi_containers\/a comes after var\/tmp\/kiwi_containers\/b/);
    await assert.rejects(out.createFile('/var/tmp/kiwi_containers/a', { size: 1 }), /comes after var\/tmp\/kiwi_containers\/b/);
    await assert.rejects(out.createFile('/var/tmp/kiwi_containers/b', { size: 1 }), /var\/tmp\/kiwi_containers\/b is written twice/);
    // Still good for what sorts after.
    await large(out, '/var/tmp/kiwi_containers/c', Buffer.alloc(10));
    await out.close();
  });

  test('a large file through a slow sink: back-pressure holds, no listener piles up', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      let received = 0;
      const slow = new Writable({ highWaterMark: 1024, write: (c: Buffer, _e, done) => ((received += c.length), setImmediate(done)) });
      const out = new TarStreamOutput('overlay (test)', slow, 0);
      const chunk = Buffer.alloc(256 * 1024, 0x5a);
      const size = 64 * chunk.length;
      const f = await out.createFile('/var/tmp/kiwi_containers/big', { size });
      for (let at = 0; at < size; at += chunk.length) await f.write(chunk, at);
      await f.commit();
      await out.close();
      // Headers (dirs, file) + body + padding (none: a multiple of 512) + end of archive.
      assert.equal(received, 4 * 512 + size + 1024);
      await tick();
      assert.deepEqual(warnings.map((w) => `${w.name}: ${w.message}`), []);
    } finally {
      process.off('warning', onWarning);
    }
  });

  test('a name written twice, and paths that are not plain in-image paths, throw', async () => {
    const { out } = setup();
    await out.writeFile('/etc/x', 'x');
    await assert.rejects(out.writeFile('/etc/x', 'y'), /etc\/x is written twice/);
    await assert.rejects(out.symlink('/etc/x', '/y'), /etc\/x is written twice/);
    for (const p of ['/', '', '/etc/../x', '/etc/./x', '//']) await assert.rejects(out.writeFile(p, 'x'), /is not a plain in-image path/, p);
  });

  test('a large file needs its size up front', async () => {
    const { out } = setup();
    await assert.rejects(out.createFile('/var/tmp/kiwi_containers/a', {}), /var\/tmp\/kiwi_containers\/a needs its size up front/);
  });

  test('writing more than announced fails, and so does committing less', async () => {
    {
      const { out } = setup();
      const f = await out.createFile('/a', { size: 10 });
      await f.write(Buffer.alloc(6), 0);
      await assert.rejects(f.write(Buffer.alloc(6), 6), /a: more than the 10 bytes announced/);
      await f.abort();
      await assert.rejects(out.close());
    }
    {
      const { out } = setup();
      const f = await out.createFile('/a', { size: 10 });
      await f.write(Buffer.alloc(4), 0);
      await assert.rejects(f.commit(), /a: 4 bytes written, 10 announced/);
      await f.abort();
      await assert.rejects(out.close());
    }
  });

  test('bytes come in order: a gap or a step back fails', async () => {
    const { out } = setup();
    const f = await out.createFile('/a', { size: 10 });
    await f.write(Buffer.alloc(2), 0);
    await assert.rejects(f.write(Buffer.alloc(2), 4), /a tar entry is written in order \(byte 4 after 2\)/);
    await assert.rejects(f.write(Buffer.alloc(2), 0), /byte 0 after 2/);
    await f.abort();
  });

  test('two large files open at once are refused; the next may start after commit', async () => {
    const { out, sink } = setup();
    const a = await out.createFile('/var/tmp/kiwi_containers/a', { size: 4 });
    await assert.rejects(out.createFile('/var/tmp/kiwi_containers/b', { size: 4 }), /var\/tmp\/kiwi_containers\/b started while another file is open; a tar takes one at a time/);
    await a.write(Buffer.from('aaaa'), 0);
    await a.commit();
    await large(out, '/var/tmp/kiwi_containers/b', Buffer.from('bbbb'));
    await out.close();
    const got = await entries(sink.bytes);
    assert.deepEqual(got.filter((e) => e.type === 'file').map((e) => [e.name, e.body.toString()]), [
      ['var/tmp/kiwi_containers/a', 'aaaa'],
      ['var/tmp/kiwi_containers/b', 'bbbb'],
    ]);
    // commit and abort after commit do nothing more.
    await a.commit();
    await a.abort();
  });

  // An abort used to leave the entry's 'error' without a listener: an uncaught
  // exception that killed a build before it could remove its temporary file.
  test('aborting a large file breaks the whole stream: close fails, no end of archive is written', async () => {
    const { out, sink } = setup();
    await out.writeFile('/etc/x', 'x');
    const f = await out.createFile('/var/tmp/kiwi_containers/a', { size: 100_000 });
    await f.write(Buffer.alloc(50_000, 1), 0);
    await f.abort();
    await f.abort();
    await assert.rejects(out.close(), (err: unknown) => {
      assert.ok(err instanceof Error);
      return true;
    });
    // What reached the sink is a cut-off tar: GNU tar says so.
    assert.throws(() => execFileSync('tar', ['-tf', '-'], { input: sink.bytes, stdio: ['pipe', 'pipe', 'pipe'] }), /Unexpected EOF|short read|not look like a tar/i);
    await assert.rejects(out.createFile('/var/tmp/kiwi_containers/b', { size: 1 }));
  });

  test('destroy stops the stream: close fails', async () => {
    const { out } = setup();
    await out.writeFile('/etc/x', 'x');
    out.destroy(new Error('stopped'));
    await assert.rejects(out.close());
  });

  test('a sink that fails (ENOSPC) fails close with an OutputError naming the output', async () => {
    const { out, sink } = setup();
    sink.fail = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    await out.writeFile('/etc/x', 'x');
    const f = await out.createFile('/var/tmp/a', { size: 1 << 20 });
    // The first writes may be buffered; the failure shows at the latest on close.
    await f.write(Buffer.alloc(1 << 20), 0).then(() => f.commit()).catch(() => f.abort());
    await assert.rejects(out.close(), (err: unknown) => {
      assert.ok(err instanceof OutputError, String(err));
      assert.match(err.message, /^cannot write overlay \(test\): /);
      return true;
    });
  });

  test('no earlier state: list, readHead and hostPath give nothing, remove does nothing', async () => {
    // Called as a build calls any output: through the interface.
    const out: ImageOutput = setup().out;
    assert.deepEqual(await out.list('/etc/systemd/system'), []);
    assert.equal(await out.readHead('/etc/systemd/system/x.service', 100), null);
    assert.equal(await out.hostPath('/var/tmp/kiwi_containers/a'), null);
    await out.remove('/etc/systemd/system/x.service');
    await out.close();
  });
});

/** Varied bytes, so that a misplaced copy cannot go unnoticed. */
function pattern(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7 + (i >> 9)) & 0xff;
  return b;
}

describe('TarStreamOutput written in place into a file', () => {
  /** Small entries around two large files; `put` writes each large body. */
  async function fill(out: TarStreamOutput, bodies: Buffer[], put: (f: Awaited<ReturnType<TarStreamOutput['createFile']>>, body: Buffer) => Promise<void>): Promise<void> {
    await out.writeFile('/etc/systemd/system/kiwi_containers.service', '[Unit]\n');
    await out.symlink(`/etc/systemd/system/kiwi_containers.service.wants/${'l'.repeat(120)}.service`, '/etc/x');
    await out.mkdir('/var/tmp/kiwi_containers');
    for (const [i, body] of bodies.entries()) {
      const f = await out.createFile(`/var/tmp/kiwi_containers/${'n'.repeat(i * 100)}a${i}`, { size: body.length });
      await put(f, body);
      await f.commit();
    }
    await out.writeFile('/zzz/late', 'late');
    await out.close();
  }

  test('the same bytes as the stream, a body written partly by write() and partly by a file thread through fd at fdOffset', async (t) => {
    const dir = await tempDir(t);
    const workers = new FileWorkers(2);
    t.after(() => workers.close());
    // Sizes off the 512-byte block and past the 1 MiB hole chunk; a long name needs a pax header.
    const bodies = [pattern(3 * 1024 * 1024 + 17, 1), pattern(1000, 2)];
    const streamed = setup();
    await fill(streamed.out, bodies, async (f, body) => f.write(body, 0));

    const handle = await open(join(dir, 'o.tar'), 'wx');
    const inPlace = TarStreamOutput.inFile('overlay (test)', handle, MTIME);
    assert.equal(inPlace.streaming, true, 'still one file at a time, sizes up front, in order');
    let offsets = 0;
    await fill(inPlace, bodies, async (f, body) => {
      assert.equal(typeof f.fd, 'number', 'a file offers its descriptor');
      assert.equal(f.fd, handle.fd);
      assert.ok((f.fdOffset ?? 0) > 0 && f.fdOffset! % 512 === 0, `fdOffset ${f.fdOffset}`);
      offsets++;
      // Head and tail through write(), the middle copied in by a file thread from a file.
      const src = join(dir, `body-${offsets}`);
      const cut = [100, body.length - 100];
      await writeFile(src, body.subarray(cut[0], cut[1]));
      await f.write(body.subarray(0, cut[0]), 0);
      const copied = await workers.copyInto(src, f.fd!, f.fdOffset! + cut[0]!, cut[1]! - cut[0]!);
      assert.equal(copied, cut[1]! - cut[0]!);
      await f.write(body.subarray(cut[1]), cut[1]!);
    });
    await handle.close();
    const bytes = await readFile(join(dir, 'o.tar'));
    assert.equal(bytes.length, streamed.sink.bytes.length);
    assert.ok(bytes.equals(streamed.sink.bytes), 'the same bytes as the stream');
  });

  test('the next large file may start once the one before has its place; both are written at once, the bytes as the stream', async (t) => {
    const dir = await tempDir(t);
    const handle = await open(join(dir, 'o.tar'), 'wx');
    const out = TarStreamOutput.inFile('overlay (test)', handle, MTIME);
    const a = await out.createFile('/var/tmp/kiwi_containers/a', { size: 3000 });
    const b = await out.createFile('/var/tmp/kiwi_containers/b', { size: 700 });
    await b.write(Buffer.alloc(700, 0xb2), 0);
    await b.commit();
    await a.write(Buffer.alloc(3000, 0xa1), 0);
    await a.commit();
    await out.close();
    await handle.close();
    const streamed = setup();
    await large(streamed.out, '/var/tmp/kiwi_containers/a', Buffer.alloc(3000, 0xa1));
    await large(streamed.out, '/var/tmp/kiwi_containers/b', Buffer.alloc(700, 0xb2));
    await streamed.out.close();
    assert.ok((await readFile(join(dir, 'o.tar'))).equals(streamed.sink.bytes));
  });

  test('a region takes positions that only increase, within its size, and must end at its size', async (t) => {
    const dir = await tempDir(t);
    const handle = await open(join(dir, 'o.tar'), 'wx');
    t.after(() => handle.close());
    const out = TarStreamOutput.inFile('overlay (test)', handle, 0);
    const f = await out.createFile('/a', { size: 10 });
    await f.write(Buffer.alloc(2), 4);
    await assert.rejects(f.write(Buffer.alloc(2), 0), /a: positions only increase \(byte 0 after 6\)/);
    await assert.rejects(f.write(Buffer.alloc(5), 6), /a: more than the 10 bytes announced/);
    await assert.rejects(f.commit(), /a: 6 bytes written, 10 announced/);
    await f.abort();
    await assert.rejects(out.close(), 'an abandoned region breaks the tar');
    await assert.rejects(out.createFile('/b', { size: 1 }));
  });

  test('openOverlay: a build that fails mid-way (a region abandoned) leaves neither the overlay nor a temporary file', async (t) => {
    const dir = await tempDir(t);
    const target = join(dir, 'overlay.tar');
    const overlay = await openOverlay(target, 0);
    await overlay.output.writeFile('/etc/x', 'x');
    const f = await overlay.output.createFile('/var/tmp/kiwi_containers/a', { size: 4096 });
    await f.write(Buffer.alloc(1024, 1), 0);
    assert.equal((await readdir(dir)).length, 1, 'a temporary file while the build runs');
    await f.abort();
    await assert.rejects(overlay.output.close());
    await overlay.abort();
    assert.deepEqual(await readdir(dir), []);
  });

  test('openOverlay: committed, the file is the tar; an empty large file is fine', async (t) => {
    const dir = await tempDir(t);
    const target = join(dir, 'overlay.tar');
    const overlay = await openOverlay(target, MTIME);
    const empty = await overlay.output.createFile('/var/tmp/kiwi_containers/empty', { size: 0 });
    await empty.commit();
    const full = await overlay.output.createFile('/var/tmp/kiwi_containers/full', { size: 4 });
    await full.write(Buffer.from('full'), 0);
    await full.commit();
    await overlay.output.close();
    await overlay.commit();
    assert.deepEqual(await readdir(dir), ['overlay.tar']);
    const got = await entries(await readFile(target));
    assert.deepEqual(got.filter((e) => e.type === 'file').map((e) => [e.name, e.body.toString()]), [
      ['var/tmp/kiwi_containers/empty', ''],
      ['var/tmp/kiwi_containers/full', 'full'],
    ]);
  });
});
