// V8 settings for the whole process. bin.ts applies them before any command
// runs; the shipped launcher (launcher.ts) applies them before it compiles the
// bundle, because V8 accepts a code cache only under the flags it was made
// with, and the cache is made in a process where bin.ts had set these.
import { setFlagsFromString } from 'node:v8';

// undici parses HTTP with llhttp compiled to WebAssembly. V8's optimizing
// compile of that module, running while the first blobs stream in, held ~25 MB
// for a moment and set a build's peak RSS; the baseline compiler alone parses
// just as fast for registry traffic. A process-wide setting, so it belongs
// before any command loads undici.
//
// Every chunk a socket delivers is a new Buffer outside the JavaScript heap,
// and V8 counts those bytes against the old generation's next collection
// limit. With imgdesc's small heap (~10 MB live) that limit is ~30 MB away,
// so a download of 300 MB ran ~20 full collections, their marking taking
// ~0.3 s of CPU on other threads, while the young-generation collections
// already free those Buffers. Letting the limit grow 5x the live heap
// (instead of V8's ~1.1-4x) leaves that to them. Read at each collection.
export function setV8Flags(): void {
  try {
    setFlagsFromString('--liftoff-only');
    setFlagsFromString('--heap-growing-percent=400');
  } catch {
    // A Node whose V8 flags are frozen: only the peak memory and the time are higher.
  }
}
