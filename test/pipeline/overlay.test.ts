// `imgdesc build --overlay FILE|-` through the CLI: the overlay holds exactly
// what --root adds to an empty root, as a reproducible tar (sorted, owner 0/0,
// mtime SOURCE_DATE_EPOCH); it goes to a file or to standard output; a failed
// or interrupted build leaves neither the overlay nor a temporary file.
// Shipped example offline, and a multi-image set from the real test registry.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { indexTar } from '../../src/oci/tar-index.js';
import { REPO, runCli } from '../helpers/cli.js';
import { description } from '../helpers/descriptions.js';
import { proxiedRegistry } from '../helpers/proxied-registry.js';
import { pushNewImage, type BuiltImage } from '../helpers/test-images.js';
import { listFiles, tempDir, tree } from '../helpers/tmp.js';

type Ctx = Parameters<typeof tempDir>[0];

const EXAMPLE_DIR = join(REPO, 'examples/containers');
const EPOCH = 1_700_000_000;
const EPOCH_TEXT = '2023-11-14 22:13:20';

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** The real CLI as a child process, stdout kept as bytes (spawnCli decodes it as text). */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(REPO, 'src/cli/bin.ts'), ...args],
      { cwd: REPO, env: { ...process.env, ...env }, encoding: 'buffer', maxBuffer: 512 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null;
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stdout, stderr: stderr.toString() });
      },
    );
  });
}

/** Runs the in-process CLI with SOURCE_DATE_EPOCH set (or unset) for the call. */
async function withEpoch<T>(epoch: number | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.SOURCE_DATE_EPOCH;
  if (epoch === undefined) delete process.env.SOURCE_DATE_EPOCH;
  else process.env.SOURCE_DATE_EPOCH = String(epoch);
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.SOURCE_DATE_EPOCH;
    else process.env.SOURCE_DATE_EPOCH = saved;
  }
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const shaOf = async (file: string) => sha(await readFile(file));

/** The overlay unpacked with GNU tar into a fresh directory. */
async function unpacked(t: Ctx, overlay: string): Promise<string> {
  const dir = join(await tempDir(t), 'x');
  await mkdir(dir);
  execFileSync('tar', ['-x', '-f', overlay, '-C', dir]);
  return dir;
}

interface Listed {
  perms: string;
  owner: string;
  size: number;
  time: string;
  name: string;
  link: string | null;
}

/** `tar -tv` as GNU tar prints it, parsed. */
function gnuList(overlay: string): Listed[] {
  const text = execFileSync('tar', ['--utc', '--full-time', '--numeric-owner', '--quoting-style=literal', '-tvf', overlay], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const m = /^(\S{10}) (\d+\/\d+) +(\d+) (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (.+?)(?: -> (.+))?$/.exec(line);
      assert.ok(m, `unexpected tar -tv line: ${line}`);
      return { perms: m[1]!, owner: m[2]!, size: Number(m[3]), time: m[4]!, name: m[5]!, link: m[6] ?? null };
    });
}

/** The listing matches the tree: sorted, owner 0/0, the mtime, the same entries as the root. */
function assertListing(listed: Listed[], rootTree: Record<string, string>, time = EPOCH_TEXT): void {
  const names = listed.map((e) => e.name);
  assert.deepEqual(names, [...names].sort(), 'entries sorted by path');
  assert.equal(new Set(names).size, names.length, 'each entry once');
  for (const e of listed) {
    assert.equal(e.owner, '0/0', e.name);
    assert.equal(e.time, time, e.name);
    const expected = e.perms.startsWith('d') ? (e.name === 'var/tmp/' ? 'drwxrwxrwt' : 'drwxr-xr-x') : e.perms.startsWith('l') ? 'lrwxrwxrwx' : '-rw-r--r--';
    assert.equal(e.perms, expected, e.name);
  }
  // Directories end in "/" in a tar; every entry of the root is there, nothing else.
  assert.deepEqual(names.map((n) => n.replace(/\/$/, '')).sort(), Object.keys(rootTree).sort());
  for (const d of ['var/', 'var/tmp/', 'var/tmp/kiwi_containers/', 'etc/', 'etc/systemd/', 'etc/systemd/system/', 'etc/systemd/system/multi-user.target.wants/', 'etc/systemd/system/kiwi_containers.service.wants/']) {
    assert.ok(names.includes(d), `${d} has its own entry`);
  }
}

/** Temporary files and overlays left in a directory. */
async function leftovers(dir: string): Promise<string[]> {
  return (await listFiles(dir)).filter((f) => f.includes('.imgdesc-tmp-') || f.endsWith('.tar'));
}

describe('--overlay: the shipped example, offline', () => {
  /** The example copied beside its own lock (made offline from the container directory). */
  async function lockedExample(t: Ctx): Promise<{ dir: string; desc: string }> {
    const dir = await tempDir(t);
    const desc = join(dir, 'appliance.xml');
    await cp(join(REPO, 'examples/appliance.xml'), desc);
    const r = await runCli(['lock', desc, '--container-dir', EXAMPLE_DIR, '--offline', '--target-arch', 'x86_64']);
    assert.equal(r.code, 0, r.stderr);
    return { dir, desc };
  }
  const common = ['--container-dir', EXAMPLE_DIR, '--offline', '--target-arch', 'x86_64', '--locked'];

  test('unpacked, the overlay is file for file what --root writes into an empty root; GNU tar lists it sorted, 0/0, at SOURCE_DATE_EPOCH', async (t) => {
    const { dir, desc } = await lockedExample(t);
    const overlay = join(dir, 'out', 'overlay.tar');
    await mkdir(join(dir, 'out'));
    const root = join(dir, 'root');
    const [o, r] = await withEpoch(EPOCH, async () => [
      await runCli(['build', desc, ...common, '--overlay', overlay, '--cache-dir', join(dir, 'cache-o'), '--json']),
      await runCli(['build', desc, ...common, '--root', root, '--cache-dir', join(dir, 'cache-r'), '--json']),
    ]);
    assert.equal(o.code, 0, o.stderr);
    assert.equal(r.code, 0, r.stderr);
    const fromRoot = await tree(root);
    const fromOverlay = await tree(await unpacked(t, overlay));
    assert.deepEqual(fromOverlay, fromRoot);
    // What it holds: the directories, both archives, two units, two enable links.
    assert.deepEqual(Object.keys(fromRoot).filter((k) => !fromRoot[k]!.startsWith('dir')), [
      'etc/systemd/system/imgdesc-load-podman@.service',
      'etc/systemd/system/kiwi_containers.service',
      'etc/systemd/system/kiwi_containers.service.wants/imgdesc-load-podman@var-tmp-kiwi_containers-hello_1.0.service',
      'etc/systemd/system/multi-user.target.wants/kiwi_containers.service',
      'var/tmp/kiwi_containers/hello_1.0',
      'var/tmp/kiwi_containers/hello_1.0-config',
    ]);
    assertListing(gnuList(overlay), fromRoot);

    // The report names the overlay, has no host paths, and the same images as the root build.
    const oj = JSON.parse(o.stdout);
    const rj = JSON.parse(r.stdout);
    assert.deepEqual(oj.containers.map((c: { digest: string; size: number }) => [c.digest, c.size]), rj.containers.map((c: { digest: string; size: number }) => [c.digest, c.size]));
    assert.deepEqual(oj.units, rj.units);
    assert.deepEqual(await leftovers(join(dir, 'out')), ['overlay.tar']);
  });

  test('two builds from one lock give the same bytes (cold and warm cache, SOURCE_DATE_EPOCH unset = 0); another SOURCE_DATE_EPOCH gives other bytes', async (t) => {
    const { dir, desc } = await lockedExample(t);
    const cache = join(dir, 'cache');
    const build = (name: string, epoch: number | undefined) => withEpoch(epoch, () => runCli(['build', desc, ...common, '--overlay', join(dir, name), '--cache-dir', cache, '--quiet']));
    for (const [name, epoch] of [['a.tar', EPOCH], ['b.tar', EPOCH], ['zero.tar', undefined], ['zero2.tar', 0], ['other.tar', EPOCH + 1]] as const) {
      const r = await build(name, epoch);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '', '--quiet prints nothing');
    }
    const h = async (n: string) => shaOf(join(dir, n));
    assert.equal(await h('a.tar'), await h('b.tar'), 'same lock, same SOURCE_DATE_EPOCH: same sha256');
    assert.equal(await h('zero.tar'), await h('zero2.tar'), 'unset is 0');
    assert.notEqual(await h('a.tar'), await h('other.tar'));
    assert.notEqual(await h('a.tar'), await h('zero.tar'));
    assert.ok(gnuList(join(dir, 'zero.tar')).every((e) => e.time === '1970-01-01 00:00:00'));
    assert.ok(gnuList(join(dir, 'other.tar')).every((e) => e.time === '2023-11-14 22:13:21'));
  });

  test('--overlay - writes the same bytes to standard output, every message to standard error', async (t) => {
    const { dir, desc } = await lockedExample(t);
    const env = { SOURCE_DATE_EPOCH: String(EPOCH), XDG_CACHE_HOME: join(dir, 'xdg') };
    const file = join(dir, 'overlay.tar');
    const toFile = await cli(['build', desc, ...common, '--overlay', file], env);
    assert.equal(toFile.code, 0, toFile.stderr);
    assert.match(toFile.stdout.toString(), new RegExp(`^output: overlay ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), 'to a file, the report is on stdout');
    const toStdout = await cli(['build', desc, ...common, '--overlay', '-'], env);
    assert.equal(toStdout.code, 0, toStdout.stderr);
    assert.equal(sha(toStdout.stdout), await shaOf(file), 'the same bytes as the file');
    // The notes, the progress and the report all went to stderr.
    assert.match(toStdout.stderr, /^output: overlay on standard output$/m);
    assert.match(toStdout.stderr, /registry\.example\.org\/imgdesc\/hello:1\.0 +sha256:/);
    assert.match(toStdout.stderr, /units: \/etc\/systemd\/system\/imgdesc-load-podman@\.service/);
    // Piped on, GNU tar reads it.
    const names = execFileSync('tar', ['-tf', '-'], { input: toStdout.stdout, encoding: 'utf8' }).trim().split('\n');
    assert.ok(names.includes('var/tmp/kiwi_containers/hello_1.0'));
  });

  test('usage errors, exit 2, nothing written: --overlay with --root; --overlay - with --json', async (t) => {
    const { dir, desc } = await lockedExample(t);
    const both = await runCli(['build', desc, ...common, '--overlay', join(dir, 'o.tar'), '--root', join(dir, 'root')]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--overlay and --root exclude each other/);
    const json = await runCli(['build', desc, ...common, '--overlay', '-', '--json']);
    assert.equal(json.code, 2);
    // With --json, errors are JSON on stdout; no tar byte comes before it.
    assert.equal(JSON.parse(json.stdout).error.code, 'IMGDESC_USAGE');
    assert.match(JSON.parse(json.stdout).error.message, /--overlay - writes the tar to standard output; --json cannot share it/);
    assert.deepEqual((await readdir(dir)).sort(), ['appliance.lock.json', 'appliance.xml']);
    // As a real process: the error and nothing else on stdout.
    const real = await cli(['build', desc, ...common, '--overlay', '-', '--json']);
    assert.equal(real.code, 2);
    assert.equal(JSON.parse(real.stdout.toString()).error.code, 'IMGDESC_USAGE');
    // --json with an overlay file is fine: stdout is free for the report.
    const file = join(dir, 'o.tar');
    const ok = await runCli(['build', desc, ...common, '--overlay', file, '--json', '--cache-dir', join(dir, 'cache')]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).containers.length, 2);
  });

  test('a missing pre-fetched image with --offline: exit 4, no overlay, no temporary file', async (t) => {
    const dir = await tempDir(t);
    const desc = join(dir, 'appliance.xml');
    // hello:1.0 is there; absent:9 sorts before it and is not.
    await writeFile(desc, description('<containers source="registry.example.org/imgdesc" backend="podman"><container name="hello" tag="1.0"/><container name="absent" tag="9"/></containers>'));
    const out = join(dir, 'out');
    await mkdir(out);
    const r = await runCli(['build', desc, '--container-dir', EXAMPLE_DIR, '--offline', '--target-arch', 'x86_64', '--overlay', join(out, 'overlay.tar'), '--cache-dir', join(dir, 'cache')]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /registry\.example\.org\/imgdesc\/absent:9/);
    assert.deepEqual(await readdir(out), [], 'no overlay, no temporary file');
  });

  test('a corrupt pre-fetched archive: exit 4, no overlay, no temporary file; an overlay already there stays as it was', async (t) => {
    const dir = await tempDir(t);
    const containers = join(dir, 'c');
    await cp(EXAMPLE_DIR, containers, { recursive: true });
    const archive = join(containers, 'registry.example.org/imgdesc/hello:1.0.ociarchive');
    // Flip bytes inside the gzip layer: its digest no longer matches.
    const bytes = await readFile(archive);
    for (const e of (await indexTar(archive)).values()) if (bytes[e.offset] === 0x1f && bytes[e.offset + 1] === 0x8b) bytes[e.offset + 20] = bytes[e.offset + 20]! ^ 0xff;
    await writeFile(archive, bytes);
    const out = join(dir, 'out');
    await mkdir(out);
    const overlay = join(out, 'overlay.tar');
    await writeFile(overlay, 'an earlier overlay');
    const r = await runCli(['build', join(REPO, 'examples/appliance.xml'), '--container-dir', containers, '--offline', '--no-cache', '--target-arch', 'x86_64', '--overlay', overlay]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /digest mismatch/);
    assert.deepEqual(await readdir(out), ['overlay.tar']);
    assert.equal(await readFile(overlay, 'utf8'), 'an earlier overlay', 'not replaced');
  });

  test('an overlay in a directory that does not exist: exit 5, naming it', async (t) => {
    const dir = await tempDir(t);
    const r = await runCli(['build', join(REPO, 'examples/appliance.xml'), '--container-dir', EXAMPLE_DIR, '--offline', '--target-arch', 'x86_64', '--overlay', join(dir, 'no/such/o.tar')]);
    assert.equal(r.code, 5, r.stderr);
    assert.ok(r.stderr.includes(join(dir, 'no/such/o.tar')), r.stderr);
  });
});

describe('--overlay: a multi-image set from the test registry, --jobs 4', () => {
  // The names sort as the archives are written: alpha, beta, gamma, the long one, zulu.
  const LONG = `long-${'x'.repeat(70)}`;
  let zulu: BuiltImage;
  const net = proxiedRegistry('plain', async (work, { registry }) => {
    const amd64 = { architecture: 'amd64' };
    const base = { size: 300_000, shared: 'overlay-base' };
    await pushNewImage(work, registry, 'ov/alpha', '1.0', { seed: 'ov-alpha', platforms: [amd64, { architecture: 'arm64', variant: 'v8' }], layers: [base, { size: 100_000 }] });
    await pushNewImage(work, registry, 'ov/beta', '1.0', { seed: 'ov-beta', platforms: [amd64], layers: [base, { size: 50_000 }] }, 'v2s2');
    await pushNewImage(work, registry, 'ov/gamma', '1.0', { seed: 'ov-gamma', platforms: [amd64], layers: [{ size: 20_000 }] });
    await pushNewImage(work, registry, `ov/${LONG}`, '1.0', { seed: 'ov-long', platforms: [amd64], layers: [base, { size: 10_000 }] });
    zulu = await pushNewImage(work, registry, 'ov/zulu', '1.0', { seed: 'ov-zulu', platforms: [amd64], layers: [base, { size: 2_000_000 }] });
  });

  /** The set's description, and its lock made against the registry. */
  async function lockedSet(t: Ctx): Promise<{ dir: string; desc: string }> {
    const dir = await tempDir(t);
    const desc = join(dir, 'appliance.xml');
    const host = net.proxy.host;
    await writeFile(
      desc,
      description(`
  <containers source="${host}/ov" backend="podman">
    <container name="alpha" tag="1.0"/>
    <container name="gamma" tag="1.0" fetch_only="true"/>
    <container name="${LONG}" tag="1.0"/>
    <container name="zulu" tag="1.0"/>
  </containers>
  <containers source="${host}/ov" backend="docker">
    <container name="beta" tag="1.0"/>
  </containers>`),
    );
    const r = await runCli(['lock', desc, '--tls-verify=false', '--target-arch', 'x86_64']);
    assert.equal(r.code, 0, r.stderr);
    return { dir, desc };
  }
  const common = ['--tls-verify=false', '--target-arch', 'x86_64', '--locked', '--jobs', '4'];

  test('file for file the root; listed sorted, 0/0, at SOURCE_DATE_EPOCH; names past 100 bytes intact; reproducible cold and warm', async (t) => {
    net.proxy.use(() => undefined);
    const { dir, desc } = await lockedSet(t);
    const root = join(dir, 'root');
    const cold = join(dir, 'cold.tar');
    const warm = join(dir, 'warm.tar');
    const runs = await withEpoch(EPOCH, async () => [
      await runCli(['build', desc, ...common, '--root', root, '--cache-dir', join(dir, 'cache-r'), '--quiet']),
      await runCli(['build', desc, ...common, '--overlay', cold, '--cache-dir', join(dir, 'cache-o'), '--quiet']),
      await runCli(['build', desc, ...common, '--overlay', warm, '--cache-dir', join(dir, 'cache-o'), '--quiet']),
      await runCli(['build', desc, ...common, '--overlay', join(dir, 'nocache.tar'), '--no-cache', '--quiet']),
    ]);
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const fromRoot = await tree(root);
    assert.deepEqual(await tree(await unpacked(t, cold)), fromRoot);
    const archives = Object.keys(fromRoot).filter((k) => k.startsWith('var/tmp/kiwi_containers/') && fromRoot[k]!.startsWith('file'));
    assert.deepEqual(archives, ['alpha_1.0', 'beta_1.0', 'gamma_1.0', `${LONG}_1.0`, 'zulu_1.0'].map((a) => `var/tmp/kiwi_containers/${a}`));
    const longLink = `etc/systemd/system/kiwi_containers.service.wants/imgdesc-load-podman@var-tmp-kiwi_containers-${LONG.replace(/-/g, '\\x2d')}_1.0.service`;
    assert.ok(fromRoot[longLink]?.startsWith('link -> '), `${longLink} in ${Object.keys(fromRoot).join('\n')}`);
    assert.ok(longLink.split('/').pop()!.length > 100, 'a name only a pax header holds');
    const listed = gnuList(cold);
    assertListing(listed, fromRoot);
    assert.ok(listed.some((e) => e.name.includes('docker@')), 'the docker unit is there');
    const h = await shaOf(cold);
    assert.equal(await shaOf(warm), h, 'warm cache: same bytes');
    assert.equal(await shaOf(join(dir, 'nocache.tar')), h, 'no cache: same bytes');
  });

  test('a registry serving a corrupt blob: exit 4, no overlay, no temporary file', async (t) => {
    const { dir, desc } = await lockedSet(t);
    const layer = zulu.manifests[0]!.layers[1]!.digest;
    net.proxy.use((req) => (req.path.endsWith(layer) ? { kind: 'flip', at: 1000 } : undefined));
    t.after(() => net.proxy.use(() => undefined));
    const out = join(dir, 'out');
    await mkdir(out);
    const r = await runCli(['build', desc, ...common, '--overlay', join(out, 'overlay.tar'), '--no-cache', '--retries', '1']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /zulu:1\.0/);
    assert.match(r.stderr, /digest/i);
    assert.deepEqual(await readdir(out), []);
  });

  test('SIGTERM mid-download, with earlier archives already in the overlay file: exit 143 promptly, nothing left; a rerun succeeds', async (t) => {
    const { dir, desc } = await lockedSet(t);
    const out = join(dir, 'out');
    await mkdir(out);
    const overlay = join(out, 'overlay.tar');
    const cache = join(dir, 'cache');
    const layer = zulu.manifests[0]!.layers[1]!.digest;
    // zulu sorts last: every other archive is streamed into the overlay while its big layer hangs.
    net.proxy.use((req) => (req.path.endsWith(layer) ? { kind: 'stall', afterBytes: 300_000 } : undefined));
    t.after(() => net.proxy.use(() => undefined));
    const args = ['build', desc, ...common, '--overlay', overlay, '--cache-dir', cache, '--timeout', '120'];
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/bin.ts'), ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH) } });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.resume();
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    t.after(() => child.kill('SIGKILL'));

    const deadline = Date.now() + 60_000;
    let temp: { name: string; size: number } | undefined;
    for (;;) {
      assert.ok(Date.now() < deadline, `the build never got there: ${stderr}`);
      const names = await readdir(out);
      const name = names.find((n) => n.startsWith('.imgdesc-tmp-overlay.tar.'));
      const size = name ? (await stat(join(out, name)).catch(() => ({ size: 0 }))).size : 0;
      // alpha, beta, gamma and the long one (each > 50 kB) are in before zulu's turn.
      if (name && size > 500_000 && net.proxy.requests.some((r) => r.path.endsWith(layer))) {
        temp = { name, size };
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300));
    const sent = Date.now();
    child.kill('SIGTERM');
    const status = await exited;
    assert.equal(status, 143, stderr);
    assert.ok(Date.now() - sent < 5000, `stopped in ${Date.now() - sent} ms`);
    assert.match(stderr, /interrupted by SIGTERM/);
    assert.ok(temp.size > 0);
    assert.deepEqual(await readdir(out), [], `no overlay and no ${temp.name}`);
    assert.deepEqual((await listFiles(cache)).filter((f) => !/^blobs\/sha256\/[a-f0-9]{64}(\.meta\.json)?$/.test(f)), [], 'only complete blobs in the cache');

    net.proxy.use(() => undefined);
    const again = await withEpoch(EPOCH, () => runCli(args.concat('--quiet')));
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(await readdir(out), ['overlay.tar']);
    assert.ok(gnuList(overlay).some((e) => e.name === 'var/tmp/kiwi_containers/zulu_1.0'));
  });

  /** A build writing `--overlay -` into a pipe this test never reads, blocked inside the first large archive. */
  async function blockedOnStdout(t: Ctx): Promise<{ child: ReturnType<typeof spawn>; stderr: () => string; exited: Promise<number | null> }> {
    const { dir, desc } = await lockedSet(t);
    net.proxy.use(() => undefined);
    const args = ['build', desc, ...common, '--overlay', '-', '--cache-dir', join(dir, 'cache')];
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/bin.ts'), ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout!.pause();
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    t.after(() => child.kill('SIGKILL'));
    // All blobs asked for (zulu's big layer comes last), then a moment for the writes to fill the pipe.
    const layer = zulu.manifests[0]!.layers[1]!.digest;
    const deadline = Date.now() + 60_000;
    while (!net.proxy.requests.some((r) => r.path.endsWith(layer))) {
      assert.ok(Date.now() < deadline, `the build never got there: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(child.exitCode, null, `still running, blocked on stdout: ${stderr}`);
    return { child, stderr: () => stderr, exited };
  }

  // The archive being streamed used to ignore the stop: SIGTERM then did nothing at all.
  test('SIGTERM while an archive is streamed to a stdout nobody reads: the build stops at once and says so', async (t) => {
    const { child, stderr } = await blockedOnStdout(t);
    const sent = Date.now();
    child.kill('SIGTERM');
    while (!/interrupted by SIGTERM; temporary files removed/.test(stderr())) {
      assert.ok(Date.now() - sent < 5000, `no word of the interruption after 5 s: ${stderr()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.doesNotMatch(stderr(), /abandoned|uncaught|MaxListeners/i);
  });

  // The archive aborts its entry of the stream at once, and the process does not
  // wait for standard output to take the bytes already handed to it, which a
  // stalled reader never does (Node flushes stdout before a natural exit).
  test('SIGTERM while an archive is streamed to a stdout nobody reads: exit 143 promptly', async (t) => {
    const { child, stderr, exited } = await blockedOnStdout(t);
    const sent = Date.now();
    child.kill('SIGTERM');
    const status = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 5000))]);
    assert.equal(status, 143, `${status} after ${Date.now() - sent} ms: ${stderr()}`);
  });
});
