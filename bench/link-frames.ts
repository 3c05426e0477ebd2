/**
 * The frames a simulated agent of the link benchmark sends (bench/link-fleet.ts), built with the
 * real codec: a Hello for a node of 8 H100s with labels, and a Status of 8 GPU samples and the
 * node's pod states, padded to about 2 KiB with terminal states of earlier pods (a real agent keeps
 * reporting those for a while). Pure: no sockets, no process, so a test can check every frame.
 */
import { encodeFrame, makeFrame, type WireGpuSample, type WirePodStatus } from '../common/wire.ts';

/** One simulated node: what its Hello and Status frames say. */
export interface SimNode {
  node: string;
  index: number;
  gpuUuids: string[];
  /** Pods the allocator started here, by wire podId. */
  pods: Map<string, WirePodStatus>;
  /** Ended pods still reported, to bring a Status to a realistic size. */
  padding: WirePodStatus[];
}

/** A Status encoded by the real codec, with the byte offsets of its seq and atMs varints. */
export interface StatusTemplate {
  bytes: Uint8Array;
  seqAt: number;
  atMsAt: number;
  /** A delta's delta.baseSeq varint (written as seq - 1: the fleet sends nothing between two Statuses); null for a full one. */
  baseSeqAt: number | null;
  /** The byte of Status.want_ack's value (0 or 1). */
  wantAckAt: number;
}

const GPUS_PER_NODE = 8;
const GPU_MODEL = 'NVIDIA H100 80GB HBM3';
const GPU_MEMORY_MIB = 81_559;

/** First seq an agent sends: seq varints stay 3 bytes long from 2^14 to 2^21 (24 days at 1 Hz). */
export const SEQ_BASE = 1 << 14;
/** An atMs whose varint is 6 bytes, like every epoch millisecond from 2^35 (1971) to 2^42 (2109). */
const TEMPLATE_AT_MS = 2 ** 40 + 12_345;

function hex(n: number, width: number): string {
  return (n >>> 0).toString(16).padStart(width, '0').slice(-width);
}

/** Node `index` with 8 GPUs whose UUID-shaped ids are stable per (node, GPU), like nvidia-smi's. */
export function simNode(index: number): SimNode {
  const gpuUuids = Array.from({ length: GPUS_PER_NODE }, (_, g) => {
    const h = Math.imul(index + 1, 2_654_435_761) ^ g;
    return `GPU-${hex(h, 8)}-${hex(index, 4)}-${hex(g, 4)}-${hex(h >>> 7, 4)}-${hex(index, 6)}${hex(h, 6)}`;
  });
  return { node: `bench-node-${index}`, index, gpuUuids, pods: new Map(), padding: [] };
}

/** The node's Hello, encoded. */
export function helloBytes(n: SimNode, token: string): Uint8Array {
  const gpus = n.gpuUuids.map((uuid, index) => ({
    ...{ uuid, index, model: GPU_MODEL, memoryMiB: GPU_MEMORY_MIB },
    ...{ migMode: 'disabled' as const, healthy: true },
  }));
  const labels = {
    'gpu.model': 'H100',
    'topology.rack': `rack-${Math.floor(n.index / 32)}`,
    'topology.zone': `zone-${n.index % 4}`,
  };
  const inventory = { gpus, cpuMillis: 128_000, memoryMiB: 1_048_576, labels };
  return encodeFrame(
    makeFrame({
      case: 'hello',
      value: {
        ...{ node: n.node, agentVersion: '0.1.0-bench', token, runningPods: [] },
        inventory: { ...inventory, driverVersion: '550.54.15', cudaVersion: '12.4', network: null },
      },
    }),
  );
}

function samples(n: SimNode, nowMs: number): WireGpuSample[] {
  return n.gpuUuids.map((uuid, index) => ({
    ...{ uuid, index, utilizationPct: (nowMs / 1000 + index * 7) % 100 },
    ...{ memoryUsedMiB: 40_000 + index * 1000, memoryTotalMiB: GPU_MEMORY_MIB },
    ...{ temperatureC: 55 + index, powerDrawW: 450.5 + index },
  }));
}

/**
 * The node's Status, encoded: full, or a delta over Status `baseSeq` with the GPU samples (real GPUs'
 * readings move between two heartbeats) and no pods (none changed).
 */
export function statusBytes(
  n: SimNode,
  seq: number,
  atMs: number,
  baseSeq: number | null = null,
  wantAck = false,
): Uint8Array {
  const podStates = baseSeq === null ? [...n.pods.values(), ...n.padding] : [];
  const delta = baseSeq === null ? null : { baseSeq, gonePods: [] };
  const value = { seq, atMs, gpuSamples: samples(n, atMs), podStates, delta, wantAck };
  return encodeFrame(makeFrame({ case: 'status', value }));
}

/** Appends terminal states of earlier pods until a Status encodes to at least `bytes`. */
export function padTo(n: SimNode, bytes: number): void {
  while (bytes > 0 && statusBytes(n, SEQ_BASE, Date.now()).byteLength < bytes) {
    const k = n.padding.length;
    const killed = k % 3 === 0;
    n.padding.push({
      ...{ podId: `${hex(Math.imul(k + 1, 40_503), 8)}-bench-${n.node}/finetune-${k}-0`, epoch: 1 },
      ...{ state: 'exited', pid: 40_000 + k, exitCode: killed ? 137 : 0, signal: killed ? 'SIGKILL' : null },
      reason: killed ? 'gpu memory over the pod limit' : 'completed',
      startedAtMs: 1_700_000_000_000 + k * 60_000,
    });
  }
}

/** Protobuf varint bytes of `n` (n < 2^53). */
function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  for (; v >= 0x80; v = Math.floor(v / 0x80)) out.push((v % 0x80) | 0x80);
  out.push(v);
  return out;
}

function indexOfBytes(hay: Uint8Array, needle: readonly number[]): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i += 1) {
    for (let j = 0; j < needle.length; j += 1) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * The node's Status as a template. Thousands of agents re-encoding ~2 KiB every second in a few
 * fleet processes on the allocator's 2 cores would make the fleet, not the server, the bottleneck;
 * so each send copies the template and rewrites only seq and atMs, whose varints keep their length
 * (SEQ_BASE, TEMPLATE_AT_MS). Pod or sample changes make a new template.
 */
export function statusTemplate(n: SimNode, kind: 'full' | 'delta' = 'full'): StatusTemplate {
  const seq = SEQ_BASE + 77;
  const base = SEQ_BASE + 76;
  const bytes = statusBytes(n, seq, TEMPLATE_AT_MS, kind === 'delta' ? base : null);
  // The one byte that differs from the same Status asking for an Ack is want_ack's value.
  const asking = statusBytes(n, seq, TEMPLATE_AT_MS, kind === 'delta' ? base : null, true);
  const wantAckAt = asking.length === bytes.length ? bytes.findIndex((b, i) => b !== asking[i]) : -1;
  // 0x08: field 1 (seq) varint; 0x20: field 4 (atMs) varint, in Status (common/proto/tessera.proto);
  // 0x08 again for StatusDelta.base_seq, told apart by its value.
  const seqAt = indexOfBytes(bytes, [0x08, ...varint(seq)]) + 1;
  const atMsAt = indexOfBytes(bytes, [0x20, ...varint(TEMPLATE_AT_MS)]) + 1;
  const baseSeqAt = kind === 'delta' ? indexOfBytes(bytes, [0x08, ...varint(base)]) + 1 : null;
  if (seqAt <= 0 || atMsAt <= 0 || baseSeqAt === 0 || wantAckAt < 0)
    throw new Error('link-frames: seq / atMs / baseSeq / wantAck not found in the encoded Status');
  return { bytes, seqAt, atMsAt, baseSeqAt, wantAckAt };
}

/** The template's bytes with `seq` (< 2^21), `atMs` (and a delta's baseSeq, seq - 1) written into their fixed-length varints, and `wantAck`. */
export function patchStatus(t: StatusTemplate, seq: number, atMs: number, wantAck = false): Buffer {
  const out = Buffer.from(t.bytes);
  const write = (at: number, n: number, len: number) => {
    let v = n;
    for (let i = 0; i < len; i += 1, v = Math.floor(v / 0x80))
      out[at + i] = (v % 0x80) | (i < len - 1 ? 0x80 : 0);
  };
  write(t.seqAt, seq, 3);
  write(t.atMsAt, atMs, 6);
  if (t.baseSeqAt !== null) write(t.baseSeqAt, seq - 1, 3);
  out[t.wantAckAt] = wantAck ? 1 : 0;
  return out;
}
