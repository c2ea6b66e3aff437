// policy.json and registries.d against a real registry: GPG signatures made
// by `skopeo copy --sign-by` into a file:// (and an http://) lookaside, with
// skopeo given the same files as the referee. Debian's skopeo cannot verify
// sigstore signatures, so for those the format is the referee: cosign-style
// attachments written here, and each kind of spoiling refused.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { digestOf } from '../../src/oci/digest.js';
import { archivesIn, imgdescBuild, skopeoVerdict, writeConfig, type ContainersConfig } from '../helpers/containers-config.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { cosignPayload, cosignSign, makeGpgKey, makeSigstoreKey, stopAgent, type GpgKey, type SigstoreKeyPair } from '../helpers/signing-keys.js';
import { makeImage } from '../helpers/test-images.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { tempDir } from '../helpers/tmp.js';
import { REPO } from '../helpers/cli.js';

const exec = promisify(execFile);
const AMD64 = [{ architecture: 'amd64' }];

describe('signature policy, with skopeo as the referee', () => {
  let registry: TestRegistry;
  let work: string;
  let trusted: GpgKey;
  let other: GpgKey;
  /** Where skopeo --sign-by writes, and imgdesc reads, simple signatures. */
  let lookaside: string;
  let signingD: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'imgdesc-policy-'));
    registry = await startRegistry('plain');
    await mkdir(join(work, 'gpg'));
    [trusted, other] = await Promise.all([makeGpgKey(join(work, 'gpg'), 'trusted'), makeGpgKey(join(work, 'gpg'), 'other')]);
    await writeFile(join(work, 'trusted.gpg'), trusted.public);
    lookaside = join(work, 'lookaside');
    signingD = join(work, 'signing.d');
    await mkdir(signingD, { recursive: true });
    await writeFile(join(signingD, 'default.yaml'), `default-docker:\n  lookaside: file://${lookaside}\n`);
  });
  after(async () => {
    await registry?.stop();
    if (trusted) await stopAgent(trusted);
    if (other) await stopAgent(other);
    await rm(work, { recursive: true, force: true });
  });

  /** Pushes a new image, signed by `key` when given (skopeo --sign-by), and returns its pushed (index) digest. */
  async function push(repository: string, seed: string, key?: GpgKey): Promise<string> {
    const built = await makeImage(join(work, 'layouts', seed), { seed, platforms: AMD64 }, '1.0');
    const sign = key ? ['--sign-by', key.fingerprint, '--registries.d', signingD] : [];
    await exec('skopeo', ['copy', '--quiet', '--all', '--preserve-digests', '--dest-tls-verify=false', ...sign, `oci:${built.layout}:1.0`, `docker://${registry.host}/${repository}:1.0`], { env: { ...process.env, GNUPGHOME: key?.home ?? '' } });
    const { stdout } = await exec('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/${repository}:1.0`]);
    return digestOf(Buffer.from(stdout));
  }

  async function config(dir: string, policy: unknown, registriesD: Record<string, string> = { 'lookaside.yaml': `default-docker:\n  lookaside: file://${lookaside}\n` }): Promise<ContainersConfig> {
    return writeConfig(dir, { registriesConf: `[[registry]]\nlocation = "${registry.host}"\ninsecure = true\n`, policy, registriesD });
  }

  const signedBy = (keyPath: string) => ({ type: 'signedBy', keyType: 'GPGKeys', keyPath });

  async function both(dir: string, cfg: ContainersConfig, ref: string, expectOk: boolean) {
    const [referee, ours] = await Promise.all([skopeoVerdict(cfg, ref, dir), imgdescBuild(cfg, ref, dir)]);
    assert.equal(referee.ok, expectOk, `skopeo ${expectOk ? 'refused' : 'accepted'} ${ref}: ${referee.output}`);
    assert.equal(ours.code === 0, expectOk, `imgdesc (exit ${ours.code}) disagrees with skopeo on ${ref}: ${ours.stderr}`);
    if (!expectOk) {
      assert.equal(ours.code, 4, ours.stderr);
      assert.deepEqual(await archivesIn(ours.root), [], 'a rejected image leaves nothing');
    }
    return ours;
  }

  test('signed by the trusted key: accepted, and the report names the key', async (t) => {
    const dir = await tempDir(t);
    await push('gpg/signed', 'gpg-signed', trusted);
    const cfg = await config(join(dir, 'c'), { default: [{ type: 'reject' }], transports: { docker: { [`${registry.host}/gpg`]: [signedBy(join(work, 'trusted.gpg'))] } } });
    const r = await both(dir, cfg, `${registry.host}/gpg/signed:1.0`, true);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.containers[0].accepted, [{ scope: `${registry.host}/gpg`, requirement: 'signedBy GPGKeys', keys: [trusted.fingerprint] }]);
    assert.deepEqual(out.policy, { file: cfg.policy, insecure: false });
  });

  test('with a lock, the pinned digest is what must be signed', async (t) => {
    const dir = await tempDir(t);
    await push('gpg/locked', 'gpg-locked', trusted);
    const cfg = await config(join(dir, 'c'), { default: [{ type: 'reject' }], transports: { docker: { [`${registry.host}/gpg`]: [signedBy(join(work, 'trusted.gpg'))] } } });
    const { runCli } = await import('../helpers/cli.js');
    const { descriptionFor } = await import('../helpers/containers-config.js');
    const desc = await descriptionFor(dir, `${registry.host}/gpg/locked:1.0`);
    const flags = ['--registries-conf', cfg.registriesConf, '--policy', cfg.policy, '--registries.d', cfg.registriesD, '--target-arch', 'x86_64'];
    const lock = await runCli(['lock', desc, ...flags]);
    assert.equal(lock.code, 0, lock.stderr);
    // The tag moves to an unsigned image: the locked build still fetches, and checks, the signed one.
    await push('gpg/locked', 'gpg-locked-moved');
    const locked = await runCli(['build', desc, ...flags, '--root', join(dir, 'r'), '--no-cache', '--locked', '--json']);
    assert.equal(locked.code, 0, locked.stderr);
    assert.deepEqual(JSON.parse(locked.stdout).containers[0].accepted[0].keys, [trusted.fingerprint]);
    // Without the lock, the unsigned image the tag names now is refused; lock refuses it too.
    const relock = await runCli(['lock', desc, ...flags]);
    assert.equal(relock.code, 4, relock.stderr);
  });

  test('unsigned, signed by another key, or signed for another identity: refused (exit 4) naming the policy and the requirement', async (t) => {
    const dir = await tempDir(t);
    const cfg = await config(join(dir, 'c'), { default: [{ type: 'reject' }], transports: { docker: { [`${registry.host}/gpg`]: [signedBy(join(work, 'trusted.gpg'))] } } });
    await push('gpg/unsigned', 'gpg-unsigned');
    const unsigned = await both(dir, cfg, `${registry.host}/gpg/unsigned:1.0`, false);
    assert.match(unsigned.stderr, new RegExp(`rejected by ${cfg.policy.replace(/[.]/g, '\\.')} \\(scope "${registry.host}/gpg", signedBy GPGKeys`));
    await push('gpg/otherkey', 'gpg-otherkey', other);
    await both(dir, cfg, `${registry.host}/gpg/otherkey:1.0`, false);
    // The trusted key signed gpg/original; the same manifest under gpg/copy carries that signature.
    const digest = await push('gpg/original', 'gpg-identity', trusted);
    await push('gpg/copy', 'gpg-identity');
    const sigDir = (repo: string) => join(lookaside, repo + '@' + digest.replace(':', '='));
    await cp(sigDir('gpg/original'), sigDir('gpg/copy'), { recursive: true });
    const wrongIdentity = await both(dir, cfg, `${registry.host}/gpg/copy:1.0`, false);
    assert.match(wrongIdentity.stderr, /gpg\/original/);
  });

  test('reject by default, with one scope that accepts anything', async (t) => {
    const dir = await tempDir(t);
    await push('open/app', 'scope-open');
    await push('closed/app', 'scope-closed');
    const cfg = await config(join(dir, 'c'), { default: [{ type: 'reject' }], transports: { docker: { [`${registry.host}/open`]: [{ type: 'insecureAcceptAnything' }] } } });
    const r = await both(dir, cfg, `${registry.host}/open/app:1.0`, true);
    assert.deepEqual(JSON.parse(r.stdout).containers[0].accepted, [{ scope: `${registry.host}/open`, requirement: 'insecureAcceptAnything', keys: [] }]);
    await both(dir, cfg, `${registry.host}/closed/app:1.0`, false);
  });

  test('a lookaside served over http', async (t) => {
    const dir = await tempDir(t);
    await push('gpg/http', 'gpg-http', trusted);
    const server = createServer((req, res) => {
      readFile(join(lookaside, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname))).then(
        (b) => res.end(b),
        () => {
          res.statusCode = 404;
          res.end();
        },
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    t.after(() => new Promise((r) => server.close(r)));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const cfg = await config(join(dir, 'c'), { default: [signedBy(join(work, 'trusted.gpg'))] }, { 'web.yaml': `docker:\n  ${registry.host}:\n    lookaside: ${url}\n` });
    await both(dir, cfg, `${registry.host}/gpg/http:1.0`, true);
  });

  test('--insecure-policy skips the policy and says so; a missing --policy file is exit 2', async (t) => {
    const dir = await tempDir(t);
    await push('gpg/skip', 'gpg-skip');
    const cfg = await config(join(dir, 'c'), { default: [{ type: 'reject' }] });
    const skipped = await imgdescBuild(cfg, `${registry.host}/gpg/skip:1.0`, dir, ['--insecure-policy', '--policy', join(dir, 'none.json')]);
    assert.equal(skipped.code, 2, 'the two exclude each other');
    const { runCli } = await import('../helpers/cli.js');
    const { descriptionFor } = await import('../helpers/containers-config.js');
    const desc = await descriptionFor(dir, `${registry.host}/gpg/skip:1.0`);
    const base = ['build', desc, '--registries-conf', cfg.registriesConf, '--target-arch', 'x86_64', '--no-cache'];
    const ok = await runCli([...base, '--root', join(dir, 'r1'), '--insecure-policy']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /policy: not consulted \(--insecure-policy\)/);
    const missing = await runCli([...base, '--root', join(dir, 'r2'), '--policy', join(dir, 'none.json')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /none\.json/);
  });
});

describe('no policy file at all', () => {
  test('every image is accepted, and the report and --json say so ("policy": null)', async (t) => {
    const dir = await tempDir(t);
    const registry = await startRegistry('plain');
    t.after(() => registry.stop());
    const built = await makeImage(join(dir, 'layout'), { seed: 'no-policy', platforms: AMD64 }, '1.0');
    await exec('skopeo', ['copy', '--quiet', '--all', '--dest-tls-verify=false', `oci:${built.layout}:1.0`, `docker://${registry.host}/nopolicy/app:1.0`]);
    const { descriptionFor } = await import('../helpers/containers-config.js');
    const desc = await descriptionFor(dir, `${registry.host}/nopolicy/app:1.0`);
    const empty = join(dir, 'empty-etc-containers');
    const home = join(dir, 'home');
    await mkdir(empty);
    await mkdir(home);
    // A private mount namespace hides this machine's /etc/containers: no policy.json anywhere.
    const cli = join(REPO, 'src/cli/bin.ts');
    const run = (json: boolean) =>
      exec(
        'unshare',
        ['--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /etc/containers && exec "$@"', empty, process.execPath, '--import', 'tsx', cli, 'build', desc, '--root', join(dir, json ? 'r-json' : 'r-text'), '--tls-verify=false', '--target-arch', 'x86_64', '--no-cache', ...(json ? ['--json'] : [])],
        { cwd: REPO, env: { ...process.env, HOME: home } },
      );
    const text = await run(false);
    assert.match(text.stdout, /policy: no policy\.json found; every image accepted without a signature check/);
    const json = JSON.parse((await run(true)).stdout);
    assert.equal(json.policy, null);
    assert.equal(json.containers[0].accepted, null);
  });
});

describe('sigstore attachments (the format as referee: Debian skopeo has sigstore disabled)', () => {
  let registry: TestRegistry;
  let work: string;
  let key: SigstoreKeyPair;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'imgdesc-sigstore-'));
    registry = await startRegistry('plain');
    key = makeSigstoreKey('ec');
    await writeFile(join(work, 'cosign.pub'), key.pem);
  });
  after(async () => {
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  async function upload(repository: string, bytes: Buffer): Promise<string> {
    const digest = digestOf(bytes);
    const start = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
    const location = new URL(start.headers.get('location')!, registry.url);
    location.searchParams.set('digest', digest);
    const put = await fetch(location, { method: 'PUT', body: new Uint8Array(bytes), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(put.status, 201);
    return digest;
  }

  /** Attaches a cosign signature (payload, base64 signature) to manifest `digest` of `repository`. */
  async function attach(repository: string, digest: string, payload: Buffer, signature: string): Promise<void> {
    const config = Buffer.from('{}');
    const layer = { mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: await upload(repository, payload), size: payload.length, annotations: { 'dev.cosignproject.cosign/signature': signature } };
    const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await upload(repository, config), size: config.length }, layers: [layer] };
    const res = await fetch(`${registry.url}/v2/${repository}/manifests/${digest.replace(':', '-')}.sig`, { method: 'PUT', body: JSON.stringify(manifest), headers: { 'content-type': manifest.mediaType } });
    assert.equal(res.status, 201, await res.text());
  }

  async function pushImage(repository: string, seed: string): Promise<string> {
    const built = await makeImage(join(work, 'layouts', seed), { seed, platforms: AMD64 }, '1.0');
    await exec('skopeo', ['copy', '--quiet', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci:${built.layout}:1.0`, `docker://${registry.host}/${repository}:1.0`]);
    const { stdout } = await exec('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/${repository}:1.0`]);
    return digestOf(Buffer.from(stdout));
  }

  const cases: Array<[string, (ref: string, digest: string) => { payload: Buffer; signature: string }, boolean]> = [
    ['signed by the key: accepted', (ref, d) => ({ payload: cosignPayload(ref, d), signature: cosignSign(key, cosignPayload(ref, d)) }), true],
    ['signed by another key: refused', (ref, d) => ({ payload: cosignPayload(ref, d), signature: cosignSign(makeSigstoreKey('ec'), cosignPayload(ref, d)) }), false],
    ['signed for another digest: refused', (ref) => ({ payload: cosignPayload(ref, `sha256:${'c'.repeat(64)}`), signature: cosignSign(key, cosignPayload(ref, `sha256:${'c'.repeat(64)}`)) }), false],
    ['signed for another identity: refused', (ref, d) => ({ payload: cosignPayload(ref.replace('/sig/', '/other/'), d), signature: cosignSign(key, cosignPayload(ref.replace('/sig/', '/other/'), d)) }), false],
    [
      'a corrupted signature: refused',
      (ref, d) => {
        const sig = Buffer.from(cosignSign(key, cosignPayload(ref, d)), 'base64');
        sig[sig.length - 3] = sig[sig.length - 3]! ^ 0x55;
        return { payload: cosignPayload(ref, d), signature: sig.toString('base64') };
      },
      false,
    ],
  ];

  for (const [name, make, ok] of cases) {
    test(name, async (t) => {
      const dir = await tempDir(t);
      const repository = `sig/app-${name.split(' ').slice(0, 4).join('-').replace(/[^a-z-]/g, '')}`;
      const ref = `${registry.host}/${repository}:1.0`;
      const digest = await pushImage(repository, repository.replace('/', '-'));
      const { payload, signature } = make(ref, digest);
      await attach(repository, digest, payload, signature);
      const cfg = await writeConfig(join(dir, 'c'), {
        registriesConf: `[[registry]]\nlocation = "${registry.host}"\ninsecure = true\n`,
        policy: { default: [{ type: 'reject' }], transports: { docker: { [`${registry.host}/sig`]: [{ type: 'sigstoreSigned', keyPath: join(work, 'cosign.pub') }] } } },
        registriesD: { 'sigstore.yaml': `docker:\n  ${registry.host}/sig:\n    use-sigstore-attachments: true\n` },
      });
      const r = await imgdescBuild(cfg, ref, dir);
      assert.equal(r.code, ok ? 0 : 4, r.stderr);
      if (ok) assert.equal(JSON.parse(r.stdout).containers[0].accepted[0].requirement, 'sigstoreSigned');
      else assert.deepEqual(await archivesIn(r.root), []);
    });
  }
});
