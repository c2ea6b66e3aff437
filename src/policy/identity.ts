// Docker identities as containers/image compares them: names normalised the
// way docker's ParseNormalizedNamed does (Docker Hub's "index.docker.io" is
// "docker.io", a one-component Hub path gains "library/"), and the
// signedIdentity rules of containers-policy.json(5) that decide whether the
// identity written in a signature vouches for the image being pulled.

import { ReferenceFormatError } from '../errors.js';
import { hostProblem, Reference, repositoryPathProblem } from '../oci/reference.js';

/** How a signature's identity must relate to the image (containers-policy.json(5) signedIdentity). */
export type SignedIdentity =
  | { type: 'matchRepoDigestOrExact' }
  | { type: 'matchRepository' }
  | { type: 'matchExact' }
  | { type: 'exactReference'; dockerReference: string }
  | { type: 'exactRepository'; dockerRepository: string }
  | { type: 'remapIdentity'; prefix: string; signedPrefix: string };

/** A normalised docker reference; tag and digest are null when not written. */
export interface DockerIdentity {
  readonly name: string;
  readonly tag: string | null;
  readonly digest: string | null;
}

export function identityString(id: DockerIdentity): string {
  return `${id.name}${id.tag ? `:${id.tag}` : ''}${id.digest ? `@${id.digest}` : ''}`;
}

function isNameOnly(id: DockerIdentity): boolean {
  return id.tag === null && id.digest === null;
}

/** registry/repository as docker normalises it, which is also how c/image names policy scopes. */
export function normalisedName(registry: string, repository: string): string {
  const host = registry === 'index.docker.io' ? 'docker.io' : registry;
  const repo = host === 'docker.io' && !repository.includes('/') ? `library/${repository}` : repository;
  return `${host}/${repo}`;
}

/** The identity of the image being pulled, as the user named it. */
export function imageIdentity(ref: Reference): DockerIdentity {
  return { name: normalisedName(ref.registry, ref.repository), tag: ref.tag, digest: ref.digest };
}

/**
 * Parses a docker reference written in a signature or a policy, familiar
 * forms ("busybox:1") included, as c/image's ParseNormalizedNamed; unlike
 * Reference.parse, a missing tag stays missing (IsNameOnly matters for the
 * exact rules). Throws ReferenceFormatError.
 */
export function parseDockerIdentity(text: string): DockerIdentity {
  // Reference.parse would take a transport prefix; a docker reference has none.
  if (text.startsWith('docker://')) throw new ReferenceFormatError(text, 'a docker reference has no "docker://" prefix');
  const parsed = Reference.parseFamiliar(text);
  const at = text.indexOf('@');
  const beforeDigest = at === -1 ? text : text.slice(0, at);
  const hasTag = beforeDigest.lastIndexOf(':') > beforeDigest.lastIndexOf('/');
  return { name: normalisedName(parsed.registry, parsed.repository), tag: hasTag ? parsed.tag : null, digest: parsed.digest };
}

/**
 * Whether `s` may be a remapIdentity prefix: a host[:port] alone, or a host
 * followed by a repository path (as c/image's validateIdentityRemappingPrefix).
 */
export function remapPrefixProblem(s: string): string | null {
  const slash = s.indexOf('/');
  if (slash === -1) return hostProblem(s) === null ? null : `"${s}" is not a host[:port] or host[:port]/path`;
  if (hostProblem(s.slice(0, slash)) !== null || repositoryPathProblem(s.slice(slash + 1)) !== null) {
    return `"${s}" is not a host[:port] or host[:port]/path`;
  }
  return null;
}

/**
 * The default rule: a digest-pinned image needs only its repository signed
 * (the digest is checked against the signature separately); a tagged one
 * needs exactly its name:tag.
 */
function repoDigestOrExact(intended: DockerIdentity, signed: DockerIdentity): boolean {
  if (isNameOnly(signed)) return false;
  if (intended.digest !== null) return signed.name === intended.name;
  return identityString(signed) === identityString(intended);
}

/** The form an exact rule compares: name:tag when the user named a tag, else name@digest. */
function exactForm(id: DockerIdentity): string {
  return id.tag !== null ? `${id.name}:${id.tag}` : identityString(id);
}

/** `intended` with a leading `prefix` (a whole path component) replaced by `signedPrefix`. */
function remap(intended: DockerIdentity, prefix: string, signedPrefix: string): DockerIdentity {
  const matches = intended.name === prefix || intended.name.startsWith(`${prefix}/`);
  if (!matches) return intended;
  return parseDockerIdentity(signedPrefix + identityString(intended).slice(prefix.length));
}

/**
 * Whether a signature claiming `signedText` vouches for the image `intended`
 * under `rule`. A reference that does not parse never matches.
 */
export function identityMatches(rule: SignedIdentity, intended: DockerIdentity, signedText: string): boolean {
  let signed: DockerIdentity;
  try {
    signed = parseDockerIdentity(signedText);
    switch (rule.type) {
      case 'matchRepoDigestOrExact':
        return repoDigestOrExact(intended, signed);
      case 'matchRepository':
        return signed.name === intended.name;
      case 'matchExact':
        return !isNameOnly(signed) && identityString(signed) === exactForm(intended);
      case 'exactReference':
        return !isNameOnly(signed) && identityString(signed) === identityString(parseDockerIdentity(rule.dockerReference));
      case 'exactRepository':
        return signed.name === parseDockerIdentity(rule.dockerRepository).name;
      case 'remapIdentity':
        return repoDigestOrExact(remap(intended, rule.prefix, rule.signedPrefix), signed);
    }
  } catch {
    return false;
  }
}

/** The rule in words, for messages. */
export function describeIdentityRule(rule: SignedIdentity): string {
  switch (rule.type) {
    case 'exactReference':
      return `exactReference ${rule.dockerReference}`;
    case 'exactRepository':
      return `exactRepository ${rule.dockerRepository}`;
    case 'remapIdentity':
      return `remapIdentity ${rule.prefix} → ${rule.signedPrefix}`;
    default:
      return rule.type;
  }
}
