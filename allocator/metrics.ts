/**
 * The allocator's Prometheus metrics (`/metrics`), in their own prom-client Registry,
 * never the global one: two allocators in one process (tests) or a library user's own metrics
 * must not collide.
 *
 * Events (a cycle, a bind, an eviction, an API request, a store transaction) are counted when they
 * happen. Everything read from the store or the last cycle (workloads by phase, pending reasons,
 * connected agents, per-project GPUs) is computed in `collect()` at scrape time, so it is fresh
 * when scraped and costs nothing between scrapes. Label values are bounded: actions and phases are
 * closed sets, pending reasons collapse to a few categories, API routes are patterns, never URLs.
 */
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { WORKLOAD_PHASES } from '../common/phases.ts';
import type { LogFollowStats } from './api/log-follows.ts';
import type { ActionName, Plan } from './scheduler/plan.ts';
import type { ShareRow } from './service/shares.ts';
import type { Db } from './store/db.ts';
import { DEFAULT_POOL } from './store/org.ts';
import { workloadPhaseCounter } from './store/workloads.ts';

/** Eviction causes: the evicting action, or `rule` for a scheduling-rule stop. */
export type EvictionCause = ActionName | 'rule';

const ACTION_NAMES: readonly ActionName[] = [
  'allocate',
  'consolidate',
  'reclaim',
  'preempt',
  'elastic',
  'stale-gang',
];

/** The bounded categories a pending reason collapses to. */
export const PENDING_CATEGORIES = ['quota', 'capacity', 'no_nodes', 'node_pool', 'waiting', 'other'] as const;
/** One of `PENDING_CATEGORIES`. */
export type PendingCategory = (typeof PENDING_CATEGORIES)[number];

/** The category of a scheduler pending reason (its first clause decides). */
export function pendingCategory(reason: string): PendingCategory {
  const first = reason.split('; then ')[0] ?? '';
  if (/is at its limit|may use only the deserved quota/.test(first)) return 'quota';
  if (/^gang needs|victims make room|^no (single )?(node|GPU)\b|^no schedulable/.test(first))
    return 'capacity';
  if (/has no nodes$|^every node in pool .* is cordoned/.test(first)) return 'no_nodes';
  if (/not among its node pools/.test(first)) return 'node_pool';
  if (/^waiting/.test(first)) return 'waiting';
  return 'other';
}

/** What the allocator's scrape-time gauges read. */
export interface AllocatorMetricsSources {
  db: Db;
  /** Agents with an open link now. */
  connectedAgents: () => number;
  /** Whether this allocator leads (several may share a database; one leads). Default: always. */
  isLeader?: () => boolean;
  /** The newest cycle's per-queue shares (service/shares.ts). */
  shares: () => readonly ShareRow[];
  /** The open log follows (api/log-follows.ts); none when left out. */
  logFollows?: () => LogFollowStats;
}

/** The allocator's registry and the hooks that feed it. */
export interface AllocatorMetrics {
  readonly registry: Registry;
  /** Records a finished cycle: its duration and its plan. */
  cycleDone(durationMs: number, plan: Plan): void;
  /** Counts scheduling-rule stops as `rule` evictions. */
  ruleStops(count: number): void;
  /** Times one scheduler action's run (runCycle's observer). */
  timeAction(action: ActionName, run: () => void): void;
  /** Records one scheduler action's run timed elsewhere (on the scheduler's thread). */
  actionTimed(action: ActionName, ms: number): void;
  /** Times `fn` as one store transaction. */
  timeStore<T>(fn: () => T): T;
  /** Adds the `onResponse` hook timing every API request to `app`. */
  instrument(app: FastifyInstance): void;
}

/**
 * Whether a project's row in a pool gets `tessera_project_*_gpus` series: its default-pool row always
 * (so every project is listed), any other pool only where it has a quota, a fair share or GPUs. A
 * series for every project in every pool grows with pools x projects, and at hundreds of each a
 * scrape took seconds of the allocator's one thread; the rows left out are all zeros.
 */
function worthASeries(r: ShareRow): boolean {
  return (
    r.nodePool === DEFAULT_POOL ||
    r.deserved !== 0 ||
    r.fairShare !== 0 ||
    r.allocated !== 0 ||
    r.limit !== -1
  );
}

/** Creates the allocator's metrics in a registry of their own. */
export function createAllocatorMetrics(sources: AllocatorMetricsSources): AllocatorMetrics {
  const registry = new Registry();
  const registers = [registry];
  let lastPending: Plan['pending'] = [];

  const cycleSeconds = new Histogram({
    name: 'tessera_scheduler_cycle_duration_seconds',
    help: 'Duration of a scheduling cycle (rules, teardown, snapshot, plan, commit, dispatch).',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const actionSeconds = new Histogram({
    name: 'tessera_scheduler_action_duration_seconds',
    help: 'Duration of one scheduler action (allocate, consolidate, reclaim, preempt, elastic, stale-gang) within a cycle.',
    labelNames: ['action'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers,
  });
  const binds = new Counter({
    name: 'tessera_scheduler_binds_total',
    help: 'Pods bound by the scheduler, by the action that placed them.',
    labelNames: ['action'] as const,
    registers,
  });
  const evictions = new Counter({
    name: 'tessera_scheduler_evictions_total',
    help: 'Evictions: pods evicted by a scheduler action (cause = the action), or workloads stopped by a scheduling rule (cause = rule).',
    labelNames: ['cause'] as const,
    registers,
  });
  // Expose 0 from the first scrape: a series that appears only on its first event breaks rate().
  for (const a of ACTION_NAMES) {
    binds.inc({ action: a }, 0);
    evictions.inc({ cause: a }, 0);
  }
  evictions.inc({ cause: 'rule' }, 0);

  new Gauge({
    name: 'tessera_allocator_leader',
    help: 'Whether this allocator leads (1) or stands by (0); of allocators sharing a database exactly one should lead.',
    registers,
    collect() {
      this.set(sources.isLeader === undefined || sources.isLeader() ? 1 : 0);
    },
  });

  const countByPhase = workloadPhaseCounter(sources.db);
  new Gauge({
    name: 'tessera_workloads',
    help: 'Workloads by phase.',
    labelNames: ['phase'] as const,
    registers,
    collect() {
      const counts = countByPhase();
      for (const p of WORKLOAD_PHASES) this.set({ phase: p }, counts.get(p) ?? 0);
    },
  });
  new Gauge({
    name: 'tessera_pending_workloads',
    help: 'Workloads the last cycle left pending, by reason category.',
    labelNames: ['reason'] as const,
    registers,
    collect() {
      const counts = new Map<PendingCategory, number>();
      for (const p of lastPending) {
        const c = pendingCategory(p.reason);
        counts.set(c, (counts.get(c) ?? 0) + 1);
      }
      for (const c of PENDING_CATEGORIES) this.set({ reason: c }, counts.get(c) ?? 0);
    },
  });
  new Gauge({
    name: 'tessera_agents_connected',
    help: 'Agents with an open link to the allocator.',
    registers,
    collect() {
      this.set(sources.connectedAgents());
    },
  });
  new Gauge({
    name: 'tessera_log_follows',
    help: 'Log follows (GET /workloads/:id/logs?follow=true) open now.',
    registers,
    collect() {
      this.set(sources.logFollows?.().open ?? 0);
    },
  });
  new Gauge({
    name: 'tessera_log_follow_held_bytes',
    help: 'Bytes the open log follows hold for readers that have not taken them yet.',
    registers,
    collect() {
      this.set(sources.logFollows?.().heldBytes ?? 0);
    },
  });
  new Gauge({
    name: 'tessera_log_follow_peak_held_bytes',
    help: 'The most bytes any one log follow has held for its reader since the allocator started.',
    registers,
    collect() {
      this.set(sources.logFollows?.().peakHeldBytes ?? 0);
    },
  });
  // One family per meaning, so a sum over any of them means something (quota, share, use).
  const projectFamilies = [
    ['tessera_project_deserved_gpus', 'deserved', 'GPUs a project deserves (its quota) per node pool.'],
    [
      'tessera_project_fair_share_gpus',
      'fairShare',
      'GPUs of fair share per project and node pool, as of the last cycle.',
    ],
    [
      'tessera_project_allocated_gpus',
      'allocated',
      'GPUs allocated per project and node pool, as of the last cycle (after its plan).',
    ],
  ] as const;
  for (const [name, field, help] of projectFamilies) {
    new Gauge({
      name,
      help,
      labelNames: ['project', 'node_pool'] as const,
      registers,
      collect() {
        // Reset: a deleted project or pool must leave no stale series.
        this.reset();
        for (const r of sources.shares()) {
          if (r.kind !== 'project' || !worthASeries(r)) continue;
          this.set({ project: r.queue, node_pool: r.nodePool }, r[field]);
        }
      },
    });
  }

  const apiSeconds = new Histogram({
    name: 'tessera_api_request_duration_seconds',
    help: 'API request durations, by method, route pattern and status class.',
    labelNames: ['method', 'route', 'status_class'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const storeSeconds = new Histogram({
    name: 'tessera_store_transaction_duration_seconds',
    help: "Duration of the store transaction committing a cycle's plan.",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers,
  });

  return {
    registry,
    cycleDone(durationMs, plan) {
      cycleSeconds.observe(durationMs / 1000);
      for (const b of plan.binds) binds.inc({ action: b.action });
      for (const e of plan.evictions) evictions.inc({ cause: e.action });
      lastPending = plan.pending;
    },
    ruleStops(count) {
      if (count > 0) evictions.inc({ cause: 'rule' }, count);
    },
    timeAction(action, run) {
      const started = performance.now();
      try {
        run();
      } finally {
        actionSeconds.observe({ action }, (performance.now() - started) / 1000);
      }
    },
    actionTimed(action, ms) {
      actionSeconds.observe({ action }, ms / 1000);
    },
    timeStore(fn) {
      const started = performance.now();
      try {
        return fn();
      } finally {
        storeSeconds.observe((performance.now() - started) / 1000);
      }
    },
    instrument(app) {
      app.addHook('onResponse', async (request, reply) => {
        // The route pattern (`/api/v1/workloads/:id`), never the URL: ids would make labels unbounded.
        const route = request.routeOptions.url ?? 'unmatched';
        const status = reply.statusCode;
        const statusClass = status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'other';
        apiSeconds.observe(
          { method: request.method, route, status_class: statusClass },
          reply.elapsedTime / 1000,
        );
      });
    },
  };
}
