// ImageSource for one already-resolved image whose blobs go through a
// BlobStore: a blob is downloaded from the real source once (shared between
// all images of a build that use it) and then read from the store.

import type { Readable } from 'node:stream';
import type { BlobStore, StoredBlob } from '../cache/blob-store.js';
import { ImgdescError, OutputError, SourceError } from '../errors.js';
import { DigestMismatchError } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import type { FetchedManifest, ImageSource } from './types.js';

/** One download per digest per build, whichever image asks first. */
export class BlobFetcher {
  private readonly inflight = new Map<string, Promise<StoredBlob>>();
  constructor(
    readonly store: BlobStore,
    private readonly limit: <T>(fn: () => Promise<T>) => Promise<T>,
    private readonly measure: boolean,
  ) {}

  ensure(desc: Descriptor, from: ImageSource, ctx: { reference: string; signal: AbortSignal; onBytes?: (n: number) => void }): Promise<StoredBlob> {
    let p = this.inflight.get(desc.digest);
    if (!p) {
      p = this.limit(async () => {
        const found = await this.store.lookup(desc, this.measure);
        if (found) return found;
        const stream = await from.getBlob(desc, ctx.signal);
        try {
          return await this.store.put(desc, stream, { measure: this.measure, onBytes: ctx.onBytes, signal: ctx.signal });
        } catch (err) {
          if (err instanceof DigestMismatchError) {
            throw new SourceError('DIGEST', `${ctx.reference}: blob ${desc.digest} from ${from.description}: ${err.message}`, ctx.reference, { cause: err });
          }
          if (err instanceof ImgdescError || ctx.signal.aborted) throw err;
          const code = (err as NodeJS.ErrnoException).code;
          if (code && /^E[A-Z]+$/.test(code) && !/^E(CONNRESET|PIPE|TIMEDOUT|HOSTUNREACH|NETUNREACH|CONNREFUSED)$/.test(code)) {
            const reason = code === 'ENOSPC' ? 'no space left on the device' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
            throw new OutputError(`cannot store blob ${desc.digest} in ${this.store.dir}: ${reason}`, this.store.dir, { cause: err });
          }
          throw err;
        }
      });
      this.inflight.set(desc.digest, p);
      // A failed download may be asked for again (e.g. by a retry of the image).
      p.catch(() => this.inflight.delete(desc.digest));
    }
    return p;
  }
}

export class StoredSource implements ImageSource {
  readonly description: string;
  /** Every blob went through the store's digest check in this build. */
  readonly blobsVerified = true;
  constructor(
    private readonly inner: ImageSource,
    private readonly manifest: FetchedManifest,
    private readonly fetcher: BlobFetcher,
    private readonly reference: string,
  ) {
    this.description = inner.description;
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
