// Runs the CLI in-process (fast, for most tests) or as a real process.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/cli/main.js';

// Builds in tests use a cache of their own, never the user's ~/.cache/imgdesc.
process.env.XDG_CACHE_HOME ??= mkdtempSync(join(tmpdir(), 'imgdesc-test-cache-'));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await run(args, {
    out: (t) => (stdout += t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => (stderr += t.endsWith('\n') ? t : `${t}\n`),
  });
  return { code, stdout, stderr };
}

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** What package.json installs as the `imgdesc` command (the bundle in dist/, built by npm run build). */
export const SHIPPED_BIN = join(REPO, (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { bin: { imgdesc: string } }).bin.imgdesc);

/**
 * Runs the CLI as a child process: `node --import tsx src/cli/bin.ts ARGS`,
 * or with `shipped`, the built command users get.
 */
export function spawnCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; shipped?: boolean } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      options.shipped ? [SHIPPED_BIN, ...args] : ['--import', 'tsx', `${REPO}src/cli/bin.ts`, ...args],
      { cwd: options.cwd ?? REPO, env: { ...process.env, ...options.env }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
