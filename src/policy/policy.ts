// containers-policy.json(5): which images may be pulled, and whose signatures
// they need. Read as strictly as containers/image reads it (unknown keys,
// duplicate keys and wrong types are errors naming the JSON path), so a file
// that podman refuses is refused here too, and one it accepts is accepted,
// except for requirements imgdesc cannot evaluate in the sections it uses
// (see parseRequirement): those are refused up front instead of rejecting
// every image later.

import { isAbsolute, resolve } from 'node:path';
import { ConfigFileError } from '../errors.js';
import type { Reference } from '../oci/reference.js';
import { readTextFile } from '../util/text-file.js';
import { imageIdentity, parseDockerIdentity, remapPrefixProblem, type SignedIdentity } from './identity.js';

export type { SignedIdentity } from './identity.js';
import { isJsonObject, jsonKind, keyPath, parseStrictJson, StrictJsonError, type JsonObject, type JsonValue } from './strict-json.js';

/**
 * One requirement. For the signed kinds, `keyPaths` are absolute paths of key
 * files, read when a signature is checked (as c/image does: a key file only
 * matters for the images whose scope names it), and `keyData` holds the keys
 * written inline (keyData/keyDatas, base64-decoded). Exactly one of the two
 * is non-empty.
 */
export type Requirement =
  | { type: 'insecureAcceptAnything' }
  | { type: 'reject' }
  | { type: 'signedBy'; keyType: 'GPGKeys'; keyPaths: string[]; keyData: Buffer[]; signedIdentity: SignedIdentity }
  | { type: 'sigstoreSigned'; keyPaths: string[]; keyData: Buffer[]; signedIdentity: SignedIdentity };

export interface Policy {
  /** The file it was read from, for messages. */
  readonly file: string;
  readonly default: readonly Requirement[];
  /** The docker transport's scopes, in file order. */
  readonly docker: ReadonlyMap<string, readonly Requirement[]>;
  /** Other transports named in the file: validated, never evaluated by imgdesc. */
  readonly otherTransports: readonly string[];
}

/** Where each requirement was written (`transports.docker["x"][0]`), for messages about it. */
const WHERE = new WeakMap<Requirement, string>();

export function requirementPath(req: Requirement): string {
  return WHERE.get(req) ?? '?';
}

/** policy.json files are small; anything larger is not one. */
const MAX_POLICY_BYTES = 4 * 1024 * 1024;
const DOCKER = 'docker';

class PolicyFormatError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

const fail = (path: string, message: string): never => {
  throw new PolicyFormatError(path, message);
};

// ---- small typed readers over JsonValue -----------------------------------

function object(value: JsonValue | undefined, path: string): JsonObject {
  return isJsonObject(value) ? value : fail(path, `expected an object, found ${jsonKind(value)}`);
}

function string(value: JsonValue | undefined, path: string): string {
  return typeof value === 'string' ? value : fail(path, `expected a string, found ${jsonKind(value)}`);
}

function array(value: JsonValue | undefined, path: string): JsonValue[] {
  return Array.isArray(value) ? value : fail(path, `expected an array, found ${jsonKind(value)}`);
}

/** Refuses keys outside `allowed`; c/image does, so a misspelt key is not silently ignored. */
function onlyKeys(obj: JsonObject, allowed: readonly string[], path: string): void {
  for (const key of obj.keys()) {
    if (!allowed.includes(key)) fail(keyPath(path, key), `unknown key (allowed here: ${allowed.join(', ')})`);
  }
}

/** Go's encoding of []byte: standard base64 with padding. */
function base64(value: JsonValue | undefined, path: string): Buffer {
  const text = string(value, path);
  const bytes = Buffer.from(text, 'base64');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0 || bytes.toString('base64') !== text) {
    fail(path, 'is not base64 data');
  }
  if (bytes.length === 0) fail(path, 'is empty');
  return bytes;
}

// ---- signedIdentity ----------------------------------------------------------

function referenceField(obj: JsonObject, key: string, path: string, needTagOrDigest: boolean): string {
  const text = string(obj.get(key), keyPath(path, key));
  let id;
  try {
    id = parseDockerIdentity(text);
  } catch (err) {
    return fail(keyPath(path, key), err instanceof Error ? err.message : String(err));
  }
  if (needTagOrDigest && id.tag === null && id.digest === null) fail(keyPath(path, key), `"${text}" has neither a tag nor a digest`);
  return text;
}

function prefixField(obj: JsonObject, key: string, path: string): string {
  const text = string(obj.get(key), keyPath(path, key));
  const problem = remapPrefixProblem(text);
  return problem === null ? text : fail(keyPath(path, key), problem);
}

function parseSignedIdentity(value: JsonValue | undefined, path: string): SignedIdentity {
  const obj = object(value, path);
  const type = string(obj.get('type'), keyPath(path, 'type'));
  const exact = (...keys: string[]) => {
    onlyKeys(obj, ['type', ...keys], path);
    for (const k of keys) if (!obj.has(k)) fail(keyPath(path, k), 'is missing');
  };
  switch (type) {
    case 'matchRepoDigestOrExact':
    case 'matchRepository':
    case 'matchExact':
      exact();
      return { type };
    case 'exactReference':
      exact('dockerReference');
      return { type, dockerReference: referenceField(obj, 'dockerReference', path, true) };
    case 'exactRepository':
      exact('dockerRepository');
      return { type, dockerRepository: referenceField(obj, 'dockerRepository', path, false) };
    case 'remapIdentity':
      exact('prefix', 'signedPrefix');
      return { type, prefix: prefixField(obj, 'prefix', path), signedPrefix: prefixField(obj, 'signedPrefix', path) };
    default:
      return fail(keyPath(path, 'type'), `"${type}" is not a signedIdentity type (matchRepoDigestOrExact, matchRepository, matchExact, exactReference, exactRepository, remapIdentity)`);
  }
}

// ---- requirements ----------------------------------------------------------------

/**
 * How strictly a section is read. `evaluated`: a section imgdesc may apply
 * (default, docker) — a requirement it cannot check is an error now. Other
 * transports' sections are never applied, so there a valid requirement that
 * imgdesc cannot check (Fulcio, signedBaseLayer, X.509 key types) passes.
 */
interface Mode {
  readonly evaluated: boolean;
}

const UNSUPPORTED_SIGSTORE = ['fulcio', 'pki', 'rekorPublicKeyPath', 'rekorPublicKeyPaths', 'rekorPublicKeyData', 'rekorPublicKeyDatas'];
const UNIMPLEMENTED_KEY_TYPES = ['signedByGPGKeys', 'X509Certificates', 'signedByX509CAs'];

/** Exactly one of `sources` is present; returns its name. */
function oneSource(obj: JsonObject, sources: readonly string[], path: string, alsoAllowed: readonly string[] = []): string | null {
  const present = [...sources, ...alsoAllowed].filter((k) => obj.has(k));
  if (present.length !== 1) fail(path, `exactly one of ${[...sources, ...alsoAllowed].join(', ')} must be given, found ${present.length === 0 ? 'none' : present.join(', ')}`);
  return sources.includes(present[0]!) ? present[0]! : null;
}

/**
 * Key files as absolute paths. c/image opens a relative keyPath as it is,
 * that is relative to the working directory of the process; resolving it here
 * does the same once, so later messages show where it was looked for.
 */
function keyFiles(obj: JsonObject, source: string, path: string): string[] {
  const p = keyPath(path, source);
  const list = source === 'keyPath' ? [string(obj.get(source), p)] : array(obj.get(source), p).map((v, i) => string(v, `${p}[${i}]`));
  if (list.length === 0) fail(p, 'is empty');
  list.forEach((f, i) => f === '' && fail(source === 'keyPath' ? p : `${p}[${i}]`, 'is empty'));
  return list.map((f) => (isAbsolute(f) ? f : resolve(f)));
}

function keyDatas(obj: JsonObject, source: string, path: string): Buffer[] {
  const p = keyPath(path, source);
  if (source === 'keyData') return [base64(obj.get(source), p)];
  const list = array(obj.get(source), p).map((v, i) => base64(v, `${p}[${i}]`));
  return list.length > 0 ? list : fail(p, 'is empty');
}

function keys(obj: JsonObject, source: string | null, path: string): { keyPaths: string[]; keyData: Buffer[] } {
  if (source === null) return { keyPaths: [], keyData: [] };
  if (source === 'keyPath' || source === 'keyPaths') return { keyPaths: keyFiles(obj, source, path), keyData: [] };
  return { keyPaths: [], keyData: keyDatas(obj, source, path) };
}

function signedIdentityOf(obj: JsonObject, path: string): SignedIdentity {
  return obj.has('signedIdentity') ? parseSignedIdentity(obj.get('signedIdentity'), keyPath(path, 'signedIdentity')) : { type: 'matchRepoDigestOrExact' };
}

function parseSignedBy(obj: JsonObject, path: string, mode: Mode): Requirement | null {
  onlyKeys(obj, ['type', 'keyType', 'keyPath', 'keyPaths', 'keyData', 'signedIdentity'], path);
  const keyType = string(obj.get('keyType'), keyPath(path, 'keyType'));
  const implemented = keyType === 'GPGKeys';
  if (!implemented && !UNIMPLEMENTED_KEY_TYPES.includes(keyType)) fail(keyPath(path, 'keyType'), `"${keyType}" is not one of GPGKeys`);
  if (!implemented && mode.evaluated) fail(keyPath(path, 'keyType'), `"${keyType}" is not supported (only GPGKeys is; containers/image does not implement it either)`);
  const source = oneSource(obj, ['keyPath', 'keyPaths', 'keyData'], path)!;
  const k = keys(obj, source, path);
  const signedIdentity = signedIdentityOf(obj, path);
  return implemented ? { type: 'signedBy', keyType: 'GPGKeys', ...k, signedIdentity } : null;
}

/**
 * sigstoreSigned with public keys only: Fulcio certificates, PKI and Rekor
 * transparency-log checks are not implemented, so a policy asking for them
 * is refused rather than half-honoured.
 */
function parseSigstoreSigned(obj: JsonObject, path: string, mode: Mode): Requirement | null {
  onlyKeys(obj, ['type', 'keyPath', 'keyPaths', 'keyData', 'keyDatas', 'signedIdentity', ...UNSUPPORTED_SIGSTORE], path);
  const unsupported = UNSUPPORTED_SIGSTORE.filter((k) => obj.has(k));
  if (unsupported.length > 0 && mode.evaluated) {
    fail(keyPath(path, unsupported[0]!), 'is not supported: imgdesc verifies sigstore signatures with public keys only (no Fulcio certificates, PKI or Rekor)');
  }
  for (const k of ['fulcio', 'pki']) if (obj.has(k)) object(obj.get(k), keyPath(path, k));
  const source = oneSource(obj, ['keyPath', 'keyPaths', 'keyData', 'keyDatas'], path, ['fulcio', 'pki']);
  const k = keys(obj, source, path);
  const signedIdentity = signedIdentityOf(obj, path);
  return source === null ? null : { type: 'sigstoreSigned', ...k, signedIdentity };
}

/** One requirement; null for a valid one imgdesc never evaluates (only outside evaluated sections). */
function parseRequirement(value: JsonValue, path: string, mode: Mode): Requirement | null {
  const obj = object(value, path);
  const type = string(obj.get('type'), keyPath(path, 'type'));
  switch (type) {
    case 'insecureAcceptAnything':
    case 'reject':
      onlyKeys(obj, ['type'], path);
      return { type };
    case 'signedBy':
      return parseSignedBy(obj, path, mode);
    case 'sigstoreSigned':
      return parseSigstoreSigned(obj, path, mode);
    case 'signedBaseLayer':
      if (mode.evaluated) fail(keyPath(path, 'type'), '"signedBaseLayer" is not supported (containers/image does not implement it either)');
      onlyKeys(obj, ['type', 'baseLayerIdentity'], path);
      parseSignedIdentity(obj.get('baseLayerIdentity'), keyPath(path, 'baseLayerIdentity'));
      return null;
    default:
      return fail(keyPath(path, 'type'), `"${type}" is not a requirement type (insecureAcceptAnything, reject, signedBy, sigstoreSigned)`);
  }
}

function parseRequirements(value: JsonValue | undefined, path: string, mode: Mode): Requirement[] {
  const list = array(value, path);
  if (list.length === 0) fail(path, 'the list of requirements must not be empty');
  const out: Requirement[] = [];
  list.forEach((v, i) => {
    const req = parseRequirement(v, `${path}[${i}]`, mode);
    if (req) {
      WHERE.set(req, `${path}[${i}]`);
      out.push(req);
    }
  });
  return out;
}

// ---- the file ------------------------------------------------------------------------

function parseTransports(value: JsonValue | undefined): { docker: Map<string, Requirement[]>; others: string[] } {
  const docker = new Map<string, Requirement[]>();
  const others: string[] = [];
  if (value === undefined) return { docker, others };
  for (const [transport, scopes] of object(value, 'transports')) {
    const path = keyPath('transports', transport);
    const mode = { evaluated: transport === DOCKER };
    for (const [scope, reqs] of object(scopes, path)) {
      // Any scope string is valid for docker, as in c/image; one that is no image name just never matches.
      const list = parseRequirements(reqs, `${path}[${JSON.stringify(scope)}]`, mode);
      if (mode.evaluated) docker.set(scope, list);
    }
    if (!mode.evaluated) others.push(transport);
  }
  return { docker, others };
}

/** Parses policy.json text; throws ConfigFileError naming `file` and the JSON path. */
export function parsePolicy(text: string, file: string): Policy {
  try {
    const top = object(parseStrictJson(text), '');
    onlyKeys(top, ['default', 'transports'], '');
    if (!top.has('default')) fail('default', 'is missing (the requirements for images no scope names)');
    const defaults = parseRequirements(top.get('default'), 'default', { evaluated: true });
    const { docker, others } = parseTransports(top.get('transports'));
    return Object.freeze({ file, default: defaults, docker, otherTransports: others });
  } catch (err) {
    if (err instanceof PolicyFormatError || err instanceof StrictJsonError) {
      const where = err.path === '' ? '' : `${err.path}: `;
      throw new ConfigFileError(`${file}: ${where}${err.message}`, file, { cause: err });
    }
    throw err;
  }
}

/** Reads and parses a policy file; an unreadable or absent file is a ConfigFileError. */
export async function loadPolicyFile(file: string): Promise<Policy> {
  const read = await readTextFile(file, MAX_POLICY_BYTES);
  if (!read.ok) throw new ConfigFileError(`${file}: cannot read the signature policy: ${read.reason}`, file, { cause: read.cause });
  return parsePolicy(read.text, file);
}

// ---- choosing requirements -------------------------------------------------------

/**
 * The scopes that may name an image, most specific first, as c/image's
 * docker transport lists them: the full identity (name@digest, and for an
 * image the user named by tag also name:tag, which c/image alone would not
 * consult for a pinned image but a user writing a tag scope means), the
 * repository and each parent namespace up to host[:port], then *.domain
 * wildcards from the host without its port.
 */
export function candidateScopes(ref: Reference): string[] {
  const id = imageIdentity(ref);
  const out: string[] = [];
  if (id.digest) out.push(`${id.name}@${id.digest}`);
  if (id.tag) out.push(`${id.name}:${id.tag}`);
  let name = id.name;
  for (;;) {
    out.push(name);
    const slash = name.lastIndexOf('/');
    if (slash === -1) break;
    name = name.slice(0, slash);
  }
  let host = name.replace(/:\d+$/, '');
  for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.')) {
    host = host.slice(dot + 1);
    out.push(`*.${host}`);
  }
  return out;
}

/**
 * The requirements for a docker-transport image. `scope` is the matching
 * key of transports.docker ("" for the transport-wide one), or "default".
 */
export function requirementsFor(policy: Policy, ref: Reference): { scope: string; requirements: readonly Requirement[] } {
  for (const scope of [...candidateScopes(ref), '']) {
    const requirements = policy.docker.get(scope);
    if (requirements) return { scope, requirements };
  }
  return { scope: 'default', requirements: policy.default };
}

/** Which kinds of signatures the requirements look at; neither: the caller need not fetch any. */
export function needsSignatures(reqs: readonly Requirement[]): { simple: boolean; sigstore: boolean } {
  return { simple: reqs.some((r) => r.type === 'signedBy'), sigstore: reqs.some((r) => r.type === 'sigstoreSigned') };
}
