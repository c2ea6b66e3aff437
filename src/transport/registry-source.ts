// ImageSource for an image in a registry (docker:// in containers/image terms).

import { Readable } from 'node:stream';
import { SourceError } from '../errors.js';
import { digestOf } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES } from '../oci/media-types.js';
import { apiLocation, formatReference, type ImageReference } from '../oci/reference.js';
import { RegistryClient, RegistryHttpError, readCapped } from '../registry/client.js';
import { backoffMs, isRetryableError, networkReason, sleep } from '../registry/retry.js';
import type { FetchedManifest, ImageSource } from './types.js';

const KIND_TO_REASON = {
  auth: 'AUTH',
  'not-found': 'NOT_FOUND',
  network: 'NETWORK',
  tls: 'TLS',
  registry: 'REGISTRY',
  protocol: 'PROTOCOL',
} as const;

/** A body that broke or stalled after its answer began; the client already retried the request itself. */
function brokenBody(err: unknown): boolean {
  return !(err instanceof RegistryHttpError) && !(err instanceof SourceError) && isRetryableError(err);
}

export class RegistrySource implements ImageSource {
  readonly description: string;
  private readonly host: string;
  private readonly repository: string;
  private readonly display: string;

  constructor(
    private readonly ref: ImageReference,
    private readonly client: RegistryClient,
    /** Broken transfers are resumed as often as requests are retried (--retries). */
    private readonly resumeAttempts = client.retry.attempts,
  ) {
    const loc = apiLocation(ref);
    this.host = loc.host;
    this.repository = loc.repository;
    this.display = formatReference(ref);
    this.description = `registry ${ref.registry}`;
  }

  private fail(err: unknown, what: string): never {
    if (err instanceof SourceError) throw err;
    if (err instanceof RegistryHttpError) {
      throw new SourceError(KIND_TO_REASON[err.kind], `${this.display}: ${what}: ${err.message}`, this.display, { cause: err });
    }
    // A transfer that broke after its attempts ran out.
    if (isRetryableError(err)) throw new SourceError('NETWORK', `${this.display}: ${what} from ${this.ref.registry}: ${networkReason(err)}`, this.display, { cause: err });
    throw err;
  }

  /** Reads a manifest; a body that breaks or stalls is asked for again, up to --retries attempts. */
  private async manifest(reference: string, what: string, signal: AbortSignal): Promise<FetchedManifest> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.readManifest(reference, what, signal);
      } catch (err) {
        if (signal.aborted || !brokenBody(err) || attempt >= this.client.retry.attempts) this.fail(err, what);
        await sleep(backoffMs(this.client.retry, attempt, null), signal);
      }
    }
  }

  private async readManifest(reference: string, what: string, signal: AbortSignal): Promise<FetchedManifest> {
    const res = await this.client.fetch('GET', `/v2/${this.repository}/manifests/${reference}`, { repository: this.repository, accept: MANIFEST_ACCEPT, signal });
    if (res.status === 404) {
      await res.body.dump();
      const tagOrDigest = reference.includes(':') ? `manifest ${reference}` : `tag "${reference}"`;
      throw new SourceError('NOT_FOUND', `${this.display}: ${tagOrDigest} not found in repository ${this.repository} on ${this.ref.registry} (HTTP 404)`, this.display);
    }
    if (res.status !== 200) {
      const detail = (await readCapped(res.body, 64 * 1024, 'error body').catch(() => Buffer.alloc(0))).toString('utf8').slice(0, 300).trim();
      const reason = res.status === 403 ? 'AUTH' : 'REGISTRY';
      throw new SourceError(reason, `${this.display}: ${what}: ${this.ref.registry} answered HTTP ${res.status}${detail ? `: ${detail}` : ''}`, this.display);
    }
    const length = Number(res.headers['content-length'] ?? NaN);
    if (length > MAX_MANIFEST_BYTES) {
      await res.body.dump();
      throw new SourceError('PROTOCOL', `${this.display}: ${what} is ${length} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit for manifests`, this.display);
    }
    const bytes = await readCapped(res.body, MAX_MANIFEST_BYTES, `${what}`);
    const type = res.headers['content-type'];
    return { bytes, mediaType: (Array.isArray(type) ? type[0] : type) ?? '', digest: digestOf(bytes) };
  }

  getManifest(signal: AbortSignal): Promise<FetchedManifest> {
    return this.manifest(this.ref.digest ?? this.ref.tag ?? 'latest', 'manifest', signal);
  }

  getManifestByDigest(desc: Descriptor, signal: AbortSignal): Promise<FetchedManifest> {
    return this.manifest(desc.digest, `manifest ${desc.digest}`, signal);
  }

  /** Opens the blob at `offset`; the body of a 200 answer starts at 0, of a 206 at offset. */
  private async open(desc: Descriptor, offset: number, signal: AbortSignal) {
    const res = await this.client.fetch('GET', `/v2/${this.repository}/blobs/${desc.digest}`, { repository: this.repository, range: offset || undefined, signal });
    if (res.status === 404) {
      await res.body.dump();
      throw new SourceError('NOT_FOUND', `${this.display}: blob ${desc.digest} not found on ${this.ref.registry} (HTTP 404)`, this.display);
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body.dump();
      throw new SourceError('REGISTRY', `${this.display}: blob ${desc.digest}: ${this.ref.registry} answered HTTP ${res.status}`, this.display);
    }
    const start = res.status === 206 ? Number(/bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''))?.[1] ?? NaN) : 0;
    if (res.status === 206 && start !== offset) {
      await res.body.dump();
      throw new SourceError('PROTOCOL', `${this.display}: blob ${desc.digest}: asked for bytes from ${offset}, got a range starting at ${start}`, this.display);
    }
    return { body: res.body, start };
  }

  /**
   * Streams a blob. When the connection breaks midway the rest is asked for
   * with a Range request; a server that ignores Range sends it all again and
   * the bytes already delivered are skipped, so the consumer sees one stream.
   */
  async getBlob(desc: Descriptor, signal: AbortSignal): Promise<Readable> {
    const self = this;
    let first: Awaited<ReturnType<RegistrySource['open']>>;
    try {
      first = await this.open(desc, 0, signal);
    } catch (err) {
      this.fail(err, `blob ${desc.digest}`);
    }
    async function* chunks(): AsyncGenerator<Buffer> {
      let delivered = 0;
      let failures = 0;
      let current: typeof first | null = first;
      for (;;) {
        try {
          if (!current) current = await self.open(desc, delivered, signal);
          let skip = delivered - current.start;
          for await (const chunk of current.body as AsyncIterable<Buffer>) {
            let c = chunk;
            if (skip > 0) {
              if (c.length <= skip) {
                skip -= c.length;
                continue;
              }
              c = c.subarray(skip);
              skip = 0;
            }
            delivered += c.length;
            yield c;
          }
          return;
        } catch (err) {
          current?.body.destroy();
          current = null;
          if (signal.aborted || !brokenBody(err) || ++failures >= self.resumeAttempts) self.fail(err, `blob ${desc.digest}`);
          await sleep(200 * 2 ** (failures - 1), signal);
        }
      }
    }
    return Readable.from(chunks(), { objectMode: false });
  }

  async close(): Promise<void> {
    // The client is shared between sources of the same registry; its owner closes it.
  }
}
