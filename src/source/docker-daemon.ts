// The docker-daemon transport: `docker-daemon:NAME`, an image in the docker
// daemon's store (DOCKER_HOST is honoured by docker).

import { ReferenceFormatError } from '../errors.js';
import { storeRef, type LocalStore } from './local-store.js';
import type { SourceRef, Transport } from './types.js';

export const DOCKER_STORE: LocalStore = {
  transport: 'docker-daemon',
  tool: 'docker',
  existsArgs: (name) => ['image', 'inspect', '--format', '{{.Id}}', name],
  // docker exits 1 for a missing image and for an unreachable daemon alike; its words tell them apart.
  absent: (exitCode, stderr) => exitCode === 1 && /no such (image|object)/i.test(stderr),
  saveArgs: (name) => ['save', name],
};

export const dockerDaemonRef = (name: string): SourceRef => storeRef(DOCKER_STORE, name);

export const dockerDaemonTransport: Transport = {
  name: 'docker-daemon',
  parse(location: string): SourceRef {
    if (location === '') throw new ReferenceFormatError('docker-daemon:', 'expected docker-daemon:NAME');
    return dockerDaemonRef(location);
  },
};
