// `npm run bench [-- NAME...]`: runs the named benchmarks (default: all).
import { benchPlan } from './plan.js';

const ALL: Record<string, () => Promise<void>> = { plan: benchPlan };
const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(ALL);
for (const name of names) {
  const bench = ALL[name];
  if (!bench) {
    console.error(`unknown benchmark ${name}; known: ${Object.keys(ALL).join(', ')}`);
    process.exit(2);
  }
  await bench();
}
