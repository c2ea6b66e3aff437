import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { open, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { indexTar } from '../../src/oci/tar-index.js';
import { tempDir } from '../helpers/tmp.js';

describe('indexTar', () => {
  test('finds each file of a GNU tar and a pax tar, long names included', async (t) => {
    const dir = await tempDir(t);
    const long = `${'d'.repeat(120)}/${'f'.repeat(120)}.txt`;
    await mkdir(join(dir, 'src', 'd'.repeat(120)), { recursive: true });
    await writeFile(join(dir, 'src', 'small'), 'small file');
    await writeFile(join(dir, 'src', long), 'x'.repeat(1000));
    for (const format of ['gnu', 'pax', 'ustar']) {
      const tarFile = join(dir, `${format}.tar`);
      const names = format === 'ustar' ? ['small'] : ['small', long];
      execFileSync('tar', ['-C', join(dir, 'src'), `--format=${format}`, '-cf', tarFile, ...names]);
      const entries = await indexTar(tarFile);
      for (const [name, content] of [['small', 'small file'], [long, 'x'.repeat(1000)]].slice(0, names.length)) {
        const e = entries.get(name!);
        assert.ok(e, `${format}: ${name} missing`);
        const fh = await open(tarFile, 'r');
        const buf = Buffer.alloc(e.size);
        await fh.read(buf, 0, e.size, e.offset);
        await fh.close();
        assert.equal(buf.toString(), content, format);
      }
    }
  });
  test('a file that is not a tar is refused', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'x'), 'not a tar'.repeat(100));
    await assert.rejects(indexTar(join(dir, 'x')), /not a tar file/);
  });
});
