// registries.conf against real registries, with skopeo (Debian 12's 1.9.3)
// given the same files as the referee: every case must get the same accept
// or reject from both.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { archivesIn, imgdescBuild, skopeoVerdict, writeConfig, type ContainersConfig } from '../helpers/containers-config.js';
import { freePort, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { pushNewImage } from '../helpers/test-images.js';
import { tempDir } from '../helpers/tmp.js';

const AMD64 = [{ architecture: 'amd64' }];

describe('registries.conf, with skopeo as the referee', () => {
  let primary: TestRegistry;
  let mirror: TestRegistry;
  /** host:port where nothing listens: a registry that is down. */
  let down: string;
  before(async () => {
    [primary, mirror] = await Promise.all([startRegistry('plain'), startRegistry('plain')]);
    down = `127.0.0.1:${await freePort()}`;
  });
  after(async () => {
    await primary?.stop();
    await mirror?.stop();
  });

  /** Both tools on the same files; returns imgdesc's result after checking they agree. */
  async function both(dir: string, config: ContainersConfig, ref: string, expectOk: boolean, extra: { skopeo?: string[]; imgdesc?: string[] } = {}) {
    const [referee, ours] = await Promise.all([skopeoVerdict(config, ref, dir, extra.skopeo), imgdescBuild(config, ref, dir, extra.imgdesc)]);
    assert.equal(referee.ok, expectOk, `skopeo ${expectOk ? 'refused' : 'accepted'} ${ref}: ${referee.output}`);
    assert.equal(ours.code === 0, expectOk, `imgdesc (exit ${ours.code}) disagrees with skopeo on ${ref}: ${ours.stderr}`);
    return ours;
  }

  test('a mirror serves while the registry is down; the archive keeps the planned name', async (t) => {
    const dir = await tempDir(t);
    const pushed = await pushNewImage(dir, mirror, 'mirrored/app', '1.0', { seed: 'mirror-serves', platforms: AMD64 });
    const config = await writeConfig(join(dir, 'conf'), {
      registriesConf: `[[registry]]\nlocation = "${down}"\ninsecure = true\n\n[[registry.mirror]]\nlocation = "${mirror.host}"\ninsecure = true\n`,
    });
    const r = await both(dir, config, `${down}/mirrored/app:1.0`, true);
    const out = JSON.parse(r.stdout);
    assert.equal(out.containers[0].reference, `${down}/mirrored/app:1.0`);
    assert.equal(out.containers[0].source, `mirror ${mirror.host}`);
    assert.equal(out.containers[0].indexDigest ?? out.containers[0].digest, pushed.pushedDigest);
  });

  test('a mirror that fails gives way to the next, with a note', async (t) => {
    const dir = await tempDir(t);
    await pushNewImage(dir, primary, 'fallback/app', '1.0', { seed: 'mirror-fails', platforms: AMD64 });
    const config = await writeConfig(join(dir, 'conf'), {
      registriesConf: `[[registry]]\nlocation = "${primary.host}"\ninsecure = true\n\n[[registry.mirror]]\nlocation = "${down}"\ninsecure = true\n\n[[registry.mirror]]\nlocation = "${mirror.host}/empty"\ninsecure = true\n`,
    });
    const r = await both(dir, config, `${primary.host}/fallback/app:1.0`, true);
    const out = JSON.parse(r.stdout);
    assert.equal(out.containers[0].source, `registry ${primary.host}`);
    assert.equal(out.containers[0].notes.length, 2, r.stdout);
    assert.match(out.containers[0].notes[0], new RegExp(`mirror ${down} failed.*trying the next`));
    assert.match(out.containers[0].notes[1], new RegExp(`mirror ${mirror.host} failed`));
  });

  test('location rewrites a name to where the images really are', async (t) => {
    const dir = await tempDir(t);
    const pushed = await pushNewImage(dir, primary, 'real/team/app', '2.0', { seed: 'rewrite', platforms: AMD64 });
    const config = await writeConfig(join(dir, 'conf'), {
      registriesConf: `[[registry]]\nprefix = "images.example.test/team"\nlocation = "${primary.host}/real/team"\ninsecure = true\n`,
    });
    const r = await both(dir, config, 'images.example.test/team/app:2.0', true);
    const out = JSON.parse(r.stdout);
    assert.equal(out.containers[0].reference, 'images.example.test/team/app:2.0');
    assert.equal(out.containers[0].indexDigest ?? out.containers[0].digest, pushed.pushedDigest);
  });

  test('a blocked registry: exit 4 naming the rule and its file', async (t) => {
    const dir = await tempDir(t);
    await pushNewImage(dir, primary, 'blocked/app', '1.0', { seed: 'blocked', platforms: AMD64 });
    const config = await writeConfig(join(dir, 'conf'), { registriesConf: `[[registry]]\nprefix = "${primary.host}/blocked"\nlocation = "${primary.host}/blocked"\ninsecure = true\nblocked = true\n` });
    const r = await both(dir, config, `${primary.host}/blocked/app:1.0`, false);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /is blocked by .*registries\.conf \(\[\[registry\]\] prefix ".*\/blocked", blocked = true\)/);
    assert.deepEqual(await archivesIn(r.root), [], 'nothing was written');
  });

  test('insecure = true allows plain http for that registry alone, without --tls-verify=false', async (t) => {
    const dir = await tempDir(t);
    await pushNewImage(dir, primary, 'insecure/app', '1.0', { seed: 'insecure', platforms: AMD64 });
    const ref = `${primary.host}/insecure/app:1.0`;
    const insecure = await writeConfig(join(dir, 'insecure'), { registriesConf: `[[registry]]\nlocation = "${primary.host}"\ninsecure = true\n` });
    await both(dir, insecure, ref, true);
    const secure = await writeConfig(join(dir, 'secure'), { registriesConf: `[[registry]]\nlocation = "${mirror.host}"\ninsecure = true\n` });
    const r = await both(dir, secure, ref, false);
    assert.equal(r.code, 4);
  });

  test('mirror-by-digest-only: the mirror is skipped for a tag and used for a digest', async (t) => {
    const dir = await tempDir(t);
    const pushed = await pushNewImage(dir, mirror, 'bydigest/app', '1.0', { seed: 'by-digest', platforms: AMD64 });
    const config = await writeConfig(join(dir, 'conf'), {
      registriesConf: `[[registry]]\nlocation = "${down}"\ninsecure = true\nmirror-by-digest-only = true\n\n[[registry.mirror]]\nlocation = "${mirror.host}"\ninsecure = true\n`,
    });
    const tagged = `${down}/bydigest/app:1.0`;
    await both(dir, config, tagged, false);
    // By digest: skopeo takes the digest reference; imgdesc the same through --source.
    const pinned = `${down}/bydigest/app@${pushed.pushedDigest}`;
    const referee = await skopeoVerdict(config, pinned, dir);
    assert.ok(referee.ok, referee.output);
    const ours = await imgdescBuild(config, tagged, dir, ['--source', `${tagged}=docker://${pinned}`]);
    assert.equal(ours.code, 0, ours.stderr);
    assert.equal(JSON.parse(ours.stdout).containers[0].source, `mirror ${mirror.host}`);
  });

  test('pull-from-mirror = "digest-only" skips the mirror for a tag (not known to skopeo 1.9.3)', async (t) => {
    const dir = await tempDir(t);
    await pushNewImage(dir, mirror, 'perdigest/app', '1.0', { seed: 'per-mirror', platforms: AMD64 });
    await pushNewImage(dir, primary, 'perdigest/app', '1.0', { seed: 'per-mirror-primary', platforms: AMD64 });
    const config = await writeConfig(join(dir, 'conf'), {
      registriesConf: `[[registry]]\nlocation = "${primary.host}"\ninsecure = true\n\n[[registry.mirror]]\nlocation = "${mirror.host}"\ninsecure = true\npull-from-mirror = "digest-only"\n`,
    });
    const r = await imgdescBuild(config, `${primary.host}/perdigest/app:1.0`, dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).containers[0].source, `registry ${primary.host}`);
  });

  test('a V1 registries.conf is refused (exit 2) naming the file', async (t) => {
    const dir = await tempDir(t);
    const config = await writeConfig(join(dir, 'conf'), { registriesConf: `[registries.insecure]\nregistries = ["${primary.host}"]\n` });
    const r = await imgdescBuild(config, `${primary.host}/v1/app:1.0`, dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`${config.registriesConf.replace(/[.]/g, '\\.')}: \\[registries\\.\\*\\]: the V1 format`));
  });
});

describe('registries.conf: the fleet case and credentials', () => {
  test('a pull-through cache listed as a mirror serves a second build after the upstream is stopped', async (t) => {
    const dir = await tempDir(t);
    const upstream = await startRegistry('plain');
    t.after(() => upstream.stop());
    const cache = await startRegistry('plain', { proxyOf: upstream.url });
    t.after(() => cache.stop());
    const pushed = await pushNewImage(dir, upstream, 'fleet/app', '1.0', { seed: 'fleet', platforms: AMD64, layers: [{ size: 200_000 }] });
    const config = await writeConfig(join(dir, 'conf'), {
      registriesConf: `[[registry]]\nlocation = "${upstream.host}"\ninsecure = true\n\n[[registry.mirror]]\nlocation = "${cache.host}"\ninsecure = true\n`,
    });
    const ref = `${upstream.host}/fleet/app:1.0`;
    const first = await imgdescBuild(config, ref, dir);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(JSON.parse(first.stdout).containers[0].source, `mirror ${cache.host}`);
    await upstream.stop();
    // Another worker: no blob cache of its own, the upstream gone.
    const second = await imgdescBuild(config, ref, dir);
    assert.equal(second.code, 0, second.stderr);
    const out = JSON.parse(second.stdout).containers[0];
    assert.equal(out.source, `mirror ${cache.host}`);
    assert.equal(out.indexDigest ?? out.digest, pushed.pushedDigest);
    const referee = await skopeoVerdict(config, ref, dir);
    assert.ok(referee.ok, referee.output);
  });

  test("a mirror on another host never receives the registry's credentials", async (t) => {
    const dir = await tempDir(t);
    const [registry, mirror] = await Promise.all([startRegistry('token'), startRegistry('token')]);
    t.after(() => Promise.all([registry.stop(), mirror.stop()]));
    await pushNewImage(dir, registry, 'creds/app', '1.0', { seed: 'creds', platforms: AMD64 });
    const authfile = join(dir, 'auth.json');
    const { user } = registry;
    await writeFile(authfile, JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${user!.username}:${user!.password}`).toString('base64') } } }));
    const config = await writeConfig(join(dir, 'conf'), {
      registriesConf: `[[registry]]\nlocation = "${registry.host}"\ninsecure = true\n\n[[registry.mirror]]\nlocation = "${mirror.host}"\ninsecure = true\n`,
    });
    const r = await imgdescBuild(config, `${registry.host}/creds/app:1.0`, dir, ['--authfile', authfile]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout).containers[0];
    assert.equal(out.source, `registry ${registry.host}`, 'the mirror refused an anonymous reader; the registry served');
    assert.ok(mirror.tokenRequests().length > 0, 'the mirror was asked first');
    assert.deepEqual(mirror.tokenRequests().filter((q) => q.sent !== null), [], "the registry's credentials never went to the mirror");
    assert.ok(registry.tokenRequests().some((q) => q.sent === `${user!.username}:${user!.password}`), 'the registry got them');
    const referee = await skopeoVerdict(config, `${registry.host}/creds/app:1.0`, dir, ['--src-authfile', authfile]);
    assert.ok(referee.ok, referee.output);
  });
});
