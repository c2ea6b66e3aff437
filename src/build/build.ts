// build = plan -> resolve every image -> fetch every distinct blob once, in
// parallel, into a verified blob store -> write each archive from the store
// -> units. The store is the persistent cache, or a scratch directory that is
// removed when the build ends (--no-cache).

import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { constants } from 'node:fs';
import { access, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { BlobStore } from '../cache/blob-store.js';
import type { FileWorkers } from '../cache/file-workers.js';
import { copyImage, resolveImage, type ResolvedImage } from '../copy/copy-image.js';
import { AbortedError, ImgdescError, OutputError, SourceError } from '../errors.js';
import { lockEntries, type LockedImage, type LockFile } from '../lock/lock-file.js';
import type { Descriptor } from '../oci/manifest.js';
import { formatPlatform, parsePlatform } from '../oci/platform.js';
import type { Plan, PlannedContainer } from '../plan/plan.js';
import { ARCHIVE_DIR } from '../plan/plan.js';
import { RegistryClient, type RegistryClientOptions } from '../registry/client.js';
import { OciArchiveDestination, TEMP_MARKER } from '../transport/oci-archive-destination.js';
import { BlobFetcher, StoredSource } from '../transport/stored-source.js';
import type { ImageSource } from '../transport/types.js';
import { installUnits } from '../units/install.js';
import { renderUnits } from '../units/render.js';
import { limiter, priorityLimiter } from '../util/limit.js';
import { pickSource } from './pick-source.js';

export const DEFAULT_JOBS = 4;

export interface BuildOptions {
  readonly root: string;
  readonly containerDir?: string;
  readonly offline: boolean;
  readonly registry: Omit<RegistryClientOptions, 'userAgent'>;
  /** Seconds since the epoch for archive entries (SOURCE_DATE_EPOCH). */
  readonly mtime: number;
  readonly signal: AbortSignal;
  readonly onEvent?: (event: BuildEvent) => void;
  /** Directory with load.service.hbs and kiwi_containers.service.hbs; default: the shipped templates. */
  readonly templatesDir?: string;
  /** "imgdesc <version>", written into generated files. */
  readonly generator: string;
  /** Persistent blob cache; undefined: a scratch store removed afterwards. */
  readonly cacheDir?: string;
  /** Parallel downloads and archive writes. */
  readonly jobs?: number;
  /** Pins from the lock file, when there is one. */
  readonly lock?: LockFile | null;
  /** Threads that hash and copy blobs, stopped when the build ends; default: a new pool. */
  readonly workers?: FileWorkers;
}

export type BuildEvent =
  | { type: 'start'; container: PlannedContainer; origin: string; total: number }
  | { type: 'bytes'; container: PlannedContainer; bytes: number }
  | { type: 'done'; container: PlannedContainer; result: BuiltImage };

export interface BuiltImage {
  readonly reference: string;
  /** Path inside the image. */
  readonly archive: string;
  /** Path on this machine. */
  readonly file: string;
  readonly digest: string;
  readonly indexDigest: string | null;
  readonly platform: string;
  /** Archive size in bytes. */
  readonly size: number;
  /** Sum of the layers' uncompressed sizes (what loading needs); null when unknown. */
  readonly uncompressedSize: number | null;
  readonly backend: PlannedContainer['backend'];
  readonly load: boolean;
  readonly origin: string;
  readonly warnings: readonly string[];
  /** Resolution details, for the lock file. */
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly manifestMediaType: string;
  readonly manifestSize: number;
}

export interface BuildResult {
  readonly root: string;
  readonly images: readonly BuiltImage[];
  /** In-image paths of the unit files written (empty when nothing is loaded). */
  readonly units: readonly string[];
}

function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOTDIR' ? 'a parent is not a directory' : code === 'EEXIST' ? 'a file is in the way' : code === 'EROFS' ? 'read-only file system' : code === 'ENOSPC' ? 'no space left on the device' : (err as Error).message;
}

/** Makes sure the root is a usable directory; returns its absolute path. */
export async function prepareRoot(root: string): Promise<string> {
  const abs = resolve(root);
  try {
    const info = await stat(abs);
    if (!info.isDirectory()) throw new OutputError(`root ${abs} exists and is not a directory`, abs);
  } catch (err) {
    if (err instanceof OutputError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new OutputError(`cannot use root ${abs}: ${errnoText(err)}`, abs, { cause: err });
    try {
      await mkdir(abs, { recursive: true });
    } catch (e) {
      throw new OutputError(`cannot create root ${abs}: ${errnoText(e)}`, abs, { cause: e });
    }
  }
  try {
    await access(abs, constants.W_OK);
  } catch (err) {
    throw new OutputError(`cannot write into root ${abs}: ${errnoText(err)}`, abs, { cause: err });
  }
  return abs;
}

/** Host path of an in-image path, refusing anything that would leave the root. */
export function inRoot(root: string, imagePath: string): string {
  const target = resolve(join(root, imagePath));
  if (!target.startsWith(root + sep)) throw new OutputError(`${imagePath} would be written outside the root ${root}`, target);
  return target;
}

/** Removes temporary files an interrupted earlier build left beside the archives. */
async function removeStaleTemps(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  await Promise.all(names.filter((n) => n.startsWith(TEMP_MARKER)).map((n) => rm(join(dir, n), { force: true })));
}

/** The reference to ask a registry for: pinned to a digest when the lock has the image. */
function pinnedReference(reference: string, pin: LockedImage | undefined): string {
  return pin ? `${reference}@${pin.indexDigest ?? pin.manifest.digest}` : reference;
}

function checkPin(c: PlannedContainer, pin: LockedImage | undefined, resolved: ResolvedImage, origin: string): void {
  if (pin && resolved.manifest.digest !== pin.manifest.digest) {
    throw new SourceError(
      'DIGEST',
      `${c.reference}: ${origin} holds manifest ${resolved.manifest.digest}, but the lock file pins ${pin.manifest.digest}; run imgdesc lock to accept the new image`,
      c.reference,
    );
  }
}

export async function build(plan: Plan, options: BuildOptions): Promise<BuildResult> {
  const root = await prepareRoot(options.root);
  const archiveDir = inRoot(root, ARCHIVE_DIR);
  const jobs = Math.max(1, options.jobs ?? DEFAULT_JOBS);
  const pins = lockEntries(options.lock ?? null);
  if (plan.containers.length > 0) {
    try {
      await mkdir(archiveDir, { recursive: true });
    } catch (err) {
      throw new OutputError(`cannot create ${archiveDir}: ${errnoText(err)}`, archiveDir, { cause: err });
    }
    await removeStaleTemps(archiveDir);
  }

  const scratch = options.cacheDir === undefined;
  const store = new BlobStore(options.cacheDir ?? join(archiveDir, `${TEMP_MARKER}blobs-${process.pid}-${randomBytes(4).toString('hex')}`), options.workers);
  if (plan.containers.length > 0) store.workers.start();
  const fetcher = new BlobFetcher(store, priorityLimiter(jobs), true);
  // Every image is resolved early, so that the fetcher ranks all their blobs;
  // only resolving and writing hold a slot, not waiting for blobs.
  const resolving = limiter(jobs);
  const writing = limiter(jobs);

  // The first failure stops the rest: the root is not usable anyway.
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort(options.signal.reason);
  options.signal.addEventListener('abort', onOuterAbort, { once: true });
  const signal = controller.signal;
  // Every parallel request and stream listens on it; that is no leak.
  setMaxListeners(0, signal);

  const clients = new Map<string, RegistryClient>();
  const client = (registry: string) => {
    let c = clients.get(registry);
    if (!c) {
      c = new RegistryClient(registry, { ...options.registry, userAgent: options.generator.replace(' ', '/') });
      clients.set(registry, c);
    }
    return c;
  };

  /** `onResolved` is called once the image's manifest is resolved. */
  const buildOne = async (container: PlannedContainer, onResolved: () => void): Promise<BuiltImage> => {
    signal.throwIfAborted();
    const pin = pins.get(`${plan.arch} ${container.reference}`);
    const file = inRoot(root, container.archive);
    const platform = parsePlatform(container.platform);
    const { source, origin } = pickSource(
      { ...container, reference: pinnedReference(container.reference, pin) },
      { containerDir: options.containerDir, offline: options.offline, client, displayReference: container.reference },
    );
    let inner: ImageSource = source;
    const destination = new OciArchiveDestination(file, { reference: container.reference, mtime: options.mtime, platform, copier: store.workers });
    try {
      const resolved = await resolving(() => resolveImage(source, { reference: container.reference, platform, signal }));
      onResolved();
      checkPin(container, pin, resolved, origin);
      const { config, layers } = resolved.parsed;
      const total = config.size + layers.reduce((n, l) => n + l.size, 0);
      options.onEvent?.({ type: 'start', container, origin, total });
      const onBytes = (n: number) => {
        options.onEvent?.({ type: 'bytes', container, bytes: n });
      };
      // Every blob of this image in parallel (bounded across the whole build).
      const stored = await Promise.all([config, ...layers].map((d) => fetcher.ensure(d, source, { reference: container.reference, signal, onBytes })));
      const fromStore = new StoredSource(source, resolved.manifest, fetcher, container.reference);
      inner = fromStore;
      const { result, size } = await writing(async () => {
        await mkdir(dirname(file), { recursive: true });
        await destination.open();
        const result = await copyImage(fromStore, destination, { reference: container.reference, platform, signal, resolved });
        return { result, size: (await stat(file)).size };
      });
      const layerSizes = stored.slice(1).map((s) => s.uncompressedSize);
      const built: BuiltImage = {
        reference: container.reference,
        archive: container.archive,
        file,
        digest: result.manifest.digest,
        indexDigest: resolved.indexDigest,
        platform: result.platform ? formatPlatform(result.platform) : container.platform,
        size,
        uncompressedSize: layerSizes.every((s) => s !== null) ? layerSizes.reduce((a: number, b) => a + b!, 0) : null,
        backend: container.backend,
        load: container.load,
        origin,
        warnings: result.warnings,
        config,
        layers,
        manifestMediaType: result.manifestMediaType,
        manifestSize: result.manifest.bytes.length,
      };
      options.onEvent?.({ type: 'done', container, result: built });
      return built;
    } catch (err) {
      await destination.abort();
      throw err;
    } finally {
      await inner.close();
    }
  };

  const loadable = plan.containers.filter((c) => c.load);
  const resolutions: Promise<void>[] = [];
  const runs = plan.containers.map((c) => {
    // An image counts as resolved when its manifest is, or else when it ends.
    let resolved!: () => void;
    resolutions.push(new Promise<void>((r) => (resolved = r)));
    return buildOne(c, resolved)
      .catch((err: unknown) => {
        controller.abort(err);
        throw err;
      })
      .finally(resolved);
  });
  // Units are rendered while the images download. That takes this thread
  // tens of milliseconds (more for a template it must compile), so it
  // starts once every image is resolved: from then on the thread mostly
  // waits on the file threads and the network. A template that does not
  // compile stops the build at once.
  const rendering = Promise.all(resolutions).then(() => renderUnits(loadable, { templatesDir: options.templatesDir, generator: options.generator }));
  rendering.catch((err: unknown) => controller.abort(err));

  let images: BuiltImage[];
  try {
    const settled = await Promise.allSettled(runs);
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure) {
      // A template error, when there is one, is what stopped the images.
      await rendering;
      if (options.signal.aborted) {
        const by = options.signal.reason instanceof AbortedError ? options.signal.reason.signalName : null;
        throw new AbortedError(`build interrupted${by ? ` by ${by}` : ''}; temporary files removed`, by, { cause: failure.reason });
      }
      // Report the failure that caused the stop, not the aborts it caused.
      const primary = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected' && s.reason instanceof ImgdescError && !(s.reason instanceof AbortedError));
      throw (primary ?? failure).reason;
    }
    images = settled.map((s) => (s as PromiseFulfilledResult<BuiltImage>).value);
  } finally {
    options.signal.removeEventListener('abort', onOuterAbort);
    await Promise.all([...clients.values()].map((c) => c.close()));
    if (scratch) await store.destroy();
    else await store.close();
  }

  // Units last: they must never point at archives that are not there.
  const units = await rendering;
  await installUnits(root, units);
  return { root, images, units: units.files.map((f) => f.path) };
}
