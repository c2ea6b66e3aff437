import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { loadDescription } from '../../src/description/load.js';
import type { Description } from '../../src/description/model.js';
import { SelectionError } from '../../src/errors.js';
import { makePlan } from '../../src/plan/plan.js';
import { platformFor, selectProfiles } from '../../src/plan/select.js';
import { REPO } from '../helpers/cli.js';

let desc: Description;
before(async () => {
  desc = await loadDescription(join(REPO, 'test/fixtures/descriptions/selection.kiwi'));
});

const refs = (profiles: string[], arch: string) => makePlan(desc, { profiles, arch }).containers.map((c) => c.reference);

describe('profile selection (KIWI semantics)', () => {
  test('no --profile: the import="true" profiles available for the arch', () => {
    assert.deepEqual(selectProfiles(desc, [], 'x86_64'), ['common']);
    assert.deepEqual(selectProfiles(desc, [], 'aarch64'), ['common', 'arm-only']);
  });

  test('--profile replaces the imported ones and pulls requires depth first', () => {
    assert.deepEqual(selectProfiles(desc, ['web'], 'x86_64'), ['web', 'common', 'tls']);
  });

  test('a requires limited to another arch is not followed', () => {
    assert.deepEqual(selectProfiles(desc, ['web'], 'aarch64'), ['web', 'common']);
  });

  test('cycles in requires terminate, every profile once', () => {
    assert.deepEqual(selectProfiles(desc, ['loop-a', 'loop-b', 'loop-a'], 'x86_64'), ['loop-a', 'loop-b']);
  });

  test('an unknown profile names the defined ones', () => {
    assert.throws(() => selectProfiles(desc, ['nope'], 'x86_64'), (e: unknown) => e instanceof SelectionError && /profile "nope" is not defined .*defined profiles: common, web, tls, arm-only, loop-a, loop-b/.test(e.message));
  });

  test('a profile limited to other architectures is unavailable, and says why', () => {
    assert.throws(() => selectProfiles(desc, ['arm-only'], 'x86_64'), /profile "arm-only" is not available for target architecture x86_64: it is limited to aarch64, armv7l/);
  });
});

describe('section and container filtering', () => {
  test('sections without profiles always apply; arch filters sections and containers', () => {
    assert.deepEqual(refs([], 'x86_64'), ['registry.example.org/base:latest', 'registry.example.org/base-x86:latest']);
    assert.deepEqual(refs([], 'aarch64'), [
      'registry.example.org/base:latest',
      'registry.example.org/tls/terminator:2',
      'registry.example.org/arm/firmware:latest',
    ]);
  });

  test('a section applies when any of its profiles is selected', () => {
    assert.deepEqual(refs(['web'], 'x86_64'), [
      'registry.example.org/base:latest',
      'registry.example.org/base-x86:latest',
      'registry.example.org/web/nginx:1.27',
      'registry.example.org/tls/terminator:2',
    ]);
  });
});

describe('target architecture -> OCI platform', () => {
  for (const [arch, platform] of [
    ['x86_64', 'linux/amd64'],
    ['aarch64', 'linux/arm64/v8'],
    ['armv7l', 'linux/arm/v7'],
    ['ppc64le', 'linux/ppc64le'],
    ['s390x', 'linux/s390x'],
    ['riscv64', 'linux/riscv64'],
    ['i686', 'linux/386'],
  ]) {
    test(`${arch} -> ${platform}`, () => assert.equal(platformFor(arch!), platform));
  }
  test('unknown names are refused with a hint', () => {
    assert.throws(() => platformFor('amd64'), /use "x86_64"/);
    assert.throws(() => platformFor('m68k'), /not a known architecture/);
  });
});
