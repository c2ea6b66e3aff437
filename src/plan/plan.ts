// (model, profiles, target arch) -> what to fetch and where it goes. Pure: no
// I/O, the same inputs always give the same plan.

import { createHash } from 'node:crypto';
import type { Backend, Description } from '../description/model.js';
import { Reference } from '../oci/reference.js';
import { matchesArch, platformFor, sectionApplies, selectProfiles } from './select.js';

/** Where archives live inside the image root; fixed, as in KIWI. */
export const ARCHIVE_DIR = '/var/tmp/kiwi_containers';

export interface PlannedContainer {
  /** Full reference: source[/path]/name:tag. */
  readonly ref: Reference;
  /** `ref` as text, the form reports and the lock file use. */
  readonly reference: string;
  /** Absolute path of the oci-archive inside the image root. */
  readonly archive: string;
  readonly backend: Backend;
  /** false for fetch_only containers: placed, never loaded. */
  readonly load: boolean;
  /** OCI platform to select from an index, e.g. linux/arm64/v8. */
  readonly platform: string;
  /** The <container> element this came from. */
  readonly origin: { readonly path: string; readonly line: number };
}

export interface Plan {
  readonly description: string;
  readonly image: { readonly name: string };
  readonly profiles: readonly string[];
  readonly arch: string;
  readonly platform: string;
  readonly containers: readonly PlannedContainer[];
  /** Things the author may want to know (duplicates merged, names disambiguated). */
  readonly notes: readonly string[];
}

export interface PlanOptions {
  readonly profiles?: readonly string[];
  /** `uname -m` name of the target. */
  readonly arch: string;
}

/** Joins source, path and name the way KIWI normalises them (no doubled or trailing "/"). */
export function referenceOf(source: string, repoPath: string, name: string, tag: string): Reference {
  const trimmed = source.replace(/\/+$/, '');
  const slash = trimmed.indexOf('/');
  const registry = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const repository = [slash === -1 ? '' : trimmed.slice(slash + 1), repoPath, name].filter((p) => p !== '').join('/');
  return Reference.of(registry, repository, tag);
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

export function makePlan(desc: Description, options: PlanOptions): Plan {
  const arch = options.arch;
  const platform = platformFor(arch);
  const profiles = selectProfiles(desc, options.profiles ?? [], arch);
  const notes: string[] = [];
  const containers: PlannedContainer[] = [];
  const byKey = new Map<string, PlannedContainer>();
  const takenFiles = new Map<string, PlannedContainer>();

  for (const section of desc.containers) {
    if (!sectionApplies(section.profiles, profiles) || !matchesArch(section.arch, arch)) continue;
    for (const c of section.containers) {
      if (!matchesArch(c.arch, arch)) continue;
      const tag = c.tag ?? 'latest';
      const ref = referenceOf(section.source, c.repoPath, c.name, tag);
      const reference = ref.toString();
      const load = !c.fetchOnly;
      const key = `${reference}\0${section.backend}\0${load}`;
      const same = byKey.get(key);
      if (same) {
        notes.push(`${c.path} (line ${c.line}) repeats ${same.origin.path} (line ${same.origin.line}): ${reference} is planned once`);
        continue;
      }
      // KIWI's file name, with "/" in a name flattened so it never makes directories.
      let file = `${c.name.replace(/\//g, '_')}_${tag}`;
      const holder = takenFiles.get(file);
      if (holder) {
        const unique = `${file}_${shortHash(`${reference} ${section.backend}${load ? '' : ' fetch-only'}`)}`;
        notes.push(
          `${c.path} (line ${c.line}): archive name ${file} is already used by ${holder.reference} (line ${holder.origin.line}); ` +
            `${reference} is written to ${unique} instead`,
        );
        file = unique;
      }
      const planned: PlannedContainer = Object.freeze({
        ref,
        reference,
        archive: `${ARCHIVE_DIR}/${file}`,
        backend: section.backend,
        load,
        platform,
        origin: Object.freeze({ path: c.path, line: c.line }),
      });
      takenFiles.set(file, planned);
      byKey.set(key, planned);
      containers.push(planned);
    }
  }
  return Object.freeze({
    description: desc.file,
    image: Object.freeze({ name: desc.image.name }),
    profiles: Object.freeze(profiles),
    arch,
    platform,
    containers: Object.freeze(containers),
    notes: Object.freeze(notes),
  });
}
