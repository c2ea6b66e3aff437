import { isCompression } from '../../disk/compression.js';
import { pushDisk, type PushFormat, type PushResult } from '../../disk/push.js';
import { parsePushRef } from '../../disk/reference.js';
import { UsageError } from '../../errors.js';
import { humanSize } from '../../report/report.js';
import { REGISTRY_HELP, registriesConfFrom } from '../registry-options.js';
import { parseCommand } from '../args.js';
import { DISK_OPTIONS, disktypeFrom, resolverFrom, targetPlatform } from '../disk-options.js';
import { EXIT } from '../exit-codes.js';
import type { Io } from '../io.js';
import { interruptSignal } from '../interrupt.js';
import { transferLine } from '../transfer-progress.js';

export const PUSH_HELP = `usage: imgdesc push FILE REF --disktype NAME [--target-arch ARCH | --platform OS/ARCH[/VARIANT]]
             [--compress zstd|xz|none] [--format podman-machine|oras] [--authfile FILE]
             [--tls-verify=false] [--cert-dir DIR] [--retries N] [--timeout SECONDS] [--json]

Publishes the disk image FILE at REF (docker://HOST/REPO:TAG or HOST/REPO:TAG) so
that podman machine and imgdesc pull find it: one manifest with one layer, the
file compressed on its way into a chunked upload and named by its title (the
file name plus the compression suffix), added to the index at REF under its
platform. Entries for other platforms and disk types stay; the one for the same
platform and disk type is replaced. A file that is compressed already is pushed
as it is.

  --disktype NAME      podman machine's disk type: qemu, applehv, hyperv, wsl
                       (required for --format podman-machine)
  --target-arch ARCH   the disk's architecture as \`uname -m\` names it (default: this host)
  --platform P         OS/ARCH[/VARIANT] instead, as OCI spells it
  --compress C         zstd (default), xz or none
  --format F           podman-machine (default): index entries with a disktype annotation
                       and architectures spelled x86_64/aarch64, as podman machine matches
                       them; oras: an ORAS artifact per platform, architectures as OCI spells them
${REGISTRY_HELP}
  --json               print the result as JSON on stdout, nothing else
  -q, --quiet          print nothing but errors`;

const PUSH_OPTIONS = {
  ...DISK_OPTIONS,
  compress: { type: 'string' },
  format: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

const FORMATS: readonly PushFormat[] = ['podman-machine', 'oras'];

function text(r: PushResult): string {
  return `pushed ${r.title} (${humanSize(r.size)}${r.uncompressedSize === null ? '' : `, ${humanSize(r.uncompressedSize)} uncompressed`}) to ${r.reference} for ${r.platform}${r.disktype ? `, disktype ${r.disktype}` : ''}\nindex: ${r.digest}\nmanifest: ${r.manifest}`;
}

export async function pushCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommand('push', argv, PUSH_OPTIONS);
  if (values.help) {
    io.out(PUSH_HELP);
    return EXIT.OK;
  }
  if (positionals.length !== 2) throw new UsageError(`push: expected FILE and REF, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`);
  const format = (values.format ?? 'podman-machine') as PushFormat;
  if (!FORMATS.includes(format)) throw new UsageError(`push: --format takes ${FORMATS.join(' or ')}, not ${JSON.stringify(values.format)}`);
  const compress = values.compress ?? 'zstd';
  if (!isCompression(compress) || !['zstd', 'xz', 'none'].includes(compress)) throw new UsageError(`push: --compress takes zstd, xz or none, not ${JSON.stringify(compress)}`);
  const disktype = disktypeFrom('push', values.disktype);
  if (format === 'oras' && disktype !== null) throw new UsageError('push: --disktype is podman machine\'s; an ORAS artifact is chosen by platform alone');
  const ref = parsePushRef(positionals[1]!);
  const platform = targetPlatform('push', values);
  const registries = resolverFrom('push', values, await registriesConfFrom(values));
  const progress = !values.quiet && !values.json && io.errTty ? transferLine(io.errTty) : null;
  progress?.begin(`uploading ${positionals[0]!}`, null);
  const interrupt = interruptSignal();
  try {
    const onUploaded = progress ? (n: number) => progress.add(n) : undefined;
    const result = await pushDisk({ file: positionals[0]!, ref, format, disktype, platform, compress, registries, signal: interrupt.signal, onUploaded });
    progress?.stop();
    if (values.json) io.out(JSON.stringify(result, null, 2));
    else if (!values.quiet) io.out(text(result));
    return EXIT.OK;
  } finally {
    progress?.stop();
    interrupt.dispose();
    await registries.close();
  }
}
