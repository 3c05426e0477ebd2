/**
 * A leader's term (docs/architecture.md §11): what an allocator runs only while it holds the lease.
 * The agent link (which gives every known node a fresh lease, so none is lost for the outage),
 * dispatch and absence checks from a clean slate, the node lease checks, and the cycle loop whose
 * cycles plan on the scheduler's thread and commit and dispatch here in slices. Created on taking
 * the lease (main.ts), ended on losing it.
 */
import type { Server } from 'node:http';
import { DISCONNECT_MARGIN_MS, MIN_RESCHEDULE_MS } from '../../common/disconnect.ts';
import { createSlicer, type Slicer } from '../../common/slicer.ts';
import type { TokenStore } from '../identity/tokens.ts';
import { enforceSchedulingRules } from '../lifecycle/enforce-rules.ts';
import { recordPodEvent } from '../lifecycle/pod-events.ts';
import { applyPodReport, nodeLost, replaceCutOff } from '../lifecycle/reports.ts';
import { teardown } from '../lifecycle/teardown.ts';
import { attachAgentLink } from '../link/server.ts';
import type { AgentLink } from '../link/types.ts';
import type { AllocatorMetrics } from '../metrics.ts';
import { isEmptyPlan } from '../scheduler/plan.ts';
import type { Serving } from '../serve/serving.ts';
import { applyPlanInSlices } from '../store/apply-plan.ts';
import type { Db } from '../store/db.ts';
import { silentNodes } from '../store/nodes.ts';
import { hasRuledWork } from '../store/policies.ts';
import { hasTimedWork } from '../store/snapshot.ts';
import { createAbsenceCheck } from './absence.ts';
import { type CycleWorker, startCycleWorker } from './cycle-worker.ts';
import { createDispatcher, type Dispatcher } from './dispatch.ts';
import type { ExplainStore } from './explain.ts';
import type { GpuSampleCache } from './gpu-samples.ts';
import type { GpuUsageTracker } from './gpu-usage.ts';
import { type CycleLoop, createCycleLoop } from './loop.ts';
import type { ResolvedAllocatorOptions } from './options.ts';
import type { ShareStore } from './shares.ts';
import type { AllocatorStats } from './types.ts';

/**
 * Longest stretch a cycle holds the event loop between two pauses (the plan's commit and dispatch
 * run in slices this long): well under the 50 ms an agent's frames may wait.
 */
const SLICE_MS = 10;

/** What a leader runs and a standby does not. */
export interface Term {
  epoch: number;
  link: AgentLink;
  dispatcher: Dispatcher;
  scheduler: CycleWorker;
  loop: CycleLoop;
  /** Stops the loop and the lease checks and closes every agent session. */
  end(): Promise<void>;
}

/** The allocator's cycle counters, which outlive terms (AllocatorStats). */
export type CycleCounters = Omit<AllocatorStats, 'link' | 'logFollows'>;

/** What a term needs from the allocator around it; everything else it makes itself. */
export interface TermDeps {
  db: Db;
  tokens: TokenStore;
  server: Server;
  options: ResolvedAllocatorOptions;
  /** Runs `fn` only while leading, logs what it throws, steps down on a fenced write; a true result asks for a cycle. */
  guarded(what: string, fields: Record<string, string>, fn: () => boolean): void;
  leading(): boolean;
  requestCycle(): void;
  gpuSamples: GpuSampleCache;
  gpuUsage: GpuUsageTracker;
  explain: ExplainStore;
  shares: ShareStore;
  serving: Serving;
  metrics: AllocatorMetrics;
  counters: CycleCounters;
}

/** Starts leading at `epoch`; the store is already fenced at it. */
export function startTerm(epoch: number, deps: TermDeps): Term {
  const { db, options, guarded, gpuSamples, gpuUsage } = deps;
  const { now, log, heartbeatMs, leaseMs } = options;
  const link = attachAgentLink(deps.server, {
    db,
    tokens: deps.tokens,
    leaseMs,
    heartbeatMs,
    // Checked below, only while this allocator leads.
    leaseCheckMs: 0,
    now,
    log,
    // Only an ended pod frees resources (or requeues work); a pod becoming ready needs no new plan.
    onPodReport: (node, report, pod) =>
      guarded('pod report', { node, podId: report.podId }, () => {
        const r = applyPodReport(db, report, pod, now());
        return r.changed && (report.state === 'exited' || report.state === 'lost' || r.stops.length > 0);
      }),
    onStatus: (node, status) => {
      options.onAgentStatus?.(node, status.atMs);
      gpuSamples.record(node, status.gpuSamples, now()); // for tessera top
      gpuUsage.record(node, status.gpuSamples, now()); // for the idle GPU rule
      guarded('status', { node }, () => dispatcher.onStatus(node, status, now()).changed);
      guarded('absent pods', { node }, () => absence.onStatus(node, status, now()).changed);
    },
    onEvent: (node, event) =>
      guarded('pod event', { node }, () => {
        recordPodEvent(db, node, event, now());
        return false;
      }),
    onNodeChange: (c) =>
      guarded(`node ${c.change}`, { node: c.node }, () => {
        if (c.change === 'connected') dispatcher.forgetNode(c.node);
        if (c.change === 'lost') {
          nodeLost(db, c.node, now());
          // Its pods run elsewhere now; its old idle windows must not count against them.
          gpuUsage.forgetNode(c.node);
          return true;
        }
        // New capacity matters only to work waiting for it: a fleet joining an idle cluster (thousands
        // of Hellos after a restart) must not set off a cycle over every node each time.
        return hasTimedWork(db);
      }),
    onLeaseCheck: (at) =>
      guarded('disconnect policies', {}, () => {
        const silent = silentNodes(db, at, MIN_RESCHEDULE_MS + DISCONNECT_MARGIN_MS);
        return silent.size > 0 && replaceCutOff(db, silent, at).changed;
      }),
  });
  const dispatcher = createDispatcher(db, (node, frame) => link.dispatch(node, frame), {
    heartbeatMs,
    log,
  });
  const absence = createAbsenceCheck(db, { heartbeatMs });

  const t: Term = {
    epoch,
    link,
    dispatcher,
    // The scheduler runs on its own thread over its own store connection (service/cycle-worker.ts).
    scheduler: startCycleWorker({
      dataDir: options.dataDir,
      ...(options.store === undefined ? {} : { url: options.store }),
    }),
    loop: createCycleLoop(() => cycle(t, createSlicer(SLICE_MS), deps), {
      coalesceMs: options.coalesceMs,
      periodicMs: options.periodicCycleMs,
      idle: () => !hasTimedWork(db) && !hasRuledWork(db), // rules need the periodic tick
      log,
    }),
    async end() {
      // Before anything is awaited: from this call on, upgrades are the standby door's or nobody's.
      link.refuseNew();
      clearInterval(leaseTimer);
      t.loop.close();
      await t.loop.settled();
      await t.scheduler.close();
      await link
        .close()
        .catch((e: unknown) => log.warn('agent link closed with an error', { error: String(e) }));
    },
  };
  const leaseTimer = setInterval(
    () => guarded('lease check', {}, () => link.checkLeases().length > 0),
    heartbeatMs,
  );
  leaseTimer.unref();
  return t;
}

/**
 * One cycle of term `t`. Only the short parts run on this event loop, in slices of at most
 * SLICE_MS: the snapshot and the plan are made on the scheduler's thread, and the plan is committed
 * and dispatched a slice at a time, so agents and API calls are answered in between.
 */
async function cycle(t: Term, slicer: Slicer, deps: TermDeps): Promise<void> {
  const { db, options, metrics, counters } = deps;
  const { now, log } = options;
  if (!deps.leading()) return;
  const { dispatcher, scheduler } = t;
  const started = performance.now();
  const at = now();
  // Scheduling rules move expired work to Stopped; the teardown below stops its pods.
  metrics.ruleStops(enforceSchedulingRules(db, deps.gpuUsage.idleRuns(at), at).length);
  teardown(db);
  const made = await scheduler.plan(at, deps.serving.scaler.wantedAll(), slicer);
  for (const [action, ms] of made.actionMs) metrics.actionTimed(action, ms);
  const { plan } = made;
  deps.explain.record(plan.pending, at); // for tessera explain
  deps.shares.record(made, plan);
  if (!isEmptyPlan(plan)) {
    // Committed (decision and quota accounting) before anything is sent, a slice at a time.
    const applied = await applyPlanInSlices(db, plan, at, slicer, metrics.timeStore);
    options.onPlanCommitted?.(now(), applied.starts);
    // One line per change: tens of thousands after a large plan, so they are written in slices too.
    for (const c of applied.phaseChanges) {
      log.info('workload phase', { workload: c.workload, from: c.from, to: c.to, reason: c.reason });
      if (slicer.due()) await slicer.pause();
    }
    // The store moved on since the snapshot: what was left out is planned again next cycle.
    if (applied.skipped.length > 0) deps.requestCycle();
  }
  const sent = await dispatcher.syncInSlices(at, slicer);
  counters.cycles += 1;
  counters.lastCycleMs = performance.now() - started;
  metrics.cycleDone(counters.lastCycleMs, plan);
  counters.startsSent += sent.starts;
  counters.stopsSent += sent.stops;
  counters.startsHeld = sent.held;
  counters.startsFailed += sent.failed;
  // A failed pod changes its workload's phase: the next cycle sees it.
  if (sent.failed > 0) deps.requestCycle();
}
