// For a describe block: a real registry with a fault proxy in front of it,
// started before the block's tests and stopped after them, with a scratch
// directory that lives as long as the block.
import { after, before } from 'node:test';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { startRegistry, type RegistryShape, type TestRegistry } from './registry.js';
import { tempDir } from './tmp.js';

export interface ProxiedRegistry {
  /** Valid inside the block's tests (set by its before hook). */
  readonly registry: TestRegistry;
  readonly proxy: FaultProxy;
}

/** `fill` pushes the block's images (and writes anything else it needs into `work`). */
export function proxiedRegistry(shape: RegistryShape, fill: (work: string, net: ProxiedRegistry) => Promise<void>): ProxiedRegistry {
  let registry: TestRegistry | undefined;
  let proxy: FaultProxy | undefined;
  const cleanups: Array<() => unknown> = [];
  const net: ProxiedRegistry = {
    get registry() {
      return registry!;
    },
    get proxy() {
      return proxy!;
    },
  };
  before(async () => {
    registry = await startRegistry(shape);
    proxy = await startFaultProxy(registry.host);
    await fill(await tempDir({ after: (fn: () => unknown) => cleanups.push(fn) }), net);
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    for (const c of cleanups) await c();
  });
  return net;
}
