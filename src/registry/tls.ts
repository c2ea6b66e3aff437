// TLS trust for one registry host, as podman sets it up: system CAs, plus
// --cert-dir/*.crt, plus /etc/containers/certs.d/<host>/ (*.crt CAs, and a
// client certificate pair *.cert + *.key).

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';

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
        out.ca.push(await readFile(file, 'utf8'));
        out.files.push(file);
      } else if (file.endsWith('.cert')) {
        const keyFile = file.replace(/\.cert$/, '.key');
        try {
          out.key = await readFile(keyFile, 'utf8');
          out.cert = await readFile(file, 'utf8');
          out.files.push(file, keyFile);
        } catch {
          throw new Error(`client certificate ${file} has no matching key ${keyFile}`);
        }
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
  return createSecureContext({ ca: tls.ca.length ? [...rootCertificates, ...tls.ca] : undefined, cert: tls.cert, key: tls.key });
}
