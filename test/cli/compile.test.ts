// imgdesc compile DESCRIPTION OUTDIR, through the CLI: the layout of OUTDIR,
// the overlay in it, what is copied, what a failure leaves (nothing), and that
// two compiles give the same bytes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { compileText } from '../../src/description/compile-text.js';
import { REPO, runCli } from '../helpers/cli.js';
import { description } from '../helpers/descriptions.js';
import { tempDir, writeTree } from '../helpers/tmp.js';

const run = promisify(execFile);
const EXAMPLE = join(REPO, 'examples/appliance.xml');
const OFFLINE = ['--container-dir', join(REPO, 'examples/containers'), '--offline'];
const ARCHIVE = 'imgdesc-containers.tar';
const EPOCH = '1700000000';

let savedEpoch: string | undefined;
before(() => {
  savedEpoch = process.env.SOURCE_DATE_EPOCH;
  process.env.SOURCE_DATE_EPOCH = EPOCH;
});
after(() => {
  if (savedEpoch === undefined) delete process.env.SOURCE_DATE_EPOCH;
  else process.env.SOURCE_DATE_EPOCH = savedEpoch;
});

/** Every entry below dir with its type, mode and content hash (or link target). */
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const name of (await readdir(d)).sort()) {
      const p = join(d, name);
      const info = await lstat(p);
      const mode = (info.mode & 0o7777).toString(8);
      if (info.isSymbolicLink()) out[rel + name] = `link -> ${await readlink(p)}`;
      else if (info.isDirectory()) {
        out[`${rel}${name}/`] = `dir ${mode}`;
        await walk(p, `${rel}${name}/`);
      } else out[rel + name] = `file ${mode} ${createHash('sha256').update(await readFile(p)).digest('hex')}`;
    }
  };
  await walk(dir, '');
  return out;
}

async function tarListing(file: string): Promise<string[]> {
  const { stdout } = await run('tar', ['--numeric-owner', '-tvf', file], { env: { ...process.env, TZ: 'UTC' } });
  return stdout.trim().split('\n');
}

describe('imgdesc compile', () => {
  test('writes config.xml without <containers> and the overlay as an <archive>; the result validates', async (t) => {
    const out = join(await tempDir(t), 'compiled');
    const r = await runCli(['compile', EXAMPLE, out, ...OFFLINE]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((await readdir(out)).sort(), ['config.xml', ARCHIVE]);
    const original = await readFile(EXAMPLE, 'utf8');
    assert.equal(await readFile(join(out, 'config.xml'), 'utf8'), compileText(original, ARCHIVE).text);
    assert.match(r.stdout, new RegExp(`^description: ${out}/config.xml\noutput: overlay ${out}/${ARCHIVE}\n`));

    const listing = await tarListing(join(out, ARCHIVE));
    const names = listing.map((l) => l.split(/\s+/).slice(5).join(' '));
    assert.deepEqual(names, [
      'etc/',
      'etc/systemd/',
      'etc/systemd/system/',
      'etc/systemd/system/imgdesc-load-podman@.service',
      'etc/systemd/system/kiwi_containers.service',
      'etc/systemd/system/kiwi_containers.service.wants/',
      'etc/systemd/system/kiwi_containers.service.wants/imgdesc-load-podman@var-tmp-kiwi_containers-hello_1.0.service -> /etc/systemd/system/imgdesc-load-podman@.service',
      'etc/systemd/system/multi-user.target.wants/',
      'etc/systemd/system/multi-user.target.wants/kiwi_containers.service -> /etc/systemd/system/kiwi_containers.service',
      'var/',
      'var/tmp/',
      'var/tmp/kiwi_containers/',
      'var/tmp/kiwi_containers/hello_1.0',
      'var/tmp/kiwi_containers/hello_1.0-config',
    ]);
    for (const line of listing) assert.match(line, / 0\/0 .* 2023-11-14 22:13 /, line);
    assert.match(listing.find((l) => l.endsWith(' var/tmp/'))!, /^drwxrwxrwt /);

    const v = await runCli(['validate', out]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /config\.xml: valid \(schema 8\.5, 2 profiles, 0 containers\)/);
  });

  test('the archive is byte for byte what build --overlay writes, for the selected profiles', async (t) => {
    const dir = await tempDir(t);
    const c = await runCli(['compile', EXAMPLE, join(dir, 'out'), '--profile', 'debug', ...OFFLINE, '--quiet']);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.stdout, '');
    const b = await runCli(['build', EXAMPLE, '--overlay', join(dir, 'overlay.tar'), '--profile', 'debug', ...OFFLINE, '--quiet']);
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual(await readFile(join(dir, 'out', ARCHIVE)), await readFile(join(dir, 'overlay.tar')));
    assert.ok((await tarListing(join(dir, 'out', ARCHIVE))).some((l) => l.endsWith(' var/tmp/kiwi_containers/toolbox_1.0')));
  });

  test('compiling twice gives identical directories', async (t) => {
    const dir = await tempDir(t);
    for (const name of ['one', 'two']) assert.equal((await runCli(['compile', EXAMPLE, join(dir, name), ...OFFLINE, '-q'])).code, 0);
    const [one, two] = [await tree(join(dir, 'one')), await tree(join(dir, 'two'))];
    assert.deepEqual(Object.keys(one), ['config.xml', ARCHIVE]);
    assert.deepEqual(one, two);
  });

  test('a description directory: every file copied (modes, links, root/), the description keeps its name, the lock stays behind', async (t) => {
    const dir = await tempDir(t);
    const desc = join(dir, 'desc');
    const text = description(`<containers source="registry.example.org" backend="podman">
    <container name="hello" path="imgdesc" tag="1.0"/>
</containers>
<packages type="image">
    <package name="podman"/>
    <archive name="extra.tar"/>
</packages>`);
    await writeTree(desc, {
      'appliance.kiwi': text,
      'config.sh': '#!/bin/bash\necho configured\n',
      'images.sh': '#!/bin/bash\n',
      'extra.tar': 'not really a tar',
      'root/etc/motd': 'hello\n',
      'root/usr/local/bin/tool': '#!/bin/sh\n',
    });
    assert.equal((await runCli(['lock', desc, ...OFFLINE])).code, 0);
    assert.ok((await readdir(desc)).includes('appliance.lock.json'));
    await chmod(join(desc, 'config.sh'), 0o755);
    await symlink('/usr/local/bin/tool', join(desc, 'root/etc/tool-link'));
    const out = join(dir, 'out');
    const r = await runCli(['compile', desc, out, ...OFFLINE, '-q']);
    assert.equal(r.code, 0, r.stderr);
    const got = await tree(out);
    const src = await tree(desc);
    assert.deepEqual(Object.keys(got).sort(), ['appliance.kiwi', 'config.sh', 'extra.tar', 'images.sh', ARCHIVE, 'root/', 'root/etc/', 'root/etc/motd', 'root/etc/tool-link', 'root/usr/', 'root/usr/local/', 'root/usr/local/bin/', 'root/usr/local/bin/tool']);
    for (const k of Object.keys(got)) if (k !== ARCHIVE && k !== 'appliance.kiwi') assert.equal(got[k], src[k], k);
    assert.match(got['config.sh']!, /^file 755 /);
    assert.equal(await readFile(join(out, 'appliance.kiwi'), 'utf8'), compileText(text, ARCHIVE).text);
    assert.equal((await runCli(['validate', out])).code, 0);
  });

  test('compiling into a directory inside the description directory does not copy it into itself', async (t) => {
    const desc = await tempDir(t);
    await writeTree(desc, { 'config.xml': await readFile(EXAMPLE, 'utf8'), 'config.sh': '#!/bin/bash\n', 'build/old.log': '' });
    const r = await runCli(['compile', desc, join(desc, 'build/compiled'), ...OFFLINE, '-q']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(Object.keys(await tree(join(desc, 'build/compiled'))).sort(), ['build/', 'build/old.log', 'config.sh', 'config.xml', ARCHIVE]);
    // The directory that holds only OUTDIR is not copied.
    const r2 = await runCli(['compile', desc, join(desc, 'out/compiled'), ...OFFLINE, '-q']);
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual((await readdir(join(desc, 'out/compiled'))).sort(), ['build', 'config.sh', 'config.xml', ARCHIVE]);
  });

  test('a single file: NAME.kiwi keeps its name, anything else becomes config.xml; archives it names by relative path go along', async (t) => {
    const dir = await tempDir(t);
    const text = description(`<packages type="image">
    <archive name="files/extra.tar"/>
    <archive name="/abs/elsewhere.tar"/>
    <archive name="../outside.tar"/>
</packages>`);
    await writeTree(dir, { 'src/edge.kiwi': text, 'src/other.xml': text, 'src/files/extra.tar': 'x', 'src/unrelated.sh': '' });
    const r1 = await runCli(['compile', join(dir, 'src/edge.kiwi'), join(dir, 'a'), ...OFFLINE]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.deepEqual(Object.keys(await tree(join(dir, 'a'))).sort(), ['edge.kiwi', 'files/', 'files/extra.tar', ARCHIVE]);
    assert.match(r1.stderr, /note: <archive name="\.\.\/outside\.tar"\/> is outside the description's directory; not copied/);
    const r2 = await runCli(['compile', join(dir, 'src/other.xml'), join(dir, 'b'), ...OFFLINE, '-q']);
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual((await readdir(join(dir, 'b'))).sort(), ['config.xml', 'files', ARCHIVE]);
  });

  test('OUTDIR that is not empty, or not a directory: exit 5 and nothing changed', async (t) => {
    const dir = await tempDir(t);
    const out = join(dir, 'out');
    await writeTree(out, { 'keep.txt': 'mine' });
    const before = await tree(dir);
    const r = await runCli(['compile', EXAMPLE, out, ...OFFLINE]);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /out is not empty/);
    await writeFile(join(dir, 'file'), 'x');
    const f = await runCli(['compile', EXAMPLE, join(dir, 'file'), ...OFFLINE]);
    assert.equal(f.code, 5);
    assert.match(f.stderr, /exists and is not a directory/);
    const after = await tree(dir);
    delete after.file;
    assert.deepEqual(after, before);
  });

  test('an empty OUTDIR is used, and keeps its mode', async (t) => {
    const out = join(await tempDir(t), 'empty');
    await mkdir(out, { mode: 0o750 });
    await chmod(out, 0o750);
    assert.equal((await runCli(['compile', EXAMPLE, out, ...OFFLINE, '-q'])).code, 0);
    assert.equal((await lstat(out)).mode & 0o7777, 0o750);
    assert.deepEqual((await readdir(out)).sort(), ['config.xml', ARCHIVE]);
  });

  test('a failed compile leaves nothing: no OUTDIR, no temporary directory, no parents it created', async (t) => {
    const dir = await tempDir(t);
    const r = await runCli(['compile', EXAMPLE, join(dir, 'new/deeper/out'), '--container-dir', dir, '--offline']);
    assert.equal(r.code, 4, r.stderr);
    assert.deepEqual(await readdir(dir), []);
  });

  test('--json: the outdir, the description and the build report', async (t) => {
    const out = join(await tempDir(t), 'out');
    const r = await runCli(['compile', EXAMPLE, out, ...OFFLINE, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.outdir, out);
    assert.equal(doc.description, join(out, 'config.xml'));
    assert.equal(doc.archive, join(out, ARCHIVE));
    assert.deepEqual(doc.containers.map((c: { reference: string }) => c.reference), ['registry.example.org/imgdesc/hello:1.0', 'registry.example.org/imgdesc/hello:1.0-config']);
  });

  test('usage errors: exit 2; an already compiled description: exit 3', async (t) => {
    const dir = await tempDir(t);
    assert.equal((await runCli(['compile', EXAMPLE])).code, 2);
    assert.equal((await runCli(['compile', EXAMPLE, join(dir, 'x'), '--root', dir])).code, 2);
    assert.equal((await runCli(['compile', EXAMPLE, join(dir, 'x'), '--overlay', join(dir, 'o.tar')])).code, 2);
    assert.equal((await runCli(['compile', EXAMPLE, join(dir, 'first'), ...OFFLINE, '-q'])).code, 0);
    const again = await runCli(['compile', join(dir, 'first'), join(dir, 'second'), ...OFFLINE]);
    assert.equal(again.code, 3);
    assert.match(again.stderr, /already holds imgdesc-containers\.tar; this looks like a compiled description/);
    assert.deepEqual((await readdir(dir)).sort(), ['first']);
    const help = await runCli(['compile', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: imgdesc compile DESCRIPTION OUTDIR/);
  });
});
