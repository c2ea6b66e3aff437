// Where a copied image goes, after containers/image's ImageDestination. A
// destination receives one image's blobs and manifest and makes them durable
// only on commit; abort leaves nothing.

import type { Readable } from 'node:stream';
import type { Descriptor } from '../oci/manifest.js';
import type { FetchedManifest } from '../source/types.js';

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
