// imgdesc pull takes a short name only when a registries.conf [aliases]
// entry names it, as podman does; the short name's tag or digest is kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { qualified } from '../../src/disk/reference.js';
import { ValueFormatError } from '../../src/errors.js';

const aliases = new Map([
  ['machine-os', { target: 'quay.io/podman/machine-os', file: '/etc/containers/registries.conf.d/shortnames.conf' }],
  ['team/disk', { target: 'registry.example.org/team/disk', file: '/c' }],
  ['broken', { target: 'not a name', file: '/broken.conf' }],
]);
const DIGEST = `sha256:${'a'.repeat(64)}`;

test('an alias expands a short name, keeping its tag or digest', () => {
  assert.equal(qualified('machine-os:5.3', aliases).toString(), 'quay.io/podman/machine-os:5.3');
  assert.equal(qualified('machine-os', aliases).toString(), 'quay.io/podman/machine-os:latest');
  assert.equal(qualified(`team/disk@${DIGEST}`, aliases).toString(), `registry.example.org/team/disk@${DIGEST}`);
});

test('a short name no alias names is refused; a full name is never looked up', () => {
  assert.throws(() => qualified('fedora:40', aliases), (e: unknown) => e instanceof ValueFormatError && /short name.*\[aliases\]/.test(e.message));
  assert.equal(qualified('example.org/machine-os:1', aliases).toString(), 'example.org/machine-os:1');
  assert.throws(() => qualified('broken:1', aliases), (e: unknown) => e instanceof ValueFormatError && /\/broken\.conf/.test(e.message));
});
