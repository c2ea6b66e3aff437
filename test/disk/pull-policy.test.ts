// imgdesc pull honours the signature policy as build does: decided on the
// top-level manifest before the disk's blob is asked for.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { writeConfig } from '../helpers/containers-config.js';
import { artifactManifest, copyToRegistry, diskBytes, HandLayout, TITLE } from '../helpers/disk-artifacts.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { tempDir } from '../helpers/tmp.js';

describe('imgdesc pull and the signature policy', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry('plain');
  });
  after(() => registry?.stop());

  test('a policy that rejects the scope: exit 4, no blob asked for, nothing written; an accepting scope pulls', async (t) => {
    const dir = await tempDir(t);
    const layout = await HandLayout.create(join(dir, 'layout'));
    const layer = await layout.blob(diskBytes('policy-disk', 4096), 'application/x-qemu-qcow2', { annotations: { [TITLE]: 'disk.qcow2' } });
    await layout.tag(await artifactManifest(layout, [layer]), '1');
    await copyToRegistry(layout, '1', registry, 'disks/closed');
    await copyToRegistry(layout, '1', registry, 'disks/open');
    const cfg = await writeConfig(join(dir, 'c'), {
      registriesConf: `[[registry]]\nlocation = "${registry.host}"\ninsecure = true\n`,
      policy: { default: [{ type: 'reject' }], transports: { docker: { [`${registry.host}/disks/open`]: [{ type: 'insecureAcceptAnything' }] } } },
    });
    const flags = ['--registries-conf', cfg.registriesConf, '--policy', cfg.policy, '--registries.d', cfg.registriesD, '--json'];
    const out = join(dir, 'out');
    const before = (await registry.accessLog()).length;
    const refused = await runCli(['pull', `${registry.host}/disks/closed:1`, join(out, 'closed.qcow2'), ...flags]);
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, /rejected by .*policy\.json/);
    const blobGets = (await registry.accessLog()).slice(before).filter((e) => e.method === 'GET' && e.path.includes('/blobs/'));
    assert.deepEqual(blobGets, [], 'the disk was never downloaded');
    assert.deepEqual(await readdir(out).catch(() => []), []);
    const pulled = await runCli(['pull', `${registry.host}/disks/open:1`, join(dir, 'open.qcow2'), ...flags]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.deepEqual(JSON.parse(pulled.stdout).accepted, [{ scope: `${registry.host}/disks/open`, requirement: 'insecureAcceptAnything', keys: [] }]);
  });
});
