// imgdesc compile DESCRIPTION OUTDIR: a KIWI description directory that any
// KIWI builds, 9.x (no <containers> element) as well as 10.x: the description
// without its <containers> sections, plus one <archive> holding exactly what
// `build --overlay` writes (the oci-archives, the units, their links).
//
// OUTDIR is assembled in a temporary directory beside it and renamed into
// place at the end, so a failed or interrupted compile leaves nothing.

import { constants } from 'node:fs';
import { chmod, copyFile, lstat, lutimes, mkdir, readFile, readdir, readlink, rename, rm, rmdir, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import { archiveNames, compileText } from '../../description/compile-text.js';
import { resolveDescriptionFile } from '../../description/load.js';
import { checkDescriptionText } from '../../description/validate.js';
import { DescriptionInvalidError, DescriptionLoadError, OutputError, UsageError } from '../../errors.js';
import { lockPathFor } from '../../lock/lock-file.js';
import { openOverlay } from '../../output/overlay-file.js';
import type { BuildResult } from '../../pipeline/options.js';
import { buildJson, buildText } from '../../report/report.js';
import { TEMP_MARKER, tempPathFor } from '../../util/atomic-file.js';
import { errnoCode, errnoText } from '../../util/errno.js';
import { parseCommand } from '../args.js';
import { EXIT } from '../exit-codes.js';
import type { Io } from '../io.js';
import { BUILD_OPTIONS, buildSetup, interruptSignal, runBuild, type BuildSetup } from './build.js';

/** The archive the compiled description adds; it holds what `build --overlay` writes. */
export const CONTAINERS_ARCHIVE = 'imgdesc-containers.tar';

export const COMPILE_HELP = `usage: imgdesc compile DESCRIPTION OUTDIR [--profile NAME]... [--target-arch ARCH]
              [--source REF=TRANSPORT:LOCATION]... [--local-store podman|docker|none]
              [--container-dir DIR] [--offline] [--authfile FILE] [--tls-verify=false]
              [--cert-dir DIR] [--retries N] [--timeout SECONDS] [--templates DIR]
              [--cache-dir DIR | --no-cache] [--jobs N] [--locked] [--json] [--quiet]

Writes OUTDIR as a KIWI description directory that needs no <containers>
support: the description with every <containers> section removed and
<archive name="${CONTAINERS_ARCHIVE}"/> added to a <packages type="image">
without profiles, ${CONTAINERS_ARCHIVE} (exactly what build --overlay writes
for the selected profiles and architecture), and the description directory's
other files (config.sh, root/, archives, ...; not the lock file, whose
containers are now in the archive). The rest of the XML is kept byte for
byte, schemaversion included, so KIWI 9 (schema 7.5 at most, no <containers>)
builds it as well as KIWI 10. OUTDIR must not exist, or be empty; it appears
only once complete.

DESCRIPTION as a directory keeps its file name (config.xml or NAME.kiwi); a
single file becomes OUTDIR/config.xml (NAME.kiwi keeps its name), and only the
archives it references by relative path are copied along.

Options are build's (see imgdesc build --help), without --root and --overlay.
Build the result with the same profiles as given here.`;

const { root: _root, overlay: _overlay, ...COMPILE_OPTIONS } = BUILD_OPTIONS;

/** Where the description comes from and what it is called in OUTDIR. */
interface DescriptionSource {
  readonly file: string;
  /** The description directory, when DESCRIPTION is one. */
  readonly dir: string | null;
  readonly name: string;
}

async function descriptionSource(target: string): Promise<DescriptionSource> {
  const file = resolve(await resolveDescriptionFile(target));
  const isDir = (await stat(target)).isDirectory();
  // KIWI reads config.xml, or the one *.kiwi, of a directory.
  const name = isDir || file.endsWith('.kiwi') ? basename(file) : 'config.xml';
  return { file, dir: isDir ? dirname(file) : null, name };
}

/**
 * The description's bytes, as a string of one char per byte: markup is ASCII,
 * so the scanner reads UTF-8 (and a BOM) through it unchanged, and writing it
 * back as latin1 gives every byte outside the edits exactly as it was.
 */
async function readBytes(file: string): Promise<string> {
  try {
    return (await readFile(file)).toString('latin1');
  } catch (err) {
    throw new DescriptionLoadError(`cannot read description ${file}: ${errnoText(err)}`, file, { cause: err });
  }
}

const utf8 = (latin1: string) => Buffer.from(latin1, 'latin1').toString('utf8').replace(/^\uFEFF/, '');

function alreadyCompiled(file: string, why: string): DescriptionInvalidError {
  return new DescriptionInvalidError(file, [{ message: `${why}; this looks like a compiled description: compile the original`, path: '/image', line: null }]);
}

/** The compiled text, checked: a result imgdesc itself would not accept is a bug. */
function compiled(source: DescriptionSource, bytes: string): string {
  if (archiveNames(bytes).map(utf8).includes(CONTAINERS_ARCHIVE)) throw alreadyCompiled(source.file, `it already has <archive name="${CONTAINERS_ARCHIVE}"/>`);
  const { text } = compileText(bytes, CONTAINERS_ARCHIVE);
  const check = checkDescriptionText(utf8(text));
  const containers = check.root?.children.some((c) => c.name === 'containers');
  if (check.problems.length || containers) throw new Error(`compiled ${source.file} is not valid: ${JSON.stringify(check.problems)}`);
  return text;
}

/** OUTDIR's mode when it is an empty directory, null when absent; anything else is exit 5. */
async function emptyDirMode(dir: string): Promise<number | null> {
  let info;
  try {
    info = await lstat(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw new OutputError(`cannot use ${dir}: ${errnoText(err)}`, dir, { cause: err });
  }
  if (info.isSymbolicLink()) throw new OutputError(`${dir} is a symbolic link; give a new or empty directory itself`, dir);
  if (!info.isDirectory()) throw new OutputError(`${dir} exists and is not a directory; compile writes a new directory`, dir);
  const entries = await readdir(dir).catch((err: unknown) => {
    throw new OutputError(`cannot list ${dir}: ${errnoText(err)}`, dir, { cause: err });
  });
  if (entries.length) throw new OutputError(`${dir} is not empty; compile writes a new directory (remove it, or name another)`, dir);
  return info.mode & 0o7777;
}

interface OutDir {
  readonly dir: string;
  /** Where OUTDIR is assembled. */
  readonly temp: string;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** A temporary directory beside OUTDIR; parents it had to create go again on abort. */
async function claimOutDir(target: string): Promise<OutDir> {
  const dir = resolve(target);
  const mode = await emptyDirMode(dir);
  const temp = tempPathFor(dir);
  let created: string | undefined;
  try {
    created = await mkdir(dirname(dir), { recursive: true });
    await mkdir(temp);
    // An empty OUTDIR is replaced by the rename: keep its mode.
    if (mode !== null) await chmod(temp, mode);
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw new OutputError(`cannot create ${temp}: ${errnoText(err)}`, dir, { cause: err });
  }
  const abort = async () => {
    await rm(temp, { recursive: true, force: true });
    for (let d = dirname(dir); created && d.length >= created.length; d = dirname(d)) if (!(await rmdir(d).then(() => true, () => false))) break;
  };
  const commit = async () => {
    try {
      await rename(temp, dir);
    } catch (err) {
      await abort();
      throw new OutputError(`cannot move the compiled description to ${dir}: ${errnoText(err)}`, dir, { cause: err });
    }
  };
  return { dir, temp, commit, abort };
}

const inside = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/** Every file of a description directory but the description, its lock, and OUTDIR itself. */
async function copyDirectory(source: DescriptionSource & { dir: string }, out: OutDir, signal: AbortSignal): Promise<void> {
  const skip = new Set([source.file, lockPathFor(source.file)]);
  const wanted = (path: string) => {
    signal.throwIfAborted();
    return !skip.has(path) && !inside(path, out.dir) && !basename(path).includes(TEMP_MARKER);
  };
  try {
    await copyTree(source.dir, out.temp, wanted);
  } catch (err) {
    if (signal.aborted) throw err;
    throw new OutputError(`cannot copy ${source.dir} to ${out.dir}: ${errnoText(err)}`, out.dir, { cause: err });
  }
}

/**
 * Copies what is below `from` into the existing `to`: files and directories
 * with their modes and times, symlinks as they are. Not fs.cp: that refuses
 * a target inside the source, and OUTDIR may well be inside the description.
 * A directory whose every entry was skipped (the one holding OUTDIR) is left
 * out. Returns whether anything was copied.
 */
async function copyTree(from: string, to: string, wanted: (path: string) => boolean): Promise<boolean> {
  const entries = (await readdir(from)).sort();
  let copied = entries.length === 0;
  for (const name of entries) {
    const [src, dest] = [join(from, name), join(to, name)];
    if (!wanted(src)) continue;
    const info = await lstat(src);
    if (info.isSymbolicLink()) {
      await symlink(await readlink(src), dest);
      await lutimes(dest, info.atime, info.mtime);
    } else if (info.isDirectory()) {
      await mkdir(dest);
      if (!(await copyTree(src, dest, wanted))) {
        await rmdir(dest);
        continue;
      }
      await chmod(dest, info.mode & 0o7777);
      await utimes(dest, info.atime, info.mtime);
    } else if (info.isFile()) {
      await copyFile(src, dest, constants.COPYFILE_EXCL);
      await utimes(dest, info.atime, info.mtime);
    } else {
      throw new Error(`${src} is neither a file, a directory nor a symbolic link`);
    }
    copied = true;
  }
  return copied;
}

/** A single-file description has no directory: only the archives it names by relative path go along. */
async function copyReferencedArchives(source: DescriptionSource, bytes: string, out: OutDir, note: (text: string) => void): Promise<void> {
  for (const name of archiveNames(bytes).map(utf8)) {
    if (isAbsolute(name)) continue;
    const rel = normalize(name);
    if (rel.startsWith('..') || isAbsolute(rel)) {
      note(`<archive name="${name}"/> is outside the description's directory; not copied`);
      continue;
    }
    const from = join(dirname(source.file), rel);
    const to = join(out.temp, rel);
    try {
      await mkdir(dirname(to), { recursive: true });
      await copyFile(from, to, constants.COPYFILE_EXCL);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw new OutputError(`cannot copy ${from} to ${out.dir}: ${errnoText(err)}`, out.dir, { cause: err });
      note(`<archive name="${name}"/>: ${relative(process.cwd(), from) || from} does not exist; not copied`);
    }
  }
}

/** The files, the compiled description and the overlay, all in out.temp. */
async function writeCompiled(setup: BuildSetup, source: DescriptionSource, bytes: string, text: string, out: OutDir, io: Io, signal: AbortSignal): Promise<BuildResult> {
  const note = (t: string) => (setup.quiet ? undefined : io.err(`note: ${t}`));
  if (source.dir) await copyDirectory({ ...source, dir: source.dir }, out, signal);
  else await copyReferencedArchives(source, bytes, out, note);
  signal.throwIfAborted();
  const mode = (await stat(source.file)).mode & 0o777;
  await writeFile(join(out.temp, source.name), Buffer.from(text, 'latin1'), { mode, flag: 'wx' }).catch((err: unknown) => {
    throw new OutputError(`cannot write ${join(out.dir, source.name)}: ${errnoText(err)}`, out.dir, { cause: err });
  });
  const overlay = await openOverlay(join(out.temp, CONTAINERS_ARCHIVE), setup.options.mtime);
  try {
    const result = await runBuild(setup, overlay.output, io);
    await overlay.commit();
    return result;
  } catch (err) {
    await overlay.abort();
    throw err;
  }
}

function reportCompiled(setup: BuildSetup, result: BuildResult, out: OutDir, source: DescriptionSource, io: Io): void {
  const archive = join(out.dir, CONTAINERS_ARCHIVE);
  const shown: BuildResult = { ...result, output: `overlay ${archive}` };
  if (setup.json) io.out(JSON.stringify({ outdir: out.dir, description: join(out.dir, source.name), archive, ...buildJson(shown) }, null, 2));
  else if (!setup.quiet) io.out(`description: ${join(out.dir, source.name)}\n${buildText(shown)}`);
  if (!setup.quiet) for (const img of result.images) for (const w of img.warnings) io.err(`warning: ${w}`);
}

export async function compileCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommand('compile', argv, COMPILE_OPTIONS);
  if (values.help) {
    io.out(COMPILE_HELP);
    return EXIT.OK;
  }
  if (positionals.length !== 2) throw new UsageError(`compile: expected DESCRIPTION and OUTDIR, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`);
  const [target, outArg] = positionals as [string, string];
  const setup = await buildSetup('compile', values, [target], io);
  const source = await descriptionSource(target);
  if (source.dir && (await readdir(source.dir)).includes(CONTAINERS_ARCHIVE)) throw alreadyCompiled(source.file, `${source.dir} already holds ${CONTAINERS_ARCHIVE}`);
  const bytes = await readBytes(source.file);
  const text = compiled(source, bytes);
  const out = await claimOutDir(outArg);
  // The build stops itself on SIGINT/SIGTERM; this covers the copying around it.
  const interrupt = interruptSignal();
  let result: BuildResult;
  try {
    result = await writeCompiled(setup, source, bytes, text, out, io, interrupt.signal);
    interrupt.signal.throwIfAborted();
    await out.commit();
  } catch (err) {
    await out.abort();
    throw err;
  } finally {
    interrupt.dispose();
  }
  reportCompiled(setup, result, out, source, io);
  return EXIT.OK;
}
