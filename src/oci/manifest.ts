// Parsing manifests and indexes as received, with the checks a copy relies on.

import { isDigest } from './digest.js';
import { INDEX_TYPES, MANIFEST_TYPES, MediaType } from './media-types.js';
import type { Platform } from './platform.js';

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: Platform;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly urls?: readonly string[];
}

export interface ImageManifest {
  readonly kind: 'manifest';
  readonly mediaType: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  /** OCI 1.1: what kind of artifact this manifest is (absent for images). */
  readonly artifactType?: string;
}

export interface ImageIndex {
  readonly kind: 'index';
  readonly mediaType: string;
  readonly manifests: readonly Descriptor[];
}

/** A manifest or index that does not follow the spec. Callers (copy, layouts) turn it into a SourceError naming the image. */
export class ManifestFormatError extends Error {}

function descriptor(value: unknown, where: string): Descriptor {
  if (!value || typeof value !== 'object') throw new ManifestFormatError(`${where} is not an object`);
  const d = value as Record<string, unknown>;
  if (typeof d.mediaType !== 'string') throw new ManifestFormatError(`${where} has no mediaType`);
  if (typeof d.digest !== 'string' || !isDigest(d.digest)) throw new ManifestFormatError(`${where} has no valid digest (${JSON.stringify(d.digest)})`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw new ManifestFormatError(`${where} has no valid size`);
  const out: { -readonly [K in keyof Descriptor]: Descriptor[K] } = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.platform && typeof d.platform === 'object') {
    const p = d.platform as Record<string, unknown>;
    if (typeof p.os === 'string' && typeof p.architecture === 'string') {
      out.platform = typeof p.variant === 'string' && p.variant !== '' ? { os: p.os, architecture: p.architecture, variant: p.variant } : { os: p.os, architecture: p.architecture };
    }
  }
  // Annotations and urls are strings by the spec; anything else in them is dropped, never trusted.
  if (d.annotations && typeof d.annotations === 'object' && !Array.isArray(d.annotations)) {
    out.annotations = Object.fromEntries(Object.entries(d.annotations).filter((e): e is [string, string] => typeof e[1] === 'string'));
  }
  if (Array.isArray(d.urls)) out.urls = d.urls.filter((u): u is string => typeof u === 'string');
  return out;
}

/**
 * Parses manifest bytes. `contentType` is what the server said (may be empty);
 * when both it and the document's own mediaType are present they must agree.
 */
export function parseManifest(bytes: Buffer, contentType: string | null): ImageManifest | ImageIndex {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new ManifestFormatError(`manifest is not JSON (${(err as Error).message}); served as ${contentType ?? 'no content type'}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new ManifestFormatError('manifest is not a JSON object');
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : null;
  const served = contentType ? contentType.split(';')[0]!.trim() : null;
  if (declared && served && served !== declared && served !== 'application/json' && served !== 'application/octet-stream') {
    throw new ManifestFormatError(`the registry served a ${served} but the document says it is a ${declared}`);
  }
  if (doc.schemaVersion === 1 || served === MediaType.DockerSchema1Signed || served === MediaType.DockerSchema1) {
    throw new ManifestFormatError('Docker schema 1 manifests are not supported (deprecated since 2017); push the image again with a current client');
  }
  let type = declared ?? (served && served !== 'application/json' && served !== 'application/octet-stream' ? served : null);
  if (!type) type = Array.isArray(doc.manifests) ? MediaType.OciIndex : MediaType.OciManifest;
  if (doc.schemaVersion !== 2) throw new ManifestFormatError(`unsupported schemaVersion ${JSON.stringify(doc.schemaVersion)}`);
  if (INDEX_TYPES.includes(type)) {
    if (!Array.isArray(doc.manifests)) throw new ManifestFormatError('index has no manifests list');
    return { kind: 'index', mediaType: type, manifests: doc.manifests.map((m, i) => descriptor(m, `manifests[${i}]`)) };
  }
  if (MANIFEST_TYPES.includes(type)) {
    if (!Array.isArray(doc.layers)) throw new ManifestFormatError('manifest has no layers list');
    return {
      kind: 'manifest',
      mediaType: type,
      config: descriptor(doc.config, 'config'),
      layers: doc.layers.map((l, i) => descriptor(l, `layers[${i}]`)),
      ...(typeof doc.artifactType === 'string' && doc.artifactType !== '' ? { artifactType: doc.artifactType } : {}),
    };
  }
  throw new ManifestFormatError(`unsupported manifest type ${type}`);
}
