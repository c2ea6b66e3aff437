// Benchmark: the cost curve. N = 1, 5, 20, 100 distinct images, tiny (one
// 0.8 MB layer, a busybox) and ~20 MB (one 20 MB layer), against KIWI's way
// (skopeo copy, one image after another), same registry, same run:
//   skopeo  skopeo copy docker://… oci-archive:…, image after image
//   cold    imgdesc build with an empty cache
//   warm    imgdesc build again with the cache the cold run filled
// Targets (issue K): 5 tiny ≤ 0.8× skopeo, 100 tiny ≤ 0.15×.
// Prints a table; with --chart FILE also draws time against N for both
// tools (log-log) as an SVG.
//
//   npm run bench -- scale [--quick] [--runs N] [--chart docs/bench-scale.svg]

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestRegistry } from '../test/helpers/registry.js';
import { amd64, benchRegistry, BIN, imgdescBuild, kiwiSerial, LAYOUTS, median, pushAll, seconds, writeDescription, type BenchImage, type Env, type Run } from './build.js';

const MB = 1_000_000;
const COUNTS = [1, 5, 20, 100];
const SIZES = [
  { label: 'tiny', bytes: 0.8 * MB },
  { label: '20 MB', bytes: 20 * MB },
] as const;

interface Point {
  size: string;
  n: number;
  skopeo: number;
  cold: number;
  warm: number;
  /** CPU seconds the registry spent serving each (medians): what no client can take below. */
  registry: { skopeo: number; cold: number; warm: number };
}

type Measured = Run & { registryCpu: number };

/** A run, with what it cost the registry: its CPU seconds from /proc before and after. */
async function withRegistryCpu(registry: TestRegistry, run: () => Promise<Run>): Promise<Measured> {
  const before = await registry.cpuSeconds();
  const r = await run();
  return { ...r, registryCpu: (await registry.cpuSeconds()) - before };
}

function images(label: string, bytes: number, n: number): BenchImage[] {
  const tag = label.replace(/\W/g, '').toLowerCase();
  return Array.from({ length: n }, (_, i) => ({ name: `scale-${tag}-${i}`, spec: { seed: `scale-${tag}-${i}`, platforms: amd64, layers: [{ size: Math.round(bytes) }] } }));
}

async function measure(env: Env, registry: TestRegistry, set: BenchImage[], runs: number): Promise<{ skopeo: Measured[]; cold: Measured[]; warm: Measured[] }> {
  const desc = await writeDescription(join(env.scratch, `scale-${set.length}.xml`), registry.host, set);
  const out = { skopeo: [] as Measured[], cold: [] as Measured[], warm: [] as Measured[] };
  // Interleaved, so that drift on a shared machine hits all three alike.
  for (let i = 0; i < runs; i++) {
    const cache = join(env.scratch, `scale-cache-${i}`);
    out.skopeo.push(await withRegistryCpu(registry, () => kiwiSerial(env, registry.host, set)));
    out.cold.push(await withRegistryCpu(registry, () => imgdescBuild(env, desc, cache)));
    out.warm.push(await withRegistryCpu(registry, () => imgdescBuild(env, desc, cache)));
    await rm(cache, { recursive: true, force: true });
  }
  return out;
}

function printPoints(points: Point[], runs: number): void {
  console.log(`Scale: N distinct images against skopeo copy image after image, registry on 127.0.0.1; medians of ${runs}`);
  const head = ['set', 'N', 'skopeo', 'imgdesc cold', 'ratio', 'imgdesc warm', 'ratio', 'registry CPU s: skopeo | cold | warm', 'target'];
  const rows = points.map((p) => {
    const target = p.size === 'tiny' && p.n === 5 ? 0.8 : p.size === 'tiny' && p.n === 100 ? 0.15 : undefined;
    const cold = p.cold / p.skopeo;
    const registry = [p.registry.skopeo, p.registry.cold, p.registry.warm].map((c) => c.toFixed(2)).join(' | ');
    return [p.size, String(p.n), `${p.skopeo.toFixed(2)} s`, `${p.cold.toFixed(2)} s`, `${cold.toFixed(2)}×`, `${p.warm.toFixed(2)} s`, `${(p.warm / p.skopeo).toFixed(2)}×`, registry, target === undefined ? '' : `cold ≤ ${target}×  ${cold <= target ? 'met' : 'MISSED'}`];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (c: string[]) => `  ${c.map((x, i) => (i === 0 || i === head.length - 1 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ').trimEnd()}`;
  console.log(line(head));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(r));
  // The registry serves every request of a cold build on the same cores: its CPU over the cores is a
  // floor under any client's wall time, however little the client itself spends.
  const cores = availableParallelism();
  for (const p of points.filter((q) => q.size === 'tiny' && q.n === 100)) {
    const floor = p.registry.cold / cores;
    console.log(`  tiny × 100, cold: the registry alone spent ${p.registry.cold.toFixed(2)} CPU s serving imgdesc; over ${cores} cores that is at least ${floor.toFixed(2)} s = ${(floor / p.skopeo).toFixed(2)}× skopeo before imgdesc's own work`);
  }
}

/** Time against N on log-log axes, one panel per image size: skopeo, imgdesc cold and warm. */
export function chart(points: Point[]): string {
  const W = 360;
  const H = 260;
  const pad = { l: 52, r: 12, t: 28, b: 40 };
  const series = [
    { key: 'skopeo', label: 'skopeo, image after image', color: '#c0392b' },
    { key: 'cold', label: 'imgdesc, cold cache', color: '#2471a3' },
    { key: 'warm', label: 'imgdesc, warm cache', color: '#27ae60' },
  ] as const;
  const ys = points.flatMap((p) => [p.skopeo, p.cold, p.warm]);
  const yMin = 10 ** Math.floor(Math.log10(Math.min(...ys)));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(...ys)));
  const x = (n: number) => pad.l + ((W - pad.l - pad.r) * Math.log10(n)) / Math.log10(100);
  const y = (s: number) => H - pad.b - ((H - pad.t - pad.b) * (Math.log10(s) - Math.log10(yMin))) / (Math.log10(yMax) - Math.log10(yMin));
  const panels = SIZES.map((size, i) => {
    const pts = points.filter((p) => p.size === size.label).sort((a, b) => a.n - b.n);
    const lines = series.map((s) => `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map((p) => `${x(p.n).toFixed(1)},${y(p[s.key]).toFixed(1)}`).join(' ')}"/>` + pts.map((p) => `<circle cx="${x(p.n).toFixed(1)}" cy="${y(p[s.key]).toFixed(1)}" r="3" fill="${s.color}"/>`).join(''));
    const xTicks = COUNTS.map((n) => `<text x="${x(n).toFixed(1)}" y="${H - pad.b + 16}" text-anchor="middle">${n}</text>`).join('');
    const yTicks: string[] = [];
    for (let v = yMin; v <= yMax * 1.001; v *= 10) yTicks.push(`<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/><text x="${pad.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v >= 1 ? v : v.toFixed(2)} s</text>`);
    return `<g transform="translate(${i * W},0)"><text x="${W / 2}" y="16" text-anchor="middle" font-weight="bold">${size.label} images</text>${yTicks.join('')}${xTicks}<text x="${W / 2}" y="${H - 6}" text-anchor="middle">images (N)</text>${lines.join('')}</g>`;
  });
  const legend = series.map((s, i) => `<g transform="translate(${20 + i * 230},${H + 14})"><rect width="14" height="4" y="-6" fill="${s.color}"/><text x="20" y="0">${s.label}</text></g>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H + 28}" font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="white"/>${panels.join('')}${legend}</svg>\n`;
}

export async function benchScale(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const runsAt = args.indexOf('--runs');
  const runs = runsAt !== -1 ? Number(args[runsAt + 1]) : quick ? 1 : 3;
  const chartAt = args.indexOf('--chart');
  const chartFile = chartAt !== -1 ? args[chartAt + 1] : undefined;
  const counts = quick ? [1, 5] : COUNTS;
  await mkdir(LAYOUTS, { recursive: true });
  const env: Env = { scratch: await mkdtemp(join(tmpdir(), 'imgdesc-bench-scale-')) };
  const registry = await benchRegistry();
  const points: Point[] = [];
  try {
    console.log(`scale: whole processes; imgdesc = node ${BIN} build`);
    for (const size of SIZES) {
      // The largest set is pushed once; smaller sets are its first images.
      const all = images(size.label, size.bytes, Math.max(...counts));
      await pushAll(all, registry);
      for (const n of counts) {
        const m = await measure(env, registry, all.slice(0, n), runs);
        const registryCpu = (rs: Measured[]) => median(rs.map((r) => r.registryCpu));
        const p = { size: size.label, n, skopeo: seconds(m.skopeo), cold: seconds(m.cold), warm: seconds(m.warm), registry: { skopeo: registryCpu(m.skopeo), cold: registryCpu(m.cold), warm: registryCpu(m.warm) } };
        points.push(p);
        console.log(`  ${p.size} × ${n}: skopeo ${p.skopeo.toFixed(2)} s, cold ${p.cold.toFixed(2)} s, warm ${p.warm.toFixed(2)} s`);
      }
    }
    printPoints(points, runs);
    if (chartFile) {
      await writeFile(chartFile, chart(points));
      console.log(`  chart: ${chartFile}`);
    }
  } finally {
    await registry.stop();
    await rm(env.scratch, { recursive: true, force: true });
  }
}
