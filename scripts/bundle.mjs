// Run by `npm run build` after tsc and the schema and template precompiles:
// bundles the CLI and its dependencies with esbuild into dist/bundle/:
//   imgdesc.cjs  the whole program, one CommonJS file
//   bin.js       the `imgdesc` command: a small launcher (src/cli/launcher.ts)
//                that compiles imgdesc.cjs with V8's code cache, which
//                scripts/code-cache.mjs writes next (imgdesc.cjs.cache)
// Node 20 has no compile cache, and resolving, reading and compiling some 400
// separate modules (undici alone is ~100) cost ~130 ms of every start; in one
// file, V8 can be handed a code cache for all of it at once (Node compiles ES
// modules only one by one, with no way to hand it a cache). Commands are still
// loaded on use: esbuild turns main.ts's import() of a command into a function
// that runs that command's modules the first time, so `validate` and `plan`
// never run the registry client's code. The precompiled schema validator and
// templates are bundled in instead of imported by URL at run time, so their
// code is in the cache too. dist/bundle/ sits two levels below the package
// root like dist/<dir>/, so the sources' `../../schema`, `../../templates` and
// `../../package.json` resolve the same from either.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { PRECOMPILED_VALIDATOR } from '../dist/description/ajv-options.js';
import { PRECOMPILED_TEMPLATES } from '../dist/units/template-options.js';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const out = `${dist}bundle`;

// Modules whose sources' version compiles at run time, and what the bundle has
// in their place: the code `npm run build` generated.
const SHIPPED = {
  [`${dist}description/schema-validator.js`]: `import validate from './${PRECOMPILED_VALIDATOR}';\nexport const schemaValidator = () => validate;\n`,
  [`${dist}units/shipped-templates.js`]: `export { default as shippedTemplates } from './${PRECOMPILED_TEMPLATES}';\n`,
};
const replaced = new Set();
const shipped = {
  name: 'imgdesc-precompiled',
  setup(b) {
    b.onLoad({ filter: /[\\/](schema-validator|shipped-templates)\.js$/ }, ({ path }) => {
      if (!(path in SHIPPED)) return undefined;
      replaced.add(path);
      return { contents: SHIPPED[path], resolveDir: path.slice(0, path.lastIndexOf('/')), loader: 'js' };
    });
  },
};

// Both files are CommonJS; `import.meta.url`, which the sources use to find
// the package's files, is the file's own URL there too.
const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  define: { 'import.meta.url': '__imgdesc_import_meta_url' },
  // Before esbuild's own "use strict", which then no longer opens the file.
  banner: { js: `"use strict";\nvar __imgdesc_import_meta_url = require("node:url").pathToFileURL(__filename).href;` },
  legalComments: 'linked',
  logLevel: 'warning',
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out);
const program = await build({
  ...common,
  entryPoints: [`${dist}cli/bin.js`],
  outfile: `${out}/imgdesc.cjs`,
  plugins: [shipped],
  // Without comments or indentation the file is ~30% smaller, and all ASCII
  // (comments are the only place esbuild leaves other characters): the
  // launcher reads ~2 MB fewer bytes and gets a one-byte string. Names stay,
  // so stack traces still say which function.
  minifyWhitespace: true,
  write: false,
});
for (const path of Object.keys(SHIPPED)) if (!replaced.has(path)) throw new Error(`bundle: ${path} was not replaced by its precompiled code`);
for (const file of program.outputFiles) {
  // The launcher runs the bundle inside a function, where a hashbang line is
  // a syntax error; bin.js has it.
  writeFileSync(file.path, file.path.endsWith('.cjs') ? file.text.replace(/^#!.*\n/, '') : file.contents);
}
// Still correct otherwise, only slower to read and to compile.
if (/[^\x00-\x7f]/.test(readFileSync(`${out}/imgdesc.cjs`, 'latin1'))) console.warn('bundle: imgdesc.cjs is not all ASCII');

await build({
  ...common,
  entryPoints: [`${dist}cli/launcher.js`],
  outfile: `${out}/bin.js`,
  // The command runs main(); scripts/code-cache.mjs requires the file for the rest.
  footer: { js: 'if (require.main === module) module.exports.main();' },
});
// package.json says "type": "module"; this one makes bin.js CommonJS, which
// Node starts a little faster than a module.
writeFileSync(`${out}/package.json`, '{ "type": "commonjs" }\n');
