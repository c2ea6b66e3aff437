// What the source tests share: media types, digests, reading a stream whole.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { MediaType } from '../../src/oci/media-types.js';
import { RegistryResolver } from '../../src/registry/resolver.js';
import { startRegistry, type TestRegistry } from './registry.js';
import { pushNewImage, type BuiltImage, type LayerSpec } from './test-images.js';
import { tempDir } from './tmp.js';

const exec = promisify(execFile);

export const OCI_MANIFEST = MediaType.OciManifest;
export const OCI_INDEX = MediaType.OciIndex;
/** An image the test pushed, with the digest the registry holds it under. */
export type Pushed = BuiltImage & { pushedDigest: string };

export const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
/** A signal that ends a hung read instead of the whole suite. */
export const signal = () => AbortSignal.timeout(20_000);
export const blobDesc = (digest: string, size: number) => ({ mediaType: 'application/octet-stream', digest, size });

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A real registry holding three images (app, other, multi-platform multi), and skopeo to copy them out. */
export interface SkopeoSet {
  readonly registry: TestRegistry;
  /** A scratch directory removed by stop(). */
  readonly work: string;
  readonly app: Pushed;
  readonly other: Pushed;
  readonly multi: Pushed;
  readonly resolver: RegistryResolver;
  /** The full reference of repo:tag in the registry. */
  ref(repo: string, tag: string): string;
  /** skopeo copy docker://FROM TO (every platform with `all`). */
  skopeoCopy(from: string, to: string, all?: boolean): Promise<unknown>;
  /** The bytes of a blob as the test made it. */
  original(img: BuiltImage, digest: string): Promise<Buffer>;
  stop(): Promise<void>;
}

export async function skopeoSet(seed: string, appLayers: LayerSpec[]): Promise<SkopeoSet> {
  const registry = await startRegistry('plain');
  const cleanups: Array<() => unknown> = [];
  const work = await tempDir({ after: (fn: () => unknown) => cleanups.push(fn) });
  const amd64 = [{ architecture: 'amd64' }];
  const app = await pushNewImage(work, registry, 'src/app', '1.0', { seed: `${seed}-app`, platforms: amd64, layers: appLayers });
  const other = await pushNewImage(work, registry, 'src/other', '2.0', { seed: `${seed}-other`, platforms: amd64 });
  const multi = await pushNewImage(work, registry, 'src/multi', '3.0', { seed: `${seed}-multi`, platforms: [...amd64, { architecture: 'arm64' }] });
  const resolver = new RegistryResolver({ tlsVerify: false, credentials: { env: {}, home: '/nonexistent' } });
  return {
    registry,
    work,
    app,
    other,
    multi,
    resolver,
    ref: (repo, tag) => `${registry.host}/src/${repo}:${tag}`,
    skopeoCopy: (from, to, all = false) => exec('skopeo', ['copy', '--quiet', '--preserve-digests', ...(all ? ['--all'] : []), ...registry.skopeoSrcFlags(), `docker://${from}`, to]),
    original: (img, digest) => readFile(join(img.layout, 'blobs/sha256', digest.slice('sha256:'.length))),
    async stop() {
      await resolver.close();
      await registry.stop();
      for (const c of cleanups) await c();
    },
  };
}
