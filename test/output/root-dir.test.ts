import assert from 'node:assert/strict';
import { writeSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, realpath, stat, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { OutputError } from '../../src/errors.js';
import { prepareRoot, RootDirOutput } from '../../src/output/root-dir.js';
import { TEMP_MARKER } from '../../src/util/atomic-file.js';
import { errnoText } from '../../src/util/errno.js';
import { listFiles, tempDir, writeTree } from '../helpers/tmp.js';

type Ctx = Parameters<typeof tempDir>[0];

/** A temp dir (its real path) holding an empty ROOT and whatever the test puts beside it. */
async function setup(t: Ctx): Promise<{ base: string; root: string; out: RootDirOutput }> {
  const base = await realpath(await tempDir(t));
  const root = join(base, 'root');
  const out = await RootDirOutput.open(root);
  return { base, root, out };
}

/** Everything about a tree that a write, replace or remove would change. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (p: string, rel: string): Promise<void> => {
    const s = await lstat(p);
    const what = s.isSymbolicLink() ? `link ${await readlink(p)}` : s.isFile() ? `file ${(await readFile(p)).toString('hex')}` : 'dir';
    out[rel] = `${what} ino=${s.ino} mode=${s.mode} size=${s.size} mtime=${s.mtimeMs} ctime=${s.ctimeMs} nlink=${s.nlink}`;
    if (s.isDirectory()) for (const name of (await readdir(p)).sort()) await walk(join(p, name), `${rel}/${name}`);
  };
  await walk(dir, '.');
  return out;
}

/** errnoText's wording for an errno, as a pattern (it may be reworded elsewhere). */
const reason = (code: string) => errnoText(Object.assign(new Error(code), { code })).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const exists = (p: string) => lstat(p).then(() => true, () => false);

async function assertNoTemps(root: string): Promise<void> {
  assert.deepEqual((await listFiles(root)).filter((f) => f.includes(TEMP_MARKER)), []);
}

function isOutputError(pattern: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof OutputError, `expected an OutputError, got ${String(err)}`);
    assert.equal(err.code, 'IMGDESC_OUTPUT');
    assert.match(err.message, pattern);
    return true;
  };
}

// Each of these may be a link in an image; the file written below it is the
// one a build writes there.
const LINKS = ['etc', 'etc/systemd', 'etc/systemd/system', 'var/tmp', 'var/tmp/kiwi_containers'];
const fileBelow = (link: string) => (link.startsWith('etc') ? '/etc/systemd/system/x.service' : '/var/tmp/kiwi_containers/a');

type Kind = 'absolute to a host directory' | 'relative, climbing to a host directory' | 'relative, climbing far above /' | 'dangling absolute';

/** The link's target, and the directory (relative to ROOT) the booted image reaches through it. */
function linkFor(kind: Kind, link: string, base: string): { target: string; inRoot: string } {
  const decoy = join(base, 'decoy');
  switch (kind) {
    case 'absolute to a host directory':
      return { target: decoy, inRoot: decoy.slice(1) };
    case 'relative, climbing to a host directory': // from ROOT/<link>'s directory, exactly up to base
      return { target: `${'../'.repeat(link.split('/').length)}decoy`, inRoot: 'decoy' };
    case 'relative, climbing far above /':
      return { target: `${'../'.repeat(30)}${decoy.slice(1)}`, inRoot: decoy.slice(1) };
    case 'dangling absolute':
      return { target: join(base, 'ghost', 'x'), inRoot: join(base, 'ghost', 'x').slice(1) };
  }
}

/** A decoy directory outside the root holding every file a naive join would write, replace or remove. */
async function makeDecoy(base: string): Promise<string> {
  const decoy = join(base, 'decoy');
  const files: Record<string, string> = {};
  for (const link of LINKS) {
    const rest = fileBelow(link).slice(link.length + 2);
    for (const f of [rest, `${rest}.b`, `${rest}.lnk`, join(dirname(rest), 'sub', 'dir', 'keep')]) files[f] = `decoy ${f}\n`;
  }
  await writeTree(decoy, files);
  return decoy;
}

describe('RootDirOutput: links in the image resolve inside the root', () => {
  const kinds: Kind[] = ['absolute to a host directory', 'relative, climbing to a host directory', 'relative, climbing far above /', 'dangling absolute'];
  for (const link of LINKS) {
    for (const kind of kinds) {
      test(`/${link} is a link, ${kind}`, async (t) => {
        const { base, root, out } = await setup(t);
        const decoy = await makeDecoy(base);
        const before = await snapshot(decoy);
        const { target, inRoot } = linkFor(kind, link, base);
        await mkdir(join(root, dirname(link)), { recursive: true });
        await symlink(target, join(root, link));
        const file = fileBelow(link);
        const dir = dirname(file);
        /** Where the booted image sees an in-image path below the link. */
        const at = (p: string) => join(root, inRoot, p.slice(link.length + 2));

        await out.writeFile(file, 'unit\n');
        assert.equal(await readFile(at(file), 'utf8'), 'unit\n');
        assert.equal(await out.hostPath(file), at(file));
        assert.deepEqual(await out.readHead(file, 100), Buffer.from('unit\n'));
        assert.ok((await out.list(dir)).includes(basename(file)));

        const f = await out.createFile(`${file}.b`, { size: 5 });
        await f.write(Buffer.from('hello'), 0);
        await f.commit();
        assert.equal(await readFile(at(`${file}.b`), 'utf8'), 'hello');

        await out.symlink(`${file}.lnk`, '/dev/null');
        assert.equal(await readlink(at(`${file}.lnk`)), '/dev/null');

        await out.mkdir(`${dir}/sub/dir`);
        assert.ok((await stat(at(`${dir}/sub/dir`))).isDirectory());
        await out.writeFile(`${dir}/sub/dir/keep`, 'k');

        await out.remove(file);
        await out.remove(`${file}.lnk`);
        await out.remove(`${dir}/sub`, { recursive: true });
        assert.equal(await exists(at(file)), false);
        assert.equal(await exists(at(`${file}.lnk`)), false);
        assert.equal(await exists(at(`${dir}/sub`)), false);
        assert.equal(await exists(at(`${file}.b`)), true);

        assert.ok((await lstat(join(root, link))).isSymbolicLink(), 'the link itself stays');
        assert.deepEqual(await snapshot(decoy), before, 'nothing outside the root changed');
        assert.equal(await exists(join(base, 'ghost')), false);
        assert.deepEqual((await readdir(base)).sort(), ['decoy', 'root']);
        await assertNoTemps(root);
      });
    }
  }
});

describe('RootDirOutput: the last name is never followed when written or removed', () => {
  async function linksOut(t: Ctx) {
    const { base, root, out } = await setup(t);
    const outside = join(base, 'outside.txt');
    await writeFile(outside, 'host file\n');
    await mkdir(join(root, 'etc'));
    await symlink(outside, join(root, 'etc', 'abs.conf'));
    await symlink('../../../outside.txt', join(root, 'etc', 'rel.conf'));
    return { base, root, out, outside, before: await snapshot(base + '/outside.txt') };
  }

  test('writeFile and createFile replace a link pointing outside; the outside file is unchanged', async (t) => {
    const { root, out, outside, before } = await linksOut(t);
    await out.writeFile('/etc/abs.conf', 'mine\n');
    const f = await out.createFile('/etc/rel.conf', {});
    await f.write(Buffer.from('also mine\n'), 0);
    await f.commit();
    assert.ok((await lstat(join(root, 'etc', 'abs.conf'))).isFile());
    assert.equal(await readFile(join(root, 'etc', 'abs.conf'), 'utf8'), 'mine\n');
    assert.equal(await readFile(join(root, 'etc', 'rel.conf'), 'utf8'), 'also mine\n');
    assert.deepEqual(await snapshot(outside), before);
    await assertNoTemps(root);
  });

  test('symlink replaces a link or a file at the name', async (t) => {
    const { root, out, outside, before } = await linksOut(t);
    await out.symlink('/etc/abs.conf', '/usr/share/x');
    await writeFile(join(root, 'etc', 'plain'), 'x');
    await out.symlink('/etc/plain', 'abs.conf');
    assert.equal(await readlink(join(root, 'etc', 'abs.conf')), '/usr/share/x');
    assert.equal(await readlink(join(root, 'etc', 'plain')), 'abs.conf');
    assert.deepEqual(await snapshot(outside), before);
    await assertNoTemps(root);
  });

  test('remove removes the link only', async (t) => {
    const { root, out, outside, before } = await linksOut(t);
    await out.remove('/etc/abs.conf');
    await out.remove('/etc/rel.conf', { recursive: true });
    assert.deepEqual(await readdir(join(root, 'etc')), []);
    assert.deepEqual(await snapshot(outside), before);
  });

  test('reading through such a link looks inside the root, not at the host file', async (t) => {
    const { root, out, outside } = await linksOut(t);
    assert.equal(await out.readHead('/etc/abs.conf', 100), null);
    assert.equal(await out.readHead('/etc/rel.conf', 100), null);
    assert.equal(await out.hostPath('/etc/abs.conf'), join(root, outside));
    assert.equal(await out.hostPath('/etc/rel.conf'), join(root, 'outside.txt'));
    await writeFile(join(root, 'outside.txt'), 'in the image\n');
    assert.deepEqual(await out.readHead('/etc/rel.conf', 100), Buffer.from('in the image\n'));
  });

  test('a recursive remove never follows links inside the tree or at its name', async (t) => {
    const { base, root, out } = await setup(t);
    const decoy = await makeDecoy(base);
    const before = await snapshot(decoy);
    await mkdir(join(root, 'var/tmp/kiwi_containers/deep'), { recursive: true });
    await symlink(decoy, join(root, 'var/tmp/kiwi_containers/abs'));
    await symlink('../../../../../decoy', join(root, 'var/tmp/kiwi_containers/deep/rel'));
    await symlink(decoy, join(root, 'var/tmp/to-decoy'));
    await out.remove('/var/tmp/to-decoy', { recursive: true });
    await out.remove('/var/tmp/kiwi_containers', { recursive: true });
    assert.deepEqual(await readdir(join(root, 'var/tmp')), []);
    assert.deepEqual(await snapshot(decoy), before);
  });
});

describe('RootDirOutput: errors', () => {
  test('a link loop is an OutputError naming the path', async (t) => {
    const { root, out } = await setup(t);
    await mkdir(join(root, 'etc'));
    await symlink('b', join(root, 'etc', 'a'));
    await symlink('/etc/a', join(root, 'etc', 'b'));
    const loop = isOutputError(/^cannot \w+ \/etc\/a\/x\.service in root .*: the link \/etc\/[ab] cannot be followed inside the root/);
    await assert.rejects(out.writeFile('/etc/a/x.service', 'x'), loop);
    await assert.rejects(out.createFile('/etc/a/x.service', {}), loop);
    await assert.rejects(out.symlink('/etc/a/x.service', 'x'), loop);
    await assert.rejects(out.mkdir('/etc/a/x.service'), loop);
    await assert.rejects(out.remove('/etc/a/x.service'), loop);
    await assert.rejects(out.list('/etc/a/x.service'), loop);
    await assert.rejects(out.readHead('/etc/a/x.service', 1), loop);
    await assert.rejects(out.hostPath('/etc/a/x.service'), loop);
    // a loop at the last name of a write is simply replaced
    await out.writeFile('/etc/a', 'file');
    assert.ok((await lstat(join(root, 'etc', 'a'))).isFile());
  });

  test('a regular file where a directory is needed is an OutputError naming it', async (t) => {
    const { root, out } = await setup(t);
    await writeFile(join(root, 'etc'), 'not a directory');
    const notDir = isOutputError(/\/etc\/systemd\/x in root .*: \/etc is not a directory/);
    await assert.rejects(out.writeFile('/etc/systemd/x', 'x'), notDir);
    await assert.rejects(out.createFile('/etc/systemd/x', {}), notDir);
    await assert.rejects(out.mkdir('/etc/systemd/x'), notDir);
    await assert.rejects(out.list('/etc/systemd/x'), notDir);
    await assert.rejects(out.mkdir('/etc'), isOutputError(/\/etc is not a directory/));
    assert.equal(await readFile(join(root, 'etc'), 'utf8'), 'not a directory');
  });

  test('paths naming no file, and removing a directory without recursive', async (t) => {
    const { root, out } = await setup(t);
    await assert.rejects(out.remove('/'), isOutputError(/names no file/));
    await assert.rejects(out.writeFile('/etc/', 'x'), isOutputError(/names no file/));
    await out.mkdir('/etc/d');
    await assert.rejects(out.remove('/etc/d'), isOutputError(new RegExp(`cannot remove /etc/d in root .*: ${reason('EISDIR')}$`)));
    await assert.rejects(out.writeFile('/etc/d', 'x'), isOutputError(new RegExp(`cannot write /etc/d in root .*: ${reason('EISDIR')}$`)));
    assert.ok((await stat(join(root, 'etc/d'))).isDirectory());
    await assertNoTemps(root);
  });

  test('removing what is not there is no error and creates nothing', async (t) => {
    const { root, out } = await setup(t);
    await out.remove('/var/tmp/kiwi_containers/a');
    await out.remove('/var/tmp/kiwi_containers', { recursive: true });
    assert.deepEqual(await readdir(root), []);
  });
});

describe('RootDirOutput: createFile', () => {
  test('nothing is visible before commit; abort leaves no file and no temp', async (t) => {
    const { root, out } = await setup(t);
    const f = await out.createFile('/var/tmp/kiwi_containers/a', { size: 3 });
    const dir = join(root, 'var/tmp/kiwi_containers');
    assert.equal(await exists(join(dir, 'a')), false);
    const names = await readdir(dir);
    assert.equal(names.length, 1);
    assert.ok(names[0]?.includes(TEMP_MARKER));
    await f.write(Buffer.from('abc'), 0);
    await f.abort();
    await f.abort();
    assert.deepEqual(await readdir(dir), []);
    await assert.rejects(f.commit(), OutputError);
    await assert.rejects(f.write(Buffer.from('x'), 3), OutputError);
  });

  test('commit makes the file visible; fd takes positional writes; abort after commit does nothing', async (t) => {
    const { root, out } = await setup(t);
    const f = await out.createFile('/var/tmp/kiwi_containers/a', { size: 10, mode: 0o600 });
    assert.equal(typeof f.fd, 'number');
    writeSync(f.fd as number, Buffer.from('world'), 0, 5, 5);
    await f.write(Buffer.from('hello'), 0);
    await f.commit();
    await f.commit();
    await f.abort();
    const file = join(root, 'var/tmp/kiwi_containers/a');
    assert.equal(await readFile(file, 'utf8'), 'helloworld');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dirname(file)), ['a']);
  });

  test('a commit that cannot rename is an OutputError and leaves no temp', async (t) => {
    const { root, out } = await setup(t);
    const f = await out.createFile('/etc/x', {});
    await mkdir(join(root, 'etc', 'x')); // a directory appears at the name meanwhile
    await assert.rejects(f.commit(), isOutputError(new RegExp(`cannot write /etc/x in root .*: ${reason('EISDIR')}$`)));
    assert.deepEqual(await readdir(join(root, 'etc')), ['x']);
    await assertNoTemps(root);
  });
});

describe('RootDirOutput: reading follows links inside the root', () => {
  async function tree(t: Ctx) {
    const { base, root, out } = await setup(t);
    await writeTree(root, { 'srv/real/f': 'content\n', 'srv/real/g': '' });
    await mkdir(join(root, 'etc'));
    await symlink('/srv/real', join(root, 'etc', 'alt'));
    await symlink('../srv/real', join(root, 'etc', 'rel'));
    await symlink('/srv/real/f', join(root, 'etc', 'f'));
    await writeTree(base, { 'srv/real/host-only': 'host\n' });
    await symlink(join(base, 'srv/real'), join(root, 'etc', 'host'));
    return { base, root, out };
  }

  test('list', async (t) => {
    const { root, out } = await tree(t);
    assert.deepEqual((await out.list('/etc/alt')).sort(), ['f', 'g']);
    assert.deepEqual((await out.list('/etc/rel/')).sort(), ['f', 'g']);
    assert.deepEqual(await out.list('/etc/host'), [], 'the host directory is not listed');
    assert.deepEqual(await out.list('/etc/f'), []);
    assert.deepEqual(await out.list('/nothing/here'), []);
    assert.deepEqual((await out.list('/')).sort(), ['etc', 'srv']);
    assert.equal(await exists(join(root, 'nothing')), false);
  });

  test('readHead', async (t) => {
    const { out } = await tree(t);
    assert.deepEqual(await out.readHead('/etc/f', 3), Buffer.from('con'));
    assert.deepEqual(await out.readHead('/etc/alt/f', 100), Buffer.from('content\n'));
    assert.deepEqual(await out.readHead('/etc/rel/g', 100), Buffer.alloc(0));
    assert.equal(await out.readHead('/etc/host/host-only', 100), null);
    assert.equal(await out.readHead('/etc/alt', 100), null);
    assert.equal(await out.readHead('/etc/missing', 100), null);
  });

  test('hostPath', async (t) => {
    const { base, root, out } = await tree(t);
    assert.equal(await out.hostPath('/etc/f'), join(root, 'srv/real/f'));
    assert.equal(await out.hostPath('/etc/alt/f'), join(root, 'srv/real/f'));
    assert.equal(await out.hostPath('/etc/host/host-only'), join(root, base, 'srv/real/host-only'));
    // ".." after a link goes up from where the link led (/srv/real), as the kernel does
    assert.equal(await out.hostPath('/../../etc/rel/../../x'), join(root, 'x'));
    assert.equal(await out.hostPath('/etc/rel/../x'), join(root, 'srv/x'));
    assert.equal(await out.hostPath('/'), root);
  });

  test('mkdir follows a link at the last name', async (t) => {
    const { base, root, out } = await tree(t);
    await out.mkdir('/etc/alt');
    await out.mkdir('/etc/host/new');
    assert.ok((await stat(join(root, base, 'srv/real/new'))).isDirectory());
    assert.equal(await exists(join(base, 'srv/real/new')), false);
    await assert.rejects(out.mkdir('/etc/f'), isOutputError(/\/etc\/f in root .*: \/srv\/real\/f is not a directory/));
  });

  test('".." at the root stays at the root when writing', async (t) => {
    const { base, root, out } = await setup(t);
    await out.writeFile('/../../x', 'x');
    assert.equal(await readFile(join(root, 'x'), 'utf8'), 'x');
    assert.equal(await exists(join(base, 'x')), false);
  });
});

describe('prepareRoot and open', () => {
  test('creates a missing root and returns its absolute path', async (t) => {
    const base = await realpath(await tempDir(t));
    const root = join(base, 'a', 'b', 'root');
    assert.equal(await prepareRoot(root), root);
    assert.ok((await stat(root)).isDirectory());
    assert.equal(await prepareRoot(root), root);
  });

  test('a root reached through a link is used by its real path', async (t) => {
    const base = await realpath(await tempDir(t));
    await mkdir(join(base, 'real'));
    await symlink(join(base, 'real'), join(base, 'via'));
    assert.equal(await prepareRoot(join(base, 'via')), join(base, 'real'));
    const out = await RootDirOutput.open(join(base, 'via'));
    assert.equal(out.description, `root ${join(base, 'real')}`);
    await out.writeFile('/etc/x', 'x');
    assert.equal(await readFile(join(base, 'real/etc/x'), 'utf8'), 'x');
    assert.ok((await lstat(join(base, 'via'))).isSymbolicLink());
    await out.close();
  });

  test('a root that is a file, or below one, is an OutputError naming it', async (t) => {
    const base = await realpath(await tempDir(t));
    const file = join(base, 'file');
    await writeFile(file, 'x');
    await assert.rejects(prepareRoot(file), (err: unknown) => {
      assert.ok(err instanceof OutputError);
      assert.equal(err.code, 'IMGDESC_OUTPUT');
      assert.equal(err.message, `root ${file} exists and is not a directory`);
      assert.equal(err.target, file);
      return true;
    });
    await assert.rejects(RootDirOutput.open(join(file, 'root')), isOutputError(new RegExp(`root ${file}/root: ${reason('ENOTDIR')}$`)));
  });
});
