/**
 * Nodes: agents register them over the link, so the API reads, labels, cordons, drains and deletes them.
 * An admin's labels are stored apart from the agent's and win over them, so the next report from
 * the agent does not erase them (docs/architecture.md §7: nodes read, label, cordon).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { drainNode } from '../lifecycle/drain.ts';
import { forceDeleteNode } from '../lifecycle/reports.ts';
import {
  deleteNode,
  getNode,
  listNodes,
  type NodeRecord,
  setAdminLabels,
  setCordoned,
} from '../store/nodes.ts';
import { listPools, type PoolRecord } from '../store/org.ts';
import { listPods, type PodRecord, SCHEDULED_POD_PHASES } from '../store/pods.ts';
import { poolOf } from '../store/snapshot.ts';
import { getWorkload, type WorkloadRecord } from '../store/workloads.ts';
import type { ApiContext } from './context.ts';
import { failRequest, parseInput, unwrap } from './errors.ts';
import { nodeView, podView } from './views.ts';

const NodePatch = z.strictObject({
  cordoned: z.boolean().optional(),
  /** Admin labels to set (a string) or remove (null); the agent's own labels cannot be removed here. */
  labels: z.record(z.string().min(1).max(253), z.string().max(253).nullable()).optional(),
});

type NameParams = { Params: { name: string } };

const ForceQuery = z.strictObject({ force: z.enum(['true', 'false']).optional() });

/** `POST /nodes/:name/drain`'s body; `{}` (or none) drains by the workloads' rules. */
const DrainBody = z.strictObject({
  /** Evict non-preemptible work and work inside its minimum runtime too. */
  force: z.boolean().optional(),
});

/** A node with the pool that claims it (the first whose selector matches its labels). */
export type NodeWithPoolView = ReturnType<typeof nodeWithPool>;
/** A pod of `GET /nodes/:name/pods`: the pod's view with its workload's name, project and preemptibility. */
export type NodePodView = ReturnType<typeof nodePodView>;

function nodePodView(p: PodRecord, w: WorkloadRecord | undefined) {
  return {
    ...podView(p),
    workloadId: p.workload,
    workload: w?.name ?? p.workload,
    project: w?.project ?? '',
    preemptible: w?.spec.preemptible ?? true,
  };
}

function nodeWithPool(n: NodeRecord, pools: readonly PoolRecord[]) {
  return { ...nodeView(n), nodePool: poolOf(pools, n.labels) };
}

/**
 * `/nodes`: list, get, PATCH `cordoned` and admin `labels`, drain, the pods on one, delete (refused
 * while pods hold the node).
 */
export function registerNodeRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const nodeOf = (name: string) =>
    getNode(ctx.db, name) ?? failRequest('TESSERA_E_NOT_FOUND', `no node named ${name}`);

  app.get('/nodes', async () => {
    const pools = listPools(ctx.db);
    return listNodes(ctx.db).map((n) => nodeWithPool(n, pools));
  });

  app.get<NameParams>('/nodes/:name', async (request) =>
    nodeWithPool(nodeOf(request.params.name), listPools(ctx.db)),
  );

  // The pods a node holds or is stopping, with their workload: what a drain waits for.
  app.get<NameParams>('/nodes/:name/pods', async (request) => {
    const node = nodeOf(request.params.name);
    return listPods(ctx.db, { node: node.name, phases: [...SCHEDULED_POD_PHASES, 'Stopping'] }).map((p) =>
      nodePodView(p, getWorkload(ctx.db, p.workload)),
    );
  });

  app.post<NameParams>('/nodes/:name/drain', async (request) => {
    const body = parseInput(DrainBody, request.body ?? {}, 'drain');
    const report = unwrap(
      drainNode(ctx.db, request.params.name, { force: body.force ?? false, nowMs: ctx.now() }),
    );
    // The cordon and the evictions change what fits where; the cycle sends the stops.
    ctx.changed('node-changed');
    return report;
  });

  app.patch<NameParams>('/nodes/:name', async (request) => {
    const node = nodeOf(request.params.name);
    const body = parseInput(NodePatch, request.body, 'node');
    let updated = node;
    if (body.labels !== undefined) updated = unwrap(setAdminLabels(ctx.db, node.name, body.labels));
    if (body.cordoned !== undefined && body.cordoned !== node.cordoned)
      updated = unwrap(setCordoned(ctx.db, node.name, body.cordoned));
    // Labels move nodes between pools and change what fits where; cordon changes where pods may land.
    if (updated !== node) ctx.changed('node-changed');
    return nodeWithPool(updated, listPools(ctx.db));
  });

  // `?force=true` declares a lost node dead: its pods are replaced (lifecycle forceDeleteNode).
  app.delete<NameParams & { Querystring: { force?: string } }>('/nodes/:name', async (request, reply) => {
    const force = parseInput(ForceQuery, request.query ?? {}, 'query').force === 'true';
    if (force) unwrap(forceDeleteNode(ctx.db, request.params.name, ctx.now()));
    else unwrap(deleteNode(ctx.db, request.params.name));
    ctx.changed('node-changed');
    return reply.code(204).send();
  });
}
