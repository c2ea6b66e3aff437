// Bytes of a disk into a file, decompressed on the way as their magic bytes
// say. xz, zstd and bzip2 run as the system tools through execa, writing
// straight into the file (and, xz and zstd, leaving holes for runs of
// zeros, as they do on their own): measured on a 256 MiB disk, piping their
// output back through Node and into the file cost 3-5x their own time.
// gzip stays in node:zlib, which beat `gzip -d` (1.2-1.7 s against 2.2 s).
// What Node writes itself goes through SparseFileWriter, so that every path
// leaves the same sparse file.

import { once } from 'node:events';
import type { FileHandle } from 'node:fs/promises';
import { PassThrough, Writable, type Duplex } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { UsageError } from '../errors.js';
import type { DigestCheck } from '../oci/digest.js';
import { detectCompression, MAGIC_BYTES, type Compression } from './compression.js';

/** The compressed data is not what its magic bytes promised (a truncated or corrupt file). */
export class DecompressError extends Error {
  constructor(
    readonly compression: Compression,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`its ${compression} data cannot be decompressed: ${detail}`, options);
  }
}

type Tool = Exclude<Compression, 'none' | 'gzip'>;

/** Decompress to standard output, quietly; zstd leaves holes only when told (xz does by itself). */
const DECOMPRESS: Readonly<Record<Tool, readonly string[]>> = {
  xz: ['-d', '-c', '-q'],
  zstd: ['-d', '-c', '-q', '--sparse'],
  bzip2: ['-d', '-c', '-q'],
};

const BLOCK = 4096;
/** Bytes that may wait for the decoder before the download waits (a few network chunks). */
const QUEUED = 1024 * 1024;
const ZERO = Buffer.alloc(BLOCK);

/**
 * Writes a stream at increasing offsets of a file, skipping whole zero blocks
 * (which the file system then leaves as holes), and sets the length at the end.
 */
export class SparseFileWriter extends Writable {
  private position = 0;
  constructor(private readonly file: FileHandle) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, done: (err?: Error | null) => void): void {
    const data = chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk));
    this.writeRuns(data).then(() => done(), done);
  }

  private async writeRuns(data: Buffer): Promise<void> {
    const base = this.position;
    this.position += data.length;
    let start = 0;
    for (let off = 0; off < data.length; ) {
      const end = Math.min(data.length, off + BLOCK - ((base + off) % BLOCK));
      if (end - off === BLOCK && data.subarray(off, end).equals(ZERO)) {
        if (start < off) await this.file.write(data, start, off - start, base + start);
        start = end;
      }
      off = end;
    }
    if (start < data.length) await this.file.write(data, start, data.length - start, base + start);
  }

  override _final(done: (err?: Error | null) => void): void {
    this.file.truncate(this.position).then(() => done(), done);
  }
}

/** Where decompressed bytes go: `input` takes the stored bytes; `done` settles when all is in the file. */
interface Decoder {
  readonly input: Writable;
  readonly done: Promise<void>;
  abort(): void;
}

async function toolDecoder(tool: Tool, file: FileHandle, signal: AbortSignal): Promise<Decoder> {
  const { execa } = await import('execa');
  // The file's descriptor is handed to the tool as its stdout (execa passes a number through to spawn;
  // its types admit only 3-9): no decompressed byte passes through this process.
  const stdout = file.fd as 3;
  const args = [...(tool === 'xz' ? await xzThreads(signal) : []), ...DECOMPRESS[tool]];
  const child = execa(tool, args, { stdin: 'pipe', stdout, stderr: 'pipe', buffer: { stdout: false, stderr: true }, cancelSignal: signal, reject: true });
  const done = (async () => {
    const [input, exit] = await Promise.allSettled([finished(child.stdin!), child]);
    // The tool's own complaint says more than the EPIPE its early exit leaves on stdin.
    if (exit.status === 'rejected') throw toolFailure(tool, exit.reason, signal);
    if (input.status === 'rejected') throw input.reason;
  })();
  return { input: child.stdin!, done, abort: () => void child.kill('SIGKILL') };
}

/**
 * Threads for xz: from 5.4 on, xz decompresses the blocks of a file made by
 * multi-threaded xz (-T0, as disk images are) in parallel, which on two
 * cores took 1 GiB in 2.0 s instead of 2.9 s. The cap keeps its buffers near
 * 100 MB whatever the core count (past it xz goes back to one thread rather
 * than fail). Older xz ignore -T when decompressing but reject the cap, so
 * the version decides; asked once per process.
 */
let xzThreadArgs: Promise<readonly string[]> | null = null;
export function xzThreads(signal: AbortSignal): Promise<readonly string[]> {
  xzThreadArgs ??= (async () => {
    const { execa } = await import('execa');
    const { stdout } = await execa('xz', ['--version'], { cancelSignal: signal });
    const [major = 0, minor = 0] = (/(\d+)\.(\d+)/.exec(stdout) ?? []).slice(1).map(Number);
    return major > 5 || (major === 5 && minor >= 4) ? ['-T0', `--memlimit-mt-decompress=${XZ_THREAD_MEMORY}`] : [];
  })().catch(() => {
    // A missing xz is reported by the decompression itself; an interrupted probe is asked again next time.
    xzThreadArgs = null;
    return [];
  });
  return xzThreadArgs;
}

const XZ_THREAD_MEMORY = '100MiB';

function toolFailure(tool: Tool, err: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason;
  const e = err as { code?: string; stderr?: string; shortMessage?: string };
  if (e.code === 'ENOENT') return new UsageError(`decompressing ${tool} needs the ${tool} command, which is not installed; install it, or pull with --no-decompress`);
  return new DecompressError(tool, (e.stderr || e.shortMessage || String(err)).trim().split('\n')[0]!, { cause: err });
}

function nodeDecoder(compression: 'gzip' | 'none', file: FileHandle): Decoder {
  const writer = new SparseFileWriter(file);
  if (compression === 'none') return { input: writer, done: finished(writer), abort: () => writer.destroy() };
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  const done = pipeline(gunzip, writer).catch((err: unknown) => {
    throw (err as { code?: string }).code?.startsWith('Z_') ? new DecompressError('gzip', (err as Error).message, { cause: err }) : err;
  });
  return { input: gunzip, done, abort: () => gunzip.destroy() };
}

async function decoderInto(compression: Compression, file: FileHandle, signal: AbortSignal): Promise<Decoder> {
  return compression === 'gzip' || compression === 'none' ? nodeDecoder(compression, file) : toolDecoder(compression, file, signal);
}

/**
 * A disk file being written: takes the stored bytes, looks at the first
 * ones to learn their compression, and from then on feeds them to the
 * decoder (or, without `decompress`, into the file as they are). It opens
 * the file itself (truncating it) and closes it when finished or destroyed.
 */
export class DiskSink extends Writable {
  /** Known once the first bytes arrived. */
  compression: Compression | null = null;
  private head: Buffer[] = [];
  private headSize = 0;
  private decoder: Decoder | null = null;
  private file: FileHandle | null = null;
  /** Opening the file and starting the decoder; a destroy waits for it, so that nothing starts after the end. */
  private starting: Promise<void> | null = null;

  /**
   * `check`, when given, sees every byte before it is written and fails the
   * sink on a size or digest mismatch: the stored bytes are the blob itself
   * (a titled layer), so no stage of its own is needed for it.
   */
  constructor(
    private readonly openFile: () => Promise<FileHandle>,
    private readonly decompress: boolean,
    private readonly signal: AbortSignal,
    private readonly check?: DigestCheck,
  ) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    const bad = this.check?.update(chunk);
    if (bad) return done(bad);
    // Once the decoder runs, a chunk goes straight on, with no promise per chunk (~4,000 of them on a
    // 268 MB blob); only a full queue makes the write wait.
    const waiting = this.decoder ? this.forward(chunk) : this.take(chunk);
    if (waiting) waiting.then(() => done(), done);
    else done();
  }

  private async take(chunk: Buffer): Promise<void> {
    if (!this.decoder) {
      this.head.push(chunk);
      this.headSize += chunk.length;
      if (this.headSize < MAGIC_BYTES) return;
      chunk = await this.start();
    }
    await this.forward(chunk);
  }

  /** Decides the compression from the bytes so far and starts the decoder; returns those bytes. */
  private async start(): Promise<Buffer> {
    const head = Buffer.concat(this.head);
    this.head = [];
    this.compression = this.decompress ? detectCompression(head) : 'none';
    this.starting = (async () => {
      this.file = await this.openFile();
      this.decoder = await decoderInto(this.compression!, this.file, this.signal);
      // A failure while nobody writes must not go unhandled; the next write or the end reports it.
      this.decoder.done.catch(() => undefined);
    })();
    await this.starting;
    return head;
  }

  /** Hands bytes to the decoder; a promise only when its queue is full and the write must wait. */
  private forward(chunk: Buffer): Promise<unknown> | undefined {
    if (!chunk.length) return undefined;
    const { input, done } = this.decoder!;
    input.write(chunk);
    // A tool's stdin says "full" (16 KiB) at every network chunk; waiting for each drain left the tool idle
    // while the next chunk was read. Up to QUEUED bytes wait in its queue instead, so both keep working.
    return input.writableLength > QUEUED ? Promise.race([once(input, 'drain'), done]) : undefined;
  }

  override _final(done: (err?: Error | null) => void): void {
    (async () => {
      const bad = this.check?.finish();
      if (bad) throw bad;
      if (!this.decoder) {
        const head = await this.start();
        await this.forward(head);
      }
      this.decoder!.input.end();
      await this.decoder!.done;
      await this.closeFile();
    })().then(() => done(), done);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    const settled = (this.starting ?? Promise.resolve()).catch(() => undefined);
    settled
      .then(async () => {
        this.decoder?.abort();
        await this.decoder?.done.catch(() => undefined);
        await this.closeFile();
      })
      .then(() => done(err), () => done(err));
  }

  private async closeFile(): Promise<void> {
    const f = this.file;
    this.file = null;
    await f?.close();
  }
}

/** A tar layer's own compression, as its media type says, undone as a stream (for reading the tar in Node). */
export async function layerDecoder(mediaType: string): Promise<Duplex> {
  if (/gzip$/.test(mediaType)) return createGunzip({ chunkSize: 256 * 1024 });
  if (/\+zstd$/.test(mediaType)) {
    const { execa } = await import('execa');
    return execa('zstd', ['-d', '-c', '-q'], { buffer: false }).duplex();
  }
  return new PassThrough();
}
