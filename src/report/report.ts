// The report: plans and build results rendered for humans and for --json.
// Commands build data; this says it.

import type { DescriptionProblem } from '../errors.js';
import type { BuildResult } from '../pipeline/options.js';
import type { Plan } from '../plan/plan.js';

export function problemLine(file: string, p: DescriptionProblem): string {
  return `${file}:${p.line ?? '-'}: ${p.path || '/'}: ${p.message}`;
}

export function planJson(plan: Plan) {
  return {
    image: { name: plan.image.name },
    profiles: [...plan.profiles],
    arch: plan.arch,
    platform: plan.platform,
    containers: plan.containers.map((c) => ({
      reference: c.reference,
      archive: c.archive,
      backend: c.backend,
      load: c.load,
      platform: c.platform,
      source: { path: c.origin.path, line: c.origin.line },
    })),
    notes: [...plan.notes],
  };
}

/** A plain table: columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function planText(plan: Plan): string {
  const out: string[] = [];
  out.push(`image:     ${plan.image.name}`);
  out.push(`profiles:  ${plan.profiles.length ? plan.profiles.join(', ') : '(none)'}`);
  out.push(`target:    ${plan.arch} (${plan.platform})`);
  out.push('');
  if (plan.containers.length === 0) out.push('no containers selected');
  else {
    out.push(
      table(
        ['REFERENCE', 'BACKEND', 'LOAD', 'ARCHIVE'],
        plan.containers.map((c) => [c.reference, c.backend, c.load ? 'yes' : 'fetch only', c.archive]),
      ),
    );
  }
  for (const note of plan.notes) out.push(`note: ${note}`);
  return out.join('\n');
}

export function humanSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = bytes;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

export function buildJson(result: BuildResult) {
  return {
    root: result.root,
    units: [...result.units],
    containers: result.images.map((i) => ({
      reference: i.reference,
      archive: i.archive,
      path: i.file,
      digest: i.digest,
      indexDigest: i.indexDigest,
      platform: i.platform,
      size: i.size,
      uncompressedSize: i.uncompressedSize,
      backend: i.backend,
      load: i.load,
      source: i.origin,
      accepted: i.accepted ? i.accepted.map((a) => ({ scope: a.scope, requirement: a.requirement, keys: [...a.keys] })) : null,
      warnings: [...i.warnings],
      notes: [...i.notes],
    })),
    total: firstBootSpace(result),
    policy: result.policy,
  };
}

/** One line per image saying what let it in, or one line saying no policy was consulted. */
export function policyLines(result: BuildResult): string[] {
  if (result.policy === null) return ['policy: no policy.json found; every image accepted without a signature check'];
  if (result.policy.insecure) return ['policy: not consulted (--insecure-policy)'];
  return [
    `policy: ${result.policy.file}`,
    ...result.images.map((i) => {
      const by = (i.accepted ?? []).map((a) => `${a.requirement}${a.keys.length ? ` (${a.keys.join(', ')})` : ''} in scope ${a.scope === '' ? '"" (docker)' : JSON.stringify(a.scope)}`);
      return `  ${i.reference}: accepted by ${by.join(' and ') || 'nothing (no requirement)'}`;
    }),
  ];
}

/**
 * Space figures for the whole build: the archives placed in the image, and
 * what loading the non-fetch_only ones unpacks at first boot (on top of the
 * image; their archives are deleted once loaded). null when a layer's
 * uncompressed size is unknown (e.g. zstd).
 */
export function firstBootSpace(result: BuildResult): { archives: number; firstBootUnpacked: number | null } {
  const loaded = result.images.filter((i) => i.load);
  const unknown = loaded.some((i) => i.uncompressedSize === null);
  return {
    archives: result.images.reduce((n, i) => n + i.size, 0),
    firstBootUnpacked: unknown ? null : loaded.reduce((n, i) => n + (i.uncompressedSize ?? 0), 0),
  };
}

export function buildText(result: BuildResult): string {
  const where = result.root === null ? `output: ${result.output}` : `root: ${result.root}`;
  if (result.images.length === 0) return `${where}\nno containers selected; nothing fetched`;
  const total = firstBootSpace(result);
  return [
    where,
    '',
    table(
      ['REFERENCE', 'DIGEST', 'PLATFORM', 'SIZE', 'UNPACKED', 'ARCHIVE'],
      result.images.map((i) => [i.reference, i.digest, i.platform, humanSize(i.size), i.uncompressedSize === null ? '?' : humanSize(i.uncompressedSize), i.load ? i.archive : `${i.archive} (fetch only)`]),
    ),
    '',
    `${result.images.length} image${result.images.length === 1 ? '' : 's'}, ${humanSize(total.archives)} in archives; ` +
      (total.firstBootUnpacked === null ? 'first boot unpacks an unknown amount (a layer is not gzip)' : `first boot unpacks ${humanSize(total.firstBootUnpacked)} into container storage`),
    result.units.length ? `units: ${result.units.join(', ')}` : 'units: none (nothing to load at first boot)',
    ...policyLines(result),
  ].join('\n');
}
