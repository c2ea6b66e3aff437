// Run by `npm run build` after scripts/bundle.mjs: writes dist/bundle/imgdesc.cjs.cache,
// V8's code cache for the bundle, which the launcher (dist/bundle/bin.js,
// src/cli/launcher.ts) hands to V8 with it.
//
// A cache made right after compiling would hold little more than the bundle's
// top level: V8 compiles a function the first time it runs. So the cache is
// made after training runs of the shipped command on the shipped example
// (validate, plan, and an offline build into a scratch root), each a process
// of its own that compiles the bundle the launcher's way, runs the command and
// writes what V8 holds compiled when it exits. Each run starts from the
// previous run's cache, so the last one holds the code of all three. Nothing
// here uses the network or the user's configuration, cache or credentials.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const REPO = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(REPO, 'dist/bundle/bin.js');
const launcher = createRequire(import.meta.url)(BIN);

if (process.argv[2] === '--train') {
  // node code-cache.mjs --train FROM TO ARGS...: one training run. FROM is the
  // cache to start from ('' for none); TO gets the cache when the command succeeded.
  const [from, to, ...args] = process.argv.slice(3);
  const script = launcher.compile(from ? readFileSync(from) : undefined);
  process.argv = [process.argv[0], BIN, ...args];
  process.on('exit', (code) => {
    if (code === 0) writeFileSync(to, script.createCachedData());
  });
  launcher.run(script);
} else if (process.argv[2] === '--check') {
  // Whether V8 takes the cache in a process that starts as the command does.
  process.exitCode = launcher.compile(launcher.readCache()).cachedDataRejected === false ? 0 : 1;
} else {
  const scratch = mkdtempSync(join(tmpdir(), 'imgdesc-code-cache-'));
  const steps = [];
  try {
    // Explicit configuration, so that the runs depend on nothing of this machine's.
    const policy = join(scratch, 'policy.json');
    writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    const registriesConf = join(scratch, 'registries.conf');
    writeFileSync(registriesConf, '');
    mkdirSync(join(scratch, 'registries.d'));
    mkdirSync(join(scratch, 'home'));
    const env = { ...process.env, HOME: join(scratch, 'home'), XDG_CONFIG_HOME: join(scratch, 'home/.config'), XDG_CACHE_HOME: join(scratch, 'home/.cache') };
    // A cache made under NODE_OPTIONS' V8 flags would be rejected by a plain `imgdesc`.
    for (const name of ['NODE_OPTIONS', 'CONTAINERS_REGISTRIES_CONF', 'REGISTRY_AUTH_FILE']) delete env[name];

    const example = join(REPO, 'examples/appliance.xml');
    const runs = [
      ['validate', example],
      ['plan', example],
      ['build', example, '--container-dir', join(REPO, 'examples/containers'), '--offline', '--root', join(scratch, 'root'),
        '--cache-dir', join(scratch, 'cache'), '--policy', policy, '--registries-conf', registriesConf, '--registries.d', join(scratch, 'registries.d')],
    ];
    for (const args of runs) {
      const to = `${launcher.CACHE}.${steps.length}.tmp`;
      const r = spawnSync(process.execPath, [SELF, '--train', steps.at(-1) ?? '', to, ...args], { cwd: scratch, env, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`code cache: imgdesc ${args[0]} failed (${r.status ?? r.signal}):\n${r.stderr}`);
      steps.push(to);
    }
    renameSync(steps.pop(), launcher.CACHE);
    const check = spawnSync(process.execPath, [SELF, '--check'], { env, stdio: 'inherit' });
    if (check.status !== 0) throw new Error(`code cache: V8 rejects ${launcher.CACHE}; the launcher must set the V8 flags the bundle sets before it compiles (src/cli/v8-flags.ts)`);
  } finally {
    for (const file of steps) rmSync(file, { force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
}
