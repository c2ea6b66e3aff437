// Benchmark: `imgdesc build` against KIWI's way of fetching containers, all as
// whole processes against the real test registry (docker-registry):
//   KIWI     `skopeo copy docker://… oci-archive:ROOT/var/tmp/kiwi_containers/NAME_TAG:REF`,
//            one image after another, as KIWI runs it
//   cold     `imgdesc build` with a fresh, empty cache dir and a fresh root
//   warm     `imgdesc build` with the cache filled by the cold run, fresh root
// Scenarios:
//   lan  registry on 127.0.0.1: KIWI, cold and warm, interleaved, N runs each
//   wan  registry in a network namespace, 20 ms each way and 200 Mbit/s (bench/wan.ts)
//   rss  one image of 4 × 256 MiB layers: peak RSS of a cold build
//   overlay  the LAN set: `--overlay FILE` against `--root`, cold and warm, interleaved
//   lan2 as lan, on a second shape: eight images on two shared bases
// Targets: cold ≤ 0.35× KIWI, warm ≤ 0.12× (issue K; were 0.40× and 0.15×), WAN cold ≤ 0.50×, peak RSS ≤ 150 MB for 1 GiB,
// --overlay ≤ 1.15× --root (cold and warm).
// Prints figures; asserts nothing.
//
//   npm run bench -- build [--quick] [--runs N] [--jobs N] [--lan] [--lan2] [--wan] [--rss] [--overlay]
// --quick: a tiny image set, one run each (a smoke check, figures mean little).
// --lan/--lan2/--wan/--rss/--overlay pick scenarios (default: all). --jobs is passed to imgdesc.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startRegistry, type TestRegistry } from '../test/helpers/registry.js';
import { makeImage, pushImage, type ImageSpec, type PushTarget } from '../test/helpers/test-images.js';
import { startWanRegistry } from './wan.js';

const exec = promisify(execFile);
const REPO = fileURLToPath(new URL('..', import.meta.url));
export const BIN = join(REPO, 'dist/bundle/bin.js');

/** The registry every LAN benchmark runs against: plain http on 127.0.0.1, and no line logged per request. */
export const benchRegistry = (): Promise<TestRegistry> => startRegistry('plain', { accessLog: false });
/** Generated layouts are deterministic, so they are kept here between runs, keyed by their spec. */
export const LAYOUTS = '/var/tmp/imgdesc-bench';
const MB = 1_000_000;
const MiB = 1024 * 1024;
const TAG = '1.0';

export interface BenchImage {
  name: string;
  spec: ImageSpec;
}

export const amd64 = [{ architecture: 'amd64' }];

/**
 * Four images on one shared 60 MB base layer, each with two layers of its own
 * (24 + 6 MB), and one image of five 24 MB layers: 300 MB of distinct layers,
 * 480 MB when every image is fetched on its own. Layer data is random, so gzip
 * leaves it as it is. `scale` shrinks everything for --quick.
 */
function lanSet(scale: number): BenchImage[] {
  const size = (mb: number) => Math.round(mb * MB * scale);
  const apps = ['web', 'db', 'cache', 'worker'].map((name) => ({
    name,
    spec: { seed: `bench-${name}`, platforms: amd64, layers: [{ size: size(60), shared: 'bench-base' }, { size: size(24) }, { size: size(6) }] },
  }));
  const big = { name: 'big', spec: { seed: 'bench-big', platforms: amd64, layers: Array.from({ length: 5 }, () => ({ size: size(24) })) } };
  return [...apps, big];
}

/**
 * The second shape (issue K): eight images on two shared bases, 40 MB and
 * 25 MB, four images each, with an own layer of 8 MB and one of 2 MB:
 * 145 MB of distinct layers, 340 MB image by image.
 */
function lanSet2(scale: number): BenchImage[] {
  const size = (mb: number) => Math.round(mb * MB * scale);
  return Array.from({ length: 8 }, (_, i) => {
    const base = i < 4 ? { size: size(40), shared: 'bench2-base-a' } : { size: size(25), shared: 'bench2-base-b' };
    return { name: `set2-${i}`, spec: { seed: `bench2-${i}`, platforms: amd64, layers: [base, { size: size(8) }, { size: size(2) }] } };
  });
}

/** One image of four 256 MiB layers (1 GiB); 4 × 4 MiB for --quick. */
function rssSet(quick: boolean): BenchImage[] {
  const size = quick ? 4 * MiB : 256 * MiB;
  return [{ name: 'huge', spec: { seed: 'bench-huge', platforms: amd64, layers: Array.from({ length: 4 }, () => ({ size })) } }];
}

export async function layoutFor(img: BenchImage): Promise<string> {
  const key = createHash('sha256').update(JSON.stringify(img.spec)).digest('hex').slice(0, 16);
  const dir = join(LAYOUTS, `${img.name}-${key}`);
  // index.json is written last: its presence means the layout is complete.
  if (!existsSync(join(dir, 'index.json'))) {
    await rm(dir, { recursive: true, force: true });
    await makeImage(dir, img.spec, TAG);
  }
  return dir;
}

export interface Pushed {
  /** Layer bytes when each image is fetched on its own (what KIWI transfers). */
  perImage: number;
  /** Distinct layer bytes (what imgdesc transfers). */
  distinct: number;
}

export async function pushAll(images: BenchImage[], target: PushTarget): Promise<Pushed> {
  let perImage = 0;
  const distinct = new Map<string, number>();
  for (const img of images) {
    const layout = await layoutFor(img);
    await pushImage(layout, target, `bench/${img.name}`, TAG);
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
    const manifest = JSON.parse(await readFile(join(layout, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'));
    for (const l of manifest.layers as Array<{ digest: string; size: number }>) {
      perImage += l.size;
      distinct.set(l.digest, l.size);
    }
  }
  return { perImage, distinct: [...distinct.values()].reduce((a, b) => a + b, 0) };
}

export async function writeDescription(file: string, host: string, images: BenchImage[]): Promise<string> {
  const containers = images.map((i) => `    <container name="${i.name}" path="bench" tag="${TAG}"/>`).join('\n');
  await writeFile(
    file,
    `<?xml version="1.0" encoding="utf-8"?>
<image schemaversion="8.5" name="imgdesc-bench">
  <description type="system"><author>bench</author><contact>bench@example.org</contact><specification>build benchmark</specification></description>
  <preferences><version>1.0.0</version><packagemanager>zypper</packagemanager><type image="oem" filesystem="ext4"/></preferences>
  <containers source="${host}" backend="podman">
${containers}
  </containers>
</image>
`,
  );
  return file;
}

export interface Run {
  seconds: number;
  /** Peak RSS in MB (largest of the processes for a serial run). */
  rssMb: number;
  /** User + system CPU seconds of the process and the children it waited for (timed runs only). */
  cpuSeconds?: number;
}

/** Runs a command under /usr/bin/time for its peak RSS and CPU time; wall time is measured here. */
export async function timed(cmd: string, args: string[], scratch: string): Promise<Run> {
  const out = join(scratch, 'time.out');
  const t0 = performance.now();
  try {
    await exec('/usr/bin/time', ['-f', '%M %U %S', '-o', out, cmd, ...args], { maxBuffer: 64 * MB });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  const [kb, user, sys] = (await readFile(out, 'utf8')).trim().split('\n').pop()!.split(' ').map(Number) as [number, number, number];
  return { seconds, rssMb: (kb * 1024) / MB, cpuSeconds: user + sys };
}

/** Writes dirty pages out so that one run's writeback does not land in the next one's time. */
export const settle = () => exec('sync');

export interface Env {
  scratch: string;
  jobs?: number;
}

/** A build into a fresh root (scratch/root), or with `overlay`, into a fresh overlay file (scratch/overlay.tar). */
export async function imgdescBuild(env: Env, desc: string, cache: string, overlay = false): Promise<Run> {
  const root = join(env.scratch, 'root');
  const tarFile = join(env.scratch, 'overlay.tar');
  await rm(root, { recursive: true, force: true });
  await rm(tarFile, { force: true });
  await settle();
  const output = overlay ? ['--overlay', tarFile] : ['--root', root];
  const args = [BIN, 'build', desc, ...output, '--tls-verify=false', '--quiet', '--cache-dir', cache, '--target-arch', 'x86_64'];
  if (env.jobs) args.push('--jobs', String(env.jobs));
  return timed(process.execPath, args, env.scratch);
}

/**
 * `cp -r` of the archives the last build wrote into a fresh directory: what
 * this machine's file system alone charges for writing those bytes, a floor
 * under any warm build (which must also start Node and hash the cache).
 */
async function copyArchives(env: Env): Promise<Run> {
  const to = join(env.scratch, 'cp-floor');
  await rm(to, { recursive: true, force: true });
  await settle();
  const run = await timed('cp', ['-r', join(env.scratch, 'root', 'var/tmp/kiwi_containers'), to], env.scratch);
  await rm(to, { recursive: true, force: true });
  return run;
}

/** KIWI's method: skopeo copy into an oci-archive, one image after another. */
export async function kiwiSerial(env: Env, host: string, images: BenchImage[]): Promise<Run> {
  const root = join(env.scratch, 'kiwi-root');
  await rm(root, { recursive: true, force: true });
  const dir = join(root, 'var/tmp/kiwi_containers');
  await mkdir(dir, { recursive: true });
  await settle();
  const t0 = performance.now();
  let rss = 0;
  for (const img of images) {
    const ref = `${host}/bench/${img.name}:${TAG}`;
    const r = await timed('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci-archive:${join(dir, `${img.name}_${TAG}`)}:${ref}`], env.scratch);
    rss = Math.max(rss, r.rssMb);
  }
  return { seconds: (performance.now() - t0) / 1000, rssMb: rss };
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
export const seconds = (rs: Run[]) => median(rs.map((r) => r.seconds));
const peakRss = (rs: Run[]) => Math.max(...rs.map((r) => r.rssMb));

interface Row {
  scenario: string;
  runs: Run[];
  /** Runs of the reference this row is compared with. */
  against?: Run[];
  target?: { ratio?: number; rssMb?: number };
}

function printTable(title: string, rows: Row[], against = 'vs KIWI'): void {
  const cells = rows.map((r) => {
    const s = seconds(r.runs);
    const ratio = r.against ? s / seconds(r.against) : undefined;
    const all = r.runs.map((x) => x.seconds.toFixed(2)).join(' ');
    let target = '';
    if (r.target?.ratio !== undefined) target = `≤ ${r.target.ratio.toFixed(2)}×  ${ratio! <= r.target.ratio ? 'met' : 'MISSED'}`;
    if (r.target?.rssMb !== undefined) target = `RSS ≤ ${r.target.rssMb} MB  ${peakRss(r.runs) <= r.target.rssMb ? 'met' : 'MISSED'}`;
    return [r.scenario, `${s.toFixed(2)} s`, ratio === undefined ? '' : `${ratio.toFixed(2)}×`, `${peakRss(r.runs).toFixed(0)} MB`, target, all];
  });
  const head = ['scenario', 'median', against, 'peak RSS', 'target', 'runs (s)'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `  ${c.map((x, i) => (i === 1 || i === 2 || i === 3 ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join('  ').trimEnd()}`;
  console.log(title);
  console.log(line(head));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const c of cells) console.log(line(c));
}

const describeSet = (images: BenchImage[], p: Pushed) =>
  `${images.length} images, ${(p.distinct / MB).toFixed(0)} MB of distinct layers, ${(p.perImage / MB).toFixed(0)} MB fetched image by image`;

async function lan(env: Env, images: BenchImage[], runs: number, title = 'LAN'): Promise<void> {
  const registry = await benchRegistry();
  try {
    const pushed = await pushAll(images, registry);
    const desc = await writeDescription(join(env.scratch, 'lan.xml'), registry.host, images);
    const cold: Run[] = [];
    const warm: Run[] = [];
    const kiwi: Run[] = [];
    const floor: Run[] = [];
    // Interleaved, so that drift on a shared machine hits all three alike.
    for (let i = 0; i < runs; i++) {
      const cache = join(env.scratch, `cache-${i}`);
      kiwi.push(await kiwiSerial(env, registry.host, images));
      cold.push(await imgdescBuild(env, desc, cache));
      warm.push(await imgdescBuild(env, desc, cache));
      floor.push(await copyArchives(env));
      await rm(cache, { recursive: true, force: true });
    }
    printTable(`${title}: registry on 127.0.0.1; ${describeSet(images, pushed)}; medians of ${runs}`, [
      { scenario: 'KIWI: skopeo copy, one image after another', runs: kiwi },
      { scenario: 'imgdesc build, cold cache', runs: cold, against: kiwi, target: { ratio: 0.35 } },
      { scenario: 'imgdesc build, warm cache', runs: warm, against: kiwi, target: { ratio: 0.12 } },
      { scenario: 'for scale: cp of the archives a build writes', runs: floor, against: kiwi },
    ]);
  } finally {
    await registry.stop();
  }
}

/**
 * `--overlay FILE` against `--root` on the LAN set: the same archives, the
 * overlay adding the tar around them (and measuring each archive first).
 * Interleaved: root cold, root warm, overlay cold, overlay warm, each cold run
 * with a fresh cache.
 */
async function overlayVsRoot(env: Env, images: BenchImage[], runs: number): Promise<void> {
  const registry = await benchRegistry();
  try {
    const pushed = await pushAll(images, registry);
    const desc = await writeDescription(join(env.scratch, 'overlay.xml'), registry.host, images);
    const rootCold: Run[] = [];
    const rootWarm: Run[] = [];
    const overlayCold: Run[] = [];
    const overlayWarm: Run[] = [];
    for (let i = 0; i < runs; i++) {
      for (const [overlay, cold, warm] of [
        [false, rootCold, rootWarm],
        [true, overlayCold, overlayWarm],
      ] as const) {
        const cache = join(env.scratch, `overlay-cache-${i}`);
        cold.push(await imgdescBuild(env, desc, cache, overlay));
        warm.push(await imgdescBuild(env, desc, cache, overlay));
        await rm(cache, { recursive: true, force: true });
      }
    }
    await rm(join(env.scratch, 'overlay.tar'), { force: true });
    const ratio = (a: Run[], b: Run[]) => (seconds(a) / seconds(b)).toFixed(2);
    printTable(
      `Overlay: --overlay FILE against --root, registry on 127.0.0.1; ${describeSet(images, pushed)}; medians of ${runs}`,
      [
        { scenario: 'imgdesc build --root, cold cache', runs: rootCold },
        { scenario: 'imgdesc build --overlay FILE, cold cache', runs: overlayCold, against: rootCold, target: { ratio: 1.15 } },
        { scenario: 'imgdesc build --root, warm cache', runs: rootWarm },
        { scenario: 'imgdesc build --overlay FILE, warm cache', runs: overlayWarm, against: rootWarm, target: { ratio: 1.15 } },
      ],
      'vs --root',
    );
    console.log(`  --overlay / --root: cold ${ratio(overlayCold, rootCold)}×, warm ${ratio(overlayWarm, rootWarm)}× (target ≤ 1.15×)`);
  } finally {
    await registry.stop();
  }
}

async function wan(env: Env, images: BenchImage[], runs: number): Promise<void> {
  const registry = await startWanRegistry({ delayMs: 20, rate: '200mbit' });
  try {
    const pushed = await pushAll(images, registry);
    await registry.shape();
    const desc = await writeDescription(join(env.scratch, 'wan.xml'), registry.host, images);
    const cold: Run[] = [];
    const kiwi: Run[] = [];
    for (let i = 0; i < runs; i++) {
      const cache = join(env.scratch, `wan-cache-${i}`);
      kiwi.push(await kiwiSerial(env, registry.host, images));
      cold.push(await imgdescBuild(env, desc, cache));
      await rm(cache, { recursive: true, force: true });
    }
    printTable(`WAN: registry behind 20 ms each way and 200 Mbit/s (${registry.method}); ${describeSet(images, pushed)}; medians of ${runs}`, [
      { scenario: 'KIWI: skopeo copy, one image after another', runs: kiwi },
      { scenario: 'imgdesc build, cold cache', runs: cold, against: kiwi, target: { ratio: 0.5 } },
    ]);
    // What the link alone allows: payload bytes at the shaped rate.
    const rate = 200e6 / 8;
    const linkImgdesc = pushed.distinct / rate;
    const linkKiwi = pushed.perImage / rate;
    console.log(
      `  link alone: imgdesc ≥ ${linkImgdesc.toFixed(1)} s (reached ${((100 * linkImgdesc) / seconds(cold)).toFixed(0)}% of line rate), ` +
        `KIWI ≥ ${linkKiwi.toFixed(1)} s (reached ${((100 * linkKiwi) / seconds(kiwi)).toFixed(0)}%); both at line rate would give ${(pushed.distinct / pushed.perImage).toFixed(2)}×`,
    );
  } finally {
    await registry.stop();
  }
}

async function rss(env: Env, images: BenchImage[]): Promise<void> {
  const registry = await benchRegistry();
  try {
    const pushed = await pushAll(images, registry);
    const desc = await writeDescription(join(env.scratch, 'rss.xml'), registry.host, images);
    const cache = join(env.scratch, 'rss-cache');
    const cold = await imgdescBuild(env, desc, cache);
    await rm(cache, { recursive: true, force: true });
    await rm(join(env.scratch, 'root'), { recursive: true, force: true });
    printTable(`Memory: ${describeSet(images, pushed)} (${(pushed.distinct / 2 ** 30).toFixed(2)} GiB)`, [
      { scenario: 'imgdesc build, cold cache', runs: [cold], target: { rssMb: 150 } },
    ]);
  } finally {
    await registry.stop();
  }
}

function option(args: string[], name: string): number | undefined {
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i === -1) return undefined;
  const v = args[i]!.includes('=') ? args[i]!.split('=')[1] : args[i + 1];
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} needs a positive whole number`);
  return n;
}

export async function benchBuild(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const picked = ['--lan', '--lan2', '--wan', '--rss', '--overlay'].filter((s) => args.includes(s));
  const scenarios = picked.length ? picked : ['--lan', '--lan2', '--wan', '--rss', '--overlay'];
  const runs = option(args, '--runs') ?? (quick ? 1 : 5);
  const wanRuns = option(args, '--runs') ?? (quick ? 1 : 3);
  const images = lanSet(quick ? 0.05 : 1);
  await mkdir(LAYOUTS, { recursive: true });
  const env: Env = { scratch: await mkdtemp(join(tmpdir(), 'imgdesc-bench-build-')), jobs: option(args, '--jobs') };
  // Interrupted: remove the scratch space; process.exit runs the 'exit'
  // handlers that stop the registries and remove the WAN namespace.
  const onSignal = (sig: NodeJS.Signals) => {
    rmSync(env.scratch, { recursive: true, force: true });
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    console.log(`build: whole processes; imgdesc = node ${BIN} build${env.jobs ? ` --jobs ${env.jobs}` : ''}${quick ? '; --quick: tiny set, figures are a smoke check only' : ''}`);
    if (scenarios.includes('--lan')) await lan(env, images, runs);
    if (scenarios.includes('--lan2')) await lan(env, lanSet2(quick ? 0.05 : 1), runs, 'LAN, second shape (eight images, two shared bases)');
    if (scenarios.includes('--wan')) await wan(env, images, wanRuns);
    if (scenarios.includes('--rss')) await rss(env, rssSet(quick));
    if (scenarios.includes('--overlay')) await overlayVsRoot(env, images, runs);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await rm(env.scratch, { recursive: true, force: true });
  }
}
