// Reading a small text file the user controls (a lock file, an auth file, a
// template) without trusting what is at the path: a directory, a FIFO, a
// device, a file of gigabytes or of binary bytes each give a reason instead
// of a hang, an exhausted heap or garbage in a message. Callers turn the
// reason into their own error, naming the file.

import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { errnoCode, errnoText } from './errno.js';

export type TextFileResult =
  | { readonly ok: true; readonly text: string }
  /** `absent`: nothing at the path (ENOENT), which callers often accept. */
  | { readonly ok: false; readonly absent: boolean; readonly reason: string; readonly cause?: unknown };

const fail = (reason: string, cause?: unknown, absent = false): TextFileResult => ({ ok: false, absent, reason, cause });

/**
 * false only when nothing is at the path (ENOENT), as readTextFile reports
 * `absent`: for choosing between candidate files without reading them; what
 * is there, readable or not, is for the reader to judge.
 */
export async function somethingAt(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    return errnoCode(err) !== 'ENOENT';
  }
}

/**
 * Reads `file` as UTF-8 text of at most `maxBytes` bytes (a leading BOM is
 * dropped). Refuses what is not a regular file and what is larger. With
 * `decode` "strict" (the default) it refuses bytes that are not UTF-8 text
 * too: NUL bytes and invalid sequences; "lenient" refuses NUL bytes and reads
 * invalid sequences as U+FFFD; "any" refuses nothing for its bytes. Never
 * throws for a file-system reason.
 */
export async function readTextFile(file: string, maxBytes: number, options: { decode?: 'strict' | 'lenient' | 'any' } = {}): Promise<TextFileResult> {
  const decode = options.decode ?? 'strict';
  let handle;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below).
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    return fail(errnoText(err), err, errnoCode(err) === 'ENOENT');
  }
  try {
    const info = await handle.stat();
    if (info.isDirectory()) return fail('it is a directory');
    if (!info.isFile()) return fail('it is not a regular file');
    if (info.size > maxBytes) return fail(`it is ${info.size} bytes, over the limit of ${maxBytes} bytes`);
    // Read to the end, not to the size stat gave: the file may have grown.
    let buf = Buffer.alloc(Math.min(info.size, maxBytes) + 1);
    let got = 0;
    for (;;) {
      if (got === buf.length) {
        if (got > maxBytes) return fail(`it is more than ${maxBytes} bytes, over the limit`);
        const bigger = Buffer.alloc(Math.min(buf.length * 2, maxBytes + 1));
        buf.copy(bigger);
        buf = bigger;
      }
      const { bytesRead } = await handle.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    const bytes = buf.subarray(0, got);
    if (decode !== 'any' && bytes.includes(0)) return fail('it is binary, not text (it holds NUL bytes)');
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: decode === 'strict' }).decode(bytes);
    } catch {
      return fail('it is binary, not text (it is not valid UTF-8)');
    }
    return { ok: true, text };
  } catch (err) {
    return fail(errnoText(err), err);
  } finally {
    await handle.close().catch(() => undefined);
  }
}
