// Run by `npm run build` after scripts/bundle.mjs: writes dist/bundle/imgdesc.cjs.cache,
// V8's code cache for the bundle, which the launcher (dist/bundle/bin.js,
// src/cli/launcher.ts) hands to V8 with it.
//
// A cache made right after compiling would hold little more than the bundle's
// top level: V8 compiles a function the first time it runs. So the cache is
// made after training runs of the shipped command on the shipped example:
// validate, plan, an offline build, and a build that fetches the example's
// images from a registry this script serves on 127.0.0.1 (so that the
// registry client's and undici's code is in the cache too). Each run is a
// process of its own that compiles the bundle the launcher's way, runs the
// command and writes what V8 holds compiled when it exits; each starts from
// the previous run's cache, so the last one holds the code of them all.
// Nothing here uses the network or the user's configuration, cache or
// credentials.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const REPO = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(REPO, 'dist/bundle/bin.js');
const EXAMPLE = join(REPO, 'examples/appliance.xml');
const CONTAINERS = join(REPO, 'examples/containers');
const EXAMPLE_REGISTRY = 'registry.example.org';
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
  await writeCache();
}

async function writeCache() {
  const scratch = mkdtempSync(join(tmpdir(), 'imgdesc-code-cache-'));
  const steps = [];
  const registry = await serveExampleImages().catch((err) => {
    console.warn(`code cache: no registry on 127.0.0.1 (${err.message}); the cache leaves out the registry client`);
    return null;
  });
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
    const configured = (name) => ['--root', join(scratch, name, 'root'), '--cache-dir', join(scratch, name, 'cache'),
      '--policy', policy, '--registries-conf', registriesConf, '--registries.d', join(scratch, 'registries.d')];

    const runs = [
      ['validate', EXAMPLE],
      ['plan', EXAMPLE],
      ['build', EXAMPLE, '--container-dir', CONTAINERS, '--offline', ...configured('offline')],
    ];
    if (registry) {
      // The example, with its images on the registry here instead.
      const served = join(scratch, 'appliance.xml');
      writeFileSync(served, readFileSync(EXAMPLE, 'utf8').replaceAll(`source="${EXAMPLE_REGISTRY}"`, `source="${registry.host}"`));
      runs.push(['build', served, '--tls-verify=false', ...configured('registry')]);
    }
    for (const args of runs) {
      const to = `${launcher.CACHE}.${steps.length}.tmp`;
      const r = await train(steps.at(-1) ?? '', to, args, { cwd: scratch, env });
      if (r.code !== 0) throw new Error(`code cache: imgdesc ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
      steps.push(to);
    }
    renameSync(steps.pop(), launcher.CACHE);
    const check = spawnSync(process.execPath, [SELF, '--check'], { env, stdio: 'inherit' });
    if (check.status !== 0) throw new Error(`code cache: V8 rejects ${launcher.CACHE}; the launcher must set the V8 flags the bundle sets before it compiles (src/cli/v8-flags.ts)`);
  } finally {
    registry?.server.close();
    for (const file of steps) rmSync(file, { force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** One training run in a child process (asynchronously: this process serves the registry meanwhile). */
function train(from, to, args, options) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SELF, '--train', from, to, ...args], { ...options, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? signal, stderr }));
  });
}

/**
 * A read-only registry on 127.0.0.1 with the example's images, read from
 * their oci-archives in examples/containers: GET and HEAD of /v2/, manifests
 * by tag or digest, and blobs.
 */
async function serveExampleImages() {
  const blobs = new Map();
  const tags = new Map();
  const dir = join(CONTAINERS, EXAMPLE_REGISTRY);
  for (const repoDir of readdirSync(dir)) {
    for (const file of readdirSync(join(dir, repoDir)).filter((f) => f.endsWith('.ociarchive'))) {
      const layout = untar(readFileSync(join(dir, repoDir, file)));
      for (const [path, body] of layout) if (path.startsWith('blobs/sha256/')) blobs.set(`sha256:${path.slice(13)}`, body);
      for (const m of JSON.parse(layout.get('index.json').toString('utf8')).manifests) {
        const name = m.annotations?.['org.opencontainers.image.ref.name'];
        if (name?.startsWith(`${EXAMPLE_REGISTRY}/`)) tags.set(name.slice(EXAMPLE_REGISTRY.length + 1), m.digest);
      }
    }
  }
  const server = createServer((req, res) => {
    if (req.url === '/v2/') return res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    const [, repo, kind, ref] = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(req.url ?? '') ?? [];
    const digest = kind === 'manifests' && !ref.startsWith('sha256:') ? tags.get(`${repo}:${ref}`) : ref;
    const body = digest && blobs.get(digest);
    if (!body) {
      const code = kind === 'blobs' ? 'BLOB_UNKNOWN' : 'MANIFEST_UNKNOWN';
      return res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code, message: `${req.url} unknown` }] }));
    }
    res.writeHead(200, {
      'content-type': kind === 'manifests' ? JSON.parse(body.toString('utf8')).mediaType : 'application/octet-stream',
      'content-length': body.length,
      'docker-content-digest': digest,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return { server, host: `127.0.0.1:${server.address().port}` };
}

/** The regular files of a ustar archive, by path. */
function untar(archive) {
  const files = new Map();
  const field = (header, from, to) => header.toString('latin1', from, to).replace(/\0.*$/s, '');
  for (let at = 0; at + 512 <= archive.length; ) {
    const header = archive.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const size = parseInt(field(header, 124, 136).trim() || '0', 8);
    const type = field(header, 156, 157);
    const prefix = field(header, 345, 500);
    const name = field(header, 0, 100);
    if (type === '0' || type === '') files.set(prefix ? `${prefix}/${name}` : name, archive.subarray(at + 512, at + 512 + size));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}
