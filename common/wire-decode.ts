/**
 * The messages generated from `common/proto/tessera.proto` into Tessera's typed frames
 * (wire-types.ts): the other direction of wire-encode.ts. A peer may leave any message field or enum
 * unset (proto3 cannot say "required"), so each is checked here and refused with its path.
 */
import type * as pb from './proto/gen/tessera.ts';
import { BadFrame } from './wire-check.ts';
import {
  LOG_STREAMS,
  MIG_MODES,
  POD_STATES,
  PROBE_KINDS,
  PULL_POLICIES,
  SWAP_DIRECTIONS,
} from './wire-enums.ts';
import type {
  Frame,
  FrameBody,
  NodeNetwork,
  WireContainerFields,
  WirePodSpec,
  WireProbe,
  WireReadiness,
} from './wire-types.ts';

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
const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

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
          // Only where present, so a frame from before deltas decodes to exactly what was encoded.
          ...(s.delta === undefined
            ? {}
            : { delta: { baseSeq: num(s.delta.baseSeq), gonePods: s.delta.gonePods } }),
          ...(s.wantAck === undefined ? {} : { wantAck: s.wantAck }),
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
      return {
        case: 'ack',
        value: { seq: num(body.value.seq), ...(body.value.wantFull ? { wantFull: true } : {}) },
      };
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
          ...(w.fullStatusEvery === undefined ? {} : { fullStatusEvery: w.fullStatusEvery }),
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
