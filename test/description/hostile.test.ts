// Hostile descriptions, through the CLI as a pipeline would meet them: each is
// refused with a clear problem (exit 3) or handled, quickly, with bounded
// output, and nothing is ever written outside the root.
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCli, spawnCli } from '../helpers/cli.js';
import { description } from '../helpers/descriptions.js';
import { tempDir } from '../helpers/tmp.js';

type T = { after(fn: () => unknown): void };

async function write(t: T, xml: string): Promise<{ dir: string; file: string }> {
  const dir = await tempDir(t);
  const file = join(dir, 'appliance.xml');
  await writeFile(file, xml);
  return { dir, file };
}

const withContainers = (containers: string) =>
  description(`  <containers source="registry.example.org" backend="podman">\n${containers}\n  </containers>`);

async function validate(file: string) {
  const r = await runCli(['validate', file, '--json']);
  return { ...r, report: r.stdout ? (JSON.parse(r.stdout) as { valid: boolean; errors: Array<{ message: string; path: string; line: number | null }> }) : null };
}

describe('hostile descriptions', () => {
  test('an entity expansion bomb is refused at its DOCTYPE, before anything expands', async (t) => {
    const lol = ['<!ENTITY lol0 "lol">', ...Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i};`.repeat(10)}">`)].join('\n');
    const { file } = await write(t, `<?xml version="1.0"?>\n<!DOCTYPE image [\n${lol}\n]>\n<image schemaversion="8.5" name="x">&lol9;</image>\n`);
    const r = await validate(file);
    assert.equal(r.code, 3);
    assert.equal(r.report!.errors.length, 1);
    assert.match(r.report!.errors[0]!.message, /DOCTYPE/);
    assert.equal(r.report!.errors[0]!.line, 2);
    assert.ok(r.stdout.length < 2000, 'nothing was expanded into the output');
  });

  test('an external entity is never read', async (t) => {
    const { file } = await write(t, `<?xml version="1.0"?>\n<!DOCTYPE image [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<image schemaversion="8.5" name="&x;"/>\n`);
    const r = await validate(file);
    assert.equal(r.code, 3);
    assert.doesNotMatch(r.stdout + r.stderr, /root:/);
  });

  test('names and tags with .., /, shell metacharacters and control characters are refused, each with its path and line', async (t) => {
    const bad = [
      ['name="../../../etc/cron.d/x"', 'name'],
      ['name="/abs"', 'name'],
      ['name="a$(touch /tmp/pwned)"', 'name'],
      ['name="a;rm -rf"', 'name'],
      ['name="a`id`"', 'name'],
      ['name="ok" tag="1.0;reboot"', 'tag'],
      ['name="ok" tag="../x"', 'tag'],
      ['name="ok" tag="a&#10;b"', 'tag'],
      ['name="ok" path="a/../../b"', 'path'],
      ['name="a&#9;b"', 'name'],
    ] as const;
    const xml = withContainers(bad.map(([attrs]) => `    <container ${attrs}/>`).join('\n'));
    const first = xml.split('\n').findIndex((l) => l.includes('<container ')) + 1;
    const { file } = await write(t, xml);
    const r = await validate(file);
    assert.equal(r.code, 3);
    for (const [i, [, attr]] of bad.entries()) {
      const path = `/image/containers[1]/container[${i + 1}]/@${attr}`;
      const err = r.report!.errors.find((e) => e.path === path);
      assert.ok(err, `a problem at ${path}; got ${JSON.stringify(r.report!.errors.map((e) => e.path))}`);
      assert.equal(err.line, first + i);
    }
  });

  test('a control character that XML forbids is a well-formedness error with its line', async (t) => {
    const xml = withContainers('    <container name="a\u0001b"/>');
    const { file } = await write(t, xml);
    const r = await validate(file);
    assert.equal(r.code, 3);
    assert.equal(r.report!.errors[0]!.line, xml.split('\n').findIndex((l) => l.includes('<container ')) + 1);
  });

  test('a 100 000-character value is refused and is not echoed back whole', async (t) => {
    const long = 'a'.repeat(100_000);
    const { file } = await write(t, withContainers(`    <container name="${long}" tag="${'b'.repeat(100_000)}"/>`));
    const r = await validate(file);
    assert.equal(r.code, 3);
    assert.ok(r.report!.errors.some((e) => e.path.endsWith('@name')));
    assert.ok(r.report!.errors.some((e) => e.path.endsWith('@tag')));
    assert.ok(r.stdout.length < 10_000, `output stays small (${r.stdout.length} bytes)`);
    const text = await runCli(['validate', file]);
    assert.ok(text.stderr.length + text.stdout.length < 10_000);
  });

  test('deep nesting is refused with a clear problem, not a stack overflow', async (t) => {
    const depth = 100_000;
    const { file } = await write(t, `<?xml version="1.0"?>\n<image schemaversion="8.5" name="x">${'<a>'.repeat(depth)}${'</a>'.repeat(depth)}</image>\n`);
    const r = await validate(file);
    assert.equal(r.code, 3);
    assert.match(r.report!.errors[0]!.message, /nested more than \d+ levels/);
  });

  test('a 10 MB description is handled in bounded memory: valid ones pass, oversize ones are refused before parsing', async (t) => {
    const packages = Array.from({ length: 330_000 }, (_, i) => `    <package name="package-${i}"/>`).join('\n');
    const big = description(`  <packages type="image">\n${packages}\n  </packages>`);
    assert.ok(big.length > 10_000_000);
    const { dir, file } = await write(t, big);
    // As a separate process, so its peak memory can be read.
    const r = await spawnCli(['validate', file, '--json'], { env: { NODE_OPTIONS: '--max-old-space-size=512' } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).valid, true);

    const huge = join(dir, 'huge.xml');
    await writeFile(huge, big + `<!--${' '.repeat(17 * 1024 * 1024)}-->`);
    const refused = await validate(huge);
    assert.equal(refused.code, 3);
    assert.match(refused.stderr + refused.stdout, /larger than \d+ bytes/);
  });

  test('a container name with components never creates directories: the archive stays in kiwi_containers', async (t) => {
    const { dir, file } = await write(t, withContainers('    <container name="deep/er/name" path="/org/" tag="1.0"/>'));
    const plan = await runCli(['plan', file, '--json', '--target-arch', 'x86_64']);
    assert.equal(plan.code, 0, plan.stderr);
    const archive = JSON.parse(plan.stdout).containers[0].archive as string;
    assert.match(archive, /^\/var\/tmp\/kiwi_containers\/[^/]+$/);
    // An offline build that cannot find the image writes nothing at all.
    const root = join(dir, 'root');
    const build = await runCli(['build', file, '--root', root, '--offline', '--container-dir', join(dir, 'none'), '--target-arch', 'x86_64']);
    assert.equal(build.code, 4);
    const outside = (await readdir(dir)).filter((n) => n !== 'appliance.xml' && n !== 'root');
    assert.deepEqual(outside, [], 'nothing beside the description and the root');
  });
});
