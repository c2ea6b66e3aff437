// Images in a host's local store (podman's containers-storage, the docker
// daemon), read by exporting them with the store's own tool: `podman image
// save` / `docker save`, run through execa without a shell, its output
// streamed into a private temporary file and read as a docker-archive. As
// podman machine's `os apply` does, a store is asked whether it has an image
// before anything is exported.

import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SourceError } from '../errors.js';
import type { Descriptor } from '../oci/manifest.js';
import type { Reference } from '../oci/reference.js';
import { TEMP_MARKER } from '../util/atomic-file.js';
import { DockerArchiveSource } from './docker-archive.js';
import type { FetchedManifest, ImageSource, SourceContext, SourceRef } from './types.js';

export interface LocalStore {
  /** The transport's name: containers-storage, docker-daemon. */
  readonly transport: string;
  /** The command: podman, docker. */
  readonly tool: string;
  /** Arguments asking whether NAME is there (exit 0: yes). */
  existsArgs(name: string): string[];
  /** Whether a failed lookup means "not there" rather than "could not ask". */
  absent(exitCode: number, stderr: string): boolean;
  /** Arguments writing NAME as a docker-archive to stdout. */
  saveArgs(name: string): string[];
}

/** The last line a tool printed on stderr: what went wrong, in its words. */
function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).pop() ?? '';
}

function toolFailure(store: LocalStore, name: string, what: string, err: unknown): SourceError {
  const e = err as { code?: string; stderr?: string; exitCode?: number; shortMessage?: string };
  const reason = e.code === 'ENOENT' ? `${store.tool} is not installed (not found on PATH)` : lastLine(e.stderr ?? '') || e.shortMessage || String(err);
  return new SourceError('MISSING', `${store.transport}:${name}: ${what} failed: ${reason}`, name, { cause: err });
}

/** Whether the store holds `name`; an error when the store cannot be asked. */
export async function storeHas(store: LocalStore, name: string, signal?: AbortSignal): Promise<boolean> {
  const { execa } = await import('execa');
  const r = await execa(store.tool, store.existsArgs(name), { reject: false, cancelSignal: signal, stdin: 'ignore' });
  if (r.exitCode === 0) return true;
  if (r.exitCode !== undefined && store.absent(r.exitCode, r.stderr)) return false;
  throw toolFailure(store, name, `${store.tool} ${store.existsArgs(name).join(' ')}`, r);
}

/** Streams `<tool> save NAME` into `file`. */
async function saveTo(store: LocalStore, name: string, file: string, signal: AbortSignal): Promise<void> {
  const { execa } = await import('execa');
  const child = execa(store.tool, store.saveArgs(name), { cancelSignal: signal, stdin: 'ignore', stdout: 'pipe', buffer: { stdout: false } });
  try {
    await Promise.all([pipeline(child.stdout, createWriteStream(file, { flags: 'wx' })), child]);
  } catch (err) {
    signal.throwIfAborted();
    throw toolFailure(store, name, `${store.tool} ${store.saveArgs(name).join(' ')}`, err);
  }
}

/** An image exported from a store on first use, read as a docker-archive, and removed on close. */
class StoredImageSource implements ImageSource {
  readonly description: string;
  readonly platformMustMatch = true;
  private exported: Promise<{ dir: string; archive: DockerArchiveSource }> | null = null;

  constructor(
    private readonly store: LocalStore,
    private readonly name: string,
    private readonly image: Reference,
  ) {
    this.description = `${store.transport} ${name}`;
  }

  private export(signal: AbortSignal): Promise<DockerArchiveSource> {
    this.exported ??= (async () => {
      const dir = await mkdtemp(join(tmpdir(), `${TEMP_MARKER}${this.store.transport}-`));
      try {
        await saveTo(this.store, this.name, join(dir, 'image.tar'), signal);
      } catch (err) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
      return { dir, archive: new DockerArchiveSource(join(dir, 'image.tar'), this.image, null, this.description) };
    })();
    return this.exported.then((e) => e.archive);
  }

  async getManifest(signal: AbortSignal): Promise<FetchedManifest> {
    return (await this.export(signal)).getManifest();
  }

  async getManifestByDigest(desc: Descriptor, signal: AbortSignal): Promise<FetchedManifest> {
    return (await this.export(signal)).getManifestByDigest(desc);
  }

  async getBlob(desc: Descriptor, signal: AbortSignal): Promise<Readable> {
    return (await this.export(signal)).getBlob(desc);
  }

  async close(): Promise<void> {
    const e = await this.exported?.catch(() => null);
    if (e) await rm(e.dir, { recursive: true, force: true });
  }
}

/** `TRANSPORT:NAME` for a store: present when the store has NAME. */
export function storeRef(store: LocalStore, name: string): SourceRef {
  return {
    transport: store.transport,
    origin: `${store.transport} ${name}`,
    present: () => storeHas(store, name),
    open: (ctx: SourceContext) => new StoredImageSource(store, name, ctx.image),
  };
}
