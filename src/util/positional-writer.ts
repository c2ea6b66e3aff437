// A stream (a tar-stream pack's output) laid out at increasing positions of a
// file, except holes: chunks cut from HOLE stand for bytes another thread
// writes at that place (a positional copy from the blob cache). A hole costs
// this thread neither a copy nor a write; its place is reported instead.
// The archive writer uses it for an archive's blob bodies, and the overlay
// file for the archives inside it, so the bulk of the bytes never passes
// through the main thread.

import { Writable } from 'node:stream';

/**
 * Placeholder bytes. The writer knows them by their memory (no other chunk
 * shares it). Zero-filled, so a placeholder written by mistake would still
 * only be overwritten by the real bytes. Large, so that a layer's hole is a
 * few chunks rather than one per MiB (each chunk costs its way through
 * tar-stream and the writer, twice for an archive inside an overlay); the
 * memory is never touched, so the kernel never gives it pages.
 */
export const HOLE = Buffer.alloc(64 << 20);

/** `size` bytes of placeholder, in chunks of at most 64 MiB. */
export function* holeChunks(size: number): Generator<Buffer> {
  yield* chunksOf(HOLE, size);
}

/** `size` bytes cut from `buffer`, repeated. */
export function* chunksOf(buffer: Buffer, size: number): Generator<Buffer> {
  for (let left = size; left > 0; left -= buffer.length) yield buffer.subarray(0, Math.min(left, buffer.length));
}

export function isHole(chunk: Buffer): boolean {
  return chunk.buffer === HOLE.buffer;
}

/** Adjacent chunks are joined into one write up to this many bytes. */
const COALESCE_LIMIT = 256 * 1024;

export class PositionalWriter extends Writable {
  /** Bytes laid out so far, holes included: the size once finished. */
  position = 0;

  constructor(
    /** Writes `chunk` at `position`; called in order, one at a time. */
    private readonly put: (chunk: Buffer, position: number) => Promise<void>,
    /** A hole of `length` bytes at `position` (one call per chunk); throwing fails the stream. */
    private readonly hole: (length: number, position: number) => void,
  ) {
    super({ highWaterMark: 1 << 20 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.run([chunk]).then(() => done(), done);
  }

  /**
   * Chunks that queued while a write was under way. tar-stream gives every
   * entry as a 512-byte header, a body and padding: runs of adjacent bytes
   * are written as one, so a small archive costs a few writes, not three per
   * entry.
   */
  override _writev(chunks: Array<{ chunk: Buffer }>, done: (err?: Error | null) => void): void {
    this.run(chunks.map((c) => c.chunk)).then(() => done(), done);
  }

  private async run(chunks: Buffer[]): Promise<void> {
    let bytes: Buffer[] = [];
    let length = 0;
    let start = this.position;
    const flush = async () => {
      if (bytes.length > 0) await this.put(bytes.length === 1 ? bytes[0]! : Buffer.concat(bytes, length), start);
      bytes = [];
      length = 0;
    };
    for (const chunk of chunks) {
      const at = this.position;
      this.position += chunk.length;
      if (isHole(chunk)) {
        await flush();
        this.hole(chunk.length, at);
        continue;
      }
      // Large chunks are written as they are: joining them would only copy.
      if (length + chunk.length > COALESCE_LIMIT) await flush();
      if (bytes.length === 0) start = at;
      bytes.push(chunk);
      length += chunk.length;
    }
    await flush();
  }
}
