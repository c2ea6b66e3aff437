// readTextFile: a small text file read without trusting what is at the path.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFile, mkdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readTextFile } from '../../src/util/text-file.js';
import { tempDir } from '../helpers/tmp.js';

describe('readTextFile', () => {
  test('reads UTF-8 text and drops a BOM', async (t) => {
    const file = join(await tempDir(t), 'f');
    await writeFile(file, '\ufeff{"ä": 1}\n');
    assert.deepEqual(await readTextFile(file, 100), { ok: true, text: '{"ä": 1}\n' });
  });

  test('a file exactly at the limit is read; an empty one too', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'ten'), '0123456789');
    assert.deepEqual(await readTextFile(join(dir, 'ten'), 10), { ok: true, text: '0123456789' });
    await writeFile(join(dir, 'empty'), '');
    assert.deepEqual(await readTextFile(join(dir, 'empty'), 10), { ok: true, text: '' });
  });

  const REFUSED: ReadonlyArray<readonly [string, (p: string) => Promise<unknown>, string, { decode?: 'strict' | 'lenient' | 'any' }?]> = [
    ['absent', async () => undefined, 'no such file or directory'],
    ['a directory', (p) => mkdir(p), 'it is a directory'],
    ['a FIFO, without waiting for a writer', async (p) => execFileSync('mkfifo', [p]), 'it is not a regular file'],
    ['over the limit', (p) => writeFile(p, 'x'.repeat(11)), 'it is 11 bytes, over the limit of 10 bytes'],
    ['sparse and huge', async (p) => (await writeFile(p, ''), truncate(p, 2 ** 40)), `it is ${2 ** 40} bytes, over the limit of 10 bytes`],
    ['NUL bytes', (p) => writeFile(p, 'a\0b'), 'it is binary, not text (it holds NUL bytes)'],
    ['invalid UTF-8', (p) => writeFile(p, Buffer.from([0x61, 0xc3, 0x28])), 'it is binary, not text (it is not valid UTF-8)'],
    ['NUL bytes, leniently', (p) => writeFile(p, 'a\0b'), 'it is binary, not text (it holds NUL bytes)', { decode: 'lenient' }],
  ];
  for (const [name, make, reason, options] of REFUSED) {
    test(`refuses: ${name}`, async (t) => {
      const file = join(await tempDir(t), 'f');
      await make(file);
      const r = await readTextFile(file, 10, options);
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.reason, reason);
      assert.equal(!r.ok && r.absent, name === 'absent');
    });
  }

  test('a parent that is a file: not absent, and says so', async (t) => {
    const file = join(await tempDir(t), 'f');
    await writeFile(file, '');
    assert.deepEqual(
      await readTextFile(join(file, 'child'), 10).then((r) => !r.ok && { absent: r.absent, reason: r.reason }),
      { absent: false, reason: 'a parent is not a directory' },
    );
  });

  test('lenient reads invalid UTF-8 as U+FFFD; any takes NUL bytes too', async (t) => {
    const file = join(await tempDir(t), 'f');
    await writeFile(file, Buffer.from([0x61, 0xff]));
    assert.deepEqual(await readTextFile(file, 10, { decode: 'lenient' }), { ok: true, text: 'a\ufffd' });
    await appendFile(file, Buffer.from([0]));
    assert.deepEqual(await readTextFile(file, 10, { decode: 'any' }), { ok: true, text: 'a\ufffd\0' });
  });
});
