// Image references as a value type that owns its grammar, after the OCI
// distribution reference rules: [docker://]host[:port]/path[:tag][@digest].
// Only fully qualified names: a reference without a registry host is refused,
// because a build must never guess where an image comes from.

import { ReferenceFormatError } from '../errors.js';
import { isDigest } from './digest.js';

/** One repository path component: lowercase alphanumerics joined by ".", "_", "__" or dashes. */
export const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
export const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DOMAIN_COMPONENT = /^(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])$/;
const IPV6 = /^\[[0-9A-Fa-f:.]+\]$/;
/** Longest repository name (host and path included) registries accept. */
export const MAX_NAME_LENGTH = 255;
/** The one transport a Reference names; others (oci:, oci-archive:) have their own reference forms. */
export const DOCKER_TRANSPORT = 'docker';
const DOCKER_PREFIX = 'docker://';

/** Why `value` is not a repository path (components joined by "/"), or null when it is. */
export function repositoryPathProblem(value: string): string | null {
  if (value === '') return 'it is empty';
  for (const part of value.split('/')) {
    if (part === '') return 'it has an empty component ("//" or a leading/trailing "/")';
    if (part === '.' || part === '..') return `it has a "${part}" component`;
    if (!PATH_COMPONENT.test(part)) {
      if (/[A-Z]/.test(part)) return `component "${part}" has uppercase letters (repository names are lowercase)`;
      return `component "${part}" is not lowercase letters and digits joined by ".", "_", "__" or "-"`;
    }
  }
  return null;
}

/** Why `value` is not `host[:port]`, or null when it is. */
export function hostProblem(value: string): string | null {
  let host = value;
  let port: string | undefined;
  const portMatch = /^(.*):([^:\]]*)$/.exec(value);
  if (portMatch && !IPV6.test(value)) {
    host = portMatch[1]!;
    port = portMatch[2]!;
  }
  if (host === '') return 'the host is empty';
  if (!IPV6.test(host) && !host.split('.').every((c) => DOMAIN_COMPONENT.test(c))) {
    return `host "${host}" is not a valid host name or address`;
  }
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)) {
    return `port "${port}" is not a number from 1 to 65535`;
  }
  return null;
}

/** Why `value` is not `host[:port][/path]` (a <containers source>), or null when it is. */
export function sourceProblem(value: string): string | null {
  if (value === '') return 'it is empty';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return 'it has a URL scheme; give host[:port][/path] without "https://" or "docker://"';
  if (/\s/.test(value)) return 'it contains whitespace';
  const slash = value.indexOf('/');
  const problem = hostProblem(slash === -1 ? value : value.slice(0, slash));
  if (problem) return problem;
  const path = slash === -1 ? '' : value.slice(slash + 1).replace(/\/+$/, '');
  if (path !== '') {
    const p = repositoryPathProblem(path);
    if (p) return `its path ${p}`;
  }
  return null;
}

/**
 * A parsed, valid reference. Immutable: withDigest and friends return new
 * values. `tag` is "latest" when neither tag nor digest was written.
 */
export class Reference {
  readonly transport = DOCKER_TRANSPORT;
  private constructor(
    /** host[:port] as written. */
    readonly registry: string,
    /** Repository path inside the registry (no host). */
    readonly repository: string,
    readonly tag: string | null,
    readonly digest: string | null,
  ) {
    Object.freeze(this);
  }

  /** Parses `[docker://]host[:port]/path[:tag][@digest]`; throws ReferenceFormatError naming the problem. */
  static parse(text: string): Reference {
    const problem = (why: string) => new ReferenceFormatError(text, why);
    let rest = text.startsWith(DOCKER_PREFIX) ? text.slice(DOCKER_PREFIX.length) : text;
    if (rest === '') throw problem('it is empty');
    if (/\s/.test(rest)) throw problem('it contains whitespace');
    let digest: string | null = null;
    const at = rest.indexOf('@');
    if (at !== -1) {
      digest = rest.slice(at + 1);
      rest = rest.slice(0, at);
      if (!isDigest(digest)) throw problem(`${JSON.stringify(digest)} is not a sha256 or sha512 digest (algorithm:hex)`);
    }
    let tag: string | null = null;
    const colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) {
      tag = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
      if (!TAG.test(tag)) throw problem(`tag ${JSON.stringify(tag)} is not valid`);
    }
    const slash = rest.indexOf('/');
    if (slash === -1) throw problem('it has no registry host; short names are not supported, use a fully-qualified name (host/repository[:tag])');
    const registry = rest.slice(0, slash);
    const repository = rest.slice(slash + 1);
    const hp = hostProblem(registry);
    if (hp) throw problem(`registry ${hp}`);
    const rp = repositoryPathProblem(repository);
    if (rp) throw problem(`repository ${rp}`);
    if (`${registry}/${repository}`.length > MAX_NAME_LENGTH) throw problem(`the name is longer than ${MAX_NAME_LENGTH} characters`);
    return new Reference(registry, repository, tag ?? (digest ? null : 'latest'), digest);
  }

  /**
   * Parses a name as docker prints it ("busybox:1", "team/app"), filling in
   * Docker Hub and library/ as docker does. Only for reading what docker
   * wrote (archives, its image store); what a user writes must be fully qualified.
   */
  static parseFamiliar(text: string): Reference {
    const first = text.split('/')[0]!;
    const hasHost = text.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
    if (hasHost) return Reference.parse(text);
    return Reference.parse(`docker.io/${text.includes('/') ? text : `library/${text}`}`);
  }

  /** Builds a reference from its parts, checking them as parse does. */
  static of(registry: string, repository: string, tag: string | null, digest: string | null = null): Reference {
    return Reference.parse(`${registry}/${repository}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`);
  }

  /** registry/repository, without tag or digest. */
  get name(): string {
    return `${this.registry}/${this.repository}`;
  }

  /** What a registry's manifest endpoint is asked for: the digest when pinned, else the tag. */
  get selector(): string {
    return this.digest ?? this.tag ?? 'latest';
  }

  /** The same image pinned to `digest` (the tag is kept, as podman writes name:tag@digest). */
  withDigest(digest: string): Reference {
    return Reference.of(this.registry, this.repository, this.tag, digest);
  }

  /** The same name with another repository location (a mirror or a rewrite). */
  withName(registry: string, repository: string): Reference {
    return Reference.of(registry, repository, this.tag, this.digest);
  }

  /** host/path[:tag][@digest], the form descriptions, locks and archives use. */
  toString(): string {
    return `${this.name}${this.tag ? `:${this.tag}` : ''}${this.digest ? `@${this.digest}` : ''}`;
  }

  /** docker://host/path..., the form skopeo's containers-transports(5) use. */
  toTransportString(): string {
    return `${DOCKER_PREFIX}${this.toString()}`;
  }

  /** The short form docker prints: Docker Hub's host and library/ dropped. */
  familiar(): string {
    const hub = this.registry === 'docker.io' || this.registry === 'index.docker.io';
    const repo = hub && this.repository.startsWith('library/') && this.repository.split('/').length === 2 ? this.repository.slice('library/'.length) : this.repository;
    const name = hub ? repo : this.name;
    return `${name}${this.tag ? `:${this.tag}` : ''}${this.digest ? `@${this.digest}` : ''}`;
  }

  equals(other: Reference): boolean {
    return this.toString() === other.toString();
  }
}
