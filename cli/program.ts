/**
 * The `tessera` program: builds the commander tree from the registry, runs one command line and
 * turns every outcome into an exit code. Errors a user can fix print one `formatError` line;
 * only bugs (anything not a `CliError`) can show a stack, and only with TESSERA_DEBUG=1.
 */
import { Command, CommanderError } from 'commander';
import { formatError, tesseraError } from '../common/errors.ts';
import pkg from '../package.json' with { type: 'json' };
import { type CliContext, COMMANDS, type CommandEntry } from './commands/index.ts';
import { CliError, EXIT_FAILURE, EXIT_USAGE } from './errors.ts';
import type { CliIo } from './io.ts';

/**
 * The registry entry `argv` invokes, if any. The program itself takes no option with a value, so
 * the first word that is not a flag names the command (or `help`, followed by the command).
 */
function invokedEntry(argv: readonly string[]): CommandEntry | undefined {
  const words = argv.filter((a) => !a.startsWith('-'));
  const name = words[0] === 'help' ? words[1] : words[0];
  return COMMANDS.find((c) => c.name === name);
}

/** Builds the program with every command registered and the invoked one (if any) fully configured. */
export async function buildProgram(argv: readonly string[], io: CliIo): Promise<Command> {
  const program = new Command('tessera')
    .description('Tessera: open GPU orchestration (fair-share scheduling, fractions, gangs, preemption)')
    .version(pkg.version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      // Commander's own usage errors ("unknown option") get the same one-line shape as ours.
      outputError: (s, write) => {
        const message = s.replace(/^error:\s*/, '').trim();
        write(`${formatError(tesseraError('TESSERA_E_INVALID_CONFIG', message))}\n`);
      },
    })
    .showHelpAfterError('(add --help for usage)')
    // Throw instead of process.exit, so runCli maps the outcome and tests can run in-process.
    .exitOverride();

  // Subcommands inherit output and exit settings from the program, so set those first.
  const context: CliContext = { io };
  const invoked = invokedEntry(argv);
  for (const entry of COMMANDS) {
    const command = program.command(entry.name).summary(entry.summary).description(entry.summary);
    if (entry === invoked) (await entry.load()).configure(command, context);
  }
  return program;
}

/** Runs one command line (`argv` without node and script) and returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const program = await buildProgram(argv, io);
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander already printed its message (or the help / version asked for).
      return e.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (e instanceof CliError) {
      io.err(`${formatError(e.error)}\n`);
      return e.exitCode;
    }
    const message = e instanceof Error ? e.message : String(e);
    io.err(`${formatError(tesseraError('TESSERA_E_INTERNAL', message))}\n`);
    if (process.env.TESSERA_DEBUG === '1' && e instanceof Error && e.stack) io.err(`${e.stack}\n`);
    return EXIT_FAILURE;
  }
}
