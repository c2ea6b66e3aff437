// What `imgdesc pull` and `push` accept as REF: a registry image
// (docker://HOST/REPO[:TAG|@DIGEST], or the same without the transport), an
// OCI layout (oci:DIR[:NAME]) or an oci-archive (oci-archive:FILE[:NAME]).
// A short name is refused as podman machine refuses it: which registry it
// means would be a guess (registries.conf aliases are not read).

import { ReferenceFormatError } from '../errors.js';
import { Reference } from '../oci/reference.js';
import { dockerRef } from '../source/docker.js';
import { parseSourceRef, TRANSPORTS } from '../source/transports.js';
import type { SourceRef } from '../source/types.js';

/** The transports a disk image is read from. */
const DISK_TRANSPORTS = ['docker', 'oci', 'oci-archive'];

/**
 * Names a layout source needs to pick its image when REF names none: with
 * several images in it, the one named "latest" (as skopeo tags by default),
 * else the only one.
 */
const LAYOUT_IMAGE = Reference.parse('localhost/disk-image:latest');

export interface DiskRef {
  readonly source: SourceRef;
  /** The image as a reference: the registry's, or a stand-in for a layout. */
  readonly image: Reference;
  /** For messages and --json: the registry reference, or REF as given. */
  readonly display: string;
}

/**
 * podman's rule (containers/image shortnames.IsShortName): a name is fully
 * qualified when its first component has a "." or a ":" or is "localhost".
 */
export function qualified(text: string): Reference {
  const ref = Reference.parse(text);
  if (!/[.:]/.test(ref.registry) && ref.registry !== 'localhost') {
    throw new ReferenceFormatError(text, `"${ref.registry}" is not a registry host, so this is a short name; short names are not supported, use a fully-qualified name (HOST/REPOSITORY[:TAG])`);
  }
  return ref;
}

/** The reference after docker://; "docker:" alone is not the transport's form. */
function afterDocker(text: string): string {
  if (!text.startsWith('docker://')) throw new ReferenceFormatError(text, 'expected docker://HOST/REPOSITORY[:TAG|@DIGEST]');
  return text.slice('docker://'.length);
}

function transportOf(text: string): string | null {
  const colon = text.indexOf(':');
  const name = colon === -1 ? null : text.slice(0, colon);
  return name !== null && TRANSPORTS.some((t) => t.name === name) ? name : null;
}

/** Parses REF for pull; throws ValueFormatError (exit 2). */
export function parseDiskRef(text: string): DiskRef {
  const transport = transportOf(text);
  if (transport === null || transport === 'docker') {
    const ref = qualified(transport === 'docker' ? afterDocker(text) : text);
    return { source: dockerRef(ref), image: ref, display: ref.toString() };
  }
  if (!DISK_TRANSPORTS.includes(transport)) {
    throw new ReferenceFormatError(text, `a disk image is read from ${DISK_TRANSPORTS.map((t) => (t === 'docker' ? 'docker://' : `${t}:`)).join(', ')}, not ${transport}:`);
  }
  return { source: parseSourceRef(text), image: LAYOUT_IMAGE, display: text };
}

/** Parses REF for push: a registry image only. */
export function parsePushRef(text: string): Reference {
  const transport = transportOf(text);
  if (transport !== null && transport !== 'docker') throw new ReferenceFormatError(text, 'push writes to a registry: docker://HOST/REPO[:TAG] or HOST/REPO[:TAG]');
  return qualified(transport === 'docker' ? afterDocker(text) : text);
}
