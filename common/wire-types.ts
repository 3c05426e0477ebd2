/**
 * The wire's TypeScript side (docs/architecture.md §5): one interface per message of
 * `common/proto/tessera.proto`, camelCase with units in names, plus every limit the codec enforces
 * (the field caps re-exported from wire-limits.ts). Absent optional proto fields are `null` here,
 * never zero, so "not reported" stays distinct from 0.
 * Import these through `common/wire.ts`; this file exists only to keep the codec file short.
 */
import type { RegistryCredential } from './registry-secret.ts';
import type { GpuGrant } from './resources.ts';
import type { LogChunk, LogRequest, LogStop } from './wire-log-types.ts';
import type { PullPolicy, WorkloadMount } from './workload-container.ts';
import type { ProbeKind } from './workload-probe.ts';

/**
 * The only frame version this build speaks; a peer with another one is refused (close 4426).
 * 2: StartPod carries an image, a registry login, a user, mounts and limits. A version-1 agent would
 * ignore them and run an image workload's command on its host as its own user, unconfined: that
 * is a misread, so the version moved and such an agent is refused until it is upgraded.
 */
export const WIRE_VERSION = 2;

/** Largest frame either side sends or accepts; also the websocket `maxPayload`. */
export const MAX_FRAME_BYTES = 1024 * 1024;

// The caps live in wire-limits.ts, which the spec validators read without the message types.
export { WIRE_LIMITS } from './wire-limits.ts';

/** GPU milli-units a single grant may hold: one whole GPU (common/resources MILLI_PER_GPU). */
export const MAX_GRANT_GPU_MILLI = 1000;

/**
 * Websocket close codes the link uses. 4000-4999 are for applications (RFC 6455 7.4.2); the last
 * three digits echo the HTTP status of the same meaning so a log reader guesses them. 1009 is the
 * standard "message too big", which `ws` itself sends when `maxPayload` is exceeded.
 */
export const WS_CLOSE = {
  /** Orderly shutdown. */
  normal: 1000,
  /** A frame over MAX_FRAME_BYTES. */
  tooBig: 1009,
  /** A frame that does not decode or breaks a limit. */
  badFrame: 4400,
  /** No token, or a wrong one, at the upgrade or in Hello. */
  unauthenticated: 4401,
  /** A message about another node's pods, or a body this side must not receive. */
  forbidden: 4403,
  /**
   * This allocator is a standby: the reason names the leader's URL (common/leader-close.ts), where
   * the agent connects next (307 Temporary Redirect).
   */
  notLeader: 4307,
  /** The node was fenced: its lease expired or the frame carried a stale epoch. */
  fenced: 4409,
  /**
   * A join token named a node already registered: the name is locked to that node's own credential
   * (423 Locked) until an admin resets it. 409 is taken by fencing.
   */
  nodeExists: 4423,
  /** The frame's version is not WIRE_VERSION. */
  unsupportedVersion: 4426,
} as const;

/** One of the close codes above. */
export type WsCloseCode = (typeof WS_CLOSE)[keyof typeof WS_CLOSE];

/**
 * Options for every `ws` WebSocketServer and client of the link. `maxFragments` and
 * `maxBufferedChunks` are the limits ws 8.21 added against a peer that splits a message into
 * countless fragments or trickles it byte by byte: ws's defaults (16384 and 262144) are sized for
 * 100 MiB messages, ours are 1 MiB. `perMessageDeflate` is off because compression lets a small
 * frame inflate to the full limit on the receiver (and costs CPU on every heartbeat of thousands of
 * agents) while protobuf frames of ids and numbers barely compress; off also matches the bare-`ws`
 * baseline the benchmark compares against.
 */
export const WS_OPTIONS = {
  maxPayload: MAX_FRAME_BYTES,
  maxFragments: 64,
  maxBufferedChunks: 4096,
  perMessageDeflate: false,
} as const;

/** MIG state of a GPU (agent/gpu/driver.ts MigMode). */
export type WireMigMode = 'enabled' | 'disabled' | 'unsupported';

/** Where a pod's process is on its node (agent/runner/types.ts PodRunState). */
export type WirePodState = 'starting' | 'running' | 'ready' | 'stopping' | 'exited' | 'lost' | 'swapped-out';

/** Which way a swap moves a pod's GPU memory: `out` to host memory, `in` back to the GPU. */
export type SwapDirection = 'in' | 'out';

/** One GPU of a node's inventory. */
export interface InventoryGpu {
  uuid: string;
  index: number;
  model: string;
  memoryMiB: number;
  migMode: WireMigMode;
  healthy: boolean;
}

/** What a node offers. */
export interface Inventory {
  gpus: InventoryGpu[];
  cpuMillis: number;
  memoryMiB: number;
  labels: Record<string, string>;
  driverVersion: string;
  cudaVersion: string | null;
  /** Where the node's pods are reached and which host ports they may be given; null: none reported (hosts pods without ports only). */
  network: NodeNetwork | null;
}

/** A node's address and the host port range the allocator assigns its pods' ports from (inclusive). */
export interface NodeNetwork {
  address: string;
  portRange: PortRange;
}

/** Host ports first..last, inclusive. */
export interface PortRange {
  first: number;
  last: number;
}

/** A pod the agent runs, as reported in Hello. */
export interface RunningPod {
  podId: string;
  epoch: number;
  state: WirePodState;
  pid: number | null;
}

/** agent -> allocator, first frame on every connection. */
export interface Hello {
  node: string;
  agentVersion: string;
  /** A join token on first registration, the node's own credential afterwards. */
  token: string;
  inventory: Inventory;
  runningPods: RunningPod[];
}

/** One live sample of one GPU (agent/gpu/driver.ts GpuSampleRow). */
export interface WireGpuSample {
  uuid: string;
  index: number;
  utilizationPct: number | null;
  memoryUsedMiB: number | null;
  memoryTotalMiB: number | null;
  temperatureC: number | null;
  powerDrawW: number | null;
}

/** What the agent knows of one pod. */
export interface WirePodStatus {
  podId: string;
  epoch: number;
  state: WirePodState;
  pid: number | null;
  exitCode: number | null;
  signal: string | null;
  reason: string | null;
  startedAtMs: number | null;
}

/** agent -> allocator, every heartbeat. */
export interface Status {
  seq: number;
  atMs: number;
  gpuSamples: WireGpuSample[];
  podStates: WirePodStatus[];
  /**
   * Set on a delta (sent only to an allocator whose Welcome set `fullStatusEvery`): `podStates` holds
   * only pods whose report changed since Status `baseSeq`, and empty `gpuSamples` mean "unchanged".
   * Absent or null: a full Status, every pod listed.
   */
  delta?: StatusDelta | null;
  /**
   * true: answer with an Ack (the agent has not heard the allocator for a while); false: none needed.
   * Absent or null, as agents before it send: every Status is acked.
   */
  wantAck?: boolean | null;
}

/** What a delta Status builds on (the previous Status on this connection) and the pods it no longer reports. */
export interface StatusDelta {
  baseSeq: number;
  gonePods: string[];
}

/** agent -> allocator: something happened on the node. */
export interface Event {
  seq: number;
  atMs: number;
  /** e.g. `pod-exited`, `gpu-oom`, `gpu-unhealthy`. */
  kind: string;
  podId: string | null;
  gpuUuid: string | null;
  reason: string;
  /** Measurements that go with the event, by name (e.g. `usedMiB`, `limitMiB`). */
  numbers: Record<string, number>;
}

/** Either direction: the frame with this seq was received and applied. */
export interface Ack {
  seq: number;
  /** The allocator could not apply this delta Status: the agent's next Status must be full. */
  wantFull?: boolean;
}

/** A pod the node should run, at this epoch. */
export interface DesiredPod {
  podId: string;
  epoch: number;
}

/** allocator -> agent, the answer to Hello. */
export interface Welcome {
  nodeId: string;
  heartbeatMs: number;
  leaseMs: number;
  /** The full desired set: the agent stops anything not in it. */
  desiredPods: DesiredPod[];
  /** The node's own credential for its next connection: issued on joining, fresh on every connection. */
  nodeCredential: string | null;
  /**
   * Set by an allocator that takes delta Statuses: a full one at least every this many Statuses, and
   * first on every connection. Absent or null: every Status full.
   */
  fullStatusEvery?: number | null;
}

/** When the runner counts a pod ready; `null` disables that rule (agent/runner/types.ts ReadinessSpec). */
export interface WireReadiness {
  linePrefix: string | null;
  delayMs: number | null;
  /** `null`: no probe. With one, the probe alone decides and the two rules above are not used. */
  probe: WireProbe | null;
}

/**
 * A readiness probe against 127.0.0.1:`port` on the pod's node (common/workload-probe.ts
 * ReadinessProbe, its port name resolved to the pod's host port).
 */
export interface WireProbe {
  kind: ProbeKind;
  port: number;
  /** `http` only: the request path; `null` for `tcp`. */
  path: string | null;
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  failureThreshold: number;
}

/** What the runner needs to start a pod's process. */
export interface WirePodSpec {
  /** The allocator's variables for the pod: ports, index, peers, rendezvous (allocator/service/rendezvous.ts). */
  networkEnv: Record<string, string>;
  workload: string;
  project: string;
  command: string[];
  env: Record<string, string>;
  workingDir: string | null;
  priority: number;
  graceSeconds: number;
  /** `null`: the runner's default readiness rule. */
  readiness: WireReadiness | null;
  /** Stop it after this long cut off from the allocator; `null`: keep it running (common/disconnect.ts). */
  rescheduleAfterMs: number | null;
  /** An OCI image reference; `null`: the process runtime runs `command` on the host. */
  image: string | null;
  /** `null`: IfNotPresent. Only with an image. */
  imagePullPolicy: PullPolicy | null;
  /** The login for pulling `image`; `null`: anonymous. Only with an image. */
  pullCredential: RegistryCredential | null;
  /** Who the pod runs as; `null`: the runtime's default. */
  runAsUser: number | null;
  runAsGroup: number | null;
  /** Host paths bound into the pod. */
  mounts: WorkloadMount[];
  /** CPU limit in milli-cores; 0: none. */
  cpuMillis: number;
  /** Memory limit in MiB; 0: none. */
  memoryMiB: number;
}

/** The container part of a WirePodSpec: what a pod on the process runtime leaves null or empty. */
export type WireContainerFields = Pick<
  WirePodSpec,
  | 'image'
  | 'imagePullPolicy'
  | 'pullCredential'
  | 'runAsUser'
  | 'runAsGroup'
  | 'mounts'
  | 'cpuMillis'
  | 'memoryMiB'
>;

/** allocator -> agent: start a pod, or take it over at a newer epoch. */
export interface StartPod {
  podId: string;
  epoch: number;
  spec: WirePodSpec;
  gpuGrants: GpuGrant[];
}

/** allocator -> agent: stop a pod (ignored for an epoch older than the newest seen). */
export interface StopPod {
  podId: string;
  epoch: number;
  reason: string;
  graceSeconds: number;
}

/** allocator -> agent: move a pod's GPU memory out to host memory or back in. */
export interface Swap {
  podId: string;
  epoch: number;
  direction: SwapDirection;
}

/** The frame's one body, tagged by the proto oneof's field name so a `switch` narrows it. */
export type FrameBody =
  | { case: 'hello'; value: Hello }
  | { case: 'status'; value: Status }
  | { case: 'event'; value: Event }
  | { case: 'ack'; value: Ack }
  | { case: 'welcome'; value: Welcome }
  | { case: 'startPod'; value: StartPod }
  | { case: 'stopPod'; value: StopPod }
  | { case: 'swap'; value: Swap }
  | { case: 'logRequest'; value: LogRequest }
  | { case: 'logStop'; value: LogStop }
  | { case: 'logChunk'; value: LogChunk };

/** Name of a body kind, e.g. `startPod`. */
export type FrameBodyCase = FrameBody['case'];

/** One websocket message. */
export interface Frame {
  version: number;
  body: FrameBody;
}

/** Bodies an agent sends; the allocator refuses others with WS_CLOSE.forbidden. */
export const AGENT_BODIES: readonly FrameBodyCase[] = ['hello', 'status', 'event', 'ack', 'logChunk'];

/** Bodies the allocator sends; the agent refuses others with WS_CLOSE.forbidden. */
export const ALLOCATOR_BODIES: readonly FrameBodyCase[] = [
  'welcome',
  'startPod',
  'stopPod',
  'swap',
  'ack',
  'logRequest',
  'logStop',
];
