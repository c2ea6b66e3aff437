// The generic copy step: resolve the reference to one image manifest for the
// target platform, then stream config and layers from the source into the
// destination, verifying every digest and size on the way (sizes only for a
// source that checked the digests itself, like the build's blob store). Any failure
// aborts the destination, so nothing partial is left at its final path.

import { Readable } from 'node:stream';
import { SourceError } from '../errors.js';
import { DigestMismatchError, VerifyingStream } from '../oci/digest.js';
import { parseManifest, ManifestFormatError, type Descriptor, type ImageManifest } from '../oci/manifest.js';
import { MAX_CONFIG_BYTES } from '../oci/media-types.js';
import { choosePlatform, formatPlatform, type Platform } from '../oci/platform.js';
import type { ImageDestination } from '../destination/types.js';
import type { FetchedManifest, ImageSource } from '../source/types.js';

/** Indexes may point at indexes; deeper than this is refused as a loop. */
const MAX_INDEX_DEPTH = 4;

export interface CopyOptions {
  /** Full reference, for messages. */
  readonly reference: string;
  /** Digest the reference pins, if any (from a lock or @digest). */
  readonly expectedDigest?: string | null;
  readonly platform: Platform;
  readonly signal: AbortSignal;
  /** Bytes of blob data that arrived, for progress. */
  readonly onBytes?: (n: number) => void;
  /** The image, when the caller already resolved it (then the source serves its blobs). */
  readonly resolved?: ResolvedImage;
}

export interface CopyResult {
  readonly manifest: FetchedManifest;
  readonly manifestMediaType: string;
  /** Digest of the index the manifest was chosen from, when there was one. */
  readonly indexDigest: string | null;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  /** Platform as the image's config states it. */
  readonly platform: Platform | undefined;
  readonly warnings: readonly string[];
}

export interface ResolvedImage {
  readonly manifest: FetchedManifest;
  readonly parsed: ImageManifest;
  readonly indexDigest: string | null;
}

function checkDigest(got: FetchedManifest, expected: { digest: string; size?: number }, what: string, reference: string): void {
  if (got.digest !== expected.digest) {
    throw new SourceError('DIGEST', `${reference}: ${what} has digest ${got.digest}, but ${expected.digest} was expected`, reference);
  }
  if (expected.size !== undefined && got.bytes.length !== expected.size) {
    throw new SourceError('DIGEST', `${reference}: ${what} is ${got.bytes.length} bytes, but ${expected.size} were expected`, reference);
  }
}

function parse(got: FetchedManifest, what: string, source: ImageSource, reference: string) {
  try {
    return parseManifest(got.bytes, got.mediaType || null);
  } catch (err) {
    if (err instanceof ManifestFormatError) throw new SourceError('PROTOCOL', `${reference}: ${what} from ${source.description}: ${err.message}`, reference);
    throw err;
  }
}

/** Resolves the reference (through indexes) to the image manifest for the platform. */
export async function resolveImage(source: ImageSource, options: CopyOptions): Promise<ResolvedImage> {
  const { reference, signal } = options;
  let current = await source.getManifest(signal);
  if (options.expectedDigest) checkDigest(current, { digest: options.expectedDigest }, 'the manifest', reference);
  let indexDigest: string | null = null;
  for (let depth = 0; ; depth++) {
    const doc = parse(current, depth === 0 ? 'manifest' : `manifest ${current.digest}`, source, reference);
    if (doc.kind === 'manifest') return { manifest: current, parsed: doc, indexDigest };
    if (depth >= MAX_INDEX_DEPTH) {
      throw new SourceError('PROTOCOL', `${reference}: indexes nest more than ${MAX_INDEX_DEPTH} levels deep; refusing to follow further`, reference);
    }
    indexDigest ??= current.digest;
    const chosen = choosePlatform(doc.manifests, options.platform);
    if (chosen === -1) {
      const available = [...new Set(doc.manifests.map((m) => formatPlatform(m.platform)))];
      throw new SourceError(
        'PLATFORM',
        `${reference}: no image for ${formatPlatform(options.platform)}; the index offers ${available.length ? available.join(', ') : 'nothing'}`,
        reference,
      );
    }
    const desc = doc.manifests[chosen]!;
    const next = await source.getManifestByDigest(desc, signal);
    checkDigest(next, desc, `manifest ${desc.digest} (for ${formatPlatform(desc.platform)})`, reference);
    current = { ...next, mediaType: next.mediaType || desc.mediaType };
  }
}

/** The manifest as a destination stores it: its bytes, with the media type the parse settled on. */
export function manifestToCommit(resolved: ResolvedImage): FetchedManifest {
  return { ...resolved.manifest, mediaType: resolved.parsed.mediaType };
}

async function readConfig(source: ImageSource, desc: Descriptor, options: CopyOptions): Promise<Buffer> {
  if (desc.size > MAX_CONFIG_BYTES) throw new SourceError('PROTOCOL', `${options.reference}: config is ${desc.size} bytes, over the ${MAX_CONFIG_BYTES}-byte limit`, options.reference);
  const chunks: Buffer[] = [];
  const verify = new VerifyingStream(desc, { sizeOnly: source.blobsVerified === true });
  const stream = (await source.getBlob(desc, options.signal)).pipe(verify);
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function platformOfConfig(bytes: Buffer): Platform | undefined {
  try {
    const c = JSON.parse(bytes.toString('utf8')) as { os?: string; architecture?: string; variant?: string };
    if (typeof c.os === 'string' && typeof c.architecture === 'string') {
      return c.variant ? { os: c.os, architecture: c.architecture, variant: c.variant } : { os: c.os, architecture: c.architecture };
    }
  } catch {
    // A config that is not JSON is not ours to judge; the runtime will.
  }
  return undefined;
}

function asSourceError(err: unknown, reference: string, what: string): unknown {
  if (err instanceof DigestMismatchError) return new SourceError('DIGEST', `${reference}: ${what}: ${err.message}`, reference, { cause: err });
  return err;
}

export async function copyImage(source: ImageSource, destination: ImageDestination, options: CopyOptions): Promise<CopyResult> {
  const { reference, signal } = options;
  try {
    const resolved = options.resolved ?? (await resolveImage(source, options));
    const { config, layers } = resolved.parsed;
    const warnings: string[] = [];

    let configBytes: Buffer;
    try {
      configBytes = await readConfig(source, config, options);
    } catch (err) {
      throw asSourceError(err, reference, `config ${config.digest}`);
    }
    const platform = platformOfConfig(configBytes);
    if (resolved.indexDigest === null && platform && (platform.architecture !== options.platform.architecture || platform.os !== options.platform.os)) {
      const what = `${reference} is a single-platform image for ${formatPlatform(platform)}, not ${formatPlatform(options.platform)}`;
      if (source.platformMustMatch) throw new SourceError('PLATFORM', `${what} (from ${source.description}); the target needs ${formatPlatform(options.platform)}`, reference);
      warnings.push(what);
    }
    await destination.putBlob(config, Readable.from([configBytes]), signal);
    options.onBytes?.(configBytes.length);

    const verified = source.blobsVerified === true;
    for (const layer of layers) {
      signal.throwIfAborted();
      if (verified && source.blobFile && destination.putBlobFile) {
        try {
          await destination.putBlobFile(layer, await source.blobFile(layer, signal), signal);
        } catch (err) {
          throw asSourceError(err, reference, `layer ${layer.digest}`);
        }
        options.onBytes?.(layer.size);
        continue;
      }
      const verify = new VerifyingStream(layer, { sizeOnly: verified });
      if (options.onBytes) verify.on('data', (c: Buffer) => options.onBytes!(c.length));
      try {
        const blob = await source.getBlob(layer, signal);
        blob.on('error', (e) => verify.destroy(e));
        await destination.putBlob(layer, blob.pipe(verify), signal);
      } catch (err) {
        throw asSourceError(err, reference, `layer ${layer.digest}`);
      }
    }
    const manifest = manifestToCommit(resolved);
    try {
      await destination.commit(manifest, { config, layers }, signal);
    } catch (err) {
      // A blob file that no longer matches its verified size.
      throw asSourceError(err, reference, 'a layer');
    }
    return {
      manifest,
      manifestMediaType: resolved.parsed.mediaType,
      indexDigest: resolved.indexDigest,
      config,
      layers,
      platform,
      warnings,
    };
  } catch (err) {
    await destination.abort();
    throw err;
  }
}
