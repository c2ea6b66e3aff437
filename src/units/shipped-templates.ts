// The shipped unit templates precompiled, by file name, as render.ts gets
// them. Running from the sources (tests, tsx) there are none and every
// template is compiled. The shipped command carries them: scripts/bundle.mjs
// puts what `npm run build` precompiled (scripts/precompile-templates.mjs) in
// this module's place.

import type { PrecompiledTemplates } from './template-options.js';

export const shippedTemplates: PrecompiledTemplates = {};
