/**
 * Feeds the usage history (history.ts) once per interval: the leader's scheduler thread reads the
 * nodes, placed pods, pools and quotas from its own store connection, takes the GPU readings the
 * sample cache hands it (gpu-samples.ts `flat`), builds the sample (history-points.ts), and the
 * event loop only records it. Only a leader samples: a standby's cache is empty (agents talk
 * to the leader) and its history routes are forwarded to the leader (ha/forward.ts).
 */
import type { Db } from '../store/db.ts';
import { listNodes, type NodeRecord } from '../store/nodes.ts';
import { DEFAULT_POOL, listPools, listQueues, listQuotas } from '../store/org.ts';
import { listPods, SCHEDULED_POD_PHASES } from '../store/pods.ts';
import { poolOf } from '../store/snapshot.ts';
import { listWorkloads } from '../store/workloads.ts';
import type { GpuSampleCache, NodeSamples } from './gpu-samples.ts';
import type { History, HistorySample } from './history.ts';
import { historySample } from './history-points.ts';
import { topView } from './top.ts';

/** What the sampler needs and when it may sample. */
export interface HistorySamplerDeps {
  history: History;
  now: () => number;
  /** Whether this allocator leads now; a standby skips its turn. */
  leading: () => boolean;
  /** Builds one sample: the leader's scheduler thread does it (CycleWorker.history), off the event loop. */
  sample: () => Promise<HistorySample>;
  /** Called with a sample that could not be taken (the store failed); the next turn tries again. */
  onError: (error: unknown) => void;
}

/** A running sampler. */
export interface HistorySampler {
  /** Takes one sample now (tests, and the first one at start); resolves once it is recorded or failed. */
  sampleNow(): Promise<void>;
  stop(): void;
}

/** One sample from the store and the GPU readings `samplesFor` gives its nodes: what the scheduler's thread runs. */
export function readHistorySample(
  db: Db,
  samplesFor: (nodes: readonly NodeRecord[]) => ReadonlyMap<string, NodeSamples>,
): HistorySample {
  const nodes = listNodes(db);
  const samples = samplesFor(nodes);
  const pools = listPools(db);
  const top = topView(
    nodes,
    listPods(db, { phases: SCHEDULED_POD_PHASES }),
    listWorkloads(db, { withPodsIn: SCHEDULED_POD_PHASES }),
    (n) => samples.get(n),
  );
  const poolNames = new Set([DEFAULT_POOL, ...pools.map((p) => p.name)]);
  return historySample({
    top,
    poolOfNode: new Map(nodes.map((n) => [n.name, poolOf(pools, n.labels)])),
    pools: [...poolNames],
    queues: listQueues(db),
    quotas: listQuotas(db),
  });
}

/** Records one sample read on this thread now (tests; the allocator samples on its scheduler's thread). */
export function takeHistorySample(deps: {
  db: Db;
  samples: Pick<GpuSampleCache, 'get'>;
  history: History;
  now: () => number;
}): void {
  const samplesFor = (nodes: readonly NodeRecord[]): Map<string, NodeSamples> => {
    const out = new Map<string, NodeSamples>();
    for (const n of nodes) {
      const s = deps.samples.get(n.name);
      if (s !== undefined) out.set(n.name, s);
    }
    return out;
  };
  deps.history.record(deps.now(), readHistorySample(deps.db, samplesFor));
}

/** Samples every `history.shape.intervalMs` until stopped; the timer never keeps the process alive. */
export function startHistorySampler(deps: HistorySamplerDeps): HistorySampler {
  // One at a time: a slow store must not pile samples up behind it.
  let running: Promise<void> | null = null;
  const sampleNow = (): Promise<void> => {
    if (!deps.leading()) return Promise.resolve();
    running ??= deps
      .sample()
      .then((s) => {
        deps.history.record(deps.now(), s);
      }, deps.onError)
      .finally(() => {
        running = null;
      });
    return running;
  };
  const timer = setInterval(() => void sampleNow(), deps.history.shape.intervalMs);
  timer.unref();
  return { sampleNow, stop: () => clearInterval(timer) };
}
