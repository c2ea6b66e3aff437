// evaluate() with simple-signing (GPG) signatures made by real gpg keys.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigFileError, SourceError } from '../../src/errors.js';
import { Reference } from '../../src/oci/reference.js';
import { evaluate, type ImageSignatures } from '../../src/policy/evaluate.js';
import { parsePolicy, type Policy } from '../../src/policy/policy.js';
import { DIGEST, gpgSign, makeGpgKey, OTHER_DIGEST, simplePayload, stopAgent, type GpgKey } from '../helpers/signing-keys.js';

let dir: string;
let alice: GpgKey;
let bob: GpgKey;
let expired: GpgKey;
let withSubkey: GpgKey;
let aliceFile: string;
let bobArmoredFile: string;

const IMAGE = 'quay.io/acme/app';
const signal = new AbortController().signal;
const ref = (text = `${IMAGE}:1`) => Reference.parse(text);
const simple = (...sigs: Buffer[]): ImageSignatures => ({ simple: sigs, sigstore: [] });

/** A policy whose default is `requirement` (an object written as JSON). */
function policyWith(requirement: Record<string, unknown>, file = join(dir, 'policy.json')): Policy {
  return parsePolicy(JSON.stringify({ default: [requirement] }), file);
}

const signedBy = (extra: Record<string, unknown> = {}) => policyWith({ type: 'signedBy', keyType: 'GPGKeys', keyPath: aliceFile, ...extra });

async function rejection(p: Promise<unknown>): Promise<SourceError> {
  const err = await p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SourceError, `expected SourceError, got ${String(err)}`);
  assert.equal(err.reason, 'POLICY');
  assert.equal(err.code, 'IMGDESC_SOURCE_POLICY');
  return err;
}

before(async () => {
  // Not tempDir(t): the keys live for the whole file, and their agents must stop before the homes go.
  dir = await mkdtemp(join(tmpdir(), 'imgdesc-policy-'));
  [alice, bob, expired, withSubkey] = await Promise.all([
    makeGpgKey(dir, 'alice'),
    makeGpgKey(dir, 'bob'),
    makeGpgKey(dir, 'old', { fakedTime: '20200101T000000', expire: '1d' }),
    makeGpgKey(dir, 'sub', { subkey: true }),
  ]);
  aliceFile = join(dir, 'alice.gpg');
  bobArmoredFile = join(dir, 'bob.asc');
  await writeFile(aliceFile, alice.public);
  await writeFile(bobArmoredFile, bob.armored);
});

after(async () => {
  for (const k of [alice, bob, expired, withSubkey]) if (k) await stopAgent(k);
  await rm(dir, { recursive: true, force: true });
});

describe('signedBy GPGKeys', () => {
  test('a signature by the accepted key for this digest and identity is accepted', async () => {
    const sig = await gpgSign(alice, simplePayload(`${IMAGE}:1`));
    const result = await evaluate(signedBy(), ref(), DIGEST, simple(sig), signal);
    assert.deepEqual(result, [{ scope: 'default', requirement: 'signedBy GPGKeys', keys: [alice.fingerprint] }]);
  });

  test('an unsigned image is refused, naming reference, policy file, scope and requirement', async () => {
    const err = await rejection(evaluate(signedBy(), ref(), DIGEST, simple(), signal));
    assert.equal(err.reference, `${IMAGE}:1`);
    assert.match(err.message, new RegExp(`^quay\\.io/acme/app:1: rejected by ${join(dir, 'policy.json')} \\(default requirements, signedBy GPGKeys ${aliceFile}\\): the image has no simple-signing signatures`));
  });

  test('a signature by another key is refused as not accepted', async () => {
    const sig = await gpgSign(bob, simplePayload(`${IMAGE}:1`));
    const err = await rejection(evaluate(signedBy(), ref(), DIGEST, simple(sig), signal));
    assert.match(err.message, /no signature verified: signature 1: signed by key [0-9A-F]+, not an accepted key/);
  });

  test('a payload for another manifest digest is refused', async () => {
    const sig = await gpgSign(alice, simplePayload(`${IMAGE}:1`, OTHER_DIGEST));
    const err = await rejection(evaluate(signedBy(), ref(), DIGEST, simple(sig), signal));
    assert.match(err.message, new RegExp(`signed by key ${alice.fingerprint}, but it is for manifest ${OTHER_DIGEST}, not for the image's manifest ${DIGEST}`));
  });

  test('a payload for another identity is refused', async () => {
    const sig = await gpgSign(alice, simplePayload('quay.io/acme/other:1'));
    const err = await rejection(evaluate(signedBy(), ref(), DIGEST, simple(sig), signal));
    assert.match(err.message, /it is for "quay\.io\/acme\/other:1", which signedIdentity matchRepoDigestOrExact does not accept/);
  });

  test('a corrupted signature is refused', async () => {
    const sig = await gpgSign(alice, simplePayload(`${IMAGE}:1`));
    const broken = Buffer.from(sig);
    broken[broken.length - 10]! ^= 0xff;
    const err = await rejection(evaluate(signedBy(), ref(), DIGEST, simple(broken), signal));
    assert.match(err.message, /no signature verified: signature 1: /);
    const garbage = await rejection(evaluate(signedBy(), ref(), DIGEST, simple(Buffer.from('not a signature')), signal));
    assert.match(garbage.message, /signature 1: /);
  });

  test('a signature by an expired key is refused with that reason', async () => {
    await writeFile(join(dir, 'old.gpg'), expired.public);
    const sig = await gpgSign(expired, simplePayload(`${IMAGE}:1`), '20200101T010000');
    const err = await rejection(evaluate(signedBy({ keyPath: join(dir, 'old.gpg') }), ref(), DIGEST, simple(sig), signal));
    assert.match(err.message, /which has expired/);
  });

  test('a signature by a signing subkey counts for its primary key', async () => {
    const sig = await gpgSign(withSubkey, simplePayload(`${IMAGE}:1`));
    const policy = signedBy({ keyPath: undefined, keyData: withSubkey.armored.toString('base64') });
    const result = await evaluate(policy, ref(), DIGEST, simple(sig), signal);
    assert.deepEqual(result[0]!.keys, [withSubkey.fingerprint]);
  });

  test('keyPaths takes binary and armored keyrings; one good signature among bad ones is enough', async () => {
    const good = await gpgSign(bob, simplePayload(`${IMAGE}:1`));
    const wrongDigest = await gpgSign(alice, simplePayload(`${IMAGE}:1`, OTHER_DIGEST));
    const policy = signedBy({ keyPath: undefined, keyPaths: [aliceFile, bobArmoredFile] });
    const result = await evaluate(policy, ref(), DIGEST, simple(wrongDigest, Buffer.from('junk'), good), signal);
    assert.deepEqual(result[0]!.keys, [bob.fingerprint]);
  });

  test('every signature reason is listed when none verifies', async () => {
    const a = await gpgSign(bob, simplePayload(`${IMAGE}:1`));
    const b = await gpgSign(alice, simplePayload(`${IMAGE}:2`));
    const err = await rejection(evaluate(signedBy(), ref(), DIGEST, simple(a, b), signal));
    assert.match(err.message, /signature 1: signed by key .*not an accepted key; signature 2: signed by key [0-9A-F]+, but it is for "quay\.io\/acme\/app:2"/);
  });

  test('a payload with an unknown critical key or another type is refused', async () => {
    const extra = await gpgSign(alice, simplePayload(`${IMAGE}:1`, DIGEST, { critical: { surprise: true } }));
    const err = await rejection(evaluate(signedBy(), ref(), DIGEST, simple(extra), signal));
    assert.match(err.message, /payload is not a valid container signature: critical\.surprise: unknown key/);
    const cosignType = await gpgSign(alice, simplePayload(`${IMAGE}:1`, DIGEST, { critical: { type: 'cosign container image signature' } }));
    const err2 = await rejection(evaluate(signedBy(), ref(), DIGEST, simple(cosignType), signal));
    assert.match(err2.message, /critical\.type: "cosign container image signature" is not "atomic container signature"/);
    const dup = await gpgSign(alice, simplePayload(`${IMAGE}:1`).replace('{"critical":', `{"optional":{},"critical":`));
    assert.match((await rejection(evaluate(signedBy(), ref(), DIGEST, simple(dup), signal))).message, /key "optional" appears twice/);
  });

  test('an unreadable key file or one holding no key is a ConfigFileError naming it', async () => {
    const sig = await gpgSign(alice, simplePayload(`${IMAGE}:1`));
    const missing = join(dir, 'missing.gpg');
    await assert.rejects(evaluate(signedBy({ keyPath: missing }), ref(), DIGEST, simple(sig), signal), (e: unknown) => {
      assert.ok(e instanceof ConfigFileError);
      assert.equal(e.file, missing);
      assert.match(e.message, /missing\.gpg: cannot read the key file named by .*policy\.json at default\[0\]: no such file or directory/);
      return true;
    });
    const notKey = join(dir, 'not-a-key.gpg');
    await writeFile(notKey, 'hello');
    await assert.rejects(evaluate(signedBy({ keyPath: notKey }), ref(), DIGEST, simple(sig), signal), (e: unknown) => {
      assert.ok(e instanceof ConfigFileError);
      assert.match(e.message, /not-a-key\.gpg .*holds no OpenPGP public key/);
      return true;
    });
  });

  test('a cancelled signal stops the verification with its reason', async () => {
    const sig = await gpgSign(alice, simplePayload(`${IMAGE}:1`));
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await assert.rejects(evaluate(signedBy(), ref(), DIGEST, simple(sig), ac.signal), /stop/);
  });
});

describe('signedIdentity rules with GPG signatures', () => {
  const accepts = async (identity: Record<string, unknown> | undefined, signedRef: string, imageRef: string) => {
    const sig = await gpgSign(alice, simplePayload(signedRef));
    const policy = signedBy(identity ? { signedIdentity: identity } : {});
    try {
      await evaluate(policy, ref(imageRef), DIGEST, simple(sig), signal);
      return true;
    } catch (err) {
      if (err instanceof SourceError) return false;
      throw err;
    }
  };
  const pinned = `${IMAGE}@${DIGEST}`;

  test('matchRepoDigestOrExact (default): exact name:tag, or the repository for a digest-pinned image', async () => {
    assert.equal(await accepts(undefined, `${IMAGE}:1`, `${IMAGE}:1`), true);
    assert.equal(await accepts(undefined, `${IMAGE}:2`, `${IMAGE}:1`), false);
    assert.equal(await accepts(undefined, `${IMAGE}:2`, pinned), true);
    assert.equal(await accepts(undefined, `${IMAGE}:2`, `${IMAGE}:1@${DIGEST}`), true);
    assert.equal(await accepts(undefined, IMAGE, pinned), false, 'a signed name without tag or digest vouches for nothing');
    assert.equal(await accepts({ type: 'matchRepoDigestOrExact' }, 'quay.io/acme/other:1', pinned), false);
  });

  test('matchRepository: any tag of the same repository', async () => {
    assert.equal(await accepts({ type: 'matchRepository' }, `${IMAGE}:9`, `${IMAGE}:1`), true);
    assert.equal(await accepts({ type: 'matchRepository' }, 'quay.io/acme/other:1', `${IMAGE}:1`), false);
  });

  test('matchExact: the same name:tag only, even for a pinned image', async () => {
    assert.equal(await accepts({ type: 'matchExact' }, `${IMAGE}:1`, `${IMAGE}:1@${DIGEST}`), true);
    assert.equal(await accepts({ type: 'matchExact' }, `${IMAGE}:2`, `${IMAGE}:1@${DIGEST}`), false);
    assert.equal(await accepts({ type: 'matchExact' }, `${IMAGE}@${DIGEST}`, pinned), true);
  });

  test('exactReference and exactRepository compare with the policy\'s value, not the image name', async () => {
    const exactRef = { type: 'exactReference', dockerReference: 'registry.example.com/signed/app:v1' };
    assert.equal(await accepts(exactRef, 'registry.example.com/signed/app:v1', `${IMAGE}:1`), true);
    assert.equal(await accepts(exactRef, 'registry.example.com/signed/app:v2', `${IMAGE}:1`), false);
    const exactRepo = { type: 'exactRepository', dockerRepository: 'registry.example.com/signed/app' };
    assert.equal(await accepts(exactRepo, 'registry.example.com/signed/app:v7', `${IMAGE}:1`), true);
    assert.equal(await accepts(exactRepo, `${IMAGE}:1`, `${IMAGE}:1`), false);
  });

  test('remapIdentity: the image name with prefix rewritten must match the signed identity', async () => {
    const remap = { type: 'remapIdentity', prefix: 'mirror.local:5000/acme', signedPrefix: 'quay.io/acme' };
    assert.equal(await accepts(remap, `${IMAGE}:1`, 'mirror.local:5000/acme/app:1'), true);
    assert.equal(await accepts(remap, `${IMAGE}:2`, 'mirror.local:5000/acme/app:1'), false);
    assert.equal(await accepts(remap, 'mirror.local:5000/acme/app:1', 'mirror.local:5000/acme/app:1'), false);
    // prefix matches whole components only: "acme" is not a prefix of "acmecorp"
    assert.equal(await accepts(remap, 'quay.io/acmecorp/app:1', 'mirror.local:5000/acmecorp/app:1'), false);
    // an image outside the prefix is compared unchanged
    assert.equal(await accepts(remap, 'other.io/x:1', 'other.io/x:1'), true);
  });

  test('Docker Hub names are normalised on both sides (busybox = docker.io/library/busybox)', async () => {
    assert.equal(await accepts(undefined, 'busybox:1', 'docker.io/library/busybox:1'), true);
    assert.equal(await accepts(undefined, 'docker.io/library/busybox:1', 'docker.io/busybox:1'), true);
    assert.equal(await accepts(undefined, 'index.docker.io/library/busybox:1', 'docker.io/library/busybox:1'), true);
  });
});
