// `npm run bench [-- NAME...] [-- OPTIONS]`: runs the named benchmarks (default: all).
// Options go to the benchmarks that take them (see bench/build.ts):
//   --quick, --runs N, --jobs N, --lan, --wan, --rss, --overlay (build); --quick, --size MIB, --runs N (pull);
//   --runs N (startup); --quick, --runs N, --chart FILE (scale)
import { benchBuild } from './build.js';
import { benchPlan } from './plan.js';
import { benchPull } from './pull.js';
import { benchScale } from './scale.js';
import { benchStartup } from './startup.js';

const WITH_VALUE = new Set(['--runs', '--jobs', '--size', '--chart']);
const argv = process.argv.slice(2);
const flags: string[] = [];
const chosen: string[] = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!;
  if (a.startsWith('--')) {
    flags.push(a);
    if (WITH_VALUE.has(a) && i + 1 < argv.length) flags.push(argv[++i]!);
  } else chosen.push(a);
}
const ALL: Record<string, () => Promise<void>> = {
  plan: benchPlan,
  build: () => benchBuild(flags),
  pull: () => benchPull(flags),
  startup: () => benchStartup(flags),
  scale: () => benchScale(flags),
};
const names = chosen.length ? chosen : Object.keys(ALL);
for (const name of names) {
  const bench = ALL[name];
  if (!bench) {
    console.error(`unknown benchmark ${name}; known: ${Object.keys(ALL).join(', ')}`);
    process.exit(2);
  }
  await bench();
}
