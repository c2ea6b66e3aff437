// TLS trust for one registry host, as podman sets it up: system CAs, plus
// --cert-dir/*.crt, plus /etc/containers/certs.d/<host>/ (*.crt CAs, and a
// client certificate pair *.cert + *.key).

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { readTextFile } from '../util/text-file.js';

/** PEM files are a few KiB; a CA bundle a few hundred. */
const MAX_PEM_BYTES = 16 * 1024 * 1024;

/** A certificate or key file that cannot be used; the client reports it as a TLS failure of the host. */
export class TlsMaterialError extends Error {}

async function readPem(file: string): Promise<string | null> {
  // Bytes that are not PEM (a DER file named .crt) are passed on and ignored, as podman ignores them.
  const read = await readTextFile(file, MAX_PEM_BYTES, { decode: 'any' });
  if (read.ok) return read.text;
  if (read.absent) return null;
  throw new TlsMaterialError(`cannot read ${file}: ${read.reason}`, { cause: read.cause });
}

export interface TlsMaterial {
  /** CAs trusted in addition to the system's. */
  ca: string[];
  cert?: string;
  key?: string;
  /** Files that contributed, for diagnostics. */
  files: string[];
}

async function readDirFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort().map((f) => join(dir, f));
  } catch {
    return [];
  }
}

export const CERTS_D = '/etc/containers/certs.d';

export async function tlsMaterialFor(host: string, certDir: string | undefined, certsD = CERTS_D): Promise<TlsMaterial> {
  const out: TlsMaterial = { ca: [], files: [] };
  const dirs = [join(certsD, host)];
  if (certDir) dirs.push(certDir);
  for (const dir of dirs) {
    for (const file of await readDirFiles(dir)) {
      if (file.endsWith('.crt')) {
        const ca = await readPem(file);
        if (ca === null) continue; // gone since the listing
        out.ca.push(ca);
        out.files.push(file);
      } else if (file.endsWith('.cert')) {
        const keyFile = file.replace(/\.cert$/, '.key');
        const key = await readPem(keyFile);
        if (key === null) throw new TlsMaterialError(`client certificate ${file} has no matching key ${keyFile}`);
        const cert = await readPem(file);
        if (cert === null) continue;
        out.key = key;
        out.cert = cert;
        out.files.push(file, keyFile);
      }
    }
  }
  return out;
}

/**
 * One context for all connections to a host: parsing the CA bundle per
 * connection costs milliseconds each. Undefined when the system's defaults
 * (which Node caches) are all that is needed.
 */
export function secureContextFor(tls: TlsMaterial): SecureContext | undefined {
  if (!tls.ca.length && !tls.cert) return undefined;
  try {
    return createSecureContext({ ca: tls.ca.length ? [...rootCertificates, ...tls.ca] : undefined, cert: tls.cert, key: tls.key });
  } catch (err) {
    // OpenSSL refused the PEM text (not a certificate, a key that does not fit).
    throw new TlsMaterialError(`the certificates and keys in ${tls.files.join(', ')} cannot be used: ${(err as Error).message}`, { cause: err });
  }
}
