/**
 * How a command fails: a `TesseraError` for the user plus the exit code, thrown from a command and
 * turned into one formatted line on stderr by `runCli` (never a stack trace).
 */
import { type TesseraError, tesseraError } from '../common/errors.ts';

/** Exit code for a user error that is not about how the command was called (unreadable file, bad trace). */
export const EXIT_FAILURE = 1;
/** Exit code for a usage error: a bad flag, value or combination, as `getopt`-style tools do. */
export const EXIT_USAGE = 2;

/** A failure the user caused and can fix; `runCli` prints `formatError(error)` and exits `exitCode`. */
export class CliError extends Error {
  readonly error: TesseraError;
  readonly exitCode: number;

  constructor(error: TesseraError, exitCode: number) {
    super(error.message);
    this.name = 'CliError';
    this.error = error;
    this.exitCode = exitCode;
  }
}

/** A usage error about `flag` (exit 2): say what was wrong and which values it accepts. */
export function usageError(flag: string, message: string): CliError {
  return new CliError(tesseraError('TESSERA_E_INVALID_CONFIG', message, { field: flag }), EXIT_USAGE);
}

/** A non-usage failure (exit 1) carrying an error built elsewhere, e.g. a trace parser's. */
export function failure(error: TesseraError): CliError {
  return new CliError(error, EXIT_FAILURE);
}
