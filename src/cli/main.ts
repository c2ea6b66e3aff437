// imgdesc's command dispatcher: runs a command and maps errors to exit codes.

import { DescriptionInvalidError, ImgdescError, UsageError } from '../errors.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { processIo, type Io } from './io.js';
import { problemLine } from '../report/report.js';
import { version } from './version.js';

export const HELP = `imgdesc — compile KIWI-style appliance image descriptions

usage: imgdesc <command> [options]

commands:
  validate DESCRIPTION   check a description and report every problem
  plan DESCRIPTION       show the containers a build would fetch, and where they go
  build DESCRIPTION      fetch them into oci-archives in an image root (see imgdesc build --help)
  lock DESCRIPTION       pin every container to its digests in <description>.lock.json
  compile DESCRIPTION OUTDIR
                         write a KIWI description directory without <containers>: the
                         images and units as one <archive> (see imgdesc compile --help)
  pull REF OUTPUT        write the disk image of a podman machine image, an ORAS
                         artifact or a disk container to OUTPUT (see imgdesc pull --help)
  push FILE REF          publish a disk image for podman machine and imgdesc pull
                         (see imgdesc push --help)

common options:
  --profile NAME         select a profile (repeatable; default: import="true" profiles)
  --target-arch ARCH     target architecture as \`uname -m\` names it (default: this host)
  --json                 machine-readable output on stdout
  -h, --help             help for imgdesc or a command
  --version              print the version

exit codes: 0 ok, 1 internal error, 2 usage error, 3 invalid description,
            4 source/registry failure, 5 output/filesystem failure,
            130 interrupted (SIGINT), 143 terminated (SIGTERM)`;

type Command = (argv: string[], io: Io) => Promise<number>;
// Loaded on use: validate and plan never pay for the registry client.
const COMMANDS: Record<string, () => Promise<Command>> = {
  validate: async () => (await import('./commands/validate.js')).validateCommand,
  plan: async () => (await import('./commands/plan.js')).planCommand,
  build: async () => (await import('./commands/build.js')).buildCommand,
  lock: async () => (await import('./commands/lock.js')).lockCommand,
  compile: async () => (await import('./commands/compile.js')).compileCommand,
  pull: async () => (await import('./commands/pull.js')).pullCommand,
  push: async () => (await import('./commands/push.js')).pushCommand,
};


export async function run(argv: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  const json = rest.includes('--json');
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      io.out(HELP);
      return name === undefined ? EXIT.USAGE : EXIT.OK;
    }
    if (name === '--version') {
      io.out(version());
      return EXIT.OK;
    }
    const command = COMMANDS[name];
    if (!command) throw new UsageError(`unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(', ')} (see imgdesc --help)`);
    return await (await command())(rest, io);
  } catch (err) {
    const code = exitCodeFor(err);
    if (err instanceof DescriptionInvalidError) {
      if (json) io.out(JSON.stringify({ error: { code: err.code, message: err.message, file: err.file, problems: err.problems } }, null, 2));
      for (const p of err.problems) io.err(problemLine(err.file, p));
    } else if (err instanceof ImgdescError) {
      if (json) io.out(JSON.stringify({ error: { code: err.code, message: err.message } }, null, 2));
      io.err(`imgdesc: ${err.message}`);
      if (err instanceof UsageError) io.err('(see imgdesc --help)');
    } else {
      if (json) io.out(JSON.stringify({ error: { code: 'IMGDESC_INTERNAL', message: String((err as Error)?.message ?? err) } }, null, 2));
      io.err(`imgdesc: internal error: ${(err as Error)?.stack ?? String(err)}`);
    }
    return code;
  }
}
