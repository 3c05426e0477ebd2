/**
 * GPU utilization in 30-second windows, per GPU uuid per node, fed from the agents' Status
 * `gpuSamples` (for the idle GPU scheduling rule). In memory only: after an allocator restart idleness is
 * measured afresh, which can only delay an idle stop, never cause a wrong one.
 *
 * A window is idle when it holds at least one sample and every sample read exactly 0%. A sample with
 * no reading (null) counts as busy, and a window with no samples breaks the run: without evidence
 * the GPU is never judged idle.
 */
import type { WireGpuSample } from '../../common/wire-types.ts';
import { GPU_WINDOW_MS, type GpuIdleRun, gpuKey } from '../lifecycle/rules.ts';

/** The tracker the allocator feeds and the cycle reads. */
export interface GpuUsageTracker {
  /** Records one Status worth of samples from `node`, received at `atMs` (the allocator's clock). */
  record(node: string, samples: readonly WireGpuSample[], atMs: number): void;
  /** Every GPU's idle run as of `nowMs`, keyed by `gpuKey(node, uuid)`. */
  idleRuns(nowMs: number): Map<string, GpuIdleRun>;
  /** Drops a node's GPUs (the node left or was lost). */
  forgetNode(node: string): void;
}

interface GpuState {
  /** Start of the window being filled. */
  windowStartMs: number;
  /** Whether any sample in that window was not exactly 0%. */
  busy: boolean;
  run: GpuIdleRun;
}

/** The state after the window being filled closes. */
function closed(s: GpuState, windowMs: number): GpuIdleRun {
  if (s.busy) return { idleSinceMs: null, throughMs: s.windowStartMs + windowMs };
  // Contiguous with the last closed window: the run goes on; after a gap it starts again here.
  const continues = s.run.idleSinceMs !== null && s.run.throughMs === s.windowStartMs;
  return {
    idleSinceMs: continues ? s.run.idleSinceMs : s.windowStartMs,
    throughMs: s.windowStartMs + windowMs,
  };
}

/** A fresh tracker; `windowMs` is 30 s unless a test says otherwise. */
export function createGpuUsageTracker(windowMs = GPU_WINDOW_MS): GpuUsageTracker {
  // By node, then GPU uuid: every Status of every node lands here, so no key string is built per sample.
  const nodes = new Map<string, Map<string, GpuState>>();
  return {
    record(node, samples, atMs) {
      const windowStartMs = Math.floor(atMs / windowMs) * windowMs;
      let gpus = nodes.get(node);
      if (gpus === undefined && samples.length > 0) {
        gpus = new Map();
        nodes.set(node, gpus);
      }
      if (gpus === undefined) return;
      for (const sample of samples) {
        let s = gpus.get(sample.uuid);
        if (s === undefined) {
          s = { windowStartMs, busy: false, run: { idleSinceMs: null, throughMs: windowStartMs } };
          gpus.set(sample.uuid, s);
        }
        // A late sample for a window already closed changes nothing.
        if (windowStartMs < s.windowStartMs) continue;
        if (windowStartMs > s.windowStartMs) {
          s.run = closed(s, windowMs);
          s.windowStartMs = windowStartMs;
          s.busy = false;
        }
        if (sample.utilizationPct !== 0) s.busy = true;
      }
    },
    idleRuns(nowMs) {
      const out = new Map<string, GpuIdleRun>();
      for (const [node, gpus] of nodes) {
        for (const [uuid, s] of gpus) {
          // A window whose time is up counts as closed even before the next sample arrives.
          const run = nowMs >= s.windowStartMs + windowMs ? closed(s, windowMs) : { ...s.run };
          out.set(gpuKey(node, uuid), run);
        }
      }
      return out;
    },
    forgetNode(node) {
      nodes.delete(node);
    },
  };
}
