import assert from 'node:assert/strict';
import { lstat, mkdir, readlink, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { OutputError } from '../../src/errors.js';
import { RootDirOutput } from '../../src/output/root-dir.js';
import type { ImageOutput } from '../../src/output/types.js';
import { installUnits } from '../../src/units/install.js';
import { renderUnits } from '../../src/units/render.js';
import { tempDir } from '../helpers/tmp.js';

const img = (name: string, backend: 'podman' | 'docker' = 'podman') => ({ reference: `r.example.org/${name}:1`, archive: `/var/tmp/kiwi_containers/${name}_1`, backend });
const opts = { generator: 'imgdesc test' };

describe('installUnits', () => {
  test('writes the units and enables them with in-image absolute links', async (t) => {
    const root = await tempDir(t);
    await installUnits(await RootDirOutput.open(root), await renderUnits([img('a')], opts));
    const sys = join(root, 'etc/systemd/system');
    assert.equal(await readlink(join(sys, 'multi-user.target.wants/kiwi_containers.service')), '/etc/systemd/system/kiwi_containers.service');
    assert.equal(await readlink(join(sys, 'kiwi_containers.service.wants/imgdesc-load-podman@var-tmp-kiwi_containers-a_1.service')), '/etc/systemd/system/imgdesc-load-podman@.service');
    assert.ok((await lstat(join(sys, 'imgdesc-load-podman@.service'))).isFile());
  });

  test('a rebuild drops units and links of images it no longer has, and keeps foreign files', async (t) => {
    const root = await tempDir(t);
    const sys = join(root, 'etc/systemd/system');
    await mkdir(sys, { recursive: true });
    await writeFile(join(sys, 'my-app.service'), '[Unit]\n');
    await installUnits(await RootDirOutput.open(root), await renderUnits([img('a'), img('b', 'docker')], opts));
    await installUnits(await RootDirOutput.open(root), await renderUnits([img('b', 'docker')], opts));
    assert.deepEqual((await readdir(sys)).sort(), ['imgdesc-load-docker@.service', 'kiwi_containers.service', 'kiwi_containers.service.wants', 'multi-user.target.wants', 'my-app.service']);
    assert.deepEqual(await readdir(join(sys, 'kiwi_containers.service.wants')), ['imgdesc-load-docker@var-tmp-kiwi_containers-b_1.service']);
    await installUnits(await RootDirOutput.open(root), await renderUnits([], opts));
    assert.deepEqual((await readdir(sys)).sort(), ['multi-user.target.wants', 'my-app.service']);
    assert.deepEqual(await readdir(join(sys, 'multi-user.target.wants')), []);
  });

  test('a kiwi_containers.service the author wrote is never removed', async (t) => {
    const root = await tempDir(t);
    const sys = join(root, 'etc/systemd/system');
    await mkdir(sys, { recursive: true });
    await writeFile(join(sys, 'kiwi_containers.service'), '# mine\n[Unit]\n');
    await installUnits(await RootDirOutput.open(root), await renderUnits([], opts));
    assert.ok((await lstat(join(sys, 'kiwi_containers.service'))).isFile());
  });
});

/** An output whose every call for `failing` throws `err` as an output of another kind (a tar stream) might. */
function failingOutput(failing: string, err: unknown): ImageOutput {
  const maybeFail = async (path: string) => {
    if (path === failing) throw err;
  };
  return {
    description: 'test output',
    streaming: false,
    mkdir: maybeFail,
    createFile: () => Promise.reject(new Error('not used')),
    writeFile: maybeFail,
    symlink: maybeFail,
    list: async (path) => (await maybeFail(path), []),
    readHead: async (path) => (await maybeFail(path), null),
    remove: maybeFail,
    hostPath: async () => null,
    close: async () => {},
  };
}

describe('installUnits on an output that fails without naming the path', () => {
  const errno = (code: string) => Object.assign(new Error(`${code}: raw`), { code });
  const CASES = [
    ['a unit that cannot be written', '/etc/systemd/system/kiwi_containers.service', errno('EISDIR'), /it is a directory/],
    ['an enable link that cannot be made', '/etc/systemd/system/multi-user.target.wants/kiwi_containers.service', errno('ENOTDIR'), /a parent is not a directory/],
    ['a unit directory that cannot be listed', '/etc/systemd/system', errno('EIO'), /input\/output error/],
  ] as const;
  for (const [name, path, err, why] of CASES) {
    test(`${name}: an OutputError naming the in-image path`, async () => {
      await assert.rejects(installUnits(failingOutput(path, err), await renderUnits([img('a')], opts)), (e: unknown) => {
        assert.ok(e instanceof OutputError, String(e));
        assert.equal(e.target, path);
        assert.ok(e.message.includes(`cannot install systemd unit ${path} into test output`), e.message);
        assert.match(e.message, why);
        return true;
      });
    });
  }

  test('an error that is not a file-system failure is a bug and is not disguised as an output error', async () => {
    const bug = new TypeError('x is not a function');
    await assert.rejects(installUnits(failingOutput('/etc/systemd/system/kiwi_containers.service', bug), await renderUnits([img('a')], opts)), (e: unknown) => e === bug);
  });
});
