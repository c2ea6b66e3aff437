import { homedir } from 'node:os';
import { join } from 'node:path';
import { sharedFileWorkers } from '../../cache/file-workers.js';
import { lockPathFor, missingFromLock, readLock } from '../../lock/lock-file.js';
import { RootDirOutput } from '../../output/root-dir.js';
import { build } from '../../pipeline/build.js';
import { DEFAULT_JOBS, type BuildEvent } from '../../pipeline/options.js';
import { containerDirFor } from '../../source/candidates.js';
import { loadDescription } from '../../description/load.js';
import { AbortedError, DescriptionInvalidError, UsageError } from '../../errors.js';
import { makePlan } from '../../plan/plan.js';
import { DEFAULT_RETRY } from '../../registry/retry.js';
import { positiveInt, REGISTRY_OPTIONS, registryOptionsFrom } from '../registry-options.js';
import { parseCommand, SELECTION_OPTIONS, selectionFrom } from '../args.js';
import { SOURCE_OPTIONS, sourceChoicesFrom } from '../source-options.js';
import { EXIT } from '../exit-codes.js';
import type { Io } from '../io.js';
import { version } from '../version.js';
import { buildJson, buildText } from '../../report/report.js';
import { plainProgress, ttyProgress } from '../progress.js';

export const BUILD_HELP = `usage: imgdesc build DESCRIPTION [--root DIR] [--profile NAME]... [--target-arch ARCH]
              [--source REF=TRANSPORT:LOCATION]... [--local-store podman|docker|none]
              [--container-dir DIR] [--offline] [--authfile FILE] [--tls-verify=false]
              [--cert-dir DIR] [--retries N] [--timeout SECONDS] [--templates DIR]
              [--cache-dir DIR | --no-cache] [--jobs N] [--locked] [--json] [--quiet]

Fetches every planned container into an oci-archive at
ROOT/var/tmp/kiwi_containers/<name>_<tag>, named inside by its full reference,
then writes and enables the systemd units that load the non-fetch_only ones
into their backend on first boot (kiwi_containers.service).

  --root DIR           image root to write into (default ./build/root; created if missing)
  --source REF=TRANSPORT:LOCATION
                       take the planned image REF (as imgdesc plan prints it) from exactly
                       this source: docker://HOST/REPO[:TAG|@DIGEST], oci:DIR[:NAME],
                       oci-archive:FILE[:NAME], docker-archive:FILE[:NAME],
                       containers-storage:NAME, docker-daemon:NAME (repeatable)
  --local-store STORE  podman, docker or none (default): look every other image up in
                       that store first, by its planned reference
  --container-dir DIR  pre-fetched images: DIR/<reference>.ociarchive or an OCI layout at
                       DIR/<reference>/ (OBS _obsrepositories layout); on an OBS worker
                       (/.buildenv) the default is /usr/src/packages/SOURCES/containers/_obsrepositories
  --offline            never use the network; a missing pre-fetched image is an error
  --authfile FILE      registry credentials (containers-auth.json); default lookup as podman
  --tls-verify=false   allow plain http and unverified https (local registries only)
  --cert-dir DIR       trust DIR/*.crt as CAs (in addition to /etc/containers/certs.d/HOST/)
  --retries N          attempts per registry request (default ${DEFAULT_RETRY.attempts})
  --timeout SECONDS    give up on a connection that sends nothing for this long (default 60)
  --templates DIR      unit templates to use instead of the shipped ones (see README)
  --cache-dir DIR      blob cache (default $XDG_CACHE_HOME/imgdesc or ~/.cache/imgdesc)
  --no-cache           use no persistent cache (a scratch store, removed afterwards)
  -j, --jobs N         parallel downloads, manifest lookups and archive writes
                       (default ${DEFAULT_JOBS})
  --locked             require the lock file (<description>.lock.json) to cover the build
  --json               print the report as JSON on stdout, nothing else
  --quiet              print nothing but errors

When <description>.lock.json exists (see imgdesc lock), images it pins are
fetched by digest. Archive entries get their mtime from SOURCE_DATE_EPOCH
(0 when unset).`;

const BUILD_OPTIONS = {
  ...SELECTION_OPTIONS,
  ...REGISTRY_OPTIONS,
  ...SOURCE_OPTIONS,
  root: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  templates: { type: 'string' },
  'cache-dir': { type: 'string' },
  'no-cache': { type: 'boolean' },
  jobs: { type: 'string', short: 'j' },
  locked: { type: 'boolean' },
} as const;


/** $XDG_CACHE_HOME/imgdesc, or ~/.cache/imgdesc. */
export function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'imgdesc');
}

export function sourceDateEpoch(env: NodeJS.ProcessEnv): number {
  const v = env.SOURCE_DATE_EPOCH;
  if (v === undefined || v === '') return 0;
  if (!/^\d+$/.test(v)) throw new UsageError(`SOURCE_DATE_EPOCH must be a whole number of seconds, not ${JSON.stringify(v)}`);
  return Number(v);
}

/** Ends work on SIGINT/SIGTERM; removes the handlers when done. */
export function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => controller.abort(new AbortedError(`interrupted by ${name}`, name));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

export async function buildCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommand('build', argv, BUILD_OPTIONS);
  if (values.help) {
    io.out(BUILD_HELP);
    return EXIT.OK;
  }
  const sel = selectionFrom('build', values, positionals);
  const registry = registryOptionsFrom('build', values);
  const mtime = sourceDateEpoch(process.env);
  const quiet = Boolean(values.quiet) || sel.json;

  const jobs = positiveInt('build', 'jobs', values.jobs, DEFAULT_JOBS);
  if (values['no-cache'] && values['cache-dir']) throw new UsageError('build: --no-cache and --cache-dir exclude each other');
  const cacheDir = values['no-cache'] ? undefined : ((values['cache-dir'] as string | undefined) ?? defaultCacheDir(process.env));

  const description = await loadDescription(sel.description);
  const plan = makePlan(description, { profiles: sel.profiles, arch: sel.arch });
  const offline = Boolean(values.offline);
  const sources = sourceChoicesFrom('build', values, [plan], offline);
  if (!quiet) for (const note of plan.notes) io.err(`note: ${note}`);
  const lockFile = lockPathFor(description.file);
  const lock = await readLock(lockFile);
  if (values.locked) {
    if (!lock) throw new DescriptionInvalidError(lockFile, [{ message: '--locked, but there is no lock file; run imgdesc lock first', path: '', line: null }]);
    const missing = missingFromLock(lock, plan);
    if (missing.length) {
      throw new DescriptionInvalidError(lockFile, [
        { message: `--locked, but the lock no longer matches the description: no entry for ${missing.join(', ')} on ${plan.arch}; run imgdesc lock`, path: '', line: null },
      ]);
    }
  } else if (lock && !quiet) {
    const missing = missingFromLock(lock, plan);
    if (missing.length) io.err(`note: ${lockFile} has no entry for ${missing.join(', ')} on ${plan.arch}; fetched by tag`);
  }

  const progress = quiet ? null : io.errTty ? ttyProgress(io.errTty) : plainProgress((l) => io.err(l));
  const onEvent = progress ? (e: BuildEvent) => progress.onEvent(e) : undefined;
  const interrupt = interruptSignal();
  try {
    const output = await RootDirOutput.open((values.root as string | undefined) ?? 'build/root');
    const result = await build(plan, {
      output,
      sources: { ...sources, containerDir: containerDirFor(values['container-dir'] as string | undefined), offline },
      registry,
      mtime,
      templatesDir: values.templates as string | undefined,
      workers: sharedFileWorkers(),
      cacheDir,
      jobs,
      lock,
      generator: `imgdesc ${version()}`,
      signal: interrupt.signal,
      onEvent,
    });
    progress?.stop();
    if (sel.json) io.out(JSON.stringify(buildJson(result), null, 2));
    else if (!quiet) io.out(buildText(result));
    if (!quiet) for (const img of result.images) for (const w of img.warnings) io.err(`warning: ${w}`);
    return EXIT.OK;
  } finally {
    progress?.stop();
    interrupt.dispose();
  }
}
