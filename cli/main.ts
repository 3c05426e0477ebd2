/** Entry point of the `tessera` command (loaded by bin/tessera.js): run argv, exit with its code. */
import { processIo } from './io.ts';
import { runCli } from './program.ts';

// exitCode rather than process.exit(): pending stdout writes to a pipe are flushed first.
process.exitCode = await runCli(process.argv.slice(2), processIo());
