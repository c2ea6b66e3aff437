// Every byte of some buffers, written at a position of an open file. A
// positional write may take fewer bytes than it is given, so each write goes
// on from where the last one stopped; one that takes none means the file
// system will not go on, and fails instead of looping for ever.

import { writev } from 'node:fs';

function writevAt(fd: number, buffers: Buffer[], position: number): Promise<number> {
  return new Promise((resolve, reject) => writev(fd, buffers, position, (err, n) => (err ? reject(err) : resolve(n))));
}

/** What a short write left of `buffers`. */
function rest(buffers: Buffer[], written: number): Buffer[] {
  const left: Buffer[] = [];
  for (const b of buffers) {
    if (written >= b.length) {
      written -= b.length;
      continue;
    }
    left.push(written > 0 ? b.subarray(written) : b);
    written = 0;
  }
  return left;
}

/** Writes all of `buffers`, one after another, from `position` of the open file `fd` (one writev each time). */
export async function writeAllAt(fd: number, buffers: readonly Buffer[], position: number): Promise<void> {
  let left = buffers.filter((b) => b.length > 0);
  while (left.length > 0) {
    const n = await writevAt(fd, left, position);
    if (n === 0) throw new Error('the file system took no bytes');
    position += n;
    left = rest(left, n);
  }
}
