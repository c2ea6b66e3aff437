// Boots a throwaway copy of the cached Debian test root under systemd-nspawn
// and runs commands inside it with nsenter. Each copy is an overlayfs over
// the cache, so the cache itself is never changed.

import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../', import.meta.url));

let cachedRoot: string | undefined;
/** Path of the cached test root, building it on first use (about a minute). */
export function testRootCache(): string {
  cachedRoot ??= execFileSync('bash', [join(REPO, 'scripts/make-test-root.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  return cachedRoot;
}

export interface OverlayRoot {
  /** The merged view to build into and boot. */
  readonly dir: string;
  dispose(): Promise<void>;
}

export async function overlayRoot(base: string): Promise<OverlayRoot> {
  const top = join('/tmp', `imgdesc-e2e-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  const [upper, work, dir] = ['upper', 'work', 'root'].map((d) => join(top, d)) as [string, string, string];
  await Promise.all([upper, work, dir].map((d) => mkdir(d, { recursive: true })));
  await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${base},upperdir=${upper},workdir=${work}`, dir]);
  return {
    dir,
    async dispose() {
      // A test's cleanups run in the order they were registered, so a root
      // may go before the container booted from it was stopped: stop it first.
      await shutdownBooted();
      await run('umount', ['-l', dir]).catch(() => undefined);
      await rm(top, { recursive: true, force: true });
    },
  };
}

export interface Booted {
  /** PID (on this host) of the container's systemd. */
  readonly pid: number;
  /** Runs a command inside; never throws for a non-zero exit. */
  exec(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Stops the container cleanly (SIGTERM makes systemd power off) and waits for it. */
  shutdown(): Promise<void>;
  console(): string;
}

async function childOf(pid: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim().split(/\s+/).filter(Boolean).map(Number);
      for (const c of children) {
        const comm = (await readFile(`/proc/${c}/comm`, 'utf8').catch(() => '')).trim();
        if (comm === 'systemd') return c;
      }
    } catch {
      // not there yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`systemd did not start inside the container within ${timeoutMs} ms`);
}

/** Containers still running, stopped before any root is removed. */
const running = new Set<Booted>();

/** Stops every container this process booted and has not stopped yet. */
export async function shutdownBooted(): Promise<void> {
  await Promise.all([...running].map((vm) => vm.shutdown()));
}

/**
 * A new directory under /tmp to hold a root that will be booted; removed
 * when the test ends, after the containers booted from it are stopped
 * (a test's cleanups run in the order registered, the boot's comes later).
 */
export async function bootableDir(t: { after(fn: () => unknown): void }, prefix: string): Promise<string> {
  const dir = await mkdtemp(join('/tmp', prefix));
  t.after(async () => {
    await shutdownBooted();
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

export async function boot(root: string, timeoutMs = 90_000): Promise<Booted> {
  let consoleText = '';
  const nspawn: ChildProcess = spawn('systemd-nspawn', ['-D', root, '--boot', '--register=no', '--keep-unit', '--console=pipe'], { stdio: ['ignore', 'pipe', 'pipe'] });
  nspawn.stdout!.on('data', (c: Buffer) => (consoleText += c.toString()));
  nspawn.stderr!.on('data', (c: Buffer) => (consoleText += c.toString()));
  const exited = new Promise<void>((resolve) => nspawn.once('exit', () => resolve()));
  const kill = () => nspawn.kill('SIGKILL');
  process.once('exit', kill);
  const pid = await childOf(nspawn.pid!, 30_000);
  const exec = async (args: string[]) => {
    try {
      const { stdout, stderr } = await run('nsenter', ['-t', String(pid), '-a', ...args], { maxBuffer: 16 * 1024 * 1024 });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };
  // Wait until boot has finished (running, or degraded when some unit failed).
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await exec(['systemctl', 'is-system-running']);
    const state = r.stdout.trim();
    if (state === 'running' || state === 'degraded') break;
    if (Date.now() > deadline) throw new Error(`boot did not finish within ${timeoutMs} ms (state ${state})\n${consoleText}`);
    await new Promise((res) => setTimeout(res, 250));
  }
  const booted: Booted = {
    pid,
    exec,
    console: () => consoleText,
    async shutdown() {
      if (nspawn.exitCode === null) {
        nspawn.kill('SIGTERM');
        const timer = setTimeout(() => nspawn.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      }
      running.delete(booted);
      process.off('exit', kill);
    },
  };
  running.add(booted);
  return booted;
}
