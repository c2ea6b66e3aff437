// Benchmark: validate + plan of a generated description with 1,000 containers
// across 50 profiles. Target: under 1 s wall for the whole `imgdesc plan`
// process on the development machine. Prints figures; asserts nothing.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkDescriptionText } from '../src/description/validate.js';
import { buildModel } from '../src/description/build-model.js';
import { makePlan } from '../src/plan/plan.js';
import { generateDescription } from './generate-description.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchPlan(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'imgdesc-bench-'));
  try {
    const text = generateDescription(1000, 50);
    const file = join(dir, 'bench.kiwi');
    writeFileSync(file, text);
    const allProfiles = Array.from({ length: 50 }, (_, i) => `p${i}`);

    // In-process: the cost of our own code with a warm JIT.
    const inProc: number[] = [];
    let planned = 0;
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      const { root, problems } = checkDescriptionText(text);
      if (!root || problems.length) throw new Error(`generated description is invalid: ${problems[0]?.message}`);
      planned = makePlan(buildModel(root, file), { profiles: ['p49'], arch: 'x86_64' }).containers.length;
      inProc.push(performance.now() - t0);
    }

    // Whole process, as a pipeline runs it: node start, module load, schema compile, validate, plan, JSON out.
    const bin = join(REPO, 'dist/bundle/bin.js');
    const whole: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      execFileSync(process.execPath, [bin, 'plan', file, '--profile', 'p49', '--target-arch', 'x86_64', '--json'], { stdio: ['ignore', 'ignore', 'inherit'] });
      whole.push(performance.now() - t0);
    }
    const validateWhole: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      execFileSync(process.execPath, [bin, 'validate', file, ...allProfiles.slice(0, 1).flatMap((p) => ['--profile', p])], { stdio: ['ignore', 'ignore', 'inherit'] });
      validateWhole.push(performance.now() - t0);
    }
    console.log(`validate+plan: ${text.length} bytes, 1000 containers, 50 profiles, ${planned} planned for --profile p49 on x86_64`);
    console.log(`  in-process (parse, schema, rules, model, plan): median ${median(inProc).toFixed(1)} ms over ${inProc.length} runs`);
    console.log(`  whole process \`imgdesc plan --json\`:           median ${median(whole).toFixed(1)} ms over ${whole.length} runs (target < 1000 ms)`);
    console.log(`  whole process \`imgdesc validate\`:              median ${median(validateWhole).toFixed(1)} ms over ${validateWhole.length} runs`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
