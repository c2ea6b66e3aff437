// One wording for the file-system errors users meet, so every message about a
// file says the same thing for the same cause.

const TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOTDIR: 'a parent is not a directory',
  EISDIR: 'it is a directory',
  EEXIST: 'a file is in the way',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'the name is too long',
  EMFILE: 'too many open files',
  EIO: 'input/output error',
};

export function errnoCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A short reason for a failed file operation: the errno's meaning, else the error's message. */
export function errnoText(err: unknown): string {
  const code = errnoCode(err);
  return (code && TEXT[code]) ?? (err instanceof Error ? err.message : String(err));
}

/** True for an errno error (a file-system failure), as opposed to a network or program error. */
export function isFsError(err: unknown): boolean {
  const code = errnoCode(err);
  return code !== undefined && code in TEXT;
}
