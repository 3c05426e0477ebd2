/**
 * Pure mapping between the wire's types (common/wire.ts) and the agent's (runner PodSpec / PodStatus,
 * api.ts AgentStatus / AgentEvent). The link calls these and nothing else converts, so a field
 * renamed on either side breaks here, in one file, under test.
 */
import type {
  DesiredPod,
  Event,
  Inventory,
  NodeNetwork,
  RunningPod,
  StartPod,
  Status,
  WireGpuSample,
  WireMigMode,
  WirePodStatus,
} from '../../common/wire.ts';
import { WIRE_LIMITS } from '../../common/wire.ts';
import type { AgentEvent, AgentGpuStatus, AgentStatus } from '../api.ts';
import { isEnded, type PodSpec, type PodStatus } from '../runner/index.ts';

/** The runner's PodSpec for a StartPod frame; the wire's nulls become absent optional fields. */
export function podSpecFromWire(s: StartPod): PodSpec {
  const spec: PodSpec = {
    podId: s.podId,
    workload: s.spec.workload,
    project: s.spec.project,
    epoch: s.epoch,
    command: [...s.spec.command],
    env: { ...s.spec.env },
    grants: s.gpuGrants.map((g) => ({ ...g })),
    priority: s.spec.priority,
    graceSeconds: s.spec.graceSeconds,
  };
  if (Object.keys(s.spec.networkEnv).length > 0) spec.networkEnv = { ...s.spec.networkEnv };
  if (s.spec.workingDir !== null) spec.workingDir = s.spec.workingDir;
  if (s.spec.rescheduleAfterMs !== null) spec.rescheduleAfterMs = s.spec.rescheduleAfterMs;
  if (s.spec.readiness !== null) {
    // Null stays null inside readiness: it means "this rule off", not "the runner's default".
    const r = s.spec.readiness;
    spec.readiness = { linePrefix: r.linePrefix, delayMs: r.delayMs };
    if (r.probe !== null) spec.readiness.probe = { ...r.probe };
  }
  const w = s.spec;
  if (w.image !== null) spec.image = w.image;
  if (w.imagePullPolicy !== null) spec.imagePullPolicy = w.imagePullPolicy;
  if (w.pullCredential !== null) spec.pullCredential = { ...w.pullCredential };
  if (w.runAsUser !== null) spec.runAsUser = w.runAsUser;
  if (w.runAsGroup !== null) spec.runAsGroup = w.runAsGroup;
  if (w.mounts.length > 0) spec.mounts = w.mounts.map((m) => ({ ...m }));
  // 0 on the wire is "no limit", which the runner spells as absent.
  if (w.cpuMillis > 0) spec.cpuMillis = w.cpuMillis;
  if (w.memoryMiB > 0) spec.memoryMiB = w.memoryMiB;
  return spec;
}

/** A MIG mode as the wire spells it; anything the driver reports beyond the three is `unsupported`. */
export function migModeToWire(mode: string): WireMigMode {
  return mode === 'enabled' || mode === 'disabled' ? mode : 'unsupported';
}

/** Free text cut to the wire's limit, so a long runner reason cannot make a whole Status unsendable. */
export function clipText(s: string, max: number = WIRE_LIMITS.maxTextChars): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** A pid as the wire accepts it (1..2^32-1), or null. */
function wirePid(pid: number | null): number | null {
  return pid !== null && Number.isSafeInteger(pid) && pid >= 1 ? pid : null;
}

/** A pod's status as the wire carries it. */
export function podStatusToWire(p: PodStatus): WirePodStatus {
  return {
    podId: p.podId,
    epoch: p.epoch,
    state: p.state,
    pid: wirePid(p.pid),
    exitCode: p.exitCode,
    signal: p.signal === null ? null : clipText(p.signal),
    reason: p.reason === null ? null : clipText(p.reason),
    startedAtMs: p.startedAtMs,
  };
}

/** True for a pod whose process may still run (so it counts for fencing and Hello). */
export function mayStillRun(p: Pick<PodStatus, 'state'>): boolean {
  return !isEnded(p.state);
}

/** Pods the agent still runs, for Hello: ended ones are history, not state to reconcile. */
export function runningPodsToWire(pods: readonly PodStatus[]): RunningPod[] {
  return pods
    .filter(mayStillRun)
    .map((p) => ({ podId: p.podId, epoch: p.epoch, state: p.state, pid: wirePid(p.pid) }));
}

/** A finite number within [min, max], else null: a driver glitch reads as "not reported", not as a bad frame. */
function inRange(v: number | null, min: number, max: number): number | null {
  return v !== null && Number.isFinite(v) && v >= min && v <= max ? v : null;
}

function wholeMiB(v: number | null): number | null {
  return v !== null && Number.isSafeInteger(v) && v >= 0 ? v : null;
}

/** One GPU's latest sample as the wire carries it; null where the agent has no sample yet. */
export function gpuSampleToWire(g: AgentGpuStatus): WireGpuSample | null {
  if (g.sample === null) return null;
  return {
    uuid: g.uuid,
    index: g.index,
    utilizationPct: inRange(g.sample.utilizationPct, 0, 100),
    memoryUsedMiB: wholeMiB(g.sample.memoryUsedMiB),
    memoryTotalMiB: wholeMiB(g.memoryTotalMiB),
    temperatureC: inRange(g.sample.temperatureC, -273, 1000),
    powerDrawW: inRange(g.sample.powerDrawW, 0, 1e6),
  };
}

/** The Status frame body for an agent status and the link's sequence number. */
export function statusToWire(s: AgentStatus, seq: number): Status {
  return {
    seq,
    atMs: s.atMs,
    gpuSamples: s.gpus.flatMap((g) => {
      const row = gpuSampleToWire(g);
      return row === null ? [] : [row];
    }),
    podStates: s.pods.map(podStatusToWire),
  };
}

/**
 * The node's inventory from an agent status. Health is reported `true`: the agent's status has no
 * per-GPU health yet, and an unhealthy GPU reaches the allocator as a `gpu-unhealthy` Event.
 */
export function inventoryFromStatus(
  s: AgentStatus,
  labels: Record<string, string>,
  network: NodeNetwork | null,
): Inventory {
  return {
    gpus: s.gpus.map((g) => ({
      uuid: g.uuid,
      index: g.index,
      model: clipText(g.model),
      memoryMiB: g.memoryTotalMiB,
      migMode: migModeToWire(g.migMode),
      healthy: true,
    })),
    cpuMillis: s.node.cpuCores * 1000,
    memoryMiB: s.node.memoryTotalMiB,
    labels,
    driverVersion: clipText(s.driver.driverVersion),
    cudaVersion: s.driver.cudaVersion,
    network,
  };
}

/** An agent event as an Event frame body; its measurements go into `numbers`, by name. */
export function eventToWire(e: AgentEvent, seq: number): Event {
  const numbers: Record<string, number> = { ...e.numbers };
  const measured = {
    usedMiB: e.usedMiB,
    limitMiB: e.limitMiB,
    requestMiB: e.requestMiB,
    pid: e.pid,
    exitCode: e.exitCode,
  };
  for (const [k, v] of Object.entries(measured))
    if (typeof v === 'number' && Number.isFinite(v)) numbers[k] = v;
  return {
    seq,
    atMs: e.atMs,
    kind: e.kind,
    podId: e.podId,
    gpuUuid: e.gpuUuid ?? null,
    reason: clipText(e.reason),
    numbers,
  };
}

/** What fencing decides for one live pod against the allocator's desired set. */
export type FenceVerdict = { keep: true } | { keep: false; reason: string };

/**
 * The fencing rule (docs/architecture.md §5) for one pod this node runs: it stays only when the desired set
 * holds it at the same epoch. Absent, or desired at a newer epoch (it was reassigned meanwhile), it
 * must stop; the newer epoch arrives as its own StartPod.
 */
export function fenceAgainst(
  pod: Pick<PodStatus, 'podId' | 'epoch'>,
  desired: ReadonlyMap<string, number>,
): FenceVerdict {
  const want = desired.get(pod.podId);
  if (want === undefined)
    return { keep: false, reason: `fenced: pod ${pod.podId} is not in the allocator's desired set` };
  if (want > pod.epoch) {
    return { keep: false, reason: `fenced: pod ${pod.podId} epoch ${pod.epoch} superseded by epoch ${want}` };
  }
  return { keep: true };
}

/** The desired set as a map of pod id to epoch (the newest, should a pod appear twice). */
export function desiredMap(pods: readonly DesiredPod[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const d of pods) m.set(d.podId, Math.max(m.get(d.podId) ?? d.epoch, d.epoch));
  return m;
}
