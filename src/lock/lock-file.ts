// The lock file pins every container of a description, per target arch, to
// the exact manifest (and index) it resolved to, so later builds fetch by
// digest and a moved tag changes nothing. Written beside the description as
// <basename>.lock.json (appliance.xml -> appliance.lock.json, a directory's
// config.xml -> config.lock.json).

import { basename, dirname, extname, join } from 'node:path';
import { DescriptionInvalidError, type DescriptionProblem, OutputError, ValueFormatError } from '../errors.js';
import { KNOWN_ARCHES } from '../description/names.js';
import { digestProblem } from '../oci/digest.js';
import { platformProblem } from '../oci/platform.js';
import { Reference } from '../oci/reference.js';
import type { Plan } from '../plan/plan.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { errnoText } from '../util/errno.js';
import { readTextFile } from '../util/text-file.js';

export const LOCK_VERSION = 1;

/** Locks are JSON of a few hundred bytes per image; anything bigger is refused before parsing. */
export const MAX_LOCK_BYTES = 64 * 1024 * 1024;

/** Problems reported from one lock file; the rest are counted. */
const MAX_PROBLEMS = 20;

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
  /**
   * Where the image was read when it was locked ("registry HOST",
   * "containers-storage NAME"), for people reading the lock; a build checks
   * the digests, wherever they come from.
   */
  readonly source?: string;
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

const AGAIN = 'run imgdesc lock again';

function invalid(file: string, messages: readonly string[]): DescriptionInvalidError {
  const problems: DescriptionProblem[] = messages.slice(0, MAX_PROBLEMS).map((message) => ({ message, path: '', line: null }));
  if (messages.length > MAX_PROBLEMS) problems.push({ message: `and ${messages.length - MAX_PROBLEMS} more problems; ${AGAIN}`, path: '', line: null });
  return new DescriptionInvalidError(file, problems);
}

/** A value for messages: JSON, cut short. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `the ${typeof value} ${shown(value)}`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks a parsed lock document; returns the lock (plain copies of the
 * fields it knows) or every problem, each naming its JSON path.
 */
export function checkLock(doc: unknown): { lock: LockFile; problems: [] } | { lock: null; problems: string[] } {
  const problems: string[] = [];
  if (!isObject(doc)) return { lock: null, problems: [`the lock file is ${typeName(doc)}, not a JSON object; ${AGAIN}`] };
  if (doc.lockfileVersion !== LOCK_VERSION) {
    const what = doc.lockfileVersion === undefined ? 'lockfileVersion is missing' : `lockfileVersion ${shown(doc.lockfileVersion)} is not supported`;
    return { lock: null, problems: [`${what} (expected ${LOCK_VERSION}); ${AGAIN}`] };
  }
  const string = (v: unknown, where: string): string | null => {
    if (typeof v === 'string') return v;
    problems.push(`${where} is ${v === undefined ? 'missing' : typeName(v)}; expected a string`);
    return null;
  };
  const checked = (v: unknown, where: string, problem: (s: string) => string | null, what: string): string | null => {
    const s = string(v, where);
    if (s === null) return null;
    const why = problem(s);
    if (why === null) return s;
    problems.push(`${where}: ${shown(s)} is not ${what}: ${why}`);
    return null;
  };
  const digest = (v: unknown, where: string) => checked(v, where, digestProblem, 'a digest');
  const blob = (v: unknown, where: string): LockedBlob | null => {
    if (!isObject(v)) {
      problems.push(`${where} is ${v === undefined ? 'missing' : typeName(v)}; expected an object with digest, size and mediaType`);
      return null;
    }
    const d = digest(v.digest, `${where}.digest`);
    let size: number | null = null;
    if (typeof v.size === 'number' && Number.isSafeInteger(v.size) && v.size >= 0) size = v.size;
    else problems.push(`${where}.size is ${v.size === undefined ? 'missing' : typeName(v.size)}; expected a whole number of bytes, 0 or more`);
    const mediaType = string(v.mediaType, `${where}.mediaType`);
    return d !== null && size !== null && mediaType !== null ? { digest: d, size, mediaType } : null;
  };

  const generator = string(doc.generator, 'generator');
  if (!Array.isArray(doc.images)) {
    problems.push(`images is ${doc.images === undefined ? 'missing' : typeName(doc.images)}; expected an array`);
    return { lock: null, problems };
  }
  const images: LockedImage[] = [];
  const seen = new Map<string, number>();
  doc.images.forEach((entry: unknown, i) => {
    const at = `images[${i}]`;
    const before = problems.length;
    if (!isObject(entry)) {
      problems.push(`${at} is ${typeName(entry)}; expected an object`);
      return;
    }
    const reference = checked(entry.reference, `${at}.reference`, referenceProblem, 'a reference');
    const arch = checked(entry.arch, `${at}.arch`, (a) => (KNOWN_ARCHES.includes(a) ? null : `allowed: ${KNOWN_ARCHES.join(', ')}`), 'a known architecture');
    const platform = checked(entry.platform, `${at}.platform`, platformProblem, 'a platform');
    let indexDigest: string | null = null;
    if (entry.indexDigest === undefined) problems.push(`${at}.indexDigest is missing; expected null or a digest`);
    else if (entry.indexDigest !== null) indexDigest = digest(entry.indexDigest, `${at}.indexDigest`);
    const manifest = blob(entry.manifest, `${at}.manifest`);
    const config = blob(entry.config, `${at}.config`);
    const layers: LockedBlob[] = [];
    if (Array.isArray(entry.layers)) {
      entry.layers.forEach((l: unknown, j) => {
        const b = blob(l, `${at}.layers[${j}]`);
        if (b) layers.push(b);
      });
    } else problems.push(`${at}.layers is ${entry.layers === undefined ? 'missing' : typeName(entry.layers)}; expected an array`);
    let source: string | undefined;
    if (entry.source !== undefined) source = string(entry.source, `${at}.source`) ?? undefined;
    if (problems.length > before) return;
    const key = lockKey(reference!, arch!);
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push(`${at} locks ${reference} for ${arch} again (images[${first}] does already); each reference and arch once`);
      return;
    }
    seen.set(key, i);
    images.push({ reference: reference!, arch: arch!, platform: platform!, indexDigest, manifest: manifest!, config: config!, layers, ...(source === undefined ? {} : { source }) });
  });
  if (problems.length > 0) return { lock: null, problems };
  return { lock: { lockfileVersion: LOCK_VERSION, generator: generator!, images }, problems: [] };
}

function referenceProblem(text: string): string | null {
  try {
    Reference.parse(text);
    return null;
  } catch (err) {
    if (err instanceof ValueFormatError) return err.why;
    throw err;
  }
}

/**
 * Reads a lock; null when there is none. Anything else that is not a lock
 * this version wrote (unreadable, not a file, too big, binary, not JSON, a
 * wrong field) is a DescriptionInvalidError naming the file and each problem.
 */
export async function readLock(file: string): Promise<LockFile | null> {
  const read = await readTextFile(file, MAX_LOCK_BYTES);
  if (!read.ok) {
    if (read.absent) return null;
    throw invalid(file, [`cannot read the lock file: ${read.reason}`]);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(read.text);
  } catch (err) {
    // The parser quotes the text; control characters in it must not reach a terminal.
    const why = (err as Error).message.replace(/\p{Cc}/gu, '?');
    throw invalid(file, [`the lock file is not valid JSON (${why}); ${AGAIN}`]);
  }
  const { lock, problems } = checkLock(doc);
  if (!lock) throw invalid(file, problems);
  return lock;
}

/** Writes the lock, sorted, all or nothing; a failure is an OutputError naming the file. */
export async function writeLock(file: string, lock: LockFile): Promise<void> {
  const sorted: LockFile = {
    ...lock,
    images: [...lock.images].sort((a, b) => a.reference.localeCompare(b.reference) || a.arch.localeCompare(b.arch)),
  };
  try {
    await writeFileAtomic(file, `${JSON.stringify(sorted, null, 2)}\n`);
  } catch (err) {
    throw new OutputError(`cannot write lock file ${file}: ${errnoText(err)}`, file, { cause: err });
  }
}

/** Planned images the lock has no entry for (empty: the lock covers the plan). */
export function missingFromLock(lock: LockFile, plan: Plan): string[] {
  const have = new Set(lock.images.map((i) => lockKey(i.reference, i.arch)));
  return plan.containers.filter((c) => !have.has(lockKey(c.reference, plan.arch))).map((c) => c.reference);
}

export function lockEntries(lock: LockFile | null): Map<string, LockedImage> {
  return new Map((lock?.images ?? []).map((i) => [lockKey(i.reference, i.arch), i]));
}
