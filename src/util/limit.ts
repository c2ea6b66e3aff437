// A concurrency limit: at most `n` of the functions passed run at once.
export function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: Array<() => void> = [];
  const next = () => {
    if (active >= n) return;
    const start = queue.shift();
    if (start) {
      active++;
      start();
    }
  };
  return <T>(fn: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      queue.push(() => {
        fn()
          .then(resolve, reject)
          .finally(() => {
            active--;
            next();
          });
      });
      next();
    });
}

/** A job waiting in a {@link priorityLimiter}; its priority may still rise. */
export interface Queued<T> {
  readonly promise: Promise<T>;
  /** Adds to the job's priority if it has not started yet; no effect after. */
  raise(by: number): void;
}

/**
 * Like {@link limiter}, but a free slot goes to the waiting job of highest
 * priority (the earliest among equals), and a waiting job's priority can be
 * raised. Queues here are short (one entry per blob), so picking is a scan.
 */
export function priorityLimiter(n: number): <T>(fn: () => Promise<T>, priority: number) => Queued<T> {
  let active = 0;
  const waiting: Array<{ start: () => void; priority: number }> = [];
  const next = () => {
    while (active < n && waiting.length > 0) {
      let best = 0;
      for (let i = 1; i < waiting.length; i++) if (waiting[i]!.priority > waiting[best]!.priority) best = i;
      const [job] = waiting.splice(best, 1);
      active++;
      job!.start();
    }
  };
  return <T>(fn: () => Promise<T>, priority: number): Queued<T> => {
    let entry!: { start: () => void; priority: number };
    const promise = new Promise<T>((resolve, reject) => {
      entry = {
        priority,
        start: () => {
          fn()
            .then(resolve, reject)
            .finally(() => {
              active--;
              next();
            });
        },
      };
    });
    waiting.push(entry);
    // Deferred, so that jobs queued in the same tick are ranked together.
    queueMicrotask(next);
    return { promise, raise: (by) => void (entry.priority += by) };
  };
}
