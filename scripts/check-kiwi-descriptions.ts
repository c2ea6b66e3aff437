// Validates every *.kiwi / config.xml below a directory (for example a checkout
// of KIWI's build-tests/ tree) against schema/kiwi.schema.json and prints the
// problems. Exit 0 when all validate. Usage: tsx scripts/check-kiwi-descriptions.ts DIR
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { validateDescriptionText } from '../src/description/validate.js';

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (name.endsWith('.kiwi') || name === 'config.xml') yield p;
  }
}

const dir = process.argv[2];
if (!dir) {
  console.error('usage: check-kiwi-descriptions DIR');
  process.exit(2);
}
let bad = 0;
let total = 0;
for (const file of walk(dir)) {
  total++;
  const problems = validateDescriptionText(readFileSync(file, 'utf8'));
  if (problems.length > 0) {
    bad++;
    for (const p of problems) console.log(`${file}:${p.line ?? '-'}: ${p.path || '/'}: ${p.message}`);
  }
}
console.log(`${total - bad} passed, ${bad} failed`);
process.exit(bad === 0 ? 0 : 1);
