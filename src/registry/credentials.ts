// Registry credentials, looked up as containers-auth.json(5) describes:
// --authfile, $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
// ~/.config/containers/auth.json, then Docker's $DOCKER_CONFIG/config.json or
// ~/.docker/config.json. In each file the most specific key wins
// (host/ns/repo before host/ns before host); the first file with a match wins.
// Credential helpers (credHelpers / credsStore) run docker-credential-<name>.
// Secrets never leave this module in messages.

import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

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
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

export class CredentialError extends Error {}

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

function decodeEntry(entry: AuthEntry, where: string): Credentials | null {
  if (entry.identitytoken) return { kind: 'identity-token', username: entry.username ?? '', token: entry.identitytoken };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) throw new CredentialError(`${where}: the "auth" value is not base64 of "user:password"`);
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
    if (e.code === 'ENOENT') throw new CredentialError(`credential helper ${program} is configured for ${registry} but not installed`);
    // Never echo the helper's output: it may hold a secret.
    throw new CredentialError(`credential helper ${program} failed for ${registry} (exit ${e.exitCode ?? '?'})`);
  }
  let parsed: { Username?: string; Secret?: string };
  try {
    parsed = JSON.parse(stdout) as { Username?: string; Secret?: string };
  } catch {
    throw new CredentialError(`credential helper ${program} returned something that is not JSON for ${registry}`);
  }
  if (!parsed.Secret) return null;
  if (parsed.Username === '<token>') return { kind: 'identity-token', username: '', token: parsed.Secret };
  return { kind: 'basic', username: parsed.Username ?? '', password: parsed.Secret };
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
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (opts.authFile && (err as NodeJS.ErrnoException).code === 'ENOENT') throw new CredentialError(`auth file ${file} does not exist`);
      continue;
    }
    let doc: AuthFile;
    try {
      doc = JSON.parse(text) as AuthFile;
    } catch {
      throw new CredentialError(`auth file ${file} is not valid JSON`);
    }
    for (const key of keys) {
      const helper = Object.entries(doc.credHelpers ?? {}).find(([k]) => normaliseKey(k) === key)?.[1];
      if (helper) {
        const c = await fromHelper(helper, key, signal);
        if (c) return { credentials: c, origin: `docker-credential-${helper}` };
      }
      const entry = Object.entries(doc.auths ?? {}).find(([k]) => normaliseKey(k) === key)?.[1];
      if (entry) {
        const c = decodeEntry(entry, `${file} (${key})`);
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
