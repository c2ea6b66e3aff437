// The architecture names KIWI compares against `uname -m`, and list
// attributes. The reference grammar (names, tags, sources) is the reference
// type's own, in oci/reference.ts.

/** `uname -m` names KIWI matches `arch` attributes against, and their OCI platforms. */
export const ARCH_PLATFORMS: Readonly<Record<string, string>> = Object.freeze({
  x86_64: 'linux/amd64',
  i686: 'linux/386',
  i586: 'linux/386',
  aarch64: 'linux/arm64/v8',
  armv7l: 'linux/arm/v7',
  armv6l: 'linux/arm/v6',
  armv5tel: 'linux/arm/v5',
  ppc64le: 'linux/ppc64le',
  ppc64: 'linux/ppc64',
  ppc: 'linux/ppc',
  s390x: 'linux/s390x',
  s390: 'linux/s390',
  riscv64: 'linux/riscv64',
});
export const KNOWN_ARCHES = Object.freeze(Object.keys(ARCH_PLATFORMS));

/** Names KIWI's schema lets through that `uname -m` never prints: a match would never happen. */
export const ARCH_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  amd64: 'x86_64',
  arm64: 'aarch64',
  ix86: 'i686',
  i386: 'i686',
  armv7hl: 'armv7l',
  armv6hl: 'armv6l',
  armv5el: 'armv5tel',
});

/** Problem with one arch name, or null. */
export function archProblem(name: string): string | null {
  if (KNOWN_ARCHES.includes(name)) return null;
  const alias = ARCH_ALIASES[name];
  if (alias) return `"${name}" is not a \`uname -m\` name and would never match; use "${alias}"`;
  return `"${name}" is not a known architecture; allowed: ${KNOWN_ARCHES.join(', ')}`;
}

/** Splits a comma separated attribute ("a,b, c") into trimmed, non-empty items. */
export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}
