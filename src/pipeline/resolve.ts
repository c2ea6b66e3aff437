// Resolve: choose the source of each image and resolve its reference to one
// manifest for the target platform, checked against the lock's pin.

import { resolveImage, type ResolvedImage } from '../copy/copy-image.js';
import { parsePlatform, type Platform } from '../oci/platform.js';
import type { RegistryResolver } from '../registry/resolver.js';
import { sourceFor, type CandidateOptions } from '../source/candidates.js';
import type { ImageSource } from '../source/types.js';
import { checkPin, type Pinned } from './pin.js';

export interface OpenedSource {
  readonly source: ImageSource;
  /** Which source serves the image, for the report: "registry HOST", "oci-archive FILE". */
  readonly origin: string;
  readonly platform: Platform;
}

export interface Resolved extends OpenedSource {
  readonly image: ResolvedImage;
}

/** Picks the first candidate source that has the image, and opens it. */
export async function openSource(p: Pinned, registries: RegistryResolver, opts: CandidateOptions): Promise<OpenedSource> {
  const chosen = await sourceFor(p.container.ref, p.fetchRef, opts);
  return { source: chosen.open({ image: p.container.ref, registries }), origin: chosen.origin, platform: parsePlatform(p.container.platform) };
}

/** Resolves an opened source; closes it when that fails. */
export async function resolveOpened(p: Pinned, opened: OpenedSource, signal: AbortSignal): Promise<Resolved> {
  try {
    const image = await resolveImage(opened.source, { reference: p.container.reference, platform: opened.platform, signal });
    checkPin(p, image.manifest.digest, opened.origin);
    return { ...opened, image };
  } catch (err) {
    await opened.source.close();
    throw err;
  }
}
