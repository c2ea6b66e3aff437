import { homedir } from 'node:os';
import { join } from 'node:path';
import { lockPathFor, missingFromLock, readLock } from '../../lock/lock-file.js';
import { openOverlay } from '../../output/overlay-file.js';
import { RootDirOutput } from '../../output/root-dir.js';
import type { ImageOutput } from '../../output/types.js';
import { build } from '../../pipeline/build.js';
import { DEFAULT_JOBS, type BuildEvent, type BuildOptions, type BuildResult } from '../../pipeline/options.js';
import type { Plan } from '../../plan/plan.js';
import type { LockFile } from '../../lock/lock-file.js';
import { containerDirFor } from '../../source/candidates.js';
import { loadDescription } from '../../description/load.js';
import { DescriptionInvalidError, UsageError } from '../../errors.js';
import { makePlan } from '../../plan/plan.js';
import { positiveInt, REGISTRY_HELP, REGISTRY_OPTIONS, registriesConfFrom, registryOptionsFrom } from '../registry-options.js';
import { parseCommand, SELECTION_OPTIONS, selectionFrom } from '../args.js';
import { SOURCE_OPTIONS, sourceChoicesFrom } from '../source-options.js';
import { POLICY_HELP, POLICY_OPTIONS, trustFrom } from '../trust-options.js';
import { EXIT } from '../exit-codes.js';
import type { Io } from '../io.js';
import { version } from '../version.js';
import { interruptSignal } from '../interrupt.js';
import { buildJson, buildText } from '../../report/report.js';
import { plainProgress, ttyProgress } from '../progress.js';

export const BUILD_HELP = `usage: imgdesc build DESCRIPTION [--root DIR | --overlay FILE.tar|-] [--profile NAME]... [--target-arch ARCH]
              [--source REF=TRANSPORT:LOCATION]... [--local-store podman|docker|none]
              [--container-dir DIR] [--offline] [--authfile FILE] [--tls-verify=false]
              [--cert-dir DIR] [--retries N] [--timeout SECONDS] [--registries-conf FILE]
              [--policy FILE | --insecure-policy] [--registries.d DIR] [--templates DIR]
              [--cache-dir DIR | --no-cache] [--verify-cache] [--jobs N] [--locked] [--json] [--quiet]

Fetches every planned container into an oci-archive at
ROOT/var/tmp/kiwi_containers/<name>_<tag>, named inside by its full reference,
then writes and enables the systemd units that load the non-fetch_only ones
into their backend on first boot (kiwi_containers.service).

  --root DIR           image root to write into (default ./build/root; created if missing)
  --overlay FILE|-     write what --root would add as one reproducible tar instead (sorted
                       entries, uid/gid 0, mtime SOURCE_DATE_EPOCH), for KIWI <archive>,
                       mkosi --extra-tree, a Containerfile ADD; - is standard output
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
${REGISTRY_HELP}
${POLICY_HELP}
  --templates DIR      unit templates to use instead of the shipped ones (see README)
  --cache-dir DIR      blob cache (default $XDG_CACHE_HOME/imgdesc or ~/.cache/imgdesc)
  --no-cache           use no persistent cache (a scratch store, removed afterwards)
  --verify-cache       hash every cached blob this build uses; otherwise a blob an earlier
                       build verified is trusted while its file is unchanged (device, inode,
                       size, mtime, ctime)
  -j, --jobs N         parallel downloads, manifest lookups and archive writes
                       (default ${DEFAULT_JOBS})
  --locked             require the lock file (<description>.lock.json) to cover the build
  --json               print the report as JSON on stdout, nothing else
  --quiet              print nothing but errors

When <description>.lock.json exists (see imgdesc lock), images it pins are
fetched by digest. Archive entries get their mtime from SOURCE_DATE_EPOCH
(0 when unset).`;

export const BUILD_OPTIONS = {
  ...SELECTION_OPTIONS,
  ...REGISTRY_OPTIONS,
  ...SOURCE_OPTIONS,
  ...POLICY_OPTIONS,
  root: { type: 'string' },
  overlay: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  templates: { type: 'string' },
  'cache-dir': { type: 'string' },
  'no-cache': { type: 'boolean' },
  'verify-cache': { type: 'boolean' },
  jobs: { type: 'string', short: 'j' },
  locked: { type: 'boolean' },
} as const;


type BuildValues = ReturnType<typeof parseCommand<typeof BUILD_OPTIONS>>['values'];

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

/** Lives in ../interrupt.ts (pull and push use it without loading build); kept here for compile and lock. */
export { interruptSignal } from '../interrupt.js';

/** Everything a build needs from the command line, short of where its files go. */
export interface BuildSetup {
  readonly plan: Plan;
  readonly options: Omit<BuildOptions, 'output' | 'signal' | 'onEvent'>;
  readonly json: boolean;
  readonly quiet: boolean;
}

/** Reads the options build and compile share, the description and its lock; prints the plan's notes. */
export async function buildSetup(command: string, values: BuildValues, positionals: string[], io: Io): Promise<BuildSetup> {
  const sel = selectionFrom(command, values, positionals);
  const registry = registryOptionsFrom(command, values);
  const mtime = sourceDateEpoch(process.env);
  const quiet = Boolean(values.quiet) || sel.json;
  const jobs = positiveInt(command, 'jobs', values.jobs, DEFAULT_JOBS);
  if (values['no-cache'] && values['cache-dir']) throw new UsageError(`${command}: --no-cache and --cache-dir exclude each other`);
  const cacheDir = values['no-cache'] ? undefined : (values['cache-dir'] ?? defaultCacheDir(process.env));

  const description = await loadDescription(sel.description);
  const plan = makePlan(description, { profiles: sel.profiles, arch: sel.arch });
  const offline = Boolean(values.offline);
  const sources = sourceChoicesFrom(command, values, [plan], offline);
  if (!quiet) for (const note of plan.notes) io.err(`note: ${note}`);
  const lock = await checkedLock(lockPathFor(description.file), plan, Boolean(values.locked), quiet, io);
  const registriesConf = await registriesConfFrom(values);
  const trust = await trustFrom(command, values);
  return {
    plan,
    json: sel.json,
    quiet,
    options: {
      sources: { ...sources, containerDir: containerDirFor(values['container-dir']), offline },
      registry,
      registriesConf,
      trust,
      mtime,
      templatesDir: values.templates,
      cacheDir,
      verifyCache: Boolean(values['verify-cache']),
      jobs,
      lock,
      generator: `imgdesc ${version()}`,
    },
  };
}

/** The lock beside the description; with --locked it must exist and cover the plan. */
async function checkedLock(lockFile: string, plan: Plan, locked: boolean, quiet: boolean, io: Io): Promise<LockFile | null> {
  const lock = await readLock(lockFile);
  if (locked) {
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
  return lock;
}

/** Runs the build into `output`, with progress and SIGINT/SIGTERM handling. */
export async function runBuild(setup: BuildSetup, output: ImageOutput, io: Io): Promise<BuildResult> {
  const progress = setup.quiet ? null : io.errTty ? ttyProgress(io.errTty) : plainProgress((l) => io.err(l));
  const interrupt = interruptSignal();
  try {
    return await build(setup.plan, { ...setup.options, output, signal: interrupt.signal, onEvent: progress ? (e: BuildEvent) => progress.onEvent(e) : undefined });
  } finally {
    progress?.stop();
    interrupt.dispose();
  }
}

/** The report: JSON or text on stdout, warnings on stderr (text on stderr when stdout carries the overlay). */
export function report(setup: BuildSetup, result: BuildResult, io: Io, stdoutTaken = false): void {
  if (setup.json) io.out(JSON.stringify(buildJson(result), null, 2));
  else if (!setup.quiet) (stdoutTaken ? io.err : io.out)(buildText(result));
  if (!setup.quiet) {
    for (const img of result.images) for (const n of img.notes) io.err(`note: ${n}`);
    for (const img of result.images) for (const w of img.warnings) io.err(`warning: ${w}`);
  }
}

export async function buildCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommand('build', argv, BUILD_OPTIONS);
  if (values.help) {
    io.out(BUILD_HELP);
    return EXIT.OK;
  }
  const overlay = values.overlay;
  if (overlay !== undefined && values.root !== undefined) throw new UsageError('build: --overlay and --root exclude each other');
  if (overlay === '-' && values.json) throw new UsageError('build: --overlay - writes the tar to standard output; --json cannot share it');
  const setup = await buildSetup('build', values, positionals, io);
  if (overlay === undefined) {
    report(setup, await runBuild(setup, await RootDirOutput.open(values.root ?? 'build/root'), io), io);
    return EXIT.OK;
  }
  const target = await openOverlay(overlay, setup.options.mtime);
  let result: BuildResult;
  try {
    result = await runBuild(setup, target.output, io);
    await target.commit();
  } catch (err) {
    await target.abort();
    throw err;
  }
  report(setup, result, io, overlay === '-');
  return EXIT.OK;
}
