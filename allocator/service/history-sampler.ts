/**
 * Feeds the usage history (history.ts) once per interval: reads the nodes, placed pods, pools and
 * quotas from the store and the GPU readings from the sample cache, builds the sample
 * (history-points.ts) and records it. Only a leader samples: a standby's cache is empty (agents talk
 * to the leader) and its history routes are forwarded to the leader (ha/forward.ts).
 */
import type { Db } from '../store/db.ts';
import { listNodes } from '../store/nodes.ts';
import { DEFAULT_POOL, listPools, listQueues, listQuotas } from '../store/org.ts';
import { listPods, SCHEDULED_POD_PHASES } from '../store/pods.ts';
import { poolOf } from '../store/snapshot.ts';
import { listWorkloads } from '../store/workloads.ts';
import type { GpuSampleCache } from './gpu-samples.ts';
import type { History } from './history.ts';
import { historySample } from './history-points.ts';
import { topView } from './top.ts';

/** What the sampler reads and when it may. */
export interface HistorySamplerDeps {
  db: Db;
  samples: GpuSampleCache;
  history: History;
  now: () => number;
  /** Whether this allocator leads now; a standby skips its turn. */
  leading: () => boolean;
  /** Called with a sample that could not be taken (the store failed); the next turn tries again. */
  onError: (error: unknown) => void;
}

/** A running sampler. */
export interface HistorySampler {
  /** Takes one sample now (tests, and the first one at start). */
  sampleNow(): void;
  stop(): void;
}

/** Records one sample from the store and the sample cache. */
export function takeHistorySample(
  deps: Pick<HistorySamplerDeps, 'db' | 'samples' | 'history' | 'now'>,
): void {
  const { db } = deps;
  const nodes = listNodes(db);
  const pools = listPools(db);
  const top = topView(
    nodes,
    listPods(db, { phases: SCHEDULED_POD_PHASES }),
    listWorkloads(db, { withPodsIn: SCHEDULED_POD_PHASES }),
    (n) => deps.samples.get(n),
  );
  const poolNames = new Set([DEFAULT_POOL, ...pools.map((p) => p.name)]);
  deps.history.record(
    deps.now(),
    historySample({
      top,
      poolOfNode: new Map(nodes.map((n) => [n.name, poolOf(pools, n.labels)])),
      pools: [...poolNames],
      queues: listQueues(db),
      quotas: listQuotas(db),
    }),
  );
}

/** Samples every `history.shape.intervalMs` until stopped; the timer never keeps the process alive. */
export function startHistorySampler(deps: HistorySamplerDeps): HistorySampler {
  const sampleNow = (): void => {
    if (!deps.leading()) return;
    try {
      takeHistorySample(deps);
    } catch (e) {
      deps.onError(e);
    }
  };
  const timer = setInterval(sampleNow, deps.history.shape.intervalMs);
  timer.unref();
  return { sampleNow, stop: () => clearInterval(timer) };
}
