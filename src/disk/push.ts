// `imgdesc push`: publishes a disk image so that podman machine and
// `imgdesc pull` find it. One manifest with one titled layer (the file,
// compressed on its way into a chunked upload) and an empty config; then an
// index at REF holding it under its platform (and, for podman machine, its
// disktype annotation), next to what the index already held for other
// platforms and disk types. An entry for the same platform and disktype is
// replaced.

import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { SourceError, UsageError } from '../errors.js';
import { digestOf } from '../oci/digest.js';
import { ManifestFormatError, parseManifest } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import { formatPlatform, type Platform } from '../oci/platform.js';
import type { Reference } from '../oci/reference.js';
import { RegistryHttpError } from '../registry/client.js';
import type { RegistryResolver } from '../registry/resolver.js';
import { registryFailure } from '../source/docker.js';
import { errnoText } from '../util/errno.js';
import { detectCompression, MAGIC_BYTES, SUFFIX, type Compression } from './compression.js';
import { compressedStream } from './compress.js';
import { checkedTitle, DISKTYPE, ociPlatform, podmanPlatform } from './select.js';
import { TITLE } from './title.js';

export type PushFormat = 'podman-machine' | 'oras';

export interface PushOptions {
  readonly file: string;
  readonly ref: Reference;
  readonly format: PushFormat;
  /** Required for podman-machine. */
  readonly disktype: string | null;
  readonly platform: Platform;
  /** How to compress a file that is not compressed yet. */
  readonly compress: Compression;
  readonly registries: RegistryResolver;
  readonly signal: AbortSignal;
  onUploaded?(bytes: number): void;
}

export interface PushResult {
  readonly reference: string;
  /** The index now at REF. */
  readonly digest: string;
  readonly manifest: string;
  readonly platform: string;
  readonly disktype: string | null;
  readonly format: PushFormat;
  readonly title: string;
  /** Bytes uploaded (compressed). */
  readonly size: number;
  /** Bytes of FILE; null when FILE was compressed already (pushed as it is). */
  readonly uncompressedSize: number | null;
  readonly compression: Compression;
}

/** What `oras push` marks an artifact with when told nothing else. */
const ORAS_ARTIFACT_TYPE = 'application/vnd.unknown.artifact.v1';
const EMPTY_CONFIG = { mediaType: 'application/vnd.oci.empty.v1+json', bytes: Buffer.from('{}') };
/** The layer's media type says what its bytes are. */
const LAYER_TYPE: Readonly<Record<Compression, string>> = {
  zstd: 'application/zstd',
  xz: 'application/x-xz',
  gzip: 'application/gzip',
  bzip2: 'application/x-bzip2',
  none: 'application/octet-stream',
};

/** The first bytes of FILE, which must be a regular file. */
async function headOf(file: string): Promise<{ head: Buffer; size: number }> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new UsageError(`push: ${file} is not a regular file`);
    const fh = await open(file, 'r');
    try {
      const head = Buffer.alloc(MAGIC_BYTES);
      const { bytesRead } = await fh.read(head, 0, head.length, 0);
      return { head: head.subarray(0, bytesRead), size: info.size };
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`push: cannot read ${file}: ${errnoText(err)}`);
  }
}

/** A file compressed already is pushed as it is, under its own name (with the suffix its bytes call for). */
function planned(file: string, head: Buffer, compress: Compression): { compression: Compression; recompress: boolean; title: string } {
  const already = detectCompression(head);
  const name = basename(file);
  if (already !== 'none') return { compression: already, recompress: false, title: name.toLowerCase().endsWith(SUFFIX[already]) ? name : `${name}${SUFFIX[already]}` };
  return { compression: compress, recompress: compress !== 'none', title: compress === 'none' ? name : `${name}${SUFFIX[compress as 'zstd']}` };
}

/** The platform as the index entry spells it: podman's x86_64/aarch64, or OCI's (arm64 without its default v8). */
export function entryPlatform(format: PushFormat, platform: Platform): Platform {
  if (format === 'podman-machine') return podmanPlatform(platform);
  const p = ociPlatform(platform);
  return p.architecture === 'arm64' && p.variant === 'v8' ? { os: p.os, architecture: p.architecture } : p;
}

/** The same slot of an index: platform (either spelling) and disktype. */
function sameSlot(entry: Record<string, unknown>, platform: Platform, disktype: string | null): boolean {
  const p = entry.platform as Platform | undefined;
  const annotations = (entry.annotations ?? {}) as Record<string, unknown>;
  if (!p || typeof p.os !== 'string' || typeof p.architecture !== 'string') return false;
  const a = ociPlatform(p);
  const b = ociPlatform(platform);
  return a.os === b.os && a.architecture === b.architecture && (a.variant ?? '') === (b.variant ?? '') && (annotations[DISKTYPE] ?? null) === disktype;
}

export async function pushDisk(opts: PushOptions): Promise<PushResult> {
  if (opts.ref.digest) throw new UsageError(`push: ${opts.ref} names a digest; push to a tag`);
  if (opts.format === 'podman-machine' && !opts.disktype) throw new UsageError('push: --format podman-machine needs --disktype NAME (qemu, applehv, hyperv, wsl)');
  const { head, size: fileSize } = await headOf(opts.file);
  const plan = planned(opts.file, head, opts.compress);
  const title = checkedTitle(plan.title, opts.ref.toString());
  const target = opts.registries.pushTarget(opts.ref);
  const display = opts.ref.toString();
  const platform = entryPlatform(opts.format, opts.platform);
  try {
    const stream = await compressedStream(opts.file, plan.recompress ? plan.compression : 'none', opts.signal);
    const layer = await target.writer.putBlobStream(stream, opts.signal, { onBytes: opts.onUploaded });
    const config = await target.writer.putBlob(EMPTY_CONFIG.bytes, opts.signal);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        ...(opts.format === 'oras' ? { artifactType: ORAS_ARTIFACT_TYPE } : {}),
        config: { mediaType: EMPTY_CONFIG.mediaType, digest: config.digest, size: config.size, data: EMPTY_CONFIG.bytes.toString('base64') },
        layers: [{ mediaType: LAYER_TYPE[plan.compression], digest: layer.digest, size: layer.size, annotations: { [TITLE]: title } }],
      }),
    );
    const manifestDigest = await target.writer.putManifest(digestOf(manifest), manifest, MediaType.OciManifest, opts.signal);
    const entry = {
      mediaType: MediaType.OciManifest,
      digest: manifestDigest,
      size: manifest.length,
      platform,
      ...(opts.format === 'podman-machine' ? { annotations: { [DISKTYPE]: opts.disktype! } } : {}),
    };
    const index = await mergedIndex(target.reader, opts, entry, platform);
    const digest = await target.writer.putManifest(opts.ref.tag ?? 'latest', index, MediaType.OciIndex, opts.signal);
    return {
      reference: display,
      digest,
      manifest: manifestDigest,
      platform: formatPlatform(platform),
      disktype: opts.format === 'podman-machine' ? opts.disktype : null,
      format: opts.format,
      title,
      size: layer.size,
      uncompressedSize: plan.compression === 'none' || plan.recompress ? fileSize : null,
      compression: plan.compression,
    };
  } catch (err) {
    throw pushFailure(err, display, opts);
  }
}

/**
 * The index REF should hold: what it holds now (entries kept as they were
 * written, unknown fields included) without the entry for this slot, plus the new one.
 */
async function mergedIndex(reader: ReturnType<RegistryResolver['pushTarget']>['reader'], opts: PushOptions, entry: Record<string, unknown>, platform: Platform): Promise<Buffer> {
  const display = opts.ref.toString();
  let doc: Record<string, unknown> = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
  try {
    const current = await reader.manifest(opts.ref.tag ?? 'latest', opts.signal);
    const kind = parseManifest(current.bytes, current.mediaType || null).kind;
    if (kind !== 'index') throw new SourceError('PROTOCOL', `${display} holds a single manifest, not an index; push to another tag, or delete that one first`, display);
    doc = JSON.parse(current.bytes.toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof ManifestFormatError) throw new SourceError('PROTOCOL', `${display}: the index there is not valid: ${err.message}`, display, { cause: err });
    if (!(err instanceof RegistryHttpError && err.kind === 'not-found')) throw err;
  }
  const kept = (doc.manifests as Array<Record<string, unknown>>).filter((m) => !sameSlot(m, platform, (entry.annotations as Record<string, string> | undefined)?.[DISKTYPE] ?? null));
  return Buffer.from(JSON.stringify({ ...doc, schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [...kept, entry] }));
}

function pushFailure(err: unknown, display: string, opts: PushOptions): unknown {
  if (opts.signal.aborted) return opts.signal.reason;
  const e = err as { code?: string };
  if (e.code === 'ENOENT' && !(err instanceof RegistryHttpError)) return new UsageError(`push: compressing with ${opts.compress} needs the ${opts.compress} command, which is not installed`);
  return registryFailure(err, display, opts.ref.registry, 'push');
}
