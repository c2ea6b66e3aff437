// The one-line progress of pull and push on a terminal.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { transferLine } from '../../src/cli/transfer-progress.js';

test('transferLine: bytes of the total, a rate and the extra figure, redrawn in place, cleared at the end', async () => {
  let out = '';
  const stream = { columns: 200, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
  const line = transferLine(stream, () => '  written 3.0 MiB');
  line.begin('disk.qcow2.zst', 4 * 1024 * 1024);
  line.add(1024 * 1024);
  line.add(1024 * 1024);
  await new Promise((r) => setTimeout(r, 250));
  line.stop();
  line.stop();
  assert.match(out, /\r\x1b\[2Kdisk\.qcow2\.zst {2}2\.0 MiB\/4\.0 MiB [\d.]+ [KMG]?i?B\/s {2}written 3\.0 MiB/);
  assert.ok(out.endsWith('\r\x1b[2K'), 'the line is cleared once');
  assert.equal(out.split('\r\x1b[2K').length - 1, 2);
});
