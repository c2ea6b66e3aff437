// What `imgdesc pull` and `push` accept as REF: a registry image
// (docker://HOST/REPO[:TAG|@DIGEST], or the same without the transport), an
// OCI layout (oci:DIR[:NAME]) or an oci-archive (oci-archive:FILE[:NAME]).
// A short name is refused as podman machine refuses it (which registry it
// means would be a guess), unless a registries.conf [aliases] entry names it.

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
export function qualified(text: string, aliases: Aliases = new Map()): Reference {
  const expanded = expandAlias(text, aliases);
  if (expanded) return expanded;
  const first = text.split(/[/@]/)[0]!;
  const host = text.includes('/') ? first : '';
  if (!/[.:]/.test(host) && host !== 'localhost') {
    throw new ReferenceFormatError(text, `${host ? `"${host}" is not a registry host, so this` : 'this'} is a short name; short names are not supported unless a registries.conf [aliases] entry names them, use a fully-qualified name (HOST/REPOSITORY[:TAG])`);
  }
  return Reference.parse(text);
}

export type Aliases = ReadonlyMap<string, { target: string; file: string }>;

/**
 * A short name ("name" or "ns/name", with its own tag or digest) that an
 * alias names, as containers/image expands it: the alias gives host and
 * repository, the short name keeps its tag or digest. null: no alias applies.
 */
function expandAlias(text: string, aliases: Aliases): Reference | null {
  const m = /^([^@:]+)((?::[^@/]+)?(?:@.+)?)$/.exec(text);
  if (!m) return null;
  const first = m[1]!.split('/')[0]!;
  if (/[.:]/.test(first) || first === 'localhost') return null;
  const alias = aliases.get(m[1]!);
  if (!alias) return null;
  try {
    return Reference.parse(`${alias.target}${m[2]}`);
  } catch (err) {
    throw new ReferenceFormatError(text, `the alias in ${alias.file} names ${JSON.stringify(alias.target)}, which is not a fully-qualified name: ${(err as Error).message}`);
  }
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
export function parseDiskRef(text: string, aliases?: Aliases): DiskRef {
  const transport = transportOf(text);
  if (transport === null || transport === 'docker') {
    const ref = qualified(transport === 'docker' ? afterDocker(text) : text, aliases);
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
