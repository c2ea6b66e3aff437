// The disk inside an image layer, found while the layer streams past (no copy
// of the layer is kept): a file directly under disk/ (KubeVirt's
// containerDisk, KIWI's OCI disk container), else the one regular file of the
// layer (FROM scratch + COPY disk.qcow2.xz /). The first candidate is written
// as it arrives; a disk/ file seen later replaces a candidate from elsewhere.
// Several candidates of the same rank need --file, and are found out only
// when the second one arrives: then the pull fails and writes nothing.

import { posix } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { SourceError, UsageError } from '../errors.js';
import { titleProblem } from './title.js';

export interface PickedEntry {
  /** Its path in the layer, normalised (no leading "./" or "/"). */
  readonly path: string;
  readonly format: 'one-file' | 'container-disk';
  /** Bytes of the file as stored in the layer. */
  readonly size: number;
}

const normalise = (name: string) => name.replace(/^(\.?\/)+/, '');
const underDisk = (path: string) => /^disk\/[^/]+$/.test(path);
const matches = (path: string, file: string) => path === normalise(file) || posix.basename(path) === file;

/** A file the layer holds; refused when its name could not be a plain file name here. */
function checked(path: string, reference: string): string {
  const parts = path.split('/');
  const problem = parts.includes('..') ? 'it contains ".."' : titleProblem(parts[parts.length - 1]!);
  if (problem) throw new SourceError('PROTOCOL', `${reference}: the file ${JSON.stringify(path)} in its layer is refused: ${problem}`, reference);
  return path;
}

export interface LayerPicker {
  /** Takes the uncompressed tar, to its end; the end of a pipeline that verifies the layer. */
  readonly sink: Writable;
  /** After the sink finished: the file written, or why there is none. */
  picked(): PickedEntry;
}

/**
 * Reads an uncompressed tar, writing the disk file's bytes into a sink from
 * `newSink` (a new one, on an emptied file, whenever a better candidate turns up).
 */
export function layerPicker(opts: { file: string | null; reference: string; newSink: () => Writable }): LayerPicker {
  const extract = tar.extract();
  let picked: PickedEntry | null = null;
  /** Files that compete without a disk/ file among them (two or more: none may be taken). */
  const loose: string[] = [];
  const consider = (path: string): boolean => {
    if (opts.file !== null) {
      if (!matches(path, opts.file)) return false;
      if (picked) throw new UsageError(`${opts.reference}: its layer holds several files that --file ${opts.file} names: ${picked.path}, ${path}`);
      return true;
    }
    if (underDisk(path)) {
      if (picked && underDisk(picked.path)) throw new UsageError(`${opts.reference}: its layer holds several disks under disk/: ${picked.path}, ${path}; choose one with --file NAME`);
      return true;
    }
    loose.push(path);
    return !picked && loose.length === 1;
  };
  extract.on('entry', (header, stream, next) => {
    const path = normalise(header.name);
    const regular = header.type === 'file' || header.type === 'contiguous-file';
    let take = false;
    try {
      take = regular && !posix.basename(path).startsWith('.wh.') && consider(path);
      if (take) checked(path, opts.reference);
    } catch (err) {
      // The entry's stream ends with the extract's error; that error is the pipeline's to report, once.
      stream.on('error', () => undefined);
      extract.destroy(err as Error);
      return;
    }
    if (!take) {
      // A second loose file takes away the first one's claim.
      if (picked?.format === 'one-file' && loose.length > 1) picked = null;
      stream.on('end', next).resume();
      return;
    }
    const entry: PickedEntry = { path, format: underDisk(path) ? 'container-disk' : 'one-file', size: header.size ?? 0 };
    pipeline(stream, opts.newSink()).then(
      () => {
        picked = entry;
        next();
      },
      (err: unknown) => extract.destroy(err as Error),
    );
  });
  // tar-stream's streams are streamx ones; Node's pipeline drives them through their Writable face.
  return { sink: extract as unknown as Writable, picked: () => outcome(picked, loose, opts) };
}

function outcome(picked: PickedEntry | null, loose: readonly string[], opts: { file: string | null; reference: string }): PickedEntry {
  if (picked) return picked;
  if (opts.file !== null) throw new SourceError('NOT_FOUND', `${opts.reference}: its layer has no file ${JSON.stringify(opts.file)}`, opts.reference);
  if (loose.length === 0) throw new SourceError('PROTOCOL', `${opts.reference}: its layer holds no regular file`, opts.reference);
  throw new UsageError(`${opts.reference}: its layer holds several files and none under disk/: ${loose.slice(0, 10).join(', ')}${loose.length > 10 ? ', …' : ''}; choose one with --file NAME`);
}
