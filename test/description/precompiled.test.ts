// `npm run build` precompiles the schema into dist/ (scripts/precompile-schema.mjs)
// and bundles the CLI (scripts/bundle.mjs). The shipped command must judge
// descriptions exactly as the sources do.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, runCli, spawnCli } from '../helpers/cli.js';
import { description } from '../helpers/descriptions.js';
import { tempDir } from '../helpers/tmp.js';

const BUILT = join(REPO, 'dist/description/kiwi-schema-validator.js');

test('the shipped command, with the precompiled validator, gives the same answers as the runtime compile', async (t) => {
  assert.ok(existsSync(BUILT), `${BUILT} is missing: run npm run build`);
  const dir = await tempDir(t);
  const broken = join(dir, 'broken.xml');
  await writeFile(
    broken,
    description(`  <contaners source="r.org" backend="podman"><container name="a"/></contaners>
  <containers source="r.org" backend="lxc"><container name="A" tag="-x" fetch_only="yes" colour="red"/></containers>
  <users><user name="root" password="x" home="/root" groups="root" pwdformat="wrong"/></users>`),
  );
  const fixtures = join(REPO, 'test/fixtures/descriptions');
  const files = [broken, join(REPO, 'examples/appliance.xml'), join(fixtures, 'selection.kiwi'), ...(await readdir(join(fixtures, 'valid'))).map((f) => join(fixtures, 'valid', f))];
  for (const file of files) {
    const fromSources = await runCli(['validate', file, '--json']);
    const built = await spawnCli(['validate', file, '--json'], { shipped: true });
    assert.equal(built.code, fromSources.code, file);
    assert.deepEqual(JSON.parse(built.stdout), JSON.parse(fromSources.stdout), file);
  }
  const brokenReport = JSON.parse((await runCli(['validate', broken, '--json'])).stdout);
  assert.ok(brokenReport.errors.length >= 5, 'the broken description really is broken in several ways');
});
