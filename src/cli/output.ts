// Rendering for humans and for --json. Commands build data; this prints it.

import type { DescriptionProblem } from '../errors.js';
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
