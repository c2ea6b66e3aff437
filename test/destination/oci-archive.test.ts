import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { FileWorkers } from '../../src/cache/file-workers.js';
import { DigestMismatchError } from '../../src/oci/digest.js';
import type { Descriptor } from '../../src/oci/manifest.js';
import { OciArchiveDestination } from '../../src/destination/oci-archive.js';
import { openOverlay } from '../../src/output/overlay-file.js';
import { RootDirOutput } from '../../src/output/root-dir.js';
import { TarStreamOutput } from '../../src/output/tar-stream.js';
import type { ImageOutput } from '../../src/output/types.js';
import { digestOf } from '../helpers/registry.js';
import { listFiles, tempDir } from '../helpers/tmp.js';

const LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

function blob(bytes: Buffer, alg: 'sha256' | 'sha512' = 'sha256'): { desc: Descriptor; bytes: Buffer } {
  return { desc: { mediaType: LAYER, digest: `${alg}:${createHash(alg).update(bytes).digest('hex')}`, size: bytes.length }, bytes };
}

/** Varied bytes, so that a misplaced or shifted copy cannot go unnoticed. */
function pattern(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7 + (i >> 9)) & 0xff;
  return b;
}

const config = blob(Buffer.from('{"architecture":"amd64","os":"linux"}'));
config.desc = { ...config.desc, mediaType: 'application/vnd.oci.image.config.v1+json' };
// Sizes around the tar block (512) and the placeholder chunk (1 MiB); a
// sha512 digest makes a name too long for a plain ustar header.
const layers = [
  blob(pattern(3 * 1024 * 1024 + 17, 1)),
  blob(pattern(1024, 2)),
  blob(Buffer.alloc(0)),
  blob(pattern(1 << 20, 3), 'sha512'),
  blob(pattern(700, 4)),
];
const manifestBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, config: config.desc, layers: layers.map((l) => l.desc) }));
const manifest = { bytes: manifestBytes, mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digestOf(manifestBytes) };

async function writeArchive(target: string, put: (d: OciArchiveDestination, l: (typeof layers)[number], i: number) => Promise<void>, copier?: FileWorkers) {
  const d = await OciArchiveDestination.open(await RootDirOutput.open(dirname(target)), `/${basename(target)}`, { reference: 'registry.example.org/app:1', mtime: 0, copier });
  const signal = new AbortController().signal;
  try {
    await d.putBlob(config.desc, Readable.from([config.bytes]), signal);
    for (const [i, l] of layers.entries()) await put(d, l, i);
    await d.commit(manifest, { config: config.desc, layers: layers.map((l) => l.desc) });
  } catch (err) {
    // As the copy step does on any failure.
    await d.abort();
    throw err;
  }
}

/** The test layers as files in `dir`, and two file threads to copy them (stopped when the test ends). */
async function layerFiles(t: { after(fn: () => unknown): void }, dir: string): Promise<{ files: string[]; workers: FileWorkers }> {
  const files = await Promise.all(
    layers.map(async (l, i) => {
      const f = join(dir, `layer-${i}`);
      await writeFile(f, l.bytes);
      return f;
    }),
  );
  const workers = new FileWorkers(2);
  t.after(() => workers.close());
  return { files, workers };
}

describe('OciArchiveDestination', () => {
  test('sizeOf gives the exact size of the archive the same contents make, long (pax) names and empty blobs included', async (t) => {
    const dir = await tempDir(t);
    const target = join(dir, 'app_1');
    await writeArchive(target, (d, l) => d.putBlob(l.desc, Readable.from([l.bytes]), new AbortController().signal));
    const contents = { manifest, config: config.desc, layers: layers.map((l) => l.desc) };
    const written = (await readFile(target)).length;
    assert.equal(await OciArchiveDestination.sizeOf(contents, { reference: 'registry.example.org/app:1', mtime: 0 }), written);
    // The reference is in index.json and manifest.json: a longer one makes a longer archive.
    assert.notEqual(await OciArchiveDestination.sizeOf(contents, { reference: `registry.example.org/${'a'.repeat(600)}:1`, mtime: 0 }), written);
  });

  test('files copied in by worker threads give the same bytes as the same blobs streamed in', async (t) => {
    const dir = await tempDir(t);
    const { files, workers } = await layerFiles(t, dir);
    const streamed = join(dir, 'streamed.tar');
    const copied = join(dir, 'copied.tar');
    await writeArchive(streamed, (d, l) => d.putBlob(l.desc, Readable.from([l.bytes]), new AbortController().signal));
    await writeArchive(copied, (d, l, i) => d.putBlobFile(l.desc, files[i]!), workers);
    const a = await readFile(streamed);
    const b = await readFile(copied);
    assert.equal(b.length, a.length);
    assert.ok(a.equals(b), 'archives differ');
    // And the archive holds what it should, as tar itself reads it.
    const out = join(dir, 'x');
    execFileSync('mkdir', ['-p', out]);
    execFileSync('tar', ['-xf', copied, '-C', out]);
    for (const l of layers) {
      const [alg, hex] = l.desc.digest.split(':');
      assert.ok((await readFile(join(out, 'blobs', alg!, hex!))).equals(l.bytes), `${l.desc.digest} extracted intact`);
    }
  });

  test('a file that is not the size its descriptor says fails the commit, and leaves no archive or temporary file', async (t) => {
    const dir = await tempDir(t);
    const workers = new FileWorkers(1);
    t.after(() => workers.close());
    for (const delta of [-5, 5]) {
      const archives = join(dir, `out${delta}`);
      const files: string[] = [];
      for (const [i, l] of layers.entries()) {
        const f = join(dir, `layer-${delta}-${i}`);
        // The first layer's file changed after it was verified.
        await writeFile(f, i === 0 ? pattern(l.bytes.length + delta, 9) : l.bytes);
        files.push(f);
      }
      await assert.rejects(
        writeArchive(join(archives, 'app_1'), (d, l, i) => d.putBlobFile(l.desc, files[i]!), workers),
        (err: unknown) => err instanceof DigestMismatchError && err.message.includes(layers[0]!.desc.digest),
      );
      assert.deepEqual(await listFiles(archives), []);
    }
  });

  test('archives in an overlay file written in place, files copied in by threads at their offsets: the same bytes as the overlay streamed', async (t) => {
    const dir = await tempDir(t);
    const { files, workers } = await layerFiles(t, dir);
    const contents = { manifest, config: config.desc, layers: layers.map((l) => l.desc) };
    const signal = new AbortController().signal;
    /** Two archives (as the pipeline gives a stream: units first, then the archives in order), each as `put` adds its layers. */
    const overlay = async (target: string, viaFiles: boolean): Promise<Buffer> => {
      const chunks: Buffer[] = [];
      const sink = new Writable({ write: (c: Buffer, _e, done) => (chunks.push(Buffer.from(c)), done()) });
      const o = await openOverlay(target, 7, sink);
      await o.output.writeFile('/etc/systemd/system/kiwi_containers.service', '[Unit]\n');
      for (const name of ['a_1', `${'b'.repeat(120)}_1`]) {
        const d = await OciArchiveDestination.open(o.output, `/var/tmp/kiwi_containers/${name}`, { reference: `registry.example.org/${name}`, mtime: 7, copier: workers }, contents);
        await d.putBlob(config.desc, Readable.from([config.bytes]), signal);
        for (const [i, l] of layers.entries()) await (viaFiles ? d.putBlobFile(l.desc, files[i]!) : d.putBlob(l.desc, Readable.from([l.bytes]), signal));
        await d.commit(manifest, contents);
      }
      await o.output.close();
      await o.commit();
      return target === '-' ? Buffer.concat(chunks) : readFile(target);
    };
    const streamed = await overlay('-', true);
    const inPlace = await overlay(join(dir, 'o.tar'), true);
    const inPlaceStreamedBlobs = await overlay(join(dir, 'p.tar'), false);
    assert.equal(inPlace.length, streamed.length);
    assert.ok(inPlace.equals(streamed), 'copied in place: the same bytes as streamed');
    assert.ok(inPlaceStreamedBlobs.equals(streamed), 'blobs streamed into the file in place: the same bytes');
  });

  test('the stop signal ends an archive whose stream output takes no more bytes (a stalled pipe): the write fails, abort returns', async (t) => {
    // A sink that never takes its first chunk, as a pipe nobody reads.
    const stalled = new Writable({ highWaterMark: 1024, write: () => undefined });
    const output: ImageOutput = new TarStreamOutput('overlay (test)', stalled, 0);
    const big = blob(pattern(4 * 1024 * 1024, 6));
    const contents = { manifest, config: config.desc, layers: [big.desc] };
    const stop = new AbortController();
    const d = await OciArchiveDestination.open(output, '/var/tmp/kiwi_containers/a_1', { reference: 'registry.example.org/a:1', mtime: 0, signal: stop.signal }, contents);
    // The blob may fit in the buffers on the way; the archive's end cannot.
    const writing = (async () => {
      await d.putBlob(config.desc, Readable.from([config.bytes]), stop.signal);
      await d.putBlob(big.desc, Readable.from([big.bytes]), stop.signal);
      await d.commit(manifest, contents);
    })();
    writing.catch(() => undefined);
    const first = await Promise.race([writing.then(() => 'done'), new Promise((r) => setTimeout(() => r('waiting'), 300))]);
    assert.equal(first, 'waiting', 'the archive waits on the stalled output');
    const reason = new Error('stopped');
    const sent = Date.now();
    stop.abort(reason);
    await assert.rejects(writing, (err: unknown) => err === reason, 'the stop is the failure');
    await d.abort();
    assert.ok(Date.now() - sent < 1000, `ended in ${Date.now() - sent} ms`);
    t.diagnostic(`ended ${Date.now() - sent} ms after the stop`);
  });

  test('abort waits for copies under way and removes the temporary file', async (t) => {
    const dir = await tempDir(t);
    const workers = new FileWorkers(1);
    t.after(() => workers.close());
    const big = blob(pattern(8 * 1024 * 1024, 5));
    const file = join(dir, 'big');
    await writeFile(file, big.bytes);
    const out = join(dir, 'out');
    const d = await OciArchiveDestination.open(await RootDirOutput.open(out), '/app_1', { reference: 'registry.example.org/app:1', mtime: 0, copier: workers });
    await d.putBlobFile(big.desc, file);
    await d.putBlobFile({ ...big.desc, digest: `sha256:${'0'.repeat(64)}` }, file);
    await d.abort();
    assert.deepEqual(await listFiles(out), []);
  });

  test('commitAfter: the archive is complete under a temporary name, and appears at its path only once that settles', async (t) => {
    const dir = await tempDir(t);
    const out = join(dir, 'out');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const d = await OciArchiveDestination.open(await RootDirOutput.open(out), '/app_1', { reference: 'registry.example.org/app:1', mtime: 0, commitAfter: gate });
    await d.putBlob(config.desc, Readable.from([config.bytes]), new AbortController().signal);
    for (const l of layers) await d.putBlob(l.desc, Readable.from([l.bytes]), new AbortController().signal);
    const committing = d.commit(manifest, { config: config.desc, layers: layers.map((l) => l.desc) });
    await new Promise((r) => setTimeout(r, 50));
    const waiting = await listFiles(out);
    assert.equal(waiting.length, 1);
    assert.match(waiting[0]!, /\.imgdesc-tmp-/, 'only a temporary file while the gate is closed');
    release();
    await committing;
    assert.deepEqual(await listFiles(out), ['app_1']);
    // The same bytes as an archive committed at once.
    const reference = join(dir, 'reference');
    await writeArchive(reference, (d2, l) => d2.putBlob(l.desc, Readable.from([l.bytes]), new AbortController().signal));
    assert.deepEqual(await readFile(join(out, 'app_1')), await readFile(reference));
  });

  test('commitAfter rejected (the units failed to render) or the build stopped: the commit fails and nothing is left', async (t) => {
    for (const how of ['rejected', 'stopped'] as const) {
      const dir = await tempDir(t);
      const out = join(dir, 'out');
      const stop = new AbortController();
      const gate = how === 'rejected' ? Promise.reject(new Error('template failed')) : new Promise<void>(() => {});
      gate.catch(() => undefined);
      const d = await OciArchiveDestination.open(await RootDirOutput.open(out), '/app_1', { reference: 'registry.example.org/app:1', mtime: 0, commitAfter: gate, signal: stop.signal });
      await d.putBlob(config.desc, Readable.from([config.bytes]), stop.signal);
      const committing = d.commit(manifest, { config: config.desc, layers: [] });
      if (how === 'stopped') setTimeout(() => stop.abort(new Error('interrupted')), 20);
      await assert.rejects(committing, how === 'rejected' ? /template failed/ : /interrupted/);
      await d.abort();
      assert.deepEqual(await listFiles(out), [], how);
    }
  });
});
