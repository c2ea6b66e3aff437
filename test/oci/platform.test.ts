import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ValueFormatError } from '../../src/errors.js';
import { choosePlatform, formatPlatform, parsePlatform, type Platform } from '../../src/oci/platform.js';

const e = (...ps: string[]) => ps.map((p) => ({ platform: parsePlatform(p) as Platform }));
const pick = (entries: ReturnType<typeof e>, target: string) => {
  const i = choosePlatform(entries, parsePlatform(target));
  return i === -1 ? null : formatPlatform(entries[i]!.platform);
};

describe('choosing a platform from an index', () => {
  test('exact matches win', () => {
    assert.equal(pick(e('linux/amd64', 'linux/arm64/v8', 'linux/arm/v7'), 'linux/arm/v7'), 'linux/arm/v7');
  });
  test('arm64 without a variant is v8, both ways', () => {
    assert.equal(pick(e('linux/amd64', 'linux/arm64'), 'linux/arm64/v8'), 'linux/arm64');
    assert.equal(pick(e('linux/arm64/v8'), 'linux/arm64'), 'linux/arm64/v8');
  });
  test('arm/v7 never takes v6 when a v7 exists, but falls back when it does not', () => {
    assert.equal(pick(e('linux/arm/v6', 'linux/arm/v7'), 'linux/arm/v7'), 'linux/arm/v7');
    assert.equal(pick(e('linux/arm/v6'), 'linux/arm/v7'), 'linux/arm/v6');
    assert.equal(pick(e('linux/arm/v7'), 'linux/arm/v6'), null);
  });
  test('amd64 takes the baseline, not v3', () => {
    assert.equal(pick(e('linux/amd64/v3'), 'linux/amd64'), null);
    assert.equal(pick(e('linux/amd64/v3', 'linux/amd64'), 'linux/amd64'), 'linux/amd64');
  });
  test('os must match; entries without platform never match', () => {
    assert.equal(pick(e('windows/amd64'), 'linux/amd64'), null);
    assert.equal(choosePlatform([{}], parsePlatform('linux/amd64')), -1);
  });
});

describe('parsePlatform refuses what is not os/architecture[/variant] with a ValueFormatError', () => {
  test('the forms it accepts', () => {
    assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  });
  const BAD: ReadonlyArray<readonly [string, RegExp]> = [
    ['', /it is not os\/architecture\[\/variant\]/],
    ['linux', /it is not os\/architecture\[\/variant\]/],
    ['linux/arm/v7/extra', /it is not os\/architecture\[\/variant\]/],
    ['/amd64', /its os is empty/],
    ['linux/', /its architecture is empty/],
    ['linux/arm64/', /its variant is empty/],
    ['linux/amd 64', /its architecture "amd 64" is not letters, digits/],
    ['linux/amd64\n', /its architecture "amd64\\n" is not letters, digits/],
    ['../etc/passwd', /its os "\.\." is not letters, digits/],
  ];
  for (const [text, why] of BAD) {
    test(`refuses ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => parsePlatform(text),
        (e: unknown) => e instanceof ValueFormatError && e.code === 'IMGDESC_INVALID_PLATFORM' && e.kind === 'PLATFORM' && e.text === text && why.test(e.why) && e.message.startsWith('platform '),
      );
    });
  }
});
