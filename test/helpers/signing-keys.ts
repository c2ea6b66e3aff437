// Real keys and signatures for the policy tests: GnuPG keys made with
// `gpg --quick-gen-key` in throwaway homes and messages signed with
// `gpg --sign` (what `skopeo --sign-by` writes: an OpenPGP signed message of
// the JSON payload); ECDSA/RSA/Ed25519 keys from node:crypto for sigstore.

import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

export const DIGEST = `sha256:${'a'.repeat(64)}`;
export const OTHER_DIGEST = `sha256:${'b'.repeat(64)}`;

export interface GpgKey {
  readonly home: string;
  readonly fingerprint: string;
  /** Binary public key. */
  readonly public: Buffer;
  /** ASCII-armored public key. */
  readonly armored: Buffer;
}

const gpgEnv = (home: string) => ({ env: { GNUPGHOME: home, LC_ALL: 'C' } });

/**
 * A new key in its own home. `fakedTime` (gpg's --faked-system-time, e.g.
 * "20200101T000000") with `expire` ("1d") makes a key that has expired by now.
 * `subkey`: a certify-only primary with a signing subkey.
 */
export async function makeGpgKey(dir: string, name: string, opts: { fakedTime?: string; expire?: string; subkey?: boolean } = {}): Promise<GpgKey> {
  const home = join(dir, `gpg-${name}`);
  await mkdir(home, { mode: 0o700 });
  const faked = opts.fakedTime ? ['--faked-system-time', opts.fakedTime] : [];
  const base = ['--batch', '--no-tty', '--passphrase', '', '--pinentry-mode', 'loopback', ...faked];
  await execa('gpg', [...base, '--quick-gen-key', `${name} <${name}@example.com>`, 'ed25519', opts.subkey ? 'cert' : 'sign', opts.expire ?? '0'], gpgEnv(home));
  const list = await execa('gpg', ['--batch', '--with-colons', '--list-keys'], gpgEnv(home));
  const fingerprint = /^fpr:+([0-9A-F]+):/m.exec(list.stdout)![1]!;
  if (opts.subkey) await execa('gpg', [...base, '--quick-add-key', fingerprint, 'ed25519', 'sign', '0'], gpgEnv(home));
  const pub = await exported(home, fingerprint, []);
  const armored = await exported(home, fingerprint, ['--armor']);
  return { home, fingerprint, public: pub, armored };
}

/**
 * The exported public key. On a loaded machine a fresh home's export has
 * come back empty once in a full suite run: asked again, not taken empty.
 * Binary output is taken whole: execa strips a final newline byte by default,
 * which cut one key in ~256 short (a signature whose last byte was 0x0a).
 */
async function exported(home: string, fingerprint: string, extra: string[]): Promise<Buffer> {
  for (let attempt = 1; ; attempt++) {
    const r = await execa('gpg', ['--batch', ...extra, '--export', fingerprint], { ...gpgEnv(home), encoding: 'buffer', stripFinalNewline: false });
    const bytes = Buffer.from(r.stdout);
    if (bytes.length > 0) return bytes;
    if (attempt === 5) throw new Error(`gpg --export ${fingerprint} in ${home} gave nothing: ${Buffer.from(r.stderr).toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
  }
}

/** `gpg --sign` of `payload`: an OpenPGP signed message, as skopeo --sign-by writes. */
export async function gpgSign(key: GpgKey, payload: string | Buffer, fakedTime?: string): Promise<Buffer> {
  const faked = fakedTime ? ['--faked-system-time', fakedTime] : [];
  const r = await execa('gpg', ['--batch', '--no-tty', '--passphrase', '', '--pinentry-mode', 'loopback', ...faked, '-u', key.fingerprint, '--sign'], {
    ...gpgEnv(key.home),
    input: payload,
    encoding: 'buffer',
    stripFinalNewline: false,
  });
  return Buffer.from(r.stdout);
}

/** Stops the agent a key's home started, so no process outlives the test. */
export async function stopAgent(key: GpgKey): Promise<void> {
  await execa('gpgconf', ['--kill', 'all'], { ...gpgEnv(key.home), reject: false });
}

export function simplePayload(reference: string, digest = DIGEST, extra: { critical?: Record<string, unknown>; optional?: unknown } = {}): string {
  return JSON.stringify({
    critical: { type: 'atomic container signature', image: { 'docker-manifest-digest': digest }, identity: { 'docker-reference': reference }, ...extra.critical },
    optional: extra.optional ?? { creator: 'test', timestamp: 1700000000 },
  });
}

export function cosignPayload(reference: string, digest = DIGEST): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: { identity: { 'docker-reference': reference }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' },
      optional: null,
    }),
  );
}

export interface SigstoreKeyPair {
  readonly privateKey: KeyObject;
  readonly pem: string;
}

export function makeSigstoreKey(type: 'ec' | 'rsa' | 'ed25519' = 'ec'): SigstoreKeyPair {
  const pair =
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519');
  return { privateKey: pair.privateKey, pem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** What cosign puts in the dev.cosignproject.cosign/signature annotation: base64 of a DER signature over the payload. */
export function cosignSign(key: SigstoreKeyPair, payload: Buffer): string {
  const algorithm = key.privateKey.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  return sign(algorithm, payload, key.privateKey).toString('base64');
}
