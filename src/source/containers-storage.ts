// The containers-storage transport: `containers-storage:NAME`, an image in
// podman's local storage (CONTAINERS_STORAGE_CONF is honoured by podman).

import { ReferenceFormatError } from '../errors.js';
import { storeRef, type LocalStore } from './local-store.js';
import type { SourceRef, Transport } from './types.js';

export const PODMAN_STORE: LocalStore = {
  transport: 'containers-storage',
  tool: 'podman',
  existsArgs: (name) => ['image', 'exists', name],
  // `podman image exists` exits 1 for "no such image" and 125 when it cannot look.
  absent: (exitCode) => exitCode === 1,
  saveArgs: (name) => ['image', 'save', '--format', 'docker-archive', name],
};

export const containersStorageRef = (name: string): SourceRef => storeRef(PODMAN_STORE, name);

export const containersStorageTransport: Transport = {
  name: 'containers-storage',
  parse(location: string): SourceRef {
    if (location === '') throw new ReferenceFormatError('containers-storage:', 'expected containers-storage:NAME');
    return containersStorageRef(location);
  },
};
