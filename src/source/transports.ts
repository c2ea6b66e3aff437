// The table of transports: the one list a transport is added to.

import { ReferenceFormatError } from '../errors.js';
import { containersStorageTransport } from './containers-storage.js';
import { dockerArchiveTransport } from './docker-archive.js';
import { dockerDaemonTransport } from './docker-daemon.js';
import { dockerTransport } from './docker.js';
import { ociArchiveTransport } from './oci-archive.js';
import { ociLayoutTransport } from './oci-layout.js';
import type { SourceRef, Transport } from './types.js';

export const TRANSPORTS: readonly Transport[] = [
  dockerTransport,
  ociLayoutTransport,
  ociArchiveTransport,
  dockerArchiveTransport,
  containersStorageTransport,
  dockerDaemonTransport,
];

/** Parses `TRANSPORT:LOCATION` as skopeo spells it (containers-transports(5)). */
export function parseSourceRef(text: string): SourceRef {
  const colon = text.indexOf(':');
  const transport = colon === -1 ? undefined : TRANSPORTS.find((t) => t.name === text.slice(0, colon));
  if (!transport) {
    throw new ReferenceFormatError(text, `expected TRANSPORT:LOCATION with a transport of ${TRANSPORTS.map((t) => t.name).join(', ')}`);
  }
  return transport.parse(text.slice(colon + 1));
}
