// containers-registries.d(5): where the signatures of an image in a registry
// are kept. Every *.yaml file of the directory is read and merged; a scope
// may be described once across all files. For an image, the most specific
// `docker` scope wins (host/repo:tag, host/repo, parent namespaces, host,
// *.domain), then `default-docker`, then containers/image's built-in
// lookaside directory.

import { readdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigFileError } from '../errors.js';
import type { Reference } from '../oci/reference.js';
import { errnoCode, errnoText } from '../util/errno.js';
import { readTextFile } from '../util/text-file.js';

/** One section of a file: `default-docker` or a `docker` scope. */
interface Section {
  /** Base URL of the lookaside store (file://, http://, https://), or null. */
  readonly lookaside: string | null;
  /** null: not said here (a less specific section decides). */
  readonly useSigstoreAttachments: boolean | null;
  /** For messages: "FILE: docker[SCOPE]". */
  readonly from: string;
}

/** Where an image's signatures are kept. */
export interface SignatureStorage {
  readonly lookaside: string;
  readonly useSigstoreAttachments: boolean;
  /** Which section gave the lookaside, for messages ("built-in default" when none did). */
  readonly from: string;
}

export interface RegistriesD {
  /** The directory read, or null when none exists. */
  readonly dir: string | null;
  readonly defaultDocker: Section | null;
  readonly docker: ReadonlyMap<string, Section>;
}

const MAX_FILE_BYTES = 1024 * 1024;
const SECTION_KEYS = new Set(['lookaside', 'lookaside-staging', 'sigstore', 'sigstore-staging', 'use-sigstore-attachments']);
/** What containers/image reads when nothing is configured (as root; a user's is under ~/.local/share). */
export const BUILTIN_LOOKASIDE_ROOT = 'file:///var/lib/containers/sigstore';

export interface RegistriesDLocation {
  /** --registries.d */
  readonly dir?: string;
  readonly home?: string;
  readonly systemDir?: string;
}

/** The directory skopeo reads: the flag, else the user's if it exists, else the system's. */
async function chooseDir(loc: RegistriesDLocation): Promise<{ dir: string; given: boolean }> {
  if (loc.dir !== undefined) return { dir: loc.dir, given: true };
  const user = join(loc.home ?? process.env.HOME ?? homedir(), '.config/containers/registries.d');
  const listed = await readdir(user).then(
    () => true,
    () => false,
  );
  return { dir: listed ? user : join(loc.systemDir ?? '/etc/containers', 'registries.d'), given: false };
}

export async function loadRegistriesD(loc: RegistriesDLocation = {}): Promise<RegistriesD> {
  const { dir, given } = await chooseDir(loc);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.yaml')).sort();
  } catch (err) {
    if (!given && errnoCode(err) === 'ENOENT') return { dir: null, defaultDocker: null, docker: new Map() };
    throw new ConfigFileError(`cannot read the registries.d directory ${dir}: ${errnoText(err)}`, dir, { cause: err });
  }
  let defaultDocker: Section | null = null;
  const docker = new Map<string, Section>();
  for (const name of names) {
    const file = join(dir, name);
    const parsed = await parseFile(file);
    if (parsed.defaultDocker) {
      if (defaultDocker) throw new ConfigFileError(`${file}: default-docker: already configured in ${defaultDocker.from}`, file);
      defaultDocker = parsed.defaultDocker;
    }
    for (const [scope, storage] of parsed.docker) {
      const earlier = docker.get(scope);
      if (earlier) throw new ConfigFileError(`${file}: docker[${JSON.stringify(scope)}]: already configured in ${earlier.from}`, file);
      docker.set(scope, storage);
    }
  }
  return { dir, defaultDocker, docker };
}

async function parseFile(file: string): Promise<{ defaultDocker: Section | null; docker: Map<string, Section> }> {
  const read = await readTextFile(file, MAX_FILE_BYTES);
  if (!read.ok) throw new ConfigFileError(`cannot read registries.d file ${file}: ${read.reason}`, file, { cause: read.cause });
  let doc: unknown;
  // Loaded only when there is a file to read: the parser is a third of a megabyte of code.
  const { parse: parseYaml } = await import('yaml');
  try {
    doc = parseYaml(read.text);
  } catch (err) {
    throw new ConfigFileError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`, file, { cause: err });
  }
  const fail = (where: string, why: string): never => {
    throw new ConfigFileError(`${file}: ${where}: ${why}`, file);
  };
  if (doc === null || doc === undefined) return { defaultDocker: null, docker: new Map() };
  if (!isMapping(doc)) fail('top level', 'must be a mapping');
  const top = doc as Record<string, unknown>;
  for (const key of Object.keys(top)) if (key !== 'default-docker' && key !== 'docker') fail(key, 'unknown key');
  const defaultDocker = top['default-docker'] === undefined || top['default-docker'] === null ? null : section(top['default-docker'], 'default-docker', `${file}: default-docker`, fail);
  const docker = new Map<string, Section>();
  if (top.docker !== undefined && top.docker !== null) {
    if (!isMapping(top.docker)) fail('docker', 'must be a mapping of scopes');
    for (const [scope, raw] of Object.entries(top.docker as Record<string, unknown>)) {
      docker.set(scope, section(raw ?? {}, `docker[${JSON.stringify(scope)}]`, `${file}: docker[${JSON.stringify(scope)}]`, fail));
    }
  }
  return { defaultDocker, docker };
}

type Fail = (where: string, why: string) => never;

function section(raw: unknown, where: string, from: string, fail: Fail): Section {
  if (!isMapping(raw)) fail(where, 'must be a mapping');
  const t = raw as Record<string, unknown>;
  for (const key of Object.keys(t)) if (!SECTION_KEYS.has(key)) fail(`${where}.${key}`, 'unknown key');
  const url = (key: string): string | null => {
    const v = t[key];
    if (v === undefined || v === null || v === '') return null;
    if (typeof v !== 'string') return fail(`${where}.${key}`, 'must be a URL string');
    if (!/^(file|https?):\/\/./.test(v)) fail(`${where}.${key}`, `${JSON.stringify(v)}: only file://, http:// and https:// URLs are supported`);
    return v;
  };
  const attachments = t['use-sigstore-attachments'];
  if (attachments !== undefined && typeof attachments !== 'boolean') fail(`${where}.use-sigstore-attachments`, 'must be true or false');
  // "sigstore" is the older name of "lookaside"; the newer one wins when both are set.
  return { lookaside: url('lookaside') ?? url('sigstore'), useSigstoreAttachments: typeof attachments === 'boolean' ? attachments : null, from };
}

function isMapping(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The scopes an image name is looked up under, most specific first:
 * host/repo:tag (or @digest), host/repo, each parent namespace, the host,
 * then the host's wildcard domains (*.example.com, *.com).
 */
export function scopesFor(ref: Reference): string[] {
  const scopes = [ref.digest ? `${ref.name}@${ref.digest}` : `${ref.name}:${ref.tag ?? 'latest'}`];
  const parts = ref.name.split('/');
  for (let n = parts.length; n >= 1; n--) scopes.push(parts.slice(0, n).join('/'));
  const labels = ref.registry.replace(/:\d+$/, '').split('.');
  for (let i = 1; i < labels.length; i++) scopes.push(`*.${labels.slice(i).join('.')}`);
  return scopes;
}

/**
 * Where the signatures of `ref` (as the endpoint that serves it names it)
 * are kept. The lookaside and the attachments switch are looked up apart:
 * each from the most specific section that sets it.
 */
export function storageFor(conf: RegistriesD, ref: Reference): SignatureStorage {
  const sections = [...scopesFor(ref).map((s) => conf.docker.get(s)), conf.defaultDocker].filter((s): s is Section => s !== undefined && s !== null);
  const withLookaside = sections.find((s) => s.lookaside !== null);
  const attachments = sections.find((s) => s.useSigstoreAttachments !== null)?.useSigstoreAttachments ?? false;
  return withLookaside ? { lookaside: withLookaside.lookaside!, useSigstoreAttachments: attachments, from: withLookaside.from } : { lookaside: BUILTIN_LOOKASIDE_ROOT, useSigstoreAttachments: attachments, from: 'built-in default' };
}
