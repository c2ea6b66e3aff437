// Resolves in-image paths inside an image root directory the way the booted
// image will resolve them: the root is "/", an absolute link target starts
// again at the root, and ".." stops at the root (openat2's RESOLVE_IN_ROOT,
// done in user space). Builds run as root, and KIWI later works on this tree
// inside a chroot, so a link such as /etc/systemd -> /srv/x in the image must
// lead to ROOT/srv/x; a plain join would follow it to the host's /srv/x and
// write, replace or remove files there.
//
// Known limit: the walk is a series of lstat/readlink/mkdir calls, not one
// kernel lookup, so it is not atomic against a concurrent process swapping a
// directory for a link between two steps. The build owns the root while it
// runs; nothing else is expected to change the tree meanwhile.
//
// The calls are synchronous: each is a few microseconds of metadata work,
// and every archive and unit walks a handful of names. Through libuv's thread
// pool each one cost a round trip (a hand-off, a wake-up, a promise) many
// times the call itself; on a 100-image build that was ~0.1 s.

import { chmodSync, lstatSync, mkdirSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { directoryMode } from './types.js';
import { OutputError } from '../errors.js';
import { errnoCode, errnoText } from '../util/errno.js';

/** Links followed per resolution before giving up, as Linux does (MAXSYMLINKS). */
export const MAX_LINKS = 40;

export interface WalkOptions {
  /** Creates missing directories (mode 0755) where the walk meets them; else a missing component means absent. */
  readonly create: boolean;
  /** The last component, too, must be a directory (mkdir; the parent of a file). */
  readonly dirAtEnd: boolean;
  /** For messages: "write", "list"; defaults to "resolve". */
  readonly verb?: string;
  /** For messages: the in-image path asked for, when the walk is of its parent; defaults to the walked path. */
  readonly name?: string;
}

export interface Resolved {
  /** Host path below the root; none of its components was a link when walked. */
  readonly host: string;
  /** The same place as the booted image names it ("/srv/x/system"). */
  readonly image: string;
  /** lstat of that place (never a link); null when it does not exist. */
  readonly stat: Stats | null;
}

/** The names of a path, without empty and "." components (".." is kept: it needs the walk). */
export function pathNames(path: string): string[] {
  return path.split('/').filter((n) => n !== '' && n !== '.');
}

/** Splits a path naming a file into its parent and its last name; null when it names no file ("/", "/x/..", "/x/"). */
export function splitFinal(path: string): { parent: string; name: string } | null {
  const at = path.lastIndexOf('/');
  const name = path.slice(at + 1);
  if (name === '' || name === '.' || name === '..') return null;
  return { parent: at < 0 ? '/' : path.slice(0, at) || '/', name };
}

/**
 * Walks `path` from `root` (a real path, no links in it) component by
 * component, following links inside the root. Every component but the last
 * (and the last too with dirAtEnd) must be a directory.
 */
export async function resolveInRoot(root: string, path: string, options: WalkOptions): Promise<Resolved> {
  const fail = (what: string, target: string, cause?: unknown): OutputError =>
    new OutputError(`cannot ${options.verb ?? 'resolve'} ${options.name ?? path} in root ${root}: ${what}`, target, { cause });
  const pending = pathNames(path).reverse(); // the next name is last
  const done: string[] = [];
  let stat: Stats | null | undefined; // undefined: not looked at (the root, or after "..")
  let links = 0;
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (name === '..') {
      done.pop(); // at the root, ".." stays at the root
      stat = undefined;
      continue;
    }
    const host = join(root, ...done, name);
    const image = `/${[...done, name].join('/')}`;
    const needDir = pending.length > 0 || options.dirAtEnd;
    let info = lstatOrNull(host, (err) => fail(`${image}: ${errnoText(err)}`, host, err));
    if (info === null && options.create && needDir) info = makeDir(host, directoryMode(image), (err) => fail(`cannot create ${image}: ${errnoText(err)}`, host, err));
    if (info?.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw fail(`the link ${image} cannot be followed inside the root (more than ${MAX_LINKS} links; a loop?)`, host);
      let target: string;
      try {
        target = readlinkSync(host);
      } catch (err) {
        throw fail(`cannot read the link ${image}: ${errnoText(err)}`, host, err);
      }
      if (target.startsWith('/')) done.length = 0; // absolute targets start at the root
      pending.push(...pathNames(target).reverse());
      stat = undefined;
      continue;
    }
    if (info !== null && needDir && !info.isDirectory()) throw fail(`${image} is not a directory`, host);
    done.push(name);
    stat = info;
  }
  const host = join(root, ...done);
  if (stat === undefined) stat = lstatOrNull(host, (err) => fail(errnoText(err), host, err));
  return { host, image: `/${done.join('/')}`, stat };
}

/** lstat, with null for a name that is not there. */
function lstatOrNull(host: string, fail: (err: unknown) => OutputError): Stats | null {
  try {
    return lstatSync(host, { throwIfNoEntry: false }) ?? null;
  } catch (err) {
    throw fail(err);
  }
}

/** Creates one directory whose parent exists; what is there afterwards (a racing link too) is returned for the walk to judge. */
function makeDir(host: string, mode: number, fail: (err: unknown) => OutputError): Stats {
  try {
    mkdirSync(host, { mode });
    // mkdir(2) applies the umask; a sticky, world-writable directory must be exactly that.
    if (mode !== 0o755) chmodSync(host, mode);
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw fail(err);
  }
  try {
    return lstatSync(host);
  } catch (err) {
    throw fail(err);
  }
}
