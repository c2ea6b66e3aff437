// A registry "across a WAN" for the build benchmark. docker-registry runs in
// a network namespace behind a veth pair (a free /30 in 10.203.0.0/16, e.g.
// 10.203.x.1 on the host side and 10.203.x.2 in the namespace), shaped on
// both ends after the images are pushed:
//   netem  - `tc qdisc … root netem delay D rate R` on both ends, when the
//            kernel has sch_netem; clients talk to 10.203.x.2:5000 directly.
//   relay  - kernels without netem (CONFIG_NET_SCH_NETEM unset): the rate
//            comes from tbf on both ends, and the delay from a relay on the
//            host side that holds every chunk for D in each direction and a
//            new connection for one round trip, as a handshake would.
// Everything is torn down by stop(), on a failed start, and on SIGINT/SIGTERM
// or exit of the benchmark process; a namespace left by an earlier run that was
// killed (SIGKILL) is removed on the next start.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Names and addresses are per process, so that runs at the same time (two
// people benchmarking on one machine) never touch each other's namespace.
const PREFIX = 'imgdesc-bench-wan-';
const NS = `${PREFIX}${process.pid}`;
const HOST_IF = `idw${process.pid}a`; // IFNAMSIZ: at most 15 characters
const NS_IF = `idw${process.pid}b`;
const PORT = 5000;

export interface WanOptions {
  /** One-way delay in ms (applied on each end, so the round trip is twice this). */
  delayMs: number;
  /** tc rate, e.g. "200mbit". */
  rate: string;
}

export interface WanRegistry {
  /** Where to push: the registry itself, unshaped until shape() is called. */
  readonly pushHost: string;
  /** host:port that references use once shaped. */
  readonly host: string;
  /** "netem" or "tbf + relay", once shaped. */
  method: string;
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

/**
 * A TCP relay from a local port to target that delays every chunk by delayMs
 * in both directions, keeping order, and a new connection by one round trip.
 */
function delayRelay(target: { host: string; port: number }, delayMs: number): Promise<Server> {
  const forward = (from: Socket, to: Socket) => {
    // Timers of equal delay fire in the order they were set, so chunks keep their order.
    from.on('data', (chunk: Buffer) => setTimeout(() => to.writable && to.write(chunk), delayMs));
    from.on('end', () => setTimeout(() => to.end(), delayMs));
    // destroySoon, not destroy: writes still queued for a slow reader must get out first.
    from.on('close', () => setTimeout(() => to.destroySoon(), delayMs + 1));
    from.on('error', () => undefined);
  };
  const server = createServer((client) => {
    client.pause();
    const upstream = connect(target.port, target.host);
    upstream.pause();
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    // SYN, SYN-ACK: the first request byte can leave one round trip later.
    setTimeout(() => {
      forward(client, upstream);
      forward(upstream, client);
      client.resume();
      upstream.resume();
    }, 2 * delayMs);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, host);
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
  let child: ChildProcess | undefined;
  let relay: Server | undefined;
  // Whatever happens to this process, the namespace goes.
  const onExit = () => {
    child?.kill('SIGKILL');
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
    if (relay) await new Promise((r) => relay!.close(() => r(undefined)));
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      child.kill('SIGKILL');
    }
    teardownWan();
    rmSync(dir, { recursive: true, force: true });
    release();
  };

  try {
    sh('ip', 'netns', 'add', NS);
    sh('ip', 'link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF);
    sh('ip', 'link', 'set', NS_IF, 'netns', NS);
    sh('ip', 'addr', 'add', `${HOST_IP}/30`, 'dev', HOST_IF);
    sh('ip', 'link', 'set', HOST_IF, 'up');
    sh(...inNs('ip', 'addr', 'add', `${NS_IP}/30`, 'dev', NS_IF));
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
    child = spawn('ip', ['netns', 'exec', NS, 'docker-registry', 'serve', config], { stdio: 'ignore' });
    const deadline = Date.now() + 15_000;
    while (!(await canConnect(NS_IP, PORT))) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('the WAN registry did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const direct = `${NS_IP}:${PORT}`;
  const wan: WanRegistry = {
    pushHost: direct,
    host: direct,
    method: 'unshaped',
    async shape() {
      try {
        qdiscBothEnds(['netem', 'delay', `${options.delayMs}ms`, 'rate', options.rate]);
        wan.method = `netem delay ${options.delayMs}ms rate ${options.rate} on both ends`;
        return;
      } catch (err) {
        if (!/unknown/i.test(String((err as { stderr?: Buffer }).stderr ?? err))) throw err;
      }
      // Burst of 64 kB: small enough that the rate holds within a round trip.
      qdiscBothEnds(['tbf', 'rate', options.rate, 'burst', '64kb', 'latency', '100ms']);
      relay = await delayRelay({ host: NS_IP, port: PORT }, options.delayMs);
      (wan as { host: string }).host = `127.0.0.1:${(relay.address() as AddressInfo).port}`;
      wan.method = `no netem in this kernel: tbf rate ${options.rate} on both ends + ${options.delayMs} ms relay each way`;
    },
    stop,
  };
  return wan;
}
