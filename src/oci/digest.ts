// Content digests: parsing, computing, and verifying streams on the fly.

import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

const ALGORITHMS: Record<string, { node: string; hexLength: number }> = {
  sha256: { node: 'sha256', hexLength: 64 },
  sha512: { node: 'sha512', hexLength: 128 },
};

export interface ParsedDigest {
  algorithm: string;
  hex: string;
}

/** Parses "sha256:<64 hex>"; null when malformed or of an unsupported algorithm. */
export function parseDigest(digest: string): ParsedDigest | null {
  const m = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-f0-9]+)$/.exec(digest);
  if (!m) return null;
  const alg = ALGORITHMS[m[1]!];
  if (!alg || m[2]!.length !== alg.hexLength) return null;
  return { algorithm: m[1]!, hex: m[2]! };
}

export function isDigest(value: string): boolean {
  return parseDigest(value) !== null;
}

export function digestOf(bytes: Uint8Array, algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(ALGORITHMS[algorithm]!.node).update(bytes).digest('hex')}`;
}

export class DigestMismatchError extends Error {
  constructor(
    readonly expected: { digest: string; size: number },
    readonly actual: { digest?: string; size: number },
  ) {
    super(
      actual.size !== expected.size
        ? `size mismatch: expected ${expected.size} bytes for ${expected.digest}, got ${actual.size}${actual.size > expected.size ? ' or more' : ''}`
        : `digest mismatch: expected ${expected.digest}, got ${actual.digest}`,
    );
  }
}

/**
 * Passes bytes through while hashing and counting them. Fails the stream as
 * soon as more bytes than expected arrive, and at the end when the size or
 * digest differs, so a bad blob never completes. With `sizeOnly`, for bytes
 * whose digest is checked elsewhere (by a source that verified them before,
 * or on the complete file afterwards), only the size is checked.
 */
export class VerifyingStream extends Transform {
  private readonly hash: Hash | null;
  private seen = 0;
  constructor(
    private readonly expected: { digest: string; size: number },
    options: { sizeOnly?: boolean } = {},
  ) {
    super();
    const parsed = parseDigest(expected.digest);
    if (!parsed) throw new Error(`unsupported or malformed digest ${JSON.stringify(expected.digest)}`);
    this.hash = options.sizeOnly ? null : createHash(ALGORITHMS[parsed.algorithm]!.node);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.expected.size) {
      done(new DigestMismatchError(this.expected, { size: this.seen }));
      return;
    }
    this.hash?.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.seen !== this.expected.size) {
      done(new DigestMismatchError(this.expected, { size: this.seen }));
      return;
    }
    if (this.hash) {
      const algorithm = this.expected.digest.slice(0, this.expected.digest.indexOf(':'));
      const actual = `${algorithm}:${this.hash.digest('hex')}`;
      if (actual !== this.expected.digest) {
        done(new DigestMismatchError(this.expected, { digest: actual, size: this.seen }));
        return;
      }
    }
    done();
  }
}

/** Hex part of a digest, for blob file names (blobs/<alg>/<hex>). */
export function blobPath(digest: string): string {
  const p = parseDigest(digest);
  if (!p) throw new Error(`malformed digest ${JSON.stringify(digest)}`);
  return `blobs/${p.algorithm}/${p.hex}`;
}
