/**
 * The agent's options (`createAgent`): each documented with its default where it is declared, and
 * `resolveAgentOptions`, which fills them in once where the agent starts.
 */
import { createLogger, type Logger } from '../common/log.ts';
import { type DefaultsOf, type WithDefaults, withDefaults } from '../common/options.ts';
import type { AgentEvent } from './api.ts';
import type { SliceMode } from './enforce/index.ts';
import type { GpuDriver, HostFacts } from './gpu/index.ts';
import type { LinkOptions } from './link/index.ts';
import type { PodRuntime } from './runtime/types.ts';

/** Options of `createAgent`; durations in ms, sizes in MiB, defaults per field. */
export interface AgentOptions {
  /** Made mode 0700: logs, checkpoint and credentials are no pod's business. */
  dataDir: string;
  driver: GpuDriver;
  /** What runs the pods (agent/runtime/): the process runtime or the container one; main.ts picks it. */
  runtime: PodRuntime;
  /** Default 1000. */
  sampleIntervalMs?: number;
  /** Host RAM for GPU swap; default 0 = swap off (reclaim then kills borrowers). */
  swapPoolMiB?: number;
  /** Default null: no time-slicing (tenants share compute as the GPU schedules them). */
  timeSlicing?: { mode: SliceMode; cycleMs: number } | null;
  /** Local HTTP port on 127.0.0.1; default 0 = any free one (written to the state file); null = none. */
  port?: number | null;
  /** A second listener serving only `/metrics` and `/healthz`, for a scraper on the network; default none. */
  metricsAddress?: { host: string; port: number } | null;
  /** The sim backend's state directory: pods get `TESSERA_SIM_STATE` (runner node env), so sim workloads find their GPUs; default null (real GPUs). */
  simStateDir?: string | null;
  /** A tenant idle this long may be swapped out to make room for one swapped in; default 60000. */
  idleWindowMs?: number;
  /** Events kept for `events()`; default 1000. */
  eventCapacity?: number;
  /** How often the state file is rewritten; default 2000. */
  stateWriteMs?: number;
  /** Ended pods are forgotten after this long (their events stay in the ring); default 15 min. */
  endedRetentionMs?: number;
  /** Host facts; default read once at start (gpu/host.ts). */
  host?: HostFacts;
  /** Default `Date.now`. */
  now?: () => number;
  /** Default JSON lines on stderr, `component: 'agent'`. */
  log?: Logger;
  /** Called on every event; default none. */
  onEvent?: (e: AgentEvent) => void;
  /** Connect to an allocator (link/client.ts): started with the agent, stopped first by `close()`. */
  link?: Omit<LinkOptions, 'agent'>;
}

/** The defaults of `AgentOptions`, as its fields document them. */
const AGENT_DEFAULTS = {
  sampleIntervalMs: 1000,
  swapPoolMiB: 0,
  timeSlicing: null,
  port: 0,
  metricsAddress: null,
  simStateDir: null,
  eventCapacity: 1000,
  stateWriteMs: 2000,
  endedRetentionMs: 15 * 60_000,
  now: Date.now,
  onEvent: () => {},
} as const satisfies DefaultsOf<AgentOptions>;

/** `AgentOptions` complete: every default filled in (the host facts, read later, aside). */
export type ResolvedAgentOptions = WithDefaults<AgentOptions, typeof AGENT_DEFAULTS> & { log: Logger };

/** Fills in every default of `opts`: done once, where the agent starts. */
export function resolveAgentOptions(opts: AgentOptions): ResolvedAgentOptions {
  return {
    ...withDefaults(opts, AGENT_DEFAULTS),
    log: opts.log ?? createLogger({ stream: process.stderr, fields: { component: 'agent' } }),
  };
}
