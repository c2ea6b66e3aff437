// An image root directory on this machine as an ImageOutput. Every in-image
// path is resolved the way the booted image will resolve it (in-root.ts):
// links in the tree lead to places inside the root, never to the host's
// files. That matters because builds run as root and KIWI later works on the
// tree inside a chroot: a description or an earlier build that left
// /etc/systemd -> /srv/x must put our units at ROOT/srv/x, and must never let
// us create, replace or remove anything outside the root.
//
// The last name of a path written is never followed: a file or link there is
// replaced by rename (a link's target is left alone), and remove takes the
// name itself. Known limit (see in-root.ts): resolution is not atomic against
// a concurrent process swapping directories; the build owns the root.

import { constants, renameSync, rmSync, symlinkSync } from 'node:fs';
import { access, mkdir, open, readdir, realpath, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { OutputError } from '../errors.js';
import { errnoCode, errnoText } from '../util/errno.js';
import { tempPathFor, writeFileAtomic } from '../util/atomic-file.js';
import { resolveInRoot, splitFinal, type Resolved } from './in-root.js';
import type { ImageOutput, OutputFile } from './types.js';

/**
 * Makes sure `root` is a usable, writable directory, creating it when
 * missing; returns its real path (the root's own links resolved once, so
 * that the in-root walk starts from a path without links).
 */
export async function prepareRoot(root: string): Promise<string> {
  const abs = resolve(root);
  const wrap = (what: string) => (err: unknown) => {
    throw err instanceof OutputError ? err : new OutputError(`${what} ${abs}: ${errnoText(err)}`, abs, { cause: err });
  };
  const info = await stat(abs).catch((err: unknown) => (errnoCode(err) === 'ENOENT' ? null : wrap('cannot use root')(err)));
  if (info === null) await mkdir(abs, { recursive: true, mode: 0o755 }).catch(wrap('cannot create root'));
  else if (!info.isDirectory()) throw new OutputError(`root ${abs} exists and is not a directory`, abs);
  await access(abs, constants.W_OK | constants.X_OK).catch(wrap('cannot write into root'));
  return realpath(abs).catch(wrap('cannot use root'));
}

type Verb = 'create' | 'write' | 'link' | 'remove' | 'list' | 'read' | 'resolve';

export class RootDirOutput implements ImageOutput {
  readonly streaming = false;
  readonly description: string;

  private constructor(
    /** Real path of the root directory. */
    readonly root: string,
  ) {
    this.description = `root ${root}`;
  }

  static async open(root: string): Promise<RootDirOutput> {
    return new RootDirOutput(await prepareRoot(root));
  }

  async mkdir(path: string): Promise<void> {
    await this.walk(path, 'create', { create: true, dirAtEnd: true });
  }

  async createFile(path: string, options: { size?: number; mode?: number }): Promise<OutputFile> {
    const host = await this.fileTarget(path, 'write');
    const temp = tempPathFor(host);
    try {
      const handle = await open(temp, 'wx', options.mode ?? 0o644);
      return new RootDirFile(handle, temp, host, (err) => this.error('write', path, host, err));
    } catch (err) {
      throw this.error('write', path, host, err);
    }
  }

  async writeFile(path: string, content: Buffer | string, options?: { mode?: number }): Promise<void> {
    const host = await this.fileTarget(path, 'write');
    await writeFileAtomic(host, content, options?.mode ?? 0o644).catch((err: unknown) => {
      throw this.error('write', path, host, err);
    });
  }

  async symlink(path: string, target: string): Promise<void> {
    const host = await this.fileTarget(path, 'link');
    const temp = tempPathFor(host);
    // Synchronous, as the in-root walk: two metadata calls, cheaper than two thread-pool round trips.
    try {
      symlinkSync(target, temp);
      renameSync(temp, host); // replaces a file or link at the name, never following it
    } catch (err) {
      try {
        rmSync(temp, { force: true });
      } catch {
        // nothing was created
      }
      throw this.error('link', path, host, err);
    }
  }

  async list(path: string): Promise<string[]> {
    const at = await this.walk(path, 'list', { create: false, dirAtEnd: false });
    if (!at.stat?.isDirectory()) return [];
    try {
      return await readdir(at.host);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return [];
      throw this.error('list', path, at.host, err);
    }
  }

  async readHead(path: string, limit: number): Promise<Buffer | null> {
    const at = await this.walk(path, 'read', { create: false, dirAtEnd: false });
    if (!at.stat?.isFile()) return null;
    try {
      return await readHead(at.host, limit);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return null;
      throw this.error('read', path, at.host, err);
    }
  }

  async remove(path: string, options?: { recursive?: boolean }): Promise<void> {
    const split = this.split(path, 'remove');
    const parent = await this.walk(split.parent, 'remove', { create: false, dirAtEnd: true, name: path });
    if (parent.stat === null) return; // no parent, nothing to remove
    const host = join(parent.host, split.name);
    try {
      // rm lstats every entry: a link, at the name or inside the tree, is removed, never followed.
      if (options?.recursive) await rm(host, { recursive: true, force: true });
      else await unlink(host);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw this.error('remove', path, host, err);
    }
  }

  async hostPath(path: string): Promise<string | null> {
    return (await this.walk(path, 'resolve', { create: false, dirAtEnd: false })).host;
  }

  async close(): Promise<void> {}

  /** The host path a file at `path` is renamed to: its parent resolved in the root and created, its name not followed. */
  private async fileTarget(path: string, verb: Verb): Promise<string> {
    const split = this.split(path, verb);
    const parent = await this.walk(split.parent, verb, { create: true, dirAtEnd: true, name: path });
    return join(parent.host, split.name);
  }

  private split(path: string, verb: Verb): { parent: string; name: string } {
    const split = splitFinal(path);
    if (!split) throw new OutputError(`cannot ${verb} ${path} in root ${this.root}: the path names no file`, this.root);
    return split;
  }

  private walk(path: string, verb: Verb, options: { create: boolean; dirAtEnd: boolean; name?: string }): Promise<Resolved> {
    return resolveInRoot(this.root, path, { ...options, verb });
  }

  private error(verb: Verb, path: string, target: string, err: unknown): OutputError {
    if (err instanceof OutputError) return err;
    return new OutputError(`cannot ${verb} ${path} in root ${this.root}: ${errnoText(err)}`, target, { cause: err });
  }
}

/** Up to `limit` bytes from the start of a regular file; O_NOFOLLOW because the walk already followed every link. */
async function readHead(host: string, limit: number): Promise<Buffer> {
  const handle = await open(host, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const buf = Buffer.alloc(Math.max(0, limit));
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await handle.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await handle.close();
  }
}

/** A file written to a temporary name beside its target, renamed over it on commit. */
class RootDirFile implements OutputFile {
  readonly fd: number;
  private state: 'open' | 'committed' | 'aborted' = 'open';

  constructor(
    private readonly handle: FileHandle,
    private readonly temp: string,
    private readonly host: string,
    private readonly fail: (err: unknown) => OutputError,
  ) {
    this.fd = handle.fd;
  }

  async write(chunk: Buffer, position: number): Promise<void> {
    if (this.state !== 'open') throw this.fail(new Error(`the file was already ${this.state}`));
    try {
      for (let done = 0; done < chunk.length; ) {
        const { bytesWritten } = await this.handle.write(chunk, done, chunk.length - done, position + done);
        if (bytesWritten === 0) throw new Error('the file system took no bytes');
        done += bytesWritten;
      }
    } catch (err) {
      throw this.fail(err);
    }
  }

  async commit(): Promise<void> {
    if (this.state === 'committed') return;
    if (this.state === 'aborted') throw this.fail(new Error('the file was already aborted'));
    try {
      await this.handle.close(); // a late write error (NFS, quota) shows here
      renameSync(this.temp, this.host);
      this.state = 'committed';
    } catch (err) {
      await this.abort();
      throw this.fail(err);
    }
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    await this.handle.close().catch(() => undefined); // already closed when a commit failed
    await rm(this.temp, { force: true }).catch(() => undefined);
  }
}
