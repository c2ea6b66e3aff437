import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { checkDescription, loadDescription, MAX_DESCRIPTION_BYTES } from '../../src/description/load.js';
import { DescriptionInvalidError, DescriptionLoadError } from '../../src/errors.js';
import { description } from '../helpers/descriptions.js';
import { tempDir, writeTree } from '../helpers/tmp.js';

const valid = (name: string) => description('<containers source="r.example.org" backend="podman"><container name="a"/></containers>', { name });

describe('loading a description', () => {
  test('a file of any name', async (t) => {
    const dir = await tempDir(t);
    await writeTree(dir, { 'appliance.xml': valid('one'), 'foo.kiwi': valid('two'), 'weird.name': valid('three') });
    assert.equal((await loadDescription(join(dir, 'appliance.xml'))).image.name, 'one');
    assert.equal((await loadDescription(join(dir, 'foo.kiwi'))).image.name, 'two');
    assert.equal((await loadDescription(join(dir, 'weird.name'))).image.name, 'three');
  });

  test('a directory with config.xml (preferred over *.kiwi) or exactly one *.kiwi', async (t) => {
    const dir = await tempDir(t);
    await writeTree(dir, { 'a/config.xml': valid('cfg'), 'a/x.kiwi': valid('kiwi'), 'b/only.kiwi': valid('only'), 'b/notes.txt': 'x' });
    const a = await loadDescription(join(dir, 'a'));
    assert.equal(a.image.name, 'cfg');
    assert.equal(a.file, join(dir, 'a', 'config.xml'));
    assert.equal((await loadDescription(join(dir, 'b'))).image.name, 'only');
  });

  test('a directory with two *.kiwi files is refused, naming them', async (t) => {
    const dir = await tempDir(t);
    await writeTree(dir, { 'one.kiwi': valid('1'), 'two.kiwi': valid('2') });
    await assert.rejects(loadDescription(dir), (e: unknown) => e instanceof DescriptionLoadError && /2 \*\.kiwi files \(one\.kiwi, two\.kiwi\)/.test(e.message));
  });

  test('an empty directory and a missing path are clear errors', async (t) => {
    const dir = await tempDir(t);
    await assert.rejects(loadDescription(dir), /holds no description: expected config\.xml or one \*\.kiwi file/);
    await assert.rejects(loadDescription(join(dir, 'nope.xml')), /cannot read description .*nope\.xml: no such file or directory/);
  });

  test('an oversized file is refused before parsing', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'big.xml');
    await writeFile(file, `<image>${' '.repeat(MAX_DESCRIPTION_BYTES)}</image>`);
    await assert.rejects(loadDescription(file), /descriptions larger than/);
  });

  test('an invalid description throws with every problem; checkDescription returns them', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'bad.xml');
    await writeFile(file, description('<containers source="r" backend="x"><container name="A"/></containers>'));
    const r = await checkDescription(file);
    assert.equal(r.description, null);
    assert.equal(r.problems.length, 2);
    await assert.rejects(loadDescription(file), (e: unknown) => e instanceof DescriptionInvalidError && e.problems.length === 2 && e.file === file);
  });

  test('the model is frozen and carries what the description says', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'm.xml');
    await writeFile(
      file,
      description(`<profiles><profile name="p" description="P" import="1" arch="x86_64,aarch64"><requires profile="p" arch="s390x"/></profile></profiles>
<containers source="r.example.org/base/" backend="docker" profiles="p" arch="x86_64"><container name="n" path="/a/b/" tag="t" fetch_only="true" arch="x86_64"/></containers>`),
    );
    const d = await loadDescription(file);
    assert.ok(Object.isFrozen(d) && Object.isFrozen(d.containers[0]) && Object.isFrozen(d.containers[0]!.containers[0]));
    assert.deepEqual(d.profiles[0], {
      name: 'p', description: 'P', import: true, arch: ['x86_64', 'aarch64'],
      requires: [{ profile: 'p', arch: ['s390x'], path: '/image/profiles[1]/profile[1]/requires[1]', line: 13 }],
      path: '/image/profiles[1]/profile[1]', line: 13,
    });
    const s = d.containers[0]!;
    assert.equal(s.backend, 'docker');
    assert.deepEqual(s.profiles, ['p']);
    assert.deepEqual({ ...s.containers[0]! }, { name: 'n', repoPath: 'a/b', tag: 't', fetchOnly: true, arch: ['x86_64'], path: '/image/containers[1]/container[1]', line: 14 });
  });
});
