// The docker transport: an image in a registry, `docker://HOST/REPO[:TAG|@DIGEST]`.
// The registry resolver says which endpoints to try (the registry itself,
// later its mirrors); the first that serves the manifest serves the blobs.

import type { Readable } from 'node:stream';
import { ReferenceFormatError, SourceError } from '../errors.js';
import type { Descriptor } from '../oci/manifest.js';
import { Reference } from '../oci/reference.js';
import { RegistryHttpError } from '../registry/client.js';
import type { Endpoint } from '../registry/resolver.js';
import { isRetryableError, networkReason } from '../registry/retry.js';
import type { FetchedManifest, ImageSource, SourceContext, SourceRef, Transport } from './types.js';

const KIND_TO_REASON = {
  auth: 'AUTH',
  'not-found': 'NOT_FOUND',
  network: 'NETWORK',
  tls: 'TLS',
  registry: 'REGISTRY',
  protocol: 'PROTOCOL',
} as const;

/**
 * A registry failure as the SourceError the user sees (exit 4), naming the
 * image and what was asked for; anything else is returned as it was.
 */
export function registryFailure(err: unknown, display: string, registry: string, what: string): unknown {
  if (err instanceof SourceError) return err;
  if (err instanceof RegistryHttpError) return new SourceError(KIND_TO_REASON[err.kind], `${display}: ${what}: ${err.message}`, display, { cause: err });
  // A transfer that broke after its attempts ran out.
  if (isRetryableError(err)) return new SourceError('NETWORK', `${display}: ${what} from ${registry}: ${networkReason(err)}`, display, { cause: err });
  return err;
}

export class RegistrySource implements ImageSource {
  readonly description: string;
  private readonly display: string;
  /** The endpoint that served the manifest, once one did; blobs come from it too. */
  served: Endpoint | undefined;

  constructor(
    private readonly ref: Reference,
    private readonly endpoints: readonly Endpoint[],
    /** The planned reference, for messages (ref may carry a pinned digest). */
    display: Reference = ref,
  ) {
    if (endpoints.length === 0) throw new Error(`no registry endpoint for ${ref}`);
    this.display = display.toString();
    this.description = `registry ${ref.registry}`;
  }

  /** Where blobs and manifests by digest are asked for: the endpoint that served, else the first. */
  private get serving(): Endpoint {
    return this.served ?? this.endpoints[0]!;
  }

  private fail(err: unknown, what: string): never {
    throw registryFailure(err, this.display, this.ref.registry, what);
  }

  /** What happened on the way, for the report (a mirror that failed). */
  readonly notes: string[] = [];

  /** Endpoints in order; a mirror that fails gives way to the next, the registry itself is the last word. */
  async getManifest(signal: AbortSignal): Promise<FetchedManifest> {
    for (const endpoint of this.endpoints) {
      try {
        const manifest = await endpoint.reader.manifest(this.ref.selector, signal, endpoint.mirror);
        this.served = endpoint;
        return manifest;
      } catch (err) {
        if (!endpoint.mirror || signal.aborted) this.fail(err, 'manifest');
        this.notes.push(`${this.display}: ${endpoint.label} failed (${(err as Error).message}); trying the next`);
      }
    }
    throw new Error(`no registry endpoint answered for ${this.display}`);
  }

  async getManifestByDigest(desc: Descriptor, signal: AbortSignal): Promise<FetchedManifest> {
    try {
      return await this.serving.reader.manifest(desc.digest, signal);
    } catch (err) {
      this.fail(err, `manifest ${desc.digest}`);
    }
  }

  async getBlob(desc: Descriptor, signal: AbortSignal): Promise<Readable> {
    const what = `blob ${desc.digest}`;
    // A transfer that breaks for good fails the stream with the same kind of error.
    const named = (err: unknown): Error => {
      try {
        this.fail(err, what);
      } catch (e) {
        return e as Error;
      }
    };
    try {
      return await this.serving.reader.blob(desc.digest, signal, named);
    } catch (err) {
      this.fail(err, what);
    }
  }

  async close(): Promise<void> {
    // Clients belong to the resolver, shared between sources; its owner closes them.
  }
}

class DockerRef implements SourceRef {
  readonly transport = 'docker';
  readonly origin: string;
  constructor(readonly ref: Reference) {
    this.origin = `registry ${ref.registry}`;
  }
  async present(): Promise<boolean> {
    return true;
  }
  open(ctx: SourceContext): ImageSource {
    return new RegistrySource(this.ref, ctx.registries.endpoints(this.ref), ctx.image);
  }
}

export function dockerRef(ref: Reference): SourceRef {
  return new DockerRef(ref);
}

export const dockerTransport: Transport = {
  name: 'docker',
  parse(location: string): SourceRef {
    // containers-transports(5): docker://HOST/REPO; the "//" belongs to the transport.
    if (!location.startsWith('//')) throw new ReferenceFormatError(`docker:${location}`, 'expected docker://HOST/REPOSITORY[:TAG|@DIGEST]');
    return dockerRef(Reference.parse(location.slice(2)));
  },
};
