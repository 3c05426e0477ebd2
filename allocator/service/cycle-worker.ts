/**
 * The scheduler off the event loop (docs/architecture.md §3, "Cycles off the event loop"): a worker
 * thread reads the snapshot from its own store connection and runs `runCycle`, so the event loop
 * that answers agents and the API only commits and dispatches the plan, a slice at a time. The
 * plan comes back as JSON chunks, parsed between pauses too.
 */
import { Worker } from 'node:worker_threads';
import type { Slicer } from '../../common/slicer.ts';
import type {
  ActionName,
  Bind,
  Eviction,
  PendingReason,
  Plan,
  PlannedPhaseChange,
} from '../scheduler/plan.ts';
import type { QueueSnap } from '../scheduler/snapshot.ts';
import type { SnapshotReadStats } from '../store/snapshot.ts';
import type { FlatSamples } from './gpu-samples.ts';
import type { HistorySample } from './history.ts';

/** What the thread is started with. */
export interface CycleThreadData {
  dataDir: string;
  /** The store's URL when it is not the SQLite file in `dataDir` (PostgreSQL): the thread opens it too. */
  url?: string;
}

/** One cycle asked of the thread: the instant, and the autoscaler's wanted replicas by workload. */
export interface CycleRequest {
  id: number;
  kind: 'cycle';
  nowMs: number;
  wanted: [string, number][];
}

/** A usage history sample asked of the thread, over the GPU readings the allocator holds. */
export interface HistoryRequest {
  id: number;
  kind: 'history';
  samples: FlatSamples;
}

/** What the thread answers a HistoryRequest with. */
export type HistoryReply =
  | { id: number; ok: true; sample: HistorySample }
  | { id: number; ok: false; error: string };

/** One JSON chunk of a plan: some items of one of its lists. */
export interface PlanChunk {
  binds?: Bind[];
  evictions?: Eviction[];
  phaseChanges?: PlannedPhaseChange[];
  pending?: PendingReason[];
}

/** The thread's answer: the plan in chunks, or why it failed. */
export type CycleReply =
  | {
      id: number;
      ok: true;
      chunks: string[];
      shares: NonNullable<Plan['shares']>;
      queues: Pick<QueueSnap, 'name' | 'parent'>[];
      actionMs: [ActionName, number][];
      snapshotMs: number;
      planMs: number;
      stats: SnapshotReadStats;
    }
  | { id: number; ok: false; error: string };

/** A plan as the thread made it, with what the allocator records beside it. */
export interface ThreadPlan {
  plan: Plan;
  queues: Pick<QueueSnap, 'name' | 'parent'>[];
  actionMs: [ActionName, number][];
  snapshotMs: number;
  planMs: number;
  stats: SnapshotReadStats;
}

/** The handle on the scheduler's thread. */
export interface CycleWorker {
  /** The plan for `nowMs` over the store as it is now; rejects when the thread failed. */
  plan(nowMs: number, wanted: [string, number][], slicer: Slicer): Promise<ThreadPlan>;
  /**
   * A usage history sample over the store as it is now and `samples`: built on the thread because
   * at 10,000 nodes it took 0.3-0.6 s, which on the event loop held every agent's Status that long.
   */
  history(samples: FlatSamples): Promise<HistorySample>;
  /** Stops the thread. */
  close(): Promise<void>;
}

const THREAD_URL = new URL(
  `./cycle-thread${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`,
  import.meta.url,
);

/** The entry of a thread running from TypeScript sources (service/ts-thread.mjs). */
const TS_THREAD_URL = new URL('./ts-thread.mjs', import.meta.url);

/** Starts the thread: from compiled JavaScript directly, from TypeScript through ts-thread.mjs. */
function startThread(data: CycleThreadData): Worker {
  if (!THREAD_URL.href.endsWith('.ts')) return new Worker(THREAD_URL, { workerData: data });
  const tsThread = { tsxApi: import.meta.resolve('tsx/esm/api'), module: THREAD_URL.href };
  return new Worker(TS_THREAD_URL, { workerData: { ...data, tsThread } });
}

/** Starts the scheduler's thread over the allocator's store; a thread that dies is started again at the next cycle. */
export function startCycleWorker(data: CycleThreadData): CycleWorker {
  let worker: Worker | null = null;
  let nextId = 1;
  type Reply = CycleReply | HistoryReply;
  const waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  const failAll = (e: Error): void => {
    for (const w of waiting.values()) w.reject(e);
    waiting.clear();
  };
  const thread = (): Worker => {
    if (worker !== null) return worker;
    const w = startThread(data);
    w.on('message', (reply: Reply) => {
      waiting.get(reply.id)?.resolve(reply);
      waiting.delete(reply.id);
    });
    w.on('error', (e) => {
      failAll(e);
      if (worker === w) worker = null;
    });
    w.on('exit', (code) => {
      failAll(new Error(`the scheduler thread exited (code ${code})`));
      if (worker === w) worker = null;
    });
    // The allocator's own timers keep the process alive, not an idle scheduler.
    w.unref();
    worker = w;
    return w;
  };
  const ask = (req: CycleRequest | HistoryRequest): Promise<Reply> =>
    new Promise<Reply>((resolve, reject) => {
      waiting.set(req.id, { resolve, reject });
      thread().postMessage(req);
    });
  return {
    async plan(nowMs, wanted, slicer) {
      const reply = (await ask({ id: nextId++, kind: 'cycle', nowMs, wanted })) as CycleReply;
      if (!reply.ok) throw new Error(`scheduler thread: ${reply.error}`);
      const plan: Plan = { binds: [], evictions: [], phaseChanges: [], pending: [], shares: reply.shares };
      for (const chunk of reply.chunks) {
        if (slicer.due()) await slicer.pause();
        const part = JSON.parse(chunk) as PlanChunk;
        if (part.binds) plan.binds.push(...part.binds);
        if (part.evictions) plan.evictions.push(...part.evictions);
        if (part.phaseChanges) plan.phaseChanges.push(...part.phaseChanges);
        if (part.pending) plan.pending.push(...part.pending);
      }
      const { queues, actionMs, snapshotMs, planMs, stats } = reply;
      return { plan, queues, actionMs, snapshotMs, planMs, stats };
    },
    async history(samples) {
      const reply = (await ask({ id: nextId++, kind: 'history', samples })) as HistoryReply;
      if (!reply.ok) throw new Error(`scheduler thread: ${reply.error}`);
      return reply.sample;
    },
    async close() {
      const w = worker;
      worker = null;
      if (w === null) return;
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
      w.postMessage('close');
      // A thread busy with a cycle is not waited for.
      const timer = setTimeout(() => void w.terminate(), 1000);
      await exited;
      clearTimeout(timer);
    },
  };
}
