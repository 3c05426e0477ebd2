/**
 * Departments, projects (each with per-pool quotas) and node pools. Quotas travel in GPUs as a
 * number on the wire and are stored in milli-GPU; a PATCH with `quotas` replaces the whole set.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { PlacementStrategy } from '../scheduler/snapshot.ts';
import { inTransaction } from '../store/db.ts';
import {
  createDepartment,
  createProject,
  DEFAULT_POOL,
  deletePool,
  deleteQueue,
  deleteQuota,
  getPool,
  getQueue,
  listPools,
  listQueues,
  listQuotas,
  putPool,
  type QueueRecord,
  type QuotaInput as StoreQuota,
  setQuota,
} from '../store/org.ts';
import type { ApiContext } from './context.ts';
import { failRequest, parseInput, unwrap } from './errors.ts';
import { departmentView, poolView, projectView } from './views.ts';

// Queue and pool names end up in CLI output, labels and log lines: the same DNS label rule as workloads.
const NAME = z
  .string()
  .min(1)
  .max(63)
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
    "lowercase letters, digits and '-', starting and ending with a letter or digit",
  );

/**
 * The most GPUs a quota may name. Quotas are stored as whole milli-GPUs in INTEGER columns: past
 * this, milli-GPUs stop being exact integers (and SQLite refuses the REAL they become), and the sums
 * the scheduler makes of them lose precision. A million GPUs is far above any cluster.
 */
const MAX_QUOTA_GPUS = 1_000_000;

const QuotaBody = z.strictObject({
  nodePool: z.string().min(1),
  /** Deserved GPUs, e.g. 2 or 0.5. */
  gpu: z.number().min(0).max(MAX_QUOTA_GPUS),
  /** Share of over-quota capacity; default 1. */
  overQuotaWeight: z.number().min(0).optional(),
  /** Most GPUs the queue may hold, -1 for none (the default). */
  limit: z
    .number()
    .refine(
      (v) => v === -1 || (v >= 0 && v <= MAX_QUOTA_GPUS),
      `must be -1 (no limit) or from 0 to ${MAX_QUOTA_GPUS}`,
    )
    .optional(),
  cpuMillis: z.number().int().min(0).optional(),
  memoryMiB: z.number().int().min(0).optional(),
});
type QuotaBody = z.infer<typeof QuotaBody>;

const Quotas = z.array(QuotaBody);

const DepartmentCreate = z.strictObject({ name: NAME, quotas: Quotas.optional() });
const ProjectCreate = z.strictObject({
  name: NAME,
  department: z.string().min(1),
  quotas: Quotas.optional(),
});
const QueuePatch = z.strictObject({ quotas: Quotas });

/** The placement strategies a pool may name (the console keeps a copy, web/constants.js). */
export const PLACEMENTS = [
  'binpack',
  'spread',
  'fragmentation-aware',
] as const satisfies readonly PlacementStrategy[];
const Placement = z.strictObject({ gpu: z.enum(PLACEMENTS), cpu: z.enum(PLACEMENTS).optional() });
const PoolCreate = z.strictObject({
  name: NAME,
  selector: z.record(z.string().min(1), z.string()),
  placement: Placement.optional(),
});
const PoolPatch = z.strictObject({
  selector: z.record(z.string().min(1), z.string()).optional(),
  placement: Placement.optional(),
});

type NameParams = { Params: { name: string } };

/** GPUs to milli-GPU, refusing precision the store cannot keep rather than rounding it away. */
function milli(gpus: number, field: string): number {
  if (gpus === -1) return -1;
  const m = Math.round(gpus * 1000);
  if (Math.abs(gpus * 1000 - m) > 1e-6)
    failRequest('TESSERA_E_INVALID_QUANTITY', `${field}: at most 3 decimals (${gpus})`, field);
  return m;
}

function toStoreQuota(q: QuotaBody, i: number): StoreQuota {
  const gpuMilli = milli(q.gpu, `quotas.${i}.gpu`);
  const limitMilli = milli(q.limit ?? -1, `quotas.${i}.limit`);
  if (limitMilli !== -1 && limitMilli < gpuMilli)
    failRequest(
      'TESSERA_E_INVALID_SPEC',
      `quotas.${i}.limit (${q.limit}) is below its gpu quota (${q.gpu})`,
      `quotas.${i}.limit`,
    );
  const deserved: StoreQuota['deserved'] = { gpuMilli };
  if (q.cpuMillis !== undefined) deserved.cpuMillis = q.cpuMillis;
  if (q.memoryMiB !== undefined) deserved.memoryMiB = q.memoryMiB;
  const out: StoreQuota = { deserved, limit: { gpuMilli: limitMilli } };
  if (q.overQuotaWeight !== undefined) out.overQuotaWeight = q.overQuotaWeight;
  return out;
}

/** Replaces `queue`'s quotas with `quotas`; callers hold a transaction so a bad entry writes nothing. */
function replaceQuotas(ctx: ApiContext, queue: string, quotas: QuotaBody[]): void {
  const seen = new Set<string>();
  for (const [i, q] of quotas.entries()) {
    const field = `quotas.${i}.nodePool`;
    if (seen.has(q.nodePool))
      failRequest('TESSERA_E_INVALID_SPEC', `${field}: pool ${q.nodePool} is listed twice`, field);
    seen.add(q.nodePool);
    if (q.nodePool !== DEFAULT_POOL && getPool(ctx.db, q.nodePool) === undefined)
      failRequest('TESSERA_E_NOT_FOUND', `${field}: no node pool named ${q.nodePool}`, field);
  }
  for (const old of listQuotas(ctx.db, queue))
    if (!seen.has(old.nodePool)) deleteQuota(ctx.db, queue, old.nodePool);
  for (const [i, q] of quotas.entries()) unwrap(setQuota(ctx.db, queue, q.nodePool, toStoreQuota(q, i)));
}

function queueOf(ctx: ApiContext, name: string, kind: 'department' | 'project'): QueueRecord {
  const q = getQueue(ctx.db, name);
  // Departments and projects share a namespace, so the kind must match as well as the name.
  if (q === undefined || (q.parent === null) !== (kind === 'department'))
    failRequest('TESSERA_E_NOT_FOUND', `no ${kind} named ${name}`);
  return q;
}

function registerQueues(app: FastifyInstance, ctx: ApiContext, kind: 'department' | 'project'): void {
  const base = kind === 'department' ? '/departments' : '/projects';
  const view = (q: QueueRecord) =>
    (kind === 'department' ? departmentView : projectView)(q, listQuotas(ctx.db, q.name));

  app.post(base, async (request, reply) => {
    const now = ctx.now();
    const body =
      kind === 'department'
        ? { ...parseInput(DepartmentCreate, request.body, kind), department: undefined }
        : parseInput(ProjectCreate, request.body, kind);
    const created = inTransaction(ctx.db, () => {
      const q =
        body.department === undefined
          ? unwrap(createDepartment(ctx.db, body.name, now))
          : unwrap(createProject(ctx.db, body.name, body.department, now));
      if (body.quotas !== undefined) replaceQuotas(ctx, q.name, body.quotas);
      return q;
    });
    if (body.quotas !== undefined && body.quotas.length > 0) ctx.changed('quota-changed');
    return reply.code(201).send(view(created));
  });

  app.get(base, async () =>
    listQueues(ctx.db)
      .filter((q) => (q.parent === null) === (kind === 'department'))
      .map(view),
  );

  app.get<NameParams>(`${base}/:name`, async (request) => view(queueOf(ctx, request.params.name, kind)));

  app.patch<NameParams>(`${base}/:name`, async (request) => {
    const q = queueOf(ctx, request.params.name, kind);
    const body = parseInput(QueuePatch, request.body, kind);
    inTransaction(ctx.db, () => replaceQuotas(ctx, q.name, body.quotas));
    ctx.changed('quota-changed');
    return view(q);
  });

  app.delete<NameParams>(`${base}/:name`, async (request, reply) => {
    const q = queueOf(ctx, request.params.name, kind);
    const hadQuotas = listQuotas(ctx.db, q.name).length > 0;
    unwrap(deleteQueue(ctx.db, q.name));
    if (hadQuotas) ctx.changed('quota-changed');
    return reply.code(204).send();
  });
}

function registerPools(app: FastifyInstance, ctx: ApiContext): void {
  const poolOf = (name: string) =>
    getPool(ctx.db, name) ?? failRequest('TESSERA_E_NOT_FOUND', `no node pool named ${name}`);

  app.post('/nodepools', async (request, reply) => {
    const body = parseInput(PoolCreate, request.body, 'node pool');
    // putPool upserts; creating over an existing pool would silently rewrite it.
    if (getPool(ctx.db, body.name) !== undefined)
      failRequest('TESSERA_E_CONFLICT', `node pool ${body.name} exists; PATCH it to change it`, 'name');
    const pool = putPool(
      ctx.db,
      {
        name: body.name,
        selector: body.selector,
        placementGpu: body.placement?.gpu ?? 'binpack',
        placementCpu: body.placement?.cpu,
      },
      ctx.now(),
    );
    ctx.changed('pool-changed');
    return reply.code(201).send(poolView(pool));
  });

  app.get('/nodepools', async () => listPools(ctx.db).map(poolView));

  app.get<NameParams>('/nodepools/:name', async (request) => poolView(poolOf(request.params.name)));

  app.patch<NameParams>('/nodepools/:name', async (request) => {
    const old = poolOf(request.params.name);
    const body = parseInput(PoolPatch, request.body, 'node pool');
    const pool = putPool(
      ctx.db,
      {
        name: old.name,
        selector: body.selector ?? old.selector,
        placementGpu: body.placement?.gpu ?? old.placementGpu,
        // A new gpu strategy without a cpu one follows putPool's default (cpu = gpu).
        placementCpu: body.placement === undefined ? old.placementCpu : body.placement.cpu,
      },
      ctx.now(),
    );
    ctx.changed('pool-changed');
    return poolView(pool);
  });

  app.delete<NameParams>('/nodepools/:name', async (request, reply) => {
    if (!deletePool(ctx.db, request.params.name))
      failRequest('TESSERA_E_NOT_FOUND', `no node pool named ${request.params.name}`);
    ctx.changed('pool-changed');
    return reply.code(204).send();
  });
}

/** `/departments`, `/projects` and `/nodepools`. */
export function registerOrgRoutes(app: FastifyInstance, ctx: ApiContext): void {
  registerQueues(app, ctx, 'department');
  registerQueues(app, ctx, 'project');
  registerPools(app, ctx);
}
