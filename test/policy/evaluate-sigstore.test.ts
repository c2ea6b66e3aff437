// evaluate() with sigstore (cosign) signatures made by node:crypto keys.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigFileError, SourceError } from '../../src/errors.js';
import { Reference } from '../../src/oci/reference.js';
import { evaluate, type ImageSignatures, type SigstoreSignature } from '../../src/policy/evaluate.js';
import { parsePolicy, type Policy } from '../../src/policy/policy.js';
import { parseSigstoreKey } from '../../src/policy/sigstore.js';
import { cosignPayload, cosignSign, DIGEST, makeSigstoreKey, OTHER_DIGEST, type SigstoreKeyPair } from '../helpers/signing-keys.js';

const IMAGE = 'ghcr.io/acme/tool';
const signal = new AbortController().signal;
let dir: string;
let ec: SigstoreKeyPair;
let other: SigstoreKeyPair;
let ecFile: string;

const ref = (text = `${IMAGE}:v1`) => Reference.parse(text);
const sigs = (...s: SigstoreSignature[]): ImageSignatures => ({ simple: [], sigstore: s });
const signed = (key: SigstoreKeyPair, reference = `${IMAGE}:v1`, digest = DIGEST): SigstoreSignature => {
  const payload = cosignPayload(reference, digest);
  return { payload, signatureBase64: cosignSign(key, payload) };
};
const policyWith = (extra: Record<string, unknown>): Policy =>
  parsePolicy(JSON.stringify({ default: [{ type: 'reject' }], transports: { docker: { 'ghcr.io/acme': [{ type: 'sigstoreSigned', ...extra }] } } }), join(dir, 'policy.json'));
const byFile = () => policyWith({ keyPath: ecFile });

async function refused(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof SourceError && e.reason === 'POLICY', String(e));
    assert.match(e.message, pattern);
    return true;
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imgdesc-sigstore-'));
  ec = makeSigstoreKey('ec');
  other = makeSigstoreKey('ec');
  ecFile = join(dir, 'cosign.pub');
  await writeFile(ecFile, ec.pem);
});
after(() => rm(dir, { recursive: true, force: true }));

describe('sigstoreSigned with public keys', () => {
  test('a cosign signature by the accepted ECDSA P-256 key is accepted; the key id is the SPKI digest', async () => {
    const result = await evaluate(byFile(), ref(), DIGEST, sigs(signed(ec)), signal);
    const id = parseSigstoreKey(Buffer.from(ec.pem)).id;
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(result, [{ scope: 'ghcr.io/acme', requirement: 'sigstoreSigned', keys: [id] }]);
  });

  test('a signature by another key is refused', async () => {
    await refused(evaluate(byFile(), ref(), DIGEST, sigs(signed(other)), signal), /\(scope "ghcr\.io\/acme", sigstoreSigned .*cosign\.pub\): no signature verified: signature 1: the signature does not verify with the accepted key/);
  });

  test('a payload for another digest is refused', async () => {
    await refused(evaluate(byFile(), ref(), DIGEST, sigs(signed(ec, `${IMAGE}:v1`, OTHER_DIGEST)), signal), /but it is for manifest sha256:b+, not for the image's manifest sha256:a+/);
  });

  test('a payload for another identity is refused', async () => {
    await refused(evaluate(byFile(), ref(), DIGEST, sigs(signed(ec, `${IMAGE}:v2`)), signal), /it is for "ghcr\.io\/acme\/tool:v2", which signedIdentity matchRepoDigestOrExact does not accept/);
    const byRepo = policyWith({ keyPath: ecFile, signedIdentity: { type: 'matchRepository' } });
    assert.equal((await evaluate(byRepo, ref(), DIGEST, sigs(signed(ec, `${IMAGE}:v2`)), signal)).length, 1);
  });

  test('a corrupted signature or payload is refused', async () => {
    const good = signed(ec);
    const sigBytes = Buffer.from(good.signatureBase64, 'base64');
    sigBytes[sigBytes.length - 1]! ^= 1;
    await refused(evaluate(byFile(), ref(), DIGEST, sigs({ ...good, signatureBase64: sigBytes.toString('base64') }), signal), /does not verify/);
    const payload = Buffer.from(good.payload.toString().replace('v1', 'v9'));
    await refused(evaluate(byFile(), ref(), DIGEST, sigs({ ...good, payload }), signal), /does not verify/);
    await refused(evaluate(byFile(), ref(), DIGEST, sigs({ ...good, signatureBase64: 'not base64!' }), signal), /not base64 data/);
  });

  test('no sigstore signatures: refused (simple signatures do not count)', async () => {
    await refused(evaluate(byFile(), ref(), DIGEST, { simple: [Buffer.from('x')], sigstore: [] }, signal), /the image has no sigstore signatures/);
  });

  test('RSA and Ed25519 keys, inline keyData/keyDatas, several keys', async () => {
    const rsa = makeSigstoreKey('rsa');
    const ed = makeSigstoreKey('ed25519');
    const b64 = (k: SigstoreKeyPair) => Buffer.from(k.pem).toString('base64');
    assert.equal((await evaluate(policyWith({ keyData: b64(rsa) }), ref(), DIGEST, sigs(signed(rsa)), signal)).length, 1);
    const several = policyWith({ keyDatas: [b64(ed), b64(rsa)] });
    const result = await evaluate(several, ref(), DIGEST, sigs(signed(other), signed(ed)), signal);
    assert.deepEqual(result[0]!.keys, [parseSigstoreKey(Buffer.from(ed.pem)).id]);
  });

  test('a payload not in cosign form is refused', async () => {
    const payload = Buffer.from(JSON.stringify({ critical: { type: 'atomic container signature', image: { 'docker-manifest-digest': DIGEST }, identity: { 'docker-reference': `${IMAGE}:v1` } }, optional: {} }));
    await refused(evaluate(byFile(), ref(), DIGEST, sigs({ payload, signatureBase64: cosignSign(ec, payload) }), signal), /critical\.type: "atomic container signature" is not "cosign container image signature"/);
  });

  test('a key file that is not a PEM public key is a ConfigFileError naming it', async () => {
    const bad = join(dir, 'bad.pub');
    await writeFile(bad, 'nonsense');
    await assert.rejects(evaluate(policyWith({ keyPath: bad }), ref(), DIGEST, sigs(signed(ec)), signal), (e: unknown) => {
      assert.ok(e instanceof ConfigFileError);
      assert.equal(e.file, bad);
      assert.match(e.message, /bad\.pub \(named by .*policy\.json at transports\.docker\["ghcr\.io\/acme"\]\[0\]\): it is not a PEM public key/);
      return true;
    });
  });

  test('outside the scope the default (reject) applies', async () => {
    await refused(evaluate(byFile(), ref('docker.io/library/busybox:1'), DIGEST, sigs(signed(ec)), signal), /^docker\.io\/library\/busybox:1: rejected by .*policy\.json \(default requirements, reject\): the policy rejects every image in this scope$/);
  });
});
