// What the source tests share: media types, digests, reading a stream whole.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { MediaType } from '../../src/oci/media-types.js';
import type { BuiltImage } from './test-images.js';

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
