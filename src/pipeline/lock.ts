// lock = plan -> resolve, for every target arch: the digests a lock file
// records, without downloading any layer.

import { formatPlatform } from '../oci/platform.js';
import type { Descriptor } from '../oci/manifest.js';
import type { LockedBlob, LockedImage } from '../lock/lock-file.js';
import { lockKey } from '../lock/lock-file.js';
import type { Plan } from '../plan/plan.js';
import type { RegistryClientOptions } from '../registry/client.js';
import type { RegistriesConf } from '../registry/registries-conf.js';
import { RegistryResolver } from '../registry/resolver.js';
import type { CandidateOptions } from '../source/candidates.js';
import { limiter } from '../util/limit.js';
import { pinAll } from './pin.js';
import { openSource, resolveOpened } from './resolve.js';
import type { TrustConfig } from '../signatures/verify.js';

export interface LockOptions {
  readonly registry: Omit<RegistryClientOptions, 'userAgent'>;
  readonly sources: CandidateOptions;
  readonly signal: AbortSignal;
  readonly jobs: number;
  readonly generator: string;
  readonly registriesConf?: RegistriesConf;
  /** Locking an image the policy rejects would only move the failure to the build. */
  readonly trust?: TrustConfig;
}

const blob = (d: Descriptor): LockedBlob => ({ digest: d.digest, size: d.size, mediaType: d.mediaType });

export async function resolveForLock(plans: readonly Plan[], opts: LockOptions): Promise<LockedImage[]> {
  const registries = new RegistryResolver({ ...opts.registry, userAgent: opts.generator.replace(' ', '/') }, opts.registriesConf);
  const limit = limiter(opts.jobs);
  try {
    const work = plans.flatMap((plan) =>
      pinAll(plan, null).map((p) =>
        limit(async (): Promise<LockedImage> => {
          const opened = await openSource(p, registries, opts.sources);
          const r = await resolveOpened(p, opened, opts.signal, opts.trust);
          await r.source.close();
          return {
            reference: p.container.reference,
            arch: plan.arch,
            platform: formatPlatform(r.platform),
            indexDigest: r.image.indexDigest,
            manifest: { digest: r.image.manifest.digest, size: r.image.manifest.bytes.length, mediaType: r.image.parsed.mediaType },
            config: blob(r.image.parsed.config),
            layers: r.image.parsed.layers.map(blob),
            source: r.origin,
          };
        }),
      ),
    );
    // Same reference and arch from two sections resolve to the same entry.
    const seen = new Set<string>();
    return (await Promise.all(work)).filter((e) => {
      const k = lockKey(e.reference, e.arch);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  } finally {
    await registries.close();
  }
}
