/**
 * One node pool's capacity index: nodes in name order (their rank is the tie-break), bucketed by
 * free capacity so a placement walks buckets instead of scanning nodes:
 * - `whole`: key (fully free healthy GPUs, free GPU milli) -> node ranks;
 * - `gpus`: key (a healthy GPU's free milli, its node's free GPU milli) -> rank x GPU_SLOTS + position.
 * Cordoned nodes are in neither. Every change bumps the node's version and is appended to a log,
 * so the per-request score indexes (score-index.ts, kept by the placer per pool) re-score only nodes
 * changed since they last looked.
 */
import { MILLI_PER_GPU, memoryToGpuMilli } from '../../../common/resources.ts';
import { OrderedBuckets } from './buckets.ts';
import { freeGpuMilli, fullyFreeCount } from './fit.ts';
import type { CompiledMix } from './mix.ts';
import { KEY_SCALE } from './policies/common.ts';
import type { NodeMeasure } from './policy.ts';
import type { NodeState, PlacementRequest } from './types.ts';

/** Entries of the GPU buckets are rank x GPU_SLOTS + position of the GPU in `node.gpus`. */
export const GPU_SLOTS = 1024;

/**
 * The least milli a share request can need on any GPU of the pool: its milli, or for a memory-sized
 * share the milli it implies on the pool's largest GPU (smaller GPUs need more).
 */
export function shareMilliLowerBound(pool: PoolIndex, req: PlacementRequest): number {
  if (req.gpuMilli > 0) return Math.min(req.gpuMilli, MILLI_PER_GPU);
  return Math.max(1, memoryToGpuMilli(req.gpuMemoryMiB, pool.maxGpuMemoryMiB));
}

/** Compares node names by UTF-16 code units (byte order for ASCII names), the tie-break order. */
export function byName(a: NodeState, b: NodeState): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** The capacity index of one pool. */
export class PoolIndex {
  readonly nodes: NodeState[];
  /** Bumped on every change of a node, by rank. */
  readonly version: number[];
  // 64 nodes per chunk: updates splice small arrays, walks stay in (key, rank) order.
  readonly whole = new OrderedBuckets(64);
  readonly gpus = new OrderedBuckets(64 * GPU_SLOTS);
  /** The largest GPU memory in the pool: bounds the milli a memory-sized share can need. */
  maxGpuMemoryMiB = 0;
  /** Ranks changed, oldest first; `logBase` is the absolute position of `log[0]`. */
  log: number[] = [];
  logBase = 0;
  /** Memo of node measures (policy.ts `memo`): per measure, value and the version it was taken at. */
  readonly memos = new Map<NodeMeasure, { val: Float64Array; ver: Int32Array }>();
  private readonly wholeKey: number[];
  private readonly gpuKeys: number[][];

  constructor(
    readonly name: string,
    nodes: readonly NodeState[],
  ) {
    this.nodes = [...nodes].sort(byName);
    const n = this.nodes.length;
    this.version = new Array<number>(n).fill(0);
    this.wholeKey = new Array<number>(n).fill(-1);
    this.gpuKeys = this.nodes.map(() => []);
    for (let r = 0; r < n; r++) this.bucket(r);
  }

  /** Absolute position one past the newest log entry. */
  get logEnd(): number {
    return this.logBase + this.log.length;
  }

  /** Re-buckets the node at `rank` after its state changed (or it was replaced by `node`). */
  touch(rank: number, node?: NodeState): void {
    this.unbucket(rank);
    if (node !== undefined) this.nodes[rank] = node;
    this.bucket(rank);
    this.version[rank] = (this.version[rank] ?? 0) + 1;
    this.log.push(rank);
    // Keep the log short: a score index that fell behind the trimmed log compares versions instead.
    if (this.log.length > 4 * this.nodes.length + 1024) {
      this.logBase += this.log.length;
      this.log = [];
    }
  }

  /** `measure` of the node at `rank`, computed at most once per version of the node. */
  memo(rank: number, measure: NodeMeasure, mix: CompiledMix): number {
    let m = this.memos.get(measure);
    if (m === undefined) {
      m = { val: new Float64Array(this.nodes.length), ver: new Int32Array(this.nodes.length).fill(-1) };
      this.memos.set(measure, m);
    }
    const v = this.version[rank] ?? 0;
    if (m.ver[rank] !== v) {
      const node = this.nodes[rank];
      m.val[rank] = node === undefined ? 0 : measure(node, mix);
      m.ver[rank] = v;
    }
    return m.val[rank] ?? 0;
  }

  /** Number of cordoned (unschedulable) nodes. */
  cordoned(): number {
    let c = 0;
    for (const n of this.nodes) if (!n.schedulable) c++;
    return c;
  }

  private bucket(rank: number): void {
    const node = this.nodes[rank];
    if (node === undefined || !node.schedulable) return;
    const total = freeGpuMilli(node);
    const wk = fullyFreeCount(node) * KEY_SCALE + total;
    this.wholeKey[rank] = wk;
    this.whole.add(wk, rank);
    const keys: number[] = [];
    node.gpus.forEach((g, pos) => {
      if (g.memoryMiB > this.maxGpuMemoryMiB) this.maxGpuMemoryMiB = g.memoryMiB;
      if (!g.healthy || g.freeMilli <= 0 || pos >= GPU_SLOTS) {
        keys.push(-1);
        return;
      }
      const k = g.freeMilli * KEY_SCALE + total;
      keys.push(k);
      this.gpus.add(k, rank * GPU_SLOTS + pos);
    });
    this.gpuKeys[rank] = keys;
  }

  private unbucket(rank: number): void {
    const wk = this.wholeKey[rank] ?? -1;
    if (wk >= 0) this.whole.remove(wk, rank);
    this.wholeKey[rank] = -1;
    (this.gpuKeys[rank] ?? []).forEach((k, pos) => {
      if (k >= 0) this.gpus.remove(k, rank * GPU_SLOTS + pos);
    });
    this.gpuKeys[rank] = [];
  }
}
