/**
 * The node agent (docs/architecture.md §4): discovers the GPUs once at start, runs ONE sampler (the driver's
 * long-lived streams) whose every sample feeds enforcement, runs pods through the runner, and adopts
 * the pods a previous agent left running. Enforcement acts on pods through the runner (`PodControl`)
 * and swaps through the driver (`SwapControl`); every action and every pod state change becomes an
 * event in a bounded ring. It implements `AgentApi` (api.ts), the API the allocator link (link/) calls;
 * given `link` options it starts that link itself and stops it first on `close()`.
 *
 * The swap pool's entries are recorded in the data dir (swap-file.ts), so pods left swapped out when
 * the agent stops are taken back into the pool by the next one, as the runner takes back their pods.
 *
 * Around that, for `tessera health` and Prometheus: a small state file rewritten every few seconds
 * (state-file.ts) and the local HTTP endpoint (http.ts: `/metrics`, `/healthz`, `/status`, `/events`).
 */
import { err, ok, type Result, tesseraError } from '../common/errors.ts';
import pkg from '../package.json' with { type: 'json' };
import { type AgentOptions, resolveAgentOptions } from './agent-options.ts';
import {
  type AgentApi,
  type AgentCounters,
  type AgentEvent,
  type AgentStatus,
  composeStatus,
  createEventRing,
  podStateEvent,
  runtimeEvent,
  type SwapDirection,
} from './api.ts';
import {
  createEnforcer,
  createTimeSlicer,
  indexUsage,
  LIVE_STATES,
  type UsageIndex,
} from './enforce/index.ts';
import { type GpuInventory, type GpuSample, hostFacts } from './gpu/index.ts';
import { type HttpEndpoint, serveAgentEndpoints } from './http.ts';
import { createLink, type Link } from './link/index.ts';
import { createAgentMetrics } from './metrics.ts';
import { prepareAgentDirs } from './pod-access.ts';
import { createPodViews } from './pod-views.ts';
import { type AdoptReport, createRunner, isEnded, type PodRunState } from './runner/index.ts';
import { createStateWriter, stateFilePath } from './state-file.ts';
import { openSwapPool } from './swap-file.ts';
import { createIdleTracker, utilizationOf, workloadPodsOf, workloadRows } from './workload-metrics.ts';

export type { AgentOptions } from './agent-options.ts';

/** A running agent: its API plus what its embedder needs. */
export interface Agent extends AgentApi {
  /** The local HTTP port; null when not serving. */
  readonly port: number | null;
  /** What the start-up adoption found. */
  readonly adopted: AdoptReport;
  readonly inventory: GpuInventory;
  /** Calls `fn` on every new event; returns the unsubscribe. */
  subscribe(fn: (e: AgentEvent) => void): () => void;
  /** The link to the allocator; null when the agent runs without one. */
  readonly link: Link | null;
}

/** Starts an agent over `opts.dataDir`: discovery, adoption, sampling, enforcement, HTTP. */
export async function createAgent(options: AgentOptions): Promise<Result<Agent>> {
  const opts = resolveAgentOptions(options);
  const { now, log, sampleIntervalMs } = opts;
  const startedAtMs = now();
  const { driver, dataDir } = opts;
  const prepared = await prepareAgentDirs(dataDir, opts.simStateDir, log);
  if (!prepared.ok) return prepared;

  const discovered = await driver.discover();
  if (!discovered.ok) return discovered;
  const inventory = discovered.value;
  const host = opts.host ?? (await hostFacts());

  // The event ring first: the runner reports adopted pods' states while it is being created.
  const ring = createEventRing(opts.eventCapacity);
  const listeners = new Set<(e: AgentEvent) => void>();
  // Counts the enforcer does not keep: the sampler's.
  const extra = { samples: 0, samplerErrors: 0 };
  // Set once the state file can be written: every event is a change worth recording there soon.
  let changed: () => void = () => {};
  const emit = (e: Omit<AgentEvent, 'seq'>): void => {
    const event = ring.push(e);
    opts.onEvent(event);
    changed();
    for (const fn of listeners) fn(event);
  };

  const lastState = new Map<string, PodRunState>();
  const endedAt = new Map<string, number>();
  const runner = createRunner({
    dataDir,
    runtime: opts.runtime,
    node: {
      gpus: inventory.gpus.map((g) => ({ uuid: g.uuid, index: g.index, memoryMiB: g.memoryTotalMiB })),
      hamiCore: false,
    },
    // The sim's "driver" is a state directory named in the environment, set by the agent for every pod.
    nodeEnv: opts.simStateDir === null ? {} : { TESSERA_SIM_STATE: opts.simStateDir },
    now,
    log: log.child({ component: 'runner' }),
    onStatus: (s) => {
      if (lastState.get(s.podId) === s.state) return;
      lastState.set(s.podId, s.state);
      if (isEnded(s.state)) endedAt.set(s.podId, now());
      emit(podStateEvent(s, now()));
    },
    onEvent: (e) => emit(runtimeEvent(e, now())),
  });
  const adopted = await runner.adopt();
  if (!adopted.ok) {
    runner.close();
    return adopted;
  }

  const swap = await openSwapPool({
    dataDir,
    capacityMiB: opts.swapPoolMiB,
    driver,
    livePods: new Set(runner.list().flatMap((s) => (LIVE_STATES.has(s.state) ? [s.podId] : []))),
    now,
    log,
  });
  if (!swap.ok) {
    runner.close();
    return swap;
  }
  const pool = swap.value.pool;
  for (const e of swap.value.events) emit({ ...e, atMs: now() });

  const onControlError = (podId: string, error: unknown): void =>
    log.warn('enforcement action failed; retried on a later sample', { podId, error });
  const slicer =
    opts.timeSlicing === null
      ? undefined
      : createTimeSlicer({
          control: runner,
          ...opts.timeSlicing,
          now,
          onEvent: emit,
          onError: onControlError,
        });

  const views = createPodViews(runner);
  const enforcer = createEnforcer({
    pods: views.build,
    control: runner,
    swap: pool,
    slicer,
    gpuTotals: inventory.gpus.map((g) => ({
      uuid: g.uuid,
      totalMiB: g.memoryTotalMiB,
      reservedMiB: g.memoryReservedMiB ?? 0,
    })),
    onEvent: emit,
    now,
    idleWindowMs: opts.idleWindowMs,
    onError: onControlError,
  });

  let lastSample: GpuSample | null = null;
  let lastUsage: UsageIndex = indexUsage({ processes: [] }, []);
  let lastSamplerError: string | null = null;
  // Per-workload metrics: every pod the runner still knows, with its latest measured memory.
  const workloadPods = () => workloadPodsOf(runner, lastUsage.byPod);
  const idle = createIdleTracker(2 * sampleIntervalMs);
  const sampler = driver.sample(sampleIntervalMs, {
    onSample(sample) {
      extra.samples++;
      views.wantPids(sample.processes.length > 0);
      try {
        enforcer.onSample(sample);
      } catch (e) {
        // A bug in a decision must not take the daemon (and every pod's enforcement) down with it.
        log.error('enforcement failed on a sample', { error: e });
      }
      lastSample = sample;
      lastUsage = indexUsage(sample, views.last());
      idle.observe(sample.atMs, workloadPods(), utilizationOf(sample));
    },
    onError(e) {
      extra.samplerErrors++;
      lastSamplerError = e.message;
      log.warn('GPU sampler error', { error: e.message });
      emit({ atMs: now(), kind: 'sampler-error', podId: null, reason: e.message });
    },
  });
  slicer?.start();

  const counters = (): AgentCounters => ({ ...enforcer.counters(), ...extra, events: ring.seq() });

  let port: number | null = null;
  let link: Link | null = null;
  const status = (): AgentStatus =>
    composeStatus({
      atMs: now(),
      agent: {
        pid: process.pid,
        version: pkg.version,
        startedAtMs,
        dataDir,
        sampleIntervalMs,
        lastSampleAtMs: lastSample?.atMs ?? null,
        lastSamplerError,
        port,
      },
      node: host,
      driverKind: driver.kind,
      inventory,
      sample: lastSample,
      pods: runner.list(),
      specOf: (podId) => runner.specOf(podId),
      usedByPod: lastUsage.byPod,
      enforcing: new Set(enforcer.inFlight()),
      pool,
      timeSlicing: opts.timeSlicing,
      counters: counters(),
      allocator:
        link === null || opts.link === undefined
          ? 'not connected'
          : { state: link.state, url: opts.link.url, nodeId: link.nodeId, connects: link.connects },
    });

  let http: HttpEndpoint | null = null;
  let metricsHttp: HttpEndpoint | null = null;
  {
    const served = await serveAgentEndpoints(
      {
        status,
        events: (since) => api.events(since),
        metrics: createAgentMetrics({
          workloads: () =>
            workloadRows(workloadPods(), lastSample === null ? new Map() : utilizationOf(lastSample)),
          idleSeconds: () => idle.rows(),
        }),
      },
      opts.port,
      opts.metricsAddress,
    );
    if (!served.ok) {
      await sampler.stop();
      slicer?.stop();
      runner.close();
      return served;
    }
    ({ local: http, metrics: metricsHttp } = served.value);
    port = http?.port ?? null;
  }

  const stateFile = createStateWriter({
    dataDir,
    now,
    contents: () => ({
      pid: process.pid,
      port,
      startedAtMs,
      gpu: { kind: driver.kind, simStateDir: opts.simStateDir },
      status: status(),
    }),
    onError: (e) =>
      log.warn('could not write the agent state file', { path: stateFilePath(dataDir), error: e }),
  });
  changed = () => stateFile.soon();
  const retentionMs = opts.endedRetentionMs;
  const housekeeping = setInterval(() => {
    for (const [podId, at] of endedAt) {
      if (now() - at < retentionMs) continue;
      endedAt.delete(podId);
      if (runner.forget(podId).ok) lastState.delete(podId);
    }
    void stateFile.write();
  }, opts.stateWriteMs);
  // The agent's lifetime is its embedder's to decide: this timer alone never keeps a process up.
  housekeeping.unref();

  let closed = false;
  const refused = (podId: string, reason: string): Result<true> =>
    err(tesseraError('TESSERA_E_CONFLICT', reason, { context: { podId } }));
  const api: Agent = {
    port,
    adopted: adopted.value,
    inventory,
    get link() {
      return link;
    },
    startPod(spec) {
      if (closed)
        return err(tesseraError('TESSERA_E_CONFLICT', `agent is closed; pod ${spec.podId} not started`));
      return runner.start(spec);
    },
    stopPod: (podId, reason, graceSeconds) => runner.stop(podId, reason, graceSeconds),
    async swap(podId, direction: SwapDirection) {
      if (pool === undefined)
        return refused(podId, 'swap is not enabled on this node: start the agent with --swap-pool SIZE');
      if (direction === 'out') {
        const s = runner.get(podId);
        if (s === undefined)
          return err(
            tesseraError('TESSERA_E_NOT_FOUND', `pod ${podId} is not on this node`, { context: { podId } }),
          );
        if (!LIVE_STATES.has(s.state))
          return refused(podId, `pod ${podId} is ${s.state}; only a live pod can be swapped out`);
      }
      // The enforcer counts and reports both ways (and any room a swap-in makes by swapping idle tenants out).
      const outcome =
        direction === 'out'
          ? await enforcer.swapOut(podId, `pod ${podId} swapped out on request`)
          : await enforcer.swapIn(podId);
      return outcome.ok ? ok(true) : refused(podId, outcome.reason);
    },
    status,
    events: (sinceSeq = 0) => ring.since(sinceSeq),
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    async close() {
      if (closed) return;
      closed = true;
      // The link first: no order from the allocator may reach an agent that is closing.
      await link?.stop();
      clearInterval(housekeeping);
      await sampler.stop();
      // Thaws every pod it froze: pods keep running after the agent, and never frozen.
      slicer?.stop();
      runner.close();
      await http?.close();
      await metricsHttp?.close();
      // Stopped first, so the event schedules no write of its own after the final one below.
      const stoppedAtMs = now();
      stateFile.stop(stoppedAtMs);
      emit({
        atMs: stoppedAtMs,
        kind: 'agent-stopped',
        podId: null,
        reason: 'agent closed; its pods keep running',
      });
      await stateFile.flush();
    },
  };
  emit({
    atMs: now(),
    kind: 'agent-started',
    podId: null,
    reason: `agent started: ${inventory.gpus.length} ${driver.kind} GPU(s), adopted ${adopted.value.adopted.length} pod(s), ${adopted.value.ended.length} ended while down`,
  });
  if (opts.link !== undefined) {
    try {
      link = createLink({ log: log.child({ component: 'link' }), ...opts.link, agent: api });
    } catch (e) {
      await api.close();
      const why = e instanceof Error ? e.message : String(e);
      return err(tesseraError('TESSERA_E_INVALID_CONFIG', `allocator link: ${why}`, { field: 'allocator' }));
    }
    link.start();
  }
  await stateFile.write();
  return ok(api);
}
