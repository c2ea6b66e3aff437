#!/usr/bin/env node
// The shipped `imgdesc` command, dist/bundle/bin.js (scripts/bundle.mjs builds
// it; never run from the sources). The program itself is one CommonJS bundle
// beside it, imgdesc.cjs. Node 20 has no compile cache of its own: compiling
// the bundle, and then each function the first time it runs, took ~50 ms of a
// build's start and ~45 ms of a validate. Here V8 gets the bundle together
// with the code cache (imgdesc.cjs.cache) that `npm run build` made by running
// the bundle on the example (scripts/code-cache.mjs), so what those runs
// compiled is loaded instead. Without a cache, or with one V8 rejects (another
// Node or V8, other flags), the bundle is compiled as usual: slower, the same
// result.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import { processIo } from './io.js';
import { setV8Flags } from './v8-flags.js';
import { version } from './version.js';

export const BUNDLE = fileURLToPath(new URL('imgdesc.cjs', import.meta.url));
export const CACHE = `${BUNDLE}.cache`;

/** The code cache on disk, if there is one. */
export function readCache(): Buffer | undefined {
  try {
    return readFileSync(CACHE);
  } catch {
    return undefined;
  }
}

/** Compiles the bundle, with `cachedData` when given; the script says whether V8 took it. */
export function compile(cachedData?: Buffer): Script {
  // V8 hashes its flags into a code cache and rejects a cache made under
  // others: the bundle sets these when it starts, so they are set first.
  setV8Flags();
  // The file is ASCII (scripts/bundle.mjs checks), so Latin-1 reads it as it
  // is, a plain copy into a one-byte string. It holds the bundle inside Node's
  // CommonJS module wrapper; the offset takes back the wrapper's first line,
  // so that positions in stack traces are the bundle's.
  return new Script(readFileSync(BUNDLE, 'latin1'), { filename: BUNDLE, lineOffset: -1, cachedData });
}

/** Runs the compiled bundle as Node runs a CommonJS module: it starts the command in process.argv. */
export function run(script: Script): void {
  const module = { exports: {} };
  (script.runInThisContext() as (...args: unknown[]) => void).call(module.exports, module.exports, createRequire(BUNDLE), module, BUNDLE, dirname(BUNDLE));
}

/** What the command does: the bundle, from the code cache. */
export function main(): void {
  // The version is the one answer that needs none of the program (main.ts
  // gives the same): loading a bundle of ~2 MB and its cache for it made
  // `imgdesc --version` ~10 ms slower than with the chunks before.
  if (process.argv[2] === '--version') {
    processIo.out(version());
    return;
  }
  run(compile(readCache()));
}
