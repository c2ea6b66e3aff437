// Fetch: every blob of an image into the verified blob store, in parallel
// and bounded across the whole build; a blob several images share is fetched
// once.

import type { StoredBlob } from '../cache/blob-store.js';
import type { PlannedContainer } from '../plan/plan.js';
import type { BuildEvent } from './options.js';
import type { Resolved } from './resolve.js';
import type { BuildRun } from './run.js';

export interface Fetched {
  readonly blobs: readonly StoredBlob[];
  /** Sum of the layers' uncompressed sizes; null when one is unknown. */
  readonly uncompressedSize: number | null;
}

export async function fetchBlobs(run: BuildRun, container: PlannedContainer, r: Resolved, onEvent?: (e: BuildEvent) => void): Promise<Fetched> {
  const { config, layers } = r.image.parsed;
  const total = config.size + layers.reduce((n, l) => n + l.size, 0);
  onEvent?.({ type: 'start', container, origin: r.origin, total });
  const onBytes = onEvent ? (bytes: number) => onEvent({ type: 'bytes', container, bytes }) : undefined;
  const ctx = { reference: container.reference, signal: run.signal, onBytes };
  const blobs = await Promise.all([config, ...layers].map((d) => run.fetcher.ensure(d, r.source, ctx)));
  const sizes = blobs.slice(1).map((b) => b.uncompressedSize);
  return { blobs, uncompressedSize: sizes.every((s) => s !== null) ? sizes.reduce((a: number, b) => a + b!, 0) : null };
}
