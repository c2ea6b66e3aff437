// --source REF=TRANSPORT:LOCATION and --local-store, shared by build and lock.

import { UsageError, ValueFormatError } from '../errors.js';
import type { Plan } from '../plan/plan.js';
import { PODMAN_STORE } from '../source/containers-storage.js';
import { DOCKER_STORE } from '../source/docker-daemon.js';
import type { LocalStore } from '../source/local-store.js';
import { parseSourceRef } from '../source/transports.js';
import type { SourceRef } from '../source/types.js';

export const SOURCE_OPTIONS = {
  source: { type: 'string', multiple: true },
  'local-store': { type: 'string' },
} as const;

const STORES: Readonly<Record<string, LocalStore | undefined>> = { podman: PODMAN_STORE, docker: DOCKER_STORE, none: undefined };

export interface SourceChoices {
  readonly overrides: ReadonlyMap<string, SourceRef>;
  readonly localStore?: LocalStore;
}

function override(command: string, text: string, planned: ReadonlySet<string>, offline: boolean): [string, SourceRef] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`${command}: --source takes REF=TRANSPORT:LOCATION, not ${JSON.stringify(text)}`);
  const reference = text.slice(0, eq);
  if (!planned.has(reference)) {
    throw new UsageError(`${command}: --source ${reference}: not a planned image; planned: ${planned.size ? [...planned].join(', ') : '(none)'}`);
  }
  let ref: SourceRef;
  try {
    ref = parseSourceRef(text.slice(eq + 1));
  } catch (err) {
    if (err instanceof ValueFormatError) throw new UsageError(`${command}: --source ${reference}: ${err.message}`);
    throw err;
  }
  if (offline && ref.transport === 'docker') throw new UsageError(`${command}: --source ${reference}: --offline forbids a docker:// source`);
  return [reference, ref];
}

/** The sources the command line chose, checked against the planned images of every plan. */
export function sourceChoicesFrom(command: string, values: { source?: string[]; 'local-store'?: string }, plans: readonly Plan[], offline: boolean): SourceChoices {
  const name = values['local-store'] ?? 'none';
  if (!(name in STORES)) throw new UsageError(`${command}: --local-store takes podman, docker or none, not ${JSON.stringify(name)}`);
  const planned = new Set(plans.flatMap((p) => p.containers.map((c) => c.reference)));
  const overrides = new Map<string, SourceRef>();
  for (const text of values.source ?? []) {
    const [reference, ref] = override(command, text, planned, offline);
    if (overrides.has(reference)) throw new UsageError(`${command}: --source ${reference} is given twice`);
    overrides.set(reference, ref);
  }
  return { overrides, localStore: STORES[name] };
}
