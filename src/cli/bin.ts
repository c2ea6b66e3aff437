#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';
import { EXIT } from './exit-codes.js';
import { run } from './main.js';

// undici parses HTTP with llhttp compiled to WebAssembly. V8's optimizing
// compile of that module, running while the first blobs stream in, held ~25 MB
// for a moment and set a build's peak RSS; the baseline compiler alone parses
// just as fast for registry traffic. A process-wide setting, so it belongs
// here, before any command loads undici.
//
// Every chunk a socket delivers is a new Buffer outside the JavaScript heap,
// and V8 counts those bytes against the old generation's next collection
// limit. With imgdesc's small heap (~10 MB live) that limit is ~30 MB away,
// so a download of 300 MB ran ~20 full collections, their marking taking
// ~0.3 s of CPU on other threads, while the young-generation collections
// already free those Buffers. Letting the limit grow 5x the live heap
// (instead of V8's ~1.1-4x) leaves that to them. Read at each collection.
try {
  setFlagsFromString('--liftoff-only');
  setFlagsFromString('--heap-growing-percent=400');
} catch {
  // A Node whose V8 flags are frozen: only the peak memory and the time are higher.
}

const code = await run(process.argv.slice(2));
// Node flushes standard output before a natural exit. An interrupted command
// has cleaned up already, and bytes a stalled reader never takes (an overlay
// piped to a reader that stopped) would keep it from ever exiting: they are
// dropped, as a shell's kill would drop them.
if ((code === EXIT.INTERRUPTED || code === EXIT.TERMINATED) && process.stdout.writableLength > 0) process.exit(code);
process.exitCode = code;
