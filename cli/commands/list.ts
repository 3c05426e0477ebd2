/**
 * `tessera list`: the workloads the allocator knows, filtered by project, type and phase (the API
 * does the filtering, so the CLI and a script calling the API see the same set).
 */
import { type Command, Option } from 'commander';
import { withDefaults } from '../../common/options.ts';
import { WORKLOAD_TYPES, type WorkloadType } from '../../common/workload.ts';
import type { ClientFlags } from '../client/config.ts';
import { addClientOptions, connect } from '../client/connect.ts';
import type { ApiClient } from '../client/http.ts';
import { formatAge, formatData, formatTable, OUTPUT_FORMATS } from '../client/output.ts';
import { gpusCell, podsCell, type WorkloadView } from '../client/views.ts';
import type { CliIo } from '../io.ts';
import type { CliContext } from './index.ts';

const EXAMPLES = `
Examples:
  $ tessera list
  $ tessera list -p vision --phase Pending,Running
  $ tessera list --type inference -o json | jq '.[].name'
  $ tessera list --watch -o wide
  $ tessera list -A                          # every project you may read (runai's spelling)

PODS is pods running / replicas wanted; GPUS is the request per pod (times the replicas).
Phases: Creating, Pending, Initializing, Running, Degraded, Stopped, Deleting, Failed, Completed.
`;

/** `-o` of list: the usual formats plus `wide` (adds NODES and the pods' GPU uuids). */
export type ListFormat = (typeof OUTPUT_FORMATS)[number] | 'wide';

interface RawListFlags {
  project?: string;
  type?: WorkloadType;
  phase?: string;
  output: ListFormat;
  watch?: boolean;
}

/** How often `--watch` re-renders. */
export const WATCH_INTERVAL_MS = 2000;

/** The listing as a table: NAME PROJECT TYPE PHASE PODS RESTARTS GPUS AGE; wide adds NODES and the GPU uuids the pods hold. */
export function workloadTable(workloads: readonly WorkloadView[], nowMs: number, wide = false): string {
  if (workloads.length === 0) return 'no workloads\n';
  const uniq = (xs: string[]): string => [...new Set(xs)].join(',') || '-';
  return formatTable({
    header: [
      'NAME',
      'PROJECT',
      'TYPE',
      'PHASE',
      'PODS',
      'RESTARTS',
      'GPUS',
      ...(wide ? ['NODES', 'GPU UUIDS'] : []),
      'AGE',
    ],
    rows: workloads.map((w) => [
      w.name,
      w.project,
      w.type,
      w.phase,
      podsCell(w),
      String(w.restarts),
      gpusCell(w),
      ...(wide
        ? [
            uniq(w.pods.flatMap((p) => (p.node === null ? [] : [p.node]))),
            uniq(w.pods.flatMap((p) => p.gpus.map((g) => g.uuid))),
          ]
        : []),
      formatAge(w.createdAt, nowMs),
    ]),
  });
}

/** The listing in `format`. */
export function renderList(workloads: readonly WorkloadView[], format: ListFormat, nowMs: number): string {
  if (format === 'json' || format === 'yaml') return formatData(format, workloads);
  return workloadTable(workloads, nowMs, format === 'wide');
}

/**
 * Prints the listing at `path`, then again every `intervalMs` until `signal` aborts (Ctrl-C in the
 * CLI, a test's controller). Each render is headed by its time, so a log of the output reads as one.
 */
export async function watchList(
  client: Pick<ApiClient, 'list'>,
  path: string,
  io: CliIo,
  format: ListFormat,
  options: { signal: AbortSignal /** Default WATCH_INTERVAL_MS. */; intervalMs?: number; now?: () => number },
): Promise<number> {
  const opts = withDefaults(options, { intervalMs: WATCH_INTERVAL_MS, now: Date.now });
  const { now } = opts;
  let renders = 0;
  while (!opts.signal.aborted) {
    const workloads = await client.list<WorkloadView>(path);
    if (opts.signal.aborted) break;
    io.out(
      `${renders === 0 ? '' : '\n'}Every ${opts.intervalMs / 1000}s: ${new Date(now()).toISOString()}\n`,
    );
    io.out(renderList(workloads, format, now()));
    renders += 1;
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, opts.intervalMs);
      function done(): void {
        clearTimeout(t);
        opts.signal.removeEventListener('abort', done);
        resolve();
      }
      opts.signal.addEventListener('abort', done, { once: true });
    });
  }
  return renders;
}

/**
 * Adds `list`'s flags, help and action to `command`; under a workload type's verbs
 * (`tessera training list`) it lists only that type and has no --type.
 */
export function configure(command: Command, { io, workloadType }: CliContext): void {
  command
    .description(
      workloadType === undefined
        ? 'List workloads: name, project, type, phase, pods running, GPUs and age.'
        : `List ${workloadType} workloads: name, project, phase, pods running, GPUs and age.`,
    )
    .addOption(new Option('-p, --project <project>', 'only this project').conflicts('allProjects'))
    .option('-A, --all-projects', 'every project you may read (the default without -p)');
  if (workloadType === undefined)
    command.addOption(new Option('--type <type>', 'only this workload type').choices(WORKLOAD_TYPES));
  addClientOptions(
    command
      .option('--phase <phases>', 'only these phases, comma-separated, e.g. Pending,Running')
      .addOption(
        new Option('-o, --output <format>', 'output format (wide adds NODES and GPU UUIDS)')
          .choices([...OUTPUT_FORMATS, 'wide'])
          .default('table'),
      )
      .option('-w, --watch', `re-list every ${WATCH_INTERVAL_MS / 1000}s until Ctrl-C`)
      .addHelpText('after', EXAMPLES),
  ).action(async (_flags: unknown, cmd: Command) => {
    const flags = cmd.opts<RawListFlags>();
    const query = new URLSearchParams();
    if (flags.project !== undefined) query.set('project', flags.project);
    const type = workloadType ?? flags.type;
    if (type !== undefined) query.set('type', type);
    // The allocator checks the phase names and says which exist, so they pass through as typed.
    if (flags.phase !== undefined) query.set('phase', flags.phase);
    const client = await connect(cmd.opts<ClientFlags>());
    const qs = query.size === 0 ? '' : `?${query}`;
    if (flags.watch === true) {
      const stop = new AbortController();
      const onInt = (): void => stop.abort();
      process.once('SIGINT', onInt);
      try {
        await watchList(client, `/workloads${qs}`, io, flags.output, { signal: stop.signal });
      } finally {
        process.off('SIGINT', onInt);
      }
      return;
    }
    const workloads = await client.list<WorkloadView>(`/workloads${qs}`);
    io.out(renderList(workloads, flags.output, Date.now()));
  });
}
