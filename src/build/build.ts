// build = plan -> (source -> destination) per image -> report. Units are
// rendered and written by units/ once the archives are in place.

import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { copyImage } from '../copy/copy-image.js';
import { AbortedError, OutputError } from '../errors.js';
import { formatPlatform, parsePlatform } from '../oci/platform.js';
import type { Plan, PlannedContainer } from '../plan/plan.js';
import { ARCHIVE_DIR } from '../plan/plan.js';
import { RegistryClient, type RegistryClientOptions } from '../registry/client.js';
import { OciArchiveDestination, TEMP_MARKER } from '../transport/oci-archive-destination.js';
import { installUnits } from '../units/install.js';
import { renderUnits } from '../units/render.js';
import { pickSource } from './pick-source.js';

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
}

export type BuildEvent =
  | { type: 'start'; container: PlannedContainer; origin: string }
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
  readonly backend: PlannedContainer['backend'];
  readonly load: boolean;
  readonly origin: string;
  readonly warnings: readonly string[];
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

export async function build(plan: Plan, options: BuildOptions): Promise<BuildResult> {
  const root = await prepareRoot(options.root);
  const archiveDir = inRoot(root, ARCHIVE_DIR);
  if (plan.containers.length > 0) {
    try {
      await mkdir(archiveDir, { recursive: true });
    } catch (err) {
      throw new OutputError(`cannot create ${archiveDir}: ${errnoText(err)}`, archiveDir, { cause: err });
    }
    await removeStaleTemps(archiveDir);
  }
  const clients = new Map<string, RegistryClient>();
  const client = (registry: string) => {
    let c = clients.get(registry);
    if (!c) {
      c = new RegistryClient(registry, { ...options.registry, userAgent: 'imgdesc' });
      clients.set(registry, c);
    }
    return c;
  };
  const images: BuiltImage[] = [];
  try {
    for (const container of plan.containers) {
      if (options.signal.aborted) throw new AbortedError('build interrupted');
      const file = inRoot(root, container.archive);
      await mkdir(dirname(file), { recursive: true });
      const { source, origin } = pickSource(container, { containerDir: options.containerDir, offline: options.offline, client });
      options.onEvent?.({ type: 'start', container, origin });
      const destination = new OciArchiveDestination(file, { reference: container.reference, mtime: options.mtime, platform: parsePlatform(container.platform) });
      try {
        await destination.open();
        const result = await copyImage(source, destination, {
          reference: container.reference,
          platform: parsePlatform(container.platform),
          signal: options.signal,
          onBytes: (bytes) => options.onEvent?.({ type: 'bytes', container, bytes }),
        });
        const size = (await stat(file)).size;
        const built: BuiltImage = {
          reference: container.reference,
          archive: container.archive,
          file,
          digest: result.manifest.digest,
          indexDigest: result.indexDigest,
          platform: result.platform ? formatPlatform(result.platform) : container.platform,
          size,
          backend: container.backend,
          load: container.load,
          origin,
          warnings: result.warnings,
        };
        images.push(built);
        options.onEvent?.({ type: 'done', container, result: built });
      } catch (err) {
        await destination.abort();
        if (options.signal.aborted) throw new AbortedError('build interrupted; temporary files removed', { cause: err });
        throw err;
      } finally {
        await source.close();
      }
    }
  } finally {
    await Promise.all([...clients.values()].map((c) => c.close()));
  }
  // Units last: they must never point at archives that are not there.
  const loadable = plan.containers.filter((c) => c.load);
  const units = await renderUnits(loadable, { templatesDir: options.templatesDir, generator: options.generator });
  await installUnits(root, units);
  return { root, images, units: units.files.map((f) => f.path) };
}
