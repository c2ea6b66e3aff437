// ImageSource for an OCI image layout directory (oci: in containers/image terms).

import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { SourceError } from '../errors.js';
import { blobPath, digestOf } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { MAX_MANIFEST_BYTES, MediaType } from '../oci/media-types.js';
import type { Reference } from '../oci/reference.js';
import { chooseTop, isFile, layoutTransport } from './layout-common.js';
import type { FetchedManifest, ImageSource } from './types.js';

export class OciLayoutSource implements ImageSource {
  readonly description: string;
  private readonly reference: string;
  private readonly tag: string | null;
  constructor(
    private readonly dir: string,
    image: Reference,
    /** The ref.name to pick out of the layout; null: the planned reference (or its tag). */
    private readonly name: string | null,
  ) {
    this.reference = image.toString();
    this.tag = name === null ? image.tag : null;
    this.description = `OCI layout ${dir}`;
  }

  private async readSmall(rel: string, what: string): Promise<Buffer> {
    const file = join(this.dir, rel);
    try {
      const info = await stat(file);
      if (info.size > MAX_MANIFEST_BYTES) throw new SourceError('PROTOCOL', `${this.description}: ${what} is over ${MAX_MANIFEST_BYTES} bytes`, this.reference);
      return await readFile(file);
    } catch (err) {
      if (err instanceof SourceError) throw err;
      throw new SourceError('NOT_FOUND', `${this.description}: ${what} (${file}) cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, this.reference, { cause: err });
    }
  }

  async getManifest(): Promise<FetchedManifest> {
    const layout = await this.readSmall('oci-layout', 'oci-layout');
    if (!/"imageLayoutVersion"/.test(layout.toString('utf8'))) throw new SourceError('PROTOCOL', `${this.description}: oci-layout has no imageLayoutVersion`, this.reference);
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
    const file = join(this.dir, blobPath(desc.digest));
    try {
      await stat(file);
    } catch (err) {
      throw new SourceError('NOT_FOUND', `${this.description}: blob ${desc.digest} is missing (${file})`, this.reference, { cause: err });
    }
    return createReadStream(file);
  }

  async close(): Promise<void> {}
}

const layout = layoutTransport({
  transport: 'oci',
  present: (path) => isFile(join(path, 'oci-layout')),
  open: (path, image, name) => new OciLayoutSource(path, image, name),
});

/** oci:PATH[:NAME] */
export const ociLayoutRef = layout.ref;
export const ociLayoutTransport = layout.transport;
