/** Tessera's typed frames as the plain objects protobufjs encodes (the other way is wire-convert.ts). */
import {
  LOG_STREAMS,
  MIG_MODES,
  POD_STATES,
  PULL_POLICY_ORDER,
  protoIndex,
  SWAP_DIRECTIONS,
} from './wire-convert.ts';
import type { Frame, FrameBody } from './wire-types.ts';

// ---- TypeScript -> proto ----------------------------------------------------------------------
// Plain objects in protobufjs's camelCase field names; a null optional is left out, which is how
// protobufjs (and the wire) spell "absent".

type Plain = { [key: string]: unknown };

function withOptional(o: Plain, optional: Record<string, unknown>): Plain {
  for (const [k, v] of Object.entries(optional)) if (v !== null && v !== undefined) o[k] = v;
  return o;
}

/** A typed Frame as the plain object protobufjs encodes. */
export function toProto(frame: Frame): Plain {
  return { version: frame.version, [frame.body.case]: bodyToProto(frame.body) };
}

function bodyToProto(body: FrameBody): Plain {
  switch (body.case) {
    case 'hello': {
      const h = body.value;
      const inv = h.inventory;
      return {
        node: h.node,
        agentVersion: h.agentVersion,
        token: h.token,
        inventory: withOptional(
          {
            gpus: inv.gpus.map((g) => ({
              uuid: g.uuid,
              index: g.index,
              model: g.model,
              memoryMib: g.memoryMiB,
              migMode: protoIndex(MIG_MODES, g.migMode),
              healthy: g.healthy,
            })),
            cpuMillis: inv.cpuMillis,
            memoryMib: inv.memoryMiB,
            labels: inv.labels,
            driverVersion: inv.driverVersion,
          },
          { cudaVersion: inv.cudaVersion },
        ),
        runningPods: h.runningPods.map((r) =>
          withOptional(
            { podId: r.podId, epoch: r.epoch, state: protoIndex(POD_STATES, r.state) },
            { pid: r.pid },
          ),
        ),
      };
    }
    case 'status': {
      const s = body.value;
      return {
        seq: s.seq,
        atMs: s.atMs,
        gpuSamples: s.gpuSamples.map((g) =>
          withOptional(
            { uuid: g.uuid, index: g.index },
            {
              utilizationPct: g.utilizationPct,
              memoryUsedMib: g.memoryUsedMiB,
              memoryTotalMib: g.memoryTotalMiB,
              temperatureC: g.temperatureC,
              powerDrawW: g.powerDrawW,
            },
          ),
        ),
        podStates: s.podStates.map((r) =>
          withOptional(
            { podId: r.podId, epoch: r.epoch, state: protoIndex(POD_STATES, r.state) },
            {
              pid: r.pid,
              exitCode: r.exitCode,
              signal: r.signal,
              reason: r.reason,
              startedAtMs: r.startedAtMs,
            },
          ),
        ),
      };
    }
    case 'event': {
      const e = body.value;
      return withOptional(
        { seq: e.seq, atMs: e.atMs, kind: e.kind, reason: e.reason, numbers: e.numbers },
        { podId: e.podId, gpuUuid: e.gpuUuid },
      );
    }
    case 'ack':
      return { seq: body.value.seq };
    case 'welcome': {
      const w = body.value;
      return withOptional(
        {
          nodeId: w.nodeId,
          heartbeatMs: w.heartbeatMs,
          leaseMs: w.leaseMs,
          desiredPods: w.desiredPods.map((d) => ({ podId: d.podId, epoch: d.epoch })),
        },
        { nodeCredential: w.nodeCredential },
      );
    }
    case 'startPod': {
      const s = body.value;
      const spec = s.spec;
      const readiness =
        spec.readiness === null
          ? null
          : withOptional({}, { linePrefix: spec.readiness.linePrefix, delayMs: spec.readiness.delayMs });
      return {
        podId: s.podId,
        epoch: s.epoch,
        spec: withOptional(
          {
            workload: spec.workload,
            project: spec.project,
            command: spec.command,
            env: spec.env,
            priority: spec.priority,
            graceSeconds: spec.graceSeconds,
            mounts: spec.mounts.map((m) => ({
              hostPath: m.hostPath,
              containerPath: m.containerPath,
              readOnly: m.readOnly,
            })),
            cpuMillis: spec.cpuMillis,
            memoryMib: spec.memoryMiB,
          },
          {
            workingDir: spec.workingDir,
            readiness,
            rescheduleAfterMs: spec.rescheduleAfterMs,
            image: spec.image,
            imagePullPolicy:
              spec.imagePullPolicy === null ? null : protoIndex(PULL_POLICY_ORDER, spec.imagePullPolicy),
            pullCredential: spec.pullCredential === null ? null : { ...spec.pullCredential },
            runAsUser: spec.runAsUser,
            runAsGroup: spec.runAsGroup,
          },
        ),
        gpuGrants: s.gpuGrants.map((g) => ({
          uuid: g.uuid,
          gpuMilli: g.gpuMilli,
          memoryMib: g.memoryMiB,
          memoryLimitMib: g.memoryLimitMiB,
        })),
      };
    }
    case 'stopPod': {
      const s = body.value;
      return { podId: s.podId, epoch: s.epoch, reason: s.reason, graceSeconds: s.graceSeconds };
    }
    case 'swap': {
      const s = body.value;
      return { podId: s.podId, epoch: s.epoch, direction: protoIndex(SWAP_DIRECTIONS, s.direction) };
    }
    case 'logRequest': {
      const r = body.value;
      return withOptional(
        {
          requestId: r.requestId,
          podId: r.podId,
          epoch: r.epoch,
          follow: r.follow,
          stream: protoIndex(LOG_STREAMS, r.stream),
        },
        { tailLines: r.tailLines },
      );
    }
    case 'logStop':
      return { requestId: body.value.requestId };
    case 'logChunk': {
      const c = body.value;
      return withOptional({ requestId: c.requestId, data: c.data, eof: c.eof }, { error: c.error });
    }
  }
}
