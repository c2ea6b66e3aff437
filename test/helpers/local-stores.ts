// Real local image stores for tests, private to the test: podman with its own
// vfs storage (CONTAINERS_STORAGE_CONF, which podman honours), and a dockerd
// of its own (data root, exec root, socket; no iptables, no bridge, vfs),
// reached through DOCKER_HOST. Both are what `imgdesc build --local-store`
// and `--source containers-storage:/docker-daemon:` talk to.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface PrivatePodman {
  /** The env that points podman at this store (CONTAINERS_STORAGE_CONF). */
  readonly env: NodeJS.ProcessEnv;
  podman(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** A podman store of its own; set `env` in process.env for code that runs podman itself. */
export async function privatePodman(): Promise<PrivatePodman> {
  const dir = await mkdtemp(join(tmpdir(), 'imgdesc-podman-store-'));
  const conf = join(dir, 'storage.conf');
  await writeFile(conf, `[storage]\ndriver = "vfs"\ngraphroot = "${join(dir, 'root')}"\nrunroot = "${join(dir, 'run')}"\n`);
  const env = { ...process.env, CONTAINERS_STORAGE_CONF: conf };
  return {
    env,
    async podman(...args: string[]) {
      return (await exec('podman', args, { env, maxBuffer: 64 * 1024 * 1024 })).stdout;
    },
    async stop() {
      await exec('podman', ['system', 'reset', '--force'], { env }).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface PrivateDocker {
  /** unix:///…/docker.sock, for DOCKER_HOST. */
  readonly host: string;
  readonly env: NodeJS.ProcessEnv;
  docker(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

async function waitFor(check: () => Promise<boolean>, what: string, ms: number, daemon: ChildProcess, log: () => string): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (daemon.exitCode !== null) throw new Error(`${what} exited with ${daemon.exitCode}: ${log().slice(-2000)}`);
    if (Date.now() > until) throw new Error(`${what} did not come up within ${ms} ms: ${log().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A dockerd of its own, started here and stopped by stop(). */
export async function privateDocker(): Promise<PrivateDocker> {
  const dir = await mkdtemp(join(tmpdir(), 'imgdesc-dockerd-'));
  await mkdir(join(dir, 'data'));
  const socket = join(dir, 'docker.sock');
  const host = `unix://${socket}`;
  const daemon = spawn(
    'dockerd',
    [
      '--data-root', join(dir, 'data'),
      '--exec-root', join(dir, 'exec'),
      '--pidfile', join(dir, 'dockerd.pid'),
      '--host', host,
      '--iptables=false',
      '--ip6tables=false',
      '--ip-forward=false',
      '--ip-masq=false',
      '--bridge=none',
      '--storage-driver=vfs',
      '--containerd-namespace', `imgdesc-test-${process.pid}`,
      '--containerd-plugins-namespace', `imgdesc-test-plugins-${process.pid}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  daemon.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  daemon.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const env = { ...process.env, DOCKER_HOST: host, DOCKER_BUILDKIT: '0' };
  const docker = async (...args: string[]) => (await exec('docker', args, { env, maxBuffer: 64 * 1024 * 1024 })).stdout;
  const stop = async () => {
    daemon.kill('SIGTERM');
    if (daemon.exitCode === null) await new Promise((r) => daemon.once('exit', r));
    // dockerd leaves vfs layers it cannot remove while mounted; the mounts are gone once it exits.
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };
  try {
    await waitFor(async () => existsSync(socket) && (await docker('version', '--format', '{{.Server.Version}}').then(() => true, () => false)), 'dockerd', 60_000, daemon, () => log);
  } catch (err) {
    await stop();
    throw err;
  }
  return { host, env, docker, stop };
}

/** A directory with a Containerfile that copies one file into an empty image: no base image needed. */
export async function scratchContext(dir: string, content: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'hello.txt'), content);
  await writeFile(join(dir, 'Containerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\nCMD ["/hello.txt"]\n');
  return dir;
}

/** Runs `fn` with process.env changed as given (for code that runs podman or docker itself), then puts it back. */
export async function withEnv<T>(changes: NodeJS.ProcessEnv, fn: () => Promise<T>): Promise<T> {
  const saved = new Map(Object.keys(changes).map((k) => [k, process.env[k]]));
  Object.assign(process.env, changes);
  try {
    return await fn();
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
