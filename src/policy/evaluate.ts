// Applying a policy to one image, as containers/image's IsRunningImageAllowed
// does: every requirement of the image's scope must accept it; a signed
// requirement accepts when at least one signature verifies with one of its
// keys AND vouches for this manifest digest AND for an identity its
// signedIdentity rule allows. A refusal names the image, the policy file, the
// scope, the requirement and what went wrong with each signature.

import { ConfigFileError, SourceError } from '../errors.js';
import type { Reference } from '../oci/reference.js';
import { GpgSetupError, openKeyring } from './gpg.js';
import { describeIdentityRule, identityMatches, imageIdentity, type DockerIdentity } from './identity.js';
import { readKeyFile } from './key-file.js';
import { parsePayload, PayloadError, type PayloadKind } from './payload.js';
import { requirementPath, requirementsFor, type Policy, type Requirement, type SignedIdentity } from './policy.js';
import { parseSigstoreKey, verifySigstore, type SigstoreKey } from './sigstore.js';

export interface SigstoreSignature {
  payload: Buffer;
  /** The dev.cosignproject.cosign/signature annotation. */
  signatureBase64: string;
}

export interface ImageSignatures {
  /** Raw lookaside signature files (OpenPGP signed messages). */
  simple: readonly Buffer[];
  sigstore: readonly SigstoreSignature[];
}

export interface Acceptance {
  scope: string;
  requirement: string;
  /** GPG primary fingerprints (uppercase hex) or sigstore key ids ("sha256:<hex of DER SPKI>") that verified; [] for insecureAcceptAnything. */
  keys: string[];
}

type SignedRequirement = Extract<Requirement, { type: 'signedBy' | 'sigstoreSigned' }>;

interface Context {
  readonly policy: Policy;
  readonly ref: Reference;
  readonly scope: string;
  readonly intended: DockerIdentity;
  readonly manifestDigest: string;
  readonly signal: AbortSignal;
}

/** Why one requirement refused the image. */
class Refusal extends Error {}

function requirementName(req: Requirement): string {
  return req.type === 'signedBy' ? 'signedBy GPGKeys' : req.type;
}

function describeRequirement(req: Requirement): string {
  if (req.type !== 'signedBy' && req.type !== 'sigstoreSigned') return req.type;
  const keys = req.keyPaths.length > 0 ? req.keyPaths.join(', ') : `keyData at ${requirementPath(req)}`;
  const rule = req.signedIdentity.type === 'matchRepoDigestOrExact' ? '' : `, signedIdentity ${describeIdentityRule(req.signedIdentity)}`;
  return `${requirementName(req)} ${keys}${rule}`;
}

function refusedError(ctx: Context, req: Requirement, reason: string, cause?: unknown): SourceError {
  const scope = ctx.scope === 'default' ? 'default requirements' : `scope "${ctx.scope}"`;
  const text = `${ctx.ref.toString()}: rejected by ${ctx.policy.file} (${scope}, ${describeRequirement(req)}): ${reason}`;
  return new SourceError('POLICY', text, ctx.ref.toString(), cause === undefined ? undefined : { cause });
}

/** The key bytes of a requirement with a label for each (its file, or where the inline key is). */
async function loadKeys(ctx: Context, req: SignedRequirement): Promise<{ label: string; file: string; bytes: Buffer }[]> {
  const where = requirementPath(req);
  if (req.keyPaths.length === 0) {
    return req.keyData.map((bytes, i) => ({ label: `${ctx.policy.file}: ${where} key ${i + 1}`, file: ctx.policy.file, bytes }));
  }
  const out = [];
  for (const file of req.keyPaths) {
    const read = await readKeyFile(file);
    if (!read.ok) throw new ConfigFileError(`${file}: cannot read the key file named by ${ctx.policy.file} at ${where}: ${read.reason}`, file, { cause: read.cause });
    out.push({ label: `${file} (named by ${ctx.policy.file} at ${where})`, file, bytes: read.bytes });
  }
  return out;
}

/** Why a verified payload does not vouch for this image, or null when it does. */
function claimProblem(ctx: Context, payload: Buffer, kind: PayloadKind, rule: SignedIdentity): string | null {
  let claims;
  try {
    claims = parsePayload(payload, kind);
  } catch (err) {
    if (err instanceof PayloadError) return `its payload is not a valid ${kind === 'simple' ? 'container' : 'cosign'} signature: ${err.message}`;
    throw err;
  }
  if (claims.manifestDigest !== ctx.manifestDigest) return `it is for manifest ${claims.manifestDigest}, not for the image's manifest ${ctx.manifestDigest}`;
  if (!identityMatches(rule, ctx.intended, claims.dockerReference)) {
    return `it is for ${JSON.stringify(claims.dockerReference)}, which signedIdentity ${describeIdentityRule(rule)} does not accept for ${ctx.ref.toString()}`;
  }
  return null;
}

/** The keys of the signatures that were accepted; throws Refusal listing every signature's reason when none was. */
function summarise(results: ({ key: string } | { reason: string })[], what: string): string[] {
  if (results.length === 0) throw new Refusal(`the image has no ${what}, and this requirement needs one`);
  const keys = [...new Set(results.flatMap((r) => ('key' in r ? [r.key] : [])))];
  if (keys.length > 0) return keys;
  const reasons = results.map((r, i) => `signature ${i + 1}: ${'reason' in r ? r.reason : ''}`);
  throw new Refusal(`no signature verified: ${reasons.join('; ')}`);
}

async function checkSignedBy(ctx: Context, req: Extract<Requirement, { type: 'signedBy' }>, signatures: readonly Buffer[]): Promise<string[]> {
  if (signatures.length === 0) return summarise([], 'simple-signing signatures');
  const keys = await loadKeys(ctx, req);
  let keyring;
  try {
    keyring = await openKeyring(
      keys.map((k) => k.bytes),
      ctx.signal,
    );
  } catch (err) {
    if (err instanceof GpgSetupError && err.keyIndex !== null) {
      const k = keys[err.keyIndex]!;
      throw new ConfigFileError(`${k.label}: ${err.message}`, k.file, { cause: err });
    }
    if (err instanceof GpgSetupError) throw new Refusal(`cannot verify GPG signatures: ${err.message}`);
    throw err;
  }
  try {
    const results: ({ key: string } | { reason: string })[] = [];
    for (const sig of signatures) {
      const v = await keyring.verify(sig, ctx.signal);
      const problem = v.ok ? claimProblem(ctx, v.payload, 'simple', req.signedIdentity) : v.reason;
      results.push(v.ok && problem === null ? { key: v.fingerprint } : { reason: v.ok ? `signed by key ${v.fingerprint}, but ${problem}` : v.reason });
    }
    return summarise(results, 'simple-signing signatures');
  } finally {
    await keyring.close();
  }
}

async function sigstoreKeys(ctx: Context, req: Extract<Requirement, { type: 'sigstoreSigned' }>): Promise<SigstoreKey[]> {
  return (await loadKeys(ctx, req)).map((k) => {
    try {
      return parseSigstoreKey(k.bytes);
    } catch (err) {
      throw new ConfigFileError(`${k.label}: ${err instanceof Error ? err.message : String(err)}`, k.file, { cause: err });
    }
  });
}

async function checkSigstore(ctx: Context, req: Extract<Requirement, { type: 'sigstoreSigned' }>, signatures: readonly SigstoreSignature[]): Promise<string[]> {
  if (signatures.length === 0) return summarise([], 'sigstore signatures');
  const keys = await sigstoreKeys(ctx, req);
  const results = signatures.map((sig) => {
    const v = verifySigstore(keys, sig.payload, sig.signatureBase64);
    if (!v.ok) return { reason: v.reason };
    const problem = claimProblem(ctx, sig.payload, 'cosign', req.signedIdentity);
    return problem === null ? { key: v.keyId } : { reason: `signed by key ${v.keyId}, but ${problem}` };
  });
  return summarise(results, 'sigstore signatures');
}

async function check(ctx: Context, req: Requirement, signatures: ImageSignatures): Promise<Acceptance> {
  const accept = (keys: string[]): Acceptance => ({ scope: ctx.scope, requirement: requirementName(req), keys });
  switch (req.type) {
    case 'insecureAcceptAnything':
      return accept([]);
    case 'reject':
      throw new Refusal('the policy rejects every image in this scope');
    case 'signedBy':
      return accept(await checkSignedBy(ctx, req, signatures.simple));
    case 'sigstoreSigned':
      return accept(await checkSigstore(ctx, req, signatures.sigstore));
  }
}

/**
 * Applies the policy to an image. `ref` is the image as the user named it;
 * `manifestDigest` the digest of the manifest the signatures must be for.
 * Returns one Acceptance per requirement; throws SourceError('POLICY') for
 * the first requirement that refuses (a "reject" is looked at first: it needs
 * no signature work), ConfigFileError for a key file that cannot be used.
 */
export async function evaluate(
  policy: Policy,
  ref: Reference,
  manifestDigest: string,
  signatures: ImageSignatures,
  signal: AbortSignal,
  /** The scope and requirements for `ref`, when the caller looked them up already (to know which signatures to fetch). */
  applicable = requirementsFor(policy, ref),
): Promise<Acceptance[]> {
  const { scope, requirements } = applicable;
  const ctx: Context = { policy, ref, scope, intended: imageIdentity(ref), manifestDigest, signal };
  const rejecting = requirements.find((r) => r.type === 'reject');
  const ordered = rejecting ? [rejecting] : requirements;
  const out: Acceptance[] = [];
  for (const req of ordered) {
    try {
      out.push(await check(ctx, req, signatures));
    } catch (err) {
      if (err instanceof Refusal) throw refusedError(ctx, req, err.message, err);
      throw err;
    }
  }
  return out;
}
