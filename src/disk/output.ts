// Where a pulled disk goes: OUTPUT is a file path, or an existing directory
// (then the disk's own name, known only once its first bytes are in). It is
// written under a temporary name beside its final place and renamed there
// only when complete and verified; every failure, interruption included,
// removes the temporary file, so nothing half-written is ever at OUTPUT.

import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { OutputError } from '../errors.js';
import { errnoText } from '../util/errno.js';
import { tempPathFor } from '../util/atomic-file.js';

export class DiskOutput {
  private constructor(
    /** The directory the disk goes into. */
    readonly dir: string,
    /** The final path when OUTPUT named a file; null when it named a directory. */
    private readonly file: string | null,
    /** Where the bytes are written until the rename. */
    readonly temp: string,
  ) {}

  /** Checks OUTPUT before anything is downloaded: an existing directory, or a path in one. */
  static async prepare(output: string): Promise<DiskOutput> {
    const info = await stat(output).catch(() => null);
    if (info?.isDirectory()) return new DiskOutput(output, null, tempPathFor(join(output, 'disk')));
    if (output.endsWith('/')) throw new OutputError(`${output}: no such directory`, output);
    const dir = dirname(output);
    const parent = await stat(dir).catch((err: unknown) => {
      throw new OutputError(`${output}: cannot write there: ${dir}: ${errnoText(err)}`, output, { cause: err });
    });
    if (!parent.isDirectory()) throw new OutputError(`${output}: cannot write there: ${dir} is not a directory`, output);
    return new DiskOutput(dir, output, tempPathFor(output));
  }

  /** Opens the temporary file anew, empty (a tar layer may make a later file the disk). */
  async openTemp(): Promise<FileHandle> {
    try {
      return await open(this.temp, 'w', 0o644);
    } catch (err) {
      throw new OutputError(`${this.temp}: cannot create the file: ${errnoText(err)}`, this.temp, { cause: err });
    }
  }

  /** The final path for a disk named `name` (a checked plain file name). */
  finalPath(name: string): string {
    return this.file ?? join(this.dir, name);
  }

  /** Moves the complete file to its final path (replacing a file there); returns that path. */
  async commit(name: string): Promise<string> {
    const target = this.finalPath(name);
    try {
      await rename(this.temp, target);
    } catch (err) {
      await this.discard();
      throw new OutputError(`${target}: cannot put the disk there: ${errnoText(err)}`, target, { cause: err });
    }
    return target;
  }

  async discard(): Promise<void> {
    await rm(this.temp, { force: true });
  }
}
