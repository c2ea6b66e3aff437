// Which manifest of an index, and which blob of that manifest, holds the disk.
// Each format is told by what its own publisher writes:
//   podman-machine  an index whose entries carry `disktype` (podman's
//                   pkg/machine/ocipull), platforms spelled x86_64/aarch64;
//                   the manifest has exactly one titled layer
//   oras            an artifact (artifactType, or an empty config) whose
//                   layers are files named by their title (`oras push`)
//   one-file        an image of one layer holding one regular file
//                   (FROM scratch + COPY disk.qcow2.xz /)
//   container-disk  an image whose layer holds the disk under disk/
//                   (KubeVirt containerDisk, KIWI's OCI disk container)
// The last two differ only inside the layer tar; tar-entry.ts tells them apart.
// Pure: no I/O, so every rule is tested on documents alone.

import { SourceError, UsageError } from '../errors.js';
import type { Descriptor, ImageIndex, ImageManifest } from '../oci/manifest.js';
import { choosePlatform, formatPlatform, type Platform } from '../oci/platform.js';
import { withoutCompressionSuffix } from './compression.js';
import { TITLE, titleProblem } from './title.js';

export type DiskFormat = 'podman-machine' | 'oras' | 'one-file' | 'container-disk';

/** The index annotation podman machine picks its disk by (qemu, applehv, hyperv, wsl). */
export const DISKTYPE = 'disktype';

/** What the command line asks for. */
export interface DiskWanted {
  /** Target platform, architecture as OCI spells it (amd64, arm64). */
  readonly platform: Platform;
  readonly disktype: string | null;
  /** --file: a title (or a file name in the layer) among several. */
  readonly file: string | null;
}

/** podman writes `uname -m` names into platforms; everyone else OCI's. */
const OCI_ARCH: Readonly<Record<string, string>> = { x86_64: 'amd64', aarch64: 'arm64' };
const PODMAN_ARCH: Readonly<Record<string, string>> = { amd64: 'x86_64', arm64: 'aarch64' };

/** A platform with its architecture as OCI spells it. */
export function ociPlatform(p: Platform): Platform {
  const architecture = OCI_ARCH[p.architecture] ?? p.architecture;
  return { ...p, architecture };
}

/** A platform with its architecture as podman machine matches it (x86_64, aarch64). */
export function podmanPlatform(p: Platform): Platform {
  const { variant: _variant, ...rest } = p;
  return { ...rest, architecture: PODMAN_ARCH[p.architecture] ?? p.architecture };
}

export interface IndexChoice {
  readonly descriptor: Descriptor;
  /** The entry's platform as written in the index. */
  readonly platform: Platform | null;
  readonly disktype: string | null;
}

const disktypeOf = (d: Descriptor) => d.annotations?.[DISKTYPE] ?? null;

/** One line per entry, for "it offers: …". */
function offers(index: ImageIndex): string {
  const lines = index.manifests.map((m) => {
    const dt = disktypeOf(m);
    return `${formatPlatform(m.platform)}${dt ? ` disktype=${dt}` : ''}`;
  });
  return lines.length ? lines.join(', ') : '(nothing)';
}

/**
 * The index entry for the wanted platform and disktype. An index with
 * `disktype` annotations is podman's: without --disktype it must offer one
 * disktype for the platform. Architectures compare in either spelling.
 */
export function chooseIndexEntry(index: ImageIndex, want: DiskWanted, reference: string): IndexChoice {
  const podman = index.manifests.some((m) => disktypeOf(m) !== null);
  const target = ociPlatform(want.platform);
  const byPlatform = (entries: readonly Descriptor[]) => entries[choosePlatform(entries.map((e) => ({ platform: e.platform && ociPlatform(e.platform) })), target)];
  const wanted = `${formatPlatform(want.platform)}${want.disktype ? ` disktype=${want.disktype}` : ''}`;
  const noMatch = () => new SourceError('PLATFORM', `${reference} has no disk for ${wanted}; it offers: ${offers(index)}`, reference);
  if (!podman) {
    if (want.disktype) throw noMatch();
    const d = byPlatform(index.manifests);
    if (!d) throw noMatch();
    return { descriptor: d, platform: d.platform ?? null, disktype: null };
  }
  if (want.disktype) {
    const d = byPlatform(index.manifests.filter((m) => disktypeOf(m) === want.disktype));
    if (!d) throw noMatch();
    return { descriptor: d, platform: d.platform ?? null, disktype: want.disktype };
  }
  const types = [...new Set(index.manifests.filter((m) => m.platform && byPlatform([m])).map((m) => disktypeOf(m)).filter((t): t is string => t !== null))];
  if (types.length === 0) throw noMatch();
  if (types.length > 1) throw new UsageError(`${reference} offers several disk types for ${formatPlatform(want.platform)}: ${types.join(', ')}; choose one with --disktype`);
  return chooseIndexEntry(index, { ...want, disktype: types[0]! }, reference);
}

/** The blob that holds the disk, and how to read it. */
export interface LayerChoice {
  /** null for an image layer: one-file or container-disk, told apart inside its tar. */
  readonly format: 'podman-machine' | 'oras' | null;
  readonly layer: Descriptor;
  /** The file's name: its title; null for a tar layer (the name is inside). */
  readonly title: string | null;
}

/** A config that says "no image here": OCI's empty descriptor, or what older ORAS wrote. */
const ARTIFACT_CONFIGS = new Set(['application/vnd.oci.empty.v1+json', 'application/vnd.unknown.config.v1+json', 'application/vnd.oras.config.v1+json']);

/** Layer types whose blob is a tar of files (an image layer). */
const TAR_LAYER = /^application\/vnd\.(oci\.image\.layer\.v1\.tar|docker\.image\.rootfs\.diff\.tar)(\.gzip|\+gzip|\+zstd)?$/;

export function isArtifact(manifest: ImageManifest): boolean {
  return Boolean(manifest.artifactType) || ARTIFACT_CONFIGS.has(manifest.config.mediaType);
}

/** Refuses a title that could leave the output directory (exit 4, nothing written). */
export function checkedTitle(title: string, reference: string): string {
  const problem = titleProblem(title);
  if (problem) throw new SourceError('PROTOCOL', `${reference}: the disk's title ${JSON.stringify(title)} is refused: ${problem}`, reference);
  return title;
}

/** The titled layer --file names, or the only one. */
function chooseTitled(layers: readonly Descriptor[], file: string | null, reference: string): Descriptor {
  const titles = layers.map((l) => l.annotations![TITLE]!);
  if (file !== null) {
    const i = titles.findIndex((t) => t === file || withoutCompressionSuffix(t) === file);
    if (i === -1) throw new SourceError('NOT_FOUND', `${reference} has no file ${JSON.stringify(file)}; it holds: ${titles.join(', ')}`, reference);
    return layers[i]!;
  }
  if (layers.length > 1) throw new UsageError(`${reference} holds several files: ${titles.join(', ')}; choose one with --file NAME`);
  return layers[0]!;
}

/**
 * Which layer of `manifest` holds the disk. `fromPodmanIndex`: the manifest
 * was chosen by a disktype annotation, so podman's rule applies (exactly one
 * layer, titled).
 */
export function chooseLayer(manifest: ImageManifest, fromPodmanIndex: boolean, file: string | null, reference: string): LayerChoice {
  const titled = manifest.layers.filter((l) => l.annotations?.[TITLE] !== undefined);
  for (const l of titled) checkedTitle(l.annotations![TITLE]!, reference);
  if (fromPodmanIndex) {
    if (manifest.layers.length !== 1 || titled.length !== 1) {
      throw new SourceError('PROTOCOL', `${reference}: a podman machine disk manifest has exactly one layer with a ${TITLE} annotation; this one has ${manifest.layers.length} layer(s), ${titled.length} titled`, reference);
    }
    if (file !== null) chooseTitled(titled, file, reference);
    return { format: 'podman-machine', layer: titled[0]!, title: titled[0]!.annotations![TITLE]! };
  }
  if (titled.length > 0 && (isArtifact(manifest) || titled.length === manifest.layers.length)) {
    const layer = chooseTitled(titled, file, reference);
    return { format: 'oras', layer, title: layer.annotations![TITLE]! };
  }
  if (isArtifact(manifest)) {
    throw new SourceError('PROTOCOL', `${reference} is an artifact without a titled layer (${TITLE}); there is no file name to pull`, reference);
  }
  if (manifest.layers.length !== 1) {
    throw new SourceError('PROTOCOL', `${reference} is an image of ${manifest.layers.length} layers; a disk image holds its disk in one layer (one file, or a file under disk/)`, reference);
  }
  const layer = manifest.layers[0]!;
  if (!TAR_LAYER.test(layer.mediaType)) throw new SourceError('PROTOCOL', `${reference}: its one layer is a ${layer.mediaType} without a title; there is no file name to pull`, reference);
  return { format: null, layer, title: null };
}
