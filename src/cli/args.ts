// Command line parsing with node:util parseArgs; every command shares the
// selection options, and unknown options are usage errors.

import { machine } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';

export const SELECTION_OPTIONS = {
  profile: { type: 'string', multiple: true },
  'target-arch': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export interface Selection {
  description: string;
  profiles: string[];
  arch: string;
  json: boolean;
}

/** The host's architecture as `uname -m` prints it. */
export function hostArch(): string {
  return machine();
}

export function parseCommand<O extends NonNullable<ParseArgsConfig['options']>>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message.replace(/\. To specify a positional argument.*$/s, '')}`);
  }
}

export function selectionFrom(command: string, values: Record<string, unknown>, positionals: string[]): Selection {
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0 ? `${command}: missing DESCRIPTION (a file, or a directory with config.xml or one *.kiwi)` : `${command}: expected one DESCRIPTION, got ${positionals.length}: ${positionals.join(' ')}`,
    );
  }
  const profiles = ((values.profile as string[] | undefined) ?? []).flatMap((p) => p.split(',')).map((p) => p.trim()).filter(Boolean);
  return {
    description: positionals[0]!,
    profiles,
    arch: (values['target-arch'] as string | undefined) ?? hostArch(),
    json: Boolean(values.json),
  };
}
