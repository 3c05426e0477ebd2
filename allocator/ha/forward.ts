/**
 * A standby's API: reads come straight from the shared database; writes, and the reads only the
 * leader can answer (what lives in its memory: explain, logs, top, shares, usage history, the serving
 * proxy), are forwarded to the leader and its answer streamed back.
 *
 * Forwarded rather than redirected (307): a client following a redirect to another origin drops the
 * `Authorization` header (the fetch standard says so, and Node's fetch does it), so every redirected
 * write would come back 401; and a CLI or script would need the leader's address and certificate
 * where one allocator's suffices. Forwarded with the global fetch rather than @fastify/reply-from:
 * the serving proxy already decorates its own scope with reply-from, and a second registration at
 * the root would clash with it.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { tesseraError } from '../../common/errors.ts';
import { sendError } from '../api/errors.ts';
import { ROLE_PATHS } from './role-routes.ts';

/** Set on a forwarded request: a standby never forwards one again (two standbys would ping-pong). */
export const FORWARDED_BY_HEADER = 'x-tessera-forwarded-by';

/** GET routes answered from the leader's memory, not the database: forwarded like writes. */
const LEADER_READS: readonly RegExp[] = [
  /^\/api\/v1\/workloads\/[^/]+\/(explain|logs)$/,
  /^\/api\/v1\/(top|shares)$/,
  /^\/api\/v1\/history\//,
  /^\/serve\//,
];

/** Headers of one hop that must not travel on (RFC 9110 7.6.1), and those fetch sets itself. */
const HOP_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
  'content-length',
]);

/** Whether a standby sends this request to the leader rather than answering it itself. */
export function forwardsToLeader(method: string, url: string): boolean {
  const path = url.split('?')[0] ?? url;
  if (path === '/healthz' || path === '/readyz' || path === '/metrics' || ROLE_PATHS.includes(path))
    return false;
  if (method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') return true;
  return LEADER_READS.some((r) => r.test(path));
}

/** What the forwarding hook asks at each request. */
export interface ForwardSource {
  /** True while this allocator leads: it answers everything itself. */
  leading(): boolean;
  /** The leader's advertised base URL, or null while none holds the lease. */
  leaderUrl(): string | null;
  /** This allocator's own advertised URL (the loop guard's value). */
  selfUrl(): string;
}

/** Copies a request's or a response's headers, leaving out those of one hop. */
function endToEnd(headers: Iterable<[string, string | string[] | undefined]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of headers) {
    const key = k.toLowerCase();
    if (v === undefined || HOP_HEADERS.has(key)) continue;
    out[key] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** Sends `request` to the leader at `leader` and streams its answer back through `reply`. */
async function forward(
  request: FastifyRequest,
  reply: FastifyReply,
  leader: string,
  self: string,
): Promise<FastifyReply> {
  const headers = endToEnd(Object.entries(request.headers));
  headers[FORWARDED_BY_HEADER] = self;
  headers['x-forwarded-for'] = [request.headers['x-forwarded-for'], request.ip].filter(Boolean).join(', ');
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
  let res: Response;
  try {
    res = await fetch(`${leader}${request.url}`, {
      method: request.method,
      headers,
      redirect: 'manual',
      // The body is not parsed here (onRequest): its bytes stream through unchanged.
      ...(hasBody ? { body: Readable.toWeb(request.raw) as ReadableStream, duplex: 'half' } : {}),
    });
  } catch (e) {
    return sendError(
      reply,
      tesseraError(
        'TESSERA_E_UNAVAILABLE',
        `this allocator is a standby and the leader at ${leader} did not answer: ${e instanceof Error ? e.message : String(e)}; retry in a few seconds`,
      ),
    );
  }
  const back = endToEnd(res.headers.entries());
  // fetch has already undone any content encoding.
  delete back['content-encoding'];
  reply.code(res.status).headers(back);
  return reply.send(
    res.body === null ? '' : Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
  );
}

/**
 * Adds the hook that forwards a standby's writes (and leader-only reads) to the leader. Added before
 * the server listens, it runs ahead of every route, the API's and the serving proxy's.
 */
export function installForwarding(app: FastifyInstance, source: ForwardSource): void {
  app.addHook('onRequest', async (request, reply) => {
    if (source.leading() || !forwardsToLeader(request.method, request.url)) return;
    const leader = source.leaderUrl();
    if (leader === null || request.headers[FORWARDED_BY_HEADER] !== undefined) {
      return sendError(
        reply,
        tesseraError(
          'TESSERA_E_UNAVAILABLE',
          leader === null
            ? 'no allocator leads right now (an election is under way): retry in a few seconds'
            : `this allocator is a standby and the request was already forwarded to it by ${String(request.headers[FORWARDED_BY_HEADER])}: the allocators disagree on the leader for a moment; retry in a few seconds`,
        ),
      );
    }
    return forward(request, reply, leader, source.selfUrl());
  });
}
