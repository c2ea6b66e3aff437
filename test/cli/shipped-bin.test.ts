// The command users get is an esbuild bundle (dist/bundle). It must find the
// templates, the schema and its own version where the sources do, and build
// exactly what the sources build.
import assert from 'node:assert/strict';
import { cp, lstat, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, spawnCli } from '../helpers/cli.js';
import { listFiles, tempDir } from '../helpers/tmp.js';

test('the shipped command builds the example offline byte for byte as the sources do', async (t) => {
  const dir = await tempDir(t);
  const args = (root: string) => ['build', join(REPO, 'examples/appliance.xml'), '--container-dir', join(REPO, 'examples/containers'), '--offline', '--root', root, '--no-cache', '--json'];
  const env = { SOURCE_DATE_EPOCH: '1700000000' };
  const shipped = await spawnCli(args(join(dir, 'shipped')), { shipped: true, env });
  assert.equal(shipped.code, 0, shipped.stderr);
  const sources = await spawnCli(args(join(dir, 'sources')), { env });
  assert.equal(sources.code, 0, sources.stderr);

  const files = await listFiles(join(dir, 'shipped'));
  assert.deepEqual(files, await listFiles(join(dir, 'sources')));
  assert.ok(files.some((f) => f.startsWith('var/tmp/kiwi_containers/')), 'archives written');
  assert.ok(files.some((f) => f.endsWith('kiwi_containers.service')), 'units written from the shipped templates');
  for (const f of files) {
    const [a, b] = [join(dir, 'shipped', f), join(dir, 'sources', f)];
    // Enablement links point at in-image paths, which do not resolve here.
    if ((await lstat(a)).isSymbolicLink()) assert.equal(await readlink(a), await readlink(b), f);
    else assert.ok((await readFile(a)).equals(await readFile(b)), `${f} differs`);
  }
  const version = await spawnCli(['--version'], { shipped: true });
  assert.equal(version.stdout.trim(), JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')).version);
});

test('the shipped command renders a changed template, not the shipped one it carries precompiled', async (t) => {
  const dir = await tempDir(t);
  const templates = join(dir, 'templates');
  await cp(join(REPO, 'templates'), templates, { recursive: true });
  const file = join(templates, 'kiwi_containers.service.hbs');
  await writeFile(file, `${await readFile(file, 'utf8')}# site marker {{generator}}\n`);
  const root = join(dir, 'root');
  const r = await spawnCli(['build', join(REPO, 'examples/appliance.xml'), '--container-dir', join(REPO, 'examples/containers'), '--offline', '--root', root, '--no-cache', '--templates', templates], { shipped: true });
  assert.equal(r.code, 0, r.stderr);
  assert.match(await readFile(join(root, 'etc/systemd/system/kiwi_containers.service'), 'utf8'), /^# site marker imgdesc /m);
});
