// SIGINT and SIGTERM in the middle of a download: the real CLI process stops
// promptly with 130/143, removes its temporary files, leaves no archive, and
// the same build run again succeeds.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { REPO, runCli } from '../helpers/cli.js';
import { description } from '../helpers/descriptions.js';
import { proxiedRegistry } from '../helpers/proxied-registry.js';
import { pushNewImage, type BuiltImage } from '../helpers/test-images.js';
import { buildLeftovers, listFiles, tempDir } from '../helpers/tmp.js';

describe('interrupted builds', () => {
  let image: BuiltImage;
  const net = proxiedRegistry('plain', async (work, { registry }) => {
    image = await pushNewImage(work, registry, 'signals/slow', '1.0', { seed: 'signals', platforms: [{ architecture: 'amd64' }], layers: [{ size: 2_000_000 }, { size: 1_000_000 }] });
  });

  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    test(`${signal} mid-download: exit ${code} promptly, nothing left behind, a rerun succeeds`, async (t) => {
      const dir = await tempDir(t);
      const desc = join(dir, 'appliance.xml');
      await writeFile(desc, description(`  <containers source="${net.proxy.host}" backend="podman">\n    <container name="slow" path="signals" tag="1.0"/>\n  </containers>`));
      const root = join(dir, 'root');
      const cache = join(dir, 'cache');
      const layer = image.manifests[0]!.layers[0]!.digest;
      // The big layer sends 300 KB, then nothing: the build is mid-blob for as long as we like.
      net.proxy.use((req) => (req.path.endsWith(layer) ? { kind: 'stall', afterBytes: 300_000 } : undefined));
      const args = ['build', desc, '--root', root, '--cache-dir', cache, '--tls-verify=false', '--target-arch', 'x86_64', '--timeout', '120'];
      const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/bin.ts'), ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      t.after(() => child.kill('SIGKILL'));

      // Wait until the stalled blob is being received and the other blobs are in.
      const deadline = Date.now() + 30_000;
      while (!net.proxy.requests.some((r) => r.path.endsWith(layer))) {
        assert.ok(Date.now() < deadline, `the build never reached the blob: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 500));
      const partial = await listFiles(root).then(async (r) => [...r, ...(await listFiles(cache))]);
      assert.ok(partial.some((f) => /\.imgdesc-tmp-|\.tmp-/.test(f)), `a download was in progress: ${partial.join(', ')}`);

      const sent = Date.now();
      child.kill(signal);
      const status = await exited;
      assert.equal(status, code, stderr);
      assert.ok(Date.now() - sent < 5000, `stopped in ${Date.now() - sent} ms`);
      assert.match(stderr, new RegExp(`interrupted by ${signal}`));
      // Complete, verified blobs may stay in the cache; nothing else may.
      const left = [
        ...(await buildLeftovers(root)),
        ...(await listFiles(cache)).filter((f) => !/^blobs\/sha256\/[a-f0-9]{64}(\.meta\.json)?$/.test(f)),
      ];
      assert.deepEqual(left, [], 'no archive and no temporary file');

      net.proxy.use(() => undefined);
      const again = await runCli(args.concat('--json'));
      assert.equal(again.code, 0, again.stderr);
      assert.equal(JSON.parse(again.stdout).containers[0].digest, image.digest);
    });
  }
});
