// Test images written as OCI image layouts, then pushed to a test registry
// with skopeo (a real client, so what lands in the registry is what real
// tools produce). Content is deterministic per seed; layers of any size are
// streamed to disk, so benchmarks can use hundreds of megabytes.

import { execFile } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';

const exec = promisify(execFile);

export interface PlatformSpec {
  architecture: string;
  variant?: string;
  os?: string;
}

export interface LayerSpec {
  /** Bytes of pseudo-random file content in the layer. */
  size: number;
  /** Layers with the same key have identical content, across platforms and images. */
  shared?: string;
}

export interface ImageSpec {
  /** One platform and no `index: true` gives a plain manifest; more give an image index. */
  platforms: PlatformSpec[];
  index?: boolean;
  layers?: LayerSpec[];
  seed: string;
}

export interface BuiltManifest {
  platform: PlatformSpec;
  digest: string;
  size: number;
  config: string;
  layers: Array<{ digest: string; size: number; diffId: string }>;
}

export interface BuiltImage {
  layout: string;
  /** Digest of what a tag points at: the index, or the only manifest. */
  digest: string;
  mediaType: string;
  manifests: BuiltManifest[];
}

export const platformName = (p: PlatformSpec) => `${p.os ?? 'linux'}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;

/** Deterministic bytes: AES-CTR keystream over a key derived from the seed. */
function randomStream(seed: string, size: number): Readable {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(64 * 1024);
  let left = size;
  return new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const n = Math.min(left, zeros.length);
      left -= n;
      this.push(cipher.update(zeros.subarray(0, n)));
    },
  });
}

function hashing(hash: ReturnType<typeof createHash>, count: { n: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      count.n += chunk.length;
      cb(null, chunk);
    },
  });
}

async function writeBlob(layout: string, body: Buffer): Promise<{ digest: string; size: number }> {
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  await writeFile(join(layout, 'blobs/sha256', digest.slice(7)), body);
  return { digest, size: body.length };
}

async function writeLayer(layout: string, name: string, contentSeed: string, size: number): Promise<{ digest: string; size: number; diffId: string }> {
  const pack = tar.pack();
  const tmp = join(layout, `blobs/.tmp-${createHash('sha256').update(contentSeed).digest('hex').slice(0, 12)}`);
  const tarHash = createHash('sha256');
  const gzHash = createHash('sha256');
  const gzCount = { n: 0 };
  const done = pipeline(pack, hashing(tarHash, { n: 0 }), createGzip({ level: 1 }), hashing(gzHash, gzCount), createWriteStream(tmp));
  const head = { mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '', mode: 0o644 };
  await new Promise<void>((resolve, reject) =>
    pack.entry({ ...head, name: `etc/imgdesc-test/${name}`, type: 'file' }, Buffer.from(`${contentSeed}\n`), (e) => (e ? reject(e) : resolve())),
  );
  const entry = pack.entry({ ...head, name: `data/${name}.bin`, size, type: 'file' });
  await pipeline(randomStream(contentSeed, size), entry as unknown as Writable);
  pack.finalize();
  await done;
  const digest = `sha256:${gzHash.digest('hex')}`;
  await rename(tmp, join(layout, 'blobs/sha256', digest.slice(7)));
  return { digest, size: gzCount.n, diffId: `sha256:${tarHash.digest('hex')}` };
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

/** Writes an OCI layout at `layout` holding one image tagged `tag`. */
export async function makeImage(layout: string, spec: ImageSpec, tag = 'latest'): Promise<BuiltImage> {
  await mkdir(join(layout, 'blobs/sha256'), { recursive: true });
  await writeFile(join(layout, 'oci-layout'), json({ imageLayoutVersion: '1.0.0' }));
  const layers = spec.layers ?? [{ size: 1024 }];
  const manifests: BuiltManifest[] = [];
  for (const platform of spec.platforms) {
    const pname = platformName(platform);
    const built = [];
    for (const [i, l] of layers.entries()) {
      const contentSeed = l.shared ? `shared:${l.shared}` : `${spec.seed}:${pname}:${i}`;
      built.push(await writeLayer(layout, `${contentSeed.replace(/[^a-zA-Z0-9]+/g, '-')}`, contentSeed, l.size));
    }
    const config = await writeBlob(
      layout,
      json({
        created: '2026-01-01T00:00:00Z',
        architecture: platform.architecture,
        ...(platform.variant ? { variant: platform.variant } : {}),
        os: platform.os ?? 'linux',
        config: { Cmd: ['/bin/true'], Labels: { 'org.imgdesc.test.seed': spec.seed, 'org.imgdesc.test.platform': pname } },
        rootfs: { type: 'layers', diff_ids: built.map((b) => b.diffId) },
      }),
    );
    const manifest = await writeBlob(
      layout,
      json({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: built.map((b) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: b.digest, size: b.size })),
      }),
    );
    manifests.push({ platform, ...manifest, config: config.digest, layers: built });
  }
  let top: { digest: string; size: number; mediaType: string };
  if (manifests.length === 1 && !spec.index) {
    top = { digest: manifests[0]!.digest, size: manifests[0]!.size, mediaType: 'application/vnd.oci.image.manifest.v1+json' };
  } else {
    const index = await writeBlob(
      layout,
      json({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: manifests.map((m) => ({
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: m.digest,
          size: m.size,
          platform: { architecture: m.platform.architecture, os: m.platform.os ?? 'linux', ...(m.platform.variant ? { variant: m.platform.variant } : {}) },
        })),
      }),
    );
    top = { ...index, mediaType: 'application/vnd.oci.image.index.v1+json' };
  }
  await writeFile(
    join(layout, 'index.json'),
    json({ schemaVersion: 2, manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': tag } }] }),
  );
  return { layout, digest: top.digest, mediaType: top.mediaType, manifests };
}

export interface PushTarget {
  host: string;
  skopeoDestFlags(): string[];
}

/**
 * Pushes the layout's `tag` to `registry/repository:tag` with skopeo.
 * format "v2s2" converts a single manifest to Docker schema 2 on the way.
 * Returns the digest the registry now serves for the tag.
 */
export async function pushImage(layout: string, registry: PushTarget, repository: string, tag: string, options: { format?: 'oci' | 'v2s2'; layoutTag?: string } = {}): Promise<string> {
  const args = ['copy', '--quiet', '--all', '--preserve-digests', ...registry.skopeoDestFlags()];
  if (options.format === 'v2s2') args.splice(args.indexOf('--preserve-digests'), 1, '--format', 'v2s2');
  args.push(`oci:${layout}:${options.layoutTag ?? tag}`, `docker://${registry.host}/${repository}:${tag}`);
  await exec('skopeo', args, { maxBuffer: 16 * 1024 * 1024 });
  const { stdout } = await exec('skopeo', ['inspect', '--raw', ...srcFlagsFromDest(registry.skopeoDestFlags()), `docker://${registry.host}/${repository}:${tag}`]);
  return `sha256:${createHash('sha256').update(stdout).digest('hex')}`;
}

const srcFlagsFromDest = (flags: string[]) => flags.map((f) => f.replace(/^--dest-/, '--'));

/** A layout, pushed: the usual one-liner in tests. */
export async function pushNewImage(dir: string, registry: PushTarget, repository: string, tag: string, spec: ImageSpec, format?: 'oci' | 'v2s2'): Promise<BuiltImage & { pushedDigest: string }> {
  const built = await makeImage(join(dir, `${repository.replace(/\//g, '_')}_${tag}`), spec, tag);
  const pushedDigest = await pushImage(built.layout, registry, repository, tag, { format });
  return { ...built, pushedDigest };
}
