// Write: one image's archive, from the blob store into the output.

import { copyImage, manifestToCommit, type CopyResult } from '../copy/copy-image.js';
import { OciArchiveDestination } from '../destination/oci-archive.js';
import type { ImageOutput } from '../output/types.js';
import type { PlannedContainer } from '../plan/plan.js';
import { StoredSource } from '../source/stored.js';
import type { Resolved } from './resolve.js';
import type { BuildRun } from './run.js';

export interface Written {
  readonly result: CopyResult;
  /** Archive size in bytes. */
  readonly size: number;
}

export function writeArchive(run: BuildRun, output: ImageOutput, container: PlannedContainer, r: Resolved, mtime: number): Promise<Written> {
  const reference = container.reference;
  const fromStore = new StoredSource(r.source, r.image.manifest, run.fetcher, reference);
  return run.writing(async () => {
    const contents = { manifest: manifestToCommit(r.image), config: r.image.parsed.config, layers: r.image.parsed.layers };
    const destination = await OciArchiveDestination.open(output, container.archive, { reference, mtime, platform: r.platform, copier: run.store.workers }, contents);
    // copyImage aborts the destination when it fails.
    const result = await copyImage(fromStore, destination, { reference, platform: r.platform, signal: run.signal, resolved: r.image });
    return { result, size: destination.size };
  });
}
