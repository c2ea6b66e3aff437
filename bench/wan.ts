// A registry "across a WAN" for the build benchmark. docker-registry runs in
// a network namespace, reached over a point-to-point link (a free /30 in
// 10.203.0.0/16: 10.203.x.1 on the host side, 10.203.x.2 in the namespace),
// shaped after the images are pushed, by one of:
//   netem       - a veth pair with `tc qdisc … root netem delay D rate R` on
//                 both ends, when the kernel has sch_netem.
//   delay line  - kernels without netem (CONFIG_NET_SCH_NETEM unset): a TUN
//                 device on each side and bench/delay-line.py between them,
//                 which delays and rate-limits every packet in each direction
//                 as netem would. Needs python3.
// Either way the delay acts on packets, so TCP pays real round trips:
// handshakes, slow start and window growth.
// Everything is torn down by stop(), on a failed start, and on SIGINT/SIGTERM
// or exit of the benchmark process; a namespace left by an earlier run that was
// killed (SIGKILL) is removed on the next start.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PushTarget } from '../test/helpers/test-images.js';

// Names and addresses are per process, so that runs at the same time (two
// people benchmarking on one machine) never touch each other's namespace.
const PREFIX = 'imgdesc-bench-wan-';
const NS = `${PREFIX}${process.pid}`;
const HOST_IF = `idw${process.pid}a`; // IFNAMSIZ: at most 15 characters
const NS_IF = `idw${process.pid}b`;
const PORT = 5000;
const DELAY_LINE = fileURLToPath(new URL('./delay-line.py', import.meta.url));
/** netem's default queue limit, in packets. */
const LIMIT = 1000;

export interface WanOptions {
  /** One-way delay in ms (applied on each end, so the round trip is twice this). */
  delayMs: number;
  /** tc rate, e.g. "200mbit". */
  rate: string;
}

/** Push to it (a PushTarget, like the test registry) before shape(); fetch from it after. */
export interface WanRegistry extends PushTarget {
  /** host:port, as it appears in references. */
  readonly host: string;
  /** How the link is shaped. */
  readonly method: string;
  /** Turns delay and rate limit on (call after pushing). */
  shape(): Promise<void>;
  stop(): Promise<void>;
}

function sh(cmd: string, ...args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function quietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // already gone
  }
}

function removeNamespace(ns: string, hostIf: string): void {
  quietly(() => sh('ip', 'netns', 'del', ns));
  quietly(() => sh('ip', 'link', 'del', hostIf));
}

/** Removes this process's namespace and the host end of its veth pair; safe to call any time, synchronous. */
export function teardownWan(): void {
  removeNamespace(NS, HOST_IF);
}

/** Removes namespaces left by earlier runs that were killed (their process is gone). */
function removeStale(): void {
  let list = '';
  try {
    list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  } catch {
    return;
  }
  for (const m of list.matchAll(new RegExp(`^${PREFIX}(\\d+)`, 'gm'))) {
    const pid = Number(m[1]);
    if (pid === process.pid || alive(pid)) continue;
    // Its registry outlived it (SIGKILL leaves no chance to stop it): only that runs in there.
    quietly(() => {
      for (const p of execFileSync('ip', ['netns', 'pids', `${PREFIX}${pid}`], { encoding: 'utf8' }).split(/\s+/).filter(Boolean)) process.kill(Number(p), 'SIGKILL');
    });
    removeNamespace(`${PREFIX}${pid}`, `idw${pid}a`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A /30 in 10.203.0.0/16 that no interface here uses, picked from the pid. */
function freeSubnet(): { hostIp: string; nsIp: string } {
  const used = execFileSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' });
  for (let i = 0; i < 16384; i++) {
    const n = (process.pid + i) % 16384;
    const base = `10.203.${n >> 6}.`;
    const host = (n & 63) * 4;
    const hostIp = `${base}${host + 1}`;
    const nsIp = `${base}${host + 2}`;
    if (!used.includes(` ${hostIp}/`) && !used.includes(` ${nsIp}/`)) return { hostIp, nsIp };
  }
  throw new Error('no free /30 in 10.203.0.0/16');
}

const inNs = (...args: string[]): [string, ...string[]] => ['ip', 'netns', 'exec', NS, ...args];

/** Adds a root qdisc on both ends of the pair. */
function qdiscBothEnds(qdisc: string[]): void {
  sh('tc', 'qdisc', 'add', 'dev', HOST_IF, 'root', ...qdisc);
  try {
    sh(...inNs('tc', 'qdisc', 'add', 'dev', NS_IF, 'root', ...qdisc));
  } catch (err) {
    quietly(() => sh('tc', 'qdisc', 'del', 'dev', HOST_IF, 'root'));
    throw err;
  }
}

/** True when tc can add netem (probed on the host end of the pair). */
function hasNetem(): boolean {
  try {
    sh('tc', 'qdisc', 'add', 'dev', HOST_IF, 'root', 'netem', 'delay', '0ms');
  } catch (err) {
    if (/unknown/i.test(String((err as { stderr?: Buffer }).stderr ?? err))) return false;
    throw err;
  }
  sh('tc', 'qdisc', 'del', 'dev', HOST_IF, 'root');
  return true;
}

/** Starts the delay line between the two TUN devices and waits until it has attached them. */
function startDelayLine(options: WanOptions): Promise<ChildProcess> {
  const bits = rateBits(options.rate);
  const child = spawn('python3', [DELAY_LINE, HOST_IF, NS_IF, String(options.delayMs), String(bits), String(LIMIT)], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.once('data', () => resolve(child));
    child.once('error', (e) => reject(new Error(`cannot start the delay line (python3 ${DELAY_LINE}): ${e.message}`)));
    child.once('exit', (code) => reject(new Error(`the delay line exited (${code}): ${err.trim()}`)));
  });
}

/** "200mbit" → 200000000 (tc's decimal units). */
function rateBits(rate: string): number {
  const m = /^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit)$/i.exec(rate);
  if (!m) throw new Error(`unsupported rate ${rate}`);
  const scale = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 }[m[2]!.toLowerCase() as 'bit'];
  return Number(m[1]) * scale;
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    // A SYN lost on a link that is not up yet would otherwise wait minutes.
    s.setTimeout(1000, () => {
      s.destroy();
      resolve(false);
    });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function startWanRegistry(options: WanOptions): Promise<WanRegistry> {
  removeStale();
  teardownWan();
  const { hostIp: HOST_IP, nsIp: NS_IP } = freeSubnet();
  const dir = mkdtempSync(join(tmpdir(), 'imgdesc-bench-wan-'));
  let registry: ChildProcess | undefined;
  let delayLine: ChildProcess | undefined;
  // Whatever happens to this process, the namespace goes.
  const onExit = () => {
    registry?.kill('SIGKILL');
    delayLine?.kill('SIGKILL');
    teardownWan();
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (sig: NodeJS.Signals) => {
    onExit();
    process.kill(process.pid, sig);
  };
  process.once('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const release = () => {
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };

  const stop = async () => {
    for (const child of [registry, delayLine]) {
      if (!child || child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      child.kill('SIGKILL');
    }
    teardownWan();
    rmSync(dir, { recursive: true, force: true });
    release();
  };

  let method: string;
  try {
    sh('ip', 'netns', 'add', NS);
    sh('ip', 'link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF);
    if (hasNetem()) {
      sh('ip', 'link', 'set', NS_IF, 'netns', NS);
      sh('ip', 'addr', 'add', `${HOST_IP}/30`, 'dev', HOST_IF);
      sh(...inNs('ip', 'addr', 'add', `${NS_IP}/30`, 'dev', NS_IF));
      method = `netem delay ${options.delayMs}ms rate ${options.rate} on both ends`;
    } else {
      sh('ip', 'link', 'del', HOST_IF);
      sh('ip', 'tuntap', 'add', 'dev', HOST_IF, 'mode', 'tun');
      sh('ip', 'tuntap', 'add', 'dev', NS_IF, 'mode', 'tun');
      // It attaches to both while they are here; the fd stays attached when one moves.
      delayLine = await startDelayLine(options);
      sh('ip', 'link', 'set', NS_IF, 'netns', NS);
      sh('ip', 'addr', 'add', HOST_IP, 'peer', NS_IP, 'dev', HOST_IF);
      sh(...inNs('ip', 'addr', 'add', NS_IP, 'peer', HOST_IP, 'dev', NS_IF));
      method = `no netem in this kernel: bench/delay-line.py between two TUN devices, ${options.delayMs} ms and ${options.rate} each way, limit ${LIMIT} packets`;
    }
    sh('ip', 'link', 'set', HOST_IF, 'up');
    sh(...inNs('ip', 'link', 'set', NS_IF, 'up'));
    sh(...inNs('ip', 'link', 'set', 'lo', 'up'));

    const config = join(dir, 'config.yml');
    writeFileSync(
      config,
      [
        'version: 0.1',
        'log: { level: error, accesslog: { disabled: true } }',
        `storage: { filesystem: { rootdirectory: ${JSON.stringify(join(dir, 'storage'))} }, cache: { blobdescriptor: inmemory } }`,
        `http: { addr: "${NS_IP}:${PORT}" }`,
        '',
      ].join('\n'),
    );
    registry = spawn('ip', ['netns', 'exec', NS, 'docker-registry', 'serve', config], { stdio: 'ignore' });
    const deadline = Date.now() + 15_000;
    while (!(await canConnect(NS_IP, PORT))) {
      if (Date.now() > deadline || registry.exitCode !== null) throw new Error('the WAN registry did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const host = `${NS_IP}:${PORT}`;
  return {
    host,
    skopeoDestFlags: () => ['--dest-tls-verify=false'],
    method,
    async shape() {
      if (delayLine) delayLine.kill('SIGUSR1');
      else qdiscBothEnds(['netem', 'delay', `${options.delayMs}ms`, 'rate', options.rate, 'limit', String(LIMIT)]);
    },
    stop,
  };
}
