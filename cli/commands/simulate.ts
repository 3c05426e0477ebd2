/**
 * `tessera simulate`: replays an Alibaba v2023 trace through the placement policies (docs/architecture.md §9).
 *
 * This file is the I/O edge: it reads the CSVs, calls the pure `runFill` / `runTimed`, draws the
 * progress bar and prints. Flags are checked in `simulate-options.ts`.
 */
import { readFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { type Result, tesseraError } from '../../common/errors.ts';
import { type FillResult, POLICY_NAMES, runFill } from '../../sim/fill.ts';
import { fillResultJson, formatFillTable, formatTimedTable, timedResultJson } from '../../sim/report.ts';
import { checkTimedTrace, runTimed, type TimedResult } from '../../sim/timed.ts';
import { readTraceNodes, readTracePods, type TraceNode, type TracePod } from '../../sim/trace.ts';
import { failure } from '../errors.ts';
import type { CliIo } from '../io.ts';
import { createProgress } from '../progress.ts';
import type { CliContext } from './index.ts';
import {
  DEFAULT_POLICY,
  DEFAULT_SEED,
  MODES,
  OUTPUTS,
  parseSimulateOptions,
  type RawSimulateFlags,
  type SimulateOptions,
} from './simulate-options.ts';

const EXAMPLES = `
Examples:
  $ tessera simulate --nodes openb_node_list_gpu_node.csv --pods openb_pod_list_default.csv
  $ tessera simulate --nodes N.csv --pods P.csv --policy all --seeds 42-51
  $ tessera simulate --nodes N.csv --pods P.csv --policy binpack,fragmentation-aware -o json
  $ tessera simulate --nodes N.csv --pods P.csv --mode timed --policy all
  $ tessera simulate --nodes N.csv --pods P.csv --mode timed --policy all --arrival-scale 100

Modes:
  fill   the FGD paper's method: times dropped, pods shuffled by seed and inflated to 130% of GPU
         capacity, nothing leaves; reports GPU allocation and fragmentation against arrived demand.
  timed  replays creation and deletion times (FIFO queue with backfill); reports queueing delay,
         time-averaged GPU allocation and makespan. Needs a trace with times (not multigpu20).
         --arrival-scale K compresses the time between arrivals K-fold (runtimes kept) to raise
         the offered load, which the table reports.
`;

/** Adds `simulate`'s flags, help and action to `command`. */
export function configure(command: Command, { io }: CliContext): void {
  command
    .description('Replay a GPU workload trace (Alibaba v2023 CSV format) through the placement policies.')
    .requiredOption('--nodes <file>', 'node list CSV (sn,cpu_milli,memory_mib,gpu,model)')
    .requiredOption(
      '--pods <file>',
      'pod list CSV (name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec,...])',
    )
    .addOption(new Option('--mode <mode>', 'fill or timed (see below)').choices(MODES).default('fill'))
    .option(
      '--policy <name>',
      `a policy, a comma-separated list, or all: ${POLICY_NAMES.join(', ')}`,
      DEFAULT_POLICY,
    )
    .addOption(
      new Option('--seeds <list>', 'fill-mode seeds, one run each: 42-51, 42,45 or a mix').conflicts('seed'),
    )
    .addOption(
      new Option('--seed <n>', `one seed (default ${DEFAULT_SEED}); timed mode: the random policy's`),
    )
    .option(
      '--arrival-scale <k>',
      'timed mode: divide creation times by K, runtimes unchanged (K > 1 raises the load; default 1)',
    )
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUTS).default('table'))
    .addHelpText('after', EXAMPLES)
    .action(async (_flags: unknown, cmd: Command) => {
      const options = parseSimulateOptions(cmd.opts<RawSimulateFlags>());
      await simulate(options, io);
    });
}

/** Runs the simulation `options` describe and prints its report to `io`. */
export async function simulate(options: SimulateOptions, io: CliIo): Promise<void> {
  const nodes = parsed(readTraceNodes(await readTraceFile(options.nodesFile, '--nodes'), options.nodesFile));
  const pods = parsed(readTracePods(await readTraceFile(options.podsFile, '--pods'), options.podsFile));
  if (options.mode === 'fill') runFillMode(options, nodes, pods, io);
  else runTimedMode(options, nodes, pods, io);
}

/** Fill mode: every policy x seed; JSON lines stream out as each run ends. */
function runFillMode(
  options: Extract<SimulateOptions, { mode: 'fill' }>,
  nodes: TraceNode[],
  pods: TracePod[],
  io: CliIo,
): void {
  const total = options.policies.length * options.seeds.length;
  const progress = createProgress(io, 'simulate fill');
  const results: FillResult[] = [];
  try {
    for (const policy of options.policies) {
      for (const seed of options.seeds) {
        const label = `${policy} seed ${seed} (${results.length + 1}/${total})`;
        const before = results.length;
        const result = runFill({
          nodes,
          pods,
          policy,
          seed,
          onProgress: (done, of) => progress.update((before + done / of) / total, label),
        });
        results.push(result);
        progress.update(results.length / total, label);
        if (options.output === 'json') {
          // Clear the bar first so a terminal shows whole lines; stdout is unaffected when piped.
          progress.done();
          io.out(`${fillResultJson(result)}\n`);
        }
      }
    }
  } finally {
    progress.done();
  }
  if (options.output === 'table') io.out(formatFillTable(results));
}

/** Timed mode: one replay per policy. */
function runTimedMode(
  options: Extract<SimulateOptions, { mode: 'timed' }>,
  nodes: TraceNode[],
  pods: TracePod[],
  io: CliIo,
): void {
  parsed(checkTimedTrace(pods, options.podsFile));
  const progress = createProgress(io, 'simulate timed');
  const results: TimedResult[] = [];
  try {
    for (const policy of options.policies) {
      progress.update(results.length / options.policies.length, policy);
      const result = runTimed({
        nodes,
        pods,
        policy,
        seed: options.seed,
        arrivalScale: options.arrivalScale,
      });
      results.push(result);
      if (options.output === 'json') {
        progress.done();
        io.out(`${timedResultJson(result)}\n`);
      }
    }
  } finally {
    progress.done();
  }
  if (options.output === 'table') io.out(formatTimedTable(results));
}

/** The value of a parser's result, or a failure (exit 1) carrying its error. */
function parsed<T>(result: Result<T>): T {
  if (!result.ok) throw failure(result.error);
  return result.value;
}

/** Reads a trace file, turning a missing or unreadable path into an error that names the flag. */
async function readTraceFile(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = e instanceof Error && 'code' in e ? String(e.code) : '';
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a directory, not a CSV file'
          : code === 'EACCES'
            ? 'permission denied'
            : e instanceof Error
              ? e.message
              : String(e);
    // A path that does not exist is not a syntax error of the command line: exit 1, not 2.
    throw failure(
      tesseraError('TESSERA_E_INVALID_CONFIG', `${flag} '${path}' cannot be read: ${why}`, { field: flag }),
    );
  }
}
