import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DEFAULT_TEMPLATES, renderUnits } from '../../src/units/render.js';
import { tempDir } from '../helpers/tmp.js';

const images = [
  { reference: 'r.example.org/a:1', archive: '/var/tmp/kiwi_containers/a_1', backend: 'podman' as const },
  { reference: 'r.example.org/b:1-x', archive: '/var/tmp/kiwi_containers/b_1-x', backend: 'docker' as const },
  { reference: 'r.example.org/c:2', archive: '/var/tmp/kiwi_containers/c_2', backend: 'container-snap' as const },
];
const opts = { generator: 'imgdesc test' };

describe('renderUnits', () => {
  test('nothing loadable: no units at all', async () => {
    assert.deepEqual(await renderUnits([], opts), { files: [], links: [], loadUnits: [] });
  });

  test('one template unit per backend, kiwi_containers.service, and the enable links', async () => {
    const u = await renderUnits(images, opts);
    assert.deepEqual(u.files.map((f) => f.path), [
      '/etc/systemd/system/imgdesc-load-container-snap@.service',
      '/etc/systemd/system/imgdesc-load-docker@.service',
      '/etc/systemd/system/imgdesc-load-podman@.service',
      '/etc/systemd/system/kiwi_containers.service',
    ]);
    assert.deepEqual(u.loadUnits, [
      'imgdesc-load-podman@var-tmp-kiwi_containers-a_1.service',
      'imgdesc-load-docker@var-tmp-kiwi_containers-b_1\\x2dx.service',
      'imgdesc-load-container-snap@var-tmp-kiwi_containers-c_2.service',
    ]);
    assert.deepEqual(u.links[0], { path: '/etc/systemd/system/multi-user.target.wants/kiwi_containers.service', target: '/etc/systemd/system/kiwi_containers.service' });
    assert.deepEqual(u.links[2], {
      path: '/etc/systemd/system/kiwi_containers.service.wants/imgdesc-load-docker@var-tmp-kiwi_containers-b_1\\x2dx.service',
      target: '/etc/systemd/system/imgdesc-load-docker@.service',
    });
  });

  test('load units: the right command, delete only after success, skip when gone, daemon ordering', async () => {
    const u = await renderUnits(images, opts);
    const get = (name: string) => u.files.find((f) => f.path.endsWith(name))!.content;
    const podman = get('imgdesc-load-podman@.service');
    assert.match(podman, /^ExecStart=\/usr\/bin\/podman load -i %f$/m);
    assert.match(podman, /^ExecStartPost=\/bin\/rm -f %f$/m);
    assert.match(podman, /^ConditionPathExists=%f$/m);
    assert.match(podman, /^Before=kiwi_containers\.service multi-user\.target$/m);
    assert.doesNotMatch(podman, /docker\.service|^Requires=/m);
    const docker = get('imgdesc-load-docker@.service');
    assert.match(docker, /^Requires=docker\.service$/m);
    assert.match(docker, /^After=docker\.service$/m);
    assert.match(get('imgdesc-load-container-snap@.service'), /^After=container-snap\.service$/m);
    const agg = get('kiwi_containers.service');
    for (const unit of u.loadUnits) {
      assert.ok(agg.includes(`Wants=${unit}\n`) && agg.includes(`After=${unit}\n`), unit);
    }
    assert.doesNotMatch(agg, /^Requires=/m);
    assert.match(agg, /^WantedBy=multi-user\.target$/m);
  });

  test('byte-identical for the same input', async () => {
    assert.deepEqual(await renderUnits(images, opts), await renderUnits(images, opts));
  });

  test('--templates: a user directory with the same variables', async (t) => {
    const dir = await tempDir(t);
    await cp(DEFAULT_TEMPLATES, dir, { recursive: true });
    const file = join(dir, 'load.service.hbs');
    await writeFile(file, (await readFile(file, 'utf8')).replace('[Service]', '[Service]\nNice=10\nEnvironment=IMGDESC_BACKEND={{backend}}'));
    const u = await renderUnits(images.slice(0, 1), { ...opts, templatesDir: dir });
    assert.match(u.files[0]!.content, /^Nice=10\nEnvironment=IMGDESC_BACKEND=podman$/m);
  });

  test('a template using an unknown variable or missing is a clear error', async (t) => {
    const dir = await tempDir(t);
    await cp(DEFAULT_TEMPLATES, dir, { recursive: true });
    await writeFile(join(dir, 'load.service.hbs'), 'ExecStart={{binray}} load -i %f\n');
    await assert.rejects(renderUnits(images, { ...opts, templatesDir: dir }), /unit template .*\/load\.service\.hbs: "binray" not defined/);
    await assert.rejects(renderUnits(images, { ...opts, templatesDir: join(dir, 'nope') }), /unit template .*nope\/load\.service\.hbs cannot be read: no such file or directory/);
  });
});
