/**
 * The scheduler's thread (allocator/service/cycle-worker.ts starts it): it holds its own connection
 * to the store and a snapshot reader that keeps what it parsed, and for each request reads a
 * snapshot and runs `runCycle` over it. The plan goes back as JSON in chunks, so the event loop that
 * receives it can parse it a slice at a time. It never writes: the allocator's thread commits.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ACTIONS } from '../scheduler/actions/index.ts';
import { runCycle } from '../scheduler/cycle.ts';
import type { ActionName, Plan } from '../scheduler/plan.ts';
import type { Db } from '../store/db.ts';
import { openStore } from '../store/db.ts';
import { createSnapshotReader } from '../store/snapshot.ts';
import type {
  CycleReply,
  CycleRequest,
  CycleThreadData,
  HistoryReply,
  HistoryRequest,
  PlanChunk,
} from './cycle-worker.ts';
import { samplesFromFlat } from './gpu-samples.ts';
import { readHistorySample } from './history-sampler.ts';

/** Items per JSON chunk of a plan: a few hundred KB, parsed in a few ms. */
const CHUNK = 2000;

/** The plan's lists as JSON strings of at most CHUNK items each. */
export function planChunks(plan: Plan): string[] {
  const out: string[] = [];
  const lists: [keyof PlanChunk, readonly unknown[]][] = [
    ['evictions', plan.evictions],
    ['phaseChanges', plan.phaseChanges],
    ['binds', plan.binds],
    ['pending', plan.pending],
  ];
  for (const [key, list] of lists)
    for (let i = 0; i < list.length; i += CHUNK)
      out.push(JSON.stringify({ [key]: list.slice(i, i + CHUNK) }));
  return out;
}

/** A usage history sample over this thread's connection and the readings the request carries. */
function historyReply(db: Db, req: HistoryRequest): HistoryReply {
  try {
    const sample = readHistorySample(db, (nodes) => samplesFromFlat(req.samples, nodes));
    return { id: req.id, ok: true, sample };
  } catch (e) {
    return { id: req.id, ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
}

function serve(data: CycleThreadData): void {
  const port = parentPort;
  if (port === null) throw new Error('cycle-thread.ts runs only as a worker thread');
  const db = openStore(data);
  const reader = createSnapshotReader();
  port.on('message', (req: CycleRequest | HistoryRequest | 'close') => {
    if (req === 'close') {
      db.close();
      port.close();
      return;
    }
    if (req.kind === 'history') {
      port.postMessage(historyReply(db, req));
      return;
    }
    let reply: CycleReply;
    try {
      const t0 = performance.now();
      const wanted = new Map(req.wanted);
      const snapshot = reader.read(db, req.nowMs, undefined, (id) => wanted.get(id));
      const t1 = performance.now();
      const actionMs: [ActionName, number][] = [];
      const plan = runCycle(snapshot, ACTIONS, (name, run) => {
        const started = performance.now();
        try {
          run();
        } finally {
          actionMs.push([name, performance.now() - started]);
        }
      });
      const t2 = performance.now();
      reply = {
        id: req.id,
        ok: true,
        chunks: planChunks(plan),
        shares: plan.shares ?? new Map(),
        queues: snapshot.queues.map((q) => ({ name: q.name, parent: q.parent })),
        actionMs,
        snapshotMs: t1 - t0,
        planMs: t2 - t1,
        stats: reader.lastStats(),
      };
    } catch (e) {
      reply = { id: req.id, ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
    }
    port.postMessage(reply);
  });
}

serve(workerData as CycleThreadData);
