// The one place that turns an image reference into the registry endpoints to
// try, in order, each with the client (credentials, TLS settings, retries)
// to reach it: the mirrors registries.conf gives for it, then its registry
// at the location the rule rewrites it to (Docker Hub's API host for
// docker.io). A blocked registry is refused here. A push goes to the image's
// own registry only (pushTarget), never a mirror or a rewritten location, as
// containers/image does.

import { SourceError } from '../errors.js';
import type { Reference } from '../oci/reference.js';
import { RegistryClient, type RegistryClientOptions } from './client.js';
import { EMPTY_REGISTRIES_CONF, findRule, pullSources, type RegistriesConf, type RegistryRule } from './registries-conf.js';
import { RepositoryReader } from './repository.js';
import { RepositoryWriter } from './upload.js';

export interface Endpoint {
  /** Where the image is read from: host and repository as the API names them. */
  readonly reader: RepositoryReader;
  /** For messages and reports: "registry HOST" or "mirror HOST". */
  readonly label: string;
  /** true for a mirror: failing it moves on to the next endpoint. */
  readonly mirror: boolean;
  /** The image's name at this endpoint (a mirror's or a rewritten location). */
  readonly ref: Reference;
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

  constructor(
    private readonly options: RegistryClientOptions,
    readonly conf: RegistriesConf = EMPTY_REGISTRIES_CONF,
  ) {}

  /** The endpoints to try for `ref`, in order; throws SourceError BLOCKED for a blocked registry. */
  endpoints(ref: Reference): Endpoint[] {
    const rule = this.allowedRule(ref);
    return pullSources(rule, ref).map((s) => {
      const { host, repository } = apiLocation(s.ref);
      // A registry's `insecure` allows plain http and unverified TLS for it alone.
      const reader = new RepositoryReader(this.client(host, this.options.tlsVerify && !s.insecure), repository);
      return { reader, label: `${s.mirror ? 'mirror' : 'registry'} ${s.ref.registry}`, mirror: s.mirror, ref: s.ref };
    });
  }

  private allowedRule(ref: Reference): RegistryRule | null {
    const rule = findRule(this.conf, ref);
    if (rule?.blocked) {
      throw new SourceError('BLOCKED', `${ref}: registry ${ref.registry} is blocked by ${rule.file} ([[registry]] prefix ${JSON.stringify(rule.prefix)}, blocked = true)`, ref.toString());
    }
    return rule;
  }

  /**
   * Where a push of `ref` goes: the registry itself, never a mirror. Reading
   * (the index a push adds to) and writing share its client.
   */
  pushTarget(ref: Reference): { reader: RepositoryReader; writer: RepositoryWriter; label: string } {
    const rule = this.allowedRule(ref);
    const { host, repository } = apiLocation(ref);
    const client = this.client(host, this.options.tlsVerify && !rule?.insecure);
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
