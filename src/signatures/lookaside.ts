// Simple-signing signatures from a lookaside store (containers-signature(5),
// docs/signature-protocols.md of containers/image): the n-th signature of
// manifest sha256:HEX of repository PATH is at
// BASE/PATH@sha256=HEX/signature-n, counting from 1 until one is missing.

import { open } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { SourceError } from '../errors.js';
import type { Reference } from '../oci/reference.js';
import { Agent, request, type Dispatcher } from '../registry/http.js';
import { errnoCode, errnoText } from '../util/errno.js';

/** containers/image stops there too: a store cannot make a build read without end. */
const MAX_SIGNATURES = 128;
/** A simple signature is a few hundred bytes; more is not one. */
export const MAX_SIGNATURE_BYTES = 4 * 1024 * 1024;

/** The repository path as containers/image writes it (Docker Hub's single names under library/). */
function repositoryPath(ref: Reference): string {
  const hub = ref.registry === 'docker.io' || ref.registry === 'index.docker.io';
  return hub && !ref.repository.includes('/') ? `library/${ref.repository}` : ref.repository;
}

export function signatureUrl(base: string, ref: Reference, digest: string, n: number): URL {
  const root = base.endsWith('/') ? base.slice(0, -1) : base;
  return new URL(`${root}/${repositoryPath(ref)}@${digest.replace(':', '=')}/signature-${n}`);
}

/**
 * Every signature the store holds for manifest `digest` of `ref`. A store
 * that cannot be read is a source failure naming the URL; a missing
 * signature ends the list.
 */
export async function readLookaside(base: string, ref: Reference, digest: string, signal: AbortSignal, dispatcher?: Dispatcher): Promise<Buffer[]> {
  const found: Buffer[] = [];
  const owned = dispatcher ? null : new Agent();
  try {
    for (let n = 1; n <= MAX_SIGNATURES; n++) {
      const url = signatureUrl(base, ref, digest, n);
      const sig = url.protocol === 'file:' ? await readFileSignature(url, ref) : await readHttpSignature(url, ref, signal, dispatcher ?? owned!);
      if (sig === null) break;
      found.push(sig);
    }
  } finally {
    await owned?.close();
  }
  return found;
}

function failure(ref: Reference, url: URL, why: string, cause?: unknown): SourceError {
  return new SourceError('POLICY', `${ref}: cannot read signature ${url.href}: ${why}`, ref.toString(), { cause });
}

async function readFileSignature(url: URL, ref: Reference): Promise<Buffer | null> {
  let handle;
  try {
    handle = await open(fileURLToPath(url), 'r');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw failure(ref, url, errnoText(err), err);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw failure(ref, url, 'not a regular file');
    if (info.size > MAX_SIGNATURE_BYTES) throw failure(ref, url, `${info.size} bytes, over the ${MAX_SIGNATURE_BYTES}-byte limit`);
    return await handle.readFile();
  } catch (err) {
    if (err instanceof SourceError) throw err;
    throw failure(ref, url, errnoText(err), err);
  } finally {
    await handle.close();
  }
}

async function readHttpSignature(url: URL, ref: Reference, signal: AbortSignal, dispatcher: Dispatcher): Promise<Buffer | null> {
  let res;
  try {
    res = await request(url, { method: 'GET', headers: {}, dispatcher, signal });
  } catch (err) {
    if (signal.aborted) throw err;
    throw failure(ref, url, (err as Error).message, err);
  }
  if (res.statusCode === 404) {
    await res.body.dump();
    return null;
  }
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw failure(ref, url, `HTTP ${res.statusCode}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length;
    if (size > MAX_SIGNATURE_BYTES) {
      res.body.destroy();
      throw failure(ref, url, `over the ${MAX_SIGNATURE_BYTES}-byte limit`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
