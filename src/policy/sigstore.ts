// Sigstore (cosign) signatures checked against public keys, as c/image's
// sigstoreSigned does when the policy gives keys: the signature is over the
// exact payload bytes, hashed with SHA-256 for ECDSA and RSA (PKCS #1 v1.5),
// plain Ed25519 otherwise. Fulcio certificates and Rekor inclusion proofs are
// not checked: the policy parser refuses requirements that ask for them.

import { createHash, createPublicKey, verify, constants, type KeyObject } from 'node:crypto';

export interface SigstoreKey {
  /** "sha256:<hex of the DER SubjectPublicKeyInfo>", stable across PEM re-encodings. */
  readonly id: string;
  readonly key: KeyObject;
}

export type SigstoreVerdict = { ok: true; keyId: string } | { ok: false; reason: string };

const SUPPORTED = ['ec', 'rsa', 'ed25519'];

/** Parses one PEM public key; throws an Error saying why it is not one we can use. */
export function parseSigstoreKey(pem: Buffer): SigstoreKey {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new Error(`it is not a PEM public key (${err instanceof Error ? err.message : String(err)})`);
  }
  const type = key.asymmetricKeyType ?? 'unknown';
  if (!SUPPORTED.includes(type)) throw new Error(`its key type ${type} is not supported (ECDSA, RSA or Ed25519)`);
  const der = key.export({ type: 'spki', format: 'der' });
  return { id: `sha256:${createHash('sha256').update(der).digest('hex')}`, key };
}

/** Go's base64.StdEncoding, which c/image decodes the annotation with: padded, no URL alphabet. */
function decodeBase64(text: string): Buffer | null {
  const clean = text.replace(/[\r\n]/g, '');
  if (clean.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) return null;
  const bytes = Buffer.from(clean, 'base64');
  return bytes.toString('base64') === clean ? bytes : null;
}

function verifiesWith(k: SigstoreKey, payload: Buffer, signature: Buffer): boolean {
  try {
    switch (k.key.asymmetricKeyType) {
      case 'ec':
        return verify('sha256', payload, { key: k.key, dsaEncoding: 'der' }, signature);
      case 'rsa':
        return verify('sha256', payload, { key: k.key, padding: constants.RSA_PKCS1_PADDING }, signature);
      default:
        return verify(null, payload, k.key, signature);
    }
  } catch {
    // A signature that is not even well-formed DER simply does not verify.
    return false;
  }
}

/** Which of `keys` made `signatureBase64` over `payload`, if any. */
export function verifySigstore(keys: readonly SigstoreKey[], payload: Buffer, signatureBase64: string): SigstoreVerdict {
  const signature = decodeBase64(signatureBase64);
  if (signature === null || signature.length === 0) return { ok: false, reason: 'the signature annotation is not base64 data' };
  const key = keys.find((k) => verifiesWith(k, payload, signature));
  if (!key) return { ok: false, reason: `the signature does not verify with ${keys.length === 1 ? 'the accepted key' : `any of the ${keys.length} accepted keys`} (${keys.map((k) => k.id).join(', ')})` };
  return { ok: true, keyId: key.id };
}
