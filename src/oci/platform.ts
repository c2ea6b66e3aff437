// OCI platforms and choosing one manifest from an index.

import { ValueFormatError } from '../errors.js';

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

/** One os, architecture or variant name: letters, digits, ".", "_", "-". */
const PLATFORM_PART = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Why `text` is not os/architecture[/variant], or null when it is. */
export function platformProblem(text: string): string | null {
  if (typeof text !== 'string') return 'it is not a string';
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3) return 'it is not os/architecture[/variant]';
  const names = ['os', 'architecture', 'variant'];
  for (const [i, part] of parts.entries()) {
    if (part === '') return `its ${names[i]} is empty`;
    if (!PLATFORM_PART.test(part)) return `its ${names[i]} ${JSON.stringify(part)} is not letters, digits, ".", "_" or "-"`;
  }
  return null;
}

/** Parses os/architecture[/variant]; throws ValueFormatError('PLATFORM') saying why it is not one. */
export function parsePlatform(text: string): Platform {
  const problem = platformProblem(text);
  if (problem !== null) throw new ValueFormatError('PLATFORM', String(text), problem);
  const [os, architecture, variant] = text.split('/') as [string, string, string?];
  return variant ? { os, architecture, variant } : { os, architecture };
}

export function formatPlatform(p: Platform | undefined): string {
  if (!p) return '(no platform)';
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/**
 * Variants acceptable for a target, best first. arm64 without a variant is v8;
 * 32-bit arm takes older variants only when the wanted one is missing (so arm/v7
 * never takes v6 when a v7 exists); amd64 takes the baseline only.
 */
function acceptedVariants(target: Platform): Array<string | undefined> {
  const v = target.variant;
  switch (target.architecture) {
    case 'arm64':
      return v === undefined || v === 'v8' ? ['v8', undefined] : [v];
    case 'arm': {
      const order = ['v8', 'v7', 'v6', 'v5'];
      const start = order.indexOf(v ?? 'v7');
      return start === -1 ? [v] : [...order.slice(start), ...(v === undefined ? [undefined] : [])];
    }
    case 'amd64':
      return v === undefined || v === 'v1' ? [undefined, 'v1'] : [v];
    default:
      return [v === undefined ? undefined : v, ...(v === undefined ? [] : [undefined])].filter((x, i, a) => a.indexOf(x) === i);
  }
}

/** Index of the best entry for `target`, or -1. Entries without a platform never match. */
export function choosePlatform<T extends { platform?: Platform }>(entries: readonly T[], target: Platform): number {
  const variants = acceptedVariants(target);
  let best = -1;
  let bestRank = Infinity;
  entries.forEach((e, i) => {
    const p = e.platform;
    if (!p || p.os !== target.os || p.architecture !== target.architecture) return;
    const rank = variants.indexOf(p.variant || undefined);
    if (rank !== -1 && rank < bestRank) {
      best = i;
      bestRank = rank;
    }
  });
  return best;
}
