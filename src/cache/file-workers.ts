// Hashes blob files and copies them into archives on worker threads. Both are
// the bulk of a build's CPU time once the bytes are on disk; on the main
// thread they held up the HTTP parsing that shares it, used one core of two,
// and every 1 MiB read there was a fresh buffer for the collector. A worker
// reads with one reused buffer and blocking calls: it has nothing else to do
// (file-worker-source.ts holds its code).
//
// A thread costs ~50 ms of CPU to boot, as much as hashing and copying some
// 25 MB. So small jobs run here, with the same code on the calling thread,
// until the build says (expect) that its downloads add up to more than that:
// then every thread starts at once, booting while the downloads run. A build
// of a few small images never starts one, and on two cores its start-up no
// longer competes with them. Nor does a warm build, which hashes nothing: a
// copy needs no JavaScript per byte, so without threads libuv's pool runs it
// (a read and a write per MiB, each a round trip through the main thread's
// loop, which has little else to do then). Measured on the second benchmark
// set, warm: 431 → 393 ms against threads started at the first manifest, and
// 378 → 362 ms even against threads started before the description is read.

import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { JOBS_SOURCE, WORKER_SOURCE } from './file-worker-source.js';
import { writeAllAt } from '../util/write-at.js';

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

/**
 * Jobs handed to a thread at once: the second waits in the thread's port, so
 * the thread goes on while the main thread is busy (collecting garbage,
 * parsing HTTP, rendering units) instead of waiting to be given its next job.
 */
const PER_THREAD = 2;

/** A job of at most this many bytes may run on the calling thread (a few ms of work). */
const INLINE_JOB = 4 * 1024 * 1024;
/** Bytes of jobs run on the calling thread before the threads take over: what a thread's boot would cost. */
const INLINE_BUDGET = 24 * 1024 * 1024;

/** Copies run on libuv's thread pool at once, while no file thread runs: its four threads. */
const POOL_LANES = 4;
const POOL_BUFFER = 1 << 20;

/** The copy job of file-worker-source.ts, each read and write a call on libuv's pool. */
async function poolCopy(job: Extract<Job, { kind: 'copy' }>, buffer: Buffer): Promise<Done> {
  const from = await open(job.file, 'r');
  let size = 0;
  try {
    for (;;) {
      const { bytesRead: n } = await from.read(buffer, 0, buffer.length, null);
      if (n === 0) break;
      const keep = Math.min(n, job.length - size);
      await writeAllAt(job.fd, [buffer.subarray(0, keep)], job.position + size);
      size += n;
      if (size > job.length) break;
    }
  } finally {
    await from.close();
  }
  return { size };
}

type Jobs = { hash(job: Job): Promise<Done>; copy(job: Job): Done; alignedBuffer(size: number): Buffer };
let inlineJobs: Jobs | null = null;

/** The threads' own job code, compiled once on this thread. */
function jobsHere(): Jobs {
  inlineJobs ??= new Function('require', `${JOBS_SOURCE}\nreturn { hash, copy, alignedBuffer };`)(createRequire(import.meta.url)) as Jobs;
  return inlineJobs;
}

export class FileWorkers {
  private readonly workers: Worker[] = [];
  /** Jobs handed to each thread and not answered yet. */
  private readonly load = new Map<Worker, number>();
  private readonly queue: Queued[] = [];
  private readonly pending = new Map<number, { resolve: Queued['resolve']; reject: Queued['reject']; worker: Worker }>();
  private nextId = 0;
  private closed = false;
  /** Bytes of jobs run on the calling thread so far. */
  private inlined = 0;
  /** Bytes the build announced it will download and hash. */
  private expected = 0;
  /** Copies on libuv's pool: buffers free, and copies waiting for one. */
  private readonly poolBuffers: Buffer[] = [];
  private poolLanes = 0;
  private readonly poolWaiting: Array<() => void> = [];

  /** Threads started and running. */
  get threads(): number {
    return this.workers.length;
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
    if (this.mayInline(job)) return this.inline(job);
    // Copying needs no JavaScript per byte: without threads (a warm build
    // hashes nothing) libuv's pool does it, and no thread boots for it.
    if (job.kind === 'copy' && this.workers.length === 0) return this.onPool(job, signal);
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
   * The build will download and hash `bytes` more: once the total is more
   * than the calling thread should take on, every thread starts now, idle.
   */
  expect(bytes: number): void {
    this.expected += bytes;
    if (this.expected <= INLINE_BUDGET || this.closed) return;
    while (this.workers.length < this.size) this.spawn();
  }

  private async onPool(job: Extract<Job, { kind: 'copy' }>, signal?: AbortSignal): Promise<Done> {
    if (this.poolLanes >= POOL_LANES) await new Promise<void>((resolve) => this.poolWaiting.push(resolve));
    this.poolLanes++;
    // Page-aligned, as the threads' own (the kernel copies into such a buffer ~4× faster).
    const buffer = this.poolBuffers.pop() ?? jobsHere().alignedBuffer(POOL_BUFFER);
    try {
      // Dropped if the build stopped while it waited; once started it runs to its end, as on a thread.
      signal?.throwIfAborted();
      return await poolCopy(job, buffer);
    } finally {
      this.poolBuffers.push(buffer);
      this.poolLanes--;
      this.poolWaiting.shift()?.();
    }
  }

  /** Small, while no thread runs and the budget lasts: then a thread's boot would cost more than the job. */
  private mayInline(job: Job): boolean {
    const bytes = job.kind === 'copy' ? job.length : job.limit;
    if (this.workers.length > 0 || bytes > INLINE_JOB || this.inlined + bytes > INLINE_BUDGET) return false;
    this.inlined += bytes;
    return true;
  }

  private async inline(job: Job): Promise<Done> {
    const jobs = jobsHere();
    return job.kind === 'copy' ? jobs.copy(job) : await jobs.hash(job);
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
