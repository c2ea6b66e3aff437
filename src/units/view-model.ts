// What the unit templates get to see. The README documents these variables
// for authors who bring their own templates (--templates DIR).

import type { Backend } from '../description/model.js';
import { OutputError } from '../errors.js';
import { escapePath, MAX_UNIT_NAME } from './escape.js';

export interface LoadTemplateView {
  /** podman, docker or container-snap. */
  readonly backend: Backend;
  /** /usr/bin/<backend>. */
  readonly binary: string;
  /** The daemon a load needs running first, e.g. docker.service; null for podman. */
  readonly daemon: string | null;
  readonly generator: string;
}

export interface LoadInstance {
  /** Instance unit name, e.g. imgdesc-load-podman@var-tmp-kiwi_containers-hello_1.0.service. */
  readonly unit: string;
  /** The template unit it is an instance of, e.g. imgdesc-load-podman@.service. */
  readonly template: string;
  readonly reference: string;
  readonly archive: string;
  readonly backend: Backend;
}

export interface AggregateTemplateView {
  readonly loads: readonly LoadInstance[];
  /** Daemons any load needs, sorted. */
  readonly daemons: readonly string[];
  readonly generator: string;
}

const DAEMONS: Record<Backend, string | null> = { podman: null, docker: 'docker.service', 'container-snap': 'container-snap.service' };

export const templateUnitName = (backend: Backend) => `imgdesc-load-${backend}@.service`;

export function loadView(backend: Backend, generator: string): LoadTemplateView {
  return { backend, binary: `/usr/bin/${backend}`, daemon: DAEMONS[backend], generator };
}

export function loadInstance(image: { reference: string; archive: string; backend: Backend }): LoadInstance {
  const template = templateUnitName(image.backend);
  const unit = template.replace('@.service', `@${escapePath(image.archive)}.service`);
  if (unit.length > MAX_UNIT_NAME) {
    throw new OutputError(`the load unit for ${image.reference} would be named with ${unit.length} characters; systemd allows ${MAX_UNIT_NAME} (shorten the name or tag)`, image.archive);
  }
  return { unit, template, reference: image.reference, archive: image.archive, backend: image.backend };
}

export function aggregateView(loads: readonly LoadInstance[], generator: string): AggregateTemplateView {
  const daemons = [...new Set(loads.map((l) => DAEMONS[l.backend]).filter((d): d is string => d !== null))].sort();
  return { loads, daemons, generator };
}
