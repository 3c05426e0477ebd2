/** Running the whole CLI in-process for tests: `runCli` with output captured, flags put before any `--`. */
import { bufferIo } from '../cli/io.ts';
import { runCli } from '../cli/program.ts';

/** One CLI run's outcome. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `tessera ARGS` with `flags` added before any `--` (after it they would belong to the pod's
 * command), reading `stdin` as its standard input.
 */
export async function runTessera(
  args: readonly string[],
  flags: readonly string[] = [],
  stdin = '',
): Promise<CliRun> {
  const io = bufferIo(stdin);
  const dash = args.indexOf('--');
  const argv = dash === -1 ? [...args, ...flags] : [...args.slice(0, dash), ...flags, ...args.slice(dash)];
  const code = await runCli(argv, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}
