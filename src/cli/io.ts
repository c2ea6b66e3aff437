// Where commands print. The CLI passes the process streams; tests can capture.
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** stderr when it is a terminal, for live progress; absent otherwise. */
  errTty?: NodeJS.WriteStream;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  errTty: process.stderr.isTTY ? process.stderr : undefined,
};
