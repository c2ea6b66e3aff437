#!/usr/bin/env node
import { EXIT } from './exit-codes.js';
import { run } from './main.js';
import { setV8Flags } from './v8-flags.js';

setV8Flags();

// No top-level await: the shipped command is a CommonJS bundle (scripts/bundle.mjs).
void run(process.argv.slice(2)).then((code) => {
  // Node flushes standard output before a natural exit. An interrupted command
  // has cleaned up already, and bytes a stalled reader never takes (an overlay
  // piped to a reader that stopped) would keep it from ever exiting: they are
  // dropped, as a shell's kill would drop them.
  if ((code === EXIT.INTERRUPTED || code === EXIT.TERMINATED) && process.stdout.writableLength > 0) process.exit(code);
  process.exitCode = code;
});
