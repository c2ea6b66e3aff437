// Compression of disk images, told by magic bytes as podman's
// pkg/machine/compression does (never by a file name, which may lie), and the
// file-name suffix each kind is published with.

export type Compression = 'gzip' | 'bzip2' | 'xz' | 'zstd' | 'none';

/** Leading bytes of each format (RFC 1952, bzip2's "BZh", the xz and zstd frame magics). */
const MAGIC: ReadonlyArray<readonly [Exclude<Compression, 'none'>, readonly number[]]> = [
  ['gzip', [0x1f, 0x8b, 0x08]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
];

/** How many leading bytes detectCompression needs to decide. */
export const MAGIC_BYTES = Math.max(...MAGIC.map(([, m]) => m.length));

/** The compression `head` (the first MAGIC_BYTES bytes, fewer for a short file) starts with. */
export function detectCompression(head: Uint8Array): Compression {
  for (const [kind, magic] of MAGIC) {
    if (head.length >= magic.length && magic.every((b, i) => head[i] === b)) return kind;
  }
  return 'none';
}

/** The suffix a file compressed this way is published with. */
export const SUFFIX: Readonly<Record<Exclude<Compression, 'none'>, string>> = { gzip: '.gz', bzip2: '.bz2', xz: '.xz', zstd: '.zst' };

/** Other spellings found in titles: "disk.raw.zstd", "disk.tgz" are not ours to rename, these are. */
const ALSO: Readonly<Record<Exclude<Compression, 'none'>, readonly string[]>> = { gzip: ['.gzip'], bzip2: ['.bzip2'], xz: [], zstd: ['.zstd'] };

/**
 * The name of the decompressed file: `name` without the suffix of the
 * compression its bytes had. A name without that suffix stays as it is
 * (its bytes were decompressed all the same).
 */
export function decompressedName(name: string, compression: Compression): string {
  if (compression === 'none') return name;
  for (const suffix of [SUFFIX[compression], ...ALSO[compression]]) {
    if (name.length > suffix.length && name.toLowerCase().endsWith(suffix)) return name.slice(0, -suffix.length);
  }
  return name;
}

/** `name` without any compression suffix: how --file may name a title. */
export function withoutCompressionSuffix(name: string): string {
  for (const kind of Object.keys(SUFFIX) as Array<Exclude<Compression, 'none'>>) {
    const stripped = decompressedName(name, kind);
    if (stripped !== name) return stripped;
  }
  return name;
}

export function isCompression(value: string): value is Compression {
  return value === 'none' || value in SUFFIX;
}
