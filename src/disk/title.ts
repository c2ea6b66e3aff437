// The file name an artifact gives its disk (org.opencontainers.image.title,
// or the name of the file in a layer) comes from whoever pushed it. It may
// become a path on this machine, so anything but a plain file name is
// refused before a byte is written, as `oras pull` refuses path traversal.

/** The annotation ORAS and podman name a layer's file by. */
export const TITLE = 'org.opencontainers.image.title';

/** Why `title` is not a plain file name, or null when it is one. */
export function titleProblem(title: string): string | null {
  if (title === '') return 'it is empty';
  if (title.startsWith('/') || title.startsWith('\\') || /^[A-Za-z]:/.test(title)) return 'it is an absolute path';
  if (title.split(/[/\\]/).includes('..')) return 'it contains ".."';
  if (/[/\\]/.test(title)) return 'it is a path, not a plain file name';
  if (title === '.') return 'it names a directory';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(title)) return 'it contains control characters';
  if (Buffer.byteLength(title) > 255) return 'it is longer than 255 bytes';
  return null;
}
