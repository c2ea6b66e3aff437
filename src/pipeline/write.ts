// Write: one image's archive, from the blob store into the output.

import { copyImage, manifestToCommit, type CopyResult } from '../copy/copy-image.js';
import { OciArchiveDestination } from '../destination/oci-archive.js';
import type { ImageOutput, OutputFile } from '../output/types.js';
import type { PlannedContainer } from '../plan/plan.js';
import { StoredSource } from '../source/stored.js';
import type { Resolved } from './resolve.js';
import type { BuildRun } from './run.js';
import { untilStopped } from '../util/abortable.js';

export interface Written {
  readonly result: CopyResult;
  /** Archive size in bytes. */
  readonly size: number;
}

export function writeArchive(run: BuildRun, output: ImageOutput, container: PlannedContainer, r: Resolved, mtime: number): Promise<Written> {
  const reference = container.reference;
  const fromStore = new StoredSource(r.source, r.image.manifest, run.fetcher, reference);
  return run.writing(async () => {
    const contents = { manifest: manifestToCommit(r.image), config: r.image.parsed.config, layers: r.image.parsed.layers };
    if (!output.streaming) return copyInto(await OciArchiveDestination.open(output, container.archive, { reference, mtime, platform: r.platform, copier: run.store.workers }, contents));
    // A stream waits on its reader, maybe for ever (a stalled pipe on standard
    // output), and neither opening an entry nor a blob going into it watches
    // the stop signal; nor can the archive's own abort end a write its file
    // never finishes. So when the build stops: stop waiting for the opening,
    // and abort the archive's file, which fails that write and with it the copy
    // (which then aborts the archive).
    let file: OutputFile | undefined;
    const stopFile = () => void file?.abort().catch(() => undefined);
    const watched = withCreatedFile(output, (f) => {
      file = f;
      if (run.signal.aborted) stopFile();
    });
    const opening = OciArchiveDestination.open(watched, container.archive, { reference, mtime, platform: r.platform, copier: run.store.workers }, contents);
    const destination = await untilStopped(opening, run.signal, (late) => void late.abort().catch(() => undefined));
    run.signal.addEventListener('abort', stopFile, { once: true });
    if (run.signal.aborted) stopFile();
    try {
      return await copyInto(destination);
    } finally {
      run.signal.removeEventListener('abort', stopFile);
    }
  });

  async function copyInto(destination: OciArchiveDestination): Promise<Written> {
    // copyImage aborts the destination when it fails.
    const result = await copyImage(fromStore, destination, { reference, platform: r.platform, signal: run.signal, resolved: r.image });
    return { result, size: destination.size };
  }
}

/** `output`, handing each file it creates to `onFile` as well. */
function withCreatedFile(output: ImageOutput, onFile: (file: OutputFile) => void): ImageOutput {
  return new Proxy(output, {
    get(target, prop) {
      if (prop === 'createFile') {
        return async (path: string, options: { size?: number; mode?: number }) => {
          const file = await target.createFile(path, options);
          onFile(file);
          return file;
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * When each archive may be written. Into a directory: at once, several at a
 * time. Into a stream: one by one in path order, after `first` (the units,
 * whose paths sort before the archives'), so the stream stays sorted.
 */
export class WriteOrder {
  private constructor(
    private readonly turns: ReadonlyMap<string, Promise<void>>,
    private readonly finished: ReadonlyMap<string, () => void>,
    /** What an archive without a turn of its own waits for. */
    private readonly gate: Promise<unknown>,
    private readonly signal: AbortSignal | null,
  ) {}

  static free(): WriteOrder {
    return new WriteOrder(new Map(), new Map(), Promise.resolve(), null);
  }

  /**
   * Every archive waits for `ready` (the units rendered), in any order: a
   * template that fails stops the build before any archive is written.
   */
  static after(ready: Promise<unknown>, signal: AbortSignal): WriteOrder {
    return new WriteOrder(new Map(), new Map(), ready, signal);
  }

  static sorted(archives: readonly string[], first: Promise<unknown>, signal: AbortSignal): WriteOrder {
    const turns = new Map<string, Promise<void>>();
    const finished = new Map<string, () => void>();
    let previous: Promise<unknown> = first;
    for (const archive of [...new Set(archives)].sort()) {
      turns.set(archive, previous.then(() => undefined));
      previous = new Promise<void>((resolve) => finished.set(archive, resolve));
    }
    return new WriteOrder(turns, finished, Promise.resolve(), signal);
  }

  /** Resolves when `archive` may be written; rejects when the build stops first. */
  turn(archive: string): Promise<void> {
    const turn = this.turns.get(archive) ?? this.gate;
    const signal = this.signal;
    if (!signal) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      turn.then(() => resolve(), reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** `archive` is written (or will never be): the next may go. */
  done(archive: string): void {
    this.finished.get(archive)?.();
  }
}
