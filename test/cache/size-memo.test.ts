import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readSizeMemo, sizeMemoKey, writeSizeMemo } from '../../src/cache/size-memo.js';
import { tempDir } from '../helpers/tmp.js';

describe('size memo: the bytes the last build of a selection handed the file threads', () => {
  test('what one build writes the next reads; other selections have their own', async (t) => {
    const cache = await tempDir(t);
    const key = sizeMemoKey('examples/appliance.xml', ['x86_64']);
    assert.equal(readSizeMemo(cache, key), 0, 'nothing before the first build');
    await writeSizeMemo(cache, key, 481_000_000);
    assert.equal(readSizeMemo(cache, key), 481_000_000);
    await writeSizeMemo(cache, key, 12);
    assert.equal(readSizeMemo(cache, key), 12, 'the last build wins');
    assert.equal(readSizeMemo(cache, sizeMemoKey('examples/appliance.xml', ['aarch64'])), 0, 'another arch');
    assert.equal(readSizeMemo(cache, sizeMemoKey('examples/appliance.xml', ['x86_64', 'web'])), 0, 'another profile');
    assert.deepEqual(await readdir(join(cache, 'size-memo')), [key], 'no temporary file left beside it');
  });

  test('the key is the absolute path: the same description named two ways shares one memo', () => {
    assert.equal(sizeMemoKey('examples/appliance.xml', ['x86_64']), sizeMemoKey(join(process.cwd(), 'examples/appliance.xml'), ['x86_64']));
  });

  test('a damaged memo reads as none', async (t) => {
    const cache = await tempDir(t);
    const key = sizeMemoKey('a.xml', []);
    await mkdir(join(cache, 'size-memo'));
    for (const text of ['', 'lots', '-5', '1e400', '12.5']) {
      await writeFile(join(cache, 'size-memo', key), text);
      assert.equal(readSizeMemo(cache, key), 0, JSON.stringify(text));
    }
  });

  test('a cache it cannot write to fails nothing', async (t) => {
    const cache = await tempDir(t);
    // A file where the memo directory should be: mkdir fails with ENOTDIR/EEXIST even as root.
    await writeFile(join(cache, 'size-memo'), 'not a directory');
    await writeSizeMemo(cache, sizeMemoKey('a.xml', []), 100);
    assert.equal(readSizeMemo(cache, sizeMemoKey('a.xml', [])), 0);
  });
});
