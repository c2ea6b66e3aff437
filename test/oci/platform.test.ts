import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
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
