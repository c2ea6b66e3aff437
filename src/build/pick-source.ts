// Decides where each planned image comes from: a pre-fetched archive or OCI
// layout in the container directory (OBS's _obsrepositories layout), or the
// registry, unless --offline forbids the network.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SourceError } from '../errors.js';
import { parseReference } from '../oci/reference.js';
import type { PlannedContainer } from '../plan/plan.js';
import type { RegistryClient } from '../registry/client.js';
import { OciArchiveSource } from '../transport/oci-archive-source.js';
import { OciLayoutSource } from '../transport/oci-layout-source.js';
import { RegistrySource } from '../transport/registry-source.js';
import type { ImageSource } from '../transport/types.js';

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

export interface SourceChoice {
  readonly source: ImageSource;
  /** "registry", "oci-archive FILE" or "oci-layout DIR": for the report. */
  readonly origin: string;
}

/**
 * `c.reference` may carry a pinned @digest (from the lock); archives are still
 * looked up by the plain reference, `displayReference`.
 */
export function pickSource(
  c: PlannedContainer,
  opts: { containerDir?: string; offline: boolean; client: (registry: string) => RegistryClient; displayReference?: string },
): SourceChoice {
  const ref = parseReference(c.reference);
  const plain = opts.displayReference ?? c.reference;
  if (opts.containerDir) {
    const archive = archivePathFor(opts.containerDir, plain);
    if (existsSync(archive) && statSync(archive).isFile()) {
      return { source: new OciArchiveSource(archive, plain, c.tag), origin: `oci-archive ${archive}` };
    }
    const layout = join(opts.containerDir, plain);
    if (existsSync(join(layout, 'oci-layout'))) {
      return { source: new OciLayoutSource(layout, plain, c.tag), origin: `oci-layout ${layout}` };
    }
    if (opts.offline) {
      throw new SourceError(
        'MISSING',
        `${plain}: --offline and no pre-fetched image: expected an oci-archive at ${archive} or an OCI layout directory at ${layout}/`,
        plain,
      );
    }
  } else if (opts.offline) {
    throw new SourceError('MISSING', `${plain}: --offline needs --container-dir (or an OBS build worker's ${OBS_CONTAINER_DIR})`, plain);
  }
  return { source: new RegistrySource(ref, opts.client(ref.registry)), origin: `registry ${ref.registry}` };
}
