// A disk file as a stream of compressed bytes, for a push: the system zstd or
// xz reads the file itself and compresses on every core (-T0); the stream is
// its standard output, so the upload takes the bytes as they come and no
// compressed copy exists anywhere, in memory or on disk.

import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { UsageError } from '../errors.js';
import type { Compression } from './compression.js';

/** zstd at its default level (what podman machine's images use), xz at its default level. */
const COMPRESS: Readonly<Record<'zstd' | 'xz', readonly string[]>> = {
  zstd: ['-c', '-q', '-T0'],
  xz: ['-c', '-q', '-T0'],
};

/** The file's bytes compressed with `compression` ('none': as they are). */
export async function compressedStream(file: string, compression: Compression, signal: AbortSignal): Promise<Readable> {
  if (compression === 'none') return createReadStream(file, { highWaterMark: 1024 * 1024 });
  if (compression !== 'zstd' && compression !== 'xz') throw new UsageError(`push compresses with zstd or xz, not ${compression}`);
  const { execa } = await import('execa');
  const child = execa(compression, [...COMPRESS[compression]], { inputFile: file, buffer: false, cancelSignal: signal });
  // execa's readable fails with the tool's error when it exits badly (or is missing).
  return child.readable();
}
