/**
 * The allocator service (docs/architecture.md §1): one process holding the store, serving the API
 * and the agents' websocket on one HTTP server, and running the scheduler. Everything flows one way:
 * a change (submit, pod report, node join or loss) asks for a cycle; a cycle tears down stopped work,
 * snapshots the store, plans, commits the plan with its quota accounting, then dispatches.
 *
 * Several allocators may share one PostgreSQL (docs/architecture.md §11): one leads (ha/elector.ts)
 * and runs a term (the agent link, dispatch, absence and lease checks, the cycle loop); the others
 * stand by, answering reads from the database and forwarding writes to the leader (ha/forward.ts),
 * and send agents to it (ha/standby-door.ts). On its own SQLite file an allocator simply leads.
 */
import { mkdirSync, rmSync } from 'node:fs';
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
import { createElector, isFencedError } from './ha/elector.ts';
import { installForwarding } from './ha/forward.ts';
import { registerRoleRoutes } from './ha/role-routes.ts';
import { attachStandbyDoor } from './ha/standby-door.ts';
import { enforceSchedulingRules } from './lifecycle/enforce-rules.ts';
import { recordPodEvent } from './lifecycle/pod-events.ts';
import { applyPodReport, nodeLost, replaceCutOff } from './lifecycle/reports.ts';
import { teardown } from './lifecycle/teardown.ts';
import { attachAgentLink } from './link/server.ts';
import { type AgentLink, emptyLinkStats } from './link/types.ts';
import { createAllocatorMetrics } from './metrics.ts';
import { isEmptyPlan } from './scheduler/plan.ts';
import { DEFAULT_COLD_START_MS, DEFAULT_STABILISATION_MS } from './serve/autoscaler.ts';
import { DEFAULT_WINDOW_MS } from './serve/load-meter.ts';
import { startServing } from './serve/serving.ts';
import { createAbsenceCheck } from './service/absence.ts';
import { ADMIN_TOKEN_FILE, ALLOCATOR_FILE, bootstrap, JOIN_TOKEN_FILE } from './service/bootstrap.ts';
import { type CycleWorker, startCycleWorker } from './service/cycle-worker.ts';
import { createDispatcher, type Dispatcher } from './service/dispatch.ts';
import { createExplainStore } from './service/explain.ts';
import { createGpuSampleCache } from './service/gpu-samples.ts';
import { createGpuUsageTracker } from './service/gpu-usage.ts';
import { type CycleLoop, createCycleLoop } from './service/loop.ts';
import { createShareStore } from './service/shares.ts';
import type { AllocatorOptions, AllocatorRole, AllocatorStats, RunningAllocator } from './service/types.ts';
import { applyPlanInSlices } from './store/apply-plan.ts';
import { openStore } from './store/db.ts';
import { silentNodes } from './store/nodes.ts';
import { hasRuledWork } from './store/policies.ts';
import { hasTimedWork } from './store/snapshot.ts';
import { sqliteTokenStore } from './store/tokens.ts';

export type { AllocatorOptions, AllocatorRole, AllocatorStats, RunningAllocator } from './service/types.ts';

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
  leaderLeaseMs: number;
};

/**
 * The leader lease when none is given: a quarter of the node lease, within 1 to 10 s. Short enough
 * that a standby leads within seconds of the leader's death; long enough that a loaded machine's
 * pause between two renewals (a third of it) does not depose a healthy leader.
 */
export function defaultLeaderLeaseMs(nodeLeaseMs: number): number {
  return Math.min(10_000, Math.max(1000, Math.floor(nodeLeaseMs / 4)));
}

/** Fills in every default of `options`: done once, where the allocator starts. */
export function resolveAllocatorOptions(options: AllocatorOptions): ResolvedAllocatorOptions {
  const o = withDefaults(options, ALLOCATOR_DEFAULTS);
  return {
    ...o,
    leaderLeaseMs: options.leaderLeaseMs ?? defaultLeaderLeaseMs(o.leaseMs),
    log: options.log ?? createLogger({ stream: process.stderr, fields: { component: 'allocator' } }),
  };
}

/** What a leader runs and a standby does not: created on taking the lease, ended on losing it. */
interface Term {
  epoch: number;
  link: AgentLink;
  dispatcher: Dispatcher;
  scheduler: CycleWorker;
  loop: CycleLoop;
  /** Stops the loop and the lease checks and closes every agent session. */
  end(): Promise<void>;
}

/** Opens the store in `dataDir`, listens, and starts scheduling; resolves once it accepts connections. */
export async function startAllocator(given: AllocatorOptions): Promise<RunningAllocator> {
  const options = resolveAllocatorOptions(given);
  const { now, log, heartbeatMs, leaseMs } = options;
  // Tokens and allocator.json live here whatever the store: PostgreSQL's opening does not make it.
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const db = openStore({
    dataDir: options.dataDir,
    ...(options.store === undefined ? {} : { url: options.store }),
    // A transaction left open longer than a leader lease is a frozen leader's: its row lock must not
    // keep the standby that takes over waiting.
    idleInTransactionTimeoutMs: options.leaderLeaseMs,
  });
  // Several allocators elect a leader on a shared PostgreSQL; on its own SQLite file one just leads.
  const shared = db.dialect === 'postgres';
  const tokens = sqliteTokenStore(db, now);
  // Tokens and the default organisation are written by whoever leads first (onLead), never by a standby.
  const booted = { fresh: false };
  let term: Term | null = null;
  const counters = { cycles: 0, lastCycleMs: 0, startsSent: 0, stopsSent: 0, startsHeld: 0, startsFailed: 0 };

  const requestCycle = (): void => term?.loop.request();
  // One report the lifecycle cannot apply is logged and skipped: it must not cut the node's link.
  // Only a leader within its lease acts; a fenced write means another allocator leads now.
  const guarded = (what: string, fields: Record<string, string>, fn: () => boolean): void => {
    if (!elector.leading()) return;
    try {
      if (fn()) requestCycle();
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      log.error(`${what} not applied`, { ...fields, error });
      if (isFencedError(e)) elector.stepDown(error);
    }
  };
  // The explain / top / logs sources, in memory (the link is attached below, asked at request time).
  const explain = createExplainStore();
  const gpuSamples = createGpuSampleCache();
  // GPU utilization in 30 s windows for the idle GPU scheduling rule.
  const gpuUsage = createGpuUsageTracker();
  const logs: LogSource = (node, ask, onChunk) => term?.link.requestLogs(node, ask, onChunk) ?? null;
  // Open log follows and what they hold for their readers, for /metrics and stats.
  const follows = createLogFollows();
  // Each queue's fair share as of the newest cycle, for /shares and /metrics.
  const shares = createShareStore();
  // The /metrics registry; the link is asked at scrape time, after it is attached below.
  const metrics = createAllocatorMetrics({
    db,
    connectedAgents: () => term?.link.connectedNodes().length ?? 0,
    isLeader: () => term !== null,
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
    requestCycle,
  });
  const app = buildApi({
    db,
    now,
    tokens,
    serving: { baseUrl: () => externalUrl, wanted: (id) => serving.scaler.wanted(id) },
    serveProxy: (root) => serving.register(root),
    onChange: requestCycle,
    info: { explain, samples: gpuSamples, logs, shares, follows },
    disconnectNode: (node, reason) => term?.link.disconnect(node, reason) ?? false,
    metrics,
    metricsAuth: options.metricsAuth,
    console: true,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    logger: log.pino,
  });
  /**
   * Starts leading at `epoch`: the agent link (which gives every known node a fresh lease, so none is
   * lost for the outage), dispatch and absence checks from a clean slate, the lease checks and the
   * cycle loop. The store is already fenced at `epoch`.
   */
  const startTerm = (epoch: number): Term => {
    const link = attachAgentLink(app.server, {
      db,
      tokens,
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
      loop: createCycleLoop(() => cycle(t, createSlicer(SLICE_MS)), {
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
  };

  /**
   * One cycle of term `t`. Only the short parts run on this event loop, in slices of at most
   * SLICE_MS: the snapshot and the plan are made on the scheduler's thread, and the plan is committed
   * and dispatched a slice at a time, so agents and API calls are answered in between.
   */
  const cycle = async (t: Term, slicer: Slicer): Promise<void> => {
    if (!elector.leading()) return;
    const { dispatcher, scheduler } = t;
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

  // The URL this allocator advertises to agents and standbys; known once it listens (port 0).
  let advertisedUrl = options.advertiseUrl ?? '';
  let leaderError: unknown = null;
  // While standing by: agents are sent to the leader.
  let closeDoor: (() => void) | null = null;
  const openDoor = (): void => {
    closeDoor ??= attachStandbyDoor(app.server, { tokens, leaderUrl: () => elector.leaderUrl(), log });
  };
  const elector = createElector({
    db,
    url: () => advertisedUrl,
    leaseMs: options.leaderLeaseMs,
    mode: shared ? 'shared' : 'alone',
    log,
    onLead(epoch) {
      try {
        // Idempotent: the first leader of a database creates the tokens and the default organisation.
        booted.fresh ||= bootstrap(db, tokens, options.dataDir, now(), options.joinToken).fresh;
        closeDoor?.();
        closeDoor = null;
        term = startTerm(epoch);
        term.loop.request();
      } catch (e) {
        // A preset join token that does not parse, or a fenced bootstrap: not a leader that can serve.
        leaderError ??= e;
        elector.stepDown(`could not start leading: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
    onStepDown() {
      const ended = term;
      term = null;
      // end() first: it detaches the link's upgrade handler at once, before the door attaches its own.
      const ending = ended?.end() ?? Promise.resolve();
      openDoor();
      // The deposed term's fence stays until its sessions are closed: a frame still in flight on one
      // must not write. Then the store is unfenced, for the standby's reads.
      void ending.then(() => {
        if (!elector.leading()) db.setFence(null);
      });
    },
  });
  const role = (): AllocatorRole => {
    const st = elector.state();
    return {
      role: st.role,
      epoch: st.epoch,
      leaderUrl: elector.leaderUrl(),
      url: advertisedUrl,
      reason: st.reason,
    };
  };
  registerRoleRoutes(app, role);
  // Before listening: every request passes the hook, and a standby forwards what only the leader may do.
  installForwarding(app, {
    leading: () => elector.leading(),
    leaderUrl: () => elector.leaderUrl(),
    selfUrl: () => advertisedUrl,
  });

  const { host } = options;
  try {
    await app.listen({ host, port: options.port });
  } catch (e) {
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
  if (advertisedUrl === '') {
    advertisedUrl = url;
    // Standbys on other machines would send agents to this machine's loopback.
    if (shared && (host === '0.0.0.0' || host === '::'))
      log.warn(
        'no --advertise-url: standbys will send agents and writes to this URL, which only this machine can reach',
        {
          url,
        },
      );
  }
  openDoor();
  elector.start();
  if (leaderError !== null) {
    elector.stop();
    await app.close();
    db.close();
    throw leaderError;
  }
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
    advertiseUrl: advertisedUrl,
    role: role().role,
    leader: role().leaderUrl,
    store: db.dialect,
    dataDir: options.dataDir,
    fresh: booted.fresh,
    leaseMs,
    heartbeatMs,
    tls: options.tls !== undefined,
  });

  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    joinTokenFile: join(options.dataDir, JOIN_TOKEN_FILE),
    adminTokenFile: join(options.dataDir, ADMIN_TOKEN_FILE),
    stats: (): AllocatorStats => ({
      link: term?.link.stats() ?? emptyLinkStats(),
      logFollows: follows.stats(),
      ...counters,
    }),
    connectedNodes: () => term?.link.connectedNodes() ?? [],
    role,
    setTls(tls) {
      if (options.tls === undefined) return false;
      // Started with `https` options, fastify's server is an https.Server (api/index.ts).
      (app.server as unknown as TlsServer).setSecureContext({ cert: tls.cert, key: tls.key });
      return true;
    },
    cycleNow: () => term?.loop.runNow() ?? Promise.resolve(),
    close() {
      closing ??= (async () => {
        const ended = term;
        term = null;
        // Ending first detaches the link's upgrades at once (stopping the elector opens the door);
        // the lease is released before the sessions close: a standby may take over meanwhile.
        const ending = ended?.end();
        elector.stop();
        serving.close();
        await ending;
        closeDoor?.();
        await app.close();
        rmSync(infoFile, { force: true });
        db.close();
        log.info('allocator stopped', {});
      })();
      return closing;
    },
  };
}
