// The containers configuration a machine already carries, as skopeo finds
// it: registries.conf (mirrors, rewrites, insecure and blocked registries),
// policy.json (which images are trusted) and registries.d (where their
// signatures are). The policy options belong to build, compile, lock and
// pull; --registries-conf is a registry option (push takes it too).

import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { loadPolicyFile, type Policy } from '../policy/policy.js';
import type { TrustConfig } from '../signatures/verify.js';
import { loadRegistriesD } from '../signatures/registries-d.js';
import { somethingAt } from '../util/text-file.js';

export const POLICY_OPTIONS = {
  policy: { type: 'string' },
  'insecure-policy': { type: 'boolean' },
  'registries.d': { type: 'string' },
} as const;

export const POLICY_HELP = `  --policy FILE        signature policy (default ~/.config/containers/policy.json, else
                       /etc/containers/policy.json; none: everything is accepted, with a note)
  --insecure-policy    do not consult any signature policy (the report says so)
  --registries.d DIR   where signatures are kept (default ~/.config/containers/registries.d
                       if it exists, else /etc/containers/registries.d)`;

/** The policy file to read: --policy, else the user's, else the system's; null when none exists. */
async function policyPath(given: string | undefined, env: NodeJS.ProcessEnv): Promise<string | null> {
  if (given !== undefined) return given;
  const user = join(env.HOME || homedir(), '.config/containers/policy.json');
  for (const file of [user, '/etc/containers/policy.json']) if (await somethingAt(file)) return file;
  return null;
}

export async function trustFrom(command: string, values: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Promise<TrustConfig> {
  const insecure = Boolean(values['insecure-policy']);
  if (insecure && values.policy !== undefined) throw new UsageError(`${command}: --policy and --insecure-policy exclude each other`);
  const registriesD = await loadRegistriesD({ dir: values['registries.d'] as string | undefined, home: env.HOME || homedir() });
  if (insecure) return { policy: null, insecure, registriesD };
  const file = await policyPath(values.policy as string | undefined, env);
  const policy: Policy | null = file === null ? null : await loadPolicyFile(file);
  return { policy, insecure, registriesD };
}
