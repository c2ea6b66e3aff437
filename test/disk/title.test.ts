// Titles come from whoever pushed the artifact: only plain file names pass.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { titleProblem } from '../../src/disk/title.js';

describe('titleProblem', () => {
  test('plain file names pass, dots and spaces included', () => {
    for (const t of ['disk.qcow2.zst', 'podman-machine.x86_64.qemu.qcow2.zst', 'a', '..hidden', 'disk..raw', 'my disk.img', 'é.raw']) assert.equal(titleProblem(t), null, t);
  });

  test('refused: absolute paths, "..", paths, "." and empty names, control characters, overlong names', () => {
    const cases: Array<[string, RegExp]> = [
      ['/etc/passwd', /absolute/],
      ['\\windows\\x', /absolute/],
      ['C:\\disk.raw', /absolute/],
      ['../escape.raw', /contains "\.\."/],
      ['a/../../b', /contains "\.\."/],
      ['..', /contains "\.\."/],
      ['sub/disk.raw', /a path/],
      ['sub\\disk.raw', /a path/],
      ['.', /directory/],
      ['', /empty/],
      ['disk\n.raw', /control/],
      ['disk\0.raw', /control/],
      ['x'.repeat(256), /255 bytes/],
    ];
    for (const [t, why] of cases) assert.match(titleProblem(t) ?? 'accepted', why, JSON.stringify(t));
  });
});
