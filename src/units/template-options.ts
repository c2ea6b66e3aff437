// Handlebars options for unit templates, shared by render.ts and the build
// step that precompiles the shipped templates (scripts/precompile-templates.mjs).

/** Unit files are not HTML: no escaping; a missing variable is an error. */
export const TEMPLATE_OPTIONS = { noEscape: true, strict: true } as const;

/** Module `npm run build` writes into dist/units/; the bundle has it in place of shipped-templates.ts. */
export const PRECOMPILED_TEMPLATES = 'unit-templates.js';

/** Its default export: template file name -> the source it was made from and handlebars' precompiled spec. */
export type PrecompiledTemplates = Record<string, { readonly source: string; readonly spec: object }>;
