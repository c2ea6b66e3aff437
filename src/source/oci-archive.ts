// ImageSource for an oci-archive: a tar of an OCI image layout. Blobs are
// streamed straight out of the tar by offset; nothing is extracted.

import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { SourceError } from '../errors.js';
import { blobPath, digestOf } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { MAX_MANIFEST_BYTES, MediaType } from '../oci/media-types.js';
import { indexTar, type TarEntry } from '../oci/tar-index.js';
import type { Reference } from '../oci/reference.js';
import { chooseTop, isFile, layoutTransport } from './layout-common.js';
import type { FetchedManifest, ImageSource } from './types.js';

export class OciArchiveSource implements ImageSource {
  readonly description: string;
  private readonly reference: string;
  private readonly tag: string | null;
  private entries: Map<string, TarEntry> | null = null;

  constructor(
    private readonly file: string,
    image: Reference,
    /** The ref.name to pick out of the layout; null: the planned reference (or its tag). */
    private readonly name: string | null,
  ) {
    this.reference = image.toString();
    this.tag = name === null ? image.tag : null;
    this.description = `oci-archive ${file}`;
  }

  private async index(): Promise<Map<string, TarEntry>> {
    if (!this.entries) {
      try {
        this.entries = await indexTar(this.file);
      } catch (err) {
        throw new SourceError('PROTOCOL', `${this.description}: cannot read the archive: ${(err as Error).message}`, this.reference, { cause: err });
      }
    }
    return this.entries;
  }

  private async entry(name: string, what: string): Promise<TarEntry> {
    const e = (await this.index()).get(name);
    if (!e) throw new SourceError('NOT_FOUND', `${this.description}: ${what} is missing (no ${name} in the archive)`, this.reference);
    return e;
  }

  private async readSmall(name: string, what: string): Promise<Buffer> {
    const e = await this.entry(name, what);
    if (e.size > MAX_MANIFEST_BYTES) throw new SourceError('PROTOCOL', `${this.description}: ${what} is over ${MAX_MANIFEST_BYTES} bytes`, this.reference);
    const fh = await open(this.file, 'r');
    try {
      const buf = Buffer.alloc(e.size);
      await fh.read(buf, 0, e.size, e.offset);
      return buf;
    } finally {
      await fh.close();
    }
  }

  async getManifest(): Promise<FetchedManifest> {
    await this.entry('oci-layout', 'oci-layout (is this an oci-archive?)');
    const index = await this.readSmall('index.json', 'index.json');
    const top = chooseTop(index, this.name ?? this.reference, this.tag, this.description);
    if (top === 'index') return { bytes: index, mediaType: MediaType.OciIndex, digest: digestOf(index) };
    return this.getManifestByDigest(top);
  }

  async getManifestByDigest(desc: Descriptor): Promise<FetchedManifest> {
    const bytes = await this.readSmall(blobPath(desc.digest), `manifest ${desc.digest}`);
    return { bytes, mediaType: desc.mediaType, digest: digestOf(bytes) };
  }

  async getBlob(desc: Descriptor): Promise<Readable> {
    const e = await this.entry(blobPath(desc.digest), `blob ${desc.digest}`);
    // The whole tar entry: when its size differs from the descriptor's, the
    // copy step's verification reports the mismatch.
    if (e.size === 0) return Readable.from([]);
    return createReadStream(this.file, { start: e.offset, end: e.offset + e.size - 1 });
  }

  async close(): Promise<void> {}
}

const layout = layoutTransport({
  transport: 'oci-archive',
  present: (path) => isFile(path),
  open: (path, image, name) => new OciArchiveSource(path, image, name),
});

/** oci-archive:PATH[:NAME] */
export const ociArchiveRef = layout.ref;
export const ociArchiveTransport = layout.transport;
