// Local faults: a full filesystem, an unwritable root, a root that is a file.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { REPO, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const build = (root: string, ...extra: string[]) =>
  runCli(['build', 'examples/appliance.xml', '--container-dir', join(REPO, 'examples/containers'), '--offline', '--root', root, '--target-arch', 'x86_64', '--no-cache', ...extra]);

async function mountTmpfs(t: { after(fn: () => unknown): void }, options: string): Promise<string> {
  const top = await mkdtemp(join(tmpdir(), 'imgdesc-tmpfs-'));
  const dir = join(top, 'mnt');
  await mkdir(dir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  t.after(async () => {
    execFileSync('umount', ['-l', dir]);
    await rm(top, { recursive: true, force: true });
  });
  return dir;
}

/** Every file below dir, as relative paths. */
async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name), `${rel}${e.name}/`);
      else out.push(`${rel}${e.name}`);
    }
  };
  await walk(dir, '');
  return out.sort();
}

describe('local faults', () => {
  test('a full filesystem: exit 5, a clear message, nothing partial', async (t) => {
    // Room for the directories, not for one archive (the --no-cache scratch
    // store is outside the root, in $TMPDIR).
    const root = await mountTmpfs(t, 'size=4k,nr_inodes=100');
    const r = await build(root);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /no space left on the device/);
    // No archive, no temporary file, no scratch blob, no unit.
    assert.deepEqual(await files(root), []);
  });

  test('a read-only root: exit 5 naming the root', async (t) => {
    const root = await mountTmpfs(t, 'size=1m,ro');
    const r = await build(root);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, new RegExp(`cannot write into root ${root}: read-only file system`));
  });

  test('a root that is a file: exit 5', async (t) => {
    const file = join(await tempDir(t), 'root');
    await writeFile(file, 'not a directory');
    const r = await build(file);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /root .* exists and is not a directory/);
  });

  test('a root below a file: exit 5', async (t) => {
    const file = join(await tempDir(t), 'f');
    await writeFile(file, 'x');
    const r = await build(join(file, 'root'));
    assert.equal(r.code, 5);
    assert.match(r.stderr, /cannot (use|create) root .*: a parent is not a directory/);
  });
});
