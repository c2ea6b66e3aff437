// One line of progress on a terminal for a single transfer (pull, push):
// bytes so far of the total when known, the rate, and an extra figure the
// command supplies (what is in the output file), redrawn a few times a second.

import { humanSize } from '../report/report.js';

export interface TransferLine {
  begin(name: string, total: number | null): void;
  add(bytes: number): void;
  stop(): void;
}

/** `extra` is asked for at each redraw (it may answer late: the last answer is shown). */
export function transferLine(stream: NodeJS.WriteStream, extra: () => string = () => ''): TransferLine {
  let name = '';
  let total: number | null = null;
  let done = 0;
  let started = 0;
  let stopped = false;
  const draw = () => {
    if (!started) return;
    const ms = Date.now() - started;
    const rate = ms > 0 ? `${humanSize((done * 1000) / ms)}/s` : '';
    const line = `${name}  ${humanSize(done)}${total === null ? '' : `/${humanSize(total)}`} ${rate}${extra()}`;
    stream.write(`\r\x1b[2K${line.slice(0, (stream.columns || 100) - 1)}`);
  };
  const timer = setInterval(draw, 200);
  timer.unref();
  return {
    begin(n, t) {
      name = n;
      total = t;
      started = Date.now();
    },
    add(bytes) {
      done += bytes;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (started) stream.write('\r\x1b[2K');
    },
  };
}
