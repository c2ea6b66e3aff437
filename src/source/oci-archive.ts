// ImageSource for an oci-archive: a tar of an OCI image layout. Blobs are
// streamed straight out of the tar by offset; nothing is extracted.

import type { Readable } from 'node:stream';
import { blobPath, digestOf } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import type { Reference } from '../oci/reference.js';
import { chooseTop, isFile, layoutTransport } from './layout-common.js';
import { TarFile } from './tar-file.js';
import type { FetchedManifest, ImageSource } from './types.js';

export class OciArchiveSource implements ImageSource {
  readonly description: string;
  private readonly reference: string;
  private readonly tag: string | null;
  private readonly tar: TarFile;

  constructor(
    file: string,
    image: Reference,
    /** The ref.name to pick out of the layout; null: the planned reference (or its tag). */
    private readonly name: string | null,
  ) {
    this.reference = image.toString();
    this.tag = name === null ? image.tag : null;
    this.description = `oci-archive ${file}`;
    this.tar = new TarFile(file, this.description, this.reference);
  }

  async getManifest(): Promise<FetchedManifest> {
    await this.tar.entry('oci-layout', 'oci-layout (is this an oci-archive?)');
    const index = await this.tar.readSmall('index.json', 'index.json');
    const top = chooseTop(index, this.name ?? this.reference, this.tag, this.description);
    if (top === 'index') return { bytes: index, mediaType: MediaType.OciIndex, digest: digestOf(index) };
    return this.getManifestByDigest(top);
  }

  async getManifestByDigest(desc: Descriptor): Promise<FetchedManifest> {
    const bytes = await this.tar.readSmall(blobPath(desc.digest), `manifest ${desc.digest}`);
    return { bytes, mediaType: desc.mediaType, digest: digestOf(bytes) };
  }

  async getBlob(desc: Descriptor): Promise<Readable> {
    return this.tar.stream(await this.tar.entry(blobPath(desc.digest), `blob ${desc.digest}`));
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
