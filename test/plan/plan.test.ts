import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { planJson } from '../../src/report/report.js';
import { loadDescription } from '../../src/description/load.js';
import { makePlan, referenceOf } from '../../src/plan/plan.js';
import { REPO } from '../helpers/cli.js';
import { description } from '../helpers/descriptions.js';
import { tempDir } from '../helpers/tmp.js';
import { writeFile } from 'node:fs/promises';

// Golden plans are committed: a missing one fails. Regenerate with
// UPDATE_GOLDEN=1, review the diff, and commit it.
const GOLDEN = join(REPO, 'test/fixtures/golden');
const cases: Array<[string, string, string[], string]> = [
  ['appliance-default-x86_64', 'examples/appliance.xml', [], 'x86_64'],
  ['appliance-debug-aarch64', 'examples/appliance.xml', ['debug'], 'aarch64'],
  ['docker-appliance-x86_64', 'examples/docker-appliance.kiwi', [], 'x86_64'],
  ['docker-appliance-ppc64le', 'examples/docker-appliance.kiwi', [], 'ppc64le'],
  ['snap-appliance-x86_64', 'examples/snap-appliance', [], 'x86_64'],
  ['snap-appliance-aarch64', 'examples/snap-appliance', [], 'aarch64'],
  ['selection-web-x86_64', 'test/fixtures/descriptions/selection.kiwi', ['web'], 'x86_64'],
];

describe('golden plans', () => {
  for (const [name, file, profiles, arch] of cases) {
    test(name, async () => {
      const desc = await loadDescription(join(REPO, file));
      const actual = planJson(makePlan(desc, { profiles, arch }));
      const golden = join(GOLDEN, `${name}.json`);
      const text = `${JSON.stringify(actual, null, 2)}\n`;
      if (process.env.UPDATE_GOLDEN) writeFileSync(golden, text);
      assert.ok(existsSync(golden), `golden file ${golden} is missing; create it with UPDATE_GOLDEN=1 and review it`);
      assert.equal(text, readFileSync(golden, 'utf8'));
    });
  }
});

async function planOf(t: { after(fn: () => unknown): void }, body: string, arch = 'x86_64') {
  const dir = await tempDir(t);
  const file = join(dir, 'd.xml');
  await writeFile(file, description(body));
  return makePlan(await loadDescription(file), { arch });
}

describe('references and archives', () => {
  test('reference joins source, path and name like KIWI; tag defaults to latest', () => {
    assert.equal(referenceOf('r.example.org', '', 'a', 'latest').toString(), 'r.example.org/a:latest');
    assert.equal(referenceOf('r.example.org/', 'x/y', 'a', '1').toString(), 'r.example.org/x/y/a:1');
    assert.equal(referenceOf('localhost:5000/base', '', 'a', '1').toString(), 'localhost:5000/base/a:1');
  });

  test('archive is /var/tmp/kiwi_containers/<name>_<tag>; fetch_only is not loaded', async (t) => {
    const plan = await planOf(t, '<containers source="localhost:5000/base" backend="podman"><container name="app" path="/team/" tag="2"/><container name="blob" fetch_only="true"/></containers>');
    assert.deepEqual(
      plan.containers.map((c) => [c.reference, c.ref.registry, c.ref.repository, c.archive, c.load]),
      [
        ['localhost:5000/base/team/app:2', 'localhost:5000', 'base/team/app', '/var/tmp/kiwi_containers/app_2', true],
        ['localhost:5000/base/blob:latest', 'localhost:5000', 'base/blob', '/var/tmp/kiwi_containers/blob_latest', false],
      ],
    );
  });

  test('a "/" in a name never makes directories', async (t) => {
    const plan = await planOf(t, '<containers source="r.example.org" backend="podman"><container name="library/nginx" tag="1"/></containers>');
    assert.equal(plan.containers[0]!.archive, '/var/tmp/kiwi_containers/library_nginx_1');
  });

  test('the same file name from two references: the first keeps the KIWI name, the next is disambiguated', async (t) => {
    const plan = await planOf(
      t,
      `<containers source="r.example.org" backend="podman"><container name="tumbleweed" path="opensuse"/><container name="tumbleweed" path="other"/></containers>
<containers source="r.example.org" backend="docker"><container name="tumbleweed" path="opensuse"/></containers>`,
    );
    const archives = plan.containers.map((c) => c.archive);
    assert.equal(archives[0], '/var/tmp/kiwi_containers/tumbleweed_latest');
    assert.match(archives[1]!, /^\/var\/tmp\/kiwi_containers\/tumbleweed_latest_[0-9a-f]{8}$/);
    assert.match(archives[2]!, /^\/var\/tmp\/kiwi_containers\/tumbleweed_latest_[0-9a-f]{8}$/);
    assert.equal(new Set(archives).size, 3);
    assert.equal(plan.notes.length, 2);
    assert.match(plan.notes[0]!, /archive name tumbleweed_latest is already used by r\.example\.org\/opensuse\/tumbleweed:latest/);
  });

  test('an exact repeat (same reference, backend, loading) is planned once', async (t) => {
    const plan = await planOf(
      t,
      `<containers source="r.example.org" backend="podman"><container name="a"/></containers>
<containers source="r.example.org/" backend="podman"><container name="a" tag="latest"/></containers>`,
    );
    assert.equal(plan.containers.length, 1);
    assert.match(plan.notes[0]!, /repeats \/image\/containers\[1\]\/container\[1\].*planned once/);
  });

  test('planning is deterministic and leaves the model untouched', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'd.xml');
    await writeFile(file, description('<containers source="r.example.org" backend="podman"><container name="a" path="x"/><container name="a" path="y"/></containers>'));
    const desc = await loadDescription(file);
    const first = makePlan(desc, { arch: 'x86_64' });
    assert.deepEqual(makePlan(desc, { arch: 'x86_64' }), first);
    assert.deepEqual(makePlan(await loadDescription(file), { arch: 'x86_64' }), first);
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.containers[0]));
  });
});
