// Profile and architecture selection with KIWI's semantics:
// - a profile whose `arch` excludes the target does not exist for that build;
// - no requested profiles -> the profiles marked import="true" (their
//   <requires> are NOT followed, as KIWI does not follow them either);
// - requested profiles replace those, and each pulls in its <requires>
//   (filtered by arch) depth first, every profile once;
// - a section applies when it names no profiles, or any selected one.

import { SelectionError } from '../errors.js';
import type { Description, Profile } from '../description/model.js';
import { ARCH_PLATFORMS, archProblem, KNOWN_ARCHES } from '../description/names.js';

export function matchesArch(arch: readonly string[] | null, target: string): boolean {
  return arch === null || arch.length === 0 || arch.includes(target);
}

/** OCI platform (os/arch[/variant]) for a `uname -m` name; throws for unknown names. */
export function platformFor(arch: string): string {
  const platform = ARCH_PLATFORMS[arch];
  if (!platform) throw new SelectionError(`target architecture: ${archProblem(arch) ?? `"${arch}" is not known; allowed: ${KNOWN_ARCHES.join(', ')}`}`);
  return platform;
}

export function selectProfiles(desc: Description, requested: readonly string[], arch: string): string[] {
  const available = new Map<string, Profile>();
  for (const p of desc.profiles) if (matchesArch(p.arch, arch)) available.set(p.name, p);

  if (requested.length === 0) return [...available.values()].filter((p) => p.import).map((p) => p.name);

  const resolved: string[] = [];
  const solve = (name: string, via: string | null): void => {
    const profile = available.get(name);
    if (!profile) {
      const defined = desc.profiles.find((p) => p.name === name);
      const how = via ? ` (required by profile "${via}")` : '';
      if (defined) {
        throw new SelectionError(
          `profile "${name}"${how} is not available for target architecture ${arch}: it is limited to ${defined.arch!.join(', ')} (line ${defined.line})`,
        );
      }
      const names = desc.profiles.map((p) => p.name);
      throw new SelectionError(
        `profile "${name}"${how} is not defined in ${desc.file}; ` + (names.length ? `defined profiles: ${names.join(', ')}` : 'it defines no profiles'),
      );
    }
    if (resolved.includes(name)) return;
    resolved.push(name);
    for (const req of profile.requires) {
      if (matchesArch(req.arch, arch)) solve(req.profile, name);
    }
  };
  for (const name of requested) solve(name, null);
  return resolved;
}

export function sectionApplies(profiles: readonly string[] | null, selected: readonly string[]): boolean {
  return profiles === null || profiles.length === 0 || profiles.some((p) => selected.includes(p));
}
