/**
 * The agent's in-process API: the one the allocator link (link/) calls when a `StartPod`, `StopPod`
 * or `Swap` frame arrives (docs/architecture.md §5), and whose `status()` / `events()` feed its `Status` and
 * `Event` frames. Tests, `tessera agent --pods FILE` and the local HTTP endpoint drive and read the
 * agent through exactly this API, so the link adds a transport and its fencing, not a second way in.
 *
 * Here: the API's types, the event ring and `composeStatus` (pure: the parts in, the `AgentStatus`
 * out). `agent.ts` implements the API; `http.ts` is its local read-only transport.
 */
import type { Result } from '../common/errors.ts';
import type { GpuGrant } from '../common/resources.ts';
import {
  type EnforceEventKind,
  type EnforcerCounters,
  LIVE_STATES,
  type SliceMode,
  type SwapPool,
} from './enforce/index.ts';
import type { GpuInventory, GpuSample, HostFacts } from './gpu/index.ts';
import {
  isEnded,
  type PodRunState,
  type PodRuntimeEvent,
  type PodSpec,
  type PodStatus,
} from './runner/index.ts';
import type { RuntimeEventKind } from './runtime/types.ts';

/** Direction of a GPU swap: `out` checkpoints a pod's GPU memory to host RAM, `in` restores it. */
export type SwapDirection = 'in' | 'out';

/** What the agent records besides enforcement: pod lifecycle and its own life. */
export type AgentEventKind =
  | EnforceEventKind
  | 'pod-state'
  | 'agent-started'
  | 'agent-stopped'
  | 'sampler-error'
  // A pod the previous agent left swapped out, taken back into the pool at start, or not (the reason says why).
  | 'swap-adopted'
  | 'swap-not-adopted'
  // A runtime's progress while it starts a pod (image-pulling, image-pulled, image-pull-retry, container-created).
  | RuntimeEventKind;

/** One entry of the agent's event ring; `seq` grows by one per event since the agent started. */
export interface AgentEvent {
  seq: number;
  atMs: number;
  kind: AgentEventKind;
  /** The pod concerned; null for the agent's own events. */
  podId: string | null;
  reason: string;
  gpuUuid?: string;
  usedMiB?: number;
  limitMiB?: number;
  requestMiB?: number;
  /** `pod-state` only: the state the pod entered, and how it ended where it did. */
  state?: PodRunState;
  pid?: number | null;
  exitCode?: number | null;
  signal?: string | null;
  /** A runtime event's own measurements (e.g. bytes pulled, attempt), passed on by name. */
  numbers?: Readonly<Record<string, number>>;
}

/** The latest sample of one GPU; null fields where the driver reports N/A. */
export interface GpuSampleView {
  atMs: number;
  utilizationPct: number | null;
  memoryUsedMiB: number | null;
  temperatureC: number | null;
  powerDrawW: number | null;
}

/** One GPU in `status()`: inventory facts, the latest sample and its tenants. */
export interface AgentGpuStatus {
  index: number;
  uuid: string;
  model: string;
  memoryTotalMiB: number;
  memoryReservedMiB: number | null;
  migMode: string;
  sample: GpuSampleView | null;
  /** Pods holding a grant on this GPU. */
  podIds: string[];
}

/** One pod in `status()`: the runner's view plus its grants (request and limit) and measured use. */
export interface AgentPodStatus extends PodStatus {
  workload: string;
  project: string;
  priority: number;
  grants: GpuGrant[];
  /** GPU uuid -> MiB its processes held in the latest sample (GPUs with no process left out). */
  gpuMemoryUsedMiB: Record<string, number>;
  /** In the swap pool: its GPU memory is in host RAM and its CUDA calls block until swapped in. */
  swappedOut: boolean;
  /** An enforcement action (kill, swap) is under way for it. */
  enforcing: boolean;
  /** Stopped after this long cut off from the allocator; null: kept running (its disconnect policy). */
  rescheduleAfterMs: number | null;
}

/** The node's swap pool. */
export interface SwapPoolStatus {
  enabled: boolean;
  capacityMiB: number;
  usedMiB: number;
  pods: { podId: string; usedMiB: number; sinceMs: number; reason: string }[];
}

/** Monotonic counts since the agent started (what `/metrics` exports). */
export interface AgentCounters extends EnforcerCounters {
  samples: number;
  samplerErrors: number;
  events: number;
}

/** Everything the agent knows, as one JSON-able value (`/status`, the state file, `Status` frames). */
export interface AgentStatus {
  atMs: number;
  agent: {
    pid: number;
    version: string;
    startedAtMs: number;
    dataDir: string;
    sampleIntervalMs: number;
    lastSampleAtMs: number | null;
    /** The last sampler error (a stream died, a line did not parse); null when none. */
    lastSamplerError: string | null;
    /** Local HTTP port (`/metrics`, `/healthz`, `/status`); null when not serving. */
    port: number | null;
  };
  node: HostFacts;
  driver: { kind: 'nvidia' | 'sim'; driverVersion: string; cudaVersion: string | null };
  gpus: AgentGpuStatus[];
  pods: AgentPodStatus[];
  swap: SwapPoolStatus;
  timeSlicing: { mode: SliceMode; cycleMs: number } | null;
  counters: AgentCounters;
  /** The link to the allocator: `not connected` when the agent runs without one. */
  allocator: 'not connected' | AllocatorLinkStatus;
}

/**
 * Where the link to the allocator is (link/client.ts moves it): lifecycles are a union, not flags
 * (docs/style.md). Declared here, beside the status that reports it, so the link builds on the API
 * and not the other way round.
 */
export type LinkState = 'idle' | 'connecting' | 'open' | 'welcomed' | 'backoff' | 'stopped';

/** Where the agent's link to the allocator stands (link/client.ts). */
export interface AllocatorLinkStatus {
  state: LinkState;
  url: string;
  /** The allocator's id for this node, from the last Welcome. */
  nodeId: string | null;
  /** Connections opened so far. */
  connects: number;
}

/** The agent's API; see the file comment for who calls it. */
export interface AgentApi {
  /** Starts a pod (fencing by epoch and grant checks are the runner's); the status it started in. */
  startPod(spec: PodSpec): Result<PodStatus>;
  /** SIGTERM to the pod's group, `graceSeconds` (default the spec's), SIGKILL; resolves once it is gone. */
  stopPod(podId: string, reason: string, graceSeconds?: number): Promise<Result<PodStatus>>;
  /** Swaps a pod out to the host-RAM pool or back in; refused with the reason (pool full, no tool, ...). */
  swap(podId: string, direction: SwapDirection): Promise<Result<true>>;
  status(): AgentStatus;
  /** Events with `seq > sinceSeq` still in the ring (default: all of them), oldest first. */
  events(sinceSeq?: number): AgentEvent[];
  /** Stops sampling, slicing and serving; pods keep running, for the next agent to adopt. */
  close(): Promise<void>;
}

/** A bounded ring of events, numbered from 1; the oldest drop out once `capacity` is reached. */
export function createEventRing(capacity: number): {
  push(e: Omit<AgentEvent, 'seq'>): AgentEvent;
  since(sinceSeq: number): AgentEvent[];
  seq(): number;
} {
  const ring: AgentEvent[] = [];
  let seq = 0;
  return {
    push(e) {
      const event: AgentEvent = { ...e, seq: ++seq };
      ring.push(event);
      if (ring.length > capacity) ring.shift();
      return event;
    },
    since: (sinceSeq) => ring.filter((e) => e.seq > sinceSeq),
    seq: () => seq,
  };
}

/** The `pod-state` event of a pod that entered `s.state`; the reason is the runner's when it gave one. */
export function podStateEvent(s: PodStatus, atMs: number): Omit<AgentEvent, 'seq'> {
  const how = s.state === 'exited' ? ` (code ${s.exitCode}, signal ${s.signal})` : '';
  return {
    atMs,
    kind: 'pod-state',
    podId: s.podId,
    reason: s.reason ?? `pod ${s.podId} is ${s.state}${s.adopted ? ' (adopted)' : ''}${how}`,
    state: s.state,
    pid: s.pid,
    exitCode: s.exitCode,
    signal: s.signal,
  };
}

/** The event of a runtime's progress on a pod (an image pull, a container created). */
export function runtimeEvent(e: PodRuntimeEvent, atMs: number): Omit<AgentEvent, 'seq'> {
  return {
    atMs,
    kind: e.kind,
    podId: e.podId,
    reason: e.message,
    ...(e.numbers === undefined ? {} : { numbers: e.numbers }),
  };
}

/** What `composeStatus` is made from: the agent's parts as they stand now. */
export interface StatusParts {
  atMs: number;
  agent: AgentStatus['agent'];
  node: HostFacts;
  driverKind: 'nvidia' | 'sim';
  inventory: GpuInventory;
  sample: GpuSample | null;
  pods: readonly PodStatus[];
  /** The spec of each pod in `pods` (the runner's). */
  specOf: (podId: string) => PodSpec | undefined;
  /** podId -> GPU uuid -> MiB in the latest sample. */
  usedByPod: ReadonlyMap<string, ReadonlyMap<string, number>>;
  enforcing: ReadonlySet<string>;
  /** Absent when swap is off. */
  pool: SwapPool | undefined;
  timeSlicing: AgentStatus['timeSlicing'];
  counters: AgentCounters;
  /** Default `not connected`. */
  allocator?: AgentStatus['allocator'];
}

/** The agent's status from its parts; a live pod in the swap pool shows as `swapped-out`. */
export function composeStatus(p: StatusParts): AgentStatus {
  const rows = new Map((p.sample?.gpus ?? []).map((r) => [r.uuid, r]));
  const pods: AgentPodStatus[] = p.pods.map((s) => {
    const spec = p.specOf(s.podId);
    const swappedOut = p.pool?.has(s.podId) === true && LIVE_STATES.has(s.state);
    return {
      ...s,
      state: swappedOut ? 'swapped-out' : s.state,
      workload: spec?.workload ?? '',
      project: spec?.project ?? '',
      priority: spec?.priority ?? 0,
      grants: spec?.grants ?? [],
      gpuMemoryUsedMiB: Object.fromEntries(p.usedByPod.get(s.podId) ?? []),
      swappedOut,
      enforcing: p.enforcing.has(s.podId),
      rescheduleAfterMs: spec?.rescheduleAfterMs ?? null,
    };
  });
  const sample = p.sample;
  return {
    atMs: p.atMs,
    agent: p.agent,
    node: p.node,
    driver: {
      kind: p.driverKind,
      driverVersion: p.inventory.driverVersion,
      cudaVersion: p.inventory.cudaVersion,
    },
    gpus: p.inventory.gpus.map((g) => {
      const row = rows.get(g.uuid);
      return {
        index: g.index,
        uuid: g.uuid,
        model: g.model,
        memoryTotalMiB: g.memoryTotalMiB,
        memoryReservedMiB: g.memoryReservedMiB,
        migMode: g.migMode,
        sample:
          row === undefined || sample === null
            ? null
            : {
                atMs: sample.atMs,
                utilizationPct: row.utilizationPct,
                memoryUsedMiB: row.memoryUsedMiB,
                temperatureC: row.temperatureC,
                powerDrawW: row.powerDrawW,
              },
        podIds: pods
          .filter((x) => !isEnded(x.state) && x.grants.some((gr) => gr.uuid === g.uuid))
          .map((x) => x.podId),
      };
    }),
    pods,
    swap: {
      enabled: p.pool !== undefined,
      capacityMiB: p.pool?.capacityMiB ?? 0,
      usedMiB: p.pool?.used() ?? 0,
      pods: (p.pool?.entries() ?? []).map(({ podId, usedMiB, sinceMs, reason }) => ({
        podId,
        usedMiB,
        sinceMs,
        reason,
      })),
    },
    timeSlicing: p.timeSlicing,
    counters: p.counters,
    allocator: p.allocator ?? 'not connected',
  };
}
