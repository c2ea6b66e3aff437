// The lock file pins every container of a description, per target arch, to
// the exact manifest (and index) it resolved to, so later builds fetch by
// digest and a moved tag changes nothing. Written beside the description as
// <basename>.lock.json (appliance.xml -> appliance.lock.json, a directory's
// config.xml -> config.lock.json).

import { readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { DescriptionInvalidError } from '../errors.js';
import type { Plan } from '../plan/plan.js';

export const LOCK_VERSION = 1;

export interface LockedBlob {
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string;
}

export interface LockedImage {
  readonly reference: string;
  /** `uname -m` name the entry is for. */
  readonly arch: string;
  readonly platform: string;
  /** Digest of the index (or manifest list) the tag pointed at, if any. */
  readonly indexDigest: string | null;
  readonly manifest: LockedBlob;
  readonly config: LockedBlob;
  readonly layers: readonly LockedBlob[];
}

export interface LockFile {
  readonly lockfileVersion: number;
  readonly generator: string;
  readonly images: readonly LockedImage[];
}

export function lockPathFor(descriptionFile: string): string {
  const base = basename(descriptionFile, extname(descriptionFile));
  return join(dirname(descriptionFile), `${base}.lock.json`);
}

export function lockKey(reference: string, arch: string): string {
  return `${arch} ${reference}`;
}

/** Reads a lock; null when there is none. A malformed lock is an error naming it. */
export async function readLock(file: string): Promise<LockFile | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let doc: LockFile;
  try {
    doc = JSON.parse(text) as LockFile;
  } catch (err) {
    throw new DescriptionInvalidError(file, [{ message: `lock file is not JSON: ${(err as Error).message}`, path: '', line: null }]);
  }
  if (doc.lockfileVersion !== LOCK_VERSION || !Array.isArray(doc.images)) {
    throw new DescriptionInvalidError(file, [{ message: `lock file version ${JSON.stringify(doc.lockfileVersion)} is not supported (expected ${LOCK_VERSION}); run imgdesc lock again`, path: '', line: null }]);
  }
  return doc;
}

export async function writeLock(file: string, lock: LockFile): Promise<void> {
  const sorted: LockFile = {
    ...lock,
    images: [...lock.images].sort((a, b) => a.reference.localeCompare(b.reference) || a.arch.localeCompare(b.arch)),
  };
  const tmp = `${file}.imgdesc-tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(sorted, null, 2)}\n`);
  await rename(tmp, file);
}

/** Planned images the lock has no entry for (empty: the lock covers the plan). */
export function missingFromLock(lock: LockFile, plan: Plan): string[] {
  const have = new Set(lock.images.map((i) => lockKey(i.reference, i.arch)));
  return plan.containers.filter((c) => !have.has(lockKey(c.reference, plan.arch))).map((c) => c.reference);
}

export function lockEntries(lock: LockFile | null): Map<string, LockedImage> {
  return new Map((lock?.images ?? []).map((i) => [lockKey(i.reference, i.arch), i]));
}
