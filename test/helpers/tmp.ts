// Temporary directories that remove themselves when the test ends.
import { createHash } from 'node:crypto';
import { lstat, mkdtemp, mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
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

/**
 * Every entry below dir: "dir MODE", "file MODE SHA256" or "link -> TARGET",
 * by relative path; with `only`, the entries it keeps (all are walked).
 */
export async function tree(dir: string, only?: (rel: string) => boolean): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (p: string, rel: string): Promise<void> => {
    for (const name of (await readdir(p)).sort()) {
      const full = join(p, name);
      const r = rel ? `${rel}/${name}` : name;
      const s = await lstat(full);
      const mode = (s.mode & 0o7777).toString(8).padStart(4, '0');
      const keep = !only || only(r);
      if (s.isSymbolicLink()) {
        if (keep) out[r] = `link -> ${await readlink(full)}`;
      } else if (s.isDirectory()) {
        if (keep) out[r] = `dir ${mode}`;
        await walk(full, r);
      } else if (keep) out[r] = `file ${mode} ${createHash('sha256').update(await readFile(full)).digest('hex')}`;
    }
  };
  await walk(dir, '');
  return out;
}
