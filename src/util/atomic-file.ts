// Files written all or nothing: to a temporary name beside the target, then
// renamed over it. The temporary name carries TEMP_MARKER so that what an
// interrupted run left can be recognised and removed by the next.

import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Every temporary file imgdesc writes has this in its name. */
export const TEMP_MARKER = '.imgdesc-tmp-';

/** A fresh temporary name beside `target`. */
export function tempPathFor(target: string): string {
  return join(dirname(target), `${TEMP_MARKER}${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}`);
}

/**
 * Writes `content` to `target` atomically; on failure nothing new is left.
 * For small files (units, lock files): the calls are synchronous, since a
 * round trip through libuv's thread pool costs more than writing a few KB.
 */
export async function writeFileAtomic(target: string, content: Buffer | string, mode = 0o644): Promise<void> {
  const tmp = tempPathFor(target);
  try {
    writeFileSync(tmp, content, { mode, flag: 'wx' });
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
