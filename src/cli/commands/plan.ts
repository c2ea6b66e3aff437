import { loadDescription } from '../../description/load.js';
import { makePlan } from '../../plan/plan.js';
import { parseCommand, SELECTION_OPTIONS, selectionFrom } from '../args.js';
import { EXIT } from '../exit-codes.js';
import type { Io } from '../io.js';
import { planJson, planText } from '../../report/report.js';

export const PLAN_HELP = `usage: imgdesc plan DESCRIPTION [--profile NAME]... [--target-arch ARCH] [--json]

Shows what a build would fetch and where it would go, without touching the
network or the disk: each selected container's full reference, archive path in
the image root, backend, whether it is loaded at first boot, and platform.`;

export async function planCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommand('plan', argv, SELECTION_OPTIONS);
  if (values.help) {
    io.out(PLAN_HELP);
    return EXIT.OK;
  }
  const sel = selectionFrom('plan', values, positionals);
  const description = await loadDescription(sel.description);
  const plan = makePlan(description, { profiles: sel.profiles, arch: sel.arch });
  io.out(sel.json ? JSON.stringify(planJson(plan), null, 2) : planText(plan));
  return EXIT.OK;
}
