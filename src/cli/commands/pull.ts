import { stat } from 'node:fs/promises';
import { UsageError } from '../../errors.js';
import { pullDisk, type PullProgress, type PullResult } from '../../disk/pull.js';
import { parseDiskRef } from '../../disk/reference.js';
import { humanSize } from '../../report/report.js';
import { REGISTRY_HELP, registriesConfFrom } from '../registry-options.js';
import { parseCommand } from '../args.js';
import { DISK_OPTIONS, disktypeFrom, resolverFrom, targetPlatform } from '../disk-options.js';
import { EXIT } from '../exit-codes.js';
import type { Io } from '../io.js';
import { interruptSignal } from '../interrupt.js';
import { transferLine } from '../transfer-progress.js';
import { POLICY_HELP, POLICY_OPTIONS, trustFrom } from '../trust-options.js';

export const PULL_HELP = `usage: imgdesc pull REF OUTPUT [--target-arch ARCH | --platform OS/ARCH[/VARIANT]] [--disktype NAME]
             [--file NAME] [--no-decompress] [--authfile FILE] [--tls-verify=false]
             [--cert-dir DIR] [--retries N] [--timeout SECONDS] [--registries-conf FILE]
             [--policy FILE | --insecure-policy] [--registries.d DIR] [--json] [--quiet]

Pulls one disk image out of REF and writes it, decompressed, to OUTPUT: a file
path, or an existing directory (then the file's own name without its
compression suffix). Download, digest check, decompression and writing are one
pass; the file appears at OUTPUT only once it is complete and verified.

REF is docker://HOST/REPO[:TAG|@DIGEST] (or the same without docker://),
oci:DIR[:NAME] or oci-archive:FILE[:NAME]. Recognised: podman machine images
(an index with disktype annotations), ORAS artifacts (titled layers), images of
one file (FROM scratch + COPY disk.qcow2.xz /) and containerDisks (the file
under disk/). See docs/disk-images.md.

  --target-arch ARCH   target architecture as \`uname -m\` names it (default: this host)
  --platform P         OS/ARCH[/VARIANT] instead, as OCI spells it (linux/arm64)
  --disktype NAME      the podman machine disk type: qemu, applehv, hyperv, wsl
                       (needed when the index offers several for the platform)
  --file NAME          the file to take when there are several (its title, or its
                       name in the layer)
  --no-decompress      write the bytes as stored (gzip, bzip2, xz and zstd are
                       otherwise decompressed, told by their magic bytes)
${REGISTRY_HELP}
${POLICY_HELP}
  --json               print the result as JSON on stdout, nothing else
  -q, --quiet          print nothing but errors`;

const PULL_OPTIONS = {
  ...DISK_OPTIONS,
  ...POLICY_OPTIONS,
  file: { type: 'string' },
  'no-decompress': { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

/** Downloaded/total and rate from the pull; what is in the file so far from the file itself. */
function ttyProgress(stream: NodeJS.WriteStream): PullProgress & { stop(): void } {
  let temp = '';
  let written = 0;
  const line = transferLine(stream, () => {
    if (temp) void stat(temp).then((s) => (written = s.size), () => undefined);
    return temp ? `  written ${humanSize(written)}` : '';
  });
  return {
    started(info) {
      temp = info.temp;
      line.begin(info.name, info.total);
    },
    downloaded: (n) => line.add(n),
    stop: () => line.stop(),
  };
}

function text(r: PullResult): string {
  const what = r.uncompressedSize === null ? `${humanSize(r.size)} as stored` : `${humanSize(r.uncompressedSize)} (${r.compression === 'none' ? 'uncompressed' : `${humanSize(r.size)} ${r.compression}`})`;
  const where = [r.platform, r.disktype && `disktype ${r.disktype}`].filter(Boolean).join(', ');
  return `${r.file}: ${what}, ${r.format} ${r.title} from ${r.reference}${where ? ` (${where})` : ''}\ndigest: ${r.digest}`;
}

/** The fields the issue names first, then the rest. */
function json(r: PullResult): string {
  const { reference, digest, platform, disktype, title, file, size, uncompressedSize, ...rest } = r;
  return JSON.stringify({ reference, digest, platform, disktype, title, file, size, uncompressedSize, ...rest }, null, 2);
}

export async function pullCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommand('pull', argv, PULL_OPTIONS);
  if (values.help) {
    io.out(PULL_HELP);
    return EXIT.OK;
  }
  if (positionals.length !== 2) throw new UsageError(`pull: expected REF and OUTPUT, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`);
  const conf = await registriesConfFrom(values);
  const ref = parseDiskRef(positionals[0]!, conf.aliases);
  const want = { platform: targetPlatform('pull', values), disktype: disktypeFrom('pull', values.disktype), file: values.file ?? null };
  const quiet = Boolean(values.quiet) || Boolean(values.json);
  const trust = await trustFrom('pull', values);
  const registries = resolverFrom('pull', values, conf);
  const progress = !quiet && io.errTty ? ttyProgress(io.errTty) : undefined;
  const interrupt = interruptSignal();
  try {
    const result = await pullDisk({ ref, output: positionals[1]!, want, decompress: !values['no-decompress'], registries, signal: interrupt.signal, progress, trust });
    progress?.stop();
    if (values.json) io.out(json(result));
    else if (!quiet) io.out(text(result));
    return EXIT.OK;
  } finally {
    progress?.stop();
    interrupt.dispose();
    await registries.close();
  }
}
