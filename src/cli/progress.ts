// Build progress on stderr. On a terminal: a live block, one line per image
// in flight (bytes done/total and rate) and an overall line, redrawn a few
// times a second. Elsewhere: one plain line per finished image.

import type { BuildEvent } from '../pipeline/options.js';
import { humanSize } from '../report/report.js';

interface Row {
  reference: string;
  done: number;
  total: number;
  started: number;
  finished: boolean;
}

export interface Progress {
  onEvent(e: BuildEvent): void;
  stop(): void;
}

export function plainProgress(write: (line: string) => void): Progress {
  return {
    onEvent(e) {
      if (e.type === 'done') write(`fetched ${e.result.reference} (${e.result.digest.slice(0, 19)}…, ${humanSize(e.result.size)}) from ${e.result.origin}`);
    },
    stop() {},
  };
}

const rate = (bytes: number, ms: number) => (ms > 0 ? `${humanSize((bytes * 1000) / ms)}/s` : '');

export function ttyProgress(stream: NodeJS.WriteStream, now: () => number = Date.now): Progress {
  const rows = new Map<string, Row>();
  const start = now();
  let drawn = 0;
  const draw = () => {
    const width = stream.columns || 100;
    const lines: string[] = [];
    let done = 0;
    let total = 0;
    for (const r of rows.values()) {
      done += r.done;
      total += r.total;
      if (r.finished) continue;
      const figures = `${humanSize(r.done)}/${humanSize(r.total)} ${rate(r.done, now() - r.started)}`;
      lines.push(`  ${r.reference.slice(0, Math.max(10, width - figures.length - 4))}  ${figures}`);
    }
    const finished = [...rows.values()].filter((r) => r.finished).length;
    lines.push(`${finished}/${rows.size} images, ${humanSize(done)}/${humanSize(total)} ${rate(done, now() - start)}`);
    // Move up over the previous block, clear it, draw anew.
    let out = drawn > 0 ? `\x1b[${drawn}F` : '';
    out += lines.map((l) => `\x1b[2K${l.slice(0, width - 1)}`).join('\n') + '\n';
    if (drawn > lines.length) out += '\x1b[J';
    stream.write(out);
    drawn = lines.length;
  };
  let stopped = false;
  const timer = setInterval(draw, 200);
  timer.unref();
  return {
    onEvent(e) {
      const key = e.container.reference + e.container.archive;
      if (e.type === 'start') rows.set(key, { reference: e.container.reference, done: 0, total: e.total, started: now(), finished: false });
      else if (e.type === 'bytes') {
        const r = rows.get(key);
        if (r) r.done += e.bytes;
      } else if (e.type === 'done') {
        const r = rows.get(key);
        if (r) {
          r.finished = true;
          r.done = Math.max(r.done, r.total);
        }
      }
    },
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (rows.size) draw();
    },
  };
}
