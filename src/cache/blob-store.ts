// A content-addressed store of verified blobs: <dir>/blobs/<alg>/<hex>.
// Used as the persistent cache (--cache-dir) and, with --no-cache, as a
// build-private scratch store that is removed afterwards. Entries are written
// to a temporary file (the size checked as bytes arrive), hashed once
// complete, and renamed into place, so concurrent builds sharing a cache never
// see a partial or wrong blob. An entry an earlier build hashed is trusted
// while its file is the one it hashed (device, inode, size, mtime and ctime
// as recorded then, as git's index trusts a worktree file); anything else is
// hashed again, and a corrupt entry is discarded. `verifyAll` hashes every
// entry regardless (--verify-cache). Hashing runs on worker threads, which
// measure a gzip layer's unpacked size in the same pass.
//
// The metadata calls (stat, the record's read and write, mkdir, rename) are
// synchronous: each takes microseconds, and a build makes several per blob.
// Through libuv's thread pool every one was a round trip costing many times
// the call, which on a set of a hundred small images was most of the work.

import { createReadStream, createWriteStream, mkdirSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tempPathFor } from '../util/atomic-file.js';
import { BatchedFileWriter } from '../util/batched-file.js';
import { blobPath, DigestMismatchError, requireDigest, VerifyingStream } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { FileWorkers } from './file-workers.js';

/**
 * Stored blobs that are streamed (configs, and layers for a destination that
 * cannot take files) are read 1 MiB at a time: 16 times fewer reads than the
 * 64 KiB default.
 */
const READ_CHUNK = 1 << 20;

export interface StoredBlob {
  readonly file: string;
  /** Size of the layer once decompressed, when it is gzip; null otherwise or unknown. */
  readonly uncompressedSize: number | null;
  /** true when the blob came from the store without downloading. */
  readonly hit: boolean;
}

/** What a verification saw of the file: it still holds the verified bytes while all of this is unchanged. */
interface FileIdentity {
  readonly dev: string;
  readonly ino: string;
  readonly size: string;
  readonly mtimeNs: string;
  readonly ctimeNs: string;
  /** When it was recorded (ms since the epoch). */
  readonly at: number;
}

interface Meta {
  /** undefined: not measured (or a damaged record). */
  readonly uncompressedSize: number | null | undefined;
  readonly verified: FileIdentity | null;
}

/**
 * File systems stamp times from a coarse clock (a few ms). A file whose data
 * changed within this long before it was recorded could change again with
 * the same mtime: it is not trusted, and hashed again next time (git's
 * "racily clean" entries). Any later change moves the mtime or, for a
 * `touch` back, the ctime.
 */
export const RACY_MS = 50;

function identityOf(info: BigIntStats, at: number): FileIdentity {
  return { dev: String(info.dev), ino: String(info.ino), size: String(info.size), mtimeNs: String(info.mtimeNs), ctimeNs: String(info.ctimeNs), at };
}

function unchanged(recorded: FileIdentity | null, info: BigIntStats, racyMs: number): boolean {
  if (!recorded) return false;
  const now = identityOf(info, recorded.at);
  const same = now.dev === recorded.dev && now.ino === recorded.ino && now.size === recorded.size && now.mtimeNs === recorded.mtimeNs && now.ctimeNs === recorded.ctimeNs;
  return same && recorded.at - Number(info.mtimeNs / 1_000_000n) >= racyMs;
}

function parseIdentity(v: unknown): FileIdentity | null {
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Record<string, unknown>;
  const strings = ['dev', 'ino', 'size', 'mtimeNs', 'ctimeNs'].every((k) => typeof r[k] === 'string' && /^\d+$/.test(r[k] as string));
  return strings && typeof r.at === 'number' ? (r as unknown as FileIdentity) : null;
}

// OCI's ...layer.v1.tar+gzip and Docker's ...rootfs.diff.tar.gzip; OCI's ...layer.v1.tar.
const isGzipLayer = (desc: Descriptor) => /gzip/.test(desc.mediaType);
const isPlainLayer = (desc: Descriptor) => /\.tar$/.test(desc.mediaType);

/**
 * Blobs up to this size are written in batches (BatchedFileWriter): one
 * thread-pool trip per MiB instead of one per network chunk took a LAN
 * build of 300 MB in 6-60 MB layers from 1.29 s to 1.04 s. Larger blobs are
 * written chunk by chunk: with 256 MiB layers, batching tripled the kernel
 * time of the build on this VM (2.2 s to 5.6-7.5 s, in the file threads'
 * copies into the archive), a cause not found yet.
 */
const BATCHED_MAX = 64 * 1024 * 1024;

function fileWriterFor(tmp: string, size: number): Writable {
  return size <= BATCHED_MAX ? new BatchedFileWriter(tmp) : createWriteStream(tmp, { flags: 'wx' });
}

/** Blobs up to this size are hashed as they arrive rather than on a thread afterwards. */
const INLINE_HASH = 256 * 1024;

export class BlobStore {
  /**
   * @param workers the threads that hash entries (archives borrow them to
   *   copy entries in); close() stops them.
   */
  constructor(
    readonly dir: string,
    readonly workers = new FileWorkers(),
    /** Hash every entry a build uses, trusting no earlier verification (--verify-cache). */
    private readonly verifyAll = false,
    private readonly racyMs = RACY_MS,
  ) {}

  path(digest: string): string {
    return join(this.dir, blobPath(digest));
  }

  private metaPath(digest: string): string {
    return `${this.path(digest)}.meta.json`;
  }

  /** Directories known to exist: each is made once per build. */
  private readonly made = new Set<string>();

  private readMeta(desc: Descriptor): Meta {
    try {
      const m: unknown = JSON.parse(readFileSync(this.metaPath(desc.digest), 'utf8'));
      // Anything but {"uncompressedSize": bytes or null, "verified": …} is a damaged record: measured again.
      if (typeof m !== 'object' || m === null || Array.isArray(m)) return { uncompressedSize: undefined, verified: null };
      const size = (m as { uncompressedSize?: unknown }).uncompressedSize;
      // No field: never measured (a lookup that did not ask for the size recorded only the file).
      const uncompressedSize = size === null ? null : typeof size === 'number' && Number.isSafeInteger(size) && size >= 0 ? size : undefined;
      return { uncompressedSize, verified: parseIdentity((m as { verified?: unknown }).verified) };
    } catch {
      return { uncompressedSize: undefined, verified: null };
    }
  }

  private writeMeta(desc: Descriptor, size: number | null | undefined, verified: FileIdentity | null): void {
    try {
      writeFileSync(this.metaPath(desc.digest), JSON.stringify({ uncompressedSize: size, verified }));
    } catch {
      // Only a cost: without a record the entry is hashed again next time.
    }
  }

  private makeDirOf(file: string): void {
    const dir = dirname(file);
    if (this.made.has(dir)) return;
    mkdirSync(dir, { recursive: true });
    this.made.add(dir);
  }

  /**
   * Hashes `file` on a worker, measuring a gzip layer's unpacked size on the
   * way when asked; throws DigestMismatchError when it is not the blob.
   */
  private async verify(file: string, desc: Descriptor, measure: boolean): Promise<number | null> {
    const parsed = requireDigest(desc.digest);
    const gunzip = measure && isGzipLayer(desc);
    const r = await this.workers.hash(file, parsed.algorithm, desc.size, { gunzip });
    if (r.size !== desc.size) throw new DigestMismatchError(desc, { size: r.size });
    if (r.hex !== parsed.hex) throw new DigestMismatchError(desc, { digest: `${parsed.algorithm}:${r.hex}`, size: r.size });
    return gunzip ? (r.unpacked ?? null) : isPlainLayer(desc) ? desc.size : null;
  }

  /**
   * A verified entry, or null when absent or corrupt (then it is removed).
   * Trusted without hashing when an earlier verification recorded this very
   * file (and measured it, when a size is asked for).
   */
  async lookup(desc: Descriptor, withSize: boolean): Promise<StoredBlob | null> {
    const file = this.path(desc.digest);
    let measured: number | null;
    let before: BigIntStats;
    let meta: Meta;
    let known: number | null | undefined;
    try {
      const info = statSync(file, { bigint: true, throwIfNoEntry: false });
      if (info === undefined) return null;
      before = info;
      meta = this.readMeta(desc);
      // An earlier build's measurement spares this one the decompression.
      known = withSize ? meta.uncompressedSize : null;
      if (before.size !== BigInt(desc.size)) throw new DigestMismatchError(desc, { size: Number(before.size) });
      if (!this.verifyAll && known !== undefined && unchanged(meta.verified, before, this.racyMs)) return { file, uncompressedSize: withSize ? known : null, hit: true };
      measured = await this.verify(file, desc, withSize && known === undefined);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return null;
      // Wrong bytes, or a file that cannot be read: discarded, fetched again.
      // Anything else (the hashing threads stopped by an interrupted build)
      // says nothing about the entry, which stays.
      if (err instanceof DigestMismatchError || code !== undefined) {
        // A store that cannot even remove it (a file where its directory
        // should be) fails when the blob is stored, with a message naming it.
        await rm(file, { force: true }).catch(() => undefined);
        return null;
      }
      throw err;
    }
    const size = known !== undefined ? known : measured;
    this.recordVerified(desc, file, before, withSize ? size : meta.uncompressedSize);
    return { file, uncompressedSize: withSize ? size : null, hit: true };
  }

  /** Records what the verification saw, when the file did not change while it was hashed. */
  private recordVerified(desc: Descriptor, file: string, before: BigIntStats, size: number | null | undefined): void {
    const after = this.statOrNull(file);
    const stable = after !== null && identityOf(after, 0).ctimeNs === identityOf(before, 0).ctimeNs && after.ino === before.ino;
    if (size === undefined && !stable) return;
    this.writeMeta(desc, size, stable ? identityOf(after!, Date.now()) : null);
  }

  private statOrNull(file: string): BigIntStats | null {
    try {
      return statSync(file, { bigint: true, throwIfNoEntry: false }) ?? null;
    } catch {
      return null;
    }
  }

  /**
   * Stores the stream's bytes under the descriptor's digest after verifying
   * them. Layers that are gzip are also measured decompressed when asked.
   */
  async put(desc: Descriptor, stream: Readable, opts: { measure: boolean; onBytes?: (n: number) => void; signal?: AbortSignal }): Promise<StoredBlob> {
    const file = this.path(desc.digest);
    this.makeDirOf(file);
    const tmp = tempPathFor(file);
    let size: number | null;
    // A small blob with nothing to measure (a config, a manifest, a plain
    // layer) is hashed on its way in: a thread's round trip costs more than
    // hashing it here.
    const inline = desc.size <= INLINE_HASH && !(opts.measure && isGzipLayer(desc));
    try {
      // The size is checked on the way in (too many bytes stop the download at
      // once); the digest, and the unpacked size, once the file is complete.
      const count = new VerifyingStream(desc, { sizeOnly: !inline });
      if (opts.onBytes) count.on('data', (c: Buffer) => opts.onBytes!(c.length));
      await pipeline(stream, count, fileWriterFor(tmp, desc.size), { signal: opts.signal });
      opts.signal?.throwIfAborted();
      this.backdate(tmp);
      size = inline ? (isPlainLayer(desc) ? desc.size : null) : await this.verify(tmp, desc, opts.measure);
      renameSync(tmp, file);
    } catch (err) {
      stream.destroy();
      await rm(tmp, { force: true });
      throw err;
    }
    // Hashed before the rename, which changes no data: the file is the one hashed.
    const info = this.statOrNull(file);
    const identity = info ? identityOf(info, Date.now()) : null;
    this.writeMeta(desc, opts.measure ? size : undefined, identity);
    return { file, uncompressedSize: opts.measure ? size : null, hit: false };
  }

  /**
   * Sets a new entry's mtime back past the racy window before it is hashed
   * and recorded. Its own writes are over (the temporary file is this
   * build's alone), so the record is trusted by the very next build instead
   * of being hashed once more; any later write to it stamps the current time,
   * which differs from the one set here.
   */
  private backdate(tmp: string): void {
    const past = new Date(Date.now() - this.racyMs - 1000);
    utimesSync(tmp, past, past);
  }

  /** Streams a stored blob (verified by lookup or put in this build). */
  open(desc: Descriptor): Readable {
    return createReadStream(this.path(desc.digest), { highWaterMark: READ_CHUNK });
  }

  /** Stops the hashing threads. */
  close(): Promise<void> {
    return this.workers.close();
  }

  /** Stops the hashing threads and removes the whole store. */
  async destroy(): Promise<void> {
    await this.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}
