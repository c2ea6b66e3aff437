import { loadDescription } from '../../description/load.js';
import { LOCK_VERSION, lockPathFor, writeLock } from '../../lock/lock-file.js';
import { resolveForLock } from '../../pipeline/lock.js';
import { containerDirFor } from '../../source/candidates.js';
import { makePlan } from '../../plan/plan.js';
import { hostArch, parseCommand, SELECTION_OPTIONS } from '../args.js';
import { EXIT } from '../exit-codes.js';
import type { Io } from '../io.js';
import { REGISTRY_OPTIONS, registriesConfFrom, registryOptionsFrom } from '../registry-options.js';
import { SOURCE_OPTIONS, sourceChoicesFrom } from '../source-options.js';
import { POLICY_OPTIONS, trustFrom } from '../trust-options.js';
import { version } from '../version.js';
import { interruptSignal } from './build.js';
import { UsageError } from '../../errors.js';

export const LOCK_HELP = `usage: imgdesc lock DESCRIPTION [--profile NAME]... [--target-arch ARCH]...
             [--source REF=TRANSPORT:LOCATION]... [--local-store podman|docker|none]
             [--container-dir DIR] [--offline] [--authfile FILE] [--tls-verify=false]
             [--cert-dir DIR] [--registries-conf FILE] [--policy FILE | --insecure-policy]
             [--registries.d DIR] [--json]

Resolves every selected container, for each target architecture given (default:
this host), to its index, manifest, config and layer digests, and writes them to
<description basename>.lock.json beside the description (config.lock.json for a
directory). imgdesc build then fetches those exact images by digest. Images are
checked against the signature policy as build checks them (see imgdesc build --help).`;

const LOCK_OPTIONS = {
  ...SELECTION_OPTIONS,
  ...REGISTRY_OPTIONS,
  ...SOURCE_OPTIONS,
  ...POLICY_OPTIONS,
  'target-arch': { type: 'string', multiple: true },
} as const;

export async function lockCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommand('lock', argv, LOCK_OPTIONS);
  if (values.help) {
    io.out(LOCK_HELP);
    return EXIT.OK;
  }
  if (positionals.length !== 1) throw new UsageError('lock: expected one DESCRIPTION');
  const profiles = (values.profile ?? []).flatMap((p) => p.split(',')).map((p) => p.trim()).filter(Boolean);
  const arches = [...new Set(values['target-arch']?.length ? values['target-arch'] : [hostArch()])];
  const registry = registryOptionsFrom('lock', values);
  const description = await loadDescription(positionals[0]!);
  const plans = arches.map((arch) => makePlan(description, { profiles, arch }));
  const offline = Boolean(values.offline);
  const sources = sourceChoicesFrom('lock', values, plans, offline);
  const registriesConf = await registriesConfFrom(values);
  const trust = await trustFrom('lock', values);
  const interrupt = interruptSignal();
  try {
    const generator = `imgdesc ${version()}`;
    const images = await resolveForLock(plans, {
      registry,
      sources: { ...sources, containerDir: containerDirFor(values['container-dir']), offline },
      signal: interrupt.signal,
      jobs: 8,
      generator,
      registriesConf,
      trust,
    });
    const file = lockPathFor(description.file);
    await writeLock(file, { lockfileVersion: LOCK_VERSION, generator, images });
    if (values.json) io.out(JSON.stringify({ lockFile: file, images }, null, 2));
    else io.out(`${file}: ${images.length} image${images.length === 1 ? '' : 's'} locked for ${arches.join(', ')}`);
    return EXIT.OK;
  } finally {
    interrupt.dispose();
  }
}
