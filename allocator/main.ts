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
import { buildApi } from './api/index.ts';
import type { LogSource } from './api/info-routes.ts';
import { createLogFollows } from './api/log-follows.ts';
import { createElector, isFencedError } from './ha/elector.ts';
import { installForwarding } from './ha/forward.ts';
import { registerRoleRoutes } from './ha/role-routes.ts';
import { attachStandbyDoor } from './ha/standby-door.ts';
import { emptyLinkStats } from './link/types.ts';
import { createAllocatorMetrics } from './metrics.ts';
import { startServing } from './serve/serving.ts';
import { ADMIN_TOKEN_FILE, ALLOCATOR_FILE, bootstrap, JOIN_TOKEN_FILE } from './service/bootstrap.ts';
import { createExplainStore } from './service/explain.ts';
import { createGpuSampleCache } from './service/gpu-samples.ts';
import { createGpuUsageTracker } from './service/gpu-usage.ts';
import { createHistory } from './service/history.ts';
import { startHistorySampler } from './service/history-sampler.ts';
import { resolveAllocatorOptions } from './service/options.ts';
import { createShareStore } from './service/shares.ts';
import { type CycleCounters, startTerm, type Term } from './service/term.ts';
import type { AllocatorOptions, AllocatorRole, AllocatorStats, RunningAllocator } from './service/types.ts';
import { openStore } from './store/db.ts';
import { sqliteTokenStore } from './store/tokens.ts';

export { DEFAULT_PORT, defaultLeaderLeaseMs, resolveAllocatorOptions } from './service/options.ts';
export type { AllocatorOptions, AllocatorRole, AllocatorStats, RunningAllocator } from './service/types.ts';

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
  const counters: CycleCounters = {
    ...{ cycles: 0, lastCycleMs: 0, startsSent: 0, stopsSent: 0, startsHeld: 0, startsFailed: 0 },
  };

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
  // GPU allocation and utilization over time, for the console's plots; sampled while leading (below).
  const history = createHistory({ intervalMs: options.historyIntervalMs, windowMs: options.historyWindowMs });
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
    leading: () => term !== null,
  });
  const app = buildApi({
    db,
    now,
    tokens,
    serving: { baseUrl: () => externalUrl, wanted: (id) => serving.scaler.wanted(id) },
    serveProxy: (root) => serving.register(root),
    onChange: requestCycle,
    info: { explain, samples: gpuSamples, logs, shares, follows },
    history,
    disconnectNode: (node, reason) => term?.link.disconnect(node, reason) ?? false,
    metrics,
    metricsAuth: options.metricsAuth,
    console: true,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    logger: log.pino,
  });
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
        term = startTerm(epoch, {
          ...{ db, tokens, server: app.server, options, guarded, requestCycle, gpuSamples, gpuUsage },
          ...{ explain, shares, serving, metrics, counters, leading: () => elector.leading() },
        });
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
  const sampler = startHistorySampler({
    history,
    now,
    leading: () => term !== null,
    sample: () =>
      term === null ? Promise.reject(new Error('not leading')) : term.scheduler.history(gpuSamples.flat()),
    onError: (e) =>
      log.warn('usage history sample not taken', { error: e instanceof Error ? e.message : String(e) }),
  });
  elector.start();
  if (leaderError !== null) {
    elector.stop();
    sampler.stop();
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
        sampler.stop();
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
