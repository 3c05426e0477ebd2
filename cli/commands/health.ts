/**
 * `tessera health`: the node's GPUs probed directly through the driver, and the agent's view (its
 * pods, their limits, the swap pool), with or without the agent running. Exit 0 healthy or degraded,
 * 1 unhealthy, 2 usage. The rules are in `agent/health.ts`.
 */
import { type Command, Option } from 'commander';
import { type AgentView, type HealthReport, healthExitCode, probeHealth } from '../../agent/health.ts';
import { defaultDataDir, type GpuKind, openDriver } from '../../agent/main.ts';
import { readStateFile } from '../../agent/state-file.ts';
import { type TesseraError, tesseraError } from '../../common/errors.ts';
import { formatMemoryMiB } from '../../common/resources.ts';
import { renderTable } from '../../sim/report.ts';
import { failure, usageError } from '../errors.ts';
import type { CliContext } from './index.ts';

const EXAMPLES = `
Examples:
  $ tessera health
  $ tessera health -o json | jq .level
  $ tessera health --gpu sim --data /tmp/agent

Without --gpu it uses the backend of the agent whose state file is in --data, else nvidia.
GPU rules: uncorrectable ECC errors since the driver loaded, temperature at or above the slowdown
threshold (90 C where unknown), or a hardware thermal / power-brake throttle: unhealthy; thermal
software slowdown, generic hardware slowdown, or ECC errors only in the lifetime count: degraded.
The agent not running: degraded. Exit 1 only when unhealthy.
`;

interface RawHealthFlags {
  data?: string;
  gpu?: GpuKind;
  simState?: string;
  output: 'table' | 'json';
}

/** Adds `health`'s flags, help and action to `command`. */
export function configure(command: Command, { io }: CliContext): void {
  command
    .description(
      "Check this node's GPUs (ECC, temperature, throttling) and its agent; exit 1 when unhealthy.",
    )
    .option('--data <dir>', `agent data dir (default ${defaultDataDir()})`)
    .addOption(
      new Option('--gpu <backend>', "GPU backend (default: the agent's, else nvidia)").choices([
        'nvidia',
        'sim',
      ]),
    )
    .option('--sim-state <dir>', "sim state dir (default: the agent's, else DATA/sim)")
    .addOption(
      new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'),
    )
    .addHelpText('after', EXAMPLES)
    .action(async (_flags: unknown, cmd: Command) => {
      const f = cmd.opts<RawHealthFlags>();
      const dataDir = f.data ?? defaultDataDir();
      if (f.gpu === 'nvidia' && f.simState !== undefined) {
        throw usageError('--sim-state', '--sim-state needs --gpu sim');
      }
      // The agent knows which backend it runs on; a health check on the same node should probe the same.
      const state = await readStateFile(dataDir);
      const recorded = state.ok ? state.value?.gpu : undefined;
      const kind: GpuKind = f.gpu ?? (f.simState !== undefined ? 'sim' : (recorded?.kind ?? 'nvidia'));
      const opened = await openDriver({
        kind,
        simStateDir: f.simState ?? recorded?.simStateDir ?? null,
        createSim: false,
        dataDir,
      });
      if (!opened.ok) throw failure(opened.error);
      const report = await probeHealth({ driver: opened.value.driver, dataDir });
      io.out(f.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatHealth(report));
      // Exit 1 goes through a CliError, whose one line on stderr sums up why (stdout keeps the report).
      if (healthExitCode(report) !== 0) throw failure(unhealthyError(report));
    });
}

/** The report as text for a terminal. */
export function formatHealth(r: HealthReport): string {
  const lines: string[] = [];
  if (r.driver.ok) {
    lines.push(`driver: ${r.driver.kind} ${r.driver.driverVersion}, CUDA ${r.driver.cudaVersion ?? 'n/a'}`);
  } else {
    lines.push(`driver: ${r.driver.kind} FAILED: ${r.driver.error}`);
  }
  if (r.gpus.length > 0) {
    const rows = r.gpus.map((g) => [
      String(g.index),
      g.model,
      g.level,
      g.temperatureC === null ? 'n/a' : `${g.temperatureC} C`,
      `${g.memoryUsedMiB ?? '?'} / ${g.memoryTotalMiB} MiB`,
      String(g.eccUncorrectedVolatile ?? 'n/a'),
      g.throttleReasons.join(',') || '-',
      g.reasons.join('; ') || '-',
    ]);
    lines.push(renderTable(['GPU', 'MODEL', 'HEALTH', 'TEMP', 'MEMORY', 'ECC', 'THROTTLE', 'WHY'], rows, 8));
  }
  const a = r.agent;
  const view = a.view;
  lines.push(`agent: ${a.message}${view === null ? '' : `; allocator: ${allocatorLine(view.allocator)}`}`);
  if (view !== null) {
    const stale = a.running ? '' : ' (last known)';
    const swap = view.swap;
    lines.push(
      `swap pool${stale}: ${swap.enabled ? `${formatMemoryMiB(swap.usedMiB)} of ${formatMemoryMiB(swap.capacityMiB)} used` : 'off'}`,
    );
    if (view.pods.length === 0) lines.push(`pods${stale}: none`);
    else {
      const rows = view.pods.flatMap((p) =>
        (p.grants.length === 0 ? [null] : p.grants).map((g) => [
          p.podId,
          p.state,
          String(p.pid ?? '-'),
          g === null ? '-' : g.uuid,
          g === null ? '-' : `${g.memoryMiB} MiB`,
          g === null ? '-' : `${g.memoryLimitMiB} MiB`,
          g === null ? '-' : `${p.gpuMemoryUsedMiB[g.uuid] ?? 0} MiB`,
        ]),
      );
      lines.push(`pods${stale}:`);
      lines.push(renderTable(['POD', 'STATE', 'PID', 'GPU', 'REQUEST', 'LIMIT', 'USED'], rows, 4));
    }
  }
  lines.push(`health: ${r.level}`);
  return `${lines.join('\n')}\n`;
}

/** Why the node is unhealthy, in one line. */
function unhealthyError(r: HealthReport): TesseraError {
  const why = !r.driver.ok
    ? r.driver.error
    : r.gpus.length === 0
      ? 'no GPU found'
      : r.gpus
          .filter((g) => g.level === 'unhealthy')
          .map((g) => `GPU ${g.index} (${g.uuid}): ${g.reasons.join('; ')}`)
          .join(' | ');
  return tesseraError('TESSERA_E_GPU_DRIVER', `node unhealthy: ${why}`);
}

/** `not connected`, or the link's state and where it goes: `welcomed (ws://..., node n-1)`. */
function allocatorLine(a: AgentView['allocator']): string {
  if (a === 'not connected') return a;
  return `${a.state} (${a.url}${a.nodeId === null ? '' : `, node ${a.nodeId}`})`;
}
