/**
 * The limits of the wire that protobuf cannot express: ranges, required fields, string and list
 * caps (WIRE_LIMITS). Pure, and the same check runs before encoding and after decoding, so a frame
 * one side accepts to send is exactly a frame the other side accepts to receive.
 */
import { MAX_RESCHEDULE_MS } from './disconnect.ts';
import { type ErrorContext, type TesseraError, tesseraError } from './errors.ts';
import { LOG_LIMITS } from './wire-log-types.ts';
import {
  type Frame,
  type FrameBody,
  MAX_GRANT_GPU_MILLI,
  WIRE_LIMITS,
  WIRE_VERSION,
  type WirePodSpec,
  type WireProbe,
  WS_CLOSE,
  type WsCloseCode,
} from './wire-types.ts';
import { MAX_ID, PULL_POLICIES } from './workload-container.ts';
import { PROBE_KINDS } from './workload-probe.ts';

const L = WIRE_LIMITS;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const UINT32_MAX = 2 ** 32 - 1;

/** Thrown inside a check and caught at its boundary, so each rule is one line instead of an if/return. */
export class BadFrame extends Error {
  constructor(
    readonly field: string | undefined,
    message: string,
    readonly closeCode: WsCloseCode = WS_CLOSE.badFrame,
    readonly context: ErrorContext = {},
  ) {
    super(message);
  }

  /** The error value decodeFrame / checkFrame hand out. */
  toTesseraError(): TesseraError {
    return tesseraError('TESSERA_E_BAD_FRAME', this.message, {
      field: this.field,
      context: { ...this.context, closeCode: this.closeCode },
    });
  }
}

function bad(path: string, why: string, context?: ErrorContext): never {
  throw new BadFrame(path, `${path}: ${why}`, WS_CLOSE.badFrame, context);
}

// NUL cannot cross execve (node refuses it in spawn arguments and env) and has no business in a
// name or a log line; other control characters are tolerated in free text only.
function noNul(s: string, path: string): void {
  if (s.includes('\0')) bad(path, 'must not contain a NUL character');
}

function text(v: unknown, path: string, max: number = L.maxTextChars): string {
  if (typeof v !== 'string') bad(path, `must be a string, got ${typeof v}`);
  if (v.length > max) bad(path, `is ${v.length} characters, over the limit of ${max}`, { limit: max });
  noNul(v, path);
  return v;
}

function id(v: unknown, path: string): string {
  const s = text(v, path, L.maxIdChars);
  if (s.length === 0) bad(path, 'is required (empty)');
  return s;
}

function optId(v: unknown, path: string): void {
  if (v !== null) id(v, path);
}

function optText(v: unknown, path: string): void {
  if (v !== null) text(v, path);
}

function uint(v: unknown, path: string, max: number = Number.MAX_SAFE_INTEGER, min = 0): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    bad(path, `must be a whole number in ${min}..${max}, got ${String(v)}`, { min, max });
  }
  return v;
}

function optUint(v: unknown, path: string, max?: number, min?: number): void {
  if (v !== null) uint(v, path, max, min);
}

function int32(v: unknown, path: string): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) {
    bad(path, `must be a whole number in ${INT32_MIN}..${INT32_MAX}, got ${String(v)}`);
  }
}

// Doubles on the wire can carry NaN and Infinity, which poison every sum and comparison downstream.
function optFinite(v: unknown, path: string, min: number, max: number): void {
  if (v === null) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    bad(path, `must be a finite number in ${min}..${max}, got ${String(v)}`, { min, max });
  }
}

function list<T>(v: readonly T[], path: string, max: number): readonly T[] {
  if (!Array.isArray(v)) bad(path, 'must be a list');
  if (v.length > max) bad(path, `has ${v.length} entries, over the limit of ${max}`, { limit: max });
  return v;
}

function bool(v: unknown, path: string): void {
  if (typeof v !== 'boolean') bad(path, `must be true or false, got ${String(v)}`);
}

function oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[]): void {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    bad(path, `must be one of ${allowed.join(', ')}, got ${String(v)}`);
  }
}

function record(
  v: Readonly<Record<string, unknown>>,
  path: string,
  maxEntries: number,
  value: (x: unknown, p: string) => void,
): void {
  if (typeof v !== 'object' || v === null) bad(path, 'must be a map');
  const keys = Object.keys(v);
  if (keys.length > maxEntries) {
    bad(path, `has ${keys.length} entries, over the limit of ${maxEntries}`, { limit: maxEntries });
  }
  for (const k of keys) {
    id(k, `${path} key`);
    // protobufjs decodes a map into a plain object, where assigning `__proto__` is silently dropped:
    // the receiver would never see the entry the sender meant.
    if (k === '__proto__') bad(`${path} key`, 'must not be __proto__');
    value(v[k], `${path}[${JSON.stringify(k)}]`);
  }
}

/** The container fields of a StartPod's spec: image and its pull settings, user, mounts, limits. */
/** A readiness probe: a real port, an HTTP path only for `http`, periods the agent can time. */
function checkProbe(probe: WireProbe, q: string): void {
  if (typeof probe !== 'object' || probe === null) bad(q, 'must be an object or null');
  oneOf(probe.kind, `${q}.kind`, PROBE_KINDS);
  uint(probe.port, `${q}.port`, 65_535, 1);
  if (probe.kind === 'http') {
    const path = text(probe.path, `${q}.path`);
    if (!path.startsWith('/')) bad(`${q}.path`, `must start with '/', got ${JSON.stringify(path)}`);
  } else if (probe.path !== null) bad(`${q}.path`, 'must be null for a tcp probe');
  uint(probe.initialDelayMs, `${q}.initialDelayMs`, L.maxIntervalMs);
  // 0 would make the prober spin: a period and a timeout must be real waits.
  uint(probe.periodMs, `${q}.periodMs`, L.maxIntervalMs, 1);
  uint(probe.timeoutMs, `${q}.timeoutMs`, L.maxIntervalMs, 1);
  uint(probe.failureThreshold, `${q}.failureThreshold`, UINT32_MAX, 1);
}

function checkContainer(spec: WirePodSpec, q: string): void {
  optText(spec.image, `${q}.image`);
  if (spec.image === '') bad(`${q}.image`, 'must not be empty (null for none)');
  if (spec.imagePullPolicy !== null) oneOf(spec.imagePullPolicy, `${q}.imagePullPolicy`, PULL_POLICIES);
  const cred = spec.pullCredential;
  if (cred !== null) {
    if (typeof cred !== 'object') bad(`${q}.pullCredential`, 'must be an object or null');
    id(cred.server, `${q}.pullCredential.server`);
    id(cred.username, `${q}.pullCredential.username`);
    // The length only: a password's content never goes into a message or a log.
    text(cred.password, `${q}.pullCredential.password`, L.maxSecretChars);
    if (cred.password.length === 0) bad(`${q}.pullCredential.password`, 'is required (empty)');
  }
  if (spec.image === null && (spec.imagePullPolicy !== null || cred !== null))
    bad(`${q}.image`, 'is required with imagePullPolicy or pullCredential');
  optUint(spec.runAsUser, `${q}.runAsUser`, MAX_ID);
  optUint(spec.runAsGroup, `${q}.runAsGroup`, MAX_ID);
  list(spec.mounts, `${q}.mounts`, L.maxMounts).forEach((m, i) => {
    for (const key of ['hostPath', 'containerPath'] as const) {
      const path = text(m[key], `${q}.mounts[${i}].${key}`);
      if (!path.startsWith('/')) bad(`${q}.mounts[${i}].${key}`, 'must be an absolute path');
    }
    bool(m.readOnly, `${q}.mounts[${i}].readOnly`);
  });
  uint(spec.cpuMillis, `${q}.cpuMillis`);
  uint(spec.memoryMiB, `${q}.memoryMiB`);
}

const POD_STATES = ['starting', 'running', 'ready', 'stopping', 'exited', 'lost', 'swapped-out'] as const;
const MIG_MODES = ['enabled', 'disabled', 'unsupported'] as const;

function checkBody(body: FrameBody): void {
  const p = body.case;
  switch (body.case) {
    case 'hello': {
      const h = body.value;
      id(h.node, `${p}.node`);
      text(h.agentVersion, `${p}.agentVersion`);
      text(h.token, `${p}.token`);
      const inv = h.inventory;
      if (typeof inv !== 'object' || inv === null) bad(`${p}.inventory`, 'is required');
      list(inv.gpus, `${p}.inventory.gpus`, L.maxGpus).forEach((g, i) => {
        const q = `${p}.inventory.gpus[${i}]`;
        id(g.uuid, `${q}.uuid`);
        uint(g.index, `${q}.index`, L.maxGpus - 1);
        text(g.model, `${q}.model`);
        uint(g.memoryMiB, `${q}.memoryMiB`);
        oneOf(g.migMode, `${q}.migMode`, MIG_MODES);
        bool(g.healthy, `${q}.healthy`);
      });
      uint(inv.cpuMillis, `${p}.inventory.cpuMillis`);
      uint(inv.memoryMiB, `${p}.inventory.memoryMiB`);
      record(inv.labels, `${p}.inventory.labels`, L.maxLabels, (x, q) => text(x, q));
      text(inv.driverVersion, `${p}.inventory.driverVersion`);
      optText(inv.cudaVersion, `${p}.inventory.cudaVersion`);
      if (inv.network !== null) {
        const q = `${p}.inventory.network`;
        text(inv.network.address, `${q}.address`, L.maxIdChars);
        if (inv.network.address.length === 0) bad(`${q}.address`, 'is required (empty)');
        const first = uint(inv.network.portRange.first, `${q}.portRange.first`, 65_535, 1);
        uint(inv.network.portRange.last, `${q}.portRange.last`, 65_535, first);
      }
      list(h.runningPods, `${p}.runningPods`, L.maxPods).forEach((r, i) => {
        const q = `${p}.runningPods[${i}]`;
        id(r.podId, `${q}.podId`);
        uint(r.epoch, `${q}.epoch`);
        oneOf(r.state, `${q}.state`, POD_STATES);
        optUint(r.pid, `${q}.pid`, UINT32_MAX, 1);
      });
      return;
    }
    case 'status': {
      const s = body.value;
      uint(s.seq, `${p}.seq`);
      uint(s.atMs, `${p}.atMs`);
      list(s.gpuSamples, `${p}.gpuSamples`, L.maxGpus).forEach((g, i) => {
        const q = `${p}.gpuSamples[${i}]`;
        id(g.uuid, `${q}.uuid`);
        uint(g.index, `${q}.index`, L.maxGpus - 1);
        optFinite(g.utilizationPct, `${q}.utilizationPct`, 0, 100);
        optUint(g.memoryUsedMiB, `${q}.memoryUsedMiB`);
        optUint(g.memoryTotalMiB, `${q}.memoryTotalMiB`);
        optFinite(g.temperatureC, `${q}.temperatureC`, -273, 1000);
        optFinite(g.powerDrawW, `${q}.powerDrawW`, 0, 1e6);
      });
      list(s.podStates, `${p}.podStates`, L.maxPods).forEach((r, i) => {
        const q = `${p}.podStates[${i}]`;
        id(r.podId, `${q}.podId`);
        uint(r.epoch, `${q}.epoch`);
        oneOf(r.state, `${q}.state`, POD_STATES);
        optUint(r.pid, `${q}.pid`, UINT32_MAX, 1);
        if (r.exitCode !== null) int32(r.exitCode, `${q}.exitCode`);
        optText(r.signal, `${q}.signal`);
        optText(r.reason, `${q}.reason`);
        optUint(r.startedAtMs, `${q}.startedAtMs`);
      });
      if (s.delta !== undefined && s.delta !== null) {
        uint(s.delta.baseSeq, `${p}.delta.baseSeq`);
        list(s.delta.gonePods, `${p}.delta.gonePods`, L.maxPods).forEach((g, i) => {
          id(g, `${p}.delta.gonePods[${i}]`);
        });
      }
      return;
    }
    case 'event': {
      const e = body.value;
      uint(e.seq, `${p}.seq`);
      uint(e.atMs, `${p}.atMs`);
      id(e.kind, `${p}.kind`);
      optId(e.podId, `${p}.podId`);
      optId(e.gpuUuid, `${p}.gpuUuid`);
      text(e.reason, `${p}.reason`);
      record(e.numbers, `${p}.numbers`, L.maxEventNumbers, (x, q) =>
        optFinite(x, q, -Number.MAX_VALUE, Number.MAX_VALUE),
      );
      return;
    }
    case 'ack':
      uint(body.value.seq, `${p}.seq`);
      if (body.value.wantFull !== undefined && typeof body.value.wantFull !== 'boolean')
        bad(`${p}.wantFull`, 'must be a boolean');
      return;
    case 'welcome': {
      const w = body.value;
      id(w.nodeId, `${p}.nodeId`);
      uint(w.heartbeatMs, `${p}.heartbeatMs`, L.maxIntervalMs, 1);
      uint(w.leaseMs, `${p}.leaseMs`, L.maxIntervalMs, 1);
      // A lease no longer than one heartbeat would expire between two healthy heartbeats.
      if (w.leaseMs <= w.heartbeatMs) {
        bad(`${p}.leaseMs`, `must be longer than heartbeatMs (${w.heartbeatMs}), got ${w.leaseMs}`);
      }
      list(w.desiredPods, `${p}.desiredPods`, L.maxPods).forEach((d, i) => {
        id(d.podId, `${p}.desiredPods[${i}].podId`);
        uint(d.epoch, `${p}.desiredPods[${i}].epoch`);
      });
      optText(w.nodeCredential, `${p}.nodeCredential`);
      optUint(w.fullStatusEvery ?? null, `${p}.fullStatusEvery`, UINT32_MAX, 1);
      return;
    }
    case 'startPod': {
      const s = body.value;
      id(s.podId, `${p}.podId`);
      uint(s.epoch, `${p}.epoch`);
      const spec = s.spec;
      if (typeof spec !== 'object' || spec === null) bad(`${p}.spec`, 'is required');
      id(spec.workload, `${p}.spec.workload`);
      id(spec.project, `${p}.spec.project`);
      list(spec.command, `${p}.spec.command`, L.maxCommandArgs).forEach((a, i) => {
        text(a, `${p}.spec.command[${i}]`, L.maxArgChars);
      });
      if (spec.command.length === 0) bad(`${p}.spec.command`, 'is required (empty)');
      for (const field of ['env', 'networkEnv'] as const) {
        record(spec[field], `${p}.spec.${field}`, L.maxEnvEntries, (x, q) => text(x, q, L.maxArgChars));
        for (const k of Object.keys(spec[field])) {
          // execve splits NAME=VALUE at the first '='; a '=' in the name would silently change both.
          if (k.includes('='))
            bad(`${p}.spec.${field} key`, `must not contain '=', got ${JSON.stringify(k)}`);
        }
      }
      optText(spec.workingDir, `${p}.spec.workingDir`);
      int32(spec.priority, `${p}.spec.priority`);
      uint(spec.graceSeconds, `${p}.spec.graceSeconds`, L.maxGraceSeconds);
      if (spec.readiness !== null) {
        if (typeof spec.readiness !== 'object') bad(`${p}.spec.readiness`, 'must be an object or null');
        optText(spec.readiness.linePrefix, `${p}.spec.readiness.linePrefix`);
        optUint(spec.readiness.delayMs, `${p}.spec.readiness.delayMs`, L.maxIntervalMs);
        if (spec.readiness.probe !== null) checkProbe(spec.readiness.probe, `${p}.spec.readiness.probe`);
      }
      optUint(spec.rescheduleAfterMs, `${p}.spec.rescheduleAfterMs`, MAX_RESCHEDULE_MS);
      checkContainer(spec, `${p}.spec`);
      list(s.gpuGrants, `${p}.gpuGrants`, L.maxGpus).forEach((g, i) => {
        const q = `${p}.gpuGrants[${i}]`;
        id(g.uuid, `${q}.uuid`);
        uint(g.gpuMilli, `${q}.gpuMilli`, MAX_GRANT_GPU_MILLI);
        uint(g.memoryMiB, `${q}.memoryMiB`);
        uint(g.memoryLimitMiB, `${q}.memoryLimitMiB`);
        // common/resources GpuGrant: the limit is what the pod may borrow up to, never below its share.
        if (g.memoryLimitMiB < g.memoryMiB) {
          bad(`${q}.memoryLimitMiB`, `must be at least memoryMiB (${g.memoryMiB}), got ${g.memoryLimitMiB}`);
        }
      });
      return;
    }
    case 'stopPod': {
      const s = body.value;
      id(s.podId, `${p}.podId`);
      uint(s.epoch, `${p}.epoch`);
      text(s.reason, `${p}.reason`);
      uint(s.graceSeconds, `${p}.graceSeconds`, L.maxGraceSeconds);
      return;
    }
    case 'swap': {
      const s = body.value;
      id(s.podId, `${p}.podId`);
      uint(s.epoch, `${p}.epoch`);
      oneOf(s.direction, `${p}.direction`, ['in', 'out'] as const);
      return;
    }
    case 'logRequest': {
      const r = body.value;
      id(r.requestId, `${p}.requestId`);
      id(r.podId, `${p}.podId`);
      uint(r.epoch, `${p}.epoch`);
      optUint(r.tailLines, `${p}.tailLines`, LOG_LIMITS.maxTailLines);
      bool(r.follow, `${p}.follow`);
      oneOf(r.stream, `${p}.stream`, ['stdout', 'stderr', 'both'] as const);
      return;
    }
    case 'logStop':
      id(body.value.requestId, `${p}.requestId`);
      return;
    case 'logChunk': {
      const c = body.value;
      id(c.requestId, `${p}.requestId`);
      if (!(c.data instanceof Uint8Array)) bad(`${p}.data`, 'must be bytes');
      const max = LOG_LIMITS.maxChunkBytes;
      if (c.data.byteLength > max)
        bad(`${p}.data`, `is ${c.data.byteLength} bytes, over the limit of ${max}`);
      bool(c.eof, `${p}.eof`);
      optText(c.error, `${p}.error`);
      return;
    }
    default: {
      const unknownBody: { case?: unknown } = body;
      bad('body', `unknown body ${String(unknownBody.case)}`);
    }
  }
}

/** Refuses a frame of another version, naming both and suggesting WS_CLOSE.unsupportedVersion. */
export function checkVersion(version: number): void {
  if (version === WIRE_VERSION) return;
  const what = version === 0 ? 'has no version (0 or missing)' : `has version ${version}`;
  throw new BadFrame(
    'version',
    `frame ${what}; this build speaks only version ${WIRE_VERSION}: run the same Tessera release on allocator and agents`,
    WS_CLOSE.unsupportedVersion,
    { got: version, want: WIRE_VERSION },
  );
}

/** Checks every limit of a frame; throws BadFrame naming the first field that breaks one. */
export function assertFrame(frame: Frame): void {
  if (typeof frame !== 'object' || frame === null) bad('frame', 'must be an object');
  checkVersion(frame.version);
  if (typeof frame.body !== 'object' || frame.body === null) bad('body', 'is required (the frame has none)');
  checkBody(frame.body);
}
