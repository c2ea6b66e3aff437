// Key files named by policy.json, read as bytes (a GPG keyring is binary) but
// with the care of util/text-file: a FIFO, a directory or a file of gigabytes
// at a key path gives a reason instead of a hang or an exhausted heap.

import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { errnoText } from '../util/errno.js';

/** Far above any keyring of public keys. */
const MAX_KEY_FILE_BYTES = 8 * 1024 * 1024;

export type KeyFileResult = { ok: true; bytes: Buffer } | { ok: false; reason: string; cause?: unknown };

export async function readKeyFile(file: string): Promise<KeyFileResult> {
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    return { ok: false, reason: errnoText(err), cause: err };
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) return { ok: false, reason: info.isDirectory() ? 'it is a directory' : 'it is not a regular file' };
    if (info.size > MAX_KEY_FILE_BYTES) return { ok: false, reason: `it is ${info.size} bytes, over the limit of ${MAX_KEY_FILE_BYTES} bytes` };
    const bytes = await handle.readFile();
    if (bytes.length > MAX_KEY_FILE_BYTES) return { ok: false, reason: `it is over the limit of ${MAX_KEY_FILE_BYTES} bytes` };
    if (bytes.length === 0) return { ok: false, reason: 'it is empty' };
    return { ok: true, bytes };
  } catch (err) {
    return { ok: false, reason: errnoText(err), cause: err };
  } finally {
    await handle.close().catch(() => undefined);
  }
}
