// Resolves every planned container to the digests a lock file records,
// without downloading any layer.

import { containerDirFor, pickSource } from '../build/pick-source.js';
import { resolveImage } from '../copy/copy-image.js';
import { formatPlatform, parsePlatform } from '../oci/platform.js';
import type { Plan } from '../plan/plan.js';
import { RegistryClient, type RegistryClientOptions } from '../registry/client.js';
import { limiter } from '../util/limit.js';
import type { LockedImage } from './lock-file.js';

export async function resolveForLock(
  plans: readonly Plan[],
  opts: { registry: Omit<RegistryClientOptions, 'userAgent'>; containerDir?: string; offline: boolean; signal: AbortSignal; jobs: number; generator: string },
): Promise<LockedImage[]> {
  const clients = new Map<string, RegistryClient>();
  const client = (registry: string) => {
    let c = clients.get(registry);
    if (!c) {
      c = new RegistryClient(registry, { ...opts.registry, userAgent: opts.generator.replace(' ', '/') });
      clients.set(registry, c);
    }
    return c;
  };
  const limit = limiter(opts.jobs);
  const containerDir = containerDirFor(opts.containerDir);
  try {
    const work = plans.flatMap((plan) =>
      plan.containers.map((c) =>
        limit(async (): Promise<LockedImage> => {
          const { source } = pickSource(c, { containerDir, offline: opts.offline, client });
          try {
            const platform = parsePlatform(c.platform);
            const r = await resolveImage(source, { reference: c.reference, platform, signal: opts.signal });
            const blob = (d: { digest: string; size: number; mediaType: string }) => ({ digest: d.digest, size: d.size, mediaType: d.mediaType });
            return {
              reference: c.reference,
              arch: plan.arch,
              platform: formatPlatform(platform),
              indexDigest: r.indexDigest,
              manifest: { digest: r.manifest.digest, size: r.manifest.bytes.length, mediaType: r.parsed.mediaType },
              config: blob(r.parsed.config),
              layers: r.parsed.layers.map(blob),
            };
          } finally {
            await source.close();
          }
        }),
      ),
    );
    // Same reference and arch from two sections resolve to the same entry.
    const seen = new Set<string>();
    return (await Promise.all(work)).filter((e) => {
      const k = `${e.arch} ${e.reference}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  } finally {
    await Promise.all([...clients.values()].map((c) => c.close()));
  }
}
