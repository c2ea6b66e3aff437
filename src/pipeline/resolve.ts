// Resolve: choose the source of each image and resolve its reference to one
// manifest for the target platform, checked against the lock's pin and
// accepted by the signature policy before any blob is fetched.

import { resolveImage, type ResolvedImage } from '../copy/copy-image.js';
import { parsePlatform, type Platform } from '../oci/platform.js';
import type { RegistryResolver } from '../registry/resolver.js';
import { sourceFor, type CandidateOptions } from '../source/candidates.js';
import type { ImageSource } from '../source/types.js';
import { checkPin, type Pinned } from './pin.js';
import { verifyImage, type TrustConfig, type Verdict } from '../signatures/verify.js';

export interface OpenedSource {
  readonly source: ImageSource;
  /** Which source serves the image, for the report: "registry HOST", "oci-archive FILE". */
  readonly origin: string;
  readonly platform: Platform;
}

export interface Resolved extends OpenedSource {
  readonly image: ResolvedImage;
  /** The requirements of the policy that accepted the image; null when none was consulted. */
  readonly accepted: Verdict;
  /** What happened on the way (a mirror that gave way), for the report. */
  readonly notes: readonly string[];
}

/** Picks the first candidate source that has the image, and opens it. */
export async function openSource(p: Pinned, registries: RegistryResolver, opts: CandidateOptions): Promise<OpenedSource> {
  const chosen = await sourceFor(p.container.ref, p.fetchRef, opts);
  return { source: chosen.open({ image: p.container.ref, registries }), origin: chosen.origin, platform: parsePlatform(p.container.platform) };
}

/** Resolves an opened source and checks it against the pin and the policy; closes it when that fails. */
export async function resolveOpened(p: Pinned, opened: OpenedSource, signal: AbortSignal, trust?: TrustConfig): Promise<Resolved> {
  try {
    const { source } = opened;
    const image = await resolveImage(source, { reference: p.container.reference, platform: opened.platform, signal });
    const origin = source.served?.label ?? opened.origin;
    checkPin(p, image.manifest.digest, origin);
    const target = { identity: p.fetchRef, digest: image.indexDigest ?? image.manifest.digest, served: source.served };
    const accepted = await verifyImage(trust, target, signal);
    return { ...opened, origin, image, accepted, notes: [...(source.notes ?? [])] };
  } catch (err) {
    await opened.source.close();
    throw err;
  }
}
