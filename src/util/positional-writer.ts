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
 * only be overwritten by the real bytes.
 */
export const HOLE = Buffer.alloc(1 << 20);

/** `size` bytes of placeholder, in chunks of at most 1 MiB. */
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
    const at = this.position;
    this.position += chunk.length;
    if (!isHole(chunk)) {
      this.put(chunk, at).then(() => done(), done);
      return;
    }
    try {
      this.hole(chunk.length, at);
      done();
    } catch (err) {
      done(err as Error);
    }
  }
}
