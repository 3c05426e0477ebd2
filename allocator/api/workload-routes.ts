/**
 * Workloads: submit, list, get, stop, run, delete, events. Every phase change goes through the
 * store's phase machine, so an illegal one is a 409 naming the phases legal from where it stands.
 */

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { WORKLOAD_PHASES, type WorkloadPhase } from '../../common/phases.ts';
import { WORKLOAD_TYPES } from '../../common/workload.ts';
import { runAgain } from '../lifecycle/teardown.ts';
import { listEvents } from '../store/events.ts';
import { nodeAddresses } from '../store/nodes.ts';
import { listPods, type PodRecord } from '../store/pods.ts';
import { projectChain } from '../store/policies.ts';
import { checkPullSecret } from '../store/registry-secrets.ts';
import {
  changePhase,
  getWorkload,
  listWorkloadPage,
  purgeWorkload,
  submitSpec,
  type WorkloadFilter,
} from '../store/workloads.ts';
import { applyWorkloadPolicies } from './apply-policies.ts';
import type { ApiContext } from './context.ts';
import { failRequest, parseInput, unwrap } from './errors.ts';
import { PAGE_QUERY, pageRequest, sendPage } from './paging.ts';
import { eventView, workloadView } from './views.ts';

const ListQuery = z.strictObject({
  project: z.string().min(1).optional(),
  type: z.enum(WORKLOAD_TYPES).optional(),
  /** One phase or several, comma-separated: `?phase=Pending,Running`. */
  phase: z
    .string()
    .transform((s) => s.split(','))
    .pipe(z.array(z.enum(WORKLOAD_PHASES as readonly WorkloadPhase[]))),
  ...PAGE_QUERY,
});

const EventsQuery = z.strictObject(PAGE_QUERY);

/** `?dryRun=true` answers the spec after policies without storing it. */
const SubmitQuery = z.strictObject({ dryRun: z.enum(['true', 'false']).optional() });

type IdParams = { Params: { id: string } };

/** `/workloads` and its per-workload actions. */
export function registerWorkloadRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const workloadOf = (id: string) =>
    getWorkload(ctx.db, id) ?? failRequest('TESSERA_E_NOT_FOUND', `no workload with id ${id}`);
  const view = (id: string) => {
    const pods = listPods(ctx.db, { workload: id });
    const addresses = nodeAddresses(
      ctx.db,
      pods.map((p) => p.node),
    );
    return workloadView(workloadOf(id), pods, addresses, ctx.serving);
  };

  app.post('/workloads', async (request, reply) => {
    const q = parseInput(SubmitQuery, request.query, 'query');
    // Policies fill defaults into the raw input (as if the user wrote them), the spec validator
    // sees the result, and the container rules the validated spec: a policy violation is a 422
    // naming field, rule and scope; an invalid field a 400 naming it.
    const spec = unwrap(applyWorkloadPolicies(ctx.db, request.body));
    if (q.dryRun === 'true') {
      if (projectChain(ctx.db, spec.project).ok === false)
        failRequest('TESSERA_E_NOT_FOUND', `project ${spec.project} does not exist`, 'project');
      unwrap(checkPullSecret(ctx.db, spec.project, spec));
      return reply.code(200).send(spec);
    }
    // The store checks, in the transaction that inserts it, the project, the name and the pull secret.
    const w = unwrap(submitSpec(ctx.db, spec, ctx.now()));
    ctx.changed('workload-submitted');
    return reply.code(201).send(workloadView(w, [], new Map(), ctx.serving));
  });

  app.get('/workloads', async (request, reply) => {
    const q = parseInput(ListQuery.partial(), request.query, 'query');
    const filter: WorkloadFilter = {};
    if (q.project !== undefined) filter.project = q.project;
    if (q.type !== undefined) filter.type = q.type;
    if (q.phase !== undefined) filter.phases = q.phase;
    // A token names the last row of the previous page by its (createdMs, rowid) sort key.
    const page = pageRequest(q, 2);
    const after = page.after === null ? null : { createdMs: page.after[0] ?? 0, rowid: page.after[1] ?? 0 };
    const { items, next } = listWorkloadPage(ctx.db, filter, { limit: page.limit, after });
    // One pod query for the whole page rather than one per workload.
    const pods = new Map<string, PodRecord[]>();
    for (const p of listPods(ctx.db, { workloads: items.map((w) => w.id) }))
      pods.set(p.workload, [...(pods.get(p.workload) ?? []), p]);
    const addresses = nodeAddresses(ctx.db);
    const views = items.map((w) => workloadView(w, pods.get(w.id) ?? [], addresses, ctx.serving));
    return sendPage(reply, views, next === null ? null : [next.createdMs, next.rowid]);
  });

  app.get<IdParams>('/workloads/:id', async (request) => view(request.params.id));

  app.post<IdParams>('/workloads/:id/stop', async (request) => {
    workloadOf(request.params.id);
    // Pods still bound are evicted by the next scheduling cycle, which onChange triggers.
    unwrap(changePhase(ctx.db, request.params.id, 'Stopped', 'StoppedByUser', ctx.now()));
    ctx.changed('workload-stopped');
    return view(request.params.id);
  });

  app.post<IdParams>('/workloads/:id/run', async (request) => {
    workloadOf(request.params.id);
    unwrap(runAgain(ctx.db, request.params.id, ctx.now()));
    ctx.changed('workload-run');
    return view(request.params.id);
  });

  app.delete<IdParams>('/workloads/:id', async (request, reply) => {
    const id = request.params.id;
    // A repeated DELETE of a workload already Deleting retries the purge rather than failing.
    if (workloadOf(id).phase !== 'Deleting')
      unwrap(changePhase(ctx.db, id, 'Deleting', 'DeletedByUser', ctx.now()));
    const purged = purgeWorkload(ctx.db, id);
    // CONFLICT means pods still hold resources: the record stays in Deleting until they stop.
    if (!purged.ok && purged.error.code !== 'TESSERA_E_CONFLICT') unwrap(purged);
    ctx.changed('workload-deleted');
    return reply.code(purged.ok ? 200 : 202).send({ id, phase: 'Deleting', purged: purged.ok });
  });

  app.get<IdParams>('/workloads/:id/events', async (request, reply) => {
    const page = pageRequest(parseInput(EventsQuery, request.query, 'query'), 1);
    const afterId = page.after?.[0] ?? 0;
    // One more than asked says whether another page follows.
    const events = listEvents(ctx.db, { workload: request.params.id, afterId, limit: page.limit + 1 });
    // A purged workload keeps its history, so only "no record and no events" is unknown.
    if (events.length === 0 && page.after === null) workloadOf(request.params.id);
    const rows = events.slice(0, page.limit);
    const last = rows.at(-1);
    return sendPage(
      reply,
      rows.map(eventView),
      events.length > page.limit && last !== undefined ? [last.id] : null,
    );
  });
}
