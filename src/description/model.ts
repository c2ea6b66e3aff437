// The typed, frozen view of a validated description that the planner works on.
// Only what selection and planning need is modelled; every item keeps its
// element path and line so later stages can point back at the description.

export type Backend = 'podman' | 'docker' | 'container-snap';
export const BACKENDS: readonly Backend[] = ['podman', 'docker', 'container-snap'];

export interface Origin {
  readonly path: string;
  readonly line: number;
}

export interface ProfileRequirement extends Origin {
  readonly profile: string;
  /** null: any architecture. */
  readonly arch: readonly string[] | null;
}

export interface Profile extends Origin {
  readonly name: string;
  readonly description: string;
  readonly import: boolean;
  readonly arch: readonly string[] | null;
  readonly requires: readonly ProfileRequirement[];
}

export interface ContainerEntry extends Origin {
  readonly name: string;
  /** Repository path between source and name, without leading or trailing "/"; "" for none. */
  readonly repoPath: string;
  /** As written; null when the attribute is absent (KIWI then uses "latest"). */
  readonly tag: string | null;
  readonly fetchOnly: boolean;
  readonly arch: readonly string[] | null;
}

export interface ContainersSection extends Origin {
  readonly source: string;
  readonly backend: Backend;
  /** null: applies to every selection. */
  readonly profiles: readonly string[] | null;
  readonly arch: readonly string[] | null;
  readonly containers: readonly ContainerEntry[];
}

export interface Description {
  /** The file the description was read from. */
  readonly file: string;
  /** schemaversion as written (the model is always the current version's). */
  readonly schemaVersion: string;
  readonly image: {
    readonly name: string;
    readonly displayName: string | null;
    readonly id: string | null;
  };
  readonly profiles: readonly Profile[];
  readonly containers: readonly ContainersSection[];
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}
