// ImageSource for one already-resolved image whose blobs go through a
// BlobStore: a blob is downloaded from the real source once (shared between
// all images of a build that use it) and then read from the store.

import type { Readable } from 'node:stream';
import type { BlobStore, StoredBlob } from '../cache/blob-store.js';
import { ImgdescError, OutputError, SourceError } from '../errors.js';
import { DigestMismatchError } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { errnoText, isFsError } from '../util/errno.js';
import { untilStopped } from '../util/abortable.js';
import type { Queued } from '../util/limit.js';
import type { FetchedManifest, ImageSource } from './types.js';

interface FetchContext {
  reference: string;
  signal: AbortSignal;
  onBytes?: (n: number) => void;
}

/** Blobs this small cost a round trip more than their bytes: they go first. */
const SMALL_BLOB = 1024 * 1024;

/**
 * The order blobs are fetched in. Small ones first; then the most bytes
 * that archives wait for (size × images using it), so that what finishes
 * last on a saturated link is a small blob one archive needs, not a shared
 * base layer that several archives must still be written from.
 */
function priorityOf(desc: Descriptor): number {
  return desc.size < SMALL_BLOB ? Number.MAX_SAFE_INTEGER : desc.size;
}

/** One download per digest per build, whichever image asks first. */
export class BlobFetcher {
  private readonly inflight = new Map<string, Queued<StoredBlob>>();
  constructor(
    readonly store: BlobStore,
    /** Bounds downloads only: checking the store is file-thread work. */
    private readonly limit: <T>(fn: () => Promise<T>, priority: number) => Queued<T>,
    private readonly measure: boolean,
    /**
     * Settles once every image's manifest is known. Blobs of SMALL_BLOB and
     * more wait for it before they are queued, so that the ranking sees all
     * of them (a base layer shared by an image resolved later is raised
     * before it starts); small blobs go at once. Without it: no wait.
     */
    private readonly allKnown: Promise<unknown> = Promise.resolve(),
  ) {}

  ensure(desc: Descriptor, from: ImageSource, ctx: FetchContext): Promise<StoredBlob> {
    const known = this.inflight.get(desc.digest);
    if (known) {
      // One more archive waits for it.
      known.raise(desc.size);
      return known.promise;
    }
    let queued: Queued<StoredBlob> | null = null;
    let raised = 0;
    const promise = this.store.lookup(desc, this.measure).then(async (found) => {
      if (found) return found;
      // To be downloaded and hashed: the file threads start once that adds up.
      this.store.workers.expect(desc.size);
      if (desc.size >= SMALL_BLOB) await untilStopped(this.allKnown, ctx.signal);
      queued = this.limit(() => this.download(desc, from, ctx), priorityOf(desc) + raised);
      return queued.promise;
    });
    this.inflight.set(desc.digest, { promise, raise: (by) => (queued ? queued.raise(by) : void (raised += by)) });
    // A failed download may be asked for again (e.g. by a retry of the image).
    promise.catch(() => this.inflight.delete(desc.digest));
    return promise;
  }

  private async download(desc: Descriptor, from: ImageSource, ctx: FetchContext): Promise<StoredBlob> {
    const stream = await from.getBlob(desc, ctx.signal);
    try {
      return await this.store.put(desc, stream, { measure: this.measure, onBytes: ctx.onBytes, signal: ctx.signal });
    } catch (err) {
      if (err instanceof DigestMismatchError) {
        throw new SourceError('DIGEST', `${ctx.reference}: blob ${desc.digest} from ${from.description}: ${err.message}`, ctx.reference, { cause: err });
      }
      if (err instanceof ImgdescError || ctx.signal.aborted) throw err;
      // A file-system failure of the store, not of the transfer.
      if (isFsError(err)) throw new OutputError(`cannot store blob ${desc.digest} in ${this.store.dir}: ${errnoText(err)}`, this.store.dir, { cause: err });
      throw err;
    }
  }
}

export class StoredSource implements ImageSource {
  readonly description: string;
  /** Every blob went through the store's digest check in this build. */
  readonly blobsVerified = true;
  readonly platformMustMatch: boolean | undefined;
  constructor(
    private readonly inner: ImageSource,
    private readonly manifest: FetchedManifest,
    private readonly fetcher: BlobFetcher,
    private readonly reference: string,
  ) {
    this.description = inner.description;
    this.platformMustMatch = inner.platformMustMatch;
  }

  async getManifest(): Promise<FetchedManifest> {
    return this.manifest;
  }

  getManifestByDigest(desc: Descriptor, signal: AbortSignal): Promise<FetchedManifest> {
    return this.inner.getManifestByDigest(desc, signal);
  }

  async getBlob(desc: Descriptor, signal: AbortSignal): Promise<Readable> {
    await this.fetcher.ensure(desc, this.inner, { reference: this.reference, signal });
    return this.fetcher.store.open(desc);
  }

  async blobFile(desc: Descriptor, signal: AbortSignal): Promise<string> {
    return (await this.fetcher.ensure(desc, this.inner, { reference: this.reference, signal })).file;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
