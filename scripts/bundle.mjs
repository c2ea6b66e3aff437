// Run by `npm run build` after tsc and the schema and template precompiles:
// bundles the CLI and its dependencies with esbuild into dist/bundle/:
//   imgdesc.cjs  the whole program, one CommonJS module (stored inside Node's
//                module wrapper, ready to compile)
//   bin.js       the `imgdesc` command: a small launcher (src/cli/launcher.ts)
//                that compiles imgdesc.cjs with V8's code cache, which
//                scripts/code-cache.mjs writes next (imgdesc.cjs.cache)
//   package.json makes bin.js CommonJS
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

// undici's HTTP/1 client loads its HTTP/2 client, and with it node:http2
// (~5 ms), when it loads itself. That one serves only connections that
// negotiated h2, which imgdesc never offers (its agents leave allowH2 off), so
// in the bundle it loads when first used.
const H2_IMPORT = "const connectH2 = require('./client-h2.js')";
const lazyH2 = {
  name: 'imgdesc-lazy-h2',
  setup(b) {
    b.onLoad({ filter: /[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client\.js$/ }, ({ path }) => {
      const text = readFileSync(path, 'utf8');
      // Only the time is at stake: an undici that changed this line is bundled as it is.
      if (!text.includes(H2_IMPORT)) return void console.warn(`bundle: ${path} no longer has ${H2_IMPORT}; see lazyH2 in scripts/bundle.mjs`);
      return { contents: text.replace(H2_IMPORT, "const connectH2 = (...args) => require('./client-h2.js')(...args)"), loader: 'js' };
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
const bundled = await build({
  ...common,
  entryPoints: [`${dist}cli/bin.js`],
  outfile: `${out}/imgdesc.cjs`,
  plugins: [shipped, lazyH2],
  // Without comments or indentation the file is ~30% smaller, and all ASCII
  // (comments are the only place esbuild leaves other characters in). Names
  // stay, so stack traces still say which function.
  minifyWhitespace: true,
  write: false,
});
for (const path of Object.keys(SHIPPED)) if (!replaced.has(path)) throw new Error(`bundle: ${path} was not replaced by its precompiled code`);
const [program] = bundled.outputFiles.filter((f) => f.path.endsWith('.cjs'));
for (const file of bundled.outputFiles) if (file !== program) writeFileSync(file.path, file.contents);
// The launcher reads the file as Latin-1, a plain copy of its bytes into a
// one-byte string (~4 ms less than decoding UTF-8 and joining it to the
// wrapper): so it must hold nothing but ASCII.
const at = program.text.search(/[^\x00-\x7f]/);
if (at !== -1) throw new Error(`bundle: imgdesc.cjs is not all ASCII: ${JSON.stringify(program.text.slice(Math.max(0, at - 40), at + 40))}`);
// Stored inside Node's CommonJS module wrapper, which the launcher compiles as
// it is, with a line offset of -1 for the wrapper's own line. The hashbang
// line, which bin.ts has, would be a syntax error in there.
const wrapped = `(function (exports, require, module, __filename, __dirname) {\n${program.text.replace(/^#!.*\n/, '')}\n})`;
writeFileSync(program.path, wrapped);

await build({
  ...common,
  entryPoints: [`${dist}cli/launcher.js`],
  outfile: `${out}/bin.js`,
  // The command runs main(); scripts/code-cache.mjs requires the file for the rest.
  footer: { js: 'if (require.main === module) module.exports.main();' },
});
// The package's package.json says "type": "module"; this one makes bin.js
// CommonJS, which Node starts a little faster than a module.
writeFileSync(`${out}/package.json`, '{ "type": "commonjs" }\n');
