#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';
import { run } from './main.js';

// undici parses HTTP with llhttp compiled to WebAssembly. V8's optimizing
// compile of that module, running while the first blobs stream in, held ~25 MB
// for a moment and set a build's peak RSS; the baseline compiler alone parses
// just as fast for registry traffic. A process-wide setting, so it belongs
// here, before any command loads undici.
try {
  setFlagsFromString('--liftoff-only');
} catch {
  // A Node whose V8 flags are frozen: only the peak memory is higher.
}

process.exitCode = await run(process.argv.slice(2));
