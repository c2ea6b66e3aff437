// The state one build shares between its steps: the stop signal (the first
// failure stops the rest), the registry resolver, the blob store and fetcher,
// and the limits on parallel work.

import { setMaxListeners } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobStore } from '../cache/blob-store.js';
import type { FileWorkers } from '../cache/file-workers.js';
import { RegistryResolver } from '../registry/resolver.js';
import type { RegistryClientOptions } from '../registry/client.js';
import type { RegistriesConf } from '../registry/registries-conf.js';
import { BlobFetcher } from '../source/stored.js';
import { TEMP_MARKER } from '../util/atomic-file.js';
import { limiter, priorityLimiter } from '../util/limit.js';

export interface RunOptions {
  readonly signal: AbortSignal;
  readonly registry: Omit<RegistryClientOptions, 'userAgent'>;
  readonly registriesConf?: RegistriesConf;
  /** "imgdesc <version>": the User-Agent is "imgdesc/<version>". */
  readonly generator: string;
  readonly jobs: number;
  /** Persistent blob cache; undefined: a scratch store removed at close. */
  readonly cacheDir?: string;
  readonly workers?: FileWorkers;
  /** Hash every cached blob, trusting no earlier verification (--verify-cache). */
  readonly verifyCache?: boolean;
  /** Settles when every image's manifest is known: big downloads wait for it to be ranked. */
  readonly allResolved: Promise<void>;
}

export class BuildRun {
  private readonly controller = new AbortController();
  /** Aborted by the caller's signal or by the first failure. */
  readonly signal = this.controller.signal;
  readonly registries: RegistryResolver;
  /** Resolving and writing hold a slot each; waiting for blobs holds none. */
  readonly resolving: ReturnType<typeof limiter>;
  readonly writing: ReturnType<typeof limiter>;
  private readonly onOuterAbort = () => this.stop(this.outer.reason);

  private constructor(
    private readonly outer: AbortSignal,
    readonly fetcher: BlobFetcher,
    private readonly scratch: boolean,
    options: RunOptions,
  ) {
    this.registries = new RegistryResolver({ ...options.registry, userAgent: options.generator.replace(' ', '/') }, options.registriesConf);
    this.resolving = limiter(options.jobs);
    this.writing = limiter(options.jobs);
    outer.addEventListener('abort', this.onOuterAbort, { once: true });
    // Every parallel request and stream listens on it; that is no leak.
    setMaxListeners(0, this.signal);
  }

  /** The file threads start once the build's blobs add up to more than their boot is worth (see FileWorkers). */
  static async start(options: RunOptions): Promise<BuildRun> {
    const scratch = options.cacheDir === undefined;
    const dir = options.cacheDir ?? (await mkdtemp(join(tmpdir(), `${TEMP_MARKER}blobs-`)));
    const store = new BlobStore(dir, options.workers, options.verifyCache);
    return new BuildRun(options.signal, new BlobFetcher(store, priorityLimiter(options.jobs), true, options.allResolved), scratch, options);
  }

  get store(): BlobStore {
    return this.fetcher.store;
  }

  /** Stops every step still running. */
  stop(reason: unknown): void {
    this.controller.abort(reason);
  }

  /** The caller's signal asked for the stop (SIGINT/SIGTERM), not a failure. */
  get interrupted(): boolean {
    return this.outer.aborted;
  }

  get interruptReason(): unknown {
    return this.outer.reason;
  }

  async close(): Promise<void> {
    this.outer.removeEventListener('abort', this.onOuterAbort);
    await this.registries.close();
    if (this.scratch) await this.store.destroy();
    else await this.store.close();
  }
}
