// Verify: the signature policy (containers-policy.json(5)) decides whether
// an image may be embedded, on the manifest digest actually fetched and
// before any of its blobs is. Signatures are read only when a requirement
// needs them: from the lookaside store registries.d names for the endpoint
// that served the image, and from sigstore attachments where registries.d
// turns them on.

import { evaluate, type Acceptance, type ImageSignatures } from '../policy/evaluate.js';
import { needsSignatures, requirementsFor, type Policy } from '../policy/policy.js';
import type { Reference } from '../oci/reference.js';
import type { Endpoint } from '../registry/resolver.js';
import { readAttachments } from './attachments.js';
import { readLookaside } from './lookaside.js';
import { storageFor, type RegistriesD } from './registries-d.js';

/** What the user's machine says about trusting images. */
export interface TrustConfig {
  /** null: no policy file exists (everything accepted, and the report says so). */
  readonly policy: Policy | null;
  /** --insecure-policy: the policy is not consulted at all. */
  readonly insecure: boolean;
  readonly registriesD: RegistriesD;
}

/** Per image: the requirements that accepted it; null when no policy was consulted. */
export type Verdict = readonly Acceptance[] | null;

export interface VerifyTarget {
  /** The image as the user named it (with the lock's digest when pinned): the signed identity is matched against it. */
  readonly identity: Reference;
  /** The top-level manifest fetched (the index when there is one). */
  readonly digest: string;
  /** The registry endpoint that served it; undefined for a local source. */
  readonly served: Endpoint | undefined;
}

export async function verifyImage(trust: TrustConfig | undefined, target: VerifyTarget, signal: AbortSignal): Promise<Verdict> {
  if (!trust || trust.insecure || !trust.policy) return null;
  const applicable = requirementsFor(trust.policy, target.identity);
  const signatures = await signaturesFor(trust, target, needsSignatures(applicable.requirements), signal);
  return evaluate(trust.policy, target.identity, target.digest, signatures, signal, applicable);
}

async function signaturesFor(trust: TrustConfig, target: VerifyTarget, need: ReturnType<typeof needsSignatures>, signal: AbortSignal): Promise<ImageSignatures> {
  const none: ImageSignatures = { simple: [], sigstore: [] };
  // Local stores and archives carry no signatures (containers/image reads none from them either).
  if (!target.served) return none;
  const at = target.served.ref;
  const storage = storageFor(trust.registriesD, at);
  const [simple, sigstore] = await Promise.all([
    need.simple ? readLookaside(storage.lookaside, at, target.digest, signal) : [],
    need.sigstore && storage.useSigstoreAttachments ? readAttachments(target.served.reader, at, target.digest, signal) : [],
  ]);
  return { simple, sigstore };
}
