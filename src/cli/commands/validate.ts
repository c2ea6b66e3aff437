import { checkDescription } from '../../description/load.js';
import { makePlan } from '../../plan/plan.js';
import { parseCommand, SELECTION_OPTIONS, selectionFrom } from '../args.js';
import { EXIT } from '../exit-codes.js';
import { problemLine } from '../../report/report.js';
import type { Io } from '../io.js';

export const VALIDATE_HELP = `usage: imgdesc validate DESCRIPTION [--profile NAME]... [--target-arch ARCH] [--json]

Checks a description: well-formed XML, the KIWI schema (7.4 to 8.5), and
imgdesc's rules for <containers>; then that the profile and architecture
selection resolves. Prints every problem found, one per line:
  FILE:LINE: ELEMENT-PATH: MESSAGE
Exit 0 when valid, 3 when not, 2 for a selection the description cannot satisfy.`;

export async function validateCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommand('validate', argv, SELECTION_OPTIONS);
  if (values.help) {
    io.out(VALIDATE_HELP);
    return EXIT.OK;
  }
  const sel = selectionFrom('validate', values, positionals);
  const result = await checkDescription(sel.description);
  if (result.description) makePlan(result.description, { profiles: sel.profiles, arch: sel.arch });
  const valid = result.problems.length === 0;
  if (sel.json) {
    io.out(JSON.stringify({ valid, errors: result.problems.map((p) => ({ message: p.message, path: p.path, line: p.line })) }, null, 2));
  } else if (valid) {
    const d = result.description!;
    const count = d.containers.reduce((n, s) => n + s.containers.length, 0);
    io.out(`${result.file}: valid (schema ${d.schemaVersion}, ${d.profiles.length} profile${d.profiles.length === 1 ? '' : 's'}, ${count} container${count === 1 ? '' : 's'})`);
  } else {
    for (const p of result.problems) io.err(problemLine(result.file, p));
    io.err(`${result.file}: ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}`);
  }
  return valid ? EXIT.OK : EXIT.INVALID_DESCRIPTION;
}
