// Registry credentials, looked up as containers-auth.json(5) describes:
// --authfile, $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
// ~/.config/containers/auth.json, then Docker's $DOCKER_CONFIG/config.json or
// ~/.docker/config.json. In each file the most specific key wins
// (host/ns/repo before host/ns before host); the first file with a match wins.
// Credential helpers (credHelpers / credsStore) run docker-credential-<name>.
// Secrets never leave this module in messages.

import { homedir } from 'node:os';
import { join } from 'node:path';
import { CredentialError } from '../errors.js';
import { errnoCode } from '../util/errno.js';
import { readTextFile } from '../util/text-file.js';

export { CredentialError };

/** Auth files hold a few entries; anything bigger is refused before parsing. */
export const MAX_AUTH_FILE_BYTES = 4 * 1024 * 1024;

export type Credentials = { kind: 'basic'; username: string; password: string } | { kind: 'identity-token'; username: string; token: string };

export interface CredentialLookup {
  /** --authfile */
  authFile?: string;
  env?: NodeJS.ProcessEnv;
  home?: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}
interface AuthFile {
  auths: Record<string, AuthEntry>;
  credHelpers: Record<string, string>;
  credsStore?: string;
}

export function authFileCandidates(opts: CredentialLookup): string[] {
  const env = opts.env ?? process.env;
  const home = opts.home ?? env.HOME ?? homedir();
  const files: string[] = [];
  if (opts.authFile) return [opts.authFile];
  if (env.REGISTRY_AUTH_FILE) files.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) files.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  files.push(join(home, '.config', 'containers', 'auth.json'));
  files.push(env.DOCKER_CONFIG ? join(env.DOCKER_CONFIG, 'config.json') : join(home, '.docker', 'config.json'));
  return files;
}

/** "https://host/v1/" and "host" both mean host; keys with a path keep it. */
function normaliseKey(key: string): string {
  let k = key.replace(/^[a-z]+:\/\//i, '');
  if (/^[^/]+\/v[12]\/?$/.test(k)) k = k.slice(0, k.indexOf('/'));
  return k.replace(/\/+$/, '');
}

/** Keys to try for a repository, most specific first. */
export function lookupKeys(registry: string, repository: string): string[] {
  const parts = repository.split('/');
  const keys: string[] = [];
  for (let n = parts.length; n > 0; n--) keys.push(`${registry}/${parts.slice(0, n).join('/')}`);
  keys.push(registry);
  if (registry === 'docker.io') keys.push('index.docker.io', 'registry-1.docker.io');
  return keys;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What a value is, for messages; never the value itself (it may be a secret). */
function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

const keyName = (key: string) => JSON.stringify(key.length > 100 ? `${key.slice(0, 100)}…` : key);

/** A docker-credential-<name> suffix: a plain name, never a path. */
const HELPER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Checks the types of an auth file's fields, as podman's decoder does, so a
 * wrong type is an error naming the field instead of a crash. Unknown fields
 * are ignored. Values are never quoted: they may be secrets.
 */
function checkAuthFile(doc: unknown, file: string): AuthFile {
  const bad = (what: string) => new CredentialError(`auth file ${file}: ${what}`, file);
  if (!isObject(doc)) throw bad(`it is ${kindOf(doc)}, not a JSON object`);
  const auths: Record<string, AuthEntry> = {};
  if (doc.auths !== undefined && doc.auths !== null) {
    if (!isObject(doc.auths)) throw bad(`"auths" is ${kindOf(doc.auths)}; expected an object of registry entries`);
    for (const [key, entry] of Object.entries(doc.auths)) {
      if (!isObject(entry)) throw bad(`auths[${keyName(key)}] is ${kindOf(entry)}; expected an object`);
      const out: AuthEntry = {};
      for (const field of ['auth', 'username', 'password', 'identitytoken'] as const) {
        const v = entry[field];
        if (v === undefined || v === null) continue;
        if (typeof v !== 'string') throw bad(`auths[${keyName(key)}].${field} is ${kindOf(v)}; expected a string`);
        out[field] = v;
      }
      auths[key] = out;
    }
  }
  const credHelpers: Record<string, string> = {};
  if (doc.credHelpers !== undefined && doc.credHelpers !== null) {
    if (!isObject(doc.credHelpers)) throw bad(`"credHelpers" is ${kindOf(doc.credHelpers)}; expected an object of registry -> helper name`);
    for (const [key, helper] of Object.entries(doc.credHelpers)) {
      if (typeof helper !== 'string' || !HELPER_NAME.test(helper)) throw bad(`credHelpers[${keyName(key)}] is not a helper name (letters, digits, ".", "_", "-")`);
      credHelpers[key] = helper;
    }
  }
  let credsStore: string | undefined;
  if (doc.credsStore !== undefined && doc.credsStore !== null && doc.credsStore !== '') {
    if (typeof doc.credsStore !== 'string' || !HELPER_NAME.test(doc.credsStore)) throw bad('"credsStore" is not a helper name (letters, digits, ".", "_", "-")');
    credsStore = doc.credsStore;
  }
  return credsStore === undefined ? { auths, credHelpers } : { auths, credHelpers, credsStore };
}

/** Reads and checks one auth file; null when it is absent and may be. */
async function readAuthFile(file: string, explicit: boolean): Promise<AuthFile | null> {
  const read = await readTextFile(file, MAX_AUTH_FILE_BYTES);
  if (!read.ok) {
    const absent = read.absent || errnoCode(read.cause) === 'ENOTDIR';
    if (absent && !explicit) return null;
    if (read.absent) throw new CredentialError(`auth file ${file} does not exist`, file);
    throw new CredentialError(`auth file ${file} cannot be read: ${read.reason}`, file, { cause: read.cause });
  }
  // An empty file holds no credentials (as after `: > auth.json`).
  if (read.text.trim() === '') return { auths: {}, credHelpers: {} };
  let doc: unknown;
  try {
    doc = JSON.parse(read.text);
  } catch (err) {
    // Only where, never the parser's message: it quotes the text, which may hold a secret.
    const message = (err as Error).message;
    const at = /position (\d+)/.exec(message)?.[1];
    const early = /end of JSON/i.test(message) || (at !== undefined && Number(at) >= read.text.length);
    const where = early ? ' (it ends too early)' : at !== undefined ? ` (error at character ${at})` : '';
    throw new CredentialError(`auth file ${file} is not valid JSON${where}`, file);
  }
  return checkAuthFile(doc, file);
}

function decodeEntry(entry: AuthEntry, where: string, file: string): Credentials | null {
  if (entry.identitytoken) return { kind: 'identity-token', username: entry.username ?? '', token: entry.identitytoken };
  if (entry.auth) {
    const notUserPass = () => new CredentialError(`${where}: the "auth" value is not base64 of "user:password"`, file);
    const raw = entry.auth.trim();
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(raw) || raw.length % 4 === 1) throw notUserPass();
    let decoded: string;
    try {
      decoded = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(raw, 'base64'));
    } catch {
      throw notUserPass();
    }
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw notUserPass();
    return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username !== undefined && entry.password !== undefined) return { kind: 'basic', username: entry.username, password: entry.password };
  return null;
}

async function fromHelper(helper: string, registry: string, signal?: AbortSignal): Promise<Credentials | null> {
  const program = `docker-credential-${helper}`;
  let stdout: string;
  try {
    // Loaded on use: most builds never call a credential helper.
    const { execa } = await import('execa');
    ({ stdout } = await execa(program, ['get'], { input: registry, timeout: 30_000, cancelSignal: signal, stripFinalNewline: true }));
  } catch (err) {
    const e = err as { stdout?: string; code?: string; exitCode?: number };
    if (e.stdout && /credentials not found/i.test(e.stdout)) return null;
    if (e.code === 'ENOENT') throw new CredentialError(`credential helper ${program} is configured for ${registry} but not installed`, null);
    // Never echo the helper's output: it may hold a secret.
    throw new CredentialError(`credential helper ${program} failed for ${registry} (exit ${e.exitCode ?? '?'})`, null);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new CredentialError(`credential helper ${program} returned something that is not JSON for ${registry}`, null);
  }
  if (!isObject(parsed) || (parsed.Secret !== undefined && typeof parsed.Secret !== 'string') || (parsed.Username !== undefined && typeof parsed.Username !== 'string')) {
    throw new CredentialError(`credential helper ${program} returned JSON that is not {"Username": string, "Secret": string} for ${registry}`, null);
  }
  const secret = parsed.Secret as string | undefined;
  const username = parsed.Username as string | undefined;
  if (!secret) return null;
  if (username === '<token>') return { kind: 'identity-token', username: '', token: secret };
  return { kind: 'basic', username: username ?? '', password: secret };
}

export interface FoundCredentials {
  credentials: Credentials;
  /** Where they came from (file or helper), for diagnostics; never the secret. */
  origin: string;
}

/** Finds credentials for registry/repository, or null for anonymous access. */
export async function findCredentials(registry: string, repository: string, opts: CredentialLookup, signal?: AbortSignal): Promise<FoundCredentials | null> {
  const keys = lookupKeys(registry, repository);
  for (const file of authFileCandidates(opts)) {
    const doc = await readAuthFile(file, Boolean(opts.authFile));
    if (!doc) continue;
    for (const key of keys) {
      const helper = Object.entries(doc.credHelpers).find(([k]) => normaliseKey(k) === key)?.[1];
      if (helper) {
        const c = await fromHelper(helper, key, signal);
        if (c) return { credentials: c, origin: `docker-credential-${helper}` };
      }
      const entry = Object.entries(doc.auths).find(([k]) => normaliseKey(k) === key)?.[1];
      if (entry) {
        const c = decodeEntry(entry, `auth file ${file} (${key})`, file);
        if (c) return { credentials: c, origin: file };
      }
    }
    if (doc.credsStore) {
      const c = await fromHelper(doc.credsStore, registry, signal);
      if (c) return { credentials: c, origin: `docker-credential-${doc.credsStore}` };
    }
  }
  return null;
}
