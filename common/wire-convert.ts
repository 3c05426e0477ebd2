/**
 * protobufjs's decoded messages as Tessera's typed frames (the other way is wire-to-proto.ts).
 * Plain objects only: protobufjs itself stays in wire.ts.
 */
import { BadFrame } from './wire-check.ts';
import type { WireLogStream } from './wire-log-types.ts';
import type {
  Frame,
  FrameBody,
  Inventory,
  SwapDirection,
  WireContainerFields,
  WireMigMode,
  WirePodSpec,
  WirePodState,
} from './wire-types.ts';
import type { PullPolicy } from './workload-container.ts';

// ---- proto -> TypeScript ----------------------------------------------------------------------
// Decoded messages keep absent fields on their prototype (defaults), present ones as own properties;
// proto3 `optional` fields are null here exactly when not own. 64-bit fields arrive as Long objects.

export type Obj = { readonly [key: string]: unknown };

const EMPTY: Obj = {};

function sub(o: Obj, key: string): Obj {
  const v = o[key];
  return typeof v === 'object' && v !== null ? (v as Obj) : EMPTY;
}

function required(o: Obj, key: string, path: string): Obj {
  const v = o[key];
  if (typeof v !== 'object' || v === null) throw new BadFrame(path, `${path}: is required (missing)`);
  return v as Obj;
}

function str(o: Obj, key: string): string {
  const v = o[key];
  return typeof v === 'string' ? v : '';
}

function long(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'object' && v !== null && 'low' in v && 'high' in v) {
    const { low, high } = v as { low: number; high: number };
    // Exact below 2^53; above it the result is still >= 2^53, which the range check refuses.
    return (high >>> 0) * 2 ** 32 + (low >>> 0);
  }
  return 0;
}

function num(o: Obj, key: string): number {
  return long(o[key]);
}

function has(o: Obj, key: string): boolean {
  return Object.hasOwn(o, key) && o[key] !== null && o[key] !== undefined;
}

function optNum(o: Obj, key: string): number | null {
  return has(o, key) ? long(o[key]) : null;
}

function optStr(o: Obj, key: string): string | null {
  return has(o, key) ? str(o, key) : null;
}

function arr(o: Obj, key: string): Obj[] {
  const v = o[key];
  return Array.isArray(v) ? (v as Obj[]) : [];
}

function strings(o: Obj, key: string): string[] {
  const v = o[key];
  return Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : '')) : [];
}

function map<T>(o: Obj, key: string, value: (v: unknown) => T): Record<string, T> {
  // Object.fromEntries defines own properties, so a key such as `__proto__` stays a plain key.
  return Object.fromEntries(Object.entries(sub(o, key)).map(([k, v]) => [k, value(v)]));
}

function enumOf<T extends string>(names: readonly T[], o: Obj, key: string, path: string): T {
  const v = o[key];
  const name = typeof v === 'number' && v > 0 ? names[v - 1] : undefined;
  if (name === undefined) {
    const why = v === 0 ? 'unspecified' : 'not in this schema';
    throw new BadFrame(path, `${path}: must be one of ${names.join(', ')}, got ${String(v)} (${why})`);
  }
  return name;
}

// Proto enum value n (n >= 1) is entry n - 1; 0 is the proto3 UNSPECIFIED default and is refused.
export const POD_STATES: readonly WirePodState[] = [
  'starting',
  'running',
  'ready',
  'stopping',
  'exited',
  'lost',
  'swapped-out',
];
export const MIG_MODES: readonly WireMigMode[] = ['enabled', 'disabled', 'unsupported'];
export const SWAP_DIRECTIONS: readonly SwapDirection[] = ['in', 'out'];
export const LOG_STREAMS: readonly WireLogStream[] = ['stdout', 'stderr', 'both'];
/** In the proto's PullPolicy order (IF_NOT_PRESENT = 1), not the spec's list: the numbers are the wire's. */
export const PULL_POLICY_ORDER: readonly PullPolicy[] = ['IfNotPresent', 'Always', 'Never'];

/** A bytes field as a plain Uint8Array (protobufjs hands a Buffer in Node, a copy keeps the types simple). */
function bytes(o: Obj, key: string): Uint8Array {
  const v = o[key];
  return v instanceof Uint8Array ? Uint8Array.from(v) : new Uint8Array(0);
}

export function protoIndex<T extends string>(names: readonly T[], name: T): number {
  return names.indexOf(name) + 1;
}

function podState(o: Obj, path: string): WirePodState {
  return enumOf(POD_STATES, o, 'state', `${path}.state`);
}

/** The container fields of a decoded PodSpec. */
function containerFromProto(s: Obj): WireContainerFields {
  const cred = has(s, 'pullCredential') ? sub(s, 'pullCredential') : null;
  return {
    image: optStr(s, 'image'),
    imagePullPolicy: has(s, 'imagePullPolicy')
      ? enumOf(PULL_POLICY_ORDER, s, 'imagePullPolicy', 'startPod.spec.imagePullPolicy')
      : null,
    pullCredential:
      cred === null
        ? null
        : { server: str(cred, 'server'), username: str(cred, 'username'), password: str(cred, 'password') },
    runAsUser: optNum(s, 'runAsUser'),
    runAsGroup: optNum(s, 'runAsGroup'),
    mounts: arr(s, 'mounts').map((m) => ({
      hostPath: str(m, 'hostPath'),
      containerPath: str(m, 'containerPath'),
      readOnly: m.readOnly === true,
    })),
    cpuMillis: num(s, 'cpuMillis'),
    memoryMiB: num(s, 'memoryMib'),
  };
}

/** A decoded protobufjs message (plain object view) as a typed Frame; throws BadFrame on shapes the schema allows but we refuse. */
export function fromProto(m: Obj): Frame {
  const version = num(m, 'version');
  const which = typeof m.body === 'string' ? m.body : undefined;
  if (which === undefined) throw new BadFrame('body', 'body: is required (the frame has none)');
  const b = sub(m, which);
  return { version, body: bodyFromProto(which, b) };
}

function bodyFromProto(which: string, b: Obj): FrameBody {
  switch (which) {
    case 'hello': {
      const inv = required(b, 'inventory', 'hello.inventory');
      const inventory: Inventory = {
        gpus: arr(inv, 'gpus').map((g, i) => ({
          uuid: str(g, 'uuid'),
          index: num(g, 'index'),
          model: str(g, 'model'),
          memoryMiB: num(g, 'memoryMib'),
          migMode: enumOf(MIG_MODES, g, 'migMode', `hello.inventory.gpus[${i}].migMode`),
          healthy: g.healthy === true,
        })),
        cpuMillis: num(inv, 'cpuMillis'),
        memoryMiB: num(inv, 'memoryMib'),
        labels: map(inv, 'labels', String),
        driverVersion: str(inv, 'driverVersion'),
        cudaVersion: optStr(inv, 'cudaVersion'),
      };
      return {
        case: 'hello',
        value: {
          node: str(b, 'node'),
          agentVersion: str(b, 'agentVersion'),
          token: str(b, 'token'),
          inventory,
          runningPods: arr(b, 'runningPods').map((r, i) => ({
            podId: str(r, 'podId'),
            epoch: num(r, 'epoch'),
            state: podState(r, `hello.runningPods[${i}]`),
            pid: optNum(r, 'pid'),
          })),
        },
      };
    }
    case 'status':
      return {
        case: 'status',
        value: {
          seq: num(b, 'seq'),
          atMs: num(b, 'atMs'),
          gpuSamples: arr(b, 'gpuSamples').map((g) => ({
            uuid: str(g, 'uuid'),
            index: num(g, 'index'),
            utilizationPct: optNum(g, 'utilizationPct'),
            memoryUsedMiB: optNum(g, 'memoryUsedMib'),
            memoryTotalMiB: optNum(g, 'memoryTotalMib'),
            temperatureC: optNum(g, 'temperatureC'),
            powerDrawW: optNum(g, 'powerDrawW'),
          })),
          podStates: arr(b, 'podStates').map((r, i) => ({
            podId: str(r, 'podId'),
            epoch: num(r, 'epoch'),
            state: podState(r, `status.podStates[${i}]`),
            pid: optNum(r, 'pid'),
            exitCode: optNum(r, 'exitCode'),
            signal: optStr(r, 'signal'),
            reason: optStr(r, 'reason'),
            startedAtMs: optNum(r, 'startedAtMs'),
          })),
        },
      };
    case 'event':
      return {
        case: 'event',
        value: {
          seq: num(b, 'seq'),
          atMs: num(b, 'atMs'),
          kind: str(b, 'kind'),
          podId: optStr(b, 'podId'),
          gpuUuid: optStr(b, 'gpuUuid'),
          reason: str(b, 'reason'),
          numbers: map(b, 'numbers', long),
        },
      };
    case 'ack':
      return { case: 'ack', value: { seq: num(b, 'seq') } };
    case 'welcome':
      return {
        case: 'welcome',
        value: {
          nodeId: str(b, 'nodeId'),
          heartbeatMs: num(b, 'heartbeatMs'),
          leaseMs: num(b, 'leaseMs'),
          desiredPods: arr(b, 'desiredPods').map((d) => ({ podId: str(d, 'podId'), epoch: num(d, 'epoch') })),
          nodeCredential: optStr(b, 'nodeCredential'),
        },
      };
    case 'startPod': {
      const s = required(b, 'spec', 'startPod.spec');
      const r = has(s, 'readiness') ? sub(s, 'readiness') : null;
      const spec: WirePodSpec = {
        workload: str(s, 'workload'),
        project: str(s, 'project'),
        command: strings(s, 'command'),
        env: map(s, 'env', String),
        workingDir: optStr(s, 'workingDir'),
        priority: num(s, 'priority'),
        graceSeconds: num(s, 'graceSeconds'),
        readiness: r === null ? null : { linePrefix: optStr(r, 'linePrefix'), delayMs: optNum(r, 'delayMs') },
        rescheduleAfterMs: optNum(s, 'rescheduleAfterMs'),
        ...containerFromProto(s),
      };
      return {
        case: 'startPod',
        value: {
          podId: str(b, 'podId'),
          epoch: num(b, 'epoch'),
          spec,
          gpuGrants: arr(b, 'gpuGrants').map((g) => ({
            uuid: str(g, 'uuid'),
            gpuMilli: num(g, 'gpuMilli'),
            memoryMiB: num(g, 'memoryMib'),
            memoryLimitMiB: num(g, 'memoryLimitMib'),
          })),
        },
      };
    }
    case 'stopPod':
      return {
        case: 'stopPod',
        value: {
          podId: str(b, 'podId'),
          epoch: num(b, 'epoch'),
          reason: str(b, 'reason'),
          graceSeconds: num(b, 'graceSeconds'),
        },
      };
    case 'swap':
      return {
        case: 'swap',
        value: {
          podId: str(b, 'podId'),
          epoch: num(b, 'epoch'),
          direction: enumOf(SWAP_DIRECTIONS, b, 'direction', 'swap.direction'),
        },
      };
    case 'logRequest':
      return {
        case: 'logRequest',
        value: {
          requestId: str(b, 'requestId'),
          podId: str(b, 'podId'),
          epoch: num(b, 'epoch'),
          tailLines: optNum(b, 'tailLines'),
          follow: b.follow === true,
          stream: enumOf(LOG_STREAMS, b, 'stream', 'logRequest.stream'),
        },
      };
    case 'logStop':
      return { case: 'logStop', value: { requestId: str(b, 'requestId') } };
    case 'logChunk':
      return {
        case: 'logChunk',
        value: {
          requestId: str(b, 'requestId'),
          data: bytes(b, 'data'),
          eof: b.eof === true,
          error: optStr(b, 'error'),
        },
      };
    default:
      throw new BadFrame('body', `body: unknown kind ${which}`);
  }
}
