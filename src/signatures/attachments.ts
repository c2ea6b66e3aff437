// Sigstore signatures stored as attachments in the registry, as cosign
// writes them: a manifest tagged sha256-HEX.sig in the image's repository,
// each layer of type application/vnd.dev.cosign.simplesigning.v1+json one
// signature, its payload the layer's bytes, the base64 signature in the
// layer's dev.cosignproject.cosign/signature annotation.

import { SourceError } from '../errors.js';
import { digestOf } from '../oci/digest.js';
import type { Reference } from '../oci/reference.js';
import { RegistryHttpError } from '../registry/client.js';
import type { RepositoryReader } from '../registry/repository.js';
import { MAX_SIGNATURE_BYTES } from './lookaside.js';

export const SIGSTORE_LAYER = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGSTORE_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';

export interface AttachedSignature {
  readonly payload: Buffer;
  readonly signatureBase64: string;
}

export function attachmentTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}

interface Layer {
  mediaType?: unknown;
  digest?: unknown;
  size?: unknown;
  annotations?: Record<string, unknown>;
}

/** The attached signatures of manifest `digest`; none when the tag does not exist. */
export async function readAttachments(reader: RepositoryReader, ref: Reference, digest: string, signal: AbortSignal): Promise<AttachedSignature[]> {
  const tag = attachmentTag(digest);
  const fail = (why: string, cause?: unknown) => new SourceError('POLICY', `${ref}: sigstore attachments ${reader.repository}:${tag} on ${reader.host}: ${why}`, ref.toString(), { cause });
  let manifest;
  try {
    manifest = await reader.manifest(tag, signal);
  } catch (err) {
    if (err instanceof RegistryHttpError && err.kind === 'not-found') return [];
    if (signal.aborted) throw err;
    throw fail((err as Error).message, err);
  }
  let layers: Layer[];
  try {
    const doc = JSON.parse(manifest.bytes.toString('utf8')) as { layers?: unknown };
    if (!Array.isArray(doc.layers)) throw new Error('no layers array');
    layers = doc.layers as Layer[];
  } catch (err) {
    throw fail(`not a signature manifest: ${(err as Error).message}`, err);
  }
  const out: AttachedSignature[] = [];
  for (const layer of layers) {
    if (layer.mediaType !== SIGSTORE_LAYER) continue;
    const signature = layer.annotations?.[SIGSTORE_SIGNATURE_ANNOTATION];
    if (typeof layer.digest !== 'string' || typeof layer.size !== 'number' || typeof signature !== 'string') throw fail('a signature layer without digest, size or signature annotation');
    if (layer.size > MAX_SIGNATURE_BYTES) throw fail(`a signature payload of ${layer.size} bytes, over the ${MAX_SIGNATURE_BYTES}-byte limit`);
    const payload = await readPayload(reader, layer.digest, layer.size, signal).catch((err: unknown) => {
      throw signal.aborted ? err : fail(`payload ${String(layer.digest)}: ${(err as Error).message}`, err);
    });
    out.push({ payload, signatureBase64: signature });
  }
  return out;
}

async function readPayload(reader: RepositoryReader, digest: string, size: number, signal: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of await reader.blob(digest, signal)) {
    n += (chunk as Buffer).length;
    if (n > size) throw new Error(`more than the ${size} bytes the manifest gives`);
    chunks.push(chunk as Buffer);
  }
  const bytes = Buffer.concat(chunks);
  if (bytes.length !== size || digestOf(bytes) !== digest) throw new Error('bytes do not match the digest');
  return bytes;
}
