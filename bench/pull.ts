// Benchmark: `imgdesc pull` of a disk artifact against the two-tool way, as
// whole processes against the real test registry (docker-registry), in the
// same run, interleaved:
//   two tools  `skopeo copy docker://… oci:DIR` (the compressed blob lands on
//              disk), then `zstd -d BLOB -o OUT` or `xz -d -c BLOB > OUT`
//   imgdesc    `imgdesc pull REF OUT`: download, verify, decompress and write
//              in one pass
// The disk is SIZE MiB uncompressed (default 1024): half zeros (a fresh disk's
// free space), a quarter noise, a quarter text, in 1 MiB stripes, compressed
// once with `zstd -T0` and `xz -T0` and kept in /var/tmp/imgdesc-bench.
// Targets: imgdesc ≤ 0.6× the two tools on the LAN, peak RSS ≤ 120 MB.
// Prints figures; asserts nothing.
//
//   npm run bench -- pull [--size MIB] [--runs N] [--quick]
// --quick: 64 MiB and one run (a smoke check; figures mean little).

import { execFile } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { TestRegistry } from '../test/helpers/registry.js';
import { benchRegistry, BIN, median, settle, timed } from './build.js';

const exec = promisify(execFile);
const CACHE = '/var/tmp/imgdesc-bench';
const MiB = 1024 * 1024;
const MB = 1_000_000;

type Kind = 'zstd' | 'xz';
const SUFFIX: Record<Kind, string> = { zstd: 'zst', xz: 'xz' };

interface Run {
  seconds: number;
  rssMb: number;
  cpuSeconds: number;
}

/** The disk, 1 MiB stripes: zeros, zeros, noise, text. Deterministic. */
function diskStream(mib: number): Readable {
  const cipher = createCipheriv('aes-128-ctr', createHash('sha256').update('bench disk').digest().subarray(0, 16), Buffer.alloc(16));
  const zeros = Buffer.alloc(MiB);
  const line = Buffer.from('Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor 0123456789\n');
  const text = Buffer.alloc(MiB);
  for (let i = 0; i < MiB; i += line.length) line.copy(text, i);
  let i = 0;
  return new Readable({
    read() {
      if (i === mib) return void this.push(null);
      const stripe = i++ % 4;
      this.push(stripe < 2 ? zeros : stripe === 2 ? cipher.update(zeros) : text);
    },
  });
}

/** disk.raw and its compressed forms, made once per size. */
async function artifacts(mib: number): Promise<{ dir: string; raw: string; files: Record<Kind, string> }> {
  const dir = join(CACHE, `pull-${mib}mib`);
  const raw = join(dir, 'disk.raw');
  const files = { zstd: `${raw}.zst`, xz: `${raw}.xz` };
  await mkdir(dir, { recursive: true });
  if (!existsSync(raw)) {
    await pipeline(diskStream(mib), createWriteStream(`${raw}.tmp`));
    await rename(`${raw}.tmp`, raw);
  }
  for (const kind of ['zstd', 'xz'] as const) {
    if (existsSync(files[kind])) continue;
    console.log(`  compressing ${mib} MiB with ${kind} -T0 (once; kept in ${dir})…`);
    await exec('sh', ['-c', `${kind} -T0 -q -c "$1" > "$2.tmp" && mv "$2.tmp" "$2"`, 'sh', raw, files[kind]]);
  }
  return { dir, raw, files };
}

const sha256File = async (file: string) => `sha256:${(await exec('sha256sum', [file], { maxBuffer: MB })).stdout.split(' ')[0]}`;

/** An ORAS-style artifact (empty config, one titled layer) laid out by hand, copied in with skopeo. Returns the layer digest. */
async function publish(registry: TestRegistry, file: string, kind: Kind, scratch: string): Promise<string> {
  const layout = join(scratch, `layout-${kind}`);
  await mkdir(join(layout, 'blobs/sha256'), { recursive: true });
  const put = async (bytes: Buffer) => {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    await writeFile(join(layout, 'blobs/sha256', digest.slice(7)), bytes);
    return { digest, size: bytes.length };
  };
  const layerDigest = await sha256File(file);
  await exec('ln', ['-s', file, join(layout, 'blobs/sha256', layerDigest.slice(7))]);
  const { size } = await stat(file);
  const config = await put(Buffer.from('{}'));
  const manifest = await put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: 'application/vnd.unknown.artifact.v1',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', ...config },
        layers: [{ mediaType: kind === 'zstd' ? 'application/zstd' : 'application/x-xz', digest: layerDigest, size, annotations: { 'org.opencontainers.image.title': `disk.raw.${SUFFIX[kind]}` } }],
      }),
    ),
  );
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': kind } }] }));
  await exec('skopeo', ['copy', '--quiet', '--preserve-digests', ...registry.skopeoDestFlags(), `oci:${layout}:${kind}`, `docker://${registry.host}/bench/disk:${kind}`]);
  return layerDigest;
}

/** skopeo copy into an OCI directory, then the decompressor on the blob: the way without imgdesc. */
async function twoTools(registry: TestRegistry, kind: Kind, layer: string, scratch: string): Promise<Run> {
  const oci = join(scratch, 'oci');
  const out = join(scratch, 'two-tools.raw');
  await rm(oci, { recursive: true, force: true });
  await rm(out, { force: true });
  await settle();
  const copy = await timedFully('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${registry.host}/bench/disk:${kind}`, `oci:${oci}:disk`], scratch);
  const blob = join(oci, 'blobs/sha256', layer.slice(7));
  const unpack = kind === 'zstd' ? await timedFully('zstd', ['-d', '-q', blob, '-o', out], scratch) : await timedFully('sh', ['-c', 'xz -d -c "$1" > "$2"', 'sh', blob, out], scratch);
  return { seconds: copy.seconds + unpack.seconds, rssMb: Math.max(copy.rssMb, unpack.rssMb), cpuSeconds: copy.cpuSeconds! + unpack.cpuSeconds! };
}

async function imgdescPull(registry: TestRegistry, kind: Kind, scratch: string): Promise<Run> {
  const out = join(scratch, 'imgdesc.raw');
  await rm(out, { force: true });
  await settle();
  return timedFully(process.execPath, [BIN, 'pull', `${registry.host}/bench/disk:${kind}`, out, '--tls-verify=false', '--quiet'], scratch);
}

/** `timed`, with the CPU time it always measures. */
const timedFully = async (cmd: string, args: string[], scratch: string): Promise<Run> => {
  const r = await timed(cmd, args, scratch);
  return { ...r, cpuSeconds: r.cpuSeconds ?? 0 };
};

/** Runnable processes per core, from /proc/loadavg: the other work on a shared machine, which moves every figure. */
const load = async () => (await readFile('/proc/loadavg', 'utf8')).split(' ')[0]!;

async function sameBytes(a: string, b: string): Promise<void> {
  await exec('cmp', [a, b]);
}

function option(args: string[], name: string): number | undefined {
  const i = args.indexOf(name);
  if (i === -1) return undefined;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} needs a positive whole number`);
  return n;
}

export async function benchPull(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const mib = option(args, '--size') ?? (quick ? 64 : 1024);
  const runs = option(args, '--runs') ?? (quick ? 1 : 5);
  const scratch = await mkdtemp(join(tmpdir(), 'imgdesc-bench-pull-'));
  const registry = await benchRegistry();
  try {
    const { raw, files } = await artifacts(mib);
    const loadBefore = await load();
    console.log(`pull: whole processes; a ${mib} MiB disk (half zeros); imgdesc = node ${BIN} pull; medians of ${runs}`);
    const rows: string[][] = [];
    for (const kind of ['zstd', 'xz'] as const) {
      const layer = await publish(registry, files[kind], kind, scratch);
      const tools: Run[] = [];
      const ours: Run[] = [];
      for (let i = 0; i < runs; i++) {
        tools.push(await twoTools(registry, kind, layer, scratch));
        ours.push(await imgdescPull(registry, kind, scratch));
      }
      await sameBytes(join(scratch, 'imgdesc.raw'), raw);
      await sameBytes(join(scratch, 'two-tools.raw'), raw);
      const t = median(tools.map((r) => r.seconds));
      const o = median(ours.map((r) => r.seconds));
      const rss = Math.max(...ours.map((r) => r.rssMb));
      const size = ((await stat(files[kind])).size / MB).toFixed(0);
      const cpu = (rs: Run[]) => median(rs.map((r) => r.cpuSeconds)).toFixed(2);
      rows.push([`${kind} (${size} MB compressed)`, `${t.toFixed(2)} s`, `${o.toFixed(2)} s`, `${(o / t).toFixed(2)}× ${o / t <= 0.6 ? 'met' : 'MISSED'}`, `${rss.toFixed(0)} MB ${rss <= 120 ? 'met' : 'MISSED'}`, `${Math.max(...tools.map((r) => r.rssMb)).toFixed(0)} MB`, `${cpu(tools)} | ${cpu(ours)}`, `${tools.map((r) => r.seconds.toFixed(2)).join(' ')} | ${ours.map((r) => r.seconds.toFixed(2)).join(' ')}`]);
    }
    const head = ['artifact', 'two tools', 'imgdesc', 'ratio (≤ 0.6×)', 'imgdesc RSS (≤ 120)', 'tools RSS', 'CPU s: tools | imgdesc', 'runs (s): tools | imgdesc'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (c: string[]) => `  ${c.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd()}`;
    console.log(line(head));
    console.log(line(widths.map((w) => '-'.repeat(w))));
    for (const r of rows) console.log(line(r));
    console.log('  (peak RSS as /usr/bin/time reports it: the largest of the process and the children it waited for, so the decompressor counts too;');
    console.log('   CPU: user + system seconds of the same, medians; the registry\'s own CPU is in neither)');
    console.log(`  load average ${loadBefore} before, ${await load()} after (${availableParallelism()} cores; the more other work shares them, the nearer the wall-time ratio comes to the CPU ratio)`);
  } finally {
    await registry.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}
