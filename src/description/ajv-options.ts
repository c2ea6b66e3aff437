// ajv options shared by the runtime compile and the build-time precompile
// (scripts/precompile-schema.mjs), so that both validate alike.
export const AJV_OPTIONS = Object.freeze({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });

/** The precompiled validator `npm run build` writes into dist/description/; the bundle has it in place of schema-validator.ts. */
export const PRECOMPILED_VALIDATOR = 'kiwi-schema-validator.js';
