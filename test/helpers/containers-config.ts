// The same containers configuration (registries.conf, policy.json,
// registries.d) given to skopeo and to imgdesc, so that skopeo referees
// imgdesc's accept or reject.
import { execFile } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli, type CliResult } from './cli.js';
import { description } from './descriptions.js';

const exec = promisify(execFile);

export interface ContainersConfig {
  readonly registriesConf: string;
  readonly policy: string;
  /** A registries.d directory; absent: an empty one. */
  readonly registriesD: string;
}

export const ACCEPT_ANYTHING = { default: [{ type: 'insecureAcceptAnything' }] };

/** Writes the three parts into `dir` and returns their paths. */
export async function writeConfig(dir: string, parts: { registriesConf?: string; policy?: unknown; registriesD?: Record<string, string> } = {}): Promise<ContainersConfig> {
  await mkdir(dir, { recursive: true });
  const registriesConf = join(dir, 'registries.conf');
  await writeFile(registriesConf, parts.registriesConf ?? '');
  const policy = join(dir, 'policy.json');
  await writeFile(policy, JSON.stringify(parts.policy ?? ACCEPT_ANYTHING, null, 2));
  const registriesD = join(dir, 'registries.d');
  await mkdir(registriesD, { recursive: true });
  for (const [name, text] of Object.entries(parts.registriesD ?? {})) await writeFile(join(registriesD, name), text);
  return { registriesConf, policy, registriesD };
}

export interface Verdict {
  readonly ok: boolean;
  readonly output: string;
}

/** skopeo copy of `ref` (docker://…) to an oci-archive under the same configuration. */
export async function skopeoVerdict(config: ContainersConfig, ref: string, dir: string, extra: string[] = []): Promise<Verdict> {
  const args = ['--registries-conf', config.registriesConf, '--policy', config.policy, '--registries.d', config.registriesD, 'copy', '--quiet', '--remove-signatures', ...extra, `docker://${ref}`, `oci-archive:${join(dir, `skopeo-${Date.now()}-${Math.random()}.tar`)}`];
  try {
    const { stdout, stderr } = await exec('skopeo', args, { timeout: 60_000 });
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return { ok: false, output: e.stderr ?? e.message };
  }
}

/** A description holding the one container `ref` (host/path/name:tag). */
export async function descriptionFor(dir: string, ref: string): Promise<string> {
  const m = /^([^/]+)\/(.+)\/([^/:]+):([^/@]+)$/.exec(ref);
  if (!m) throw new Error(`test reference ${ref} must be host/path/name:tag`);
  const file = join(dir, `appliance-${Math.random().toString(36).slice(2)}.xml`);
  await writeFile(file, description(`  <containers source="${m[1]}" backend="podman">\n    <container name="${m[3]}" path="${m[2]}" tag="${m[4]}"/>\n  </containers>`));
  return file;
}

/** imgdesc build of that description under the same configuration. */
export async function imgdescBuild(config: ContainersConfig, ref: string, dir: string, extra: string[] = []): Promise<CliResult & { root: string }> {
  const desc = await descriptionFor(dir, ref);
  const root = join(dir, `root-${Math.random().toString(36).slice(2)}`);
  return { root, ...(await runCli(['build', desc, '--root', root, '--registries-conf', config.registriesConf, '--policy', config.policy, '--registries.d', config.registriesD, '--target-arch', 'x86_64', '--no-cache', '--json', ...extra])) };
}

/** The archives a build left in its root (none after a refusal). */
export async function archivesIn(root: string): Promise<string[]> {
  return readdir(join(root, 'var/tmp/kiwi_containers')).catch(() => []);
}
