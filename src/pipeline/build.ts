// build = plan -> pin -> resolve -> fetch -> write -> units -> report.
// Every image runs pin → resolve → fetch → write; all images run at once
// (bounded by --jobs), every manifest is resolved before blobs are ranked,
// and the first failure stops the rest. Units come last.

import { AbortedError, ImgdescError } from '../errors.js';
import { formatPlatform } from '../oci/platform.js';
import type { ImageOutput } from '../output/types.js';
import type { Plan } from '../plan/plan.js';
import { ARCHIVE_DIR } from '../plan/plan.js';
import { TEMP_MARKER } from '../util/atomic-file.js';
import { fetchBlobs } from './fetch.js';
import { DEFAULT_JOBS, policyUsed, type BuildOptions, type BuildResult, type BuiltImage } from './options.js';
import { pinAll, type Pinned } from './pin.js';
import { openSource, resolveOpened } from './resolve.js';
import { BuildRun } from './run.js';
import { installRendered, renderWhenResolved } from './units.js';
import { untilStopped } from '../util/abortable.js';
import { writeArchive, WriteOrder } from './write.js';

/** Makes the archive directory, and removes temporary files an interrupted earlier build left there. */
async function prepareArchiveDir(output: ImageOutput): Promise<void> {
  await output.mkdir(ARCHIVE_DIR);
  const stale = (await output.list(ARCHIVE_DIR)).filter((n) => n.startsWith(TEMP_MARKER));
  await Promise.all(stale.map((n) => output.remove(`${ARCHIVE_DIR}/${n}`, { recursive: true })));
}

/** One image: resolve → fetch → write. `onResolved` is called once its manifest is known. */
async function buildImage(run: BuildRun, p: Pinned, options: BuildOptions, order: WriteOrder, onResolved: () => void): Promise<BuiltImage> {
  run.signal.throwIfAborted();
  const c = p.container;
  const opened = await openSource(p, run.registries, options.sources);
  const r = await run.resolving(() => resolveOpened(p, opened, run.signal, options.trust));
  onResolved();
  try {
    const fetching = fetchBlobs(run, c, r, options.onEvent);
    // Into a directory, an archive waits for its blobs before it takes a
    // write slot, and is written at once, under a temporary name until its
    // turn (the units rendered). A stream takes the archives in turn, and the
    // one whose turn it is writes each blob as it arrives: a tar written in
    // place then lays out every archive as soon as its turn comes, and none
    // waits for the blobs of another.
    let commitAfter: Promise<void> | undefined;
    if (!options.output.streaming) {
      await fetching;
      commitAfter = order.turn(c.archive);
      commitAfter.catch(() => undefined); // awaited by the archive's commit
    } else {
      fetching.catch(() => undefined); // awaited below; the write fails with it too
      await order.turn(c.archive);
    }
    const placed = () => order.done(c.archive);
    const { result, size } = await writeArchive(run, options.output, c, r, options.mtime, placed, commitAfter).finally(placed);
    const fetched = await fetching;
    const built: BuiltImage = {
      reference: c.reference,
      archive: c.archive,
      file: await options.output.hostPath(c.archive),
      digest: result.manifest.digest,
      indexDigest: r.image.indexDigest,
      platform: result.platform ? formatPlatform(result.platform) : c.platform,
      size,
      uncompressedSize: fetched.uncompressedSize,
      backend: c.backend,
      load: c.load,
      origin: r.origin,
      warnings: result.warnings,
      accepted: r.accepted,
      notes: r.notes,
      config: result.config,
      layers: result.layers,
      manifestMediaType: result.manifestMediaType,
      manifestSize: result.manifest.bytes.length,
    };
    options.onEvent?.({ type: 'done', container: c, result: built });
    return built;
  } finally {
    await r.source.close();
  }
}

/** The failure to report: an interruption as such, else the one that caused the stop, not the aborts it caused. */
function primaryFailure(run: BuildRun, settled: PromiseSettledResult<BuiltImage>[]): unknown {
  const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as unknown);
  if (failures.length === 0) return null;
  if (run.interrupted) {
    const reason = run.interruptReason;
    const by = reason instanceof AbortedError ? reason.signalName : null;
    return new AbortedError(`build interrupted${by ? ` by ${by}` : ''}; temporary files removed`, by, { cause: failures[0] });
  }
  return failures.find((e) => e instanceof ImgdescError && !(e instanceof AbortedError)) ?? failures[0];
}

export async function build(plan: Plan, options: BuildOptions): Promise<BuildResult> {
  const { output } = options;
  if (plan.containers.length > 0) await prepareArchiveDir(output);
  let resolvedAll!: () => void;
  const allResolved = new Promise<void>((r) => (resolvedAll = r));
  const run = await BuildRun.start({ ...options, jobs: Math.max(1, options.jobs ?? DEFAULT_JOBS), allResolved });

  const resolutions: Promise<void>[] = [];
  const rendering = renderWhenResolved(allResolved, plan.containers, options);
  rendering.catch((err: unknown) => run.stop(err));
  // A stream takes the units first and the archives one by one, sorted; a
  // directory takes the units last, so they never point at missing archives.
  // Either way no archive appears before the units are rendered (into a
  // directory they are written meanwhile, under temporary names): a template
  // that fails leaves nothing.
  const unitsFirst = output.streaming ? rendering.then((u) => installRendered(output, u)) : null;
  unitsFirst?.catch((err: unknown) => run.stop(err));
  const order = unitsFirst ? WriteOrder.sorted(plan.containers.map((c) => c.archive), unitsFirst, run.signal) : WriteOrder.after(rendering, run.signal);

  const runs = pinAll(plan, options.lock ?? null).map((p) => {
    // An image counts as resolved when its manifest is, or else when it ends.
    let resolved!: () => void;
    resolutions.push(new Promise<void>((r) => (resolved = r)));
    const image = buildImage(run, p, options, order, resolved).finally(resolved);
    image.catch((err: unknown) => run.stop(err));
    return image;
  });
  void Promise.all(resolutions).then(resolvedAll);

  let settled: PromiseSettledResult<BuiltImage>[];
  try {
    settled = await Promise.allSettled(runs);
  } finally {
    await run.close();
  }
  const failure = primaryFailure(run, settled);
  if (failure) {
    // A template error, when there is one, is what stopped the images.
    await rendering;
    await unitsFirst;
    throw failure;
  }
  const images = settled.map((s) => (s as PromiseFulfilledResult<BuiltImage>).value);
  const units = await (unitsFirst ?? rendering.then((u) => installRendered(output, u)));
  // A stream's end may wait on its reader for ever (a stalled pipe): an interruption ends the wait.
  await (output.streaming ? untilStopped(output.close(), options.signal) : output.close());
  return { output: output.description, root: await output.hostPath('/'), images, units, policy: policyUsed(options.trust) };
}
