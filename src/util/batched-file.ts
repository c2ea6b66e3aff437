// A new file written from a stream in batches of about 1 MiB. Network chunks
// arrive 16-64 KiB at a time, and fs.WriteStream writes each one on its own:
// a trip through libuv's thread pool per chunk, ~4,700 for a 300 MB
// download, each costing a hand-off and a wake-up on top of the write. Here
// chunks are gathered (no copy) and written with one writev per batch.

import { closeSync, openSync, writev } from 'node:fs';
import { Writable } from 'node:stream';

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
    let buffers = this.batch;
    this.batch = [];
    this.batched = 0;
    while (buffers.length > 0) {
      const n = await writeAt(this.fd!, buffers, this.position);
      this.position += n;
      buffers = rest(buffers, n);
    }
  }
}

function writeAt(fd: number, buffers: Buffer[], position: number): Promise<number> {
  return new Promise((resolve, reject) => writev(fd, buffers, position, (err, n) => (err ? reject(err) : resolve(n))));
}

/** What a short write left of `buffers`. */
function rest(buffers: Buffer[], written: number): Buffer[] {
  const left: Buffer[] = [];
  for (const b of buffers) {
    if (written >= b.length) {
      written -= b.length;
      continue;
    }
    left.push(written > 0 ? b.subarray(written) : b);
    written = 0;
  }
  return left;
}
