// Disk-image artifacts for pull tests, written independently of imgdesc: disk
// bytes compressed with the system tools, layers packed with the system tar,
// OCI layouts laid out by hand with the exact annotations each publisher
// writes, then copied into the test registry with skopeo.

import { execFile } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export const TITLE = 'org.opencontainers.image.title';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const EMPTY_CONFIG = 'application/vnd.oci.empty.v1+json';

/**
 * A small disk: a qcow2 magic, runs of zeros (as a fresh disk has) and
 * deterministic noise, so that compressors have something to do and sparse
 * writing has holes to leave.
 */
export function diskBytes(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const noise = createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
  const out = Buffer.alloc(size);
  Buffer.from('QFI\xfb', 'latin1').copy(out);
  for (let off = 4; off < size; off += 64 * 1024) {
    // Alternate 64 KiB of noise and 64 KiB of zeros.
    if ((off >> 16) % 2 === 0) noise.copy(out, off, off, Math.min(size, off + 64 * 1024));
  }
  return out;
}

const TOOLS: Record<string, string[]> = { zstd: ['zstd', '-q', '-c'], xz: ['xz', '-c'], gzip: ['gzip', '-n', '-c'], bzip2: ['bzip2', '-c'] };

/** `bytes` compressed by the system tool. */
export async function compressed(bytes: Buffer, kind: 'zstd' | 'xz' | 'gzip' | 'bzip2'): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'imgdesc-disk-'));
  try {
    const file = join(dir, 'in');
    await writeFile(file, bytes);
    const [tool, ...args] = TOOLS[kind]!;
    const { stdout } = await exec(tool!, [...args, file], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 });
    return stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A layer tar of `files` (path -> bytes; a path ending in "/" is a directory),
 * packed by GNU tar and gzipped; diffId is the digest of the tar itself.
 */
export async function layerTar(files: Record<string, Buffer | null>, gzip = true): Promise<{ bytes: Buffer; diffId: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'imgdesc-layer-'));
  try {
    const root = join(dir, 'root');
    await mkdir(root);
    for (const [path, content] of Object.entries(files)) {
      if (path.endsWith('/')) await mkdir(join(root, path), { recursive: true });
      else {
        await mkdir(dirname(join(root, path)), { recursive: true });
        await writeFile(join(root, path), content!);
      }
    }
    const tarFile = join(dir, 'layer.tar');
    await exec('tar', ['--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--format=pax', '-C', root, '-cf', tarFile, ...Object.keys(files)]);
    const { stdout: tarBytes } = await exec('cat', [tarFile], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 });
    const diffId = `sha256:${createHash('sha256').update(tarBytes).digest('hex')}`;
    if (!gzip) return { bytes: tarBytes, diffId };
    const { stdout } = await exec('gzip', ['-n', '-c', tarFile], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 });
    return { bytes: stdout, diffId };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string; variant?: string };
}

/** An OCI image layout written by hand, blob by blob. */
export class HandLayout {
  private constructor(readonly dir: string) {}

  static async create(dir: string): Promise<HandLayout> {
    await mkdir(join(dir, 'blobs/sha256'), { recursive: true });
    await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    return new HandLayout(dir);
  }

  async blob(bytes: Buffer, mediaType: string, extra: Partial<Desc> = {}): Promise<Desc> {
    const hex = createHash('sha256').update(bytes).digest('hex');
    await writeFile(join(this.dir, 'blobs/sha256', hex), bytes);
    return { mediaType, digest: `sha256:${hex}`, size: bytes.length, ...extra };
  }

  /** A manifest document (object) as a blob. */
  json(doc: object, mediaType: string, extra: Partial<Desc> = {}): Promise<Desc> {
    return this.blob(Buffer.from(JSON.stringify(doc)), mediaType, extra);
  }

  /** index.json naming `top` by tag. */
  async tag(top: Desc, tag: string): Promise<void> {
    const { platform: _p, ...desc } = top;
    await writeFile(join(this.dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...desc, annotations: { 'org.opencontainers.image.ref.name': tag } }] }));
  }
}

/** An artifact manifest: empty config, the given layers, optionally an artifactType. */
export async function artifactManifest(layout: HandLayout, layers: Desc[], extra: { artifactType?: string; platform?: Desc['platform']; annotations?: Record<string, string> } = {}): Promise<Desc> {
  const config = await layout.blob(Buffer.from('{}'), EMPTY_CONFIG);
  const doc = { schemaVersion: 2, mediaType: OCI_MANIFEST, ...(extra.artifactType ? { artifactType: extra.artifactType } : {}), config, layers };
  return layout.json(doc, OCI_MANIFEST, { ...(extra.platform ? { platform: extra.platform } : {}), ...(extra.annotations ? { annotations: extra.annotations } : {}) });
}

/** An image manifest with a real image config and one layer. */
export async function imageManifest(layout: HandLayout, layer: Desc, diffId: string, architecture = 'amd64'): Promise<Desc> {
  const config = await layout.json({ architecture, os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] }, config: {} }, 'application/vnd.oci.image.config.v1+json');
  return layout.json({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] }, OCI_MANIFEST);
}

export async function indexOf(layout: HandLayout, entries: Desc[]): Promise<Desc> {
  return layout.json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries }, OCI_INDEX);
}

/** skopeo copy (--all for an index) of the layout's tag into the registry; digests preserved. */
export async function copyToRegistry(layout: HandLayout, tag: string, target: { host: string; skopeoDestFlags(): string[] }, repository: string): Promise<string> {
  const ref = `${target.host}/${repository}:${tag}`;
  await exec('skopeo', ['copy', '--quiet', '--all', '--preserve-digests', ...target.skopeoDestFlags(), `oci:${layout.dir}:${tag}`, `docker://${ref}`], { maxBuffer: 16 * 1024 * 1024 });
  return ref;
}
