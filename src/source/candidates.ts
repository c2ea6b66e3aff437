// Which source serves a planned image, as data: an ordered list of candidate
// SourceRefs, the first one present wins. The list is: the local store when
// asked (--local-store), the container directory (OBS's _obsrepositories
// layout: an oci-archive, then an OCI layout), then the registry unless
// --offline forbids the network. A --source override replaces the list.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SourceError } from '../errors.js';
import type { Reference } from '../oci/reference.js';
import { dockerRef } from './docker.js';
import { storeRef, type LocalStore } from './local-store.js';
import { ociArchiveRef } from './oci-archive.js';
import { ociLayoutRef } from './oci-layout.js';
import type { SourceRef } from './types.js';

/** Where OBS workers keep the containers a build may use. */
export const OBS_CONTAINER_DIR = '/usr/src/packages/SOURCES/containers/_obsrepositories';
export const OBS_MARKER = '/.buildenv';

/** The container directory to use: explicit, else OBS's when on a build worker. */
export function containerDirFor(explicit: string | undefined, obsMarker = OBS_MARKER): string | undefined {
  if (explicit) return explicit;
  return existsSync(obsMarker) ? OBS_CONTAINER_DIR : undefined;
}

export function archivePathFor(dir: string, reference: string): string {
  return join(dir, `${reference}.ociarchive`);
}

export interface CandidateOptions {
  readonly containerDir?: string;
  readonly offline: boolean;
  /** Looked in first, by the planned reference (--local-store). */
  readonly localStore?: LocalStore;
  /** --source REF=TRANSPORT:LOCATION, by planned reference: exactly that source, nothing else. */
  readonly overrides?: ReadonlyMap<string, SourceRef>;
}

/**
 * The source for `image`: its override as it is (opening it says what is
 * wrong with it), else the first candidate present.
 */
export function sourceFor(image: Reference, pinned: Reference, opts: CandidateOptions): Promise<SourceRef> {
  const override = opts.overrides?.get(image.toString());
  return override ? Promise.resolve(override) : chooseSource(image, candidatesFor(image, pinned, opts));
}

/**
 * The places to look for `image`, best first. Local copies are named by the
 * planned reference; the registry is asked for `pinned` (the reference with
 * the lock's digest, when there is one).
 */
export function candidatesFor(image: Reference, pinned: Reference, opts: CandidateOptions): SourceRef[] {
  const plain = image.toString();
  const out: SourceRef[] = [];
  if (opts.localStore) out.push(storeRef(opts.localStore, plain));
  if (opts.containerDir) {
    out.push(ociArchiveRef(archivePathFor(opts.containerDir, plain)), ociLayoutRef(join(opts.containerDir, plain)));
  }
  if (!opts.offline) out.push(dockerRef(pinned));
  return out;
}

/** The first candidate present; with none, an error naming every place looked at. */
export async function chooseSource(image: Reference, candidates: readonly SourceRef[]): Promise<SourceRef> {
  const plain = image.toString();
  for (const c of candidates) if (await c.present()) return c;
  if (candidates.length === 0) throw new SourceError('MISSING', `${plain}: --offline needs --container-dir or --local-store (or an OBS build worker's ${OBS_CONTAINER_DIR})`, plain);
  throw new SourceError('MISSING', `${plain}: --offline and no pre-fetched image: looked for ${candidates.map((c) => c.origin).join(', ')}`, plain);
}
