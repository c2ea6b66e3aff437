// The command users get is an esbuild bundle (dist/bundle) and its launcher. It must find the
// templates, the schema and its own version where the sources do, and build
// exactly what the sources build.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, lstat, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, SHIPPED_BIN, spawnCli, type CliResult } from '../helpers/cli.js';
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

// The launcher (dist/bundle/bin.js) compiles the bundle with the code cache
// `npm run build` made; V8 rejects a cache made under other V8 flags.
function launcherSays(code: string, args: string[] = []): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', `const l = require(${JSON.stringify(SHIPPED_BIN)});\n${code}`, '--', ...args], (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test('V8 accepts the shipped code cache in a process started as the command starts', async () => {
  const r = await launcherSays('process.stdout.write(String(l.compile(l.readCache()).cachedDataRejected));');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'false', 'the cache was rejected: the launcher must set the V8 flags bin.ts sets before it compiles');
});

test('the shipped command works the same with a code cache V8 rejects', async () => {
  const example = join(REPO, 'examples/appliance.xml');
  const r = await launcherSays(
    `const s = l.compile(Buffer.alloc(64));
if (s.cachedDataRejected !== true) process.exit(9);
process.argv = [process.argv[0], l.BUNDLE, ...process.argv.slice(1)];
l.run(s);`,
    ['validate', example, '--json'],
  );
  assert.equal(r.code, 0, r.stderr);
  const cached = await spawnCli(['validate', example, '--json'], { shipped: true });
  assert.deepEqual(JSON.parse(r.stdout), JSON.parse(cached.stdout));
});
