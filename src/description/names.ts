// Grammar of the names a <containers> section combines into a reference, after
// the OCI distribution reference grammar, plus the architecture names KIWI
// compares against `uname -m`.

/** One repository path component: lowercase alphanumerics joined by ".", "_", "__" or dashes. */
export const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
export const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DOMAIN_COMPONENT = /^(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])$/;
const IPV6 = /^\[[0-9A-Fa-f:.]+\]$/;
/** Longest repository name (host and path included) registries accept. */
export const MAX_NAME_LENGTH = 255;

/** Why `value` is not a repository path (components joined by "/"), or null when it is. */
export function repositoryPathProblem(value: string): string | null {
  if (value === '') return 'it is empty';
  const parts = value.split('/');
  for (const part of parts) {
    if (part === '') return 'it has an empty component ("//" or a leading/trailing "/")';
    if (part === '.' || part === '..') return `it has a "${part}" component`;
    if (!PATH_COMPONENT.test(part)) {
      if (/[A-Z]/.test(part)) return `component "${part}" has uppercase letters (repository names are lowercase)`;
      return `component "${part}" is not lowercase letters and digits joined by ".", "_", "__" or "-"`;
    }
  }
  return null;
}

/** Parses `host[:port][/path]`; returns the problem, or null when valid. */
export function sourceProblem(value: string): string | null {
  if (value === '') return 'it is empty';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return 'it has a URL scheme; give host[:port][/path] without "https://" or "docker://"';
  if (/\s/.test(value)) return 'it contains whitespace';
  const slash = value.indexOf('/');
  const domain = slash === -1 ? value : value.slice(0, slash);
  const path = slash === -1 ? '' : value.slice(slash + 1).replace(/\/+$/, '');
  let host = domain;
  let port: string | undefined;
  const portMatch = /^(.*):([^:\]]*)$/.exec(domain);
  if (portMatch && !IPV6.test(domain)) {
    host = portMatch[1]!;
    port = portMatch[2]!;
  }
  if (host === '') return 'the host is empty';
  if (!IPV6.test(host) && !host.split('.').every((c) => DOMAIN_COMPONENT.test(c))) {
    return `host "${host}" is not a valid host name or address`;
  }
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)) {
    return `port "${port}" is not a number from 1 to 65535`;
  }
  if (path !== '') {
    const problem = repositoryPathProblem(path);
    if (problem) return `its path ${problem}`;
  }
  return null;
}

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
