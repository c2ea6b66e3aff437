// The one place that turns an image reference into the registry endpoints to
// try, in order, each with the client (credentials, TLS settings, retries)
// to reach it. Today an image has one endpoint: its own registry (Docker
// Hub's API host for docker.io). Mirrors and rewrites from registries.conf
// are more endpoints before it, and arrive here, nowhere else. A push goes to
// the image's own registry only (pushTarget).

import type { Reference } from '../oci/reference.js';
import { RegistryClient, type RegistryClientOptions } from './client.js';
import { RepositoryReader } from './repository.js';
import { RepositoryWriter } from './upload.js';

export interface Endpoint {
  /** Where the image is read from: host and repository as the API names them. */
  readonly reader: RepositoryReader;
  /** For messages and reports: "registry HOST" or "mirror HOST". */
  readonly label: string;
  /** true for a mirror: failing it moves on to the next endpoint. */
  readonly mirror: boolean;
}

/** Docker Hub's API lives on another host and puts single names under library/. */
function apiLocation(ref: Reference): { host: string; repository: string } {
  if (ref.registry === 'docker.io' || ref.registry === 'index.docker.io') {
    return { host: 'registry-1.docker.io', repository: ref.repository.includes('/') ? ref.repository : `library/${ref.repository}` };
  }
  return { host: ref.registry, repository: ref.repository };
}

export class RegistryResolver {
  /** One client per host and TLS setting, shared by every image of a run. */
  private readonly clients = new Map<string, RegistryClient>();

  constructor(private readonly options: RegistryClientOptions) {}

  /** The endpoints to try for `ref`, in order. */
  endpoints(ref: Reference): Endpoint[] {
    const { host, repository } = apiLocation(ref);
    return [{ reader: new RepositoryReader(this.client(host, this.options.tlsVerify), repository), label: `registry ${ref.registry}`, mirror: false }];
  }

  /**
   * Where a push of `ref` goes: the registry itself, never a mirror. Reading
   * (the index a push adds to) and writing share its client.
   */
  pushTarget(ref: Reference): { reader: RepositoryReader; writer: RepositoryWriter; label: string } {
    const { host, repository } = apiLocation(ref);
    const client = this.client(host, this.options.tlsVerify);
    return { reader: new RepositoryReader(client, repository), writer: new RepositoryWriter(client, repository), label: `registry ${ref.registry}` };
  }

  private client(host: string, tlsVerify: boolean): RegistryClient {
    const key = `${host} ${tlsVerify}`;
    let c = this.clients.get(key);
    if (!c) {
      c = new RegistryClient(host, { ...this.options, tlsVerify });
      this.clients.set(key, c);
    }
    return c;
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()));
    this.clients.clear();
  }
}
