// Benchmark: the fixed cost. Whole processes, interleaved, medians of N:
//   node -e 0                         Node itself
//   imgdesc --version                 start and argument parsing
//   imgdesc validate examples/appliance.xml
//   imgdesc build of one tiny image   cold cache, registry on 127.0.0.1
// Target (issue K): the one-image build ≤ 3× node -e 0.
//
//   npm run bench -- startup [--runs N]

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { amd64, benchRegistry, BIN, imgdescBuild, pushAll, seconds, timed, writeDescription, type Env, type Run } from './build.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));

export async function benchStartup(args: string[]): Promise<void> {
  const at = args.indexOf('--runs');
  const runs = at !== -1 ? Number(args[at + 1]) : 15;
  const env: Env = { scratch: await mkdtemp(join(tmpdir(), 'imgdesc-bench-startup-')) };
  const registry = await benchRegistry();
  try {
    const tiny = [{ name: 'startup-tiny', spec: { seed: 'startup-tiny', platforms: amd64, layers: [{ size: 800_000 }] } }];
    await pushAll(tiny, registry);
    const desc = await writeDescription(join(env.scratch, 'one.xml'), registry.host, tiny);
    const cases: Array<[string, () => Promise<Run>]> = [
      ['node -e 0', () => timed(process.execPath, ['-e', '0'], env.scratch)],
      ['imgdesc --version', () => timed(process.execPath, [BIN, '--version'], env.scratch)],
      ['imgdesc validate examples/appliance.xml', () => timed(process.execPath, [BIN, 'validate', join(REPO, 'examples/appliance.xml')], env.scratch)],
      ['imgdesc build, one tiny image, cold', () => imgdescBuild(env, desc, join(env.scratch, `cache-${Math.random()}`))],
    ];
    const results = new Map<string, Run[]>(cases.map(([name]) => [name, []]));
    for (const [, run] of cases) await run(); // warm-up: page cache, layouts
    for (let i = 0; i < runs; i++) for (const [name, run] of cases) results.get(name)!.push(await run());
    const node = seconds(results.get('node -e 0')!);
    console.log(`Fixed cost: whole processes, medians of ${runs}, interleaved`);
    for (const [name] of cases) {
      const s = seconds(results.get(name)!);
      const target = name.startsWith('imgdesc build') ? `  target ≤ 3.00×  ${s / node <= 3 ? 'met' : 'MISSED'}` : '';
      console.log(`  ${name.padEnd(42)} ${(s * 1000).toFixed(0).padStart(5)} ms  ${(s / node).toFixed(2)}× node -e 0${target}`);
    }
  } finally {
    await registry.stop();
    await rm(env.scratch, { recursive: true, force: true });
  }
}
