// `imgdesc pull`: one disk out of a registry image, an OCI layout or an
// oci-archive, in one pass: download -> verify digest -> decompress -> write.
// No compressed copy is kept; the file is written under a temporary name and
// renamed only after the blob's digest checked out, so a mismatch, a failure
// or an interruption leaves nothing at OUTPUT.

import { stat } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OutputError, SourceError } from '../errors.js';
import { DigestCheck, DigestMismatchError, VerifyingStream } from '../oci/digest.js';
import { ManifestFormatError, parseManifest, type Descriptor, type ImageManifest } from '../oci/manifest.js';
import { formatPlatform } from '../oci/platform.js';
import type { RegistryResolver } from '../registry/resolver.js';
import { verifyImage, type TrustConfig, type Verdict } from '../signatures/verify.js';
import type { FetchedManifest, ImageSource } from '../source/types.js';
import { isFsError, errnoText } from '../util/errno.js';
import { decompressedName, type Compression } from './compression.js';
import { DecompressError, DiskSink, layerDecoder } from './decode.js';
import { DiskOutput } from './output.js';
import type { DiskRef } from './reference.js';
import { checkedTitle, chooseIndexEntry, chooseLayer, type DiskFormat, type DiskWanted } from './select.js';

export interface PullOptions {
  readonly ref: DiskRef;
  /** A file path, or an existing directory. */
  readonly output: string;
  readonly want: DiskWanted;
  /** false: write the bytes as stored (--no-decompress). */
  readonly decompress: boolean;
  readonly registries: RegistryResolver;
  readonly signal: AbortSignal;
  readonly progress?: PullProgress;
  /** The signature policy; undefined: none consulted. */
  readonly trust?: TrustConfig;
}

/** What a progress display is told; the bytes written it reads from `temp` itself. */
export interface PullProgress {
  started(info: { name: string; total: number; temp: string }): void;
  downloaded(bytes: number): void;
}

export interface PullResult {
  readonly reference: string;
  /** The manifest the disk came from (REF@digest pulls it again, whatever the platform). */
  readonly digest: string;
  /** The index it was chosen from, if any. */
  readonly index: string | null;
  readonly platform: string | null;
  readonly disktype: string | null;
  readonly format: DiskFormat;
  /** The file's name as published: its title, or its path in the layer. */
  readonly title: string;
  /** Where it was written. */
  readonly file: string;
  /** Bytes as stored (compressed). */
  readonly size: number;
  /** Bytes written after decompression; null with --no-decompress. */
  readonly uncompressedSize: number | null;
  readonly compression: Compression;
  /** The policy requirements that accepted the image; null when none was consulted. */
  readonly accepted: Verdict;
}

interface Chosen {
  readonly manifestDigest: string;
  readonly manifest: ImageManifest;
  readonly index: string | null;
  readonly platform: string | null;
  readonly disktype: string | null;
}

function parsed(m: FetchedManifest, what: string, reference: string) {
  try {
    return parseManifest(m.bytes, m.mediaType || null);
  } catch (err) {
    if (err instanceof ManifestFormatError) throw new SourceError('PROTOCOL', `${reference}: ${what}: ${err.message}`, reference, { cause: err });
    throw err;
  }
}

function checkDigest(m: FetchedManifest, expected: string, what: string, reference: string): void {
  if (m.digest !== expected) throw new SourceError('DIGEST', `${reference}: ${what} has digest ${m.digest}, expected ${expected}`, reference);
}

/** The top manifest, and the index entry for the wanted platform and disktype when it is an index. */
async function chooseManifest(source: ImageSource, opts: PullOptions): Promise<Chosen> {
  const reference = opts.ref.display;
  const top = await source.getManifest(opts.signal);
  if (opts.ref.image.digest && opts.ref.source.transport === 'docker') checkDigest(top, opts.ref.image.digest, 'the manifest', reference);
  const doc = parsed(top, 'manifest', reference);
  if (doc.kind === 'manifest') return { manifestDigest: top.digest, manifest: doc, index: null, platform: null, disktype: null };
  const entry = chooseIndexEntry(doc, opts.want, reference);
  const fetched = await source.getManifestByDigest(entry.descriptor, opts.signal);
  checkDigest(fetched, entry.descriptor.digest, `manifest ${entry.descriptor.digest}`, reference);
  const manifest = parsed(fetched, `manifest ${entry.descriptor.digest}`, reference);
  if (manifest.kind !== 'manifest') throw new SourceError('PROTOCOL', `${reference}: the index entry for ${formatPlatform(opts.want.platform)} is another index; nested indexes are not followed`, reference);
  return { manifestDigest: fetched.digest, manifest, index: top.digest, platform: entry.platform ? formatPlatform(entry.platform) : null, disktype: entry.disktype };
}

/** Bytes each stage may hold: several network chunks, so that one full stage does not stop the others at every chunk. */
const FLOW = 1024 * 1024;

/** Counts bytes on their way, for progress (only when someone watches: each stage costs time per chunk). */
function counter(report: (n: number) => void): Transform {
  return new Transform({
    highWaterMark: FLOW,
    transform(chunk: Buffer, _enc, done) {
      report(chunk.length);
      done(null, chunk);
    },
  });
}

/** Turns what a failed transfer threw into the error the user sees. */
function failure(err: unknown, layer: Descriptor, opts: PullOptions): unknown {
  const reference = opts.ref.display;
  if (opts.signal.aborted) return opts.signal.reason;
  if (err instanceof DigestMismatchError) return new SourceError('DIGEST', `${reference}: blob ${layer.digest}: ${err.message}; nothing was written`, reference, { cause: err });
  if (err instanceof DecompressError) return new SourceError('PROTOCOL', `${reference}: blob ${layer.digest}: ${err.message}`, reference, { cause: err });
  if (isFsError(err) && !(err instanceof SourceError)) return new OutputError(`${opts.output}: ${errnoText(err)}`, opts.output, { cause: err });
  return err;
}

export async function pullDisk(opts: PullOptions): Promise<PullResult> {
  // The decompressors run through execa; loading it while the manifests are on their way costs no time.
  if (opts.decompress) import('execa').catch(() => undefined);
  try {
    return await pullWith(opts);
  } catch (err) {
    // Whatever broke off when SIGINT/SIGTERM came, the interruption is the answer (exit 130/143).
    throw opts.signal.aborted ? opts.signal.reason : err;
  }
}

async function pullWith(opts: PullOptions): Promise<PullResult> {
  const reference = opts.ref.display;
  const source = opts.ref.source.open({ image: opts.ref.image, registries: opts.registries });
  try {
    const chosen = await chooseManifest(source, opts);
    // The policy decides on the top-level manifest, before the disk's blob is asked for.
    const target = { identity: opts.ref.image, digest: chosen.index ?? chosen.manifestDigest, served: source.served };
    const accepted = await verifyImage(opts.trust, target, opts.signal);
    const pick = chooseLayer(chosen.manifest, chosen.disktype !== null, opts.want.file, reference);
    const output = await DiskOutput.prepare(opts.output);
    const layer = pick.layer;
    try {
      const blob = await source.getBlob(layer, opts.signal);
      opts.progress?.started({ name: pick.title ?? reference, total: layer.size, temp: output.temp });
      const check = new DigestCheck(layer, source.blobsVerified === true);
      const stages = opts.progress ? [blob, counter(opts.progress.downloaded)] : [blob];
      const written = pick.title !== null ? await writeTitled(stages, check, pick.title, output, opts) : await writeFromLayer(stages, check, layer, output, opts);
      const file = await output.commit(written.name);
      return {
        reference,
        digest: chosen.manifestDigest,
        index: chosen.index,
        platform: chosen.platform,
        disktype: chosen.disktype,
        format: pick.format ?? written.format!,
        title: written.title,
        file,
        size: written.size,
        uncompressedSize: opts.decompress ? written.bytes : null,
        compression: written.compression,
        accepted,
      };
    } catch (err) {
      await output.discard();
      throw failure(err, layer, opts);
    }
  } finally {
    await source.close();
  }
}

interface Written {
  readonly name: string;
  readonly title: string;
  readonly size: number;
  readonly bytes: number;
  readonly compression: Compression;
  readonly format?: DiskFormat;
}

type Stages = ReadonlyArray<Readable | Transform>;

const sizeOf = async (output: DiskOutput) => (await stat(output.temp)).size;

/** A titled layer: the blob is the (maybe compressed) disk itself, checked by the sink as it writes. */
async function writeTitled(stages: Stages, check: DigestCheck, title: string, output: DiskOutput, opts: PullOptions): Promise<Written> {
  const sink = new DiskSink(() => output.openTemp(), opts.decompress, opts.signal, check);
  await pipeline([...stages, sink], { signal: opts.signal });
  const compression = sink.compression ?? 'none';
  const name = checkedTitle(decompressedName(title, compression), opts.ref.display);
  return { name, title, size: check.expected.size, bytes: await sizeOf(output), compression };
}

/** An image layer: the disk is a file in its tar, found as the tar streams past; the blob is checked before the tar is read. */
async function writeFromLayer(stages: Stages, check: DigestCheck, layer: Descriptor, output: DiskOutput, opts: PullOptions): Promise<Written> {
  let sink: DiskSink | null = null;
  // tar-stream loads only for the formats that need it.
  const { layerPicker } = await import('./tar-entry.js');
  const picker = layerPicker({
    file: opts.want.file,
    reference: opts.ref.display,
    newSink: () => (sink = new DiskSink(() => output.openTemp(), opts.decompress, opts.signal)),
  });
  await pipeline([...stages, new VerifyingStream(check, { highWaterMark: FLOW }), await layerDecoder(layer.mediaType), picker.sink], { signal: opts.signal });
  const entry = picker.picked();
  const compression = (sink as DiskSink | null)?.compression ?? 'none';
  const base = entry.path.slice(entry.path.lastIndexOf('/') + 1);
  const name = checkedTitle(decompressedName(base, compression), opts.ref.display);
  return { name, title: entry.path, size: entry.size, bytes: await sizeOf(output), compression, format: entry.format };
}
