// Renders the first-boot units from handlebars templates. Pure apart from
// reading the templates: returns file contents and the links `systemctl
// enable` would make, all as in-image paths. install.ts writes them.

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Handlebars from 'handlebars';
// The runtime alone runs precompiled templates; the compiler is loaded only
// for templates that differ from the shipped ones.
import runtimeModule from 'handlebars/runtime.js';
import type { Backend } from '../description/model.js';
import { UsageError } from '../errors.js';
import { readTextFile } from '../util/text-file.js';
import { shippedTemplates } from './shipped-templates.js';
import { TEMPLATE_OPTIONS } from './template-options.js';
import { aggregateView, loadInstance, loadView, templateUnitName } from './view-model.js';

// handlebars' own typing of its runtime declares nothing; it is the full API minus compile.
const runtime = runtimeModule as unknown as Pick<typeof Handlebars, 'template'>;

export const DEFAULT_TEMPLATES = fileURLToPath(new URL('../../templates/', import.meta.url));
export const UNIT_DIR = '/etc/systemd/system';
export const AGGREGATE_UNIT = 'kiwi_containers.service';
const TEMPLATE_FILES = { load: 'load.service.hbs', aggregate: 'kiwi_containers.service.hbs' } as const;
/** A unit template is a page of text; anything bigger is refused before compiling. */
export const MAX_TEMPLATE_BYTES = 1024 * 1024;

export interface RenderedUnits {
  /** In-image path -> content. Sorted by path. */
  readonly files: ReadonlyArray<{ readonly path: string; readonly content: string }>;
  /** Symlinks as `systemctl enable` makes them: in-image link path -> in-image target. */
  readonly links: ReadonlyArray<{ readonly path: string; readonly target: string }>;
  /** Instance unit names, in plan order. */
  readonly loadUnits: readonly string[];
}

export interface LoadableImage {
  readonly reference: string;
  readonly archive: string;
  readonly backend: Backend;
}

async function compile(dir: string, file: string): Promise<Handlebars.TemplateDelegate> {
  const path = join(dir, file);
  const read = await readTextFile(path, MAX_TEMPLATE_BYTES);
  if (!read.ok) throw new UsageError(`unit template ${path} cannot be read: ${read.reason}`, { cause: read.cause });
  const text = read.text;
  // The shipped command carries the shipped templates precompiled; the sources compile every one.
  const ready = shippedTemplates[file];
  if (ready?.source === text) return runtime.template(ready.spec as Parameters<typeof runtime.template>[0]);
  const { default: compiler } = await import('handlebars');
  try {
    // compile() parses on first use; parse now so a syntax error is reported as one.
    compiler.parse(text);
    return compiler.compile(text, TEMPLATE_OPTIONS);
  } catch (err) {
    throw new UsageError(`unit template ${path} is not valid handlebars: ${(err as Error).message}`, { cause: err });
  }
}

function run(t: Handlebars.TemplateDelegate, view: object, file: string): string {
  try {
    const out = t(view);
    return out.endsWith('\n') ? out : `${out}\n`;
  } catch (err) {
    // What the compiler finds on first use, and runtime failures: a variable
    // not defined (strict mode), a missing helper or partial.
    throw new UsageError(`unit template ${file}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
}

export async function renderUnits(images: readonly LoadableImage[], options: { templatesDir?: string; generator: string }): Promise<RenderedUnits> {
  if (images.length === 0) return { files: [], links: [], loadUnits: [] };
  const dir = options.templatesDir ?? DEFAULT_TEMPLATES;
  const loadTemplate = await compile(dir, TEMPLATE_FILES.load);
  const aggregateTemplate = await compile(dir, TEMPLATE_FILES.aggregate);

  const loads = images.map(loadInstance);
  const files: Array<{ path: string; content: string }> = [];
  const backends = [...new Set(images.map((i) => i.backend))].sort();
  for (const backend of backends) {
    files.push({ path: `${UNIT_DIR}/${templateUnitName(backend)}`, content: run(loadTemplate, loadView(backend, options.generator), join(dir, TEMPLATE_FILES.load)) });
  }
  files.push({ path: `${UNIT_DIR}/${AGGREGATE_UNIT}`, content: run(aggregateTemplate, aggregateView(loads, options.generator), join(dir, TEMPLATE_FILES.aggregate)) });
  const links = [
    { path: `${UNIT_DIR}/multi-user.target.wants/${AGGREGATE_UNIT}`, target: `${UNIT_DIR}/${AGGREGATE_UNIT}` },
    ...loads.map((l) => ({ path: `${UNIT_DIR}/${AGGREGATE_UNIT}.wants/${l.unit}`, target: `${UNIT_DIR}/${l.template}` })),
  ];
  // Code-unit order: the same on every machine (localeCompare follows the
  // locale, and its first call builds ICU's collator, ~7 ms of every build).
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, links, loadUnits: loads.map((l) => l.unit) };
}
