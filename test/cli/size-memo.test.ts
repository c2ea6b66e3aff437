import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { buildSetup } from '../../src/cli/commands/build.js';
import { sizeMemoKey } from '../../src/cache/size-memo.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const exec = promisify(execFile);
const silent = { out: () => {}, err: () => {} };
const EXAMPLE = ['examples/appliance.xml', '--container-dir', 'examples/containers', '--offline', '--quiet', '--target-arch', 'x86_64'];

/** What the archives hold besides their index, as skopeo reads them: each image's config and layers. */
async function blobBytes(archives: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(archives)) {
    const { stdout } = await exec('skopeo', ['inspect', '--raw', `oci-archive:${join(archives, name)}`]);
    const m = JSON.parse(stdout) as { config: { size: number }; layers: { size: number }[] };
    total += m.config.size + m.layers.reduce((s, l) => s + l.size, 0);
  }
  return total;
}

describe('imgdesc build: the size memo starts the file threads of a build as large as its last run', () => {
  test('a build records the bytes it announced to the threads; the next setup of the same selection reads it', async (t) => {
    const dir = await tempDir(t);
    const cache = join(dir, 'cache');
    const r = await runCli(['build', ...EXAMPLE, '--root', join(dir, 'root'), '--cache-dir', cache]);
    assert.equal(r.code, 0, r.stderr);
    const key = sizeMemoKey('examples/appliance.xml', ['x86_64']);
    const recorded = Number(await readFile(join(cache, 'size-memo', key), 'utf8'));
    // Each blob is announced twice: once to be stored (and hashed), once to be copied into its archive.
    assert.equal(recorded, 2 * (await blobBytes(join(dir, 'root', 'var/tmp/kiwi_containers'))));

    // Small: the next build starts no thread up front.
    const small = await buildSetup('build', { 'cache-dir': cache, offline: true, 'target-arch': 'x86_64', quiet: true }, ['examples/appliance.xml'], silent);
    assert.equal(small.options.workers?.threads, 0);
    await small.options.workers?.close();

    // As large as the LAN benchmark set: every thread starts before the description is read.
    await writeFile(join(cache, 'size-memo', key), String(480_000_000));
    const large = await buildSetup('build', { 'cache-dir': cache, offline: true, 'target-arch': 'x86_64', quiet: true }, ['examples/appliance.xml'], silent);
    assert.equal(large.options.workers?.threads, Math.min(availableParallelism(), 4));
    await large.options.workers?.close();

    // Another selection has no memo of its own.
    const other = await buildSetup('build', { 'cache-dir': cache, offline: true, 'target-arch': 'x86_64', profile: ['debug'], quiet: true }, ['examples/appliance.xml'], silent);
    assert.equal(other.options.workers?.threads, 0);
    await other.options.workers?.close();
  });

  test('--no-cache neither reads nor writes a memo', async (t) => {
    const dir = await tempDir(t);
    const r = await runCli(['build', ...EXAMPLE, '--root', join(dir, 'root'), '--no-cache']);
    assert.equal(r.code, 0, r.stderr);
    const setup = await buildSetup('build', { 'no-cache': true, offline: true, 'target-arch': 'x86_64', quiet: true }, ['examples/appliance.xml'], silent);
    assert.equal(setup.options.cacheDir, undefined);
    assert.equal(setup.memo, undefined);
    await setup.options.workers?.close();
  });
});
