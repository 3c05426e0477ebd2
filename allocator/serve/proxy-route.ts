/**
 * `/serve/:project/:workload/*`: the allocator's reverse proxy to a served workload's ready replicas
 * (@fastify/reply-from over undici). Every method; bodies stream both ways (no parser reads them
 * here, so the API's body limit does not apply); the caller's `Authorization` is dropped before the
 * replica sees the request, so a Tessera token never reaches a workload. The replica sees the path
 * below the prefix (`/serve/p/w/v1/x` arrives as `/v1/x`) and the prefix in `X-Forwarded-Prefix`.
 *
 * Each request goes to the ready replica with the fewest requests in flight (balancer.ts) and is
 * counted in its workload's LoadMeter, which the autoscaler reads. With no ready replica the request
 * waits (an autoscaled workload at zero is woken: a cold start) up to `coldStartTimeoutMs`, then
 * answers 503 with Retry-After.
 */
import replyFrom from '@fastify/reply-from';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WorkloadPhase } from '../../common/phases.ts';
import { SERVE_PREFIX } from '../../common/workload-serving.ts';
import { ApiError, failRequest } from '../api/errors.ts';
import type { Db } from '../store/db.ts';
import { findWorkload, type WorkloadRecord } from '../store/workloads.ts';
import { checkServeAccess, type ServeAccess } from './access.ts';
import { Balancer } from './balancer.ts';
import { type Endpoint, type EndpointSource, servedPort } from './endpoints.ts';
import type { ServeScaler } from './scaler.ts';

export { SERVE_PREFIX };

/** Phases in which a workload may get a ready replica soon enough to wait for. */
const WAITABLE: readonly WorkloadPhase[] = ['Pending', 'Initializing', 'Running', 'Degraded'];

/** What the proxy needs; the allocator fills in every default (allocator/main.ts). */
export interface ServeProxyOptions {
  access: ServeAccess;
  endpoints: EndpointSource;
  scaler: ServeScaler;
  /** Asks for a scheduling cycle (a cold start's wanted replica must be placed now). */
  requestCycle: () => void;
  /** Longest a request waits for a ready replica before its 503. */
  coldStartTimeoutMs: number;
  /** How often a waiting request looks for a ready replica again. */
  pollMs: number;
}

type Params = { project: string; workload: string; '*'?: string };

/** A replica's key for the balancer: one per pod, address and port. */
function targetOf(w: WorkloadRecord, e: Endpoint): { key: string; base: string } | undefined {
  const port = servedPort(w.spec, e);
  if (port === undefined) return undefined;
  const host = e.address.includes(':') ? `[${e.address}]` : e.address;
  return { key: `${e.pod}@${host}:${port}`, base: `http://${host}:${port}` };
}

/** The served workload of a request, after the access check; throws the API's error otherwise. */
export function servedWorkload(
  db: Db,
  access: ServeAccess,
  authorization: string | undefined,
  project: string,
  name: string,
): WorkloadRecord {
  const w = findWorkload(db, project, name);
  const allowed = checkServeAccess(access, authorization, project, w);
  if (!allowed.ok) throw new ApiError(allowed.error);
  return w ?? failRequest('TESSERA_E_NOT_FOUND', `no workload ${name} in project ${project}`);
}

/** The ready targets of `w` now, or after waiting for one; undefined when none came in time. */
export async function readyTargets(
  w: WorkloadRecord,
  options: ServeProxyOptions,
  closed: () => boolean,
): Promise<{ key: string; base: string }[] | undefined> {
  const deadline = Date.now() + options.coldStartTimeoutMs;
  let woke = false;
  for (;;) {
    const targets = options.endpoints
      .ready(w.project, w.name)
      .map((e) => targetOf(w, e))
      .filter((t) => t !== undefined);
    if (targets.length > 0) return targets;
    if (!WAITABLE.includes(w.phase) || closed() || Date.now() >= deadline) return undefined;
    if (!woke && options.scaler.wake(w.id)) options.requestCycle();
    woke = true;
    await new Promise((resolve) => setTimeout(resolve, options.pollMs));
  }
}

function noReplica(reply: FastifyReply, w: WorkloadRecord, options: ServeProxyOptions): never {
  reply.header('retry-after', String(Math.max(1, Math.ceil(options.pollMs / 1000) * 5)));
  failRequest(
    'TESSERA_E_NO_REPLICA',
    `workload ${w.name} (project ${w.project}, ${w.phase}) has no ready replica after ${options.coldStartTimeoutMs} ms; retry later, or see tessera describe ${w.name} -p ${w.project}`,
  );
}

/** Registers the proxy routes on `app` (outside /api/v1: its own access check, no body parsing). */
export function registerServeProxy(app: FastifyInstance, options: ServeProxyOptions): void {
  const balancer = new Balancer();
  app.register(async (scope) => {
    // Bodies pass through as streams: the replica, not the allocator, decides what it accepts.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    await scope.register(replyFrom, { disableRequestLogging: true });

    // Without the trailing slash, relative links in the served page would resolve above the prefix.
    scope.all<{ Params: Params }>(`${SERVE_PREFIX}/:project/:workload`, async (request, reply) => {
      const { project, workload } = request.params;
      servedWorkload(options.access.db, options.access, request.headers.authorization, project, workload);
      const q = request.url.indexOf('?');
      return reply.redirect(
        `${SERVE_PREFIX}/${project}/${workload}/${q < 0 ? '' : request.url.slice(q)}`,
        308,
      );
    });

    scope.all<{ Params: Params }>(`${SERVE_PREFIX}/:project/:workload/*`, async (request, reply) =>
      proxy(request, reply, options, balancer),
    );
  });
}

/** The raw path below `/serve/P/W/` of `url`, as the caller encoded it, without the query. */
export function restOf(url: string): string {
  const path = url.split('?')[0] ?? '';
  return path.split('/').slice(4).join('/');
}

async function proxy(
  request: FastifyRequest<{ Params: Params }>,
  reply: FastifyReply,
  options: ServeProxyOptions,
  balancer: Balancer,
): Promise<FastifyReply> {
  const { project, workload } = request.params;
  const w = servedWorkload(
    options.access.db,
    options.access,
    request.headers.authorization,
    project,
    workload,
  );
  const end = options.scaler.meter(w.id).begin(Date.now());
  let closed = false;
  reply.raw.on('close', () => {
    closed = true;
    end(Date.now());
  });
  const targets = await readyTargets(w, options, () => closed);
  if (targets === undefined) noReplica(reply, w, options);
  const key = balancer.pick(targets.map((t) => t.key));
  const target = targets.find((t) => t.key === key) ?? targets[0];
  if (target === undefined) noReplica(reply, w, options);
  const done = balancer.start(target.key);
  reply.raw.on('close', done);
  const prefix = `${SERVE_PREFIX}/${project}/${workload}`;
  return reply.from(`${target.base}/${restOf(request.url)}`, {
    rewriteRequestHeaders: (_req, headers) => {
      const { authorization: _dropped, ...kept } = headers;
      return { ...kept, 'x-forwarded-prefix': prefix };
    },
  });
}
