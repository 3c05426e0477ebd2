/**
 * Node health for `tessera health` (docs/architecture.md §4): the GPUs probed directly through
 * the driver, so it works when the agent is down, plus the agent's own view (its pods, their limits,
 * the swap pool) from its local `/status`, or from its state file when it does not answer.
 *
 * Per-GPU rules (`assessGpu`, pure), the worst one wins:
 * - uncorrectable ECC errors since the driver loaded (volatile) > 0: unhealthy, the GPU's memory
 *   returned wrong data and jobs on it may be computing garbage. Lifetime (aggregate) errors with
 *   none since the last reload: degraded, as the driver has since retired or remapped the bad rows.
 * - temperature at or above the driver's slowdown threshold: unhealthy. Drivers that report only a
 *   margin to T.Limit (535+ on Hopper and later): margin <= 0 is unhealthy. Neither known: >= 90 C.
 * - throttle reasons: `hw_thermal_slowdown` and `hw_power_brake_slowdown` are unhealthy (hardware
 *   brakes: clocks collapse, often to a fraction); `sw_thermal_slowdown` and `hw_slowdown` are
 *   degraded (the GPU slows itself to stay in limits). `sw_power_cap`, `sync_boost` and clock
 *   settings are normal operation under load and leave a GPU healthy.
 * Overall: the worst GPU; the driver failing or no GPU found is unhealthy; the agent not running is
 * degraded (the GPUs may be fine, and `tessera health` is also a pre-flight check before the agent
 * starts). Exit code 1 only for unhealthy.
 */
import { z } from 'zod';
import { type DefaultsOf, type WithDefaults, withDefaults } from '../common/options.ts';
import type { GpuDriver, GpuInfo } from './gpu/index.ts';
import { readStateFile, stateFilePath } from './state-file.ts';

/** Health of a GPU, the agent or the node, best first. */
export type HealthLevel = 'healthy' | 'degraded' | 'unhealthy';

const RANK: Readonly<Record<HealthLevel, number>> = { healthy: 0, degraded: 1, unhealthy: 2 };

/** The worse of health levels. */
export function worst(...levels: HealthLevel[]): HealthLevel {
  return levels.reduce<HealthLevel>((a, b) => (RANK[b] > RANK[a] ? b : a), 'healthy');
}

/** Where no threshold is reported: NVIDIA data-centre GPUs slow down from about 87-92 C. */
export const DEFAULT_HOT_C = 90;
/** Throttle reasons that mean a hardware brake is on. */
export const UNHEALTHY_THROTTLE: readonly string[] = ['hw_thermal_slowdown', 'hw_power_brake_slowdown'];
/** Throttle reasons that mean the GPU is slowing itself to stay within limits. */
export const DEGRADED_THROTTLE: readonly string[] = ['sw_thermal_slowdown', 'hw_slowdown'];

/** One GPU's health and the facts it rests on. */
export interface GpuHealth {
  index: number;
  uuid: string;
  model: string;
  level: HealthLevel;
  /** Why it is not healthy; empty when it is. */
  reasons: string[];
  temperatureC: number | null;
  eccUncorrectedVolatile: number | null;
  eccUncorrectedAggregate: number | null;
  throttleReasons: string[];
  memoryUsedMiB: number | null;
  memoryTotalMiB: number;
}

/** Applies the rules of the file comment to one GPU. */
export function assessGpu(gpu: GpuInfo): GpuHealth {
  const found: { level: HealthLevel; why: string }[] = [];
  const volatile = gpu.eccUncorrectedVolatile ?? 0;
  const aggregate = gpu.eccUncorrectedAggregate ?? 0;
  if (volatile > 0) {
    found.push({ level: 'unhealthy', why: `${volatile} uncorrectable ECC error(s) since the driver loaded` });
  } else if (aggregate > 0) {
    found.push({
      level: 'degraded',
      why: `${aggregate} uncorrectable ECC error(s) over the GPU's life, none since the driver loaded`,
    });
  }
  const t = gpu.temperatureC;
  if (t !== null) {
    const margin = gpu.temperatureTlimitMarginC ?? null;
    if (gpu.temperatureSlowdownC !== null) {
      if (t >= gpu.temperatureSlowdownC)
        found.push({
          level: 'unhealthy',
          why: `${t} C, at or above its slowdown threshold of ${gpu.temperatureSlowdownC} C`,
        });
    } else if (margin !== null) {
      if (margin <= 0) found.push({ level: 'unhealthy', why: `${t} C, ${-margin} C beyond its T.Limit` });
    } else if (t >= DEFAULT_HOT_C) {
      found.push({
        level: 'unhealthy',
        why: `${t} C, at or above ${DEFAULT_HOT_C} C (the driver reports no threshold)`,
      });
    }
  }
  for (const r of gpu.throttleReasons) {
    if (UNHEALTHY_THROTTLE.includes(r)) found.push({ level: 'unhealthy', why: `throttled: ${r}` });
    else if (DEGRADED_THROTTLE.includes(r)) found.push({ level: 'degraded', why: `throttled: ${r}` });
  }
  return {
    index: gpu.index,
    uuid: gpu.uuid,
    model: gpu.model,
    level: worst(...found.map((f) => f.level)),
    reasons: found.map((f) => f.why),
    temperatureC: t,
    eccUncorrectedVolatile: gpu.eccUncorrectedVolatile,
    eccUncorrectedAggregate: gpu.eccUncorrectedAggregate,
    throttleReasons: gpu.throttleReasons,
    memoryUsedMiB: gpu.memoryUsedMiB,
    memoryTotalMiB: gpu.memoryTotalMiB,
  };
}

// The part of the agent's status health reads, validated once whether it came over HTTP or from the
// state file (an older or newer agent may have written it).
const GrantSchema = z.object({
  uuid: z.string(),
  gpuMilli: z.number(),
  memoryMiB: z.number(),
  memoryLimitMiB: z.number(),
});
const StatusSchema = z.object({
  agent: z.object({ pid: z.number(), startedAtMs: z.number(), lastSampleAtMs: z.number().nullable() }),
  pods: z.array(
    z.object({
      podId: z.string(),
      state: z.string(),
      pid: z.number().nullable(),
      adopted: z.boolean(),
      reason: z.string().nullable(),
      grants: z.array(GrantSchema),
      gpuMemoryUsedMiB: z.record(z.string(), z.number()),
    }),
  ),
  swap: z.object({ enabled: z.boolean(), capacityMiB: z.number(), usedMiB: z.number() }),
  allocator: z.union([
    z.literal('not connected'),
    z.object({
      state: z.string(),
      url: z.string(),
      nodeId: z.string().nullable(),
      connects: z.number(),
    }),
  ]),
});

/** The agent's view as health reports it. */
export type AgentView = z.infer<typeof StatusSchema>;

/** The agent's part of the report. */
export interface AgentHealth {
  running: boolean;
  /** Where `view` came from: the live agent, its (possibly stale) state file, or nowhere. */
  source: 'http' | 'state-file' | 'none';
  /** One line: `running (pid 12, http://127.0.0.1:4321)` or `not running (state file ... is 12s old)`. */
  message: string;
  stateFile: string;
  stateFileAgeMs: number | null;
  pid: number | null;
  port: number | null;
  view: AgentView | null;
}

/** The whole report; `-o json` prints it as is. */
export interface HealthReport {
  level: HealthLevel;
  checkedAtMs: number;
  driver:
    | { kind: 'nvidia' | 'sim'; ok: true; driverVersion: string; cudaVersion: string | null }
    | { kind: 'nvidia' | 'sim'; ok: false; error: string };
  gpus: GpuHealth[];
  agent: AgentHealth;
}

/** Options of `probeHealth`. */
export interface ProbeOptions {
  driver: GpuDriver;
  dataDir: string;
  /** How long the agent's `/status` may take; default 2000 ms. */
  httpTimeoutMs?: number;
  /** Epoch ms, for the report's time and the state file's age; default `Date.now`. */
  now?: () => number;
}

/** The defaults of `ProbeOptions`, as its fields document them. */
const PROBE_DEFAULTS = { httpTimeoutMs: 2000, now: Date.now } as const satisfies DefaultsOf<ProbeOptions>;

type ResolvedProbeOptions = WithDefaults<ProbeOptions, typeof PROBE_DEFAULTS>;

/** Probes the GPUs through `driver` and asks the agent of `dataDir` for its view. */
export async function probeHealth(given: ProbeOptions): Promise<HealthReport> {
  const opts = withDefaults(given, PROBE_DEFAULTS);
  const { now } = opts;
  const [inventory, agent] = await Promise.all([opts.driver.discover(), probeAgent(opts)]);
  const kind = opts.driver.kind;
  if (!inventory.ok) {
    return {
      level: 'unhealthy',
      checkedAtMs: now(),
      driver: { kind, ok: false, error: inventory.error.message },
      gpus: [],
      agent,
    };
  }
  const gpus = inventory.value.gpus.map(assessGpu);
  const gpuLevel = gpus.length === 0 ? 'unhealthy' : worst(...gpus.map((g) => g.level));
  return {
    level: worst(gpuLevel, agent.running ? 'healthy' : 'degraded'),
    checkedAtMs: now(),
    driver: {
      kind,
      ok: true,
      driverVersion: inventory.value.driverVersion,
      cudaVersion: inventory.value.cudaVersion,
    },
    gpus,
    agent,
  };
}

/** Exit code of `tessera health`: 1 when unhealthy, else 0. */
export function healthExitCode(report: HealthReport): 0 | 1 {
  return report.level === 'unhealthy' ? 1 : 0;
}

async function probeAgent(opts: ResolvedProbeOptions): Promise<AgentHealth> {
  const { now } = opts;
  const stateFile = stateFilePath(opts.dataDir);
  const base = { stateFile, stateFileAgeMs: null, pid: null, port: null, view: null };
  const read = await readStateFile(opts.dataDir);
  if (!read.ok) {
    return { ...base, running: false, source: 'none', message: `not running? ${read.error.message}` };
  }
  const state = read.value;
  if (state === null) {
    return {
      ...base,
      running: false,
      source: 'none',
      message: `not running (state file ${stateFile} missing)`,
    };
  }
  const ageMs = Math.max(0, now() - state.writtenAtMs);
  const known = { stateFile, stateFileAgeMs: ageMs, pid: state.pid, port: state.port };
  if (state.port !== null && state.stoppedAtMs === null) {
    const live = await fetchStatus(state.port, opts.httpTimeoutMs);
    // The port may have been reused by another process since the agent died: the pid must match.
    if (live !== null && live.agent.pid === state.pid) {
      return {
        ...known,
        running: true,
        source: 'http',
        message: `running (pid ${state.pid}, http://127.0.0.1:${state.port})`,
        view: live,
      };
    }
  }
  const parsed = StatusSchema.safeParse(state.status);
  const clean = state.stoppedAtMs === null ? '' : '; it stopped cleanly';
  return {
    ...known,
    running: false,
    source: parsed.success ? 'state-file' : 'none',
    message: `not running (state file ${stateFile} is ${Math.round(ageMs / 1000)}s old${clean})`,
    view: parsed.success ? parsed.data : null,
  };
}

async function fetchStatus(port: number, timeoutMs: number): Promise<AgentView | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/status`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return null;
    const parsed = StatusSchema.safeParse(await res.json());
    return parsed.success ? parsed.data : null;
  } catch {
    // Refused, timed out or not JSON: all mean "the agent does not answer", which the report says.
    return null;
  }
}
