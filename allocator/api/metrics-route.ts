/**
 * `/metrics`: Prometheus' text exposition, outside /api/v1 and open without a token like the probes,
 * unless the allocator runs with `--metrics-auth`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';

/** What the API needs of the allocator's metrics (allocator/metrics.ts). */
export interface ApiMetrics {
  readonly registry: Registry;
  /** Adds the hook timing every request; called before any route exists. */
  instrument(app: FastifyInstance): void;
}

/** Serves `registry` at `GET /metrics`; `check`, given, runs first and throws to refuse. */
export function registerMetricsRoute(
  app: FastifyInstance,
  registry: Registry,
  check?: (request: FastifyRequest) => void,
): void {
  app.get('/metrics', async (request, reply) => {
    check?.(request);
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });
}
