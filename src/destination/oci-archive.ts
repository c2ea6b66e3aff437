// ImageDestination writing an oci-archive directly with tar-stream: blobs are
// streamed into tar entries as they arrive, into a file of the image output
// that becomes visible only when complete. A blob that is already a
// local file (putBlobFile), written to an output that offers a descriptor,
// does not pass through this thread at all: tar-stream lays out its entry
// around a hole (util/positional-writer.ts), and a file worker writes the
// file's bytes at that place in the archive, which may itself be a region of
// a larger file (an entry of the overlay tar). The archive holds:
//   oci-layout, blobs/<alg>/<hex>..., index.json (one manifest, named by the
//   full reference), manifest.json (Docker's classic loader format).
// Entries are written in a fixed order with fixed owner, mode and mtime, so
// the same image gives the same bytes.

import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar, { type Header } from 'tar-stream';

import { OutputError } from '../errors.js';
import { blobPath, DigestMismatchError } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { CONTAINERD_NAME, MediaType, REF_NAME } from '../oci/media-types.js';
import type { Platform } from '../oci/platform.js';
import type { ImageOutput, OutputFile } from '../output/types.js';
import type { FetchedManifest } from '../source/types.js';
import { errnoText } from '../util/errno.js';
import { untilStopped } from '../util/abortable.js';
import { chunksOf, holeChunks, PositionalWriter } from '../util/positional-writer.js';
import type { ImageDestination } from './types.js';

type EntryHeader = Partial<Header> & Pick<Header, 'name'>;

export interface ArchiveOptions {
  /** Full reference recorded in index.json and manifest.json. */
  readonly reference: string;
  /** Entry mtime (SOURCE_DATE_EPOCH), seconds since the epoch. */
  readonly mtime: number;
  readonly platform?: Platform;
  /** Copies files into the archive on other threads (see FileWorkers.copyInto); without it putBlobFile streams the file here. */
  readonly copier?: FileCopier;
  /**
   * Stops the archive: it aborts itself at once, which also ends a write
   * waiting on an output that takes no more bytes (a stalled pipe).
   */
  readonly signal?: AbortSignal;
  /**
   * The archive is written at once but appears at its path only once this
   * settles (a rejection aborts it): a build renders its units first, so a
   * template that fails leaves no archive behind.
   */
  readonly commitAfter?: Promise<unknown>;
}

export interface FileCopier {
  copyInto(file: string, fd: number, position: number, length: number, signal?: AbortSignal): Promise<number>;
}

/** Bodies laid out as holes, waiting for their place in the file. */
interface PlacedFile {
  readonly file: string;
  readonly desc: Descriptor;
  /** Hole bytes not seen yet. */
  left: number;
}

/**
 * Bodies of a layout that is only measured: plain zeros the writer counts
 * like any bytes, and never reads (a buffer of its own, since the writer
 * knows positional-writer's HOLE by its memory and would leave a hole). Large, so that measuring a 100 MB layer is
 * two chunks through tar-stream, not a hundred: the five archives of the LAN
 * benchmark set (480 MB) measure in 14–15 ms instead of 35–37 ms (52–67 ms of
 * CPU). Untouched, so the kernel never gives it pages.
 */
const MEASURED = Buffer.alloc(64 << 20);

/** An output file that only counts: what the archive's size would be. */
class CountingFile implements OutputFile {
  readonly fd = null;
  size = 0;
  async write(chunk: Buffer, position: number): Promise<void> {
    this.size = Math.max(this.size, position + chunk.length);
  }
  async commit(): Promise<void> {}
  async abort(): Promise<void> {}
}

/** What an archive will hold, for outputs that need its size before the first byte. */
export interface ArchiveContents {
  /** The manifest as the copy step commits it. */
  readonly manifest: FetchedManifest;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

export class OciArchiveDestination implements ImageDestination {
  readonly description: string;
  private readonly pack = tar.pack();
  private readonly written = new Set<string>();
  private readonly output: Promise<void>;
  private readonly writer: PositionalWriter;
  /** Files whose bodies are laid out as holes, in order, until their last hole byte is seen. */
  private readonly waiting: PlacedFile[] = [];
  private readonly copies: Promise<void>[] = [];
  /** Stops copies not yet started when the archive is abandoned. */
  private readonly copying = new AbortController();
  private done = false;
  private aborted: Promise<void> | null = null;
  /** The output's own failure (ENOSPC), which every later error here follows from. */
  private failure: unknown = undefined;
  private readonly onStop = () => void this.abort().catch(() => undefined);

  private constructor(
    /** In-image path of the archive. */
    readonly target: string,
    private readonly file: OutputFile,
    private readonly options: ArchiveOptions,
  ) {
    this.description = `oci-archive ${target}`;
    this.writer = new PositionalWriter(
      (chunk, position) =>
        file.write(chunk, position).catch((err: unknown) => {
          this.failure ??= this.fail(err, 'write');
          throw err;
        }),
      (length, position) => this.placeHole(length, position),
    );
    this.output = pipeline(this.pack, this.writer).catch((err: unknown) => {
      throw this.fail(err, 'write');
    });
    // Keep an early failure (e.g. ENOSPC) from being reported as unhandled before commit awaits it.
    this.output.catch(() => undefined);
    options.signal?.addEventListener('abort', this.onStop, { once: true });
  }

  /** The archive's size in bytes, once committed. */
  get size(): number {
    return this.writer.position;
  }

  /** The archive's file has its place in the output already (it offers a descriptor): what the output takes next cannot get in its way. */
  get placed(): boolean {
    return this.file.fd !== null;
  }

  /**
   * Starts the archive at `path` of the output and writes its fixed head.
   * An output that needs sizes up front gets the exact size, which `contents` gives.
   */
  static async open(output: ImageOutput, path: string, options: ArchiveOptions, contents?: ArchiveContents): Promise<OciArchiveDestination> {
    let size: number | undefined;
    if (output.streaming) {
      if (!contents) throw new Error(`${output.description} needs the size of ${path} up front, and no contents were given`);
      size = await OciArchiveDestination.sizeOf(contents, options);
    }
    // Creating a file of a stream may wait on its reader (earlier small entries go first).
    const creating = output.createFile(path, { size });
    const file = options.signal ? await untilStopped(creating, options.signal, (late) => void late.abort().catch(() => undefined)) : await creating;
    const dest = new OciArchiveDestination(path, file, options);
    await dest.head();
    if (options.signal?.aborted) {
      await dest.abort();
      options.signal.throwIfAborted();
    }
    return dest;
  }

  /**
   * The exact size of the archive `contents` make: the same layout, with
   * zeros for bodies, written to a file that only counts.
   */
  static async sizeOf(contents: ArchiveContents, options: ArchiveOptions): Promise<number> {
    const counter = new CountingFile();
    const dry = new OciArchiveDestination('(measured)', counter, { ...options, copier: undefined, signal: undefined });
    await dry.head();
    const signal = new AbortController().signal;
    for (const d of [contents.config, ...contents.layers]) await dry.putBlob(d, Readable.from(chunksOf(MEASURED, d.size)), signal);
    await dry.commit(contents.manifest, contents);
    return counter.size;
  }

  private async head(): Promise<void> {
    try {
      await this.entry(this.header('oci-layout', 0), Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
      await this.entry(this.header('blobs/', 0, 'directory'));
      await this.entry(this.header('blobs/sha256/', 0, 'directory'));
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  private header(name: string, size: number, type: 'file' | 'directory' = 'file'): EntryHeader {
    return {
      name,
      size: type === 'file' ? size : 0,
      type,
      mode: type === 'file' ? 0o644 : 0o755,
      uid: 0,
      gid: 0,
      uname: '',
      gname: '',
      mtime: new Date(this.options.mtime * 1000),
    };
  }

  private fail(err: unknown, what: string): unknown {
    // Once the build stops, what fails here fails because of the stop: the
    // stop's reason is the failure, not this output.
    if (this.options.signal?.aborted) return this.options.signal.reason;
    if (err instanceof OutputError) return err;
    return new OutputError(`cannot ${what} ${this.target}: ${errnoText(err)}`, this.target, { cause: err });
  }

  private entry(header: EntryHeader, content?: Buffer): Promise<void> {
    if (content) header.size = content.length;
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (header.type === 'directory') this.pack.entry(header, done);
      else this.pack.entry(header, content ?? Buffer.alloc(0), done);
    }).catch((err: unknown) => {
      throw this.cause(err);
    });
  }

  /**
   * What an error here follows from: the output's failure, else the build's
   * stop (the archive was dropped), else the error itself.
   */
  private cause(err: unknown): unknown {
    if (this.failure !== undefined) return this.failure;
    return this.options.signal?.aborted ? this.options.signal.reason : err;
  }

  async putBlob(desc: Descriptor, stream: Readable, _signal?: AbortSignal): Promise<void> {
    if (this.written.has(desc.digest)) {
      stream.destroy();
      return;
    }
    try {
      await pipeline(stream, this.pack.entry(this.header(blobPath(desc.digest), desc.size)));
    } catch (err) {
      // The pack cannot continue after a broken entry; the whole archive is abandoned.
      stream.destroy();
      this.pack.destroy(err as Error);
      throw this.cause(err);
    }
    this.written.add(desc.digest);
  }

  /**
   * Adds a blob that is a complete local file whose content was verified:
   * with a copier, its bytes are copied on another thread while the archive
   * goes on; commit waits for them and checks the sizes.
   */
  async putBlobFile(desc: Descriptor, file: string): Promise<void> {
    if (!this.options.copier || this.file.fd === null || desc.size === 0) return this.putBlob(desc, createReadStream(file, { highWaterMark: 1 << 20 }));
    if (this.written.has(desc.digest)) return;
    this.waiting.push({ file, desc, left: desc.size });
    await this.putBlob(desc, Readable.from(holeChunks(desc.size)));
  }

  /** A hole in the layout is the body of the first waiting file: at its first byte, that file's copy starts. */
  private placeHole(length: number, position: number): void {
    const placed = this.waiting[0];
    if (!placed || length > placed.left) throw new Error('archive layout out of step with the files placed in it');
    if (placed.left === placed.desc.size) {
      const copy = this.copyFile(placed, position);
      // Awaited by commit or abort; keep an early failure from counting as unhandled.
      copy.catch(() => undefined);
      this.copies.push(copy);
    }
    placed.left -= length;
    if (placed.left === 0) this.waiting.shift();
  }

  private async copyFile(placed: PlacedFile, position: number): Promise<void> {
    const size = await this.options.copier!.copyInto(placed.file, this.file.fd!, (this.file.fdOffset ?? 0) + position, placed.desc.size, this.copying.signal);
    // The file changed since it was verified: the archive cannot be trusted.
    if (size !== placed.desc.size) throw new DigestMismatchError(placed.desc, { size });
  }

  async commit(manifest: FetchedManifest, details: { config: Descriptor; layers: readonly Descriptor[] }): Promise<void> {
    const type = manifest.mediaType || MediaType.OciManifest;
    if (!this.written.has(manifest.digest)) {
      await this.entry(this.header(blobPath(manifest.digest), manifest.bytes.length), manifest.bytes);
      this.written.add(manifest.digest);
    }
    const ref = this.options.reference;
    const top: Record<string, unknown> = {
      mediaType: type,
      digest: manifest.digest,
      size: manifest.bytes.length,
      annotations: { [CONTAINERD_NAME]: ref, [REF_NAME]: ref },
    };
    if (this.options.platform) top.platform = { ...this.options.platform };
    const index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [top] };
    await this.entry(this.header('index.json', 0), Buffer.from(JSON.stringify(index)));
    // Docker 20.10's loader reads only manifest.json; without it `docker load`
    // fails on an OCI archive looking for blobs/json.
    const dockerManifest = [{ Config: blobPath(details.config.digest), RepoTags: [ref], Layers: details.layers.map((l) => blobPath(l.digest)) }];
    await this.entry(this.header('manifest.json', 0), Buffer.from(JSON.stringify(dockerManifest)));
    this.pack.finalize();
    await this.output;
    await this.settleCopies(true);
    const { commitAfter, signal } = this.options;
    if (commitAfter) await (signal ? untilStopped(commitAfter, signal) : commitAfter);
    // No fsync: a build root is not meant to survive a power cut (skopeo
    // writes its oci-archive in place and never syncs it), and waiting for
    // the disk took a third of a warm build's time. The output still keeps a
    // failed or interrupted build from leaving a partial archive in place.
    await this.file.commit();
    this.done = true;
    this.options.signal?.removeEventListener('abort', this.onStop);
  }

  /** Waits for every copy into the file; throws the first copy failure when asked. */
  private async settleCopies(throwFailure: boolean): Promise<void> {
    const copies = await Promise.allSettled(this.copies);
    if (throwFailure && this.waiting.length > 0) throw new Error('archive finished with files not yet placed in it');
    const failed = copies.find((c): c is PromiseRejectedResult => c.status === 'rejected');
    if (throwFailure && failed) {
      if (failed.reason instanceof DigestMismatchError) throw failed.reason;
      throw this.fail(failed.reason, 'write');
    }
  }

  /** Drops the archive; a second call (the stop signal, then the copy's failure) waits for the first. */
  abort(): Promise<void> {
    if (this.done) return Promise.resolve();
    this.options.signal?.removeEventListener('abort', this.onStop);
    this.aborted ??= this.drop();
    return this.aborted;
  }

  private async drop(): Promise<void> {
    this.copying.abort();
    // A file without a descriptor (a stream) may hold a write that waits for
    // a reader that never comes; aborting it first fails that write, and so
    // lets the layout below end. A file with one is aborted last: no copy may
    // still write to its descriptor once it is closed.
    if (this.file.fd === null) await this.file.abort();
    this.pack.destroy();
    await this.output.catch(() => undefined);
    await this.settleCopies(false);
    await this.file.abort();
  }
}
