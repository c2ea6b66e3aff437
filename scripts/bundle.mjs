// Run by `npm run build` after tsc and the schema precompile: bundles the CLI
// and its dependencies into dist/bundle/ with esbuild. Node 20 has no compile
// cache, and resolving, reading and compiling some 400 separate modules
// (undici alone is ~100) cost ~130 ms of every start; a few chunks load
// faster. Commands stay separate chunks, so `validate` and `plan` still never
// load the registry client. dist/bundle/ sits two levels below the package
// root like dist/<dir>/, so the sources' `../../schema`, `../../templates` and
// `../../package.json` resolve the same from either.
import { copyFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { PRECOMPILED_VALIDATOR } from '../dist/description/ajv-options.js';
import { PRECOMPILED_TEMPLATES } from '../dist/units/template-options.js';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const out = `${dist}bundle`;
rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: [`${dist}cli/bin.js`],
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunk-[hash]',
  // The precompiled validator and templates are imported by URL at run time; they are copied beside the chunks.
  external: [`./${PRECOMPILED_VALIDATOR}`, `./${PRECOMPILED_TEMPLATES}`],
  // CommonJS dependencies (undici, handlebars) call require() for Node's own modules.
  banner: { js: "import { createRequire as __imgdescCreateRequire } from 'node:module'; const require = __imgdescCreateRequire(import.meta.url);" },
  legalComments: 'linked',
  logLevel: 'warning',
});
copyFileSync(`${dist}description/${PRECOMPILED_VALIDATOR}`, `${out}/${PRECOMPILED_VALIDATOR}`);
copyFileSync(`${dist}units/${PRECOMPILED_TEMPLATES}`, `${out}/${PRECOMPILED_TEMPLATES}`);
