// Shared reading of an OCI image layout, whether a directory or an archive:
// index.json -> the manifest for the wanted reference.

import { stat } from 'node:fs/promises';
import { ReferenceFormatError, SourceError } from '../errors.js';
import type { Descriptor } from '../oci/manifest.js';
import type { Reference } from '../oci/reference.js';
import { parseManifest } from '../oci/manifest.js';
import { INDEX_TYPES, MediaType, REF_NAME } from '../oci/media-types.js';
import type { ImageSource, SourceContext, SourceRef, Transport } from './types.js';

/**
 * Chooses the top descriptor of a layout's index.json for `reference`: the one
 * whose ref.name annotation is the full reference or its tag, else the only
 * one. Returns the whole index when it lists several platforms of one image.
 */
export function chooseTop(indexBytes: Buffer, reference: string, tag: string | null, where: string): Descriptor | 'index' {
  let index;
  try {
    index = parseManifest(indexBytes, MediaType.OciIndex);
  } catch (err) {
    throw new SourceError('PROTOCOL', `${where}: index.json is not a valid OCI index: ${(err as Error).message}`, reference);
  }
  if (index.kind !== 'index') throw new SourceError('PROTOCOL', `${where}: index.json is not an index`, reference);
  const named = index.manifests.filter((m) => {
    const name = m.annotations?.[REF_NAME];
    return name !== undefined && (name === reference || (tag !== null && name === tag));
  });
  if (named.length === 1) return named[0]!;
  if (named.length > 1) return 'index';
  const unnamed = index.manifests;
  if (unnamed.length === 1) return unnamed[0]!;
  // Several untagged manifests with platforms: treat index.json as the image index.
  if (unnamed.length > 1 && unnamed.every((m) => m.platform && !INDEX_TYPES.includes(m.mediaType))) return 'index';
  const names = unnamed.map((m) => m.annotations?.[REF_NAME]).filter(Boolean);
  throw new SourceError(
    'NOT_FOUND',
    `${where}: holds ${unnamed.length} images and none is named ${reference}${names.length ? ` (names: ${names.join(', ')})` : ''}`,
    reference,
  );
}

/**
 * Splits `PATH[:NAME]` at its first colon, as containers/image reads oci: and
 * oci-archive: references; a path with a colon in it cannot be named this way.
 */
export function splitPathAndName(transport: string, location: string): { path: string; name: string | null } {
  const colon = location.indexOf(':');
  const path = colon === -1 ? location : location.slice(0, colon);
  const name = colon === -1 ? null : location.slice(colon + 1);
  if (path === '') throw new ReferenceFormatError(`${transport}:${location}`, `expected ${transport}:PATH[:NAME]`);
  if (name === '') throw new ReferenceFormatError(`${transport}:${location}`, 'the name after ":" is empty');
  return { path, name };
}

/** True when `path` is a regular file (following links); false when absent or anything else. */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** What an oci: or oci-archive: transport needs to say about itself. */
interface LayoutKind {
  readonly transport: string;
  /** Whether the layout or archive at `path` is there. */
  present(path: string): Promise<boolean>;
  open(path: string, image: Reference, name: string | null): ImageSource;
}

/**
 * The reference constructor and transport of a layout kind: `TRANSPORT:PATH[:NAME]`;
 * without NAME, the image named by the planned reference, or the only one.
 */
export function layoutTransport(kind: LayoutKind): { ref(path: string, name?: string | null): SourceRef; transport: Transport } {
  const ref = (path: string, name: string | null = null): SourceRef => ({
    transport: kind.transport,
    origin: `${kind.transport === 'oci' ? 'oci-layout' : kind.transport} ${path}${name ? `:${name}` : ''}`,
    present: () => kind.present(path),
    open: (ctx: SourceContext) => kind.open(path, ctx.image, name),
  });
  const transport: Transport = {
    name: kind.transport,
    parse(location: string): SourceRef {
      const { path, name } = splitPathAndName(kind.transport, location);
      return ref(path, name);
    },
  };
  return { ref, transport };
}
