// The only place that turns error codes into process exit statuses.
// Documented in README.md ("Exit codes"); scripts rely on these numbers.

import { AbortedError, ImgdescError } from '../errors.js';

export const EXIT = Object.freeze({
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  INVALID_DESCRIPTION: 3,
  SOURCE: 4,
  OUTPUT: 5,
  /** 128 + the signal number, as shells report a command the signal ended. */
  INTERRUPTED: 130,
  TERMINATED: 143,
});

const BY_CODE: Record<string, number> = {
  IMGDESC_USAGE: EXIT.USAGE,
  IMGDESC_SELECTION: EXIT.USAGE,
  IMGDESC_INVALID_REFERENCE: EXIT.USAGE,
  IMGDESC_INVALID_PLATFORM: EXIT.USAGE,
  IMGDESC_INVALID_DIGEST: EXIT.USAGE,
  IMGDESC_CONFIG: EXIT.USAGE,
  IMGDESC_DESCRIPTION_LOAD: EXIT.INVALID_DESCRIPTION,
  IMGDESC_DESCRIPTION_INVALID: EXIT.INVALID_DESCRIPTION,
  IMGDESC_OUTPUT: EXIT.OUTPUT,
  IMGDESC_ABORTED: EXIT.INTERRUPTED,
};

export function exitCodeFor(err: unknown): number {
  if (err instanceof AbortedError && err.signalName === 'SIGTERM') return EXIT.TERMINATED;
  if (err instanceof ImgdescError) {
    if (err.code in BY_CODE) return BY_CODE[err.code]!;
    if (err.code.startsWith('IMGDESC_SOURCE')) return EXIT.SOURCE;
  }
  return EXIT.INTERNAL;
}
