// Hostile contents in every file the CLI reads, through the real CLI: a lock
// file, an auth file, unit templates, what an image root already holds where
// the units go, TLS material and the description itself. Each is refused with
// its documented exit code (never 1, which means a bug), a message naming the
// file, and nothing half-written.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EXIT } from '../../src/cli/exit-codes.js';
import { DEFAULT_TEMPLATES } from '../../src/units/render.js';
import { REPO, runCli, type CliResult } from '../helpers/cli.js';
import { description } from '../helpers/descriptions.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { buildLeftovers, listFiles, tempDir } from '../helpers/tmp.js';

type T = { after(fn: () => unknown): void };

const CONTAINERS = join(REPO, 'examples/containers');
/** An offline build of the shipped example: two podman images, one loaded on first boot. */
const OFFLINE = ['--container-dir', CONTAINERS, '--offline', '--target-arch', 'x86_64'];

/** Makes the hostile thing at `path`. */
type Make = (path: string) => Promise<unknown>;

const bytes = (content: string | Buffer): Make => (p) => writeFile(p, content);
const directory: Make = (p) => mkdir(p, { recursive: true });
const fifo: Make = async (p) => execFileSync('mkfifo', [p]);
/** A sparse file of `size` bytes: refused on its size, never read. */
const huge = (size: number): Make => async (p) => {
  await writeFile(p, '');
  await truncate(p, size);
};
const RANDOM = randomBytes(4096);

interface Refusal {
  readonly code: number;
  /** Each must appear in stderr: the file, the template path, the in-image path. */
  readonly names: readonly string[];
  readonly message: RegExp;
}

function assertRefused(r: CliResult, want: Refusal): void {
  assert.notEqual(r.code, EXIT.INTERNAL, `exit 1 is for bugs only:\n${r.stderr}`);
  assert.equal(r.code, want.code, r.stderr);
  assert.doesNotMatch(r.stderr, /internal error/);
  for (const name of want.names) assert.ok(r.stderr.includes(name), `stderr names ${name}:\n${r.stderr}`);
  assert.match(r.stderr, want.message);
  // Control characters from a binary file must not reach the terminal.
  assert.doesNotMatch(r.stderr, /[\u0000-\u0008\u000b-\u001f\u007f]/, 'no control characters in stderr');
}

/** What a failed build must not leave in its root: archives, or temporary files anywhere. */
async function assertNothingWritten(root: string): Promise<void> {
  assert.deepEqual(await buildLeftovers(root), [], 'no archive and no temporary file');
}

async function assertNoTemporaryFiles(dir: string): Promise<void> {
  assert.deepEqual((await listFiles(dir)).filter((f) => f.includes('.imgdesc-tmp-')), [], 'no temporary file');
}

/** The shipped example description, copied where a test may put files beside it. */
async function example(t: T): Promise<{ dir: string; file: string; lock: string; root: string }> {
  const dir = await tempDir(t);
  const file = join(dir, 'appliance.xml');
  await cp(join(REPO, 'examples/appliance.xml'), file);
  return { dir, file, lock: join(dir, 'appliance.lock.json'), root: join(dir, 'root') };
}

describe('hostile lock files: exit 3 naming the lock file and the JSON path, before anything is written', () => {
  /** A good lock of the example, as `imgdesc lock` wrote it. */
  // Loosely typed on purpose: the cases put wrong types into it.
  let good: { lockfileVersion: number; generator: string; images: Array<Record<string, any>> };
  const hooks: Array<() => unknown> = [];
  before(async () => {
    const { file, lock } = await example({ after: (fn) => hooks.push(fn) });
    const r = await runCli(['lock', file, ...OFFLINE]);
    assert.equal(r.code, 0, r.stderr);
    good = JSON.parse(await readFile(lock, 'utf8'));
  });
  after(async () => {
    for (const h of hooks) await h();
  });

  /** The good lock with one change, as JSON. */
  const edited = (edit: (lock: typeof good) => void): Make => (p) => {
    const lock = structuredClone(good);
    edit(lock);
    return writeFile(p, JSON.stringify(lock, null, 2));
  };
  const goodText = () => JSON.stringify(good, null, 2);

  const CASES: ReadonlyArray<readonly [string, () => Make, RegExp]> = [
    ['truncated JSON', () => (p) => writeFile(p, goodText().slice(0, goodText().length / 2)), /the lock file is not valid JSON/],
    ['an empty file', () => bytes(''), /the lock file is not valid JSON/],
    ['a JSON array', () => bytes('[]'), /the lock file is an array, not a JSON object/],
    ['another lockfileVersion', () => edited((l) => (l.lockfileVersion = 99)), /lockfileVersion 99 is not supported \(expected 1\); run imgdesc lock again/],
    ['images that is an object', () => edited((l) => ((l as Record<string, unknown>).images = { a: 1 })), /images is an object; expected an array/],
    ['an image that is a number', () => edited((l) => (l.images[0] = 42 as never)), /images\[0\] is the number 42; expected an object/],
    ['manifest digest sha256:nothex', () => edited((l) => (l.images[1]!.manifest.digest = 'sha256:nothex')), /images\[1\]\.manifest\.digest: "sha256:nothex" is not a digest: the part after ":" is not hex digits/],
    ['indexDigest sha256:nothex', () => edited((l) => (l.images[0]!.indexDigest = 'sha256:nothex')), /images\[0\]\.indexDigest: "sha256:nothex" is not a digest/],
    ['a digest of the wrong length', () => edited((l) => (l.images[0]!.manifest.digest = `sha256:${'a'.repeat(63)}`)), /images\[0\]\.manifest\.digest: .* a sha256 digest has 64 hex digits, this one 63/],
    ['a digest of an unknown algorithm', () => edited((l) => (l.images[0]!.config.digest = `md5:${'0'.repeat(32)}`)), /images\[0\]\.config\.digest: .* algorithm "md5" is not supported/],
    ['a layer size that is a string', () => edited((l) => (l.images[0]!.layers[0].size = '242')), /images\[0\]\.layers\[0\]\.size is the string "242"; expected a whole number of bytes/],
    ['a negative size', () => edited((l) => (l.images[0]!.manifest.size = -1)), /images\[0\]\.manifest\.size is the number -1/],
    ['an unknown arch', () => edited((l) => (l.images[0]!.arch = 'arm64')), /images\[0\]\.arch: "arm64" is not a known architecture/],
    ['a reference that does not parse', () => edited((l) => (l.images[0]!.reference = 'Registry.example.org/UPPER:1')), /images\[0\]\.reference: .* is not a reference: repository component "UPPER" has uppercase letters/],
    ['a platform that is not os/arch', () => edited((l) => (l.images[0]!.platform = 'amd64')), /images\[0\]\.platform: "amd64" is not a platform/],
    ['random bytes', () => bytes(RANDOM), /cannot read the lock file: it is binary, not text/],
    ['NUL bytes', () => bytes(Buffer.concat([Buffer.from(goodText().slice(0, 40)), Buffer.alloc(64)])), /cannot read the lock file: it is binary, not text \(it holds NUL bytes\)/],
    ['a directory', () => directory, /cannot read the lock file: it is a directory/],
    ['a FIFO', () => fifo, /cannot read the lock file: it is not a regular file/],
    ['a file of 65 MiB', () => huge(65 * 1024 * 1024), /cannot read the lock file: it is 68157440 bytes, over the limit of 67108864 bytes/],
  ];

  for (const [name, make, message] of CASES) {
    test(`build with a lock file that is ${name}`, async (t) => {
      const { file, lock, root } = await example(t);
      await make()(lock);
      const r = await runCli(['build', file, '--root', root, ...OFFLINE]);
      assertRefused(r, { code: EXIT.INVALID_DESCRIPTION, names: [lock], message });
      await assertNothingWritten(root);
    });
  }

  test('unreadable lock file (EACCES)', { skip: process.getuid?.() === 0 ? 'root reads every file' : false }, async (t) => {
    const { file, lock, root } = await example(t);
    await writeFile(lock, goodText(), { mode: 0o000 });
    assertRefused(await runCli(['build', file, '--root', root, ...OFFLINE]), { code: EXIT.INVALID_DESCRIPTION, names: [lock], message: /permission denied/ });
  });

  test('the lock imgdesc lock writes is accepted: the build pins to it', async (t) => {
    const { file, lock, root } = await example(t);
    await writeFile(lock, goodText());
    const r = await runCli(['build', file, '--root', root, '--locked', '--json', ...OFFLINE]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      (JSON.parse(r.stdout) as { containers: Array<{ digest: string }> }).containers.map((c) => c.digest),
      good.images.map((i) => i.manifest.digest),
    );
  });

  test('imgdesc lock where a directory is in the lock file\'s way: exit 5 naming it, no temporary file', async (t) => {
    const { dir, file, lock } = await example(t);
    await mkdir(lock);
    assertRefused(await runCli(['lock', file, ...OFFLINE]), { code: EXIT.OUTPUT, names: [lock], message: /cannot write lock file .*: it is a directory/ });
    await assertNoTemporaryFiles(dir);
  });
});

describe('hostile auth files (--authfile) against a registry that asks for credentials: exit 4 naming the file, no secret shown', () => {
  let registry: TestRegistry;
  let work: string;
  const hooks: Array<() => unknown> = [];
  before(async () => {
    work = await tempDir({ after: (fn: () => unknown) => hooks.push(fn) });
    registry = await startRegistry('token');
  });
  after(async () => {
    await registry?.stop();
    for (const h of hooks) await h();
  });

  const SECRET = 'hunter2-do-not-print';
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const auths = (entry: unknown) => bytes(JSON.stringify({ auths: { [registry.host]: entry } }));

  async function buildWith(t: T, make: Make): Promise<{ r: CliResult; authFile: string; root: string }> {
    const dir = await tempDir(t);
    const file = join(dir, 'appliance.xml');
    await writeFile(file, description(`  <containers source="${registry.host}" backend="podman">\n    <container name="hello" path="imgdesc" tag="1.0"/>\n  </containers>`));
    const authFile = join(dir, 'auth.json');
    await make(authFile);
    const root = join(dir, 'root');
    const r = await runCli(['build', file, '--root', root, '--tls-verify=false', '--retries', '1', '--no-cache', '--authfile', authFile]);
    return { r, authFile, root };
  }

  const CASES: ReadonlyArray<readonly [string, () => Make, RegExp]> = [
    ['not JSON', () => bytes(`{"auths": {"x": {"auth": "${SECRET}"`), /is not valid JSON \(it ends too early\)/],
    ['JSON with a secret where the syntax breaks', () => bytes(`{"auths": {"x": {"auth": ${SECRET}}}}`), /is not valid JSON/],
    ['a JSON array', () => bytes('[1, 2]'), /auth file .*: it is an array, not a JSON object/],
    ['auths that is a string', () => bytes(JSON.stringify({ auths: SECRET })), /"auths" is a string; expected an object of registry entries/],
    ['an entry that is a string', () => auths(SECRET), /auths\[".*"\] is a string; expected an object/],
    ['an auth that is a number', () => auths({ auth: 12345 }), /auths\[".*"\]\.auth is a number; expected a string/],
    ['a password that is an object', () => auths({ username: 'u', password: { secret: SECRET } }), /auths\[".*"\]\.password is an object; expected a string/],
    ['an auth that is not base64', () => auths({ auth: `${SECRET}!!` }), /the "auth" value is not base64 of "user:password"/],
    ['an auth that is base64 without a colon', () => auths({ auth: b64(SECRET) }), /the "auth" value is not base64 of "user:password"/],
    ['an auth that is base64 of binary bytes', () => auths({ auth: randomBytes(30).toString('base64') }), /the "auth" value is not base64 of "user:password"/],
    ['a credential helper that is a path', () => bytes(JSON.stringify({ credHelpers: { [registry.host]: '../../bin/sh' } })), /credHelpers\[".*"\] is not a helper name/],
    ['random bytes', () => bytes(RANDOM), /cannot be read: it is binary, not text/],
    ['NUL bytes', () => bytes(`{"auths": {}}\0\0\0`), /cannot be read: it is binary, not text \(it holds NUL bytes\)/],
    ['a directory', () => directory, /cannot be read: it is a directory/],
    ['a FIFO', () => fifo, /cannot be read: it is not a regular file/],
    ['a file of 5 MiB', () => huge(5 * 1024 * 1024), /cannot be read: it is 5242880 bytes, over the limit/],
    ['missing', () => async () => undefined, /auth file .* does not exist/],
  ];

  for (const [name, make, message] of CASES) {
    test(`an auth file that is ${name}`, async (t) => {
      const { r, authFile, root } = await buildWith(t, make());
      assertRefused(r, { code: EXIT.SOURCE, names: [authFile, `${registry.host}/imgdesc/hello:1.0`], message });
      assert.ok(!r.stderr.includes(SECRET) && !r.stderr.includes(b64(SECRET)), `no secret in stderr:\n${r.stderr}`);
      await assertNothingWritten(root);
    });
  }

  test('control: a good auth file is read and accepted (the image is simply not there)', async (t) => {
    const { r } = await buildWith(t, auths({ auth: b64(`${registry.user!.username}:${registry.user!.password}`) }));
    assert.equal(r.code, EXIT.SOURCE, r.stderr);
    assert.match(r.stderr, /not found/);
    assert.doesNotMatch(r.stderr, /auth file|credentials/);
  });

  test('--cert-dir holding a directory named *.crt: exit 4 naming it', async (t) => {
    const dir = await tempDir(t);
    const certDir = join(dir, 'certs');
    await mkdir(join(certDir, 'ca.crt'), { recursive: true });
    const file = join(dir, 'appliance.xml');
    await writeFile(file, description(`  <containers source="${registry.host}" backend="podman">\n    <container name="hello" path="imgdesc" tag="1.0"/>\n  </containers>`));
    const r = await runCli(['build', file, '--root', join(dir, 'root'), '--tls-verify=false', '--retries', '1', '--no-cache', '--cert-dir', certDir, '--authfile', join(work, 'absent-is-fine-here.json')]);
    assertRefused(r, { code: EXIT.SOURCE, names: [join(certDir, 'ca.crt')], message: /TLS setup for .*: cannot read .*ca\.crt: it is a directory/ });
    await assertNothingWritten(join(dir, 'root'));
  });
});

describe('hostile unit templates (--templates): exit 2 naming the template, no archive left', () => {
  const LOAD = 'load.service.hbs';
  const AGGREGATE = 'kiwi_containers.service.hbs';

  // [case, template file it breaks (null: the directory itself), how, message]
  const CASES: ReadonlyArray<readonly [string, string | null, Make, RegExp]> = [
    ['a templates directory that does not exist', null, async () => undefined, /cannot be read: no such file or directory/],
    ['a templates "directory" that is a file', null, bytes('not a directory'), /cannot be read: a parent is not a directory/],
    ['a template that is a directory', LOAD, directory, /cannot be read: it is a directory/],
    ['a template that is a FIFO', AGGREGATE, fifo, /cannot be read: it is not a regular file/],
    ['a binary template', LOAD, bytes(RANDOM), /cannot be read: it is binary, not text/],
    ['a template with NUL bytes', AGGREGATE, bytes('[Unit]\0\0Description=x\n'), /cannot be read: it is binary, not text \(it holds NUL bytes\)/],
    ['a template of 2 MiB', LOAD, huge(2 * 1024 * 1024), /cannot be read: it is 2097152 bytes, over the limit/],
    ['an unclosed block', LOAD, bytes('{{#if backend}}\nExecStart=x\n'), /is not valid handlebars: Parse error/],
    ['a stray closing tag', AGGREGATE, bytes('{{/each}}\n'), /is not valid handlebars/],
    ['an unknown variable', LOAD, bytes('ExecStart={{binray}} load\n'), /: "binray" not defined/],
    ['an unknown helper', AGGREGATE, bytes('{{frobnicate units}}\n'), /: "frobnicate" not defined/],
    ['a partial that does not exist', LOAD, bytes('{{> header}}\n'), /: The partial header could not be found/],
  ];

  for (const [name, target, make, message] of CASES) {
    test(name, async (t) => {
      const { dir, file, root } = await example(t);
      const templates = join(dir, 'templates');
      if (target === null) await make(templates);
      else {
        await cp(DEFAULT_TEMPLATES, templates, { recursive: true });
        await rm(join(templates, target));
        await make(join(templates, target));
      }
      const r = await runCli(['build', file, '--root', root, '--templates', templates, ...OFFLINE]);
      assertRefused(r, { code: EXIT.USAGE, names: [`unit template ${join(templates, target ?? LOAD)}`], message });
      await assertNothingWritten(root);
    });
  }
});

describe('hostile unit directories in the image root: exit 5 naming the in-image path', () => {
  const SYSTEM = 'etc/systemd/system';
  // [case, what the root holds before the build, in-image path named, message]
  const CASES: ReadonlyArray<readonly [string, (root: string) => Promise<unknown>, string, RegExp]> = [
    ['/etc/systemd/system is a regular file', (r) => mkdir(join(r, 'etc/systemd'), { recursive: true }).then(() => writeFile(join(r, SYSTEM), 'x')), '/etc/systemd/system', /is not a directory/],
    ['/etc/systemd is a FIFO', (r) => mkdir(join(r, 'etc'), { recursive: true }).then(() => fifo(join(r, 'etc/systemd'))), '/etc/systemd', /is not a directory/],
    ['kiwi_containers.service is a directory', (r) => mkdir(join(r, SYSTEM, 'kiwi_containers.service/x'), { recursive: true }), '/etc/systemd/system/kiwi_containers.service', /it is a directory/],
    ['the load unit is a directory', (r) => mkdir(join(r, SYSTEM, 'imgdesc-load-podman@.service/x'), { recursive: true }), '/etc/systemd/system/imgdesc-load-podman@.service', /it is a directory/],
    ['kiwi_containers.service.wants is a file', (r) => mkdir(join(r, SYSTEM), { recursive: true }).then(() => writeFile(join(r, SYSTEM, 'kiwi_containers.service.wants'), RANDOM)), '/etc/systemd/system/kiwi_containers.service.wants', /is not a directory/],
    ['multi-user.target.wants is a file', (r) => mkdir(join(r, SYSTEM), { recursive: true }).then(() => writeFile(join(r, SYSTEM, 'multi-user.target.wants'), '')), '/etc/systemd/system/multi-user.target.wants', /is not a directory/],
    ['the enable link\'s name is a directory', (r) => mkdir(join(r, SYSTEM, 'kiwi_containers.service.wants/imgdesc-load-podman@var-tmp-kiwi_containers-hello_1.0.service/x'), { recursive: true }), '/etc/systemd/system/kiwi_containers.service.wants/imgdesc-load-podman@var-tmp-kiwi_containers-hello_1.0.service', /it is a directory/],
    ['a stale unit of ours is a directory', (r) => mkdir(join(r, SYSTEM, 'imgdesc-load-docker@old.service/x'), { recursive: true }), '/etc/systemd/system/imgdesc-load-docker@old.service', /cannot remove .*: it is a directory/],
    ['/etc/systemd/system is a link loop', (r) => mkdir(join(r, 'etc/systemd'), { recursive: true }).then(() => symlink('system', join(r, SYSTEM))), '/etc/systemd/system', /more than 40 links; a loop\?/],
  ];

  for (const [name, prepare, inImage, message] of CASES) {
    test(name, async (t) => {
      const { file, root } = await example(t);
      await prepare(root);
      const r = await runCli(['build', file, '--root', root, ...OFFLINE]);
      assertRefused(r, { code: EXIT.OUTPUT, names: [inImage], message });
      await assertNoTemporaryFiles(root);
    });
  }

  test('control: a binary file where kiwi_containers.service goes is replaced by the unit', async (t) => {
    const { file, root } = await example(t);
    await mkdir(join(root, SYSTEM), { recursive: true });
    await writeFile(join(root, SYSTEM, 'kiwi_containers.service'), RANDOM);
    const r = await runCli(['build', file, '--root', root, ...OFFLINE]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(await readFile(join(root, SYSTEM, 'kiwi_containers.service'), 'utf8'), /^# Generated by imgdesc/);
  });
});

describe('hostile blob caches (--cache-dir): exit 5 naming the cache', () => {
  /** The config blob of the example's hello:1.0 for x86_64, the first blob the build stores. */
  const CONFIG = 'blobs/sha256/997535831be08f2448fed8be13eee15eb289d8e89ed907aa770784798915fe5a';
  const CASES: ReadonlyArray<readonly [string, (cache: string) => Promise<unknown>, RegExp]> = [
    ['a cache "directory" that is a file', (c) => writeFile(c, RANDOM), /cannot store blob sha256:[0-9a-f]{64} in .*: a parent is not a directory/],
    ['a directory where a cached blob goes', (c) => mkdir(join(c, CONFIG, 'x'), { recursive: true }), /cannot store blob sha256:[0-9a-f]{64} in .*: it is a directory/],
  ];
  for (const [name, make, message] of CASES) {
    test(name, async (t) => {
      const { dir, file, root } = await example(t);
      const cache = join(dir, 'cache');
      await make(cache);
      const r = await runCli(['build', file, '--root', root, '--cache-dir', cache, ...OFFLINE]);
      assertRefused(r, { code: EXIT.OUTPUT, names: [cache], message });
      // The failure comes mid-build: the image it hit has no archive and
      // nothing is left half-written, but another image may have finished first.
      await assertNoTemporaryFiles(root);
      assert.ok(!(await buildLeftovers(root)).includes('var/tmp/kiwi_containers/hello_1.0'), 'no archive of the image that failed');
      await assertNoTemporaryFiles(cache);
    });
  }
});

describe('hostile descriptions on disk: exit 3 naming the file', () => {
  // [case, DESCRIPTION argument relative to a temp dir, how to make it, file named, message]
  const CASES: ReadonlyArray<readonly [string, string, (dir: string) => Promise<unknown>, string, RegExp]> = [
    ['config.xml is a directory', 'd', (d) => mkdir(join(d, 'd/config.xml'), { recursive: true }), 'd/config.xml', /cannot read description .*: it is a directory/],
    ['the only *.kiwi is a directory', 'd', (d) => mkdir(join(d, 'd/a.kiwi'), { recursive: true }), 'd/a.kiwi', /cannot read description .*: it is a directory/],
    ['config.xml is a FIFO (never waited on)', 'd', (d) => mkdir(join(d, 'd')).then(() => fifo(join(d, 'd/config.xml'))), 'd/config.xml', /it is not a regular file/],
    ['random bytes', 'a.xml', (d) => writeFile(join(d, 'a.xml'), RANDOM), 'a.xml', /it is binary, not text/],
    ['XML with NUL bytes', 'a.xml', (d) => writeFile(join(d, 'a.xml'), description('').replace('<description', '<description\0')), 'a.xml', /it holds NUL bytes/],
    ['a file of 17 MiB', 'a.xml', (d) => huge(17 * 1024 * 1024)(join(d, 'a.xml')), 'a.xml', /descriptions larger than 16777216 bytes are refused/],
  ];
  for (const [name, arg, make, named, message] of CASES) {
    for (const command of ['validate', 'build'] as const) {
      test(`${command}: ${name}`, { timeout: 20_000 }, async (t) => {
        const dir = await tempDir(t);
        await make(dir);
        const r = await runCli([command, join(dir, arg), ...(command === 'build' ? ['--root', join(dir, 'root'), ...OFFLINE] : [])]);
        assertRefused(r, { code: EXIT.INVALID_DESCRIPTION, names: [join(dir, named)], message });
        await assertNothingWritten(join(dir, 'root'));
      });
    }
  }
});
