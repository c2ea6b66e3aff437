// containers-registries.conf(5), V2 format: which registries an image name
// is read from (mirrors first, then the registry itself, possibly at another
// location), which are plain-http/unverified, which are blocked, and the
// short-name aliases. Files are found and merged as containers/image does
// (sysregistriesv2): one main file, then the drop-in directories.

import { readdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { ConfigFileError } from '../errors.js';
import { Reference } from '../oci/reference.js';
import { errnoCode, errnoText } from '../util/errno.js';
import { readTextFile, somethingAt } from '../util/text-file.js';

export type PullFromMirror = 'all' | 'digest-only' | 'tag-only';

export interface MirrorRule {
  readonly location: string;
  readonly insecure: boolean;
  readonly pullFromMirror: PullFromMirror;
}

export interface RegistryRule {
  /** What image names the rule applies to: host[/path][:tag|@digest], or *.domain. */
  readonly prefix: string;
  /** Where those images really are ("" only for a wildcard prefix: not rewritten). */
  readonly location: string;
  readonly insecure: boolean;
  readonly blocked: boolean;
  readonly mirrorByDigestOnly: boolean;
  readonly mirrors: readonly MirrorRule[];
  /** The file the rule was read from, for messages. */
  readonly file: string;
}

export interface RegistriesConf {
  /** Every file read, in order (empty: none exists; built-in defaults). */
  readonly files: readonly string[];
  readonly rules: readonly RegistryRule[];
  /** Short name → fully-qualified name ([aliases]), later files win. */
  readonly aliases: ReadonlyMap<string, { target: string; file: string }>;
}

export const EMPTY_REGISTRIES_CONF: RegistriesConf = { files: [], rules: [], aliases: new Map() };

/** One endpoint to read an image from, as a rule makes it. */
export interface PullSource {
  /** The name at this endpoint (the image's own tag or digest kept). */
  readonly ref: Reference;
  readonly insecure: boolean;
  readonly mirror: boolean;
}

const MAX_CONF_BYTES = 1024 * 1024;
const TOP_KEYS = new Set(['registry', 'aliases', 'unqualified-search-registries', 'short-name-mode', 'credential-helpers', 'additional-layer-store-auth-helpers']);
const REGISTRY_KEYS = new Set(['prefix', 'location', 'insecure', 'blocked', 'mirror-by-digest-only', 'mirror']);
const MIRROR_KEYS = new Set(['location', 'insecure', 'pull-from-mirror']);

export interface ConfLocation {
  /** --registries-conf. */
  readonly file?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly home?: string;
  /** The system configuration directory (tests); /etc/containers. */
  readonly systemDir?: string;
}

/**
 * The main file and the drop-in directories, in the order they are read.
 * --registries-conf (or $CONTAINERS_REGISTRIES_CONF, which podman honours and
 * skopeo does not) replaces the main file only; a per-user main file replaces
 * the system one and then only the per-user drop-ins count.
 */
export async function confPaths(loc: ConfLocation): Promise<{ main: string; mainGiven: boolean; dropInDirs: string[] }> {
  const env = loc.env ?? process.env;
  const home = loc.home ?? env.HOME ?? homedir();
  const system = loc.systemDir ?? '/etc/containers';
  const userMain = join(home, '.config/containers/registries.conf');
  const userDir = join(home, '.config/containers/registries.conf.d');
  const given = loc.file ?? (env.CONTAINERS_REGISTRIES_CONF || undefined);
  if (given !== undefined) return { main: given, mainGiven: true, dropInDirs: [join(system, 'registries.conf.d'), userDir] };
  if (await somethingAt(userMain)) return { main: userMain, mainGiven: false, dropInDirs: [userDir] };
  return { main: join(system, 'registries.conf'), mainGiven: false, dropInDirs: [join(system, 'registries.conf.d'), userDir] };
}

/** Reads and merges every registries.conf file that applies. */
export async function loadRegistriesConf(loc: ConfLocation = {}): Promise<RegistriesConf> {
  const { main, mainGiven, dropInDirs } = await confPaths(loc);
  const files: string[] = [];
  const mainText = await readConf(main, mainGiven);
  let conf: RegistriesConf = EMPTY_REGISTRIES_CONF;
  if (mainText !== null) {
    files.push(main);
    conf = merge(conf, parseRegistriesConf(mainText, main));
  }
  for (const dir of dropInDirs) {
    for (const file of await dropIns(dir)) {
      const text = await readConf(file, false);
      if (text === null) continue;
      files.push(file);
      conf = merge(conf, parseRegistriesConf(text, file));
    }
  }
  return { ...conf, files };
}

async function dropIns(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => n.endsWith('.conf')).sort().map((n) => join(dir, n));
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw new ConfigFileError(`cannot list registries.conf drop-ins in ${dir}: ${errnoText(err)}`, dir, { cause: err });
  }
}

/** The file's text; null when it does not exist and need not. */
async function readConf(file: string, required: boolean): Promise<string | null> {
  const read = await readTextFile(file, MAX_CONF_BYTES);
  if (read.ok) return read.text;
  if (read.absent && !required) return null;
  throw new ConfigFileError(`cannot read registries.conf ${file}: ${read.reason}`, file, { cause: read.cause });
}

/**
 * Later files override: a rule with the same prefix replaces the earlier
 * one, aliases are replaced one by one (containers-registries.conf.d(5)).
 */
function merge(base: RegistriesConf, next: RegistriesConf): RegistriesConf {
  const byPrefix = new Map(base.rules.map((r) => [r.prefix, r]));
  for (const r of next.rules) byPrefix.set(r.prefix, r);
  const aliases = new Map(base.aliases);
  for (const [k, v] of next.aliases) aliases.set(k, v);
  return { files: [], rules: [...byPrefix.values()], aliases };
}

/** Parses one file strictly enough to never half-read it. */
export function parseRegistriesConf(text: string, file: string): RegistriesConf {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigFileError(`${file}: not valid TOML: ${(err as Error).message.split('\n')[0]}`, file, { cause: err });
  }
  const fail = (where: string, why: string): never => {
    throw new ConfigFileError(`${file}: ${where}: ${why}`, file);
  };
  if ('registries' in doc) fail('[registries.*]', 'the V1 format (registries.search/insecure/block) is not supported; rewrite it as [[registry]] tables (containers-registries.conf(5), V2)');
  for (const key of Object.keys(doc)) if (!TOP_KEYS.has(key)) fail(key, 'unknown key');
  const list = doc.registry ?? [];
  if (!Array.isArray(list)) fail('registry', 'must be an array of tables ([[registry]])');
  const rules = (list as unknown[]).map((r, i) => parseRule(r, `[[registry]] #${i + 1}`, file, fail));
  const seen = new Set<string>();
  for (const r of rules) {
    if (seen.has(r.prefix)) fail(`[[registry]] prefix ${JSON.stringify(r.prefix)}`, 'defined more than once');
    seen.add(r.prefix);
  }
  return { files: [file], rules, aliases: parseAliases(doc.aliases, file, fail) };
}

type Fail = (where: string, why: string) => never;

function parseRule(raw: unknown, where: string, file: string, fail: Fail): RegistryRule {
  const t = table(raw, where, fail, REGISTRY_KEYS);
  const location = locationOf(t.location, `${where} location`, fail);
  const prefix = t.prefix === undefined ? location : locationOf(t.prefix, `${where} prefix`, fail);
  if (prefix === '') fail(where, 'both location and prefix are unset');
  const wildcard = prefix.startsWith('*.');
  if (prefix.includes('*') && !(wildcard && !prefix.slice(2).includes('*') && !prefix.includes('/'))) fail(`${where} prefix`, `${JSON.stringify(prefix)}: a wildcard is allowed only as "*.domain" at the start`);
  if (location === '' && !wildcard) fail(where, 'location is unset and the prefix is not of the form *.example.com');
  const mirrorByDigestOnly = bool(t['mirror-by-digest-only'], `${where} mirror-by-digest-only`, fail);
  const mirrorsRaw = t.mirror ?? [];
  if (!Array.isArray(mirrorsRaw)) fail(`${where} mirror`, 'must be an array of tables ([[registry.mirror]])');
  const mirrors = (mirrorsRaw as unknown[]).map((m, j) => parseMirror(m, `${where} mirror #${j + 1}`, mirrorByDigestOnly, fail));
  return { prefix, location, insecure: bool(t.insecure, `${where} insecure`, fail), blocked: bool(t.blocked, `${where} blocked`, fail), mirrorByDigestOnly, mirrors, file };
}

function parseMirror(raw: unknown, where: string, byDigestOnly: boolean, fail: Fail): MirrorRule {
  const t = table(raw, where, fail, MIRROR_KEYS);
  const location = locationOf(t.location, `${where} location`, fail);
  if (location === '') fail(where, 'location is unset');
  const pull = t['pull-from-mirror'];
  if (pull !== undefined && pull !== 'all' && pull !== 'digest-only' && pull !== 'tag-only') fail(`${where} pull-from-mirror`, `${JSON.stringify(pull)} is not one of all, digest-only, tag-only`);
  if (pull !== undefined && byDigestOnly) fail(where, 'mirror-by-digest-only on the registry and pull-from-mirror on a mirror exclude each other');
  return { location, insecure: bool(t.insecure, `${where} insecure`, fail), pullFromMirror: (pull as PullFromMirror | undefined) ?? 'all' };
}

function parseAliases(raw: unknown, file: string, fail: Fail): Map<string, { target: string; file: string }> {
  const out = new Map<string, { target: string; file: string }>();
  if (raw === undefined) return out;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('[aliases]', 'must be a table');
  for (const [name, target] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof target !== 'string') fail(`[aliases] ${JSON.stringify(name)}`, 'must be a string');
    out.set(name, { target: target as string, file });
  }
  return out;
}

function table(raw: unknown, where: string, fail: Fail, keys: Set<string>): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(where, 'must be a table');
  const t = raw as Record<string, unknown>;
  for (const k of Object.keys(t)) if (!keys.has(k)) fail(`${where} ${k}`, 'unknown key');
  return t;
}

function bool(v: unknown, where: string, fail: Fail): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') fail(where, 'must be true or false');
  return v as boolean;
}

/** A location or prefix: a string, any http(s):// and trailing "/" dropped (as containers/image does). */
function locationOf(v: unknown, where: string, fail: Fail): string {
  if (v === undefined) return '';
  if (typeof v !== 'string') fail(where, 'must be a string');
  let s = (v as string).trim();
  if (s.startsWith('http://') || s.startsWith('https://')) fail(where, `${JSON.stringify(s)}: give a host[/path], not a URL`);
  while (s.endsWith('/')) s = s.slice(0, -1);
  return s;
}

/**
 * How far `name` matches `prefix`: the length of the matched part, or -1.
 * A match ends at the end of the name or before ":", "/" or "@", so that
 * "example.com/foo" does not match "example.com/foobar".
 */
export function matchLength(name: string, prefix: string): number {
  if (prefix.startsWith('*.')) {
    const suffix = prefix.slice(1);
    const at = name.indexOf(suffix);
    if (at === -1 || name.slice(0, at).includes('/')) return -1;
    return boundary(name, at + suffix.length);
  }
  if (!name.startsWith(prefix)) return -1;
  return boundary(name, prefix.length);
}

function boundary(name: string, end: number): number {
  return end === name.length || ':/@'.includes(name[end]!) ? end : -1;
}

/** The name containers/image matches rules against: name@digest when pinned, else name:tag. */
export function matchName(ref: Reference): string {
  return ref.digest ? `${ref.name}@${ref.digest}` : `${ref.name}:${ref.tag ?? 'latest'}`;
}

/** The rule for `ref`: the longest matching prefix, or null. */
export function findRule(conf: RegistriesConf, ref: Reference): RegistryRule | null {
  const name = matchName(ref);
  let best: RegistryRule | null = null;
  for (const r of conf.rules) {
    if (matchLength(name, r.prefix) !== -1 && (!best || r.prefix.length > best.prefix.length)) best = r;
  }
  return best;
}

/**
 * The endpoints to read `ref` from, in order: the mirrors that apply (per
 * mirror-by-digest-only / pull-from-mirror), then the registry at its
 * location. No rule: the registry itself.
 */
export function pullSources(rule: RegistryRule | null, ref: Reference): PullSource[] {
  if (!rule) return [{ ref, insecure: false, mirror: false }];
  const digested = ref.digest !== null;
  const mirrors = rule.mirrors.filter((m) => {
    if (rule.mirrorByDigestOnly) return digested;
    return !((m.pullFromMirror === 'digest-only' && !digested) || (m.pullFromMirror === 'tag-only' && digested));
  });
  return [
    ...mirrors.map((m) => ({ ref: rewrite(ref, rule, m.location), insecure: m.insecure, mirror: true })),
    { ref: rewrite(ref, rule, rule.location), insecure: rule.insecure, mirror: false },
  ];
}

/** `ref` with the part matched by the rule's prefix replaced by `location`. */
function rewrite(ref: Reference, rule: RegistryRule, location: string): Reference {
  if (location === '') return ref;
  const name = matchName(ref);
  const rewritten = location + name.slice(matchLength(name, rule.prefix));
  let parsed: Reference;
  try {
    parsed = Reference.parse(rewritten);
  } catch (err) {
    throw new ConfigFileError(`${rule.file}: [[registry]] prefix ${JSON.stringify(rule.prefix)}: rewriting ${ref} to location ${JSON.stringify(location)} gives ${JSON.stringify(rewritten)}, which is not a valid reference`, rule.file, { cause: err });
  }
  // The planned tag is kept alongside a digest, as the rest of imgdesc expects.
  return ref.digest && ref.tag ? Reference.of(parsed.registry, parsed.repository, ref.tag, ref.digest) : parsed;
}
