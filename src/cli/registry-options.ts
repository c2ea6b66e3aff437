// Options shared by the commands that talk to registries (build, lock).

import { UsageError } from '../errors.js';
import type { RegistryClientOptions } from '../registry/client.js';
import { loadRegistriesConf, type RegistriesConf } from '../registry/registries-conf.js';
import { DEFAULT_RETRY } from '../registry/retry.js';

export const REGISTRY_OPTIONS = {
  'container-dir': { type: 'string' },
  offline: { type: 'boolean' },
  authfile: { type: 'string' },
  'tls-verify': { type: 'string' },
  'cert-dir': { type: 'string' },
  retries: { type: 'string' },
  timeout: { type: 'string' },
  'registries-conf': { type: 'string' },
} as const;

export function positiveInt(command: string, name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`${command}: --${name} must be a positive whole number, not ${JSON.stringify(value)}`);
  return Number(value);
}

export function registryOptionsFrom(command: string, values: Record<string, unknown>): Omit<RegistryClientOptions, 'userAgent'> {
  const tlsVerify = (values['tls-verify'] as string | undefined) ?? 'true';
  if (tlsVerify !== 'true' && tlsVerify !== 'false') throw new UsageError(`${command}: --tls-verify takes true or false, not ${JSON.stringify(tlsVerify)}`);
  return {
    tlsVerify: tlsVerify === 'true',
    certDir: values['cert-dir'] as string | undefined,
    credentials: { authFile: values.authfile as string | undefined },
    retry: { ...DEFAULT_RETRY, attempts: positiveInt(command, 'retries', values.retries as string | undefined, DEFAULT_RETRY.attempts) },
    timeoutMs: positiveInt(command, 'timeout', values.timeout as string | undefined, 60) * 1000,
  };
}

/** --registries-conf, else the files containers/image reads (see registries-conf.ts). */
export function registriesConfFrom(values: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Promise<RegistriesConf> {
  return loadRegistriesConf({ file: values['registries-conf'] as string | undefined, env });
}

/** The help lines of REGISTRY_OPTIONS without --container-dir and --offline: build, pull and push show them as they are. */
export const REGISTRY_HELP = `  --authfile FILE      registry credentials (containers-auth.json); default lookup as podman
  --tls-verify=false   allow plain http and unverified https (local registries only)
  --cert-dir DIR       trust DIR/*.crt as CAs (in addition to /etc/containers/certs.d/HOST/)
  --retries N          attempts per registry request (default ${DEFAULT_RETRY.attempts})
  --timeout SECONDS    give up on a connection that sends nothing for this long (default 60)
  --registries-conf FILE
                       registries.conf to use (default $CONTAINERS_REGISTRIES_CONF, else
                       ~/.config/containers/registries.conf, else /etc/containers/registries.conf;
                       plus the registries.conf.d drop-ins): mirrors, rewrites, insecure, blocked`;
