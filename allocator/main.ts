/**
 * The allocator service (docs/architecture.md §1): one process holding the store, serving the API
 * and the agents' websocket on one HTTP server, and running the scheduler. Everything flows one way:
 * a change (submit, pod report, node join or loss) asks for a cycle; a cycle tears down stopped work,
 * snapshots the store, plans, commits the plan with its quota accounting, then dispatches.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Server as TlsServer } from 'node:tls';
import { writeJsonAtomicSync } from '../common/atomic-file.mjs';
import {
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_LEASE_MS,
  DISCONNECT_MARGIN_MS,
  MIN_RESCHEDULE_MS,
} from '../common/disconnect.ts';
import { createLogger, type Logger } from '../common/log.ts';
import { type DefaultsOf, type WithDefaults, withDefaults } from '../common/options.ts';
import { createSlicer, type Slicer } from '../common/slicer.ts';
import { buildApi } from './api/index.ts';
import type { LogSource } from './api/info-routes.ts';
import { createLogFollows } from './api/log-follows.ts';
import { enforceSchedulingRules } from './lifecycle/enforce-rules.ts';
import { recordPodEvent } from './lifecycle/pod-events.ts';
import { applyPodReport, nodeLost, replaceCutOff } from './lifecycle/reports.ts';
import { teardown } from './lifecycle/teardown.ts';
import { attachAgentLink } from './link/server.ts';
import { createAllocatorMetrics } from './metrics.ts';
import { isEmptyPlan } from './scheduler/plan.ts';
import { DEFAULT_COLD_START_MS, DEFAULT_STABILISATION_MS } from './serve/autoscaler.ts';
import { DEFAULT_WINDOW_MS } from './serve/load-meter.ts';
import { startServing } from './serve/serving.ts';
import { createAbsenceCheck } from './service/absence.ts';
import { ADMIN_TOKEN_FILE, ALLOCATOR_FILE, bootstrap, JOIN_TOKEN_FILE } from './service/bootstrap.ts';
import { startCycleWorker } from './service/cycle-worker.ts';
import { createDispatcher } from './service/dispatch.ts';
import { createExplainStore } from './service/explain.ts';
import { createGpuSampleCache } from './service/gpu-samples.ts';
import { createGpuUsageTracker } from './service/gpu-usage.ts';
import { createCycleLoop } from './service/loop.ts';
import { createShareStore } from './service/shares.ts';
import type { AllocatorOptions, AllocatorStats, RunningAllocator } from './service/types.ts';
import { applyPlanInSlices } from './store/apply-plan.ts';
import { openDb } from './store/db.ts';
import { silentNodes } from './store/nodes.ts';
import { hasRuledWork } from './store/policies.ts';
import { hasTimedWork } from './store/snapshot.ts';
import { sqliteTokenStore } from './store/tokens.ts';

export type { AllocatorOptions, AllocatorStats, RunningAllocator } from './service/types.ts';

/**
 * Longest stretch a cycle holds the event loop between two pauses (the plan's commit and dispatch
 * run in slices this long): well under the 50 ms an agent's frames may wait.
 */
const SLICE_MS = 10;

/** Default TCP port of the allocator's API and agent link. */
export const DEFAULT_PORT = 7400;

/** The defaults of `AllocatorOptions`, as its fields document them. */
const ALLOCATOR_DEFAULTS = {
  host: '127.0.0.1',
  port: DEFAULT_PORT,
  leaseMs: DEFAULT_LEASE_MS,
  heartbeatMs: DEFAULT_HEARTBEAT_MS,
  periodicCycleMs: 1000,
  coalesceMs: 50,
  metricsAuth: false,
  allowPublicServing: false,
  coldStartTimeoutMs: DEFAULT_COLD_START_MS,
  autoscaleStabilisationMs: DEFAULT_STABILISATION_MS,
  autoscaleWindowMs: DEFAULT_WINDOW_MS,
  autoscaleTickMs: 1000,
  now: Date.now,
} as const satisfies DefaultsOf<AllocatorOptions>;

/** `AllocatorOptions` complete: every default filled in. */
export type ResolvedAllocatorOptions = WithDefaults<AllocatorOptions, typeof ALLOCATOR_DEFAULTS> & {
  log: Logger;
};

/** Fills in every default of `options`: done once, where the allocator starts. */
export function resolveAllocatorOptions(options: AllocatorOptions): ResolvedAllocatorOptions {
  return {
    ...withDefaults(options, ALLOCATOR_DEFAULTS),
    log: options.log ?? createLogger({ stream: process.stderr, fields: { component: 'allocator' } }),
  };
}

/** Opens the store in `dataDir`, listens, and starts scheduling; resolves once it accepts connections. */
export async function startAllocator(given: AllocatorOptions): Promise<RunningAllocator> {
  const options = resolveAllocatorOptions(given);
  const { now, log, heartbeatMs, leaseMs } = options;
  const db = openDb({ dataDir: options.dataDir });
  const tokens = sqliteTokenStore(db, now);
  const boot = bootstrap(db, tokens, options.dataDir, now(), options.joinToken);
  const counters = { cycles: 0, lastCycleMs: 0, startsSent: 0, stopsSent: 0, startsHeld: 0, startsFailed: 0 };

  let requestCycle: () => void = () => {};
  // One report the lifecycle cannot apply is logged and skipped: it must not cut the node's link.
  const guarded = (what: string, fields: Record<string, string>, fn: () => boolean): void => {
    try {
      if (fn()) requestCycle();
    } catch (e) {
      log.error(`${what} not applied`, { ...fields, error: e instanceof Error ? e.message : String(e) });
    }
  };
  // The explain / top / logs sources, in memory (the link is attached below, asked at request time).
  const explain = createExplainStore();
  const gpuSamples = createGpuSampleCache();
  // GPU utilization in 30 s windows for the idle GPU scheduling rule.
  const gpuUsage = createGpuUsageTracker();
  const logs: LogSource = (node, ask, onChunk) => link.requestLogs(node, ask, onChunk);
  // Open log follows and what they hold for their readers, for /metrics and stats.
  const follows = createLogFollows();
  // Each queue's fair share as of the newest cycle, for /shares and /metrics.
  const shares = createShareStore();
  // The /metrics registry; the link is asked at scrape time, after it is attached below.
  const metrics = createAllocatorMetrics({
    db,
    connectedAgents: () => link.connectedNodes().length,
    shares: () => shares.rows(),
    logFollows: () => follows.stats(),
  });
  // The serving proxy's URLs name the allocator's external URL, known once it listens.
  let externalUrl = options.externalUrl ?? '';
  const serving = startServing({
    db,
    tokens,
    now,
    options,
    requestCycle: () => requestCycle(),
  });
  const app = buildApi({
    db,
    now,
    tokens,
    serving: { baseUrl: () => externalUrl, wanted: (id) => serving.scaler.wanted(id) },
    serveProxy: (root) => serving.register(root),
    onChange: () => requestCycle(),
    info: { explain, samples: gpuSamples, logs, shares, follows },
    disconnectNode: (node, reason) => link.disconnect(node, reason),
    metrics,
    metricsAuth: options.metricsAuth,
    console: true,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    logger: log.pino,
  });
  const link = attachAgentLink(app.server, {
    db,
    tokens,
    leaseMs,
    heartbeatMs,
    now,
    log,
    // Only an ended pod frees resources (or requeues work); a pod becoming ready needs no new plan.
    onPodReport: (node, report, pod) =>
      guarded('pod report', { node, podId: report.podId }, () => {
        const r = applyPodReport(db, report, pod, now());
        return r.changed && (report.state === 'exited' || report.state === 'lost' || r.stops.length > 0);
      }),
    onStatus: (node, status) => {
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
  const dispatcher = createDispatcher(db, (node, frame) => link.dispatch(node, frame), { heartbeatMs, log });
  const absence = createAbsenceCheck(db, { heartbeatMs });

  // The scheduler runs on its own thread over its own store connection (service/cycle-worker.ts).
  const scheduler = startCycleWorker({ dataDir: options.dataDir });
  /**
   * One cycle. Only the short parts run on this event loop, in slices of at most SLICE_MS: the
   * snapshot and the plan are made on the scheduler's thread, and the plan is committed and
   * dispatched a slice at a time, so agents and API calls are answered in between.
   */
  const cycle = async (slicer: Slicer): Promise<void> => {
    const started = performance.now();
    const at = now();
    // Scheduling rules move expired work to Stopped; the teardown below stops its pods.
    metrics.ruleStops(enforceSchedulingRules(db, gpuUsage.idleRuns(at), at).length);
    teardown(db);
    const made = await scheduler.plan(at, serving.scaler.wantedAll(), slicer);
    for (const [action, ms] of made.actionMs) metrics.actionTimed(action, ms);
    const { plan } = made;
    explain.record(plan.pending, at); // for tessera explain
    shares.record(made, plan);
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
      if (applied.skipped.length > 0) requestCycle();
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
    if (sent.failed > 0) requestCycle();
  };
  const loop = createCycleLoop(() => cycle(createSlicer(SLICE_MS)), {
    coalesceMs: options.coalesceMs,
    periodicMs: options.periodicCycleMs,
    idle: () => !hasTimedWork(db) && !hasRuledWork(db), // rules need the periodic tick
    log,
  });
  requestCycle = loop.request;

  const { host } = options;
  try {
    await app.listen({ host, port: options.port });
  } catch (e) {
    loop.close();
    await loop.settled();
    await scheduler.close();
    await link.close();
    db.close();
    throw e;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  // A wildcard address is not one a client can dial; on this machine loopback reaches it.
  const dialHost =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `${options.tls === undefined ? 'http' : 'https'}://${dialHost}:${port}`;
  if (externalUrl === '') externalUrl = url;
  const infoFile = join(options.dataDir, ALLOCATOR_FILE);
  const info = {
    url,
    pid: process.pid,
    startedAtMs: now(),
    ...(options.caFile === undefined ? {} : { ca: options.caFile }),
  };
  writeJsonAtomicSync(infoFile, info);
  log.info('allocator listening', {
    url,
    dataDir: options.dataDir,
    fresh: boot.fresh,
    leaseMs,
    heartbeatMs,
    tls: options.tls !== undefined,
  });
  loop.request();

  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    joinTokenFile: join(options.dataDir, JOIN_TOKEN_FILE),
    adminTokenFile: join(options.dataDir, ADMIN_TOKEN_FILE),
    stats: (): AllocatorStats => ({ link: link.stats(), logFollows: follows.stats(), ...counters }),
    connectedNodes: () => link.connectedNodes(),
    setTls(tls) {
      if (options.tls === undefined) return false;
      // Started with `https` options, fastify's server is an https.Server (api/index.ts).
      (app.server as unknown as TlsServer).setSecureContext({ cert: tls.cert, key: tls.key });
      return true;
    },
    cycleNow: () => loop.runNow(),
    close() {
      closing ??= (async () => {
        loop.close();
        await loop.settled();
        await scheduler.close();
        serving.close();
        await link.close();
        await app.close();
        rmSync(infoFile, { force: true });
        db.close();
        log.info('allocator stopped', {});
      })();
      return closing;
    },
  };
}
