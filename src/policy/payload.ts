// The JSON a signature vouches for: containers/image's "simple signing"
// payload (what skopeo --sign-by signs) and cosign's variant of it. Read
// strictly, as c/image reads them: a payload with keys we do not understand
// in its critical part might restrict the image in a way we would ignore, so
// it is refused, not skimmed.

import { isJsonObject, jsonKind, keyPath, parseStrictJson, StrictJsonError, type JsonObject, type JsonValue } from './strict-json.js';

export type PayloadKind = 'simple' | 'cosign';

const TYPES: Record<PayloadKind, string> = {
  simple: 'atomic container signature',
  cosign: 'cosign container image signature',
};

/** What a payload claims; trusted only once its signature verified. */
export interface SignedClaims {
  readonly manifestDigest: string;
  readonly dockerReference: string;
}

export class PayloadError extends Error {}

/** algorithm:encoded as the OCI digest grammar allows; the value is compared to the image's digest later. */
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

function bad(path: string, what: string): never {
  throw new PayloadError(`${path === '' ? '' : `${path}: `}${what}`);
}

function exactObject(value: JsonValue | undefined, path: string, keys: readonly string[]): JsonObject {
  if (!isJsonObject(value)) return bad(path, `expected an object, found ${jsonKind(value)}`);
  for (const k of value.keys()) if (!keys.includes(k)) bad(keyPath(path, k), 'unknown key');
  for (const k of keys) if (!value.has(k)) bad(keyPath(path, k), 'is missing');
  return value;
}

function stringAt(obj: JsonObject, key: string, path: string): string {
  const v = obj.get(key);
  return typeof v === 'string' ? v : bad(keyPath(path, key), `expected a string, found ${jsonKind(v)}`);
}

/** `optional` may carry anything; the two keys c/image reads must have their types. cosign writes null for it. */
function checkOptional(value: JsonValue | undefined, kind: PayloadKind): void {
  if (value === null && kind === 'cosign') return;
  if (!isJsonObject(value)) bad('optional', `expected an object, found ${jsonKind(value)}`);
  if (value.has('creator')) stringAt(value, 'creator', 'optional');
  const ts = value.get('timestamp');
  if (ts !== undefined && !(typeof ts === 'number' && Number.isSafeInteger(ts))) bad('optional.timestamp', 'is not an integer');
}

function decode(bytes: Uint8Array): JsonValue {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return bad('', 'the payload is not UTF-8 text');
  }
  try {
    return parseStrictJson(text);
  } catch (err) {
    if (err instanceof StrictJsonError) return bad(err.path, `the payload is not valid JSON: ${err.message}`);
    throw err;
  }
}

/** Parses a verified payload; throws PayloadError saying what is wrong with it. */
export function parsePayload(bytes: Uint8Array, kind: PayloadKind): SignedClaims {
  const top = exactObject(decode(bytes), '', ['critical', 'optional']);
  checkOptional(top.get('optional'), kind);
  const critical = exactObject(top.get('critical'), 'critical', ['type', 'image', 'identity']);
  const type = stringAt(critical, 'type', 'critical');
  if (type !== TYPES[kind]) bad('critical.type', `"${type}" is not "${TYPES[kind]}"`);
  const image = exactObject(critical.get('image'), 'critical.image', ['docker-manifest-digest']);
  const manifestDigest = stringAt(image, 'docker-manifest-digest', 'critical.image');
  if (!DIGEST.test(manifestDigest)) bad('critical.image["docker-manifest-digest"]', `"${manifestDigest}" is not a digest`);
  const identity = exactObject(critical.get('identity'), 'critical.identity', ['docker-reference']);
  return { manifestDigest, dockerReference: stringAt(identity, 'docker-reference', 'critical.identity') };
}
