// A new file written from a stream in batches of about 1 MiB. Network chunks
// arrive 16-64 KiB at a time, and fs.WriteStream writes each one on its own:
// a trip through libuv's thread pool per chunk, ~4,700 for a 300 MB
// download, each costing a hand-off and a wake-up on top of the write. Here
// chunks are gathered (no copy) and written with one writev per batch.

import { closeSync, openSync } from 'node:fs';
import { Writable } from 'node:stream';
import { writeAllAt } from './write-at.js';

/** Bytes gathered before they are written. */
const BATCH = 1 << 20;

export class BatchedFileWriter extends Writable {
  private fd: number | null = null;
  private batch: Buffer[] = [];
  private batched = 0;
  /** Bytes written so far: where the next batch goes. */
  private position = 0;

  /** Creates `file`, which must not exist (O_EXCL). */
  constructor(private readonly file: string) {
    super({ highWaterMark: BATCH });
  }

  override _construct(done: (err?: Error | null) => void): void {
    try {
      this.fd = openSync(this.file, 'wx');
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.batch.push(chunk);
    this.batched += chunk.length;
    if (this.batched < BATCH) return done();
    this.flush().then(() => done(), done);
  }

  /** Closed here, not in _destroy: a late write error (NFS, quota) shows when the file is closed, and must fail the stream. */
  override _final(done: (err?: Error | null) => void): void {
    this.flush()
      .then(() => {
        const fd = this.fd!;
        this.fd = null;
        closeSync(fd);
      })
      .then(() => done(), done);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch (closeErr) {
        err ??= closeErr as Error;
      }
      this.fd = null;
    }
    done(err);
  }

  private async flush(): Promise<void> {
    const buffers = this.batch;
    const size = this.batched;
    this.batch = [];
    this.batched = 0;
    await writeAllAt(this.fd!, buffers, this.position);
    this.position += size;
  }
}
