// The docker-archive transport: `docker-archive:FILE[:REF]`, a tar that
// `docker save` or `podman save` writes (manifest.json, a config file, one
// tar per layer). Such an archive holds no manifest, so one is synthesised:
// an OCI manifest over the config and the layer files as they are. Its digest
// differs from any registry's, but it is the same for the same archive, and
// the config digest is the image ID.

import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { SourceError } from '../errors.js';
import { digestOf, isDigest } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import { Reference } from '../oci/reference.js';
import type { TarEntry } from '../oci/tar-index.js';
import { isFile, splitPathAndName } from './layout-common.js';
import { TarFile } from './tar-file.js';
import type { FetchedManifest, ImageSource, SourceContext, SourceRef, Transport } from './types.js';

interface SavedImage {
  readonly Config: string;
  readonly RepoTags: readonly string[];
  readonly Layers: readonly string[];
}

const LAYER_TYPES = {
  tar: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

/** A layer file's compression, by its first bytes. */
function layerType(head: Buffer): string {
  if (head[0] === 0x1f && head[1] === 0x8b) return LAYER_TYPES.gzip;
  if (head.readUInt32LE(0) === 0xfd2fb528) return LAYER_TYPES.zstd;
  return LAYER_TYPES.tar;
}

function isSavedImage(v: unknown): v is SavedImage {
  const o = v as SavedImage;
  return typeof o === 'object' && o !== null && typeof o.Config === 'string' && Array.isArray(o.Layers) && o.Layers.every((l) => typeof l === 'string') && (o.RepoTags === null || o.RepoTags === undefined || (Array.isArray(o.RepoTags) && o.RepoTags.every((t) => typeof t === 'string')));
}

/** A name as docker writes it ("busybox:1") or in full; both name the same image. */
function sameName(a: string, b: string): boolean {
  const full = (n: string) => {
    try {
      return Reference.parseFamiliar(n).toString();
    } catch {
      return n;
    }
  };
  return a === b || full(a) === full(b);
}

export class DockerArchiveSource implements ImageSource {
  readonly description: string;
  readonly platformMustMatch = true;
  private readonly reference: string;
  private readonly tar: TarFile;
  /** Blob digest -> the tar entry holding it. */
  private readonly blobs = new Map<string, TarEntry>();
  private manifest: Promise<FetchedManifest> | null = null;

  constructor(
    file: string,
    image: Reference,
    /** The RepoTags name to pick; null: the planned reference, or the only image. */
    private readonly name: string | null,
    description = `docker-archive ${file}`,
  ) {
    this.reference = image.toString();
    this.description = description;
    this.tar = new TarFile(file, description, this.reference);
  }

  private async saved(): Promise<SavedImage> {
    let doc: unknown;
    try {
      doc = JSON.parse((await this.tar.readSmall('manifest.json', 'manifest.json (is this a docker-archive?)')).toString('utf8'));
    } catch (err) {
      if (err instanceof SourceError) throw err;
      throw new SourceError('PROTOCOL', `${this.description}: manifest.json is not JSON`, this.reference);
    }
    if (!Array.isArray(doc) || !doc.every(isSavedImage)) throw new SourceError('PROTOCOL', `${this.description}: manifest.json is not a docker save manifest (a list of {Config, RepoTags, Layers})`, this.reference);
    return this.pick(doc);
  }

  private pick(images: readonly SavedImage[]): SavedImage {
    const wanted = this.name ?? this.reference;
    const named = images.filter((i) => (i.RepoTags ?? []).some((t) => sameName(t, wanted)));
    if (named.length >= 1) return named[0]!;
    if (this.name === null && images.length === 1) return images[0]!;
    const names = images.flatMap((i) => i.RepoTags ?? []);
    const what = this.name === null ? `holds ${images.length} images; name one with docker-archive:FILE:NAME` : `has no image named ${this.name}`;
    throw new SourceError('NOT_FOUND', `${this.description}: ${what} (names: ${names.length ? names.join(', ') : 'none'})`, this.reference);
  }

  /** The digest of a layer file: from its name when content-addressed, else hashed. */
  private async layerDigest(path: string, entry: TarEntry): Promise<string> {
    const m = /(?:^|\/)blobs\/sha256\/([0-9a-f]{64})$/.exec(path);
    if (m) return `sha256:${m[1]}`;
    const hash = createHash('sha256');
    await pipeline(this.tar.stream(entry), hash);
    return `sha256:${hash.digest('hex')}`;
  }

  private async synthesise(): Promise<FetchedManifest> {
    const saved = await this.saved();
    const configEntry = await this.tar.entry(saved.Config, `config ${saved.Config}`);
    const config = await this.tar.readSmall(saved.Config, `config ${saved.Config}`);
    const configDigest = digestOf(config);
    this.blobs.set(configDigest, configEntry);
    const layers: Descriptor[] = [];
    for (const path of saved.Layers) {
      const entry = await this.tar.entry(path, `layer ${path}`);
      const digest = await this.layerDigest(path, entry);
      this.blobs.set(digest, entry);
      layers.push({ mediaType: layerType(await this.tar.read(entry, 4)), digest, size: entry.size });
    }
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: configDigest, size: config.length },
      layers,
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    return { bytes, mediaType: MediaType.OciManifest, digest: digestOf(bytes) };
  }

  getManifest(): Promise<FetchedManifest> {
    this.manifest ??= this.synthesise();
    return this.manifest;
  }

  async getManifestByDigest(desc: Descriptor): Promise<FetchedManifest> {
    const m = await this.getManifest();
    if (m.digest !== desc.digest) throw new SourceError('NOT_FOUND', `${this.description}: holds no manifest ${desc.digest}`, this.reference);
    return m;
  }

  async getBlob(desc: Descriptor): Promise<Readable> {
    await this.getManifest();
    const e = this.blobs.get(desc.digest);
    if (!e || !isDigest(desc.digest)) throw new SourceError('NOT_FOUND', `${this.description}: holds no blob ${desc.digest}`, this.reference);
    return this.tar.stream(e);
  }

  async close(): Promise<void> {}
}

/** docker-archive:FILE[:NAME] */
export function dockerArchiveRef(path: string, name: string | null = null): SourceRef {
  return {
    transport: 'docker-archive',
    origin: `docker-archive ${path}${name ? `:${name}` : ''}`,
    present: () => isFile(path),
    open: (ctx: SourceContext) => new DockerArchiveSource(path, ctx.image, name),
  };
}

export const dockerArchiveTransport: Transport = {
  name: 'docker-archive',
  parse(location: string): SourceRef {
    const { path, name } = splitPathAndName('docker-archive', location);
    return dockerArchiveRef(path, name);
  },
};
