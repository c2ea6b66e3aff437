// Hashes blob files and copies them into archives on worker threads. Both are
// the bulk of a build's CPU time once the bytes are on disk; on the main
// thread they held up the HTTP parsing that shares it, used one core of two,
// and every 1 MiB read there was a fresh buffer for the collector. A worker
// reads with one reused buffer and blocking calls: it has nothing else to do.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

export interface FileHash {
  /** Bytes read; reading stops after the first read past `limit`. */
  readonly size: number;
  /** Hex digest, or null when the file is longer than `limit`. */
  readonly hex: string | null;
  /** With `gunzip`: the bytes the file decompresses to; null when it is not complete, valid gzip. */
  readonly unpacked?: number | null;
}

type Job =
  | { readonly kind: 'hash'; readonly file: string; readonly algorithm: string; readonly limit: number; readonly gunzip: boolean; readonly publicGunzip: boolean }
  | { readonly kind: 'copy'; readonly file: string; readonly fd: number; readonly position: number; readonly length: number };

type Done = { size: number; hex?: string | null; unpacked?: number | null };
type Reply = ({ id: number } & Done) | { id: number; error: { message: string; code?: string } };

interface Queued {
  readonly job: Job;
  readonly resolve: (r: Done) => void;
  readonly reject: (e: Error) => void;
  readonly signal?: AbortSignal;
}

// Plain JavaScript run with `eval`: a separate module file would have to be
// found both in dist/ and, under tsx, in src/ as TypeScript, which workers
// cannot load on Node 20.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { openSync, readSync, writeSync, closeSync } = require('node:fs');
const { createHash } = require('node:crypto');
// One reused buffer: fresh ones would pile up as garbage until the thread's
// next collection, tens of MB per thread. It is page-aligned: a large
// Buffer.allocUnsafe comes from malloc 16 bytes past a page boundary, and the
// kernel copies file pages into such a buffer about 4 times slower (300 MB:
// 136 ms against 35 ms here). WebAssembly memory is always page-aligned.
function alignedBuffer(size) {
  try {
    return Buffer.from(new WebAssembly.Memory({ initial: size / 65536 }).buffer);
  } catch {
    return Buffer.allocUnsafe(size);
  }
}
const buffer = alignedBuffer(1 << 20);
// Counts the bytes a gzip stream (of one or more members) inflates to, into
// one reused output buffer. zlib's streams allocate a fresh buffer for every
// output chunk: as much garbage as the layer is large. So this drives the
// engine the way zlib's own *Sync functions do (handle.writeSync, which
// reports avail_out and avail_in in _writeState) and falls back to the
// public stream when a Node lacks that.
let inflated;
function gunzipCounter(publicOnly) {
  // Loaded when first needed: a warm build never decompresses.
  const zlib = require('node:zlib');
  inflated ??= alignedBuffer(1 << 20);
  const gz = zlib.createGunzip({ chunkSize: 1 << 20 });
  const handle = gz._handle;
  const state = gz._writeState;
  let total = 0;
  let failed = false;
  if (publicOnly || !handle || typeof handle.writeSync !== 'function' || !(state instanceof Uint32Array)) {
    gz.on('data', (c) => (total += c.length));
    gz.on('error', () => (failed = true));
    const ended = new Promise((resolve) => { gz.once('end', resolve); gz.once('error', resolve); });
    // The chunk is copied (the read buffer is reused) and the next read waits
    // for the gunzip to drain or fail, so at most one chunk is ever queued.
    const drained = () => new Promise((resolve) => {
      const go = () => { gz.off('drain', go); gz.off('error', go); resolve(); };
      gz.once('drain', go);
      gz.once('error', go);
    });
    return {
      push: (chunk) => (failed || gz.write(Buffer.from(chunk)) ? undefined : drained()),
      end: async () => { if (!failed) gz.end(); await ended; return failed ? null : total; },
    };
  }
  handle.onerror = () => (failed = true);
  const step = (flush, chunk) => {
    let offset = 0;
    let left = chunk.length;
    for (;;) {
      handle.writeSync(flush, chunk, offset, left, inflated, 0, inflated.length);
      if (failed) return;
      const [outLeft, inLeft] = state;
      total += inflated.length - outLeft;
      offset += left - inLeft;
      left = inLeft;
      // Output room to spare: the engine took all it could of this input.
      if (outLeft !== 0) return;
    }
  };
  return {
    push: (chunk) => { if (!failed) step(zlib.constants.Z_NO_FLUSH, chunk); },
    end: async () => {
      if (!failed) step(zlib.constants.Z_FINISH, Buffer.alloc(0));
      gz.close();
      return failed ? null : total;
    },
  };
}
async function hash({ file, algorithm, limit, gunzip, publicGunzip }) {
  const fd = openSync(file, 'r');
  const h = createHash(algorithm);
  const counter = gunzip ? gunzipCounter(publicGunzip) : null;
  let size = 0;
  try {
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      size += n;
      if (size > limit) break;
      const chunk = buffer.subarray(0, n);
      h.update(chunk);
      if (counter) await counter.push(chunk);
    }
  } finally {
    closeSync(fd);
  }
  if (size > limit) return { size, hex: null };
  return { size, hex: h.digest('hex'), unpacked: counter ? await counter.end() : undefined };
}
// Writes the file's first length bytes at position in fd, never past them;
// size is what the file holds, up to one read beyond length.
function copy({ file, fd, position, length }) {
  const from = openSync(file, 'r');
  let size = 0;
  try {
    for (;;) {
      const n = readSync(from, buffer, 0, buffer.length, null);
      if (n === 0) break;
      const keep = Math.min(n, length - size);
      for (let done = 0; done < keep; ) done += writeSync(fd, buffer, done, keep - done, position + size + done);
      size += n;
      if (size > length) break;
    }
  } finally {
    closeSync(from);
  }
  return { size };
}
parentPort.on('message', async ({ id, job }) => {
  try {
    parentPort.postMessage({ id, ...(job.kind === 'copy' ? copy(job) : await hash(job)) });
  } catch (e) {
    parentPort.postMessage({ id, error: { message: e.message, code: e.code } });
  }
});
`;

/**
 * Jobs handed to a thread at once: the second waits in the thread's port, so
 * the thread goes on while the main thread is busy (collecting garbage,
 * parsing HTTP, rendering units) instead of waiting to be given its next job.
 */
const PER_THREAD = 2;

export class FileWorkers {
  private readonly workers: Worker[] = [];
  /** Jobs handed to each thread and not answered yet. */
  private readonly load = new Map<Worker, number>();
  private readonly queue: Queued[] = [];
  private readonly pending = new Map<number, { resolve: Queued['resolve']; reject: Queued['reject']; worker: Worker }>();
  private nextId = 0;
  private closed = false;

  /** true once close() was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** At most `size` threads, started when first needed; default: one per CPU, at most 4. */
  constructor(private readonly size = Math.max(1, Math.min(availableParallelism(), 4))) {}

  /**
   * Hashes the file, reading no more than one read past `limit`, and with
   * `gunzip` counts what it decompresses to in the same pass; rejects with the
   * file system's error.
   */
  async hash(file: string, algorithm: string, limit: number, opts: { gunzip?: boolean; publicGunzip?: boolean } = {}): Promise<FileHash> {
    // publicGunzip (for tests): count through zlib's public stream only.
    const r = await this.run({ kind: 'hash', file, algorithm, limit, gunzip: opts.gunzip === true, publicGunzip: opts.publicGunzip === true });
    return opts.gunzip ? { size: r.size, hex: r.hex ?? null, unpacked: r.unpacked ?? null } : { size: r.size, hex: r.hex ?? null };
  }

  /**
   * Writes the first `length` bytes of `file` into the open file `fd` at
   * `position` (never beyond them) and resolves with the size of `file`, up
   * to one read past `length`; the caller compares. A copy not yet handed to
   * a thread when `signal` aborts is dropped; one handed over runs, so once
   * every returned promise has settled nothing writes to `fd` any more.
   */
  async copyInto(file: string, fd: number, position: number, length: number, signal?: AbortSignal): Promise<number> {
    return (await this.run({ kind: 'copy', file, fd, position, length }, signal)).size;
  }

  private run(job: Job, signal?: AbortSignal): Promise<Done> {
    if (this.closed) return Promise.reject(new Error('file workers are closed'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const queued: Queued = { job, resolve, reject, signal };
      this.queue.push(queued);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.queue.indexOf(queued);
          if (i === -1) return;
          this.queue.splice(i, 1);
          reject(signal.reason);
        },
        { once: true },
      );
      this.dispatch();
    });
  }

  /**
   * Starts every thread now, idle: a thread takes ~70 ms of CPU to boot, which
   * a build would rather spend while it waits for the registry than when
   * the first blob is there.
   */
  start(count = this.size): void {
    while (!this.closed && this.workers.length < Math.min(count, this.size)) this.spawn();
  }

  private spawn(): Worker {
    // The thread keeps almost nothing on its heap; small limits keep each one
    // to a few MB of memory.
    const worker = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16, codeRangeSizeMb: 2 } });
    worker.on('message', (reply: Reply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if ('error' in reply) p.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code }));
      else p.resolve(reply);
      const left = this.load.get(worker)! - 1;
      this.load.set(worker, left);
      // Busy threads keep the process alive; idle ones do not.
      if (left === 0) worker.unref();
      this.dispatch();
    });
    worker.on('error', (err) => this.failWorker(worker, err));
    worker.on('exit', (code) => {
      if (!this.closed) this.failWorker(worker, new Error(`file worker exited with code ${code}`));
    });
    this.workers.push(worker);
    this.load.set(worker, 0);
    worker.unref();
    return worker;
  }

  private failWorker(worker: Worker, err: Error): void {
    for (const [id, p] of this.pending) {
      if (p.worker === worker) {
        this.pending.delete(id);
        p.reject(err);
      }
    }
    const i = this.workers.indexOf(worker);
    if (i !== -1) this.workers.splice(i, 1);
    this.load.delete(worker);
  }

  /** The least busy thread that can take a job: an idle one, else a new one, else one with a job waiting. */
  private pick(): Worker | undefined {
    let best: Worker | undefined;
    for (const w of this.workers) if (this.load.get(w)! < PER_THREAD && (!best || this.load.get(w)! < this.load.get(best)!)) best = w;
    if ((!best || this.load.get(best)! > 0) && this.workers.length < this.size) return this.spawn();
    return best;
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const worker = this.pick();
      if (!worker) return;
      const { job, resolve, reject } = this.queue.shift()!;
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject, worker });
      this.load.set(worker, this.load.get(worker)! + 1);
      worker.ref();
      worker.postMessage({ id, job });
    }
  }

  /** Stops every thread; jobs still queued or running are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    const err = new Error('file workers are closed');
    for (const q of this.queue.splice(0)) q.reject(err);
    // Running jobs are rejected only once their threads are gone: a copy's
    // caller closes the file it writes to when the promise settles.
    await Promise.all(this.workers.splice(0).map((w) => w.terminate()));
    this.load.clear();
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

let shared: FileWorkers | null = null;

/** The process's pool, for the CLI (see main.ts); a closed one is replaced. */
export function sharedFileWorkers(): FileWorkers {
  if (!shared || shared.isClosed) shared = new FileWorkers();
  return shared;
}
