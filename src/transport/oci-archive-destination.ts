// ImageDestination writing an oci-archive directly with tar-stream: blobs are
// streamed into tar entries as they arrive, into a temporary file beside the
// target that is renamed over it only when complete. The archive holds:
//   oci-layout, blobs/<alg>/<hex>..., index.json (one manifest, named by the
//   full reference), manifest.json (Docker's classic loader format).
// Entries are written in a fixed order with fixed owner, mode and mtime, so
// the same image gives the same bytes.

import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar, { type Header } from 'tar-stream';

type EntryHeader = Partial<Header> & Pick<Header, 'name'>;
import { OutputError } from '../errors.js';
import { blobPath } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import type { Platform } from '../oci/platform.js';
import { REF_NAME } from './layout-common.js';
import type { FetchedManifest, ImageDestination } from './types.js';

export interface ArchiveOptions {
  /** Full reference recorded in index.json and manifest.json. */
  readonly reference: string;
  /** Entry mtime (SOURCE_DATE_EPOCH), seconds since the epoch. */
  readonly mtime: number;
  readonly platform?: Platform;
}

/** Temporary files carry this marker so an interrupted build can be cleaned up. */
export const TEMP_MARKER = '.imgdesc-tmp-';

export class OciArchiveDestination implements ImageDestination {
  readonly description: string;
  private readonly tmp: string;
  private readonly pack = tar.pack();
  private readonly written = new Set<string>();
  private output: Promise<void> | null = null;
  private done = false;

  constructor(
    readonly target: string,
    private readonly options: ArchiveOptions,
  ) {
    this.description = `oci-archive ${target}`;
    this.tmp = join(dirname(target), `${TEMP_MARKER}${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}`);
  }

  private header(name: string, size: number, type: 'file' | 'directory' = 'file'): EntryHeader {
    return {
      name,
      size: type === 'file' ? size : 0,
      type,
      mode: type === 'file' ? 0o644 : 0o755,
      uid: 0,
      gid: 0,
      uname: '',
      gname: '',
      mtime: new Date(this.options.mtime * 1000),
    };
  }

  private fail(err: unknown, what: string): OutputError {
    if (err instanceof OutputError) return err;
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOSPC' ? 'no space left on the device' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EROFS' ? 'read-only file system' : code === 'ENOTDIR' ? 'a parent of the path is not a directory' : (err as Error).message;
    return new OutputError(`cannot ${what} ${this.target}: ${reason}`, this.target, { cause: err });
  }

  /** Creates the temporary file and writes the fixed head of the archive. */
  async open(): Promise<void> {
    try {
      await mkdir(dirname(this.target), { recursive: true });
    } catch (err) {
      throw this.fail(err, 'create the directory for');
    }
    const file = createWriteStream(this.tmp, { flags: 'wx', mode: 0o644 });
    await new Promise<void>((resolve, reject) => {
      file.once('open', () => resolve());
      file.once('error', (err) => reject(this.fail(err, 'write')));
    });
    this.output = pipeline(this.pack, file).catch((err: unknown) => {
      throw this.fail(err, 'write');
    });
    // Keep an early failure (e.g. ENOSPC) from being reported as unhandled before commit awaits it.
    this.output.catch(() => undefined);
    await this.entry(this.header('oci-layout', 0), Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
    await this.entry(this.header('blobs/', 0, 'directory'));
    await this.entry(this.header('blobs/sha256/', 0, 'directory'));
  }

  private entry(header: EntryHeader, content?: Buffer): Promise<void> {
    if (content) header.size = content.length;
    return new Promise((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (header.type === 'directory') this.pack.entry(header, done);
      else this.pack.entry(header, content ?? Buffer.alloc(0), done);
    });
  }

  async putBlob(desc: Descriptor, stream: Readable): Promise<void> {
    if (this.written.has(desc.digest)) {
      stream.destroy();
      return;
    }
    const sink = this.pack.entry(this.header(blobPath(desc.digest), desc.size));
    try {
      await pipeline(stream, sink);
    } catch (err) {
      // The pack cannot continue after a broken entry; the whole archive is abandoned.
      this.pack.destroy(err as Error);
      throw err;
    }
    this.written.add(desc.digest);
  }

  async commit(manifest: FetchedManifest, details: { config: Descriptor; layers: readonly Descriptor[] }): Promise<void> {
    const type = manifest.mediaType || MediaType.OciManifest;
    if (!this.written.has(manifest.digest)) {
      await this.entry(this.header(blobPath(manifest.digest), manifest.bytes.length), manifest.bytes);
      this.written.add(manifest.digest);
    }
    const ref = this.options.reference;
    const top: Record<string, unknown> = {
      mediaType: type,
      digest: manifest.digest,
      size: manifest.bytes.length,
      annotations: { 'io.containerd.image.name': ref, [REF_NAME]: ref },
    };
    if (this.options.platform) top.platform = { ...this.options.platform };
    const index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [top] };
    await this.entry(this.header('index.json', 0), Buffer.from(JSON.stringify(index)));
    // Docker 20.10's loader reads only manifest.json; without it `docker load`
    // fails on an OCI archive looking for blobs/json.
    const dockerManifest = [{ Config: blobPath(details.config.digest), RepoTags: [ref], Layers: details.layers.map((l) => blobPath(l.digest)) }];
    await this.entry(this.header('manifest.json', 0), Buffer.from(JSON.stringify(dockerManifest)));
    this.pack.finalize();
    await this.output;
    // No fsync before the rename: a build root is not meant to survive a
    // power cut (skopeo writes its oci-archive in place and never syncs it),
    // and waiting for the disk took a third of a warm build's time. The
    // rename still keeps a failed or interrupted build from leaving a partial
    // archive at the final path.
    try {
      await rename(this.tmp, this.target);
    } catch (err) {
      throw this.fail(err, 'move the finished archive to');
    }
    this.done = true;
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.pack.destroy();
    await this.output?.catch(() => undefined);
    await rm(this.tmp, { force: true });
  }
}
