// The overlay as a file or as standard output: a TarStreamOutput written in
// place into a temporary file beside the target, renamed into place only when
// the build succeeded (a failed or interrupted build leaves nothing), or one
// streamed to stdout.

import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { OutputError } from '../errors.js';
import { tempPathFor } from '../util/atomic-file.js';
import { errnoText } from '../util/errno.js';
import { TarStreamOutput } from './tar-stream.js';

export interface OverlayFile {
  readonly output: TarStreamOutput;
  /** Moves the finished tar into place (after the build closed the output). */
  commit(): Promise<void>;
  /** Drops what was written. */
  abort(): Promise<void>;
}

/** `target` "-" is standard output. */
export async function openOverlay(target: string, mtime: number, stdout: Writable = process.stdout): Promise<OverlayFile> {
  if (target === '-') {
    const output = new TarStreamOutput('overlay on standard output', stdout, mtime);
    return { output, commit: async () => undefined, abort: async () => output.destroy() };
  }
  const file = resolve(target);
  const temp = tempPathFor(file);
  let handle: FileHandle;
  try {
    handle = await open(temp, 'wx', 0o644);
  } catch (err) {
    throw new OutputError(`cannot write overlay ${file}: ${errnoText(err)}`, file, { cause: err });
  }
  const output = TarStreamOutput.inFile(`overlay ${file}`, handle, mtime);
  return {
    output,
    async commit() {
      try {
        await handle.close(); // a late write error (NFS, quota) shows here
        await rename(temp, file);
      } catch (err) {
        await rm(temp, { force: true });
        throw new OutputError(`cannot move the finished overlay to ${file}: ${errnoText(err)}`, file, { cause: err });
      }
    },
    async abort() {
      output.destroy();
      // Waits for writes in flight; the archives' copies settled before the build gave up.
      await handle.close().catch(() => undefined);
      await rm(temp, { force: true });
    },
  };
}
