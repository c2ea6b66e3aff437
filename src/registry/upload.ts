// Writing one repository on a registry, per the push section of the OCI
// distribution spec: blobs whose bytes are in hand go up monolithically
// (POST, then PUT with the digest); a stream whose size and digest are known
// only at its end goes up in chunks (POST, PATCH with Content-Range for each,
// PUT with the digest), so that nothing larger than one chunk is held.
// Manifests are PUT by tag or digest. Failures are RegistryHttpErrors.

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { digestOf } from '../oci/digest.js';
import { readCapped, RegistryHttpError, type RegistryClient, type RegistryResponse } from './client.js';

/** What a chunked upload sends per PATCH, unless the registry asks for more (OCI-Chunk-Min-Length). */
export const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;

export interface UploadedBlob {
  readonly digest: string;
  readonly size: number;
}

function header(res: RegistryResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export class RepositoryWriter {
  constructor(
    readonly client: RegistryClient,
    /** Repository path as the registry's API names it. */
    readonly repository: string,
  ) {}

  get host(): string {
    return this.client.host;
  }

  private request(method: 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, signal: AbortSignal, extra: { body?: Buffer; headers?: Record<string, string>; retry?: boolean } = {}) {
    return this.client.fetch(method, path, { repository: this.repository, push: true, signal, ...extra });
  }

  private async unexpected(res: RegistryResponse, what: string): Promise<RegistryHttpError> {
    const detail = (await readCapped(res.body, 64 * 1024, 'error body').catch(() => Buffer.alloc(0))).toString('utf8').slice(0, 300).trim();
    const kind = res.status === 403 ? 'auth' : res.status === 404 ? 'not-found' : 'registry';
    return new RegistryHttpError(`${what}: ${this.host} answered HTTP ${res.status}${detail ? `: ${detail}` : ''}`, res.status, kind);
  }

  /** True when the repository already holds the blob (a push then skips it). */
  async hasBlob(digest: string, signal: AbortSignal): Promise<boolean> {
    const res = await this.request('HEAD', `/v2/${this.repository}/blobs/${digest}`, signal);
    await res.body.dump();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await this.unexpected(res, `blob ${digest}`);
  }

  /** POST: a new upload session; its Location, and the smallest chunk the registry takes. */
  private async startUpload(signal: AbortSignal): Promise<{ location: string; minChunk: number }> {
    const res = await this.request('POST', `/v2/${this.repository}/blobs/uploads/`, signal, { headers: { 'content-length': '0' } });
    if (res.status !== 202) throw await this.unexpected(res, 'starting a blob upload');
    await res.body.dump();
    return { location: this.location(res, 'starting a blob upload'), minChunk: Number(header(res, 'oci-chunk-min-length') ?? 0) || 0 };
  }

  /** The upload URL an answer names; every answer in a session names the next one. */
  private location(res: RegistryResponse, what: string): string {
    const loc = header(res, 'location');
    if (!loc) throw new RegistryHttpError(`${what}: ${this.host} answered HTTP ${res.status} without a Location`, res.status, 'protocol');
    return new URL(loc, res.url).toString();
  }

  /** PUT that closes the session with the digest; a lost answer to a PUT that worked shows as the blob being there. */
  private async finishUpload(location: string, digest: string, body: Buffer, signal: AbortSignal): Promise<void> {
    const url = new URL(location);
    url.searchParams.set('digest', digest);
    const res = await this.request('PUT', url.toString(), signal, { body, headers: { 'content-type': 'application/octet-stream', 'content-length': String(body.length) } });
    if (res.status === 201) return void (await res.body.dump());
    if (res.status === 404 && (await this.hasBlob(digest, signal))) return void (await res.body.dump());
    throw await this.unexpected(res, `finishing the upload of blob ${digest}`);
  }

  /** Best effort: tells the registry to drop a session that failed. */
  private async cancelUpload(location: string): Promise<void> {
    try {
      const res = await this.request('DELETE', location, AbortSignal.timeout(5000), { retry: false });
      await res.body.dump();
    } catch {
      // The registry expires abandoned sessions on its own.
    }
  }

  /** A blob whose bytes are in hand (a config): skipped when present, else one monolithic upload. */
  async putBlob(bytes: Buffer, signal: AbortSignal): Promise<UploadedBlob> {
    const digest = digestOf(bytes);
    if (!(await this.hasBlob(digest, signal))) {
      const { location } = await this.startUpload(signal);
      await this.finishUpload(location, digest, bytes, signal);
    }
    return { digest, size: bytes.length };
  }

  /**
   * A stream of unknown length, in chunks of at least `chunkBytes`: hashed as
   * it passes, one chunk buffered at a time. `onBytes` reports each chunk the
   * registry accepted.
   */
  async putBlobStream(stream: Readable, signal: AbortSignal, options: { chunkBytes?: number; onBytes?: (n: number) => void } = {}): Promise<UploadedBlob> {
    const session = await this.startUpload(signal);
    let location = session.location;
    try {
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of chunked(stream, Math.max(options.chunkBytes ?? DEFAULT_CHUNK_BYTES, session.minChunk))) {
        hash.update(chunk);
        location = await this.patch(location, chunk, size, signal);
        size += chunk.length;
        options.onBytes?.(chunk.length);
      }
      const digest = `sha256:${hash.digest('hex')}`;
      await this.finishUpload(location, digest, Buffer.alloc(0), signal);
      return { digest, size };
    } catch (err) {
      stream.destroy();
      await this.cancelUpload(location);
      throw err;
    }
  }

  /**
   * One chunk at `offset`. Not retried blindly: a chunk that broke midway may
   * be in part on the registry, and a push is cheaper to run again than to
   * reconcile.
   */
  private async patch(location: string, chunk: Buffer, offset: number, signal: AbortSignal): Promise<string> {
    const res = await this.request('PATCH', location, signal, {
      body: chunk,
      retry: false,
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + chunk.length - 1}`, 'content-length': String(chunk.length) },
    });
    if (res.status !== 202) throw await this.unexpected(res, `uploading bytes ${offset}-${offset + chunk.length - 1}`);
    await res.body.dump();
    return this.location(res, 'uploading a chunk');
  }

  /** PUT a manifest or index under a tag or its digest; returns its digest. */
  async putManifest(selector: string, bytes: Buffer, mediaType: string, signal: AbortSignal): Promise<string> {
    const res = await this.request('PUT', `/v2/${this.repository}/manifests/${selector}`, signal, {
      body: bytes,
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
    });
    if (res.status !== 201) throw await this.unexpected(res, `storing manifest ${selector}`);
    await res.body.dump();
    return digestOf(bytes);
  }
}

/**
 * Regroups a stream into Buffers of exactly `size` bytes (the last one
 * shorter), copying into one buffer per chunk: the registry wants each PATCH's
 * length up front, and most registries a minimum chunk size.
 */
export async function* chunked(stream: Readable, size: number): AsyncGenerator<Buffer> {
  let buf = Buffer.allocUnsafe(size);
  let filled = 0;
  for await (const piece of stream as AsyncIterable<Buffer>) {
    let at = 0;
    while (at < piece.length) {
      const n = Math.min(size - filled, piece.length - at);
      piece.copy(buf, filled, at, at + n);
      filled += n;
      at += n;
      if (filled === size) {
        yield buf;
        // The consumer has sent it by the time it asks for the next one; a fresh buffer keeps that from mattering.
        buf = Buffer.allocUnsafe(size);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buf.subarray(0, filled);
}
