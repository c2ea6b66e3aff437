// The validator for schema/kiwi.schema.json, as schema.ts gets it. Running
// from the sources (tests, tsx) it is compiled here, once, on first use. The
// shipped command never loads this module: scripts/bundle.mjs puts the
// validator `npm run build` precompiled (scripts/precompile-schema.mjs) in its
// place, so that a start compiles no schema and the validator's code is part
// of the bundle's code cache.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { AJV_OPTIONS } from './ajv-options.js';

const SCHEMA_FILE = fileURLToPath(new URL('../../schema/kiwi.schema.json', import.meta.url));

export function schemaValidator(): ValidateFunction {
  return new Ajv(AJV_OPTIONS).compile(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')));
}
