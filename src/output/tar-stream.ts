// An image output that is a tar (the overlay): what a build would add to an
// image root, as one reproducible tar. Entries are sorted by path, with
// uid/gid 0, fixed modes and one mtime, and every parent directory has its
// own entry, so two builds of the same images give the same bytes.
//
// A tar is laid out front to back, so small entries (directories, units,
// links) wait in memory until a large file comes whose path sorts after
// them, or the end. Large files (archives) have their size known up front.
// Into a stream (standard output) their bytes pass straight through, in
// order. Into a file, the tar is written in place: the large file's body is
// laid out as a hole (util/positional-writer.ts) and the file offers the
// overlay's descriptor, so its writer puts its bytes there itself, and file
// threads copy cached blobs straight into it (a stream would take every
// archive byte through this thread twice). Either way the bytes are the same.
// The pipeline hands a streaming output its files in path order (see
// WriteOrder); an entry that would break the order is a bug, and fails loudly.

import type { FileHandle } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar, { type Header } from 'tar-stream';
import { OutputError } from '../errors.js';
import { errnoText } from '../util/errno.js';
import { holeChunks, PositionalWriter } from '../util/positional-writer.js';
import { directoryMode, type ImageOutput, type OutputFile } from './types.js';

type Entry = { kind: 'dir' } | { kind: 'file'; content: Buffer; mode: number } | { kind: 'link'; target: string };

/** In-image path -> tar name: no leading "/", directories end in "/". */
function tarName(path: string, dir = false): string {
  const name = path.replace(/^\/+/, '').replace(/\/+$/, '');
  if (name === '' || name.split('/').some((p) => p === '' || p === '.' || p === '..')) throw new Error(`${JSON.stringify(path)} is not a plain in-image path`);
  return dir ? `${name}/` : name;
}

/** Every parent directory of a tar name, outermost first ("a/b/c" -> "a/", "a/b/"). */
function parents(name: string): string[] {
  const parts = name.replace(/\/$/, '').split('/');
  return parts.slice(0, -1).map((_, i) => `${parts.slice(0, i + 1).join('/')}/`);
}

export class TarStreamOutput implements ImageOutput {
  readonly streaming = true;
  private readonly pack = tar.pack();
  private readonly finished: Promise<void>;
  /** Small entries not written yet, by tar name. */
  private readonly waiting = new Map<string, Entry>();
  /** Names written or waiting: each once. */
  private readonly seen = new Set<string>();
  /** The last name written: every later one must sort after it. */
  private last = '';
  private busy = false;
  /** Into a file: the file, and who wait for the positions of the next holes (large files' bodies), in order. */
  private readonly file: { handle: FileHandle; bodies: ((position: number) => void)[] } | null;

  /** A tar written in order into `sink`; or, given a file, written in place into it (see TarStreamOutput.inFile). */
  constructor(
    readonly description: string,
    sink: Writable | FileHandle,
    /** mtime of every entry, seconds since the epoch (SOURCE_DATE_EPOCH). */
    private readonly mtime: number,
  ) {
    let to: Writable;
    if (isFileHandle(sink)) {
      const file = { handle: sink, bodies: [] as ((position: number) => void)[] };
      this.file = file;
      // A body comes in many hole chunks; one not right after the last starts the next body.
      let holeEnd = -1;
      to = new PositionalWriter(
        (chunk, position) => writeAt(sink, chunk, position),
        (length, position) => {
          if (position !== holeEnd) file.bodies.shift()?.(position);
          holeEnd = position + length;
        },
      );
    } else {
      this.file = null;
      to = sink;
    }
    this.finished = pipeline(this.pack, to).catch((err: unknown) => {
      throw new OutputError(`cannot write ${description}: ${errnoText(err)}`, description, { cause: err });
    });
    this.finished.catch(() => undefined);
  }

  /**
   * The tar written in place into `handle`, a new empty file: the same bytes
   * as the stream, but a large file's body is written by its writer at its
   * place (through `fd`), never through this output. The caller closes the
   * handle after close(), or after destroy().
   */
  static inFile(description: string, handle: FileHandle, mtime: number): TarStreamOutput {
    return new TarStreamOutput(description, handle, mtime);
  }

  private header(name: string, entry: Entry, size = 0): Partial<Header> & Pick<Header, 'name'> {
    const common = { name, uid: 0, gid: 0, uname: '', gname: '', mtime: new Date(this.mtime * 1000) };
    if (entry.kind === 'dir') return { ...common, type: 'directory', mode: directoryMode(`/${name}`) };
    if (entry.kind === 'link') return { ...common, type: 'symlink', linkname: entry.target, mode: 0o777 };
    return { ...common, type: 'file', mode: entry.mode, size };
  }

  /** Queues the parent directories of `name` not there yet. */
  private addParents(name: string): void {
    for (const dir of parents(name)) if (!this.seen.has(dir)) this.queue(dir, { kind: 'dir' });
  }

  /** Queues an entry and its parents; a name already there is kept as it is (directories) or refused (files). */
  private add(name: string, entry: Entry): void {
    this.addParents(name);
    if (this.seen.has(name)) {
      if (entry.kind === 'dir') return;
      throw new Error(`${this.description}: ${name} is written twice`);
    }
    this.queue(name, entry);
  }

  private queue(name: string, entry: Entry): void {
    if (name <= this.last) throw new Error(`${this.description}: ${name} comes after ${this.last}; a tar output takes entries in path order`);
    this.seen.add(name);
    this.waiting.set(name, entry);
  }

  /** Writes every waiting entry that sorts before `limit` (all, without one). */
  private async flush(limit?: string): Promise<void> {
    for (const name of [...this.waiting.keys()].sort()) {
      if (limit !== undefined && name >= limit) break;
      const entry = this.waiting.get(name)!;
      this.waiting.delete(name);
      await this.write(name, entry);
    }
  }

  private write(name: string, entry: Entry): Promise<void> {
    this.last = name;
    return new Promise((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (entry.kind === 'file') this.pack.entry(this.header(name, entry, entry.content.length), entry.content, done);
      else this.pack.entry(this.header(name, entry), done);
    });
  }

  async mkdir(path: string): Promise<void> {
    this.add(tarName(path, true), { kind: 'dir' });
  }

  async writeFile(path: string, content: Buffer | string, options: { mode?: number } = {}): Promise<void> {
    this.add(tarName(path), { kind: 'file', content: Buffer.from(content), mode: options.mode ?? 0o644 });
  }

  async symlink(path: string, target: string): Promise<void> {
    this.add(tarName(path), { kind: 'link', target });
  }

  async createFile(path: string, options: { size?: number; mode?: number }): Promise<OutputFile> {
    const name = tarName(path);
    if (options.size === undefined) throw new Error(`${this.description}: ${name} needs its size up front`);
    if (this.busy) throw new Error(`${this.description}: ${name} started while another file is open; a tar takes one at a time`);
    this.addParents(name);
    if (this.seen.has(name)) throw new Error(`${this.description}: ${name} is written twice`);
    if (name <= this.last) throw new Error(`${this.description}: ${name} comes after ${this.last}; a tar output takes entries in path order`);
    this.seen.add(name);
    await this.flush(name);
    this.last = name;
    this.busy = true;
    const release = () => {
      this.busy = false;
    };
    const sink = this.pack.entry(this.header(name, { kind: 'file', content: Buffer.alloc(0), mode: options.mode ?? 0o644 }, options.size));
    if (!this.file) return new TarEntryFile(sink, options.size, name, release);
    return this.place(sink, options.size, name, release);
  }

  /**
   * Lays out the entry's body as a hole and opens the file's region of the
   * tar there. The next file may start as soon as this one has its place:
   * the two are written at once, each into its own region.
   */
  private async place(sink: EntrySink, size: number, name: string, release: () => void): Promise<OutputFile> {
    const file = this.file!;
    const start = size === 0 ? Promise.resolve(0) : new Promise<number>((resolve) => file.bodies.push(resolve));
    // The whole body at once: the layout goes on while the file is written.
    const laid = pipeline(Readable.from(holeChunks(size)), sink as unknown as Writable);
    laid.catch(() => undefined);
    const broken = this.finished.then(() => {
      throw new Error(`${this.description}: the tar ended before ${name}`);
    });
    broken.catch(() => undefined);
    // An empty body has no hole; it has no bytes to place either.
    const offset = await Promise.race([start, broken]).finally(release);
    return new TarRegionFile(file.handle, offset, size, name, laid, () => this.pack.destroying, (err) => this.pack.destroy(err));
  }

  /** A tar has no earlier state: nothing to list, read or remove. */
  async list(): Promise<string[]> {
    return [];
  }

  async readHead(): Promise<Buffer | null> {
    return null;
  }

  async remove(): Promise<void> {}

  async hostPath(): Promise<string | null> {
    return null;
  }

  /** Writes what is still waiting and the end of the tar. */
  async close(): Promise<void> {
    await this.flush();
    this.pack.finalize();
    await this.finished;
  }

  /** Stops the stream; what was written is not a valid tar. */
  destroy(err?: Error): void {
    this.pack.destroy(err);
  }
}

function isFileHandle(sink: Writable | FileHandle): sink is FileHandle {
  return typeof (sink as FileHandle).fd === 'number' && typeof (sink as FileHandle).readv === 'function';
}

/** Writes all of `chunk` at `position` of the file. */
async function writeAt(handle: FileHandle, chunk: Buffer, position: number): Promise<void> {
  for (let done = 0; done < chunk.length; ) {
    const { bytesWritten } = await handle.write(chunk, done, chunk.length - done, position + done);
    if (bytesWritten === 0) throw new Error('the file system took no bytes');
    done += bytesWritten;
  }
}

/** What tar-stream hands out for an entry's body (a streamx Writable). */
interface EntrySink {
  write(chunk: Buffer): boolean;
  end(cb?: () => void): void;
  destroy(err?: Error): void;
  readonly destroying: boolean;
  on(event: 'error', fn: (err?: Error) => void): void;
  once(event: 'drain' | 'finish' | 'error' | 'close', fn: (err?: Error) => void): void;
  off(event: 'drain' | 'finish' | 'error' | 'close', fn: (err?: Error) => void): void;
}

/**
 * Waits for `event` on the entry, or its end by an error or by destruction,
 * whichever comes first, and leaves no listener behind (one per wait would
 * pile up over a large entry).
 */
function settled(sink: EntrySink, event: 'drain' | 'finish'): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const off = () => {
      sink.off(event, ok);
      sink.off('error', fail);
      sink.off('close', fail);
    };
    const ok = () => {
      off();
      resolve();
    };
    const fail = (err?: Error) => {
      off();
      reject(err ?? new Error('tar entry destroyed'));
    };
    sink.once(event, ok);
    sink.once('error', fail);
    sink.once('close', fail);
  });
}

/** One large entry's body, written in order. */
class TarEntryFile implements OutputFile {
  readonly fd = null;
  private written = 0;
  private state: 'open' | 'committed' | 'aborted' = 'open';

  constructor(
    private readonly sink: EntrySink,
    private readonly size: number,
    private readonly name: string,
    private readonly release: () => void,
  ) {
    // The entry is destroyed with an error when it is abandoned, or when the
    // whole stream breaks (the pack destroys its open entry); with no listener
    // that error would be an uncaught exception. The stream's own failure is
    // reported by close, and a wait below rejects with it.
    sink.on('error', () => undefined);
  }

  /** Throws when the entry can take no more bytes (abandoned, or the stream broke). */
  private checkOpen(): void {
    if (this.state === 'aborted' || this.sink.destroying) throw new Error(`${this.name}: the tar stream is broken`);
  }

  async write(chunk: Buffer, position: number): Promise<void> {
    this.checkOpen();
    if (position !== this.written) throw new Error(`${this.name}: a tar entry is written in order (byte ${position} after ${this.written})`);
    this.written += chunk.length;
    if (this.written > this.size) throw new Error(`${this.name}: more than the ${this.size} bytes announced`);
    if (!this.sink.write(chunk)) await settled(this.sink, 'drain');
  }

  async commit(): Promise<void> {
    if (this.state !== 'open') return;
    this.checkOpen();
    if (this.written !== this.size) throw new Error(`${this.name}: ${this.written} bytes written, ${this.size} announced`);
    this.state = 'committed';
    const finished = settled(this.sink, 'finish');
    this.sink.end();
    await finished;
    this.release();
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    // A tar entry cannot be taken back: the whole stream is broken, and its owner removes it.
    this.sink.destroy(new Error(`${this.name} was abandoned`));
    this.release();
  }
}

/**
 * One large entry's body in a tar written in place: the region of the file
 * at `fdOffset`, laid out already. Bytes are written where they belong, by
 * write() or by other threads through `fd`.
 */
class TarRegionFile implements OutputFile {
  readonly fd: number;
  /** The end of the last write: positions only increase. */
  private end = 0;
  private state: 'open' | 'committed' | 'aborted' = 'open';

  constructor(
    private readonly handle: FileHandle,
    readonly fdOffset: number,
    private readonly size: number,
    private readonly name: string,
    /** The hole laid out for the body. */
    private readonly laid: Promise<void>,
    private readonly broken: () => boolean,
    private readonly abandon: (err: Error) => void,
  ) {
    this.fd = handle.fd;
  }

  private checkOpen(): void {
    if (this.state === 'aborted' || this.broken()) throw new Error(`${this.name}: the tar is broken`);
  }

  async write(chunk: Buffer, position: number): Promise<void> {
    this.checkOpen();
    if (position < this.end) throw new Error(`${this.name}: positions only increase (byte ${position} after ${this.end})`);
    if (position + chunk.length > this.size) throw new Error(`${this.name}: more than the ${this.size} bytes announced`);
    this.end = position + chunk.length;
    await writeAt(this.handle, chunk, this.fdOffset + position);
  }

  async commit(): Promise<void> {
    if (this.state !== 'open') return;
    this.checkOpen();
    // The last bytes of a file come through write (an archive ends with its
    // index and end blocks): ending short means the size announced was wrong.
    if (this.end !== this.size) throw new Error(`${this.name}: ${this.end} bytes written, ${this.size} announced`);
    await this.laid;
    this.state = 'committed';
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    // The region cannot be taken back: the whole tar is broken, and its owner removes it.
    this.abandon(new Error(`${this.name} was abandoned`));
  }
}
