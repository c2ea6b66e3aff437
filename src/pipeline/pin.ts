// Pin: what the lock file says each planned image must be.

import { SourceError } from '../errors.js';
import { lockEntries, lockKey, type LockedImage, type LockFile } from '../lock/lock-file.js';
import type { Reference } from '../oci/reference.js';
import type { Plan, PlannedContainer } from '../plan/plan.js';

export interface Pinned {
  readonly container: PlannedContainer;
  readonly pin: LockedImage | undefined;
  /** What a registry is asked for: the planned reference, with the lock's digest when it has one. */
  readonly fetchRef: Reference;
}

export function pinAll(plan: Plan, lock: LockFile | null): Pinned[] {
  const pins = lockEntries(lock);
  return plan.containers.map((container) => {
    const pin = pins.get(lockKey(container.reference, plan.arch));
    const fetchRef = pin ? container.ref.withDigest(pin.indexDigest ?? pin.manifest.digest) : container.ref;
    return { container, pin, fetchRef };
  });
}

/** The resolved manifest must be the pinned one. */
export function checkPin(p: Pinned, manifestDigest: string, origin: string): void {
  if (p.pin && manifestDigest !== p.pin.manifest.digest) {
    const ref = p.container.reference;
    throw new SourceError('DIGEST', `${ref}: ${origin} holds manifest ${manifestDigest}, but the lock file pins ${p.pin.manifest.digest}; run imgdesc lock to accept the new image`, ref);
  }
}
