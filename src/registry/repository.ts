// Reading one repository on one registry endpoint: manifests (size-capped)
// and blob streams. This is the one layer that retries: a request is retried
// by the client (connection errors, 429, 5xx), and a body that breaks or
// stalls after its answer began is asked for again here, a blob from where it
// stopped (Range). Failures are RegistryHttpErrors; the source names the image.

import { Readable } from 'node:stream';
import { digestOf } from '../oci/digest.js';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES } from '../oci/media-types.js';
import { readCapped, RegistryHttpError, type RegistryClient, type RegistryResponse } from './client.js';
import { backoffMs, isRetryableError, sleep } from './retry.js';

export interface RegistryManifest {
  readonly bytes: Buffer;
  /** Content-Type as served (may be empty). */
  readonly mediaType: string;
  readonly digest: string;
}

/** A body that broke or stalled after its answer began; the client already retried the request itself. */
function brokenBody(err: unknown): boolean {
  return !(err instanceof RegistryHttpError) && isRetryableError(err);
}

export class RepositoryReader {
  constructor(
    readonly client: RegistryClient,
    /** Repository path as the registry's API names it. */
    readonly repository: string,
  ) {}

  get host(): string {
    return this.client.host;
  }

  /**
   * The manifest for a tag or digest; a body that breaks is asked for again,
   * up to --retries attempts. `once`: no retry at all (a mirror asked first,
   * which gives way to the next endpoint instead of making it wait).
   */
  async manifest(selector: string, signal: AbortSignal, once = false): Promise<RegistryManifest> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.readManifest(selector, signal, once);
      } catch (err) {
        if (once || signal.aborted || !brokenBody(err) || attempt >= this.client.retry.attempts) throw err;
        await sleep(backoffMs(this.client.retry, attempt, null), signal);
      }
    }
  }

  private async readManifest(selector: string, signal: AbortSignal, once: boolean): Promise<RegistryManifest> {
    const res = await this.client.fetch('GET', `/v2/${this.repository}/manifests/${selector}`, { repository: this.repository, accept: MANIFEST_ACCEPT, signal, retry: !once });
    if (res.status === 404) {
      await res.body.dump();
      const what = selector.includes(':') ? `manifest ${selector}` : `tag "${selector}"`;
      throw new RegistryHttpError(`${what} not found in repository ${this.repository} on ${this.host} (HTTP 404)`, 404, 'not-found');
    }
    if (res.status !== 200) throw await this.unexpected(res);
    const length = Number(res.headers['content-length'] ?? NaN);
    if (length > MAX_MANIFEST_BYTES) {
      await res.body.dump();
      throw new RegistryHttpError(`the manifest is ${length} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit for manifests`, 200, 'protocol');
    }
    const bytes = await readCapped(res.body, MAX_MANIFEST_BYTES, 'the manifest');
    const type = res.headers['content-type'];
    return { bytes, mediaType: (Array.isArray(type) ? type[0] : type) ?? '', digest: digestOf(bytes) };
  }

  private async unexpected(res: RegistryResponse): Promise<RegistryHttpError> {
    const detail = (await readCapped(res.body, 64 * 1024, 'error body').catch(() => Buffer.alloc(0))).toString('utf8').slice(0, 300).trim();
    return new RegistryHttpError(`${this.host} answered HTTP ${res.status}${detail ? `: ${detail}` : ''}`, res.status, res.status === 403 ? 'auth' : 'registry');
  }

  /** Opens the blob at `offset`; the body of a 200 answer starts at 0, of a 206 at offset. */
  private async open(digest: string, offset: number, signal: AbortSignal) {
    const res = await this.client.fetch('GET', `/v2/${this.repository}/blobs/${digest}`, { repository: this.repository, range: offset || undefined, signal });
    if (res.status === 404) {
      await res.body.dump();
      throw new RegistryHttpError(`blob ${digest} not found on ${this.host} (HTTP 404)`, 404, 'not-found');
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body.dump();
      throw new RegistryHttpError(`blob ${digest}: ${this.host} answered HTTP ${res.status}`, res.status, 'registry');
    }
    const start = res.status === 206 ? Number(/bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''))?.[1] ?? NaN) : 0;
    if (res.status === 206 && start !== offset) {
      await res.body.dump();
      throw new RegistryHttpError(`blob ${digest}: asked for bytes from ${offset}, got a range starting at ${start}`, 206, 'protocol');
    }
    return { body: res.body, start };
  }

  /**
   * Streams a blob. When the connection breaks midway the rest is asked for
   * with a Range request; a server that ignores Range sends it all again and
   * the bytes already delivered are skipped, so the consumer sees one stream.
   * The first request happens before this returns, so a missing blob fails
   * here; `mapError` turns a failure after that into the caller's error.
   */
  async blob(digest: string, signal: AbortSignal, mapError: (err: unknown) => unknown = (e) => e): Promise<Readable> {
    const first = await this.open(digest, 0, signal);
    return new ResumingBlob(first, (offset) => this.open(digest, offset, signal), this.client.retry, signal, mapError);
  }
}

type OpenedBody = { body: Readable; start: number };

/**
 * One blob as one stream across broken connections. The response bodies are
 * followed directly (data events, paused when the consumer is full): an
 * async generator in between cost two promise hops per chunk, ~0.1 s of CPU
 * on a 268 MB blob.
 */
class ResumingBlob extends Readable {
  private delivered = 0;
  private failures = 0;
  private current: OpenedBody | null = null;
  /** Bytes of a resent body still to drop (a server that ignored Range). */
  private skip = 0;

  constructor(
    first: OpenedBody,
    private readonly reopen: (offset: number) => Promise<OpenedBody>,
    private readonly retry: RegistryClient['retry'],
    private readonly signal: AbortSignal,
    private readonly mapError: (err: unknown) => unknown,
  ) {
    super({ highWaterMark: 1 << 20 });
    this.follow(first);
  }

  override _read(): void {
    this.current?.body.resume();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.current?.body.destroy();
    this.current = null;
    done(err);
  }

  private follow(opened: OpenedBody): void {
    this.current = opened;
    this.skip = this.delivered - opened.start;
    const { body } = opened;
    body.on('data', (chunk: Buffer) => {
      const c = this.skip > 0 ? chunk.subarray(Math.min(this.skip, chunk.length)) : chunk;
      this.skip -= chunk.length - c.length;
      if (c.length === 0) return;
      this.delivered += c.length;
      if (!this.push(c)) body.pause();
    });
    body.once('end', () => {
      if (this.current?.body === body) this.push(null);
    });
    body.on('error', (err: unknown) => {
      if (this.current?.body === body) void this.reopenAfter(err);
    });
  }

  /** After a broken body: asks for the rest, or fails the stream. */
  private async reopenAfter(err: unknown): Promise<void> {
    this.current?.body.destroy();
    this.current = null;
    if (this.signal.aborted) return void this.destroy(err as Error);
    if (!brokenBody(err) || ++this.failures >= this.retry.attempts) return void this.destroy(this.mapError(err) as Error);
    try {
      await sleep(backoffMs(this.retry, this.failures, null), this.signal);
      if (this.destroyed) return;
      this.follow(await this.reopen(this.delivered));
    } catch (again) {
      if (this.destroyed) return;
      // A failed request to resume counts as one more failure.
      void this.reopenAfter(again);
    }
  }
}
