// Temporary directories that remove themselves when the test ends.
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';

export async function tempDir(t: TestContext | { after(fn: () => unknown): void }, prefix = 'imgdesc-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes files given as { relativePath: content } below dir. */
export async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const p = join(dir, rel);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, content);
  }
}

/** Every file below dir, as paths relative to it; [] when dir does not exist. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name), `${rel}${e.name}/`);
      else out.push(`${rel}${e.name}`);
    }
  };
  await walk(dir, '');
  return out;
}

/** What a failed build must not leave in its root: archives, or temporary files anywhere. */
export async function buildLeftovers(root: string): Promise<string[]> {
  return (await listFiles(root)).filter((f) => f.startsWith('var/tmp/kiwi_containers/') || f.includes('.imgdesc-tmp-'));
}
