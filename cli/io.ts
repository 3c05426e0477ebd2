/**
 * The CLI's view of the terminal: where output and errors go, and whether stderr is a terminal.
 *
 * Commands write through this instead of `process.stdout`, so tests run the whole CLI in-process
 * and read what it printed.
 */

/** Output sinks of one CLI run. */
export interface CliIo {
  /** Writes to stdout as-is (callers add the newline). */
  out(text: string): void;
  /** Writes to stderr as-is (callers add the newline). */
  err(text: string): void;
  /** True when stderr is a terminal: only then do progress bars draw. */
  errIsTty: boolean;
  /** All of stdin, read to its end (a password piped to `--password-stdin`). */
  readStdin(): Promise<string>;
}

let pipeGuarded = false;

/** The process's real stdout and stderr. */
export function processIo(): CliIo {
  if (!pipeGuarded) {
    pipeGuarded = true;
    // `tessera list | head` closes the pipe early: the reader wants no more, so stop quietly (as cat
    // does on SIGPIPE) instead of dying on an unhandled EPIPE with a stack trace.
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
  }
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    errIsTty: process.stderr.isTTY === true,
    async readStdin() {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}

/** An in-memory sink for tests and embedding: everything written is kept in `stdout` / `stderr`; `stdin` is what reading stdin gives. */
export function bufferIo(stdin = ''): CliIo & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    errIsTty: false,
    readStdin: async () => stdin,
    out(text: string) {
      io.stdout += text;
    },
    err(text: string) {
      io.stderr += text;
    },
  };
  return io;
}
