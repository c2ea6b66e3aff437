// ajv options shared by the runtime compile and the build-time precompile
// (scripts/precompile-schema.mjs), so that both validate alike.
export const AJV_OPTIONS = Object.freeze({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });

/** The precompiled validator written next to the compiled schema module by `npm run build`. */
export const PRECOMPILED_VALIDATOR = 'kiwi-schema-validator.js';
