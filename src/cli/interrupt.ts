// SIGINT and SIGTERM as an AbortSignal, for every command that does work
// worth stopping cleanly (build, compile, lock, pull, push). Its own module so
// that a command needs not load another command to have it.

import { AbortedError } from '../errors.js';

/**
 * Ends work on SIGINT/SIGTERM; a second signal ends the process at once, as
 * if nobody listened. Removes the handlers when done.
 */
export function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const dispose = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  const onSignal = (name: NodeJS.Signals) => {
    if (!controller.signal.aborted) return controller.abort(new AbortedError(`interrupted by ${name}`, name));
    dispose();
    process.kill(process.pid, name);
  };
  // on, not once: execa's exit handler (signal-exit) re-raises a signal that
  // finds no other listener, and a once listener is gone by the time it looks.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { signal: controller.signal, dispose };
}
