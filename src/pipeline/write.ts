// Write: one image's archive, from the blob store into the output.

import { copyImage, manifestToCommit, type CopyResult } from '../copy/copy-image.js';
import { OciArchiveDestination } from '../destination/oci-archive.js';
import type { ImageOutput } from '../output/types.js';
import type { PlannedContainer } from '../plan/plan.js';
import { StoredSource } from '../source/stored.js';
import type { Resolved } from './resolve.js';
import type { BuildRun } from './run.js';

export interface Written {
  readonly result: CopyResult;
  /** Archive size in bytes. */
  readonly size: number;
}

/** `placed` is called once the archive has its place in the output (at once, or when written): the next may start then. */
export function writeArchive(run: BuildRun, output: ImageOutput, container: PlannedContainer, r: Resolved, mtime: number, placed: () => void, commitAfter?: Promise<unknown>): Promise<Written> {
  const reference = container.reference;
  const fromStore = new StoredSource(r.source, r.image.manifest, run.fetcher, reference);
  return run.writing(async () => {
    const contents = { manifest: manifestToCommit(r.image), config: r.image.parsed.config, layers: r.image.parsed.layers };
    // The archive stops itself on the build's stop signal, also while it waits on a stalled stream output.
    const options = { reference, mtime, platform: r.platform, copier: run.store.workers, signal: run.signal, commitAfter };
    const destination = await OciArchiveDestination.open(output, container.archive, options, contents);
    // A tar written in place has laid out this archive's region: the next archive may be written beside it.
    if (destination.placed) placed();
    // copyImage aborts the destination when it fails.
    const result = await copyImage(fromStore, destination, { reference, platform: r.platform, signal: run.signal, resolved: r.image }).finally(placed);
    return { result, size: destination.size };
  });
}

/**
 * When each archive may be written. Into a directory: at once, several at a
 * time. Into a stream: one by one in path order, after `first` (the units,
 * whose paths sort before the archives'), so the stream stays sorted; into a
 * tar written in place, each once the one before has its place.
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
   * Every archive waits for `ready` (the units rendered), in any order, to
   * appear at its path (the build writes it meanwhile under a temporary
   * name): a template that fails stops the build before any archive appears.
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

  /** `archive` is written, or has its place in a tar written in place, or will never be: the next may go. */
  done(archive: string): void {
    this.finished.get(archive)?.();
  }
}
