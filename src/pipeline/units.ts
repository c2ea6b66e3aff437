// Units: rendered once every image is resolved (a template that does not
// compile stops the build early), installed only after every archive is in
// place, so they never point at archives that are not there.

import type { PlannedContainer } from '../plan/plan.js';
import type { ImageOutput } from '../output/types.js';
import { installUnits } from '../units/install.js';
import { renderUnits, type RenderedUnits } from '../units/render.js';

/**
 * Starts rendering when `ready` settles. Rendering takes this thread tens of
 * milliseconds (more for a template it must compile); by then the thread
 * mostly waits on the file threads and the network.
 */
export function renderWhenResolved(ready: Promise<unknown>, containers: readonly PlannedContainer[], opts: { templatesDir?: string; generator: string }): Promise<RenderedUnits> {
  return ready.then(() => renderUnits(containers.filter((c) => c.load), opts));
}

export async function installRendered(output: ImageOutput, units: RenderedUnits): Promise<readonly string[]> {
  await installUnits(output, units);
  return units.files.map((f) => f.path);
}
