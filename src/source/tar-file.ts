// Reading files out of an uncompressed tar in place: the headers are indexed
// once, then small files are read whole and blobs streamed by offset, so an
// archive is never extracted.

import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { SourceError } from '../errors.js';
import { MAX_MANIFEST_BYTES } from '../oci/media-types.js';
import { indexTar, type TarEntry } from '../oci/tar-index.js';
import { errnoText } from '../util/errno.js';

export class TarFile {
  private entries: Promise<Map<string, TarEntry>> | null = null;

  constructor(
    readonly file: string,
    /** For messages: "oci-archive FILE". */
    private readonly where: string,
    /** The image asked for, named in errors. */
    private readonly reference: string,
  ) {}

  /** Every file entry, by normalised name. */
  index(): Promise<Map<string, TarEntry>> {
    this.entries ??= indexTar(this.file).catch(
      (err: unknown) => {
        throw new SourceError('PROTOCOL', `${this.where}: cannot read the archive: ${errnoText(err)}`, this.reference, { cause: err });
      },
    );
    return this.entries;
  }

  async entry(name: string, what: string): Promise<TarEntry> {
    const e = (await this.index()).get(name);
    if (!e) throw new SourceError('NOT_FOUND', `${this.where}: ${what} is missing (no ${name} in the archive)`, this.reference);
    return e;
  }

  /** A small file (a manifest, index or config), read whole; refused over the manifest size limit. */
  async readSmall(name: string, what: string): Promise<Buffer> {
    const e = await this.entry(name, what);
    if (e.size > MAX_MANIFEST_BYTES) throw new SourceError('PROTOCOL', `${this.where}: ${what} is over ${MAX_MANIFEST_BYTES} bytes`, this.reference);
    return this.read(e, e.size);
  }

  /** The first `length` bytes of an entry (fewer when it is shorter). */
  async read(e: TarEntry, length: number): Promise<Buffer> {
    const fh = await open(this.file, 'r');
    try {
      const buf = Buffer.alloc(Math.min(length, e.size));
      await fh.read(buf, 0, buf.length, e.offset);
      return buf;
    } finally {
      await fh.close();
    }
  }

  /** The whole entry as a stream: when its size differs from a descriptor's, the copy step's verification says so. */
  stream(e: TarEntry): Readable {
    if (e.size === 0) return Readable.from([]);
    return createReadStream(this.file, { start: e.offset, end: e.offset + e.size - 1 });
  }
}
