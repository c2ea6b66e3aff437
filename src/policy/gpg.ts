// Simple-signing signatures checked with the system's GnuPG, as c/image's
// gpgme mechanism does, in a throwaway home so neither the user's keyring
// nor their trust settings take part: only the keys the policy names count.
//
// How: the policy's keys (binary or armored, one or many per file) are
// imported with `gpg --import` into a fresh GNUPGHOME, which yields a keybox
// holding exactly them; each signature is then checked with `gpgv --keyring
// <that keybox> --output -`. gpgv is GnuPG's verify-only tool: it treats every
// key in the keyring as trusted (no trust database to set up), it cannot
// decrypt (an encrypted message fails instead of being opened) and with
// --output it writes the literal data of the signed message, which is the
// payload. The verdict comes from the machine-readable --status-fd lines,
// never from the human text. --no-autostart keeps gpg from starting an agent
// that would outlive the temporary home.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface GpgKeyring {
  /** Primary key fingerprints (uppercase hex) of the imported keys: the accepted identities. */
  readonly fingerprints: ReadonlySet<string>;
  verify(signature: Buffer, signal: AbortSignal): Promise<GpgVerdict>;
  close(): Promise<void>;
}

export type GpgVerdict = { ok: true; payload: Buffer; fingerprint: string } | { ok: false; reason: string };

/** A key that gave no public key, or a tool that could not run. */
export class GpgSetupError extends Error {
  constructor(
    message: string,
    /** Index of the key in the list given to openKeyring, or null for a failure of the tool itself. */
    readonly keyIndex: number | null,
  ) {
    super(message);
  }
}

/** Signatures are small (c/image refuses them over 4 MiB); so are payloads. */
const MAX_OUTPUT = 4 * 1024 * 1024;
const GPG_BASE = ['--batch', '--no-tty', '--no-options', '--no-autostart', '--no-permission-warning'];

interface RunResult {
  exitCode: number | undefined;
  stdout: Uint8Array;
  stderr: string;
  failed: boolean;
  code?: string;
}

async function run(tool: string, args: string[], options: { input?: Buffer; signal: AbortSignal; home: string }): Promise<RunResult> {
  const { execa } = await import('execa');
  const r = await execa(tool, args, {
    reject: false,
    cancelSignal: options.signal,
    encoding: 'buffer',
    // The signed payload exactly as signed: execa would drop a last newline byte, even of binary output.
    stripFinalNewline: false,
    maxBuffer: MAX_OUTPUT,
    env: { GNUPGHOME: options.home, LC_ALL: 'C' },
    extendEnv: true,
    ...(options.input ? { input: options.input } : { stdin: 'ignore' as const }),
  });
  options.signal.throwIfAborted();
  const code = (r as { code?: unknown }).code;
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: Buffer.from(r.stderr).toString('utf8'), failed: r.failed, ...(typeof code === 'string' ? { code } : {}) };
}

function notInstalled(tool: string, r: RunResult): GpgSetupError | null {
  return r.code === 'ENOENT' ? new GpgSetupError(`${tool} is not installed (not found on PATH); it is needed to verify GPG signatures`, null) : null;
}

/** `[GNUPG:] KEYWORD args…` lines, split into words. */
function statusLines(stderr: string): string[][] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('[GNUPG:] '))
    .map((l) => l.slice('[GNUPG:] '.length).trim().split(' '));
}

/** The last line of human text a tool wrote, as the reason for a failure nothing else explains. */
function lastText(stderr: string): string {
  return stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('[GNUPG:] ')).pop()?.trim() ?? 'no message';
}

async function importKey(home: string, key: Buffer, index: number, signal: AbortSignal): Promise<void> {
  const r = await run('gpg', [...GPG_BASE, '--homedir', home, '--status-fd', '2', '--import'], { input: key, signal, home });
  const missing = notInstalled('gpg', r);
  if (missing) throw missing;
  const imported = statusLines(r.stderr).some((s) => s[0] === 'IMPORT_OK');
  if (!imported) throw new GpgSetupError(`it holds no OpenPGP public key gpg could import (${lastText(r.stderr)})`, index);
}

/** Primary fingerprints of the keys in the home, from `--with-colons` output (a "fpr" record right after "pub"). */
async function listFingerprints(home: string, signal: AbortSignal): Promise<Set<string>> {
  const r = await run('gpg', [...GPG_BASE, '--homedir', home, '--with-colons', '--fixed-list-mode', '--list-keys'], { signal, home });
  if (r.exitCode !== 0) throw new GpgSetupError(`gpg --list-keys failed: ${lastText(r.stderr)}`, null);
  const out = new Set<string>();
  let previous = '';
  for (const line of Buffer.from(r.stdout).toString('utf8').split('\n')) {
    const fields = line.split(':');
    if (fields[0] === 'fpr' && previous === 'pub' && fields[9]) out.add(fields[9].toUpperCase());
    if (fields[0]) previous = fields[0];
  }
  return out;
}

/** A reason for a signature gpgv did not accept, from its status lines. */
function rejection(status: string[][], stderr: string): string {
  const find = (kw: string) => status.find((s) => s[0] === kw);
  const err = find('ERRSIG');
  if (err) {
    // ERRSIG <keyid> <pkalgo> <hashalgo> <class> <time> <rc> [<fpr>]; rc 9: no public key.
    if (err[6] === '9') return `signed by key ${err[7] || err[1]}, not an accepted key`;
    if (err[6] === '4') return `signed by key ${err[1]} with an algorithm GnuPG does not support`;
    return `cannot check the signature by key ${err[1]} (${lastText(stderr)})`;
  }
  const bad = find('BADSIG');
  if (bad) return `bad signature by key ${bad[1]}: the signed data was changed or the signature is corrupt`;
  const expKey = find('EXPKEYSIG');
  if (expKey) return `signed by key ${expKey[1]}, which has expired`;
  const revKey = find('REVKEYSIG');
  if (revKey) return `signed by key ${revKey[1]}, which was revoked`;
  const expSig = find('EXPSIG');
  if (expSig) return `the signature by key ${expSig[1]} has expired`;
  if (find('NODATA') || find('UNEXPECTED')) return 'it is not an OpenPGP signed message';
  return `gpgv did not accept it: ${lastText(stderr)}`;
}

/** The verdict on one gpgv run: exactly one good, valid signature, and its payload. */
function verdict(r: RunResult, fingerprints: ReadonlySet<string>): GpgVerdict {
  const status = statusLines(r.stderr);
  const count = (kw: string) => status.filter((s) => s[0] === kw).length;
  const signatures = count('NEWSIG');
  if (signatures > 1) return { ok: false, reason: `it holds ${signatures} signatures; a container signature has exactly one` };
  const valid = status.find((s) => s[0] === 'VALIDSIG');
  if (r.exitCode !== 0 || signatures !== 1 || count('GOODSIG') !== 1 || !valid) return { ok: false, reason: rejection(status, r.stderr) };
  // VALIDSIG <fpr> … <primary-fpr>: a signature by a subkey counts for its primary key, as in c/image.
  const fingerprint = (valid[10] ?? valid[1] ?? '').toUpperCase();
  if (!fingerprints.has(fingerprint)) return { ok: false, reason: `signed by key ${fingerprint}, not an accepted key` };
  return { ok: true, payload: Buffer.from(r.stdout), fingerprint };
}

/** A keyring of exactly `keys` (each binary or armored OpenPGP public keys). Close it when done. */
export async function openKeyring(keys: readonly Buffer[], signal: AbortSignal): Promise<GpgKeyring> {
  const dir = await mkdtemp(join(tmpdir(), 'imgdesc-gpg-'));
  const home = join(dir, 'home');
  const close = () => rm(dir, { recursive: true, force: true });
  try {
    await mkdir(home, { mode: 0o700 });
    for (const [i, key] of keys.entries()) await importKey(home, key, i, signal);
    const fingerprints = await listFingerprints(home, signal);
    let n = 0;
    const verify = async (signature: Buffer, sig: AbortSignal): Promise<GpgVerdict> => {
      const file = join(dir, `signature-${++n}`);
      await writeFile(file, signature);
      const r = await run('gpgv', ['--homedir', home, '--keyring', join(home, 'pubring.kbx'), '--status-fd', '2', '--output', '-', file], { signal: sig, home });
      const missing = notInstalled('gpgv', r);
      if (missing) throw missing;
      await rm(file, { force: true });
      return verdict(r, fingerprints);
    };
    return { fingerprints, verify, close };
  } catch (err) {
    await close();
    throw err;
  }
}
