// Image references: registry host, repository path, and a tag or digest.

import { repositoryPathProblem, sourceProblem, TAG } from '../description/names.js';
import { isDigest } from './digest.js';

export interface ImageReference {
  /** host[:port] as written in the reference. */
  readonly registry: string;
  /** Repository path inside the registry (no host). */
  readonly repository: string;
  readonly tag: string | null;
  readonly digest: string | null;
}

/** Parses host/path[:tag][@digest]; throws with the reason when invalid. */
export function parseReference(text: string): ImageReference {
  let rest = text;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw new Error(`reference ${JSON.stringify(text)}: ${JSON.stringify(digest)} is not a sha256/sha512 digest`);
  }
  let tag: string | null = null;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new Error(`reference ${JSON.stringify(text)}: tag ${JSON.stringify(tag)} is not valid`);
  }
  const slash = rest.indexOf('/');
  if (slash === -1) throw new Error(`reference ${JSON.stringify(text)} has no registry host (expected host/repository[:tag])`);
  const registry = rest.slice(0, slash);
  const repository = rest.slice(slash + 1);
  const hostProblem = sourceProblem(registry);
  if (hostProblem) throw new Error(`reference ${JSON.stringify(text)}: registry ${hostProblem}`);
  const repoProblem = repositoryPathProblem(repository);
  if (repoProblem) throw new Error(`reference ${JSON.stringify(text)}: repository ${repoProblem}`);
  return Object.freeze({ registry, repository, tag: tag ?? (digest ? null : 'latest'), digest });
}

export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** Docker Hub's API lives on another host and puts single names under library/. */
export function apiLocation(ref: ImageReference): { host: string; repository: string } {
  if (ref.registry === 'docker.io' || ref.registry === 'index.docker.io') {
    return { host: 'registry-1.docker.io', repository: ref.repository.includes('/') ? ref.repository : `library/${ref.repository}` };
  }
  return { host: ref.registry, repository: ref.repository };
}
