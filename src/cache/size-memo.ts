// How many bytes the last build of a selection announced to its file threads
// (each blob once to store and hash, once per archive to copy), kept beside
// the blobs. The threads start only once a build's
// blobs add up to more than their boot is worth (FileWorkers.expect), and a
// build learns that from its manifests: on two cores a thread's ~50 ms of
// boot then lands after them, on the critical path. A build whose last run was
// that large starts them before it has even read its description, so that
// they boot while the main thread parses, validates and asks for manifests.
//
// A hint and nothing more: missing, stale or unreadable, it costs at most a
// thread boot one way or the other, never a result. Its writes are atomic, so
// concurrent builds sharing a cache read one whole memo or none.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';

const DIR = 'size-memo';

/** What makes two builds alike enough to share a memo: the description's absolute path and the selection. */
export function sizeMemoKey(description: string, selection: readonly string[]): string {
  return createHash('sha256')
    .update(JSON.stringify([resolve(description), ...selection]))
    .digest('hex');
}

function memoPath(cacheDir: string, key: string): string {
  return join(cacheDir, DIR, key);
}

/** The bytes the last build under `key` expected, or 0 when none is known. */
export function readSizeMemo(cacheDir: string, key: string): number {
  try {
    const bytes = Number(readFileSync(memoPath(cacheDir, key), 'utf8'));
    return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : 0;
  } catch {
    // No memo yet (or an unreadable one): the build learns from its manifests.
    return 0;
  }
}

/** Records `bytes` under `key`; failing to is no reason to fail a build that succeeded. */
export async function writeSizeMemo(cacheDir: string, key: string, bytes: number): Promise<void> {
  try {
    mkdirSync(join(cacheDir, DIR), { recursive: true });
    await writeFileAtomic(memoPath(cacheDir, key), String(bytes));
  } catch {
    // A read-only or full cache directory: the next build starts its threads later.
  }
}
