// The output seam: the pipeline writes only through ImageOutput. A second
// output of another kind (a stream: no descriptor, every byte in order, the
// size declared before the first byte) runs through the same pipeline with no
// change elsewhere, and writes the same files the root directory gets.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FileWorkers } from '../../src/cache/file-workers.js';
import { loadDescription } from '../../src/description/load.js';
import type { ImageOutput, OutputFile } from '../../src/output/types.js';
import { build } from '../../src/pipeline/build.js';
import { makePlan } from '../../src/plan/plan.js';
import { REPO, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

/** Files kept in memory, written strictly in order, each declaring its size first. */
class StreamOutput implements ImageOutput {
  readonly description = 'stream (test)';
  readonly streaming = true;
  readonly files = new Map<string, Buffer>();
  readonly links = new Map<string, string>();
  readonly dirs = new Set<string>();

  async mkdir(path: string): Promise<void> {
    this.dirs.add(path);
  }
  async createFile(path: string, options: { size?: number }): Promise<OutputFile> {
    const declared = options.size;
    assert.equal(typeof declared, 'number', `${path}: size declared up front`);
    const chunks: Buffer[] = [];
    let next = 0;
    return {
      fd: null,
      write: async (chunk, position) => {
        assert.equal(position, next, `${path}: bytes in order, no gaps`);
        next += chunk.length;
        assert.ok(next <= declared!, `${path}: no more bytes than declared`);
        chunks.push(Buffer.from(chunk));
      },
      commit: async () => {
        assert.equal(next, declared, `${path}: as many bytes as declared`);
        this.files.set(path, Buffer.concat(chunks));
      },
      abort: async () => undefined,
    };
  }
  async writeFile(path: string, content: Buffer | string): Promise<void> {
    this.files.set(path, Buffer.from(content));
  }
  async symlink(path: string, target: string): Promise<void> {
    this.links.set(path, target);
  }
  async list(): Promise<string[]> {
    return [];
  }
  async readHead(): Promise<Buffer | null> {
    return null;
  }
  async remove(): Promise<void> {}
  async hostPath(): Promise<string | null> {
    return null;
  }
  async close(): Promise<void> {}
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('the output seam', () => {
  test('a stream output gets, through the same pipeline, exactly the files a root directory gets', async (t) => {
    const containers = join(REPO, 'examples/containers');
    const root = join(await tempDir(t), 'root');
    const r = await runCli(['build', 'examples/appliance.xml', '--container-dir', containers, '--offline', '--root', root, '--target-arch', 'x86_64', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { containers: Array<{ archive: string }>; units: string[] };

    const output = new StreamOutput();
    const workers = new FileWorkers(1);
    t.after(() => workers.close());
    const plan = makePlan(await loadDescription(join(REPO, 'examples/appliance.xml')), { arch: 'x86_64' });
    const result = await build(plan, {
      output,
      sources: { containerDir: containers, offline: true },
      registry: { tlsVerify: true, credentials: {} },
      mtime: 0,
      signal: new AbortController().signal,
      generator: 'imgdesc test',
      cacheDir: join(await tempDir(t), 'cache'),
      workers,
    });
    assert.equal(result.root, null);
    assert.equal(result.images.length, report.containers.length);
    for (const c of report.containers) {
      const streamed = output.files.get(c.archive);
      assert.ok(streamed, `${c.archive} written to the stream output`);
      assert.equal(sha(streamed), sha(await readFile(join(root, c.archive))), `${c.archive}: same bytes as in the root`);
    }
    for (const unit of report.units) {
      assert.equal(output.files.get(unit)?.toString('utf8').replace(/imgdesc test/g, ''), (await readFile(join(root, unit), 'utf8')).replace(/imgdesc \S+/g, ''), unit);
    }
    for (const [path, target] of output.links) assert.equal(await readlink(join(root, path)), target, path);
    assert.ok(output.links.size > 0, 'enable links made');
    assert.ok(output.dirs.has('/var/tmp/kiwi_containers'));
  });
});
