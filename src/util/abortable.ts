// Waiting that ends when a build stops, whether or not the work it waits for
// ever settles.

/**
 * `work`, or a rejection with the signal's reason as soon as it is aborted
 * (what `work` gives after that goes to `late`, if anything).
 */
export function untilStopped<T>(work: Promise<T>, signal: AbortSignal, late: (value: T) => void = () => undefined): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason);
      work.then(late, () => undefined);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
