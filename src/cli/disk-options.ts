// Options `imgdesc pull` and `push` share: the registry options of build
// (without --container-dir and --offline, which name build's local sources),
// the target platform, and the resolver they open.

import { UsageError } from '../errors.js';
import { ARCH_ALIASES } from '../description/names.js';
import { parsePlatform, type Platform } from '../oci/platform.js';
import { platformFor } from '../plan/select.js';
import type { RegistriesConf } from '../registry/registries-conf.js';
import { RegistryResolver } from '../registry/resolver.js';
import { hostArch } from './args.js';
import { REGISTRY_OPTIONS, registryOptionsFrom } from './registry-options.js';
import { version } from './version.js';

const { 'container-dir': _containerDir, offline: _offline, ...NETWORK } = REGISTRY_OPTIONS;

export const DISK_OPTIONS = {
  ...NETWORK,
  'target-arch': { type: 'string' },
  platform: { type: 'string' },
  disktype: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** --platform OS/ARCH[/VARIANT], or --target-arch as `uname -m` names it (amd64/arm64 accepted too), else this host. */
export function targetPlatform(command: string, values: { platform?: string; 'target-arch'?: string }): Platform {
  if (values.platform !== undefined && values['target-arch'] !== undefined) throw new UsageError(`${command}: --platform and --target-arch exclude each other`);
  if (values.platform !== undefined) return parsePlatform(values.platform);
  const arch = values['target-arch'] ?? hostArch();
  return parsePlatform(platformFor(ARCH_ALIASES[arch] ?? arch));
}

/** A disktype as podman names them: a word. */
export function disktypeFrom(command: string, value: string | undefined): string | null {
  if (value === undefined) return null;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(value)) throw new UsageError(`${command}: --disktype takes a name such as qemu, applehv, hyperv or wsl, not ${JSON.stringify(value)}`);
  return value;
}

export function resolverFrom(command: string, values: Record<string, unknown>, conf: RegistriesConf): RegistryResolver {
  return new RegistryResolver({ ...registryOptionsFrom(command, values), userAgent: `imgdesc/${version()}` }, conf);
}
