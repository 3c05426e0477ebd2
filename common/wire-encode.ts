/**
 * Tessera's typed frames (wire-types.ts) into the messages generated from `common/proto/tessera.proto`
 * (`npm run gen:wire`, into common/proto/gen/). Both sides are strict types, so a field added to the
 * .proto and not carried here is a compile error, not a silent drop. What stays by hand is only what
 * the two spellings disagree on: enum names (wire-enums.ts), null for an absent optional (undefined
 * in the generated code), units in names (memoryMiB), 64-bit fields as numbers.
 */
import type * as pb from './proto/gen/tessera.ts';
import {
  LOG_STREAMS,
  MIG_MODES,
  POD_STATES,
  PROBE_KINDS,
  PULL_POLICIES,
  SWAP_DIRECTIONS,
} from './wire-enums.ts';
import type { Frame, FrameBody, WireReadiness } from './wire-types.ts';

// 64-bit fields are bigints in the generated code (so that none fails to decode).
const big = BigInt;
const optBig = (v: number | null): bigint | undefined => (v === null ? undefined : BigInt(v));
const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

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
          delta:
            s.delta === undefined || s.delta === null
              ? undefined
              : { baseSeq: big(s.delta.baseSeq), gonePods: s.delta.gonePods },
          wantAck: s.wantAck ?? undefined,
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
      return { $case: 'ack', value: { seq: big(body.value.seq), wantFull: body.value.wantFull === true } };
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
          fullStatusEvery: opt(w.fullStatusEvery ?? null),
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
