import assert from 'node:assert/strict';
import { lstat, mkdir, realpath, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { OutputError } from '../../src/errors.js';
import { MAX_LINKS, pathNames, resolveInRoot, splitFinal } from '../../src/output/in-root.js';
import { tempDir } from '../helpers/tmp.js';

const READ = { create: false, dirAtEnd: false } as const;
const CREATE = { create: true, dirAtEnd: true } as const;

async function rootIn(t: Parameters<typeof tempDir>[0]): Promise<{ base: string; root: string }> {
  const base = await realpath(await tempDir(t));
  const root = join(base, 'root');
  await mkdir(root);
  return { base, root };
}

const exists = (p: string) => lstat(p).then(() => true, () => false);

describe('splitFinal and pathNames', () => {
  test('split a file path into parent and name', () => {
    assert.deepEqual(splitFinal('/etc/systemd/x.service'), { parent: '/etc/systemd', name: 'x.service' });
    assert.deepEqual(splitFinal('/x'), { parent: '/', name: 'x' });
    assert.deepEqual(splitFinal('x'), { parent: '/', name: 'x' });
    assert.deepEqual(splitFinal('/a/../b'), { parent: '/a/..', name: 'b' });
  });

  test('paths that name no file', () => {
    for (const p of ['/', '', '/etc/', '/etc/.', '/etc/..', '..']) assert.equal(splitFinal(p), null, p);
  });

  test('drop empty and "." names, keep ".."', () => {
    assert.deepEqual(pathNames('//a/./b/../c/'), ['a', 'b', '..', 'c']);
  });
});

describe('resolveInRoot', () => {
  test('".." never climbs above the root', async (t) => {
    const { root } = await rootIn(t);
    const r = await resolveInRoot(root, '/../../a/../../b', READ);
    assert.equal(r.host, join(root, 'b'));
    assert.equal(r.image, '/b');
    assert.equal(r.stat, null);
    assert.equal((await resolveInRoot(root, '/..', READ)).host, root);
    assert.ok((await resolveInRoot(root, '/', READ)).stat?.isDirectory());
  });

  test('an absolute link target starts at the root, a relative one at the link\'s directory', async (t) => {
    const { base, root } = await rootIn(t);
    await mkdir(join(root, 'etc'));
    await mkdir(join(base, 'srv'));
    await symlink(join(base, 'srv'), join(root, 'etc', 'abs'));
    await symlink('../../../../../srv', join(root, 'etc', 'rel'));
    const abs = await resolveInRoot(root, '/etc/abs/x', READ);
    assert.equal(abs.host, join(root, base, 'srv', 'x'));
    assert.equal(abs.image, `${base}/srv/x`);
    const rel = await resolveInRoot(root, '/etc/rel/x', READ);
    assert.equal(rel.host, join(root, 'srv', 'x'));
    assert.equal(rel.image, '/srv/x');
  });

  test('reading creates nothing; a dangling link resolves to where the booted image would see it', async (t) => {
    const { root } = await rootIn(t);
    await mkdir(join(root, 'var'));
    await symlink('/nowhere/x', join(root, 'var', 'tmp'));
    const r = await resolveInRoot(root, '/var/tmp/kiwi_containers/a', READ);
    assert.equal(r.host, join(root, 'nowhere/x/kiwi_containers/a'));
    assert.equal(r.stat, null);
    assert.equal(await exists(join(root, 'nowhere')), false);
  });

  test('creating makes the missing directories at the resolved place', async (t) => {
    const { root } = await rootIn(t);
    await mkdir(join(root, 'var'));
    await symlink('/nowhere/x', join(root, 'var', 'tmp'));
    const r = await resolveInRoot(root, '/var/tmp/kiwi_containers', CREATE);
    assert.equal(r.host, join(root, 'nowhere/x/kiwi_containers'));
    assert.equal(r.image, '/nowhere/x/kiwi_containers');
    assert.ok(r.stat?.isDirectory());
    assert.ok((await lstat(join(root, 'var', 'tmp'))).isSymbolicLink());
  });

  test(`follows ${MAX_LINKS} links and refuses one more`, async (t) => {
    const { root } = await rootIn(t);
    await mkdir(join(root, 'd'));
    for (let i = 0; i <= MAX_LINKS; i++) await symlink(i === MAX_LINKS ? '/d' : `l${i + 1}`, join(root, `l${i}`));
    assert.equal((await resolveInRoot(root, '/l1/x', READ)).host, join(root, 'd', 'x'));
    await assert.rejects(resolveInRoot(root, '/l0/x', READ), (err: unknown) => {
      assert.ok(err instanceof OutputError);
      assert.equal(err.code, 'IMGDESC_OUTPUT');
      assert.match(err.message, /\/l0\/x/);
      assert.match(err.message, /cannot be followed inside the root/);
      return true;
    });
  });

  test('a loop is an error naming the path', async (t) => {
    const { root } = await rootIn(t);
    await symlink('b', join(root, 'a'));
    await symlink('/a', join(root, 'b'));
    for (const options of [READ, CREATE]) {
      await assert.rejects(resolveInRoot(root, '/a/x', { ...options, verb: 'write' }), (err: unknown) => {
        assert.ok(err instanceof OutputError);
        assert.match(err.message, /^cannot write \/a\/x in root .*: the link \/(a|b) cannot be followed inside the root/);
        return true;
      });
    }
  });

  test('a file where a directory is needed is an error naming the component', async (t) => {
    const { root } = await rootIn(t);
    await writeFile(join(root, 'etc'), 'file');
    for (const options of [READ, CREATE]) {
      await assert.rejects(resolveInRoot(root, '/etc/systemd/x', options), (err: unknown) => {
        assert.ok(err instanceof OutputError);
        assert.match(err.message, /\/etc\/systemd\/x in root .*: \/etc is not a directory/);
        assert.equal(err.target, join(root, 'etc'));
        return true;
      });
    }
    // ... but as the last name of a read it is just a file
    assert.ok((await resolveInRoot(root, '/etc', READ)).stat?.isFile());
    await assert.rejects(resolveInRoot(root, '/etc', CREATE), OutputError);
    await assert.rejects(resolveInRoot(root, '/etc/..', READ), OutputError);
  });
});
