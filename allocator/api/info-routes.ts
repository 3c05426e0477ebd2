/**
 * What a user asks about running work: `GET /workloads/:id/explain` (why it waits, from
 * the newest scheduling cycle), `GET /workloads/:id/logs` (a pod's output, streamed from its agent
 * as chunked text), `GET /top` (GPU use by node and by workload) and `GET /shares` (each queue's
 * quota, fair share and allocation). Their sources live in the allocator process
 * (service/explain.ts, the agent link, service/gpu-samples.ts) and are injected; any left out
 * makes its route answer as if the cluster had nothing to tell (or 503 for logs).
 */
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ErrorCode } from '../../common/errors.ts';
import { LOG_LIMITS } from '../../common/wire.ts';
import type { LogAsk, LogEndCause, LogSubscription, RoutedLogChunk } from '../link/logs.ts';
import { wirePodId } from '../link/pod-id.ts';
import type { ExplainStore } from '../service/explain.ts';
import type { GpuSampleCache } from '../service/gpu-samples.ts';
import type { ShareStore } from '../service/shares.ts';
import { topView } from '../service/top.ts';
import { listNodes } from '../store/nodes.ts';
import { listPods, type PodRecord, SCHEDULED_POD_PHASES } from '../store/pods.ts';
import { getWorkload, listWorkloads } from '../store/workloads.ts';
import type { ApiContext } from './context.ts';
import { failRequest, parseInput } from './errors.ts';
import { createLogFollows, type FollowSlot, LOG_FOLLOW_LIMITS, type LogFollows } from './log-follows.ts';
import { type LogWriter, logWriter } from './log-stream.ts';

/** Asks a node for a pod's log (AgentLink.requestLogs); null when the node is not connected. */
export type LogSource = (
  node: string,
  ask: LogAsk,
  onChunk: (chunk: RoutedLogChunk) => void,
) => LogSubscription | null;

/**
 * The code of a log request that failed before any output: the allocator stopping is a 503; the
 * agent's "no logs" a 404; anything else is the pod's node not serving it (gone, silent, or failing
 * to read), which is the node's state and not this server's failure: a 409.
 */
function logErrorCode(cause: LogEndCause | undefined, error: string): ErrorCode {
  if (cause === 'shutdown') return 'TESSERA_E_UNAVAILABLE';
  if (cause === undefined && error.includes('has no logs')) return 'TESSERA_E_NOT_FOUND';
  return 'TESSERA_E_NODE_UNAVAILABLE';
}

/** The live sources of the info routes; each optional so route tests need none. */
export interface InfoSources {
  explain?: ExplainStore;
  samples?: GpuSampleCache;
  logs?: LogSource;
  shares?: ShareStore;
  /** The open log follows, shared with the allocator's stats; default a registry of this API's own. */
  follows?: LogFollows;
}

const LogsQuery = z.strictObject({
  /** Pod name; default the workload's first placed pod. */
  pod: z.string().min(1).max(253).optional(),
  /** Last N lines; default the whole log (the agent caps it). */
  tail: z.coerce.number().int().min(0).max(LOG_LIMITS.maxTailLines).optional(),
  follow: z.enum(['true', 'false', '1', '0']).optional(),
  stream: z.enum(['stdout', 'stderr', 'both']).optional(),
});

type IdParams = { Params: { id: string } };

/** The pod a logs request reads: the named one, else a placed one, else the newest that ran somewhere. */
function logPod(pods: readonly PodRecord[], name: string | undefined, workload: string): PodRecord {
  if (name !== undefined) {
    const p = pods.find((x) => x.name === name);
    if (p === undefined)
      failRequest(
        'TESSERA_E_NOT_FOUND',
        `workload ${workload} has no pod ${name}; pods: ${pods.map((x) => x.name).join(', ') || 'none'}`,
        'pod',
      );
    return p;
  }
  const placed = pods.find((p) => p.node !== null && SCHEDULED_POD_PHASES.includes(p.phase));
  const ran = [...pods].reverse().find((p) => p.node !== null);
  const p = placed ?? ran;
  if (p === undefined)
    failRequest(
      'TESSERA_E_CONFLICT',
      `workload ${workload} has no pod on a node yet: tessera explain says why`,
    );
  return p;
}

/** `/workloads/:id/explain`, `/workloads/:id/logs`, `/top` and `/shares`. */
export function registerInfoRoutes(app: FastifyInstance, ctx: ApiContext, sources: InfoSources = {}): void {
  const follows = sources.follows ?? createLogFollows();
  const workloadOf = (id: string) =>
    getWorkload(ctx.db, id) ?? failRequest('TESSERA_E_NOT_FOUND', `no workload with id ${id}`);

  app.get<IdParams>('/workloads/:id/explain', async (request) => {
    const w = workloadOf(request.params.id);
    const said = sources.explain?.get(w.id) ?? { reasons: [], cycleAtMs: null };
    const pending = w.phase === 'Pending';
    let reasons = said.reasons;
    if (!pending) {
      const why = w.phaseReason === '' ? '' : ` (${w.phaseReason})`;
      reasons = [`not pending: the workload is ${w.phase}${why}`];
    } else if (reasons.length === 0) {
      reasons = [
        said.cycleAtMs === null ? 'no scheduling cycle has run yet' : 'waiting for the next scheduling cycle',
      ];
    }
    return {
      id: w.id,
      name: w.name,
      project: w.project,
      phase: w.phase,
      pending,
      reasons,
      cycleAt: said.cycleAtMs === null ? null : new Date(said.cycleAtMs).toISOString(),
    };
  });

  // Only placed pods and their workloads count in top: finished work is not read at all.
  app.get('/top', async () =>
    topView(
      listNodes(ctx.db),
      listPods(ctx.db, { phases: SCHEDULED_POD_PHASES }),
      listWorkloads(ctx.db, { withPodsIn: SCHEDULED_POD_PHASES }),
      (n) => sources.samples?.get(n),
    ),
  );

  // Deserved, fair share and allocated per queue and pool, as the newest cycle saw them.
  app.get('/shares', async () => sources.shares?.rows() ?? []);

  app.get<IdParams>('/workloads/:id/logs', async (request, reply) => {
    const w = workloadOf(request.params.id);
    const q = parseInput(LogsQuery, request.query, 'query');
    const pod = logPod(listPods(ctx.db, { workload: w.id }), q.pod, w.name);
    const node = pod.node ?? failRequest('TESSERA_E_CONFLICT', `pod ${pod.name} is on no node`);
    const logs =
      sources.logs ?? failRequest('TESSERA_E_UNAVAILABLE', 'this allocator serves no logs (no agent link)');
    const ask: LogAsk = {
      podId: wirePodId(w.id, pod.name),
      epoch: pod.epoch,
      tailLines: q.tail ?? null,
      follow: q.follow === 'true' || q.follow === '1',
      stream: q.stream ?? 'both',
    };
    // A follow takes one of its user's slots before the agent is asked; an API without tokens counts
    // every caller as one user.
    let slot: FollowSlot | null = null;
    if (ask.follow) {
      const user = request.caller?.user ?? 'anonymous';
      const got = follows.open(user);
      if ('refused' in got)
        failRequest(
          'TESSERA_E_TOO_MANY_STREAMS',
          `${user} already has ${got.refused} log follows open, the most one user may have (${LOG_FOLLOW_LIMITS.maxFollowsPerUser}); end one (Ctrl-C its tessera logs -f) and try again`,
        );
      slot = got.slot;
    }
    // Chunks can arrive several in one tick (ws emits each frame of a read at once): queue them until
    // the first decides between an error answer and a stream.
    const early: RoutedLogChunk[] = [];
    let sink: ((c: RoutedLogChunk) => void) | null = null;
    let wake: () => void = () => {};
    const arrived = new Promise<void>((resolve) => {
      wake = resolve;
    });
    let sub: LogSubscription | null = null;
    let writer: LogWriter | null = null;
    // The client going away ends the request on the agent too (LogStop) and frees the follow's slot,
    // whether it leaves while the agent is being asked or while the log streams.
    reply.raw.on('close', () => {
      sub?.cancel();
      writer?.close();
      slot?.close();
    });
    try {
      sub = logs(node, ask, (c) => {
        if (sink !== null) sink(c);
        else {
          early.push(c);
          wake();
        }
      });
      // The node, not this server, is what is missing: a 409 on the pod's state, not a 5xx.
      if (sub === null)
        failRequest(
          'TESSERA_E_NODE_UNAVAILABLE',
          `node ${node} of pod ${pod.name} is not connected; its logs stay on the node`,
        );
      await arrived;
      const first = early[0];
      if (first?.eof && first.error !== null && first.data.length === 0) {
        failRequest(logErrorCode(first.cause, first.error), first.error);
      }
    } catch (e) {
      sub?.cancel();
      slot?.close();
      throw e;
    }
    const out = new PassThrough();
    const stream = logWriter(out, reply.raw, sub, slot);
    writer = stream;
    sink = (c) => stream.write(c);
    for (const c of early.splice(0)) stream.write(c);
    return reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store').send(out);
  });
}
