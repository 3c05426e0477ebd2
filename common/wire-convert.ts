/**
 * Tessera's typed frames (wire-types.ts) to and from the messages generated from
 * `common/proto/tessera.proto` (`npm run gen:wire`, into common/proto/gen/). Both sides are strict
 * types, so a field added to the .proto and not carried here is a compile error, not a silent drop.
 * What stays by hand is only what the two spellings disagree on: enum names, null for an absent
 * optional (undefined in the generated code), units in names (memoryMiB), 64-bit fields as numbers.
 */
import * as pb from './proto/gen/tessera.ts';
import { BadFrame } from './wire-check.ts';
import type { WireLogStream } from './wire-log-types.ts';
import type {
  Frame,
  FrameBody,
  NodeNetwork,
  SwapDirection,
  WireContainerFields,
  WireMigMode,
  WirePodSpec,
  WirePodState,
  WireProbe,
  WireReadiness,
} from './wire-types.ts';
import type { PullPolicy } from './workload-container.ts';
import type { ProbeKind } from './workload-probe.ts';

// Each table maps every TypeScript name to its proto number; the compiler checks it is complete.
// 0 (UNSPECIFIED, the proto3 default) is in none of them, so a peer that leaves an enum unset is refused.
const POD_STATES: Record<WirePodState, pb.PodState> = {
  starting: pb.PodState.POD_STATE_STARTING,
  running: pb.PodState.POD_STATE_RUNNING,
  ready: pb.PodState.POD_STATE_READY,
  stopping: pb.PodState.POD_STATE_STOPPING,
  exited: pb.PodState.POD_STATE_EXITED,
  lost: pb.PodState.POD_STATE_LOST,
  'swapped-out': pb.PodState.POD_STATE_SWAPPED_OUT,
};
const MIG_MODES: Record<WireMigMode, pb.MigMode> = {
  enabled: pb.MigMode.MIG_MODE_ENABLED,
  disabled: pb.MigMode.MIG_MODE_DISABLED,
  unsupported: pb.MigMode.MIG_MODE_UNSUPPORTED,
};
const SWAP_DIRECTIONS: Record<SwapDirection, pb.SwapDirection> = {
  in: pb.SwapDirection.SWAP_DIRECTION_IN,
  out: pb.SwapDirection.SWAP_DIRECTION_OUT,
};
const LOG_STREAMS: Record<WireLogStream, pb.LogStream> = {
  stdout: pb.LogStream.LOG_STREAM_STDOUT,
  stderr: pb.LogStream.LOG_STREAM_STDERR,
  both: pb.LogStream.LOG_STREAM_BOTH,
};
const PROBE_KINDS: Record<ProbeKind, pb.ProbeKind> = {
  http: pb.ProbeKind.PROBE_KIND_HTTP,
  tcp: pb.ProbeKind.PROBE_KIND_TCP,
};
const PULL_POLICIES: Record<PullPolicy, pb.PullPolicy> = {
  IfNotPresent: pb.PullPolicy.PULL_POLICY_IF_NOT_PRESENT,
  Always: pb.PullPolicy.PULL_POLICY_ALWAYS,
  Never: pb.PullPolicy.PULL_POLICY_NEVER,
};

/** The name of proto enum value `v`; refuses UNSPECIFIED and numbers this schema does not name (proto3 enums are open). */
function enumName<T extends string>(table: Record<T, number>, v: number, path: string): T {
  const names = Object.keys(table) as T[];
  const name = names.find((n) => table[n] === v);
  if (name === undefined) {
    const why = v === 0 ? 'unspecified' : 'not in this schema';
    throw new BadFrame(path, `${path}: must be one of ${names.join(', ')}, got ${v} (${why})`);
  }
  return name;
}

/** A required message field (proto3 cannot say so: every message field may be absent). */
function required<T>(v: T | undefined, path: string): T {
  if (v === undefined) throw new BadFrame(path, `${path}: is required (missing)`);
  return v;
}

// 64-bit fields are bigints in the generated code so that none fails to decode. Number() is exact
// below 2^53; above it the result is still >= 2^53, which the guards refuse naming the field.
const num = Number;
const optNum = (v: bigint | number | undefined): number | null => (v === undefined ? null : Number(v));
const big = BigInt;
const optBig = (v: number | null): bigint | undefined => (v === null ? undefined : BigInt(v));
const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);
const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

// ---- TypeScript -> proto ----------------------------------------------------------------------

function readinessToProto(r: WireReadiness): pb.Readiness {
  const p = r.probe;
  return {
    linePrefix: opt(r.linePrefix),
    delayMs: opt(r.delayMs),
    probe: p === null ? undefined : { ...p, kind: PROBE_KINDS[p.kind], path: opt(p.path) },
  };
}

/** A typed Frame as the generated message; only after wire-check has passed it (BigInt() needs integers). */
export function toProto(frame: Frame): pb.Frame {
  return { version: frame.version, body: bodyToProto(frame.body) };
}

function bodyToProto(body: FrameBody): pb.Frame['body'] {
  switch (body.case) {
    case 'hello': {
      const h = body.value;
      const inv = h.inventory;
      return {
        $case: 'hello',
        value: {
          node: h.node,
          agentVersion: h.agentVersion,
          token: h.token,
          inventory: {
            gpus: inv.gpus.map((g) => ({
              uuid: g.uuid,
              index: g.index,
              model: g.model,
              memoryMib: big(g.memoryMiB),
              migMode: MIG_MODES[g.migMode],
              healthy: g.healthy,
            })),
            cpuMillis: big(inv.cpuMillis),
            memoryMib: big(inv.memoryMiB),
            labels: inv.labels,
            driverVersion: inv.driverVersion,
            cudaVersion: opt(inv.cudaVersion),
            address: inv.network?.address,
            portRangeFirst: inv.network?.portRange.first,
            portRangeLast: inv.network?.portRange.last,
          },
          runningPods: h.runningPods.map((r) => ({
            podId: r.podId,
            epoch: big(r.epoch),
            state: POD_STATES[r.state],
            pid: opt(r.pid),
          })),
        },
      };
    }
    case 'status': {
      const s = body.value;
      return {
        $case: 'status',
        value: {
          seq: big(s.seq),
          atMs: big(s.atMs),
          gpuSamples: s.gpuSamples.map((g) => ({
            uuid: g.uuid,
            index: g.index,
            utilizationPct: opt(g.utilizationPct),
            memoryUsedMib: optBig(g.memoryUsedMiB),
            memoryTotalMib: optBig(g.memoryTotalMiB),
            temperatureC: opt(g.temperatureC),
            powerDrawW: opt(g.powerDrawW),
          })),
          podStates: s.podStates.map((r) => ({
            podId: r.podId,
            epoch: big(r.epoch),
            state: POD_STATES[r.state],
            pid: opt(r.pid),
            exitCode: opt(r.exitCode),
            signal: opt(r.signal),
            reason: opt(r.reason),
            startedAtMs: optBig(r.startedAtMs),
          })),
        },
      };
    }
    case 'event': {
      const e = body.value;
      return {
        $case: 'event',
        value: {
          seq: big(e.seq),
          atMs: big(e.atMs),
          kind: e.kind,
          podId: opt(e.podId),
          gpuUuid: opt(e.gpuUuid),
          reason: e.reason,
          numbers: e.numbers,
        },
      };
    }
    case 'ack':
      return { $case: 'ack', value: { seq: big(body.value.seq) } };
    case 'welcome': {
      const w = body.value;
      return {
        $case: 'welcome',
        value: {
          nodeId: w.nodeId,
          heartbeatMs: w.heartbeatMs,
          leaseMs: w.leaseMs,
          desiredPods: w.desiredPods.map((d) => ({ podId: d.podId, epoch: big(d.epoch) })),
          nodeCredential: opt(w.nodeCredential),
        },
      };
    }
    case 'startPod': {
      const s = body.value;
      const spec = s.spec;
      const r = spec.readiness;
      return {
        $case: 'startPod',
        value: {
          podId: s.podId,
          epoch: big(s.epoch),
          spec: {
            workload: spec.workload,
            project: spec.project,
            command: spec.command,
            env: spec.env,
            networkEnv: spec.networkEnv,
            workingDir: opt(spec.workingDir),
            priority: spec.priority,
            graceSeconds: spec.graceSeconds,
            readiness: r === null ? undefined : readinessToProto(r),
            rescheduleAfterMs: opt(spec.rescheduleAfterMs),
            image: opt(spec.image),
            imagePullPolicy: spec.imagePullPolicy === null ? undefined : PULL_POLICIES[spec.imagePullPolicy],
            pullCredential: spec.pullCredential === null ? undefined : { ...spec.pullCredential },
            runAsUser: opt(spec.runAsUser),
            runAsGroup: opt(spec.runAsGroup),
            mounts: spec.mounts.map((m) => ({ ...m })),
            cpuMillis: big(spec.cpuMillis),
            memoryMib: big(spec.memoryMiB),
          },
          gpuGrants: s.gpuGrants.map((g) => ({
            uuid: g.uuid,
            gpuMilli: g.gpuMilli,
            memoryMib: big(g.memoryMiB),
            memoryLimitMib: big(g.memoryLimitMiB),
          })),
        },
      };
    }
    case 'stopPod': {
      const s = body.value;
      return {
        $case: 'stopPod',
        value: { podId: s.podId, epoch: big(s.epoch), reason: s.reason, graceSeconds: s.graceSeconds },
      };
    }
    case 'swap': {
      const s = body.value;
      return {
        $case: 'swap',
        value: { podId: s.podId, epoch: big(s.epoch), direction: SWAP_DIRECTIONS[s.direction] },
      };
    }
    case 'logRequest': {
      const r = body.value;
      return {
        $case: 'logRequest',
        value: {
          requestId: r.requestId,
          podId: r.podId,
          epoch: big(r.epoch),
          tailLines: opt(r.tailLines),
          follow: r.follow,
          stream: LOG_STREAMS[r.stream],
        },
      };
    }
    case 'logStop':
      return { $case: 'logStop', value: { requestId: body.value.requestId } };
    case 'logChunk': {
      const c = body.value;
      return {
        $case: 'logChunk',
        value: { requestId: c.requestId, data: c.data, eof: c.eof, error: opt(c.error) },
      };
    }
  }
}

// ---- proto -> TypeScript ----------------------------------------------------------------------

/** A decoded Readiness; a frame from before probes has none, which reads as `probe: null`. */
function readinessFromProto(r: pb.Readiness): WireReadiness {
  const p = r.probe;
  const probe: WireProbe | null =
    p === undefined
      ? null
      : {
          kind: enumName(PROBE_KINDS, p.kind, 'startPod.spec.readiness.probe.kind'),
          port: p.port,
          path: orNull(p.path),
          initialDelayMs: p.initialDelayMs,
          periodMs: p.periodMs,
          timeoutMs: p.timeoutMs,
          failureThreshold: p.failureThreshold,
        };
  return { linePrefix: orNull(r.linePrefix), delayMs: orNull(r.delayMs), probe };
}

/** The container fields of a decoded PodSpec. */
function containerFromProto(s: pb.PodSpec): WireContainerFields {
  return {
    image: orNull(s.image),
    imagePullPolicy:
      s.imagePullPolicy === undefined
        ? null
        : enumName(PULL_POLICIES, s.imagePullPolicy, 'startPod.spec.imagePullPolicy'),
    pullCredential: s.pullCredential === undefined ? null : { ...s.pullCredential },
    runAsUser: orNull(s.runAsUser),
    runAsGroup: orNull(s.runAsGroup),
    mounts: s.mounts.map((m) => ({ ...m })),
    cpuMillis: num(s.cpuMillis),
    memoryMiB: num(s.memoryMib),
  };
}

/** A decoded message as a typed Frame; throws BadFrame on shapes the schema allows but we refuse. */
export function fromProto(m: pb.Frame): Frame {
  if (m.body === undefined) throw new BadFrame('body', 'body: is required (the frame has none)');
  return { version: m.version, body: bodyFromProto(m.body) };
}

function bodyFromProto(body: NonNullable<pb.Frame['body']>): FrameBody {
  switch (body.$case) {
    case 'hello': {
      const h = body.value;
      const inv = required(h.inventory, 'hello.inventory');
      return {
        case: 'hello',
        value: {
          node: h.node,
          agentVersion: h.agentVersion,
          token: h.token,
          inventory: {
            gpus: inv.gpus.map((g, i) => ({
              uuid: g.uuid,
              index: g.index,
              model: g.model,
              memoryMiB: num(g.memoryMib),
              migMode: enumName(MIG_MODES, g.migMode, `hello.inventory.gpus[${i}].migMode`),
              healthy: g.healthy,
            })),
            cpuMillis: num(inv.cpuMillis),
            memoryMiB: num(inv.memoryMib),
            labels: inv.labels,
            driverVersion: inv.driverVersion,
            cudaVersion: orNull(inv.cudaVersion),
            network: networkFromProto(inv),
          },
          runningPods: h.runningPods.map((r, i) => ({
            podId: r.podId,
            epoch: num(r.epoch),
            state: enumName(POD_STATES, r.state, `hello.runningPods[${i}].state`),
            pid: orNull(r.pid),
          })),
        },
      };
    }
    case 'status': {
      const s = body.value;
      return {
        case: 'status',
        value: {
          seq: num(s.seq),
          atMs: num(s.atMs),
          gpuSamples: s.gpuSamples.map((g) => ({
            uuid: g.uuid,
            index: g.index,
            utilizationPct: orNull(g.utilizationPct),
            memoryUsedMiB: optNum(g.memoryUsedMib),
            memoryTotalMiB: optNum(g.memoryTotalMib),
            temperatureC: orNull(g.temperatureC),
            powerDrawW: orNull(g.powerDrawW),
          })),
          podStates: s.podStates.map((r, i) => ({
            podId: r.podId,
            epoch: num(r.epoch),
            state: enumName(POD_STATES, r.state, `status.podStates[${i}].state`),
            pid: orNull(r.pid),
            exitCode: orNull(r.exitCode),
            signal: orNull(r.signal),
            reason: orNull(r.reason),
            startedAtMs: optNum(r.startedAtMs),
          })),
        },
      };
    }
    case 'event': {
      const e = body.value;
      return {
        case: 'event',
        value: {
          seq: num(e.seq),
          atMs: num(e.atMs),
          kind: e.kind,
          podId: orNull(e.podId),
          gpuUuid: orNull(e.gpuUuid),
          reason: e.reason,
          numbers: e.numbers,
        },
      };
    }
    case 'ack':
      return { case: 'ack', value: { seq: num(body.value.seq) } };
    case 'welcome': {
      const w = body.value;
      return {
        case: 'welcome',
        value: {
          nodeId: w.nodeId,
          heartbeatMs: w.heartbeatMs,
          leaseMs: w.leaseMs,
          desiredPods: w.desiredPods.map((d) => ({ podId: d.podId, epoch: num(d.epoch) })),
          nodeCredential: orNull(w.nodeCredential),
        },
      };
    }
    case 'startPod': {
      const s = body.value;
      const p = required(s.spec, 'startPod.spec');
      const r = p.readiness;
      const spec: WirePodSpec = {
        workload: p.workload,
        project: p.project,
        command: p.command,
        env: p.env,
        networkEnv: p.networkEnv,
        workingDir: orNull(p.workingDir),
        priority: p.priority,
        graceSeconds: p.graceSeconds,
        readiness: r === undefined ? null : readinessFromProto(r),
        rescheduleAfterMs: orNull(p.rescheduleAfterMs),
        ...containerFromProto(p),
      };
      return {
        case: 'startPod',
        value: {
          podId: s.podId,
          epoch: num(s.epoch),
          spec,
          gpuGrants: s.gpuGrants.map((g) => ({
            uuid: g.uuid,
            gpuMilli: g.gpuMilli,
            memoryMiB: num(g.memoryMib),
            memoryLimitMiB: num(g.memoryLimitMib),
          })),
        },
      };
    }
    case 'stopPod': {
      const s = body.value;
      return {
        case: 'stopPod',
        value: { podId: s.podId, epoch: num(s.epoch), reason: s.reason, graceSeconds: s.graceSeconds },
      };
    }
    case 'swap': {
      const s = body.value;
      return {
        case: 'swap',
        value: {
          podId: s.podId,
          epoch: num(s.epoch),
          direction: enumName(SWAP_DIRECTIONS, s.direction, 'swap.direction'),
        },
      };
    }
    case 'logRequest': {
      const r = body.value;
      return {
        case: 'logRequest',
        value: {
          requestId: r.requestId,
          podId: r.podId,
          epoch: num(r.epoch),
          tailLines: orNull(r.tailLines),
          follow: r.follow,
          stream: enumName(LOG_STREAMS, r.stream, 'logRequest.stream'),
        },
      };
    }
    case 'logStop':
      return { case: 'logStop', value: { requestId: body.value.requestId } };
    case 'logChunk': {
      const c = body.value;
      // A copy: the decoder hands a view into the received buffer, which the caller may reuse.
      return {
        case: 'logChunk',
        value: { requestId: c.requestId, data: Uint8Array.from(c.data), eof: c.eof, error: orNull(c.error) },
      };
    }
  }
}

/** The node's network from an inventory: all three fields, or none of them (an older agent). */
function networkFromProto(inv: pb.Inventory): NodeNetwork | null {
  const { address, portRangeFirst: first, portRangeLast: last } = inv;
  if (address === undefined && first === undefined && last === undefined) return null;
  if (address === undefined || first === undefined || last === undefined)
    throw new BadFrame(
      'hello.inventory.address',
      'hello.inventory: address, portRangeFirst and portRangeLast come together or not at all',
    );
  return { address, portRange: { first, last } };
}
