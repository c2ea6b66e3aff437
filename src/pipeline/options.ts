// What a build is asked to do and what it reports back.

import type { FileWorkers } from '../cache/file-workers.js';
import type { LockFile } from '../lock/lock-file.js';
import type { Descriptor } from '../oci/manifest.js';
import type { ImageOutput } from '../output/types.js';
import type { PlannedContainer } from '../plan/plan.js';
import type { RegistryClientOptions } from '../registry/client.js';
import type { RegistriesConf } from '../registry/registries-conf.js';
import type { CandidateOptions } from '../source/candidates.js';
import type { TrustConfig, Verdict } from '../signatures/verify.js';

/** Parallel downloads, manifest lookups and archive writes (Docker pulls 3 at a time). */
export const DEFAULT_JOBS = 4;

export interface BuildOptions {
  /** Where the image's files go. */
  readonly output: ImageOutput;
  /** Where images may come from besides the registry, and whether the network may be used. */
  readonly sources: CandidateOptions;
  readonly registry: Omit<RegistryClientOptions, 'userAgent'>;
  /** Mirrors, rewrites, insecure and blocked registries; default: none. */
  readonly registriesConf?: RegistriesConf;
  /** The signature policy; undefined: none consulted (as --insecure-policy). */
  readonly trust?: TrustConfig;
  /** Seconds since the epoch for archive entries (SOURCE_DATE_EPOCH). */
  readonly mtime: number;
  readonly signal: AbortSignal;
  readonly onEvent?: (event: BuildEvent) => void;
  /** Directory with load.service.hbs and kiwi_containers.service.hbs; default: the shipped templates. */
  readonly templatesDir?: string;
  /** "imgdesc <version>", written into generated files. */
  readonly generator: string;
  /** Persistent blob cache; undefined: a scratch store removed afterwards. */
  readonly cacheDir?: string;
  /** Hash every cached blob this build uses, even those an earlier build verified. */
  readonly verifyCache?: boolean;
  /** Parallel downloads and archive writes. */
  readonly jobs?: number;
  /** Pins from the lock file, when there is one. */
  readonly lock?: LockFile | null;
  /** Threads that hash and copy blobs, stopped when the build ends; default: a new pool. */
  readonly workers?: FileWorkers;
}

export type BuildEvent =
  | { type: 'start'; container: PlannedContainer; origin: string; total: number }
  | { type: 'bytes'; container: PlannedContainer; bytes: number }
  | { type: 'done'; container: PlannedContainer; result: BuiltImage };

export interface BuiltImage {
  readonly reference: string;
  /** Path inside the image. */
  readonly archive: string;
  /** Path on this machine; null when the output is not a directory. */
  readonly file: string | null;
  readonly digest: string;
  readonly indexDigest: string | null;
  readonly platform: string;
  /** Archive size in bytes. */
  readonly size: number;
  /** Sum of the layers' uncompressed sizes (what loading needs); null when unknown. */
  readonly uncompressedSize: number | null;
  readonly backend: PlannedContainer['backend'];
  readonly load: boolean;
  /** Which source served the image: "registry HOST", "mirror HOST", "oci-archive FILE". */
  readonly origin: string;
  readonly warnings: readonly string[];
  /** The policy requirements that accepted the image; null when no policy was consulted. */
  readonly accepted: Verdict;
  /** What happened on the way (a mirror that gave way). */
  readonly notes: readonly string[];
  /** Resolution details, for the lock file. */
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly manifestMediaType: string;
  readonly manifestSize: number;
}

export interface BuildResult {
  /** The output, as it describes itself ("root /srv/root"). */
  readonly output: string;
  /** The root directory, when the output is one. */
  readonly root: string | null;
  readonly images: readonly BuiltImage[];
  /** In-image paths of the unit files written (empty when nothing is loaded). */
  readonly units: readonly string[];
  /** The policy consulted: null when no policy file exists; file null with insecure for --insecure-policy. */
  readonly policy: PolicyUsed | null;
}

export interface PolicyUsed {
  readonly file: string | null;
  readonly insecure: boolean;
}

export function policyUsed(trust: TrustConfig | undefined): PolicyUsed | null {
  if (!trust) return null;
  if (trust.insecure) return { file: null, insecure: true };
  return trust.policy ? { file: trust.policy.file, insecure: false } : null;
}
