// Where an image comes from, after containers/image's ImageReference and
// ImageSource. A transport (one file each, listed in transports.ts) parses its
// own reference form into a SourceRef; a SourceRef opens an ImageSource,
// which serves one image's manifests and blobs. Adding a transport is one
// file implementing Transport, and one line in the list.

import type { Readable } from 'node:stream';
import type { Descriptor } from '../oci/manifest.js';
import type { Reference } from '../oci/reference.js';
import type { Endpoint, RegistryResolver } from '../registry/resolver.js';

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
  /**
   * true for a single image from a local store or archive: its platform must
   * be the target's (a registry's single-platform image only draws a warning,
   * as many are published for one platform without saying so).
   */
  readonly platformMustMatch?: boolean;
  /**
   * For a registry, after getManifest: the endpoint that served the image
   * (a mirror, or the registry at a rewritten location). Signatures are
   * looked up there, as containers/image does.
   */
  readonly served?: Endpoint;
  /** What happened on the way, for the report: a mirror that failed and gave way. */
  readonly notes?: readonly string[];
  close(): Promise<void>;
}

/** What every source may need to open an image. */
export interface SourceContext {
  /** The planned reference: names the image in messages, and picks it out of a layout holding several. */
  readonly image: Reference;
  /** Endpoints, credentials and TLS for registries. */
  readonly registries: RegistryResolver;
}

/** One place an image may be read from, as a transport names it. */
export interface SourceRef {
  /** The transport's name, as containers-transports(5) spell it: "docker", "oci", "oci-archive". */
  readonly transport: string;
  /** For reports and messages: "registry HOST", "oci-archive FILE". */
  readonly origin: string;
  /** Whether the image is there to read without asking anyone (a local file); a registry always says yes. */
  present(): Promise<boolean>;
  open(ctx: SourceContext): ImageSource;
}

export interface Transport {
  readonly name: string;
  /** Parses what follows "NAME:" in a containers-transports(5) reference; throws ValueFormatError. */
  parse(location: string): SourceRef;
}
