// Finds, reads, checks and models a description. DESCRIPTION is a file of any
// name, or a directory holding config.xml or exactly one *.kiwi (KIWI's rule).

import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DescriptionInvalidError, DescriptionLoadError, type DescriptionProblem } from '../errors.js';
import { errnoText } from '../util/errno.js';
import { readTextFile } from '../util/text-file.js';
import { buildModel } from './build-model.js';
import type { Description } from './model.js';
import { checkDescriptionText } from './validate.js';

/** Descriptions are small; anything bigger is refused before parsing. */
export const MAX_DESCRIPTION_BYTES = 16 * 1024 * 1024;

/** Resolves DESCRIPTION to the file to read. */
export async function resolveDescriptionFile(target: string): Promise<string> {
  let info;
  try {
    info = await stat(target);
  } catch (err) {
    throw new DescriptionLoadError(`cannot read description ${target}: ${errnoText(err)}`, target, { cause: err });
  }
  if (info.isFile()) return target;
  if (!info.isDirectory()) throw new DescriptionLoadError(`description ${target} is neither a file nor a directory`, target);
  let entries: string[];
  try {
    entries = await readdir(target);
  } catch (err) {
    throw new DescriptionLoadError(`cannot list description directory ${target}: ${errnoText(err)}`, target, { cause: err });
  }
  if (entries.includes('config.xml')) return join(target, 'config.xml');
  const kiwi = entries.filter((e) => e.endsWith('.kiwi')).sort();
  if (kiwi.length === 1) return join(target, kiwi[0]!);
  if (kiwi.length === 0) {
    throw new DescriptionLoadError(`directory ${target} holds no description: expected config.xml or one *.kiwi file`, target);
  }
  throw new DescriptionLoadError(
    `directory ${target} holds ${kiwi.length} *.kiwi files (${kiwi.join(', ')}); keep exactly one, or name the file to use`,
    target,
  );
}

export interface LoadedText {
  file: string;
  text: string;
}

export async function readDescription(target: string): Promise<LoadedText> {
  const file = await resolveDescriptionFile(target);
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (err) {
    throw new DescriptionLoadError(`cannot read description ${file}: ${errnoText(err)}`, file, { cause: err });
  }
  if (size > MAX_DESCRIPTION_BYTES) {
    throw new DescriptionLoadError(`description ${file} is ${size} bytes; descriptions larger than ${MAX_DESCRIPTION_BYTES} bytes are refused`, file);
  }
  // Not a plain read: a directory or FIFO named config.xml, or binary bytes,
  // must be refused, not waited on or parsed. Bytes that are not UTF-8 read
  // as U+FFFD, as they always have, and the XML checks report them.
  const read = await readTextFile(file, MAX_DESCRIPTION_BYTES, { decode: 'lenient' });
  if (!read.ok) throw new DescriptionLoadError(`cannot read description ${file}: ${read.reason}`, file, { cause: read.cause });
  return { file, text: read.text };
}

export type CheckResult = { file: string; problems: DescriptionProblem[]; description: Description | null };

/** Reads and checks; never throws for an invalid description (load errors still throw). */
export async function checkDescription(target: string): Promise<CheckResult> {
  const { file, text } = await readDescription(target);
  const { root, problems } = checkDescriptionText(text);
  if (!root || problems.length > 0) return { file, problems, description: null };
  return { file, problems, description: buildModel(root, file) };
}

/** Reads, checks and models; throws DescriptionInvalidError with every problem. */
export async function loadDescription(target: string): Promise<Description> {
  const result = await checkDescription(target);
  if (!result.description) throw new DescriptionInvalidError(result.file, result.problems);
  return result.description;
}
