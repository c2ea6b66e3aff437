// The seam between a build and where its files go. A build writes an image's
// files through one ImageOutput, naming every file by its in-image absolute
// path ("/var/tmp/kiwi_containers/hello_1.0"), never by a host path. The image
// root directory (root-dir.ts) is one implementation; a tar stream of the same
// tree is another. Nothing outside an output knows which one it writes to.

export interface ImageOutput {
  /** For messages: "root /srv/root", "overlay out.tar". */
  readonly description: string;
  /**
   * true for a stream (a tar): it takes one file at a time, in path order,
   * each with its final size up front. The pipeline then installs the units
   * before the archives and writes the archives one by one, sorted. A file
   * of a stream that offers `fd` (a tar written in place) has its place laid
   * out once created: the next file may start while it is being written.
   */
  readonly streaming: boolean;
  /** Creates the directory and any missing parents (mode 0755); an existing one is kept. */
  mkdir(path: string): Promise<void>;
  /**
   * Starts a file whose bytes arrive in order (or, where `fd` is offered, in
   * ranges filled by other threads). Nothing is visible at `path` until commit;
   * abort leaves nothing. `size` is the final size when known up front (a tar
   * output needs it for the entry header).
   */
  createFile(path: string, options: { size?: number; mode?: number }): Promise<OutputFile>;
  /** Writes a whole small file, replacing what is there, all or nothing. */
  writeFile(path: string, content: Buffer | string, options?: { mode?: number }): Promise<void>;
  /** Makes a symlink at `path` to `target` (written verbatim), replacing a file or link there. */
  symlink(path: string, target: string): Promise<void>;
  /** Names in a directory an earlier build may have left; [] when there is none (or no earlier build). */
  list(path: string): Promise<string[]>;
  /** The first `limit` bytes of a regular file an earlier build may have left; null when there is none. */
  readHead(path: string, limit: number): Promise<Buffer | null>;
  /** Removes a file or symlink (with `recursive`, a directory tree); absent is no error. */
  remove(path: string, options?: { recursive?: boolean }): Promise<void>;
  /** Where `path` lands on this machine, for reports; null when the output is not a directory. */
  hostPath(path: string): Promise<string | null>;
  /** Finishes the output (a tar writes its end); nothing to do for a directory. */
  close(): Promise<void>;
}

export interface OutputFile {
  /** Writes `chunk` at `position`; positions only increase, and gaps are left for `fd` writers. */
  write(chunk: Buffer, position: number): Promise<void>;
  /**
   * A descriptor of the file being written, which other threads may fill
   * gaps of with positional writes; null when the output is a stream and
   * every byte must come through write(), in order, without gaps.
   */
  readonly fd: number | null;
  /**
   * Where byte 0 of this file is in `fd`: a file may be a region of a larger
   * one (an entry of a tar written in place). 0 when absent.
   */
  readonly fdOffset?: number;
  /** Makes the file visible at its path. */
  commit(): Promise<void>;
  /** Drops everything written; safe to call more than once, and after commit (then it does nothing). */
  abort(): Promise<void>;
}

/** Directories a booted system needs world-writable and sticky; every other directory is 0755. */
const STICKY = new Set(['/tmp', '/var/tmp']);

/** The mode of a directory an output creates at in-image `path`. */
export function directoryMode(path: string): number {
  return STICKY.has(path.replace(/\/+$/, '')) ? 0o1777 : 0o755;
}
