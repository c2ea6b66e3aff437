// Hashes files on worker threads. Hashing is the bulk of a warm build's CPU
// time; on the main thread it also held up the HTTP parsing and archive
// writing that share that thread, and it used one core of two.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

export interface FileHash {
  /** Bytes read; reading stops after the first read past `limit`. */
  readonly size: number;
  /** Hex digest, or null when the file is longer than `limit`. */
  readonly hex: string | null;
}

interface Job {
  readonly file: string;
  readonly algorithm: string;
  readonly limit: number;
}

type Reply = { id: number; size: number; hex: string | null } | { id: number; error: { message: string; code?: string } };

// Plain JavaScript run with `eval`: a separate module file would have to be
// found both in dist/ and, under tsx, in src/ as TypeScript, which workers
// cannot load on Node 20.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { open } = require('node:fs/promises');
const { createHash } = require('node:crypto');
// One reused buffer: fresh ones would pile up as garbage until the thread's
// next collection, tens of MB per thread.
const buffer = Buffer.allocUnsafe(1 << 20);
async function check({ file, algorithm, limit }) {
  const fh = await open(file, 'r');
  const hash = createHash(algorithm);
  let size = 0;
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      size += bytesRead;
      if (size > limit) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return { size, hex: size > limit ? null : hash.digest('hex') };
}
parentPort.on('message', ({ id, job }) => {
  check(job).then(
    (r) => parentPort.postMessage({ id, ...r }),
    (e) => parentPort.postMessage({ id, error: { message: e.message, code: e.code } }),
  );
});
`;

export class DigestWorkers {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Array<{ job: Job; resolve: (r: FileHash) => void; reject: (e: Error) => void }> = [];
  private readonly pending = new Map<number, { resolve: (r: FileHash) => void; reject: (e: Error) => void; worker: Worker }>();
  private nextId = 0;
  private closed = false;

  /** At most `size` threads, started when first needed; default: one per CPU, at most 4. */
  constructor(private readonly size = Math.max(1, Math.min(availableParallelism(), 4))) {}

  /** Hashes the file, reading no more than one read past `limit`; rejects with the file system's error. */
  hash(file: string, algorithm: string, limit: number): Promise<FileHash> {
    if (this.closed) return Promise.reject(new Error('digest workers are closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ job: { file, algorithm, limit }, resolve, reject });
      this.dispatch();
    });
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
      else p.resolve({ size: reply.size, hex: reply.hex });
      worker.unref();
      this.idle.push(worker);
      this.dispatch();
    });
    worker.on('error', (err) => this.failWorker(worker, err));
    worker.on('exit', (code) => {
      if (!this.closed) this.failWorker(worker, new Error(`digest worker exited with code ${code}`));
    });
    this.workers.push(worker);
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
    const j = this.idle.indexOf(worker);
    if (j !== -1) this.idle.splice(j, 1);
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop() ?? (this.workers.length < this.size ? this.spawn() : undefined);
      if (!worker) return;
      const { job, resolve, reject } = this.queue.shift()!;
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject, worker });
      // Busy threads keep the process alive; idle ones do not.
      worker.ref();
      worker.postMessage({ id, job });
    }
  }

  /** Stops every thread; checks still running are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    const err = new Error('digest workers are closed');
    for (const q of this.queue.splice(0)) q.reject(err);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    await Promise.all(this.workers.splice(0).map((w) => w.terminate()));
    this.idle.length = 0;
  }
}
