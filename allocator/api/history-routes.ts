/**
 * `GET /history/{projects,nodepools,nodes}/:name`: GPUs allocated and GPU utilization over time
 * (service/history.ts), for the console's plots and scripts. `?window=` limits how far back (default
 * the whole kept window), `?step=` averages the points over buckets that long (default: every sample).
 * A project's history is for whoever may read the project; a pool's or node's for whoever may read
 * nodes (permissions.ts).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseDurationMs } from '../../common/resources.ts';
import type { History, HistoryKind } from '../service/history.ts';
import { getNode } from '../store/nodes.ts';
import { DEFAULT_POOL, getPool, getQueue } from '../store/org.ts';
import type { ApiContext } from './context.ts';
import { failRequest, parseInput, unwrap } from './errors.ts';

/** The path segment of each kind. */
export const HISTORY_PATHS: Readonly<Record<HistoryKind, string>> = {
  project: 'projects',
  nodepool: 'nodepools',
  node: 'nodes',
};

const HistoryQuery = z.strictObject({
  window: z.string().min(1).optional(),
  step: z.string().min(1).optional(),
});

/** The most points one answer holds: a day of minutes. A finer step over a longer window is refused. */
export const MAX_HISTORY_POINTS = 1440;

/**
 * The step when none is asked: none (every sample) while the window holds at most MAX_HISTORY_POINTS
 * samples, else the smallest whole number of intervals that brings it under.
 */
export function defaultStep(windowMs: number, intervalMs: number): number | null {
  const samples = windowMs / intervalMs;
  return samples <= MAX_HISTORY_POINTS ? null : Math.ceil(samples / MAX_HISTORY_POINTS) * intervalMs;
}

type NameParams = { Params: { name: string } };

/** Whether the store knows the thing a history names (its series may outlive it by a window). */
function exists(ctx: ApiContext, kind: HistoryKind, name: string): boolean {
  if (kind === 'node') return getNode(ctx.db, name) !== undefined;
  if (kind === 'nodepool') return name === DEFAULT_POOL || getPool(ctx.db, name) !== undefined;
  const q = getQueue(ctx.db, name);
  return q !== undefined && q.parent !== null;
}

const WHAT: Readonly<Record<HistoryKind, string>> = {
  project: 'project',
  nodepool: 'node pool',
  node: 'node',
};

/** Registers the three history routes; without `history` they answer 503. */
export function registerHistoryRoutes(app: FastifyInstance, ctx: ApiContext, history?: History): void {
  for (const kind of Object.keys(HISTORY_PATHS) as HistoryKind[]) {
    app.get<NameParams>(`/history/${HISTORY_PATHS[kind]}/:name`, async (request) => {
      const { name } = request.params;
      const h = history ?? failRequest('TESSERA_E_UNAVAILABLE', 'this allocator keeps no usage history');
      if (!exists(ctx, kind, name) && !h.has(kind, name))
        failRequest('TESSERA_E_NOT_FOUND', `no ${WHAT[kind]} named ${name}`);
      const q = parseInput(HistoryQuery, request.query ?? {}, 'query');
      const windowMs = Math.min(
        h.shape.windowMs,
        q.window === undefined ? h.shape.windowMs : unwrap(parseDurationMs(q.window, 'window')),
      );
      const stepMs =
        q.step === undefined
          ? defaultStep(windowMs, h.shape.intervalMs)
          : unwrap(parseDurationMs(q.step, 'step'));
      if (stepMs !== null && stepMs < h.shape.intervalMs)
        failRequest(
          'TESSERA_E_INVALID_SPEC',
          `step ${q.step} is finer than the sampling interval (${h.shape.intervalMs} ms); leave it out for every sample`,
          'step',
        );
      if (stepMs !== null && windowMs / stepMs > MAX_HISTORY_POINTS)
        failRequest(
          'TESSERA_E_INVALID_SPEC',
          `window ${q.window ?? 'of all kept'} at step ${q.step} makes ${Math.ceil(windowMs / stepMs)} points, more than ${MAX_HISTORY_POINTS}; give a larger step`,
          'step',
        );
      const sinceMs = ctx.now() - windowMs;
      const got = h.points(kind, name, stepMs === null ? { sinceMs } : { sinceMs, stepMs });
      return {
        kind,
        name,
        intervalMs: h.shape.intervalMs,
        windowMs,
        stepMs,
        points: got.map((p) => ({
          at: new Date(p.atMs).toISOString(),
          allocatedGpus: p.allocatedGpus,
          capacityGpus: p.capacityGpus,
          utilizationPct: p.utilizationPct,
        })),
      };
    });
  }
}
