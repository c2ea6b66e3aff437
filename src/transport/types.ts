// The two halves of a copy, after containers/image's ImageSource and
// ImageDestination. A source serves one image's manifests and blobs; a
// destination receives them and makes them durable only on commit.
// Adding a transport is one file implementing one of these.

import type { Readable } from 'node:stream';
import type { Descriptor } from '../oci/manifest.js';

export interface FetchedManifest {
  readonly bytes: Buffer;
  /** Media type as served or as recorded beside the manifest (may be empty). */
  readonly mediaType: string;
  /** Digest of `bytes`, computed by the source. */
  readonly digest: string;
}

export interface ImageSource {
  /** For messages: where the image comes from. */
  readonly description: string;
  /** The manifest or index the reference names (tag or digest). */
  getManifest(signal: AbortSignal): Promise<FetchedManifest>;
  /** A manifest named by digest, e.g. one entry of an index. */
  getManifestByDigest(desc: Descriptor, signal: AbortSignal): Promise<FetchedManifest>;
  /** The blob's bytes as a stream; the copy step verifies size and digest. */
  getBlob(desc: Descriptor, signal: AbortSignal): Promise<Readable>;
  /**
   * true when getBlob serves only bytes whose digest this source checked
   * itself before (a verified local store): the copy step then checks sizes
   * only, instead of hashing the same bytes a second time.
   */
  readonly blobsVerified?: boolean;
  /**
   * The path of a local file holding exactly the blob's bytes, for a
   * destination that can take files (putBlobFile); only for sources whose
   * blobs are verified.
   */
  blobFile?(desc: Descriptor, signal: AbortSignal): Promise<string>;
  close(): Promise<void>;
}

export interface ImageDestination {
  readonly description: string;
  /** Consumes a blob stream; must fail when the stream fails. */
  putBlob(desc: Descriptor, stream: Readable, signal: AbortSignal): Promise<void>;
  /** Takes a blob that is a complete, verified local file; commit fails if its size turns out wrong. */
  putBlobFile?(desc: Descriptor, file: string, signal: AbortSignal): Promise<void>;
  /** Stores the manifest and makes everything visible at the final path. */
  commit(manifest: FetchedManifest, details: { config: Descriptor; layers: readonly Descriptor[] }, signal: AbortSignal): Promise<void>;
  /** Removes everything written so far; safe to call more than once. */
  abort(): Promise<void>;
}
