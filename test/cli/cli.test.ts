import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCli, spawnCli } from '../helpers/cli.js';
import { description } from '../helpers/descriptions.js';
import { tempDir } from '../helpers/tmp.js';

async function file(t: { after(fn: () => unknown): void }, text: string, name = 'd.xml') {
  const dir = await tempDir(t);
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
}

const BAD = description(`<contaners/>
<containers source="r.example.org" backend="podman"><container name="a" tag=".bad"/></containers>`);
const BAD_LINE = BAD.split('\n').findIndex((l) => l.startsWith('<contaners')) + 1;

describe('imgdesc validate', () => {
  test('valid: exit 0 and a one-line summary', async () => {
    const r = await runCli(['validate', 'examples/appliance.xml']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^examples\/appliance\.xml: valid \(schema 8\.5, 2 profiles, 3 containers\)\n$/);
  });

  test('invalid: exit 3, one problem per line as file:line: path: message', async (t) => {
    const p = await file(t, BAD);
    const r = await runCli(['validate', p]);
    assert.equal(r.code, 3);
    const lines = r.stderr.trimEnd().split('\n');
    assert.deepEqual(lines.slice(0, 2), [
      `${p}:${BAD_LINE}: /image/contaners[1]: unknown element <contaners> in <image>; did you mean <containers>? (allowed: ${lines[0]!.split('(allowed: ')[1]}`,
      `${p}:${BAD_LINE + 1}: /image/containers[1]/container[1]/@tag: tag ".bad" is not valid: expected 1 to 128 characters of letters, digits, "_", "." and "-", not starting with "." or "-"`,
    ]);
    assert.equal(lines[2], `${p}: 2 problems`);
    assert.equal(r.stdout, '');
  });

  test('--json: {valid, errors[{message, path, line}]}', async (t) => {
    const p = await file(t, BAD);
    const r = await runCli(['validate', p, '--json']);
    assert.equal(r.code, 3);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.valid, false);
    assert.deepEqual(Object.keys(doc.errors[0]).sort(), ['line', 'message', 'path']);
    assert.deepEqual(doc.errors.map((e: { path: string; line: number }) => [e.path, e.line]), [['/image/contaners[1]', BAD_LINE], ['/image/containers[1]/container[1]/@tag', BAD_LINE + 1]]);
    const ok = JSON.parse((await runCli(['validate', 'examples/appliance.xml', '--json'])).stdout);
    assert.deepEqual(ok, { valid: true, errors: [] });
  });

  test('selection is checked too: unknown profile is a usage error (exit 2)', async () => {
    const r = await runCli(['validate', 'examples/appliance.xml', '--profile', 'nope']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /profile "nope" is not defined .*defined profiles: base, debug/);
  });

  test('not well-formed XML and DOCTYPE: exit 3 with the line', async (t) => {
    const r1 = await runCli(['validate', await file(t, '<image>\n<x>\n</image>')]);
    assert.equal(r1.code, 3);
    assert.match(r1.stderr, /:3: \/: not well-formed XML/);
    const r2 = await runCli(['validate', await file(t, '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n<image>&e;</image>')]);
    assert.equal(r2.code, 3);
    assert.match(r2.stderr, /:2: \/: a <!DOCTYPE> declaration is not allowed/);
  });

  test('missing description: exit 3 naming the path', async () => {
    const r = await runCli(['validate', '/nonexistent/appliance.xml']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /cannot read description \/nonexistent\/appliance\.xml: no such file or directory/);
  });
});

describe('imgdesc plan', () => {
  test('--json follows the contract, in description order', async () => {
    const r = await runCli(['plan', 'examples/appliance.xml', '--profile', 'debug', '--target-arch', 'aarch64', '--json']);
    assert.equal(r.code, 0);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(doc.image, { name: 'imgdesc-example-appliance' });
    assert.deepEqual(doc.profiles, ['debug', 'base']);
    assert.equal(doc.platform, 'linux/arm64/v8');
    assert.deepEqual(
      doc.containers.map((c: Record<string, unknown>) => [c.reference, c.archive, c.backend, c.load, c.platform]),
      [
        ['registry.example.org/imgdesc/hello:1.0', '/var/tmp/kiwi_containers/hello_1.0', 'podman', true, 'linux/arm64/v8'],
        ['registry.example.org/imgdesc/hello:1.0-config', '/var/tmp/kiwi_containers/hello_1.0-config', 'podman', false, 'linux/arm64/v8'],
        ['registry.example.org/imgdesc/toolbox:1.0', '/var/tmp/kiwi_containers/toolbox_1.0', 'podman', true, 'linux/arm64/v8'],
      ],
    );
  });

  test('human output is a table with the selection on top', async () => {
    const r = await runCli(['plan', 'examples/docker-appliance.kiwi', '--target-arch', 'x86_64']);
    assert.equal(r.code, 0);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], 'image:     edge-gateway');
    assert.equal(lines[2], 'target:    x86_64 (linux/amd64)');
    assert.match(lines[4]!, /^REFERENCE\s+BACKEND\s+LOAD\s+ARCHIVE$/);
    assert.match(lines[6]!, /^registry\.example\.org:5000\/edge\/gateway\/api:v3\.1\s+docker\s+yes\s+\/var\/tmp\/kiwi_containers\/gateway_api_v3\.1$/);
  });

  test('invalid description: exit 3, and --json prints the problems as an error document', async (t) => {
    const r = await runCli(['plan', await file(t, BAD), '--json']);
    assert.equal(r.code, 3);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.error.code, 'IMGDESC_DESCRIPTION_INVALID');
    assert.equal(doc.error.problems.length, 2);
  });

  test('unknown --target-arch: exit 2', async () => {
    const r = await runCli(['plan', 'examples/appliance.xml', '--target-arch', 'arm64']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /target architecture: "arm64" is not a `uname -m` name .*use "aarch64"/);
  });
});

describe('usage', () => {
  test('unknown command, unknown option, missing argument: exit 2', async () => {
    assert.equal((await runCli(['frobnicate'])).code, 2);
    const r = await runCli(['plan', 'examples/appliance.xml', '--profil', 'x']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Unknown option '--profil'/);
    assert.match((await runCli(['plan'])).stderr, /missing DESCRIPTION/);
    assert.equal((await runCli([])).code, 2);
  });

  test('the real binary runs: --help, --version, exit codes', async () => {
    const help = await spawnCli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /imgdesc validate|validate DESCRIPTION/);
    assert.match((await spawnCli(['--version'])).stdout, /^\d+\.\d+\.\d+\n$/);
    assert.equal((await spawnCli(['validate', 'examples/nope.xml'])).code, 3);
  });
});
